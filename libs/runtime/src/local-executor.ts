import { availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_NOT_RETRYABLE, WORKER_ENV, runLayout, type ObjectStore } from '@finevideo/core';
import type { Executor, StageRunRequest, StageRunResult } from './executor.js';
import { workerCommand } from './worker-command.js';

export interface LocalExecutorOptions {
  /** Chunks running at once. */
  parallelism: number;
  /** Retries per index after its first attempt. */
  retries: number;
  /** Where chunk logs are uploaded (runs/<id>/<stage>/logs/<index>.log). */
  store: ObjectStore;
  /** Extra environment for every worker. */
  env?: Record<string, string>;
}

interface AttemptResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  logTail: string;
}

/**
 * Runs each chunk as its own worker process with JOB_COMPLETION_INDEX set: the same
 * contract a Kubernetes Indexed Job uses. Bounded parallelism, per-index retries,
 * each chunk's log kept in the run folder.
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local';
  constructor(private readonly options: LocalExecutorOptions) {}

  async runStage(request: StageRunRequest): Promise<StageRunResult> {
    const queue = [...request.indexes];
    const result: StageRunResult = { succeeded: [], failed: [] };
    let running = 0;
    const report = () =>
      request.onProgress?.({ total: request.indexes.length, succeeded: result.succeeded.length, failed: result.failed.length, running });
    const logDir = join(tmpdir(), `finevideo-logs-${request.runId}-${request.stageName}-${process.pid}`);
    await mkdir(logDir, { recursive: true });
    const runIndex = async (index: number) => {
      const logPath = join(logDir, `${index}.log`);
      let last: AttemptResult | undefined;
      for (let attempt = 1; attempt <= this.options.retries + 1; attempt++) {
        if (request.signal?.aborted) break;
        last = await this.runAttempt(request, index, attempt, logPath);
        if (last.exitCode === 0) break;
        if (last.exitCode === EXIT_NOT_RETRYABLE) break;
      }
      await this.options.store.upload(runLayout(request.runId).stage(request.stageName).logs(index), logPath).catch(() => undefined);
      if (last?.exitCode === 0) result.succeeded.push(index);
      else {
        const why = request.signal?.aborted ? 'cancelled' : last?.signal ? `killed by ${last.signal}` : `exit code ${last?.exitCode}`;
        result.failed.push({ index, reason: why, logTail: last?.logTail ?? '' });
      }
    };
    const lanes = Array.from({ length: Math.min(this.options.parallelism, queue.length) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
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
    await Promise.all(lanes);
    await rm(logDir, { recursive: true, force: true });
    result.succeeded.sort((a, b) => a - b);
    result.failed.sort((a, b) => a.index - b.index);
    return result;
  }

  private async runAttempt(request: StageRunRequest, index: number, attempt: number, logPath: string): Promise<AttemptResult> {
    const { command, args } = workerCommand(request.stageType);
    const log = createWriteStream(logPath, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} ${request.stageName} chunk ${index} attempt ${attempt}\n`);
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
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
      },
    });
    const onAbort = () => child.kill('SIGTERM');
    request.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const [exitCode, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    request.signal?.removeEventListener('abort', onAbort);
    log.end(`--- exit ${exitCode ?? signal}\n`);
    await once(log, 'close');
    const text = await readFile(logPath, 'utf8');
    return { exitCode, signal, logTail: text.split('\n').slice(-20).join('\n') };
  }
}
