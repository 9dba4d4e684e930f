import { z } from 'zod';
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

/** plan.json: written once per stage, after its chunk files; the chunk count never changes. */
export interface StagePlan {
  stage: string;
  type: string;
  kind: 'map' | 'global';
  itemCount: number;
  chunkCount: number;
  ranges: { index: number; start: number; end: number }[];
  plannedAt: string;
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

export async function readDoneMarkers(store: ObjectStore, runId: string, stageName: string): Promise<Map<number, DoneMarker>> {
  const layout = runLayout(runId).stage(stageName);
  const markers = new Map<number, DoneMarker>();
  for await (const { key } of store.list(layout.donePrefix)) {
    if (!key.endsWith('.json')) continue;
    const marker = await readJsonObject<DoneMarker>(store, key);
    if (marker) markers.set(marker.index, marker);
  }
  return markers;
}
