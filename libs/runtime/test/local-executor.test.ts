import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLayout } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import {
  LocalExecutor, logLineMessage, readLogTail, removeStaleTempDirs, retryDelayMs,
  type LocalExecutorOptions, type StageProgress, type StageRunRequest,
} from '@finevideo/runtime';
import { alive, until } from './processes.js';

/**
 * A stand-in worker whose behaviour the test picks (TEST_MODE): it sees the same environment
 * a real worker does (chunk index, attempt) and leaves files in TEST_DIR for the test to check.
 */
const WORKER = `
const fs = require('node:fs');
const { TEST_MODE: mode, TEST_DIR: dir, JOB_COMPLETION_INDEX: index, FINEVIDEO_ATTEMPT: attempt } = process.env;
const mark = (what) => fs.writeFileSync(dir + '/' + what + '-' + index + '-' + attempt, String(process.pid));
// Signal handlers first: "started" means they are in place.
// hang honours SIGTERM the way runWorkerMain does (cleans up, exits retryable); stubborn ignores it.
if (mode === 'hang') process.on('SIGTERM', () => { mark('cleaned'); process.exit(1); });
if (mode === 'stubborn') process.on('SIGTERM', () => mark('ignored'));
mark('started');
console.error(new Date().toISOString() + ' info started at ' + Date.now());
if (mode === 'flaky') process.exit(attempt === '1' ? 1 : 0);
if (mode === 'always-fail') process.exit(1);
if (mode === 'fatal') { console.error('bad params: not retryable'); process.exit(42); }
if (mode === 'hang') console.error(new Date().toISOString() + ' info waiting for the model server at http://127.0.0.1:9/health (HTTP 503, 40 s of 900 s)');
if (mode === 'stubborn') console.error('ignoring SIGTERM');
if (mode === 'hang' || mode === 'stubborn') setInterval(() => {}, 1000);
`;

describe('local executor', function () {
  this.timeout(60_000);
  let dir: string;
  let marks: string;
  let store: FileStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-local-'));
    marks = join(dir, 'marks');
    await mkdir(marks);
    store = new FileStore(join(dir, 'store'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const executor = (extra: Partial<LocalExecutorOptions> = {}) => new LocalExecutor({
    parallelism: 2, retries: 2, store, retryBackoffSeconds: 0.05, retryBackoffMaxSeconds: 0.1,
    command: () => ({ command: process.execPath, args: ['-e', WORKER] }), ...extra,
  });
  const request = (mode: string, extra: Partial<StageRunRequest> = {}): StageRunRequest => ({
    runId: 'r1', storage: store.uri, stageName: 'fake', stageType: 'fake', image: 'finevideo/stage-fake',
    resources: { cpu: '1', memory: '1Gi', pool: 'cpu' }, chunkCount: 2, indexes: [0, 1], attempt: 1,
    env: { TEST_DIR: marks, TEST_MODE: mode }, ...extra,
  });
  const attempts = async (index: number) => (await readdir(marks)).filter((f) => f.startsWith(`started-${index}-`)).length;
  const chunkLog = async (index: number) => (await store.getText(runLayout('r1').stage('fake').logs(index))) ?? '';

  it('retries a chunk that fails once, then it succeeds; the chunk log keeps both attempts', async () => {
    const result = await executor().runStage(request('flaky'));
    assert.deepEqual(result, { succeeded: [0, 1], failed: [] });
    assert.equal(await attempts(0), 2);
    assert.equal(await attempts(1), 2);
    const log = await chunkLog(0);
    assert.match(log, /attempt 1 failed \(exit code 1\); retrying in 0\.\d\d s/);
    assert.match(log, /chunk 0 attempt 2/);
  });

  it('does not retry exit 42, and says so; other failures use up their retries', async () => {
    const fatal = await executor().runStage(request('fatal', { indexes: [0], chunkCount: 1 }));
    assert.deepEqual(fatal.succeeded, []);
    assert.equal(fatal.failed[0]!.reason, 'exit code 42 (not retryable)');
    assert.match(fatal.failed[0]!.logTail ?? '', /bad params: not retryable/);
    assert.equal(await attempts(0), 1);
    const failing = await executor({ retries: 1 }).runStage(request('always-fail', { indexes: [1], chunkCount: 2 }));
    assert.equal(failing.failed[0]!.reason, 'exit code 1; 2 attempts');
    assert.equal(await attempts(1), 2);
  });

  it('backs off between retries, exponentially with a cap, jittered', async () => {
    // Pure: doubles per failed attempt, never above the cap, half of it fixed.
    assert.equal(retryDelayMs(1, 2, 60, () => 1), 2000);
    assert.equal(retryDelayMs(3, 2, 60, () => 1), 8000);
    assert.equal(retryDelayMs(10, 2, 60, () => 1), 60_000);
    assert.equal(retryDelayMs(3, 2, 60, () => 0), 4000);
    // Run: the pauses are logged, and each next attempt starts no sooner than its pause says.
    const result = await executor({ retries: 2, retryBackoffSeconds: 0.3, retryBackoffMaxSeconds: 0.4, random: () => 1 }).runStage(request('always-fail', { indexes: [0], chunkCount: 1 }));
    assert.equal(result.failed.length, 1);
    const log = await chunkLog(0);
    const pauses = [...log.matchAll(/retrying in ([\d.]+) s/g)].map((m) => Number(m[1]));
    assert.deepEqual(pauses, [0.3, 0.4]);
    const starts = [...log.matchAll(/started at (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(starts.length, 3);
    assert.ok(starts[1]! - starts[0]! >= 300, `attempt 2 started ${starts[1]! - starts[0]!} ms after attempt 1`);
    assert.ok(starts[2]! - starts[1]! >= 400, `attempt 3 started ${starts[2]! - starts[1]!} ms after attempt 2`);
  });

  it('cancel: SIGTERM lets a worker clean up; one that ignores it is killed with SIGKILL after the grace', async () => {
    const abort = new AbortController();
    // Chunk 0 honours SIGTERM, chunk 1 ignores it: TEST_MODE per chunk through the index.
    const worker = WORKER.replace('const { TEST_MODE: mode,', 'const { [`TEST_MODE_${process.env.JOB_COMPLETION_INDEX}`]: mode,');
    const running = executor({ killGraceSeconds: 1, command: () => ({ command: process.execPath, args: ['-e', worker] }) })
      .runStage(request('', { signal: abort.signal, indexes: [0, 1, 2], chunkCount: 3, env: { TEST_DIR: marks, TEST_MODE_0: 'hang', TEST_MODE_1: 'stubborn', TEST_MODE_2: 'hang' } }));
    // A mark file may be seen before its content (the pid) is written.
    const pidOf = async (i: number) => Number(await readFile(join(marks, `started-${i}-1`), 'utf8').catch(() => '')) || undefined;
    await until('both workers to start', async () => (await pidOf(0)) !== undefined && (await pidOf(1)) !== undefined);
    const pids = [(await pidOf(0))!, (await pidOf(1))!];
    abort.abort();
    const result = await running;
    assert.deepEqual(result.succeeded, []);
    assert.deepEqual(result.failed.map((f) => [f.index, f.reason]), [[0, 'cancelled'], [1, 'cancelled'], [2, 'cancelled']]);
    assert.equal(await attempts(2), 0, 'a queued chunk does not start after a cancel');
    assert.ok(existsSync(join(marks, 'cleaned-0-1')), 'the worker that honours SIGTERM cleaned up');
    assert.ok(existsSync(join(marks, 'ignored-1-1')), 'the stubborn worker got SIGTERM');
    assert.match(await chunkLog(1), /--- exit SIGKILL/);
    assert.match(await chunkLog(0), /--- exit 1/);
    assert.deepEqual(pids.map(alive), [false, false], `no worker is left running (pids ${pids.join(', ')})`);
    assert.equal(await attempts(0), 1, 'a cancelled chunk is not retried');
  });

  it('a per-attempt timeout stops the worker (SIGTERM, then SIGKILL) and counts as a failed attempt', async () => {
    // Timeouts long enough for a loaded machine to start node and install the handlers.
    const result = await executor({ retries: 1, attemptTimeoutSeconds: 2, killGraceSeconds: 0.5 }).runStage(request('hang', { indexes: [0], chunkCount: 1 }));
    assert.equal(result.failed[0]!.reason, 'timed out after 2 s (attemptTimeoutSeconds); 2 attempts');
    assert.equal(await attempts(0), 2, 'a timed-out attempt is retried');
    assert.ok(existsSync(join(marks, 'cleaned-0-1')), 'the worker was asked to stop (SIGTERM) and cleaned up');
    const stubborn = await executor({ retries: 0, attemptTimeoutSeconds: 2, killGraceSeconds: 0.3 }).runStage(request('stubborn', { indexes: [1], chunkCount: 2 }));
    assert.equal(stubborn.failed[0]!.reason, 'timed out after 2 s (attemptTimeoutSeconds, killed (SIGKILL) 0.3 s after SIGTERM)');
    assert.ok(existsSync(join(marks, 'ignored-1-1')), 'SIGTERM came first');
  });

  it('reports the last line a running worker logged as the progress message, none once nothing runs', async () => {
    const abort = new AbortController();
    const progress: StageProgress[] = [];
    const running = executor().runStage(request('hang', { indexes: [0], chunkCount: 1, signal: abort.signal, onProgress: (p) => progress.push(p) }));
    await until('a progress message', () => progress.some((p) => p.message?.includes('waiting for the model server')));
    const seen = progress.find((p) => p.message)!;
    assert.equal(seen.message, 'chunk 0: waiting for the model server at http://127.0.0.1:9/health (HTTP 503, 40 s of 900 s)');
    assert.equal(seen.running, 1);
    abort.abort();
    await running;
    assert.equal(progress.at(-1)!.message, undefined, 'no message once nothing runs');
  });

  it('removes temp folders of workers that died (kill -9), keeps those of live ones', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    const names = [`finevideo-w${child.pid}-fake-3-abc`, `finevideo-w${process.pid}-fake-4-def`, `finevideo-logs-r1-fake-${child.pid}`, 'finevideo-other',
      `finevideo-duckdb-${child.pid}-x1`, 'finevideo-plan-123abc'];
    for (const n of names) await mkdir(join(dir, n));
    await writeFile(join(dir, names[0]!, 'partial.jsonl'), 'x');
    const removed = await removeStaleTempDirs(dir);
    assert.deepEqual(removed.sort(), [names[0], names[2], names[4]].sort());
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('finevideo')).sort(), [names[1], names[3], names[5]].sort());
  });
});

describe('log helpers', () => {
  it('reads the last lines of a large log without the partial first line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fv-tail-'));
    try {
      const path = join(dir, 'big.log');
      const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 40)}`);
      await writeFile(path, `${lines.join('\n')}\n`);
      assert.equal(await readLogTail(path, 3, 4096), lines.slice(-3).join('\n'));
      const tail = (await readLogTail(path, 1000, 4096)).split('\n');
      assert.ok(tail.length < 1000 && tail.length > 10, `a 4 KiB window holds some lines, got ${tail.length}`);
      assert.equal(tail[0], lines[lines.length - tail.length], 'the first line is whole');
      assert.equal(await readLogTail(join(dir, 'missing.log')), '');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes the message of plain and JSON log lines', () => {
    assert.equal(logLineMessage('2026-12-01T04:00:00.000Z info waiting for x'), 'waiting for x');
    assert.equal(logLineMessage('{"time":"t","level":"warn","message":"slow answer","stage":"classify"}'), 'slow answer');
    assert.equal(logLineMessage('   '), undefined);
    assert.equal(logLineMessage('--- exit 0'), undefined);
    assert.equal(logLineMessage('a plain line'), 'a plain line');
  });
});
