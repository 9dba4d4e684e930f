import { readFile } from 'node:fs';
import { z } from 'zod';
import { orderedPool } from './ordered-pool.js';
import { ConfigError, type DoneMarker, type ObjectStore, type PipelineConfig, type PipelineStage, parseOrThrow, pipelineConfigSchema, pipelineStages, runLayout } from '@finevideo/core';

/** runs/<id>/run.json: the config snapshot every worker and every resume reads. */
export interface RunManifest {
  runId: string;
  createdAt: string;
  config: PipelineConfig;
  stages: { name: string; type: string }[];
}

const runManifestSchema = z.object({
  runId: z.string(),
  createdAt: z.string(),
  config: pipelineConfigSchema,
  stages: z.array(z.object({ name: z.string(), type: z.string() })),
});

/** plan.json: written once per stage, after its work list; the chunk count never changes. */
export interface StagePlan {
  stage: string;
  type: string;
  kind: 'map' | 'global';
  itemCount: number;
  chunkCount: number;
  ranges: { index: number; start: number; end: number }[];
  plannedAt: string;
  /**
   * A following (streamed) stage: chunk k is planned from the kept rows of upstream chunks as they
   * finish. `group` upstream chunks make one chunk, or one upstream chunk is shared among `split`
   * chunks (one of them is 1). Its ranges then name upstream chunks ([start, end)), and itemCount is
   * counted when the stage is sealed (0 until then). chunks/<k>.jsonl is written when k is planned.
   */
  follows?: { stage: string; group: number; split: number; itemsPerChunk: number };
  /**
   * A map stage planned whole: its items are one object, chunks/work-list.jsonl, and chunk i is bytes
   * [offsets[i], offsets[i + 1]) of it. Absent (streamed stages, runs planned before): chunks/<i>.jsonl.
   */
  workList?: { offsets: number[] };
}

export async function readRunManifest(store: ObjectStore, runId: string): Promise<RunManifest> {
  const key = runLayout(runId).runJson;
  const text = await store.getText(key);
  if (text === undefined) throw new ConfigError(`run ${runId}: expected ${key} in ${store.uri}, got nothing (was the run created?)`);
  return parseOrThrow(runManifestSchema, JSON.parse(text), `${key}`) as RunManifest;
}

export function manifestStage(manifest: RunManifest, stageName: string): { stage: PipelineStage; position: number; previous?: PipelineStage } {
  const stages = pipelineStages(manifest.config);
  const position = stages.findIndex((s) => s.name === stageName);
  if (position < 0) throw new ConfigError(`stage: expected one of ${stages.map((s) => s.name).join(', ')} in run ${manifest.runId}, got ${JSON.stringify(stageName)}`);
  const previous = position > 0 ? stages[position - 1] : undefined;
  return previous ? { stage: stages[position]!, position, previous } : { stage: stages[position]!, position };
}

export async function readJsonObject<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const text = await store.getText(key);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/** Markers read at once: enough to hide the latency of S3 or a folder, bounded so 20,000 chunks do not open 20,000 files together. */
export const MARKER_READ_CONCURRENCY = 64;

/**
 * The done markers of a stage by chunk index, read concurrently (bounded). With the stage's plan on
 * a folder, each chunk's marker is read by its key (a missing file costs less than listing and
 * stat-ing the folder); otherwise, as on S3, the done/ prefix is listed.
 */
export async function readDoneMarkers(store: ObjectStore, runId: string, stageName: string, plan?: Pick<StagePlan, 'ranges'>): Promise<Map<number, ChunkMarker>> {
  const layout = runLayout(runId).stage(stageName);
  const markers = new Map<number, ChunkMarker>();
  const byIndex = plan !== undefined && store.localPath(layout.plan) !== undefined;
  async function* keys() {
    if (byIndex) {
      for (const r of plan.ranges) yield layout.done(r.index);
      return;
    }
    for await (const { key } of store.list(layout.donePrefix)) if (key.endsWith('.json')) yield key;
  }
  await orderedPool(keys(), MARKER_READ_CONCURRENCY, (key) => readMarker(store, key), (marker) => {
    if (marker) markers.set(marker.index, marker);
  });
  return markers;
}

/** fs.readFile with a callback: about half the CPU of fs/promises' readFile on small files (20,000 markers). */
const readLocal = (path: string) =>
  new Promise<string | undefined>((resolve, reject) =>
    readFile(path, 'utf8', (error, text) => (error ? ((error as NodeJS.ErrnoException).code === 'ENOENT' ? resolve(undefined) : reject(error)) : resolve(text))));

async function readMarker(store: ObjectStore, key: string): Promise<ChunkMarker | undefined> {
  const local = store.localPath(key);
  const text = local !== undefined ? await readLocal(local) : await store.getText(key);
  return text === undefined ? undefined : (JSON.parse(text) as ChunkMarker);
}

/** An item of a chunk whose every outcome was an error: what `resume --retry-errors` runs again. */
export interface ErrorItem {
  key: string;
  /** The first error reason of the item (at most 300 characters). */
  reason: string;
}

/** A done marker as this runtime writes it: the core marker plus the items that failed whole. */
export interface ChunkMarker extends DoneMarker {
  errorItems?: ErrorItem[];
  /** The lease epoch of the launcher whose worker wrote it (absent: no launcher, or written before epochs). */
  epoch?: number;
  /** The stage counts rows as its items (MapStage.rowsAreItems): its failed items are its error rows. */
  rowsAreItems?: true;
}

/**
 * runs/<id>/<stage>/retry/<index>.json: a chunk whose error rows are to be run again. Written by
 * `resume --retry-errors` before it removes the chunk's marker; the worker keeps the previous parts'
 * other rows, runs `items` again (the whole chunk when absent), writes new parts, the marker, and
 * only then removes the old parts and this request.
 */
export interface RetryRequest {
  /** The reasons or error classes asked for, or ["retryable"] (the default) or ["all"]; for the record. */
  reasons: string[];
  items?: string[];
  previous: ChunkMarker;
  requestedAt: string;
}

export const retryKey = (runId: string, stageName: string, index: number): string =>
  `${runLayout(runId).stage(stageName).root}/retry/${String(index).padStart(6, '0')}.json`;

/** runs/<id>/<stage>/failed.json: the chunks the stage's last finished attempt left failed (status reads it). */
export interface FailedChunks {
  attempt: number;
  failed: { index: number; reason: string }[];
}

export const failedKey = (runId: string, stageName: string): string => `${runLayout(runId).stage(stageName).root}/failed.json`;

/** A stage whose table was consumed by a stage that is being re-planned: written first, removed when the reset is whole. */
export const replanKey = (runId: string, stageName: string): string => `${runLayout(runId).stage(stageName).root}/replan.json`;
