#!/usr/bin/env node
// Bundles one app (apps/<name>/src/main.ts) into dist/apps/<name>/main.js: the payload of its image.
import { build } from 'esbuild';
import { join } from 'node:path';
import { bundleOptions } from './options.mjs';

const app = process.argv[2];
if (!app) throw new Error('usage: bundle.mjs <app root>, e.g. apps/stage-ytcommons');
await build(bundleOptions(process.cwd(), app, join('dist', app, 'main.js')));
console.log(`bundled ${app} -> dist/${app}/main.js`);
