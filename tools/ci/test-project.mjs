#!/usr/bin/env node
// Runs one project's mocha tests (TypeScript through tsx); a project without tests says so.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = process.argv[2];
const testDir = join(root, 'test');
const hasTests = existsSync(testDir) && readdirSync(testDir, { recursive: true }).some((f) => String(f).endsWith('.test.ts'));
if (!hasTests) {
  console.log(`${root}: no tests`);
  process.exit(0);
}
const result = spawnSync(process.execPath, [join('node_modules', 'mocha', 'bin', 'mocha.js'), '--config', '.mocharc.json', `${testDir}/**/*.test.ts`, ...process.argv.slice(3)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
