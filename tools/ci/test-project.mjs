#!/usr/bin/env node
// Runs one project's mocha tests (TypeScript through tsx); a project without tests says so.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = process.argv[2];
const testDir = join(root, 'test');
const hasTests = existsSync(testDir) && readdirSync(testDir, { recursive: true }).some((f) => String(f).endsWith('.test.ts'));
if (!hasTests) {
  console.log(`${root}: no tests`);
  process.exit(0);
}
// The launcher remembers S3 settings per storage in the user's config folder: tests get a scratch one.
const configDir = process.env.FINEVIDEO_CONFIG_DIR ?? mkdtempSync(join(tmpdir(), 'finevideo-config-'));
const result = spawnSync(process.execPath, [join('node_modules', 'mocha', 'bin', 'mocha.js'), '--config', '.mocharc.json', `${testDir}/**/*.test.ts`, ...process.argv.slice(3)], { stdio: 'inherit', env: { ...process.env, FINEVIDEO_CONFIG_DIR: configDir } });
if (!process.env.FINEVIDEO_CONFIG_DIR) rmSync(configDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
