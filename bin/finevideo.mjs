#!/usr/bin/env node
// The finevideo launcher: the TypeScript source through tsx in a checkout; the bundled CLI
// (dist/apps/launcher/main.js, from `npm run build`) with FINEVIDEO_BUNDLED=1 or when there are no sources.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`finevideo: expected Node.js 22.19 or newer, got ${process.version}. Install Node 22 (see README: "npx -y node@22 ..." or .ci/run's bootstrap).\n`);
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundled = join(root, 'dist', 'apps', 'launcher', 'main.js');
const source = join(root, 'apps', 'launcher', 'src', 'main.ts');
if (existsSync(bundled) && (process.env.FINEVIDEO_BUNDLED === '1' || !existsSync(source))) {
  await import(pathToFileURL(bundled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
}
