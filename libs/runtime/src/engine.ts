import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  ConfigError, emptyStats, mergeStats, parseOrThrow, pipelineStages, planChunks, runLayout,
  type AnyStage, type Logger, type ObjectStore, type PipelineConfig, type PipelineStage, type PlanContext, type StageStats, type StageTable,
} from '@finevideo/core';
import type { Executor, StageProgress } from './executor.js';
import { readDoneMarkers, readJsonObject, readRunManifest, type RunManifest, type StagePlan } from './run-state.js';
import { keptRows } from './table.js';

/** Looks a stage type up; the launcher passes the registry in, so executors never import stages. */
export type StageResolver = (type: string) => AnyStage;

export interface EngineOptions {
  store: ObjectStore;
  resolveStage: StageResolver;
  log: Logger;
  onProgress?: (stage: string, progress: StageProgress) => void;
  signal?: AbortSignal;
}

/** Environment workers need to reach the same storage (never credentials: those come from the environment or Secrets). */
export function storageEnv(config: PipelineConfig): Record<string, string> {
  const env: Record<string, string> = {};
  if (config.s3.endpoint) env.AWS_ENDPOINT_URL_S3 = config.s3.endpoint;
  if (config.s3.region) env.AWS_REGION = config.s3.region;
  if (config.s3.forcePathStyle) env.FINEVIDEO_S3_FORCE_PATH_STYLE = '1';
  return env;
}

export function newRunId(config: PipelineConfig, now = new Date()): string {
  return config.runId ?? `${config.name}-${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-').toLowerCase()}`;
}

/** Validates every stage's params against its schema: errors surface before anything runs. */
export function validatePipeline(config: PipelineConfig, resolveStage: StageResolver): void {
  const issues: string[] = [];
  for (const [i, s] of pipelineStages(config).entries()) {
    let stage: AnyStage;
    try {
      stage = resolveStage(s.stage);
    } catch (e) {
      issues.push(`stages[${i}].stage: ${(e as Error).message.replace(/^stage type: /, '')}`);
      continue;
    }
    try {
      parseOrThrow(stage.params, s.params, `stages[${i}].params`);
    } catch (e) {
      issues.push(...(e instanceof ConfigError ? e.issues.map((x) => `stages[${i}].params.${x}`) : [(e as Error).message]));
    }
    if (stage.kind === 'global' && i === 0) issues.push(`stages[0]: expected a map stage first, got global stage ${s.stage}`);
  }
  if (issues.length) throw new ConfigError('invalid pipeline config', issues);
}

/** Creates runs/<id>/run.json, or returns the existing manifest of that id. */
export async function createRun(config: PipelineConfig, store: ObjectStore, runId = newRunId(config)): Promise<RunManifest> {
  const key = runLayout(runId).runJson;
  if (await store.exists(key)) return readRunManifest(store, runId);
  const stages = pipelineStages(config).map((s) => ({ name: s.name, type: s.stage }));
  const manifest: RunManifest = { runId, createdAt: new Date().toISOString(), config, stages };
  await store.put(key, JSON.stringify(manifest, null, 2));
  return manifest;
}

/**
 * Plans a stage once: lists its items, writes chunks/<i>.jsonl, then plan.json last.
 * A stage already planned keeps its plan (the chunk count never changes).
 */
export async function planStage(manifest: RunManifest, stageCfg: PipelineStage, previous: PipelineStage | undefined, options: EngineOptions): Promise<StagePlan> {
  const { store } = options;
  const layout = runLayout(manifest.runId).stage(stageCfg.name);
  const existing = await readJsonObject<StagePlan>(store, layout.plan);
  if (existing) return existing;
  const stage = options.resolveStage(stageCfg.stage);
  const params = parseOrThrow(stage.params, stageCfg.params, `params of stage ${stageCfg.name}`);
  if (previous && !(await store.exists(runLayout(manifest.runId).stage(previous.name).table))) {
    throw new Error(`stage ${stageCfg.name}: expected the table of ${previous.name} before planning, got none (run ${previous.name} first)`);
  }
  let plan: StagePlan;
  if (stage.kind === 'global') {
    await store.put(layout.chunk(0), '');
    plan = { stage: stageCfg.name, type: stageCfg.stage, kind: 'global', itemCount: 1, chunkCount: 1, ranges: [{ index: 0, start: 0, end: 1 }], plannedAt: new Date().toISOString() };
  } else {
    const ctx: PlanContext<unknown> = {
      params, runId: manifest.runId, stageName: stageCfg.name, store, log: options.log,
      hasPrevious: previous !== undefined,
      previousRows: () => (previous ? keptRows(store, manifest.runId, previous.name, stage.inputColumns) : (async function* () {})()),
      stageRows: (name) => {
        const earlier = pipelineStages(manifest.config).map((s) => s.name);
        if (!earlier.slice(0, earlier.indexOf(stageCfg.name)).includes(name)) {
          throw new ConfigError(`stage ${stageCfg.name}: expected an earlier stage name to read, got ${JSON.stringify(name)} (earlier: ${earlier.slice(0, earlier.indexOf(stageCfg.name)).join(', ') || 'none'})`);
        }
        return keptRows(store, manifest.runId, name);
      },
    };
    const tmp = await mkdtemp(join(tmpdir(), 'finevideo-plan-'));
    try {
      // Items are spooled to disk once so that the chunk count is known before splitting.
      const all = join(tmp, 'items.jsonl');
      const sink = createWriteStream(all);
      let itemCount = 0;
      for await (const item of stage.listItems(ctx)) {
        if (!sink.write(`${JSON.stringify(item)}\n`)) await once(sink, 'drain');
        itemCount++;
      }
      sink.end();
      await once(sink, 'close');
      const ranges = planChunks(itemCount, { chunks: stageCfg.chunks, itemsPerChunk: stageCfg.itemsPerChunk ?? stage.defaultItemsPerChunk });
      const lines = createInterface({ input: createReadStream(all), crlfDelay: Infinity })[Symbol.asyncIterator]();
      for (const range of ranges) {
        const path = join(tmp, `chunk-${range.index}.jsonl`);
        const out = createWriteStream(path);
        for (let i = range.start; i < range.end; i++) {
          const next = await lines.next();
          if (!out.write(`${next.value as string}\n`)) await once(out, 'drain');
        }
        out.end();
        await once(out, 'close');
        await store.upload(layout.chunk(range.index), path);
        await rm(path, { force: true });
      }
      plan = { stage: stageCfg.name, type: stageCfg.stage, kind: 'map', itemCount, chunkCount: ranges.length, ranges, plannedAt: new Date().toISOString() };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  await store.put(layout.plan, JSON.stringify(plan, null, 2));
  return plan;
}

export interface StageOutcome {
  stage: string;
  plan: StagePlan;
  stats: StageStats;
  failed: { index: number; reason: string; logTail?: string }[];
  tableKey?: string;
}

/** Indexes of a plan without a completion marker. */
export async function pendingIndexes(store: ObjectStore, runId: string, stageName: string, plan: StagePlan): Promise<number[]> {
  const done = await readDoneMarkers(store, runId, stageName);
  return plan.ranges.map((r) => r.index).filter((i) => !done.has(i));
}

/**
 * Seals a finished stage: table.json lists every chunk's parts in index order, with the funnel.
 * Cheap whatever the stage's size (no rows are read); written once, after every chunk is done.
 */
export async function sealStage(store: ObjectStore, runId: string, stageName: string, plan: StagePlan): Promise<StageStats> {
  const layout = runLayout(runId).stage(stageName);
  const done = await readDoneMarkers(store, runId, stageName);
  const stats = emptyStats();
  const parts: string[] = [];
  for (const r of plan.ranges) {
    const marker = done.get(r.index);
    if (!marker) throw new Error(`stage ${stageName}: expected chunk ${r.index} done before sealing, got no marker`);
    mergeStats(stats, marker.stats);
    parts.push(...marker.parts);
  }
  if (!(await store.exists(layout.table))) {
    const table: StageTable = { stage: stageName, sealedAt: new Date().toISOString(), stats, parts };
    await store.put(layout.table, JSON.stringify(table, null, 2));
  }
  return stats;
}

export interface PipelineRunOptions extends EngineOptions {
  executor: Executor;
  /** Worker environment added by the launcher (storage endpoint and the like). */
  workerEnv: Record<string, string>;
  /** Stop after this stage (inclusive). */
  untilStage?: string;
}

/** Runs (or resumes) every stage of a run in order: plan, execute pending chunks, seal the table. */
export async function runPipeline(manifest: RunManifest, options: PipelineRunOptions): Promise<StageOutcome[]> {
  const { store, log } = options;
  const stages = pipelineStages(manifest.config);
  const outcomes: StageOutcome[] = [];
  for (const [position, stageCfg] of stages.entries()) {
    if (options.signal?.aborted) break;
    const previous = position > 0 ? stages[position - 1] : undefined;
    const stage = options.resolveStage(stageCfg.stage);
    const plan = await planStage(manifest, stageCfg, previous, options);
    const pending = await pendingIndexes(store, manifest.runId, stageCfg.name, plan);
    let failed: StageOutcome['failed'] = [];
    if (pending.length) {
      const attempt = await nextAttempt(store, manifest.runId, stageCfg.name);
      log.info(`stage ${stageCfg.name}: ${plan.itemCount} items in ${plan.chunkCount} chunks, running ${pending.length} (attempt ${attempt})`);
      const result = await options.executor.runStage({
        runId: manifest.runId, storage: store.uri, stageName: stageCfg.name, stageType: stageCfg.stage,
        image: stage.image, resources: stage.resources, chunkCount: plan.chunkCount, indexes: pending, attempt,
        env: options.workerEnv,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (p) => options.onProgress?.(stageCfg.name, p),
      });
      failed = result.failed;
    } else {
      log.info(`stage ${stageCfg.name}: all ${plan.chunkCount} chunks already done`);
    }
    const stillPending = await pendingIndexes(store, manifest.runId, stageCfg.name, plan);
    if (stillPending.length) {
      const reasons = failed.length ? failed : stillPending.map((index) => ({ index, reason: 'no completion marker' }));
      outcomes.push({ stage: stageCfg.name, plan, stats: emptyStats(), failed: reasons });
      log.error(`stage ${stageCfg.name}: ${stillPending.length} of ${plan.chunkCount} chunks failed; fix the cause and run "finevideo resume"`);
      break;
    }
    const stats = await sealStage(store, manifest.runId, stageCfg.name, plan);
    outcomes.push({ stage: stageCfg.name, plan, stats, failed: [], tableKey: runLayout(manifest.runId).stage(stageCfg.name).table });
    if (options.untilStage === stageCfg.name) break;
  }
  return outcomes;
}

const attemptsKey = (runId: string, stageName: string) => `${runLayout(runId).stage(stageName).root}/attempts.json`;

/** How many times a stage was submitted so far. */
export async function currentAttempt(store: ObjectStore, runId: string, stageName: string): Promise<number> {
  return (await readJsonObject<{ attempts: number }>(store, attemptsKey(runId, stageName)))?.attempts ?? 0;
}

/**
 * The attempt `finevideo render` prints for these pending chunks: the one it printed before when the
 * chunks are the same (rendering twice gives the same Jobs, so `kubectl apply` says "unchanged"), else
 * a new one, recorded with its chunks, so a re-render after failures never reuses a Job name.
 */
export async function renderAttempt(store: ObjectStore, runId: string, stageName: string, pending: readonly number[]): Promise<number> {
  const recorded = await readJsonObject<{ attempts: number; rendered?: number[] }>(store, attemptsKey(runId, stageName));
  const attempts = recorded?.attempts ?? 0;
  if (recorded?.rendered && recorded.rendered.length === pending.length && recorded.rendered.every((v, i) => v === pending[i])) return attempts;
  await store.put(attemptsKey(runId, stageName), JSON.stringify({ attempts: attempts + 1, rendered: [...pending] }));
  return attempts + 1;
}

/** Each submission of a stage gets the next attempt number (recorded for Kubernetes Job names and labels). */
async function nextAttempt(store: ObjectStore, runId: string, stageName: string): Promise<number> {
  const attempt = (await currentAttempt(store, runId, stageName)) + 1;
  await store.put(attemptsKey(runId, stageName), JSON.stringify({ attempts: attempt }));
  return attempt;
}

export async function readPlan(store: ObjectStore, runId: string, stageName: string): Promise<StagePlan | undefined> {
  return readJsonObject<StagePlan>(store, runLayout(runId).stage(stageName).plan);
}

export interface StageStatus {
  stage: string;
  type: string;
  planned: boolean;
  chunks: number;
  done: number;
  failed: number;
  pending: number;
  /** Every chunk done and table.json written: the stage's table is ready. */
  sealed: boolean;
  stats: StageStats;
}

/** Per stage: chunks done/failed/pending and the funnel, read from the run folder only. */
export async function runStatus(store: ObjectStore, runId: string): Promise<{ manifest: RunManifest; stages: StageStatus[] }> {
  const manifest = await readRunManifest(store, runId);
  const stages: StageStatus[] = [];
  for (const s of pipelineStages(manifest.config)) {
    const layout = runLayout(runId).stage(s.name);
    const plan = await readJsonObject<StagePlan>(store, layout.plan);
    const done = await readDoneMarkers(store, runId, s.name);
    const stats = emptyStats();
    for (const m of done.values()) mergeStats(stats, m.stats);
    let failed = 0;
    for await (const { key } of store.list(`${layout.root}/logs/`)) {
      const index = Number(/(\d+)\.log$/.exec(key)?.[1]);
      if (!done.has(index)) failed++;
    }
    const chunks = plan?.chunkCount ?? 0;
    stages.push({
      stage: s.name, type: s.stage, planned: plan !== undefined, chunks, done: done.size, failed,
      pending: Math.max(0, chunks - done.size - failed), sealed: await store.exists(layout.table), stats,
    });
  }
  return { manifest, stages };
}
