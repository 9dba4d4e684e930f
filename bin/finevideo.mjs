#!/usr/bin/env node
// The finevideo launcher: compiled from the sources in a checkout (cached, rebuilt when a source changes);
// the bundled CLI (dist/apps/launcher/main.js, from `npm run build`) with FINEVIDEO_BUNDLED=1 or when there are no sources.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`finevideo: expected Node.js 22.19 or newer, got ${process.version}. Install Node 22, or run "bash tools/bootstrap.sh demo" (or "... exec node bin/finevideo.mjs <command>"): it bootstraps Node 22 from the npm registry.\n`);
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundled = join(root, 'dist', 'apps', 'launcher', 'main.js');
const source = join(root, 'apps', 'launcher', 'src', 'main.ts');
// In a checkout the launcher is compiled once per source hash (tools/build/cache.mjs), as the workers are;
// FINEVIDEO_FROM_SOURCE=1 runs the TypeScript sources through tsx (development).
async function compiledLauncher() {
  if (process.env.FINEVIDEO_FROM_SOURCE === '1') return undefined;
  try {
    const { ensureBuilt } = await import(pathToFileURL(join(root, 'tools', 'build', 'cache.mjs')).href);
    return await ensureBuilt(root, 'apps/launcher');
  } catch (e) {
    process.stderr.write(`finevideo: could not compile the launcher (${String(e?.message ?? e).split('\n')[0]}); running its sources through tsx\n`);
    return undefined;
  }
}
if (existsSync(bundled) && (process.env.FINEVIDEO_BUNDLED === '1' || !existsSync(source))) {
  await import(pathToFileURL(bundled).href);
} else {
  const compiled = await compiledLauncher();
  if (compiled) {
    await import(pathToFileURL(compiled).href);
  } else {
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(source).href);
  }
}
