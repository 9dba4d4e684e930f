#!/usr/bin/env node
// Bundles one app (apps/<name>/src/main.ts) into dist/apps/<name>/main.js: the payload of its image.
import { build } from 'esbuild';
import { join } from 'node:path';

const root = process.argv[2];
if (!root) throw new Error('usage: bundle.mjs <app root>, e.g. apps/stage-ytcommons');
await build({
  entryPoints: [join(root, 'src', 'main.ts')],
  outfile: join('dist', root, 'main.js'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  sourcemap: true,
  tsconfig: 'tsconfig.base.json',
  // Native or binary-carrying packages stay external and are installed in the image.
  external: ['@duckdb/node-api', '@duckdb/node-bindings*', 'ffmpeg-static'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`bundled ${root} -> dist/${root}/main.js`);
