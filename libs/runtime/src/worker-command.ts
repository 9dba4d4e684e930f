import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace root (where package.json and apps/ live). */
export function workspaceRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

const compiled = new Map<string, string>();

const SOURCE_FILE = /\.(c|m)?(t|j)sx?$|\.json$/;

function collectSources(dir: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) collectSources(path, out);
    else if (e.isFile() && SOURCE_FILE.test(e.name)) out.push(path);
  }
}

/**
 * Where tools/build/cache.mjs puts an app's build for the sources as they are now: the same hash
 * (computed here, in-process, so that an existing build costs no extra process per stage).
 */
export function compiledEntryPath(root: string, app: string): string {
  const files: string[] = [];
  collectSources(join(root, app, 'src'), files);
  for (const lib of readdirSync(join(root, 'libs'))) collectSources(join(root, 'libs', lib, 'src'), files);
  files.push(join(root, 'tsconfig.base.json'), join(root, 'package-lock.json'), join(root, 'tools', 'build', 'options.mjs'), join(root, 'tools', 'build', 'cache.mjs'));
  files.sort();
  const hash = createHash('sha256');
  for (const file of files) {
    if (!existsSync(file)) continue;
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  const folder = `${app.replace(/^apps\//, '').replace(/[^a-zA-Z0-9._-]/g, '_')}-${hash.digest('hex').slice(0, 16)}`;
  return join(root, '.cache', 'build', folder, 'main.mjs');
}

/** The compiled entry of an app in a checkout (tools/build/cache.mjs builds it once per source hash). */
function compiledEntry(root: string, app: string): string {
  const cached = compiled.get(app);
  if (cached && existsSync(cached)) {
    // Marks the build as in use, so that another checkout process's pruning keeps it.
    try {
      const now = new Date();
      utimesSync(dirname(cached), now, now);
    } catch {
      // best effort
    }
    return cached;
  }
  const existing = compiledEntryPath(root, app);
  if (existsSync(existing)) {
    compiled.set(app, existing);
    return existing;
  }
  // A child process: the build is asynchronous (esbuild) and this function is called synchronously.
  const r = spawnSync(process.execPath, [join(root, 'tools', 'build', 'cache.mjs'), app], { cwd: root, encoding: 'utf8', env: process.env });
  const out = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !out || !existsSync(out)) {
    const why = (r.error?.message ?? `${r.stderr ?? ''}${r.stdout ?? ''}`).trim().split('\n').slice(-3).join(' ');
    throw new Error(`compiling ${app} for local workers (node tools/build/cache.mjs ${app}) failed: ${why || `exit ${r.status}`}; fix the build or set ${FROM_SOURCE}=1 to run the TypeScript sources through tsx`);
  }
  compiled.set(app, out);
  return out;
}

/** Development opt-in: run workers (and the launcher) from the TypeScript sources through tsx. */
export const FROM_SOURCE = 'FINEVIDEO_FROM_SOURCE';

/**
 * The local command that plays a stage's image. In a checkout: the worker compiled once with
 * esbuild (cached under .cache/build by a hash of the sources, rebuilt when one changes), so a
 * chunk's process does not compile TypeScript; the sources through tsx only with
 * FINEVIDEO_FROM_SOURCE=1. The image's own bundle (dist/apps/stage-<type>/main.js, from
 * `npm run build`) with FINEVIDEO_BUNDLED=1 or where there are no sources. Used by the local
 * executor and by the fake Kubernetes job controller.
 */
export function workerCommand(stageType: string): { command: string; args: string[] } {
  if (!/^[a-z0-9-]+$/.test(stageType)) throw new Error(`stage type: expected lowercase letters, digits and "-", got ${JSON.stringify(stageType)}`);
  const root = workspaceRoot();
  const app = `apps/stage-${stageType}`;
  const bundled = join(root, 'dist', app, 'main.js');
  const source = resolve(root, app, 'src', 'main.ts');
  if (existsSync(bundled) && (process.env.FINEVIDEO_BUNDLED === '1' || !existsSync(source))) return { command: process.execPath, args: [bundled] };
  if (!existsSync(source)) throw new Error(`stage ${stageType}: expected a worker at ${source} or ${bundled}, got neither`);
  if (process.env[FROM_SOURCE] === '1') return { command: process.execPath, args: ['--import', 'tsx', source] };
  return { command: process.execPath, args: [compiledEntry(root, app)] };
}

/** Image name -> stage type: "finevideo/stage-dynamism" -> "dynamism". */
export function stageTypeOfImage(image: string): string {
  const name = image.split('/').pop()!.split(':')[0]!.split('@')[0]!;
  const m = /^stage-([a-z0-9-]+)$/.exec(name);
  if (!m) throw new Error(`image: expected a name like "<registry>/stage-<type>[:tag]", got ${JSON.stringify(image)}`);
  return m[1]!;
}

/** The local worker process that stands in for a stage image's container (fake clusters, local dry runs). */
export function localWorkerForImage(image: string): { command: string; args: string[]; cwd: string } {
  return { ...workerCommand(stageTypeOfImage(image)), cwd: workspaceRoot() };
}
