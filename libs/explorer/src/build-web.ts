import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workspaceRoot } from '@finevideo/runtime';

/**
 * The page's assets: the front end (preact, Chart.js) bundled by esbuild into app.js and app.css,
 * and ffmpeg.wasm's worker as its own file (loaded only when a clip is cut). Built once per hash of
 * the web sources and the locked dependencies into .cache/explorer/, or at build time into
 * dist/libs/explorer/web; never fetched from a CDN, so the page works offline.
 */
export interface WebAssets {
  /** Folder with index.html, app.js, app.css, chunks and ffmpeg-worker.js. */
  dir: string;
  /** Folder with ffmpeg-core.js and ffmpeg-core.wasm (@ffmpeg/core's ESM build, served as is). */
  ffmpegCoreDir: string;
}

/** Bumped when the build options below change (they are part of no hashed file when bundled). */
const BUILD_VERSION = '1';

function webSources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) webSources(path, out);
    else if (/\.(tsx?|css|html)$/.test(e.name)) out.push(path);
  }
  return out.sort();
}

export function ffmpegCoreDir(): string {
  // The package's "require" entry is dist/umd/ffmpeg-core.js; its ESM build (for a module worker) is beside it.
  const umd = createRequire(import.meta.url).resolve('@ffmpeg/core');
  return join(dirname(umd), '..', 'esm');
}

/** Bundles libs/explorer/web into `outDir` (written to a temporary folder and renamed: concurrent starts never see half a build). */
export async function buildWebAssets(webDir: string, outDir: string): Promise<void> {
  // A computed specifier: the launcher's bundle must not inline esbuild (it finds its native binary from its own path).
  const esbuildPackage = 'esbuild';
  const { build } = (await import(esbuildPackage)) as typeof import('esbuild');
  const require = createRequire(import.meta.url);
  const tmp = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true });
  try {
    await build({
      absWorkingDir: webDir,
      entryPoints: { app: join(webDir, 'main.tsx'), 'ffmpeg-worker': require.resolve('@ffmpeg/ffmpeg/worker') },
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
      minify: true,
      sourcemap: true,
      jsx: 'automatic',
      jsxImportSource: 'preact',
      tsconfig: join(webDir, 'tsconfig.json'),
      chunkNames: 'chunks/[name]-[hash]',
      logLevel: 'error',
      legalComments: 'linked',
    });
    const html = readFileSync(join(webDir, 'index.html'), 'utf8');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(tmp, 'index.html'), html);
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The built assets: FINEVIDEO_EXPLORER_ASSETS, else built from a checkout's sources (cached by hash), else dist/. */
export async function webAssets(): Promise<WebAssets> {
  const coreDir = ffmpegCoreDir();
  if (process.env.FINEVIDEO_EXPLORER_ASSETS) return { dir: resolve(process.env.FINEVIDEO_EXPLORER_ASSETS), ffmpegCoreDir: coreDir };
  const root = workspaceRoot();
  const webDir = join(root, 'libs', 'explorer', 'web');
  if (existsSync(join(webDir, 'main.tsx'))) {
    const hash = createHash('sha256').update(BUILD_VERSION);
    for (const file of [...webSources(webDir), join(root, 'package-lock.json')]) {
      if (existsSync(file)) hash.update(file.slice(root.length)).update('\0').update(readFileSync(file));
    }
    const dir = join(root, '.cache', 'explorer', `web-${hash.digest('hex').slice(0, 16)}`);
    if (!existsSync(join(dir, 'index.html'))) await buildWebAssets(webDir, dir);
    return { dir, ffmpegCoreDir: coreDir };
  }
  const dist = join(root, 'dist', 'libs', 'explorer', 'web');
  if (existsSync(join(dist, 'index.html'))) return { dir: dist, ffmpegCoreDir: coreDir };
  throw new Error(`explore: expected the page's assets in ${webDir} (sources) or ${dist} (run "npx nx run explorer:build"), got neither`);
}

// `node --import tsx libs/explorer/src/build-web.ts <out>`: the build target (dist/libs/explorer/web).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? 'dist/libs/explorer/web');
  await buildWebAssets(join(workspaceRoot(), 'libs', 'explorer', 'web'), out);
  process.stdout.write(`explorer web assets -> ${out}\n`);
}
