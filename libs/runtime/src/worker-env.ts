import { ConfigError, SAFE_NAME_PATTERN, WORKER_ENV, parseIndexRanges } from '@finevideo/core';

export interface WorkerEnv {
  storage: string;
  runId: string;
  stageName: string;
  /** The chunk this worker runs (after applying the resume chunk map). */
  chunkIndex: number;
  /** The raw JOB_COMPLETION_INDEX. */
  completionIndex: number;
  attempt: number;
  /** The lease epoch of the launcher that started this worker (absent: Jobs applied by hand, no fencing). */
  epoch?: number;
}

/** Reads the worker contract from the environment: the one place that does. */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const issues: string[] = [];
  const need = (name: string): string => {
    const v = env[name];
    if (!v) issues.push(`${name}: expected a value, got nothing`);
    return v ?? '';
  };
  const storage = need(WORKER_ENV.storage);
  const runId = need(WORKER_ENV.runId);
  const stageName = need(WORKER_ENV.stage);
  const rawIndex = need(WORKER_ENV.index);
  if (runId && !SAFE_NAME_PATTERN.test(runId)) issues.push(`${WORKER_ENV.runId}: expected a safe name, got ${JSON.stringify(runId)}`);
  if (stageName && !SAFE_NAME_PATTERN.test(stageName)) issues.push(`${WORKER_ENV.stage}: expected a safe name, got ${JSON.stringify(stageName)}`);
  const completionIndex = Number(rawIndex);
  if (rawIndex && (!/^\d+$/.test(rawIndex) || !Number.isSafeInteger(completionIndex))) {
    issues.push(`${WORKER_ENV.index}: expected a non-negative integer, got ${JSON.stringify(rawIndex)}`);
  }
  let chunkIndex = completionIndex;
  const map = env[WORKER_ENV.chunkMap];
  if (map && issues.length === 0) {
    const chunks = parseIndexRanges(map);
    const mapped = chunks[completionIndex];
    if (mapped === undefined) issues.push(`${WORKER_ENV.index}: expected below ${chunks.length} (entries in ${WORKER_ENV.chunkMap}), got ${completionIndex}`);
    else chunkIndex = mapped;
  }
  const attempt = Number(env[WORKER_ENV.attempt] ?? '1') || 1;
  const rawEpoch = env[WORKER_ENV.epoch];
  if (rawEpoch !== undefined && !/^[1-9]\d{0,14}$/.test(rawEpoch)) issues.push(`${WORKER_ENV.epoch}: expected a positive integer, got ${JSON.stringify(rawEpoch)}`);
  if (issues.length) throw new ConfigError('invalid worker environment', issues);
  return { storage, runId, stageName, chunkIndex, completionIndex, attempt, ...(rawEpoch !== undefined ? { epoch: Number(rawEpoch) } : {}) };
}
