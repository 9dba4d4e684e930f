#!/usr/bin/env node
// The finevideo launcher: the bundled CLI when built (dist/apps/launcher/main.js), else the TypeScript source through tsx.
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
if (existsSync(bundled) && process.env.FINEVIDEO_FROM_SOURCE !== '1') {
  await import(pathToFileURL(bundled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'apps', 'launcher', 'src', 'main.ts')).href);
}
