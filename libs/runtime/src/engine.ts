import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError, emptyStats, errorClassOf, isRetryableReason, mergeStats, parseOrThrow, pipelineStageIssues, pipelineStages, planChunks, runLayout,
  type AnyStage, type Logger, type MapStage, type ObjectStore, type PipelineConfig, type PipelineStage, type PlanContext, type StageStats, type StageTable,
} from '@finevideo/core';
import type { StageProgress } from './executor.js';
import { orderedPool } from './ordered-pool.js';
import {
  MARKER_READ_CONCURRENCY, failedKey, readDoneMarkers, readJsonObject, readRunManifest, replanKey, retryKey,
  type ChunkMarker, type FailedChunks, type RetryRequest, type RunManifest, type StagePlan,
} from './run-state.js';
import { keptRows } from './table.js';
import { chunkByteOffsets, spoolItems } from './work-list.js';

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
  // The same checks as reading the file with the registry (one rule set: libs/core pipelineStageIssues).
  pipelineStages(config);
  const issues = pipelineStageIssues(config.stages, resolveStage);
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

/** A first stage that listed nothing: almost always a wrong or empty source, so it is refused unless expected. */
function emptyInputError(stageCfg: PipelineStage): ConfigError {
  const params = Object.entries(stageCfg.params).filter(([, v]) => typeof v === 'string').map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ');
  return new ConfigError(
    `stage ${stageCfg.name}: expected input items, got 0 (listed from ${params || 'its params'}); check that the source exists and holds data, or set "allowEmptyInput: true" on the stage if an empty input is expected`,
  );
}

/** Names a stage of the pipeline, or a ConfigError listing the valid names (for --until and the like). */
export function checkStageName(config: PipelineConfig, name: string, what: string): void {
  const names = pipelineStages(config).map((s) => s.name);
  if (!names.includes(name)) throw new ConfigError(`${what}: expected one of the stage names ${names.join(', ')}, got ${JSON.stringify(name)}`);
}

/**
 * Plans a stage once: lists its items into one work list (chunks/work-list.jsonl) and records each
 * chunk's byte range of it in plan.json, written last. A stage already planned keeps its plan (the
 * chunk count never changes).
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
    plan = await planMapStage(manifest, stageCfg, previous, stage, params, options);
  }
  // Compact: with 40,000 chunks the plan is a few MB that every chunk's worker reads.
  await store.put(layout.plan, JSON.stringify(plan));
  return plan;
}

/** The plan context of a stage planned whole: the previous stage's kept rows, or an earlier stage's. */
function planContext(manifest: RunManifest, stageCfg: PipelineStage, previous: PipelineStage | undefined, stage: MapStage, params: unknown, options: EngineOptions): PlanContext<unknown> {
  const { store } = options;
  const earlier = pipelineStages(manifest.config).map((s) => s.name);
  const before = earlier.slice(0, earlier.indexOf(stageCfg.name));
  return {
    params, runId: manifest.runId, stageName: stageCfg.name, store, log: options.log,
    hasPrevious: previous !== undefined,
    previousRows: () => (previous ? keptRows(store, manifest.runId, previous.name, stage.inputColumns) : (async function* () {})()),
    stageRows: (name) => {
      if (!before.includes(name)) {
        throw new ConfigError(`stage ${stageCfg.name}: expected an earlier stage name to read, got ${JSON.stringify(name)} (earlier: ${before.join(', ') || 'none'})`);
      }
      return keptRows(store, manifest.runId, name);
    },
  };
}

/**
 * Lists a map stage's items into a local spool (the count decides the chunks), then puts the spool
 * as the stage's one work list: one object whatever the chunk count (40,000 small files cost about
 * 160 µs each on a folder and a round trip each on S3).
 */
async function planMapStage(
  manifest: RunManifest, stageCfg: PipelineStage, previous: PipelineStage | undefined, stage: MapStage, params: unknown, options: EngineOptions,
): Promise<StagePlan> {
  const tmp = await mkdtemp(join(tmpdir(), 'finevideo-plan-'));
  try {
    const spool = join(tmp, 'work-list.jsonl');
    const spooled = await spoolItems(stage.listItems(planContext(manifest, stageCfg, previous, stage, params, options)), spool);
    if (spooled.itemCount === 0 && !previous && !stageCfg.allowEmptyInput) throw emptyInputError(stageCfg);
    const ranges = planChunks(spooled.itemCount, { chunks: stageCfg.chunks, itemsPerChunk: stageCfg.itemsPerChunk ?? stage.defaultItemsPerChunk });
    await options.store.upload(runLayout(manifest.runId).stage(stageCfg.name).workList, spool, { contentType: 'application/x-ndjson' });
    return {
      stage: stageCfg.name, type: stageCfg.stage, kind: 'map', itemCount: spooled.itemCount, chunkCount: ranges.length, ranges,
      plannedAt: new Date().toISOString(), workList: { offsets: await chunkByteOffsets(spool, spooled, ranges) },
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export interface StageOutcome {
  stage: string;
  plan: StagePlan;
  stats: StageStats;
  failed: { index: number; reason: string; logTail?: string }[];
  tableKey?: string;
  /** The run was cancelled (abort signal) while this stage had chunks left. */
  cancelled?: boolean;
  /** Items that ended as error rows (a sealed stage). */
  failedItems?: number;
}

/** Indexes of a plan without a completion marker. */
export async function pendingIndexes(store: ObjectStore, runId: string, stageName: string, plan: StagePlan): Promise<number[]> {
  return notDone(plan, await readDoneMarkers(store, runId, stageName, plan));
}

function notDone(plan: StagePlan, done: ReadonlyMap<number, unknown>): number[] {
  return plan.ranges.map((r) => r.index).filter((i) => !done.has(i));
}

/**
 * Seals a finished stage: table.json lists every chunk's parts in index order, with the funnel.
 * Cheap whatever the stage's size (no rows are read); written once, after every chunk is done.
 */
export async function sealStage(store: ObjectStore, runId: string, stageName: string, plan: StagePlan): Promise<StageStats> {
  return (await sealStageCounting(store, runId, stageName, plan)).stats;
}

/**
 * Items of a stage that ended as error rows: those whose every row was an error (markers record
 * them), the error rows of a stage whose rows are its items; for markers written before they did,
 * the error rows, at most the items.
 */
export function failedItemsOf(markers: Iterable<ChunkMarker>): number {
  let failed = 0;
  for (const m of markers) failed += m.rowsAreItems ? m.stats.errors : m.errorItems ? m.errorItems.length : Math.min(m.stats.errors, m.stats.items);
  return failed;
}

/** sealStage, also returning the items that ended as error rows (for errorPolicy.maxStageShare). */
export async function sealStageCounting(
  store: ObjectStore, runId: string, stageName: string, plan: StagePlan, markers?: Awaited<ReturnType<typeof readDoneMarkers>>,
): Promise<{ stats: StageStats; failedItems: number }> {
  const layout = runLayout(runId).stage(stageName);
  const done = markers ?? (await readDoneMarkers(store, runId, stageName, plan));
  const stats = emptyStats();
  const parts: string[] = [];
  for (const r of plan.ranges) {
    const marker = done.get(r.index);
    if (!marker) throw new Error(`stage ${stageName}: expected chunk ${r.index} done before sealing, got no marker`);
    mergeStats(stats, marker.stats);
    for (const part of marker.parts) parts.push(part);
  }
  if (!(await store.exists(layout.table))) {
    const table: StageTable = { stage: stageName, sealedAt: new Date().toISOString(), stats, parts };
    await store.put(layout.table, JSON.stringify(table, null, 2));
  }
  return { stats, failedItems: failedItemsOf(done.values()) };
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
export async function nextAttempt(store: ObjectStore, runId: string, stageName: string): Promise<number> {
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
  /** Chunks without a marker that the stage's last finished attempt reported failed (not those still running). */
  failed: number;
  pending: number;
  /** Every chunk done and table.json written: the stage's table is ready. */
  sealed: boolean;
  stats: StageStats;
  /** Items (of the chunks done) that ended as error rows. */
  failedItems: number;
  /** With verify: parts a marker lists that are not in storage. */
  missingParts?: string[];
}

export interface RunStatus {
  manifest: RunManifest;
  /** Every stage planned and sealed, every chunk with its marker. */
  complete: boolean;
  stages: StageStatus[];
}

/**
 * Per stage: chunks done/failed/pending and the funnel (error rows by reason included), read from
 * the run folder only; the same sources as the run's summary (markers and failed.json). Markers are
 * read concurrently, bounded; `verify` also checks that every part each marker lists exists.
 */
export async function runStatus(store: ObjectStore, runId: string, options: { verify?: boolean } = {}): Promise<RunStatus> {
  const manifest = await readRunManifest(store, runId);
  const stages: StageStatus[] = [];
  for (const s of pipelineStages(manifest.config)) {
    const layout = runLayout(runId).stage(s.name);
    const plan = await readJsonObject<StagePlan>(store, layout.plan);
    const done = await readDoneMarkers(store, runId, s.name, plan);
    const stats = emptyStats();
    for (const m of done.values()) mergeStats(stats, m.stats);
    const recorded = await readJsonObject<FailedChunks>(store, failedKey(runId, s.name));
    const failed = new Set((recorded?.failed ?? []).map((f) => f.index).filter((i) => !done.has(i))).size;
    const chunks = plan?.chunkCount ?? 0;
    const status: StageStatus = {
      stage: s.name, type: s.stage, planned: plan !== undefined, chunks, done: done.size, failed,
      pending: Math.max(0, chunks - done.size - failed), sealed: await store.exists(layout.table), stats, failedItems: failedItemsOf(done.values()),
    };
    if (options.verify) {
      const missing: string[] = [];
      const parts = function* () {
        for (const m of done.values()) yield* m.parts;
      };
      await orderedPool(parts(), MARKER_READ_CONCURRENCY, async (key) => ((await store.exists(key)) ? undefined : key), (key) => {
        if (key) missing.push(key);
      });
      status.missingParts = missing;
    }
    stages.push(status);
  }
  const complete = stages.every((s) => s.planned && s.sealed && s.done === s.chunks);
  return { manifest, complete, stages };
}

/**
 * Resets a stage that consumed a table about to change: its plan, chunks, markers, parts and table
 * go (logs and attempts.json stay, so Job names stay unique). An intent object is written first, so a
 * reset cut short is finished by the next run before the stage is planned again.
 */
export async function resetStage(store: ObjectStore, runId: string, stageName: string): Promise<void> {
  const layout = runLayout(runId).stage(stageName);
  await store.put(replanKey(runId, stageName), JSON.stringify({ requestedAt: new Date().toISOString() }));
  await store.delete(layout.table);
  for (const prefix of [layout.donePrefix, layout.outPrefix, `${layout.root}/retry/`, layout.chunksPrefix, `${layout.root}/artifacts/`]) {
    const keys: string[] = [];
    for await (const { key } of store.list(prefix)) keys.push(key);
    for (const key of keys) await store.delete(key);
  }
  await store.delete(failedKey(runId, stageName));
  // The plan goes last: while it exists with no markers, the stage is merely pending.
  await store.delete(layout.plan);
  await store.delete(replanKey(runId, stageName));
}

/**
 * Which error rows `resume --retry-errors` runs again. "retryable" (no reasons given): only reasons a
 * retry can change (isRetryableReason); "all": every error; otherwise the named reasons or classes,
 * retryable or not (a deterministic verdict is run again only when asked for by name).
 */
export type RetrySelection = { kind: 'retryable' } | { kind: 'all' } | { kind: 'named'; reasons: readonly string[] };

export function retrySelection(reasons: readonly string[] | true | undefined): RetrySelection {
  if (reasons === true || reasons === undefined || reasons.length === 0) return { kind: 'retryable' };
  if (reasons.length === 1 && reasons[0]!.toLowerCase() === 'all') return { kind: 'all' };
  return { kind: 'named', reasons };
}

function selects(selection: RetrySelection, reason: string): boolean {
  if (selection.kind === 'all') return true;
  if (selection.kind === 'retryable') return isRetryableReason(reason);
  return selection.reasons.some((r) => r === reason || r === errorClassOf(reason));
}

export interface ReplannedStage {
  stage: string;
  /** Items of its previous plan: what it runs again, give or take the rows that change upstream. */
  previousItems: number;
  /** Each item costs a model call with these params (stored answers for the same model, prompt and schema are reused). */
  paid: boolean;
}

export interface RetryErrorsResult {
  /** The stage whose chunks run again (the first stage with matching error rows), if any. */
  stage?: string;
  /** That stage's items cost a model call each. */
  paid?: boolean;
  /** Chunks run again item by item, and whole (a global stage, or a marker without its error items). */
  chunks: number[];
  wholeChunks: number[];
  /** Items run again (those whose every row was a matching error). */
  items: number;
  /** Later stages reset: they consumed the table that changes, so they are planned and run again. */
  replanned: string[];
  /** The same, with their sizes and whether they are paid, for the message printed before any reset. */
  replannedStages: ReplannedStage[];
  /** Error rows of the stages read that this selection leaves alone, by class (to say how to name them). */
  leftAlone: Record<string, number>;
}

interface RetryRequestPlan {
  index: number;
  items?: string[];
}

/** A retry worked out but not applied: nothing in storage has changed yet. */
export interface RetryErrorsPlan extends RetryErrorsResult {
  requests: RetryRequestPlan[];
  markers: Map<number, ChunkMarker>;
}

/**
 * Works out `resume --retry-errors`: the first stage with error rows the selection picks, the chunks
 * and items to run again, and the later stages that consumed its table (reset and planned again).
 * Reads only: the caller prints what it means (stages, paid items) before applyRetryErrors writes.
 */
export async function planRetryErrors(
  store: ObjectStore, manifest: RunManifest, selection: RetrySelection, resolveStage?: StageResolver,
): Promise<RetryErrorsPlan> {
  const runId = manifest.runId;
  const stages = pipelineStages(manifest.config);
  const paid = (cfg: PipelineStage): boolean => {
    const def = resolveStage?.(cfg.stage);
    if (!def?.paidItems) return false;
    return def.paidItems(parseOrThrow(def.params, cfg.params, `params of stage ${cfg.name}`));
  };
  const result: RetryErrorsPlan = { chunks: [], wholeChunks: [], items: 0, replanned: [], replannedStages: [], leftAlone: {}, requests: [], markers: new Map() };
  const leaveAlone = (reason: string, n = 1) => {
    const c = errorClassOf(reason);
    result.leftAlone[c] = (result.leftAlone[c] ?? 0) + n;
  };
  for (const [position, s] of stages.entries()) {
    const plan = await readPlan(store, runId, s.name);
    if (!plan) break;
    const markers = await readDoneMarkers(store, runId, s.name, plan);
    const requests: RetryRequestPlan[] = [];
    for (const r of plan.ranges) {
      const marker = markers.get(r.index);
      if (!marker || marker.stats.errors === 0) continue;
      if (plan.kind === 'map' && marker.errorItems) {
        const items: string[] = [];
        for (const e of marker.errorItems) {
          if (selects(selection, e.reason)) items.push(e.key);
          else leaveAlone(e.reason);
        }
        if (items.length) requests.push({ index: r.index, items });
      } else {
        const errorReasons = Object.entries(marker.stats.reasons).filter(([k]) => k.startsWith('error:')).map(([k, n]) => [k.slice('error:'.length), n] as const);
        if (errorReasons.some(([reason]) => selects(selection, reason))) requests.push({ index: r.index });
        else for (const [reason, n] of errorReasons) leaveAlone(reason, n);
      }
    }
    if (!requests.length) continue;
    for (const later of stages.slice(position + 1)) {
      const laterPlan = await readPlan(store, runId, later.name);
      if (laterPlan || (await store.exists(replanKey(runId, later.name)))) {
        result.replanned.push(later.name);
        result.replannedStages.push({ stage: later.name, previousItems: laterPlan?.itemCount ?? 0, paid: paid(later) });
      }
    }
    for (const r of requests) {
      if (r.items) {
        result.chunks.push(r.index);
        result.items += r.items.length;
      } else {
        result.wholeChunks.push(r.index);
      }
    }
    result.stage = s.name;
    result.paid = paid(s);
    result.requests = requests;
    result.markers = markers;
    return result;
  }
  return result;
}

/**
 * Applies a retry plan: later stages are reset, then per chunk a retry request is written and only
 * then the chunk's marker removed, so the next run re-runs only those chunks, and only their failed
 * items. Applying the same plan again before the resume finishes finds the same work.
 */
export async function applyRetryErrors(store: ObjectStore, manifest: RunManifest, plan: RetryErrorsPlan, selection: RetrySelection): Promise<void> {
  if (!plan.stage) return;
  const runId = manifest.runId;
  for (const later of plan.replanned) await resetStage(store, runId, later);
  const layout = runLayout(runId).stage(plan.stage);
  await store.delete(layout.table);
  const reasons = selection.kind === 'named' ? [...selection.reasons] : [selection.kind];
  for (const r of plan.requests) {
    const request: RetryRequest = { reasons, previous: plan.markers.get(r.index)!, requestedAt: new Date().toISOString(), ...(r.items ? { items: r.items } : {}) };
    // The request first, the marker's removal second: the chunk is never pending without knowing what it keeps.
    await store.put(retryKey(runId, plan.stage, r.index), JSON.stringify(request));
    await store.delete(layout.done(r.index));
  }
}

/** planRetryErrors then applyRetryErrors, for callers with nothing to print in between. */
export async function prepareRetryErrors(
  store: ObjectStore, manifest: RunManifest, reasons: readonly string[], resolveStage?: StageResolver,
): Promise<RetryErrorsResult> {
  const selection = retrySelection(reasons);
  const plan = await planRetryErrors(store, manifest, selection, resolveStage);
  await applyRetryErrors(store, manifest, plan, selection);
  const { requests: _r, markers: _m, ...result } = plan;
  return result;
}
