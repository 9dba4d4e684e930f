#!/usr/bin/env node
// Compiled apps for a checkout: each app (the launcher, a stage worker) is bundled once with esbuild
// into .cache/build/<app>-<hash>/, keyed by a hash of every source that can reach it, so a chunk's
// process starts a compiled file instead of compiling TypeScript through tsx, and a changed source
// rebuilds. Concurrent builds (parallel tests, two launchers) never corrupt each other: every file
// is written to a temporary name and renamed, and the entry is written last.
//   node tools/build/cache.mjs apps/stage-ytcommons   -> prints the compiled entry's path
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitBundleOptions } from './options.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = /\.(c|m)?(t|j)sx?$|\.json$/;

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) collect(path, out);
    else if (e.isFile() && SOURCE.test(e.name)) out.push(path);
  }
}

/** A hash of what can reach the bundle: the app, every library, the TypeScript and build settings, the locked dependencies. */
export function sourceHash(root, app) {
  const files = [];
  collect(join(root, app, 'src'), files);
  for (const lib of readdirSync(join(root, 'libs'))) collect(join(root, 'libs', lib, 'src'), files);
  files.push(join(root, 'tsconfig.base.json'), join(root, 'package-lock.json'), join(here, 'options.mjs'), join(here, 'cache.mjs'));
  files.sort();
  const hash = createHash('sha256');
  for (const file of files) {
    if (!existsSync(file)) continue;
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function folderName(app) {
  return app.replace(/^apps\//, '').replace(/[^a-zA-Z0-9._-]/g, '_');
}

function writeAtomically(path, contents) {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

// The entry enables V8's on-disk code cache before loading the bundle: later processes skip most parsing.
const ENTRY = `// Compiled by tools/build/cache.mjs; do not edit.
import { enableCompileCache } from 'node:module';
import { fileURLToPath } from 'node:url';
try { enableCompileCache?.(fileURLToPath(new URL('./v8-cache', import.meta.url))); } catch { /* an older Node: no code cache */ }
await import('./bundle.mjs');
`;

/** Removes builds of this app from other hashes not used for a day (a long run may still start workers from one; workerCommand touches it on use). */
function prune(root, app, keep) {
  const base = join(root, '.cache', 'build');
  const prefix = `${folderName(app)}-`;
  for (const name of readdirSync(base)) {
    if (!name.startsWith(prefix) || name === `${prefix}${keep}`) continue;
    try {
      if (Date.now() - statSync(join(base, name)).mtimeMs > 24 * 3600_000) rmSync(join(base, name), { recursive: true, force: true });
    } catch {
      // another process pruned it first
    }
  }
}

/** The compiled entry of an app (e.g. "apps/stage-ytcommons"), built when its sources changed. */
export async function ensureBuilt(root, app) {
  const hash = sourceHash(root, app);
  const dir = join(root, '.cache', 'build', `${folderName(app)}-${hash}`);
  const entry = join(dir, 'main.mjs');
  if (existsSync(entry)) return entry;
  const { build } = await import('esbuild');
  mkdirSync(dir, { recursive: true });
  const result = await build({ ...splitBundleOptions(root, app, dir), write: false, logLevel: 'error' });
  // Source maps and the lazily loaded chunks first, the bundle next, the entry last: an entry that exists is whole.
  const rank = (path) => (path.endsWith('/bundle.mjs') ? 2 : path.endsWith('.mjs') ? 1 : 0);
  const outputs = [...result.outputFiles].sort((a, b) => rank(a.path) - rank(b.path));
  for (const file of outputs) writeAtomically(file.path, file.contents);
  writeAtomically(entry, ENTRY);
  prune(root, app, hash);
  return entry;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const app = process.argv[2];
  if (!app || !/^apps\/[a-z0-9-]+$/.test(app)) {
    process.stderr.write(`usage: node tools/build/cache.mjs apps/<name>, got ${JSON.stringify(app ?? '')}\n`);
    process.exit(2);
  }
  const root = resolve(here, '..', '..');
  process.stdout.write(`${await ensureBuilt(root, app)}\n`);
}
