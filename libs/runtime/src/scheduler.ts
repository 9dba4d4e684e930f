import { availableParallelism } from 'node:os';
import {
  ConfigError, emptyStats, pipelineStages, parseOrThrow, runLayout,
  type AnyStage, type MapStage, type PipelineConfig, type PipelineStage, type PlanContext, type Row, type StageStats,
} from '@finevideo/core';
import { readParquetRows } from '@finevideo/storage';
import { resetStage } from './engine.js';
import type { Executor, StageProgress } from './executor.js';
import { keptRows } from './table.js';
import {
  failedKey, readDoneMarkers, readJsonObject, replanKey,
  type ChunkMarker, type FailedChunks, type RunManifest, type StagePlan,
} from './run-state.js';

/** Chunks running at once per pool in a streaming run (the local executor's budget). */
export interface PoolSlots {
  cpu: number;
  gpu: number;
  /** Network-bound stages (download): may oversubscribe the CPUs. */
  network: number;
}

export type PoolName = keyof PoolSlots;

/** How ready chunks go to an executor: one at a time into free slots, or in waves (Kubernetes Jobs). */
export interface WavePolicy {
  /** A wave waits until this many chunks of a stage are ready... */
  minChunks: number;
  /** ...or its oldest ready chunk waited this long, or no more chunks can come. */
  maxWaitSeconds: number;
}

/** The pool whose slots a stage's chunks take. */
export function poolOf(stage: AnyStage): PoolName {
  if (stage.resources.class === 'network') return 'network';
  return stage.resources.pool;
}

/** Slots from a pipeline's executor settings (streaming runs); Kubernetes leaves the budget to the cluster. */
export function poolSlotsOf(config: PipelineConfig): PoolSlots {
  const executor = config.executor;
  if (executor.kind !== 'local') return { cpu: Number.MAX_SAFE_INTEGER, gpu: Number.MAX_SAFE_INTEGER, network: Number.MAX_SAFE_INTEGER };
  return {
    cpu: executor.slots?.cpu ?? executor.parallelism,
    gpu: executor.slots?.gpu ?? 1,
    network: executor.slots?.network ?? executor.parallelism * 2,
  };
}

/**
 * Whether each stage of a pipeline follows (streams from) the stage before it: a map stage after a
 * map stage, with `follow` or the pipeline's `streaming`. A global stage, and the stage after it, are barriers.
 */
export function followingStages(config: PipelineConfig, resolveStage: (type: string) => AnyStage): boolean[] {
  const stages = pipelineStages(config);
  return stages.map((s, i) => {
    if (i === 0) return false;
    const wanted = s.follow ?? config.streaming ?? false;
    return wanted && resolveStage(s.stage).kind === 'map' && resolveStage(stages[i - 1]!.stage).kind === 'map';
  });
}

/** Thrown while planning a streamed chunk whose stage reads a whole earlier table that is not sealed yet. */
export class StageNotSealedError extends Error {
  constructor(readonly stageName: string) {
    super(`stage ${stageName}: not sealed yet`);
  }
}

/**
 * The plan of a following stage, made as soon as its upstream stage has a finished chunk: chunks are
 * groups of upstream chunks (or shares of one) sized to about the stage's items per chunk, from the
 * rows the upstream's first finished chunks kept. Recorded in plan.json, so a resume keeps it.
 */
export function followPlan(stageCfg: PipelineStage, stage: MapStage, upstream: StagePlan, keptPerChunk?: number): StagePlan {
  // Rows an upstream chunk keeps, as seen in its first finished chunks; else what it was planned with
  // (a bulk stage such as ytcommons lists shards, not rows, so its plan says little).
  const upstreamPerChunk = keptPerChunk ?? (upstream.follows ? upstream.follows.itemsPerChunk : upstream.itemCount / Math.max(1, upstream.chunkCount));
  const n = upstream.chunkCount;
  let itemsPerChunk = stageCfg.itemsPerChunk ?? stage.defaultItemsPerChunk;
  // A fixed chunk count asks for about that many chunks.
  if (stageCfg.chunks !== undefined) itemsPerChunk = Math.max(1, Math.ceil((upstreamPerChunk * n) / stageCfg.chunks));
  const split = upstreamPerChunk > itemsPerChunk ? Math.ceil(upstreamPerChunk / itemsPerChunk) : 1;
  const group = split > 1 ? 1 : Math.max(1, Math.min(n, upstreamPerChunk > 0 ? Math.floor(itemsPerChunk / upstreamPerChunk) : n));
  const chunkCount = split > 1 ? n * split : Math.ceil(n / group);
  const ranges = Array.from({ length: chunkCount }, (_, index) => {
    const start = split > 1 ? Math.floor(index / split) : index * group;
    return { index, start, end: split > 1 ? start + 1 : Math.min(n, start + group) };
  });
  return {
    stage: stageCfg.name, type: stageCfg.stage, kind: 'map', itemCount: 0, chunkCount, ranges, plannedAt: new Date().toISOString(),
    follows: { stage: upstream.stage, group, split, itemsPerChunk: Math.min(itemsPerChunk, Math.max(1, Math.ceil(upstreamPerChunk * group))) },
  };
}

/** Planning units of a following stage: unit u lists upstream chunks [from, to) and writes chunks [first, first + count). */
export function followUnits(plan: StagePlan): { count: number; unitOf: (chunk: number) => number; upstreamOf: (unit: number) => [number, number]; chunksOf: (unit: number) => [number, number] } {
  const f = plan.follows!;
  const split = f.split;
  const count = split > 1 ? plan.chunkCount / split : plan.chunkCount;
  return {
    count,
    unitOf: (chunk) => (split > 1 ? Math.floor(chunk / split) : chunk),
    upstreamOf: (unit) => {
      const r = plan.ranges[split > 1 ? unit * split : unit]!;
      return [r.start, r.end];
    },
    chunksOf: (unit) => (split > 1 ? [unit * split, unit * split + split] : [unit, unit + 1]),
  };
}

/** The unit of a follower that upstream chunk `u` feeds. */
function unitOfUpstream(plan: StagePlan, upstreamChunk: number): number {
  const f = plan.follows!;
  return f.split > 1 ? upstreamChunk : Math.floor(upstreamChunk / f.group);
}

/** Kept rows of some finished chunks of a stage, chunk by chunk, part by part. */
async function* keptRowsOfChunks(store: PlanContext<unknown>['store'], markers: ChunkMarker[], columns?: readonly string[]): AsyncIterable<Row> {
  for (const m of markers) {
    for (const key of m.parts) yield* readParquetRows(store, key, { where: `status = 'kept'`, ...(columns ? { columns: [...columns] } : {}) });
  }
}

export interface StreamingHooks {
  /** Runs a chunk list of a stage (the engine's executor call, with attempts and environment). */
  run(stage: StreamStageState, indexes: number[], signal: AbortSignal | undefined, onProgress: (p: StageProgress) => void): Promise<{ succeeded: number[]; failed: { index: number; reason: string; logTail?: string }[] }>;
  /** Plans a stage the ordinary way (all items listed at once). */
  planWhole(stage: StreamStageState): Promise<StagePlan>;
  /** Seals a stage whose chunks are all done. */
  seal(stage: StreamStageState): Promise<{ stats: StageStats; failedItems: number }>;
  /** The next attempt number of a stage (each submission gets one). */
  nextAttempt(stageName: string): Promise<number>;
}

/** What the scheduler knows of one stage while a streaming run goes on. */
export interface StreamStageState {
  cfg: PipelineStage;
  stage: AnyStage;
  pool: PoolName;
  /** The stage before, when this one follows it. */
  upstream?: StreamStageState;
  previous?: StreamStageState;
  plan?: StagePlan;
  done: Set<number>;
  /** Following stage: units whose chunk files are written. */
  plannedUnits: Set<number>;
  planningUnits: Set<number>;
  /** Units to look at again (an upstream chunk finished). */
  candidateUnits: Set<number>;
  /** Units waiting for an earlier stage's seal (they read its whole table). */
  waitingForSeal: Map<string, Set<number>>;
  ready: number[];
  readyHead: number;
  /** When the oldest ready chunk became ready (waves). */
  readySince?: number;
  running: number;
  failed: Map<number, { reason: string; logTail?: string }>;
  attempt?: number;
  /** Chunks to run in this invocation (done ones excluded), for progress. */
  total: number;
  succeeded: number;
  message?: string;
  sealed?: { stats: StageStats; failedItems: number };
  /** A planning error (not a chunk failure): the stage cannot go on. */
  error?: Error;
}

export interface StreamingOptions {
  manifest: RunManifest;
  store: PlanContext<unknown>['store'];
  log: PlanContext<unknown>['log'];
  resolveStage: (type: string) => AnyStage;
  executorKind: Executor['kind'];
  slots: PoolSlots;
  /** Kubernetes: ready chunks go in waves; absent: one chunk per free slot. */
  waves?: WavePolicy;
  untilStage?: string;
  signal?: AbortSignal;
  onProgress?: (stage: string, progress: StageProgress) => void;
  hooks: StreamingHooks;
  /** Plans of following stages' units at once (launcher work: reading upstream parts). */
  planningConcurrency?: number;
}

/**
 * Runs the stages of a run together: map stages that follow their upstream get chunks planned as
 * upstream chunks finish; every ready chunk of every stage competes for its pool's slots, the most
 * downstream stage first (finished work reaches the end sooner and less waits in storage). Global
 * stages (and whole-planned stages) wait for their previous stage's seal. Resume: done chunks keep
 * their markers; planned units keep their chunk files; the rest is planned again the same way.
 */
export async function runStreaming(options: StreamingOptions): Promise<StreamStageState[]> {
  const { manifest, store, log, hooks } = options;
  const runId = manifest.runId;
  const all = pipelineStages(manifest.config);
  const until = options.untilStage !== undefined ? all.findIndex((s) => s.name === options.untilStage) : all.length - 1;
  const follows = followingStages(manifest.config, options.resolveStage);
  const states: StreamStageState[] = [];
  for (const [i, cfg] of all.slice(0, until + 1).entries()) {
    const stage = options.resolveStage(cfg.stage);
    const state: StreamStageState = {
      cfg, stage, pool: poolOf(stage), done: new Set(), plannedUnits: new Set(), planningUnits: new Set(), candidateUnits: new Set(),
      waitingForSeal: new Map(), ready: [], readyHead: 0, running: 0, failed: new Map(), total: 0, succeeded: 0,
      ...(i > 0 ? { previous: states[i - 1]! } : {}),
      ...(follows[i] ? { upstream: states[i - 1]! } : {}),
    };
    states.push(state);
  }
  const free: PoolSlots = { ...options.slots };
  const planningLimit = options.planningConcurrency ?? 2;
  let planning = 0;
  let inFlight = 0;
  let wake: () => void = () => undefined;
  let woken = false;
  const notify = () => {
    woken = true;
    wake();
  };
  const report = (s: StreamStageState) =>
    options.onProgress?.(s.cfg.name, { total: s.total, succeeded: s.succeeded, failed: s.failed.size, running: s.running, ...(s.message ? { message: s.message } : {}) });
  const aborted = () => options.signal?.aborted === true;
  const layoutOf = (s: StreamStageState) => runLayout(runId).stage(s.cfg.name);

  const markReady = (s: StreamStageState, index: number) => {
    if (s.done.has(index)) return;
    if (s.readyHead === s.ready.length) s.readySince = Date.now();
    s.ready.push(index);
  };

  /** Starts a stage's run once it is planned: markers read, attempt number taken, work queued. */
  const adoptPlan = async (s: StreamStageState, plan: StagePlan) => {
    s.plan = plan;
    s.done = new Set((await readDoneMarkers(store, runId, s.cfg.name, plan)).keys());
    s.total = plan.chunkCount - s.done.size;
    if (plan.follows) {
      // Units whose chunk files all exist are planned (puts are whole or absent); the rest wait for their upstream chunks.
      const files = new Set<number>();
      for await (const { key } of store.list(layoutOf(s).chunksPrefix)) {
        const m = /(\d+)\.jsonl$/.exec(key);
        if (m) files.add(Number(m[1]));
      }
      const units = followUnits(plan);
      for (let u = 0; u < units.count; u++) {
        const [a, b] = units.chunksOf(u);
        let whole = true;
        for (let c = a; c < b; c++) if (!files.has(c) && !s.done.has(c)) whole = false;
        if (whole) {
          s.plannedUnits.add(u);
          for (let c = a; c < b; c++) markReady(s, c);
        } else {
          s.candidateUnits.add(u);
        }
      }
    } else {
      for (const r of plan.ranges) markReady(s, r.index);
    }
    if (s.total > 0) {
      s.attempt = await hooks.nextAttempt(s.cfg.name);
      await store.delete(failedKey(runId, s.cfg.name));
      log.info(`stage ${s.cfg.name}: ${plan.follows ? `streaming from ${plan.follows.stage},` : `${plan.itemCount} items in`} ${plan.chunkCount} chunks, ${s.total} to run (attempt ${s.attempt})`);
    } else {
      log.info(`stage ${s.cfg.name}: all ${plan.chunkCount} chunks already done`);
    }
    report(s);
  };

  /** Lists one unit of a following stage from its upstream chunks' kept rows and writes its chunk files. */
  const planUnit = async (s: StreamStageState, unit: number) => {
    const plan = s.plan!;
    const units = followUnits(plan);
    const [from, to] = units.upstreamOf(unit);
    const upstream = s.upstream!;
    const upstreamLayout = layoutOf(upstream);
    const markers: ChunkMarker[] = [];
    for (let u = from; u < to; u++) {
      const m = await readJsonObject<ChunkMarker>(store, upstreamLayout.done(u));
      if (!m) throw new Error(`stage ${s.cfg.name}: expected upstream chunk ${u} of ${upstream.cfg.name} done, got no marker`);
      markers.push(m);
    }
    const stage = s.stage as MapStage;
    const params = parseOrThrow(stage.params, s.cfg.params, `params of stage ${s.cfg.name}`);
    const earlier = all.slice(0, all.indexOf(s.cfg)).map((x) => x.name);
    const ctx: PlanContext<unknown> = {
      params, runId, stageName: s.cfg.name, store, log, hasPrevious: true,
      previousRows: () => keptRowsOfChunks(store, markers, stage.inputColumns),
      stageRows: (name) => {
        if (!earlier.includes(name)) {
          throw new ConfigError(`stage ${s.cfg.name}: expected an earlier stage name to read, got ${JSON.stringify(name)} (earlier: ${earlier.join(', ') || 'none'})`);
        }
        return (async function* () {
          if (!(await store.exists(runLayout(runId).stage(name).table))) throw new StageNotSealedError(name);
          yield* keptRows(store, runId, name);
        })();
      },
    };
    const lines: string[] = [];
    for await (const item of stage.listItems(ctx)) lines.push(`${JSON.stringify(item)}\n`);
    const [first, end] = units.chunksOf(unit);
    const pieces = end - first;
    // Shares of one upstream chunk: contiguous, sizes differing by at most one (some may be empty).
    await Promise.all(Array.from({ length: pieces }, (_, j) => {
      const a = Math.floor((j * lines.length) / pieces);
      const b = Math.floor(((j + 1) * lines.length) / pieces);
      return store.put(layoutOf(s).chunk(first + j), lines.slice(a, b).join(''));
    }));
    return [first, end] as const;
  };

  const startUnitPlanning = (s: StreamStageState, unit: number) => {
    s.planningUnits.add(unit);
    planning++;
    inFlight++;
    void planUnit(s, unit).then(([first, end]) => {
      s.plannedUnits.add(unit);
      for (let c = first; c < end; c++) markReady(s, c);
    }, (error: unknown) => {
      if (error instanceof StageNotSealedError) {
        const waiting = s.waitingForSeal.get(error.stageName) ?? new Set<number>();
        waiting.add(unit);
        s.waitingForSeal.set(error.stageName, waiting);
      } else {
        s.error ??= error as Error;
      }
    }).finally(() => {
      s.planningUnits.delete(unit);
      planning--;
      inFlight--;
      notify();
    });
  };

  /** The most rows any of the first few finished chunks of a stage kept. */
  const keptPerChunkSeen = async (s: StreamStageState): Promise<number> => {
    let most = 0;
    for (const index of [...s.done].slice(0, 8)) {
      const marker = await readJsonObject<ChunkMarker>(store, layoutOf(s).done(index));
      most = Math.max(most, marker?.stats.kept ?? 0);
    }
    return Math.max(1, most);
  };

  const upstreamDone = (s: StreamStageState, unit: number) => {
    const [a, b] = followUnits(s.plan!).upstreamOf(unit);
    for (let u = a; u < b; u++) if (!s.upstream!.done.has(u)) return false;
    return true;
  };

  /** Plans what can be planned and seals what is finished; returns whether anything changed. */
  const advance = async (): Promise<boolean> => {
    let changed = false;
    for (const s of states) {
      if (s.error) continue;
      if (!s.plan) {
        try {
          if (await store.exists(replanKey(runId, s.cfg.name))) await resetStage(store, runId, s.cfg.name);
          const existing = await readJsonObject<StagePlan>(store, layoutOf(s).plan);
          // The plan decides, not today's config: a stage planned streaming goes on streaming, and the other way round.
          if (existing?.follows && !s.upstream && s.previous) s.upstream = s.previous;
          if (existing && (!existing.follows || s.upstream?.plan)) {
            await adoptPlan(s, existing);
          } else if (s.upstream?.plan && s.upstream.done.size > 0) {
            const plan = followPlan(s.cfg, s.stage as MapStage, s.upstream.plan, await keptPerChunkSeen(s.upstream));
            await store.put(layoutOf(s).plan, JSON.stringify(plan, null, 2));
            await adoptPlan(s, plan);
          } else if (!s.upstream && (!s.previous || s.previous.sealed)) {
            await adoptPlan(s, await hooks.planWhole(s));
          } else {
            continue;
          }
          changed = true;
        } catch (error) {
          s.error = error as Error;
          continue;
        }
      }
      if (s.plan?.follows && s.upstream) {
        for (const unit of s.candidateUnits) {
          if (planning >= planningLimit) break;
          if (s.plannedUnits.has(unit) || s.planningUnits.has(unit) || !upstreamDone(s, unit)) continue;
          s.candidateUnits.delete(unit);
          startUnitPlanning(s, unit);
          changed = true;
        }
      }
      if (s.plan && !s.sealed && s.done.size === s.plan.chunkCount && s.running === 0) {
        s.sealed = await hooks.seal(s);
        changed = true;
        // Units that read this stage's whole table may go on.
        for (const other of states) {
          const waiting = other.waitingForSeal.get(s.cfg.name);
          if (!waiting) continue;
          other.waitingForSeal.delete(s.cfg.name);
          for (const unit of waiting) other.candidateUnits.add(unit);
        }
      }
    }
    return changed;
  };

  /** Whether a stage can still get more ready chunks (for waves: otherwise send what is ready). */
  const moreMayCome = (s: StreamStageState) => s.plan?.follows !== undefined && s.plannedUnits.size < followUnits(s.plan).count;

  let waveTimer: NodeJS.Timeout | undefined;
  const dispatch = () => {
    // Downstream first: a finished chunk reaches the end of the pipeline sooner.
    for (let i = states.length - 1; i >= 0; i--) {
      const s = states[i]!;
      while (s.readyHead < s.ready.length && free[s.pool] > 0) {
        let batch: number[];
        if (options.waves) {
          const waiting = s.ready.length - s.readyHead;
          const waitedMs = Date.now() - (s.readySince ?? Date.now());
          if (waiting < options.waves.minChunks && waitedMs < options.waves.maxWaitSeconds * 1000 && moreMayCome(s)) {
            waveTimer ??= setTimeout(() => {
              waveTimer = undefined;
              notify();
            }, Math.max(10, options.waves.maxWaitSeconds * 1000 - waitedMs));
            break;
          }
          batch = s.ready.slice(s.readyHead);
          s.readyHead = s.ready.length;
        } else {
          batch = [s.ready[s.readyHead++]!];
        }
        // The queue is compacted now and then, so a long run does not keep every index it ran.
        if (s.readyHead > 1024 && s.readyHead * 2 > s.ready.length) {
          s.ready = s.ready.slice(s.readyHead);
          s.readyHead = 0;
        }
        batch = batch.filter((c) => !s.done.has(c));
        if (!batch.length) continue;
        s.readySince = s.readyHead < s.ready.length ? Date.now() : undefined;
        startChunks(s, batch);
      }
    }
  };

  const startChunks = (s: StreamStageState, indexes: number[]) => {
    free[s.pool]--;
    s.running += indexes.length;
    inFlight++;
    report(s);
    void hooks.run(s, indexes, options.signal, (p) => {
      if (p.message && p.message !== s.message) {
        s.message = p.message;
        report(s);
      }
    }).then((result) => {
      for (const c of result.succeeded) {
        s.done.add(c);
        s.succeeded++;
        for (const down of states) if (down.upstream === s && down.plan?.follows) down.candidateUnits.add(unitOfUpstream(down.plan, c));
      }
      for (const f of result.failed) s.failed.set(f.index, { reason: f.reason, ...(f.logTail !== undefined ? { logTail: f.logTail } : {}) });
    }, (error: unknown) => {
      for (const c of indexes) s.failed.set(c, { reason: (error as Error).message });
    }).finally(() => {
      s.running -= indexes.length;
      free[s.pool]++;
      inFlight--;
      report(s);
      notify();
    });
  };

  try {
    for (;;) {
      if (!aborted()) {
        while (await advance()) {
          // Planning may unlock more planning (a stage planned up front makes its followers plannable).
        }
        dispatch();
      }
      if (inFlight === 0) {
        if (!aborted() && (await advance())) continue;
        break;
      }
      if (!woken) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      woken = false;
      wake = () => undefined;
    }
  } finally {
    if (waveTimer) clearTimeout(waveTimer);
  }
  // What the stages that ran this time left failed, for status (pending chunks are not failed).
  for (const s of states) {
    if (!s.failed.size || aborted()) continue;
    const record: FailedChunks = { attempt: s.attempt ?? 0, failed: [...s.failed].filter(([c]) => !s.done.has(c)).map(([index, f]) => ({ index, reason: f.reason })) };
    await store.put(failedKey(runId, s.cfg.name), JSON.stringify(record, null, 2));
  }
  return states;
}

/** DuckDB threads per worker when `slots` chunks run at once on this machine. */
export function duckdbThreadsFor(slots: number): string {
  return String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, slots))));
}

export const emptyStreamStats = emptyStats;
