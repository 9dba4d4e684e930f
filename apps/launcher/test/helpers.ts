import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row } from '@finevideo/core';

export const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
export const cli = join(root, 'bin', 'finevideo.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a user would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI in its own process group, so the test can kill it and all its workers at once. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, detached: true, stdio: 'ignore' });
  return {
    child,
    killGroup: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
}

/** Runs the real CLI without blocking this process (for tests that serve something the CLI fetches). */
export function runCliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/* A YouTube-Commons-like row; every one is English with enough words, so all are kept by ytcommons. */
export function keptYtCommonsRow(shard: number, i: number): Row {
  const n = shard * 1000 + i;
  const id = `v${String(n).padStart(10, '0')}`;
  return {
    video_id: id, video_link: `https://www.youtube.com/watch?v=${id}`, title: `video ${n}`, channel: `channel ${n % 7}`, channel_id: `UC${n % 7}`,
    channel_follower_count: n * 3, original_language: 'en', transcription_language: 'en', word_count: 200, character_count: 1200,
    duration_string: '4:05', text: 'words '.repeat(200).trim(), acodec: 'opus', vcodec: 'vp9', age_limit: 0, categories: ['Education'],
    comment_count: n, date: '2024-01-01', description: 'd', language: 'en', license: 'CC-BY', like_count: n * 2, resolution: '1280x720',
    tags: ['a', 'b'], upload_date: '20240101', view_count: n * 10, source_language: 'en',
  };
}
