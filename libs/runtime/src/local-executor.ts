import { availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { EXIT_NOT_RETRYABLE, WORKER_ENV, runLayout, type ObjectStore } from '@finevideo/core';
import type { Executor, StageRunRequest, StageRunResult } from './executor.js';
import { workerCommand } from './worker-command.js';
import { pidAlive } from './pid-alive.js';

let logDirSerial = 0;

export const LOCAL_EXECUTOR_DEFAULTS = {
  killGraceSeconds: 10,
  retryBackoffSeconds: 2,
  retryBackoffMaxSeconds: 60,
} as const;

export interface LocalExecutorOptions {
  /** Chunks running at once. */
  parallelism: number;
  /** Retries per index after its first attempt. */
  retries: number;
  /** Where chunk logs are uploaded (runs/<id>/<stage>/logs/<index>.log). */
  store: ObjectStore;
  /** Extra environment for every worker. */
  env?: Record<string, string>;
  /** Wall-clock limit of one attempt (then SIGTERM, SIGKILL after the grace); none when absent. */
  attemptTimeoutSeconds?: number;
  /** Seconds between SIGTERM and SIGKILL on cancel and on timeout. */
  killGraceSeconds?: number;
  /** Pause before the first retry; doubles per failed attempt up to retryBackoffMaxSeconds, jittered. */
  retryBackoffSeconds?: number;
  retryBackoffMaxSeconds?: number;
  /** The process of a chunk (default: workerCommand(stageType)); tests inject misbehaving workers. */
  command?: (stageType: string) => { command: string; args: string[] };
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
}

interface AttemptResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Why the launcher stopped the worker, if it did. */
  stopped?: 'timeout' | 'cancel';
  /** SIGKILL was needed after the grace period. */
  killed: boolean;
  /** The command could not be started. */
  error?: string;
}

/**
 * Pause before the retry that follows failed attempt `failedAttempt` (1-based): base * 2^(n-1),
 * capped, with "equal jitter" (half fixed, half random) so retries of many chunks spread out.
 */
export function retryDelayMs(failedAttempt: number, baseSeconds: number, maxSeconds: number, random: () => number = Math.random): number {
  const full = Math.min(maxSeconds, baseSeconds * 2 ** Math.max(0, failedAttempt - 1)) * 1000;
  return Math.round(full / 2 + (full / 2) * random());
}

/** The last `lines` lines of a file, reading at most its last `maxBytes` (logs can be large). */
export async function readLogTail(path: string, lines = 20, maxBytes = 64 * 1024): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    let text = buffer.toString('utf8');
    // Started mid-line (or mid-character): drop the partial first line.
    if (length < size) text = text.slice(text.indexOf('\n') + 1);
    const all = text.split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}

/** The message of one worker log line: JSON lines (FINEVIDEO_LOG_JSON=1) or "<time> <level> <message>". */
export function logLineMessage(line: string): string | undefined {
  const text = line.trim();
  if (!text || text.startsWith('---')) return undefined;
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message.slice(0, 300);
    } catch {
      // not JSON after all: show it as it is
    }
  }
  return text.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z (info|warn|error) /, '').slice(0, 300);
}

/** Calls onLine for each complete line of a stream (the stream is also piped elsewhere). */
function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let partial = '';
  stream.on('data', (data: Buffer) => {
    const text = partial + data.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    // A worker that never ends a line must not grow this buffer.
    if (partial.length > 64 * 1024) partial = partial.slice(-1024);
    for (const line of lines) onLine(line);
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Removes temporary folders of workers and launchers that died without cleaning up (kill -9):
 * finevideo-w<pid>-* (worker scratch), finevideo-<kind>-<pid>-* (such as DuckDB's spill folder) and
 * finevideo-logs-*-<pid> (chunk logs) whose pid is gone. Folders without a pid are left alone.
 * Returns the folders removed.
 */
export async function removeStaleTempDirs(dir = tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^finevideo-(?:w|[a-z]+-)(\d+)-/.exec(name) ?? /^finevideo-logs-.*-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * Runs each chunk as its own worker process with JOB_COMPLETION_INDEX set: the same
 * contract a Kubernetes Indexed Job uses. Bounded parallelism, per-index retries with
 * backoff, a per-attempt timeout, SIGTERM then SIGKILL on cancel, each chunk's log kept
 * in the run folder, and the last line a running worker logged as the progress message.
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local';
  private cleaned = false;
  constructor(private readonly options: LocalExecutorOptions) {}

  async runStage(request: StageRunRequest): Promise<StageRunResult> {
    if (!this.cleaned) {
      this.cleaned = true;
      await removeStaleTempDirs();
    }
    // A cursor, not a copy or shift(): the index list grows with the run.
    const indexes = request.indexes;
    let cursor = 0;
    const result: StageRunResult = { succeeded: [], failed: [] };
    let running = 0;
    // Last line logged by each running chunk; the newest one is the progress message.
    const lastLines = new Map<number, { line: string; at: number }>();
    const message = () => {
      let newest: [number, { line: string; at: number }] | undefined;
      for (const entry of lastLines) if (!newest || entry[1].at >= newest[1].at) newest = entry;
      return newest ? `chunk ${newest[0]}: ${newest[1].line}` : undefined;
    };
    let reportTimer: NodeJS.Timeout | undefined;
    let reportedAt = 0;
    const report = () => {
      if (reportTimer) clearTimeout(reportTimer);
      reportTimer = undefined;
      reportedAt = Date.now();
      const m = message();
      request.onProgress?.({ total: request.indexes.length, succeeded: result.succeeded.length, failed: result.failed.length, running, ...(m ? { message: m } : {}) });
    };
    // Log lines may come fast: report them at most twice a second, the latest one last.
    const reportSoon = () => {
      if (reportTimer) return;
      reportTimer = setTimeout(report, Math.max(0, 500 - (Date.now() - reportedAt)));
    };
    // Unique per call: a streaming run has several calls of one stage in flight.
    const logDir = join(tmpdir(), `finevideo-logs-${request.runId}-${request.stageName}-${++logDirSerial}-${process.pid}`);
    await mkdir(logDir, { recursive: true });
    const runIndex = async (index: number) => {
      const outcome = await this.runIndex(request, index, logDir, (line) => {
        lastLines.set(index, { line, at: Date.now() });
        reportSoon();
      });
      lastLines.delete(index);
      if (outcome.succeeded) result.succeeded.push(index);
      else result.failed.push({ index, reason: outcome.reason, logTail: outcome.logTail });
    };
    const lanes = Array.from({ length: Math.min(this.options.parallelism, indexes.length) }, async () => {
      while (cursor < indexes.length) {
        const next = indexes[cursor++]!;
        running++;
        report();
        try {
          await runIndex(next);
        } finally {
          running--;
          report();
        }
      }
    });
    try {
      await Promise.all(lanes);
    } finally {
      if (reportTimer) clearTimeout(reportTimer);
      await rm(logDir, { recursive: true, force: true });
    }
    result.succeeded.sort((a, b) => a - b);
    result.failed.sort((a, b) => a.index - b.index);
    return result;
  }

  /**
   * One chunk to its end: attempts with backoff between them (none after a non-retryable exit or a
   * cancel), its log uploaded into the run. `onMessage` gets the progress lines worth showing.
   */
  private async runIndex(request: StageRunRequest, index: number, logDir: string, onMessage: (line: string) => void): Promise<{ succeeded: true } | { succeeded: false; reason: string; logTail: string }> {
    const maxAttempts = this.options.retries + 1;
    const logPath = join(logDir, `${index}.log`);
    let last: AttemptResult | undefined;
    let attempt = 0;
    const onLine = (line: string) => {
      const m = logLineMessage(line);
      if (m) onMessage(m);
    };
    while (++attempt <= maxAttempts) {
      if (request.signal?.aborted) break;
      last = await this.runAttempt(request, index, attempt, logPath, onLine);
      if (last.exitCode === 0 || last.exitCode === EXIT_NOT_RETRYABLE || last.stopped === 'cancel') break;
      if (attempt < maxAttempts) {
        const delay = retryDelayMs(attempt, this.options.retryBackoffSeconds ?? LOCAL_EXECUTOR_DEFAULTS.retryBackoffSeconds,
          this.options.retryBackoffMaxSeconds ?? LOCAL_EXECUTOR_DEFAULTS.retryBackoffMaxSeconds, this.options.random);
        const note = `--- attempt ${attempt} failed (${this.describe(last)}); retrying in ${(delay / 1000).toFixed(2)} s\n`;
        const log = createWriteStream(logPath, { flags: 'a' });
        log.end(note);
        await once(log, 'close');
        onMessage(note.slice(4, -1));
        await sleep(delay, request.signal);
      }
    }
    // A chunk cancelled before its first attempt has no log.
    if (last) await this.options.store.upload(runLayout(request.runId).stage(request.stageName).logs(index), logPath).catch(() => undefined);
    if (last?.exitCode === 0) return { succeeded: true };
    const attempts = Math.min(attempt, maxAttempts);
    const reason = request.signal?.aborted || !last ? 'cancelled' : `${this.describe(last)}${attempts > 1 ? `; ${attempts} attempts` : ''}`;
    return { succeeded: false, reason, logTail: last ? await readLogTail(logPath) : '' };
  }

  /** "timed out after 600 s", "killed by SIGKILL", "exit code 1": why an attempt failed. */
  private describe(r: AttemptResult): string {
    const grace = this.options.killGraceSeconds ?? LOCAL_EXECUTOR_DEFAULTS.killGraceSeconds;
    const kill = r.killed ? `, killed (SIGKILL) ${grace} s after SIGTERM` : '';
    if (r.stopped === 'timeout') return `timed out after ${this.options.attemptTimeoutSeconds} s (attemptTimeoutSeconds${kill})`;
    if (r.stopped === 'cancel') return `cancelled${kill}`;
    if (r.error) return `could not start the worker: ${r.error}`;
    if (r.signal) return `killed by ${r.signal}`;
    return `exit code ${r.exitCode}${r.exitCode === EXIT_NOT_RETRYABLE ? ' (not retryable)' : ''}`;
  }

  private async runAttempt(request: StageRunRequest, index: number, attempt: number, logPath: string, onLine: (line: string) => void): Promise<AttemptResult> {
    const { command, args } = (this.options.command ?? workerCommand)(request.stageType);
    const log = createWriteStream(logPath, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} ${request.stageName} chunk ${index} attempt ${attempt}\n`);
    // The worker leads its own process group (POSIX), so a stop reaches its ffmpeg and yt-dlp too; its
    // stdin is a pipe this launcher holds open, whose end tells the worker the launcher is gone (kill -9 included).
    const ownGroup = process.platform !== 'win32';
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: ownGroup,
      env: {
        // Workers share this machine: DuckDB gets its share of the cores (oversubscribed threads measured slower).
        FINEVIDEO_DUCKDB_THREADS: String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, Math.min(this.options.parallelism, request.indexes.length))))),
        ...process.env,
        ...this.options.env,
        ...request.env,
        [WORKER_ENV.storage]: request.storage,
        [WORKER_ENV.runId]: request.runId,
        [WORKER_ENV.stage]: request.stageName,
        [WORKER_ENV.index]: String(index),
        [WORKER_ENV.attempt]: String(attempt),
        [WORKER_ENV.launcherPipe]: 'stdin',
      },
    });
    child.stdin.on('error', () => undefined); // a worker that exited closed its end: nothing is ever written
    const signalWorker = (sig: NodeJS.Signals) => {
      if (ownGroup && child.pid !== undefined) {
        try {
          process.kill(-child.pid, sig);
          return;
        } catch {
          // the group is gone already: signal the worker alone
        }
      }
      child.kill(sig);
    };
    const state: { stopped?: 'timeout' | 'cancel'; killed: boolean } = { killed: false };
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (why: 'timeout' | 'cancel') => {
      if (state.stopped || child.exitCode !== null || child.signalCode !== null) return;
      state.stopped = why;
      log.write(`--- ${new Date().toISOString()} ${why === 'timeout' ? `attempt timed out after ${this.options.attemptTimeoutSeconds} s` : 'cancelled'}: SIGTERM\n`);
      signalWorker('SIGTERM');
      // A worker that ignores SIGTERM (or hangs cleaning up) is killed after the grace period.
      killTimer = setTimeout(() => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        state.killed = true;
        signalWorker('SIGKILL');
      }, (this.options.killGraceSeconds ?? LOCAL_EXECUTOR_DEFAULTS.killGraceSeconds) * 1000);
    };
    const timeout = this.options.attemptTimeoutSeconds;
    const timeoutTimer = timeout ? setTimeout(() => stop('timeout'), timeout * 1000) : undefined;
    const onAbort = () => stop('cancel');
    if (request.signal?.aborted) onAbort();
    else request.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    eachLine(child.stdout, onLine);
    eachLine(child.stderr, onLine);
    // 'error' (the command could not start) may come instead of 'close'.
    const [exitCode, signal, error] = await new Promise<[number | null, NodeJS.Signals | null, Error | undefined]>((resolve) => {
      child.once('close', (code: number | null, sig: NodeJS.Signals | null) => resolve([code, sig, undefined]));
      child.once('error', (e) => resolve([null, null, e]));
    });
    if (timeoutTimer) clearTimeout(timeoutTimer);
    if (killTimer) clearTimeout(killTimer);
    request.signal?.removeEventListener('abort', onAbort);
    if (error) log.write(`--- could not start ${command}: ${error.message}\n`);
    log.end(`--- exit ${exitCode ?? signal ?? 'none'}\n`);
    await once(log, 'close');
    return { exitCode, signal, killed: state.killed, ...(state.stopped ? { stopped: state.stopped } : {}), ...(error ? { error: error.message } : {}) };
  }
}
