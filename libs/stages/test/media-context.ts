import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ItemContext, Logger, ObjectStore } from '@finevideo/core';

/** An item context for calling a stage's processItem directly, as the worker runtime would. */
export async function mediaItemContext<P>(store: ObjectStore, params: P): Promise<ItemContext<P> & { counters: Record<string, number>; warnings: string[] }> {
  const counters: Record<string, number> = {};
  const warnings: string[] = [];
  const log: Logger = { info: () => undefined, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) };
  return {
    params, runId: 'test', stageName: 'test', store, log, chunkIndex: 0, attempt: 1,
    tmpDir: await mkdtemp(join(tmpdir(), 'stage-tmp-')),
    signal: new AbortController().signal,
    count: (name, amount = 1) => { counters[name] = (counters[name] ?? 0) + amount; },
    counters, warnings,
  };
}

/** A store that hides its folder: a stage must copy the video to its scratch folder (the S3 path). */
export function withoutLocalPaths(store: ObjectStore): ObjectStore {
  return Object.assign(Object.create(store) as ObjectStore, { localPath: () => undefined });
}
