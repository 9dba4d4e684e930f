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
 * stages (and whole-planned stages) wait for their previous stage's seal, so a pipeline without
 * streaming runs stage after stage. Resume: done chunks keep their markers; planned units keep their
 * chunk files; the rest is planned again the same way.
 */
export async function runStreaming(options: StreamingOptions): Promise<StreamStageState[]> {
  return new StreamingRun(options).run();
}

/** One run of the scheduler: the stages' states, the pools' free slots, and the loop that wakes on each change. */
class StreamingRun {
  private readonly store: StreamingOptions['store'];
  private readonly runId: string;
  private readonly all: PipelineStage[];
  readonly states: StreamStageState[] = [];
  private readonly free: PoolSlots;
  private readonly planningLimit: number;
  private planning = 0;
  private inFlight = 0;
  private wake: () => void = () => undefined;
  private woken = false;
  private waveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StreamingOptions) {
    this.store = options.store;
    this.runId = options.manifest.runId;
    this.all = pipelineStages(options.manifest.config);
    const until = options.untilStage !== undefined ? this.all.findIndex((s) => s.name === options.untilStage) : this.all.length - 1;
    const follows = followingStages(options.manifest.config, options.resolveStage);
    for (const [i, cfg] of this.all.slice(0, until + 1).entries()) {
      const stage = options.resolveStage(cfg.stage);
      this.states.push({
        cfg, stage, pool: poolOf(stage), done: new Set(), plannedUnits: new Set(), planningUnits: new Set(), candidateUnits: new Set(),
        waitingForSeal: new Map(), ready: [], readyHead: 0, running: 0, failed: new Map(), total: 0, succeeded: 0,
        ...(i > 0 ? { previous: this.states[i - 1]! } : {}),
        ...(follows[i] ? { upstream: this.states[i - 1]! } : {}),
      });
    }
    this.free = { ...options.slots };
    this.planningLimit = options.planningConcurrency ?? 2;
  }

  async run(): Promise<StreamStageState[]> {
    try {
      for (;;) {
        if (!this.aborted()) {
          while (await this.advance()) {
            // Planning may unlock more planning (a stage planned up front makes its followers plannable).
          }
          this.dispatch();
        }
        if (this.inFlight === 0) {
          if (!this.aborted() && (await this.advance())) continue;
          break;
        }
        if (!this.woken) await new Promise<void>((resolve) => (this.wake = resolve));
        this.woken = false;
        this.wake = () => undefined;
      }
    } finally {
      if (this.waveTimer) clearTimeout(this.waveTimer);
    }
    await this.recordFailures();
    return this.states;
  }

  /** What the stages that ran this time left failed, for status (pending chunks are not failed). */
  private async recordFailures(): Promise<void> {
    for (const s of this.states) {
      if (!s.failed.size || this.aborted()) continue;
      const record: FailedChunks = { attempt: s.attempt ?? 0, failed: [...s.failed].filter(([c]) => !s.done.has(c)).map(([index, f]) => ({ index, reason: f.reason })) };
      await this.store.put(failedKey(this.runId, s.cfg.name), JSON.stringify(record, null, 2));
    }
  }

  private notify(): void {
    this.woken = true;
    this.wake();
  }

  private report(s: StreamStageState): void {
    this.options.onProgress?.(s.cfg.name, { total: s.total, succeeded: s.succeeded, failed: s.failed.size, running: s.running, ...(s.message ? { message: s.message } : {}) });
  }

  private aborted(): boolean {
    return this.options.signal?.aborted === true;
  }

  private layoutOf(s: StreamStageState) {
    return runLayout(this.runId).stage(s.cfg.name);
  }

  private markReady(s: StreamStageState, index: number): void {
    if (s.done.has(index)) return;
    if (s.readyHead === s.ready.length) s.readySince = Date.now();
    s.ready.push(index);
  }

  /** Starts a stage's run once it is planned: markers read, attempt number taken, work queued. */
  private async adoptPlan(s: StreamStageState, plan: StagePlan): Promise<void> {
    s.plan = plan;
    s.done = new Set((await readDoneMarkers(this.store, this.runId, s.cfg.name, plan)).keys());
    s.total = plan.chunkCount - s.done.size;
    if (plan.follows) await this.queuePlannedUnits(s, plan);
    else for (const r of plan.ranges) this.markReady(s, r.index);
    if (s.total > 0) {
      s.attempt = await this.options.hooks.nextAttempt(s.cfg.name);
      await this.store.delete(failedKey(this.runId, s.cfg.name));
      this.options.log.info(`stage ${s.cfg.name}: ${plan.follows ? `streaming from ${plan.follows.stage},` : `${plan.itemCount} items in`} ${plan.chunkCount} chunks, ${s.total} to run (attempt ${s.attempt})`);
    } else {
      this.options.log.info(`stage ${s.cfg.name}: all ${plan.chunkCount} chunks already done`);
    }
    this.report(s);
  }

  /** A following stage's units whose chunk files all exist are planned (puts are whole or absent); the rest wait for their upstream chunks. */
  private async queuePlannedUnits(s: StreamStageState, plan: StagePlan): Promise<void> {
    const files = new Set<number>();
    for await (const { key } of this.store.list(this.layoutOf(s).chunksPrefix)) {
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
        for (let c = a; c < b; c++) this.markReady(s, c);
      } else {
        s.candidateUnits.add(u);
      }
    }
  }

  /** The plan context of one unit of a following stage: its upstream chunks' kept rows, and earlier tables once sealed. */
  private unitContext(s: StreamStageState, markers: ChunkMarker[]): PlanContext<unknown> {
    const { store, runId } = this;
    const stage = s.stage as MapStage;
    const params = parseOrThrow(stage.params, s.cfg.params, `params of stage ${s.cfg.name}`);
    const earlier = this.all.slice(0, this.all.indexOf(s.cfg)).map((x) => x.name);
    return {
      params, runId, stageName: s.cfg.name, store, log: this.options.log, hasPrevious: true,
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
  }

  /** Lists one unit of a following stage from its upstream chunks' kept rows and writes its chunk files. */
  private async planUnit(s: StreamStageState, unit: number): Promise<readonly [number, number]> {
    const units = followUnits(s.plan!);
    const [from, to] = units.upstreamOf(unit);
    const upstream = s.upstream!;
    const markers: ChunkMarker[] = [];
    for (let u = from; u < to; u++) {
      const m = await readJsonObject<ChunkMarker>(this.store, this.layoutOf(upstream).done(u));
      if (!m) throw new Error(`stage ${s.cfg.name}: expected upstream chunk ${u} of ${upstream.cfg.name} done, got no marker`);
      markers.push(m);
    }
    const lines: string[] = [];
    for await (const item of (s.stage as MapStage).listItems(this.unitContext(s, markers))) lines.push(`${JSON.stringify(item)}\n`);
    const [first, end] = units.chunksOf(unit);
    const pieces = end - first;
    // Shares of one upstream chunk: contiguous, sizes differing by at most one (some may be empty).
    await Promise.all(Array.from({ length: pieces }, (_, j) => {
      const a = Math.floor((j * lines.length) / pieces);
      const b = Math.floor(((j + 1) * lines.length) / pieces);
      return this.store.put(this.layoutOf(s).chunk(first + j), lines.slice(a, b).join(''));
    }));
    return [first, end] as const;
  }

  private startUnitPlanning(s: StreamStageState, unit: number): void {
    s.planningUnits.add(unit);
    this.planning++;
    this.inFlight++;
    void this.planUnit(s, unit).then(([first, end]) => {
      s.plannedUnits.add(unit);
      for (let c = first; c < end; c++) this.markReady(s, c);
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
      this.planning--;
      this.inFlight--;
      this.notify();
    });
  }

  /** The most rows any of the first few finished chunks of a stage kept. */
  private async keptPerChunkSeen(s: StreamStageState): Promise<number> {
    let most = 0;
    for (const index of [...s.done].slice(0, 8)) {
      const marker = await readJsonObject<ChunkMarker>(this.store, this.layoutOf(s).done(index));
      most = Math.max(most, marker?.stats.kept ?? 0);
    }
    return Math.max(1, most);
  }

  private upstreamDone(s: StreamStageState, unit: number): boolean {
    const [a, b] = followUnits(s.plan!).upstreamOf(unit);
    for (let u = a; u < b; u++) if (!s.upstream!.done.has(u)) return false;
    return true;
  }

  /** Plans a stage once it can be: a plan on record, a following plan once its upstream has a chunk done, or whole once the previous table is sealed. */
  private async planIfReady(s: StreamStageState): Promise<boolean> {
    const { store, runId } = this;
    if (await store.exists(replanKey(runId, s.cfg.name))) await resetStage(store, runId, s.cfg.name);
    const existing = await readJsonObject<StagePlan>(store, this.layoutOf(s).plan);
    // The plan decides, not today's config: a stage planned streaming goes on streaming, and the other way round.
    if (existing?.follows && !s.upstream && s.previous) s.upstream = s.previous;
    if (existing && (!existing.follows || s.upstream?.plan)) {
      await this.adoptPlan(s, existing);
    } else if (s.upstream?.plan && s.upstream.done.size > 0) {
      const plan = followPlan(s.cfg, s.stage as MapStage, s.upstream.plan, await this.keptPerChunkSeen(s.upstream));
      await store.put(this.layoutOf(s).plan, JSON.stringify(plan));
      await this.adoptPlan(s, plan);
    } else if (!s.upstream && (!s.previous || s.previous.sealed)) {
      await this.adoptPlan(s, await this.options.hooks.planWhole(s));
    } else {
      return false;
    }
    return true;
  }

  /** Seals a stage whose chunks are all done; units of other stages that read its whole table may go on. */
  private async seal(s: StreamStageState): Promise<void> {
    s.sealed = await this.options.hooks.seal(s);
    for (const other of this.states) {
      const waiting = other.waitingForSeal.get(s.cfg.name);
      if (!waiting) continue;
      other.waitingForSeal.delete(s.cfg.name);
      for (const unit of waiting) other.candidateUnits.add(unit);
    }
  }

  /** Plans what can be planned and seals what is finished; returns whether anything changed. */
  private async advance(): Promise<boolean> {
    let changed = false;
    for (const s of this.states) {
      if (s.error) continue;
      if (!s.plan) {
        try {
          if (!(await this.planIfReady(s))) continue;
          changed = true;
        } catch (error) {
          s.error = error as Error;
          continue;
        }
      }
      if (s.plan?.follows && s.upstream) {
        for (const unit of s.candidateUnits) {
          if (this.planning >= this.planningLimit) break;
          if (s.plannedUnits.has(unit) || s.planningUnits.has(unit) || !this.upstreamDone(s, unit)) continue;
          s.candidateUnits.delete(unit);
          this.startUnitPlanning(s, unit);
          changed = true;
        }
      }
      if (s.plan && !s.sealed && s.done.size === s.plan.chunkCount && s.running === 0) {
        await this.seal(s);
        changed = true;
      }
    }
    return changed;
  }

  /** Whether a stage can still get more ready chunks (for waves: otherwise send what is ready). */
  private moreMayCome(s: StreamStageState): boolean {
    return s.plan?.follows !== undefined && s.plannedUnits.size < followUnits(s.plan).count;
  }

  /** The next chunks of a stage to submit: one (free slots), or a wave once it is big or old enough; undefined: wait. */
  private nextBatch(s: StreamStageState): number[] | undefined {
    const waves = this.options.waves;
    if (!waves) return [s.ready[s.readyHead++]!];
    const waiting = s.ready.length - s.readyHead;
    const waitedMs = Date.now() - (s.readySince ?? Date.now());
    if (waiting < waves.minChunks && waitedMs < waves.maxWaitSeconds * 1000 && this.moreMayCome(s)) {
      this.waveTimer ??= setTimeout(() => {
        this.waveTimer = undefined;
        this.notify();
      }, Math.max(10, waves.maxWaitSeconds * 1000 - waitedMs));
      return undefined;
    }
    const batch = s.ready.slice(s.readyHead);
    s.readyHead = s.ready.length;
    return batch;
  }

  private dispatch(): void {
    // Downstream first: a finished chunk reaches the end of the pipeline sooner.
    for (let i = this.states.length - 1; i >= 0; i--) {
      const s = this.states[i]!;
      while (s.readyHead < s.ready.length && this.free[s.pool] > 0) {
        let batch = this.nextBatch(s);
        if (!batch) break;
        // The queue is compacted now and then, so a long run does not keep every index it ran.
        if (s.readyHead > 1024 && s.readyHead * 2 > s.ready.length) {
          s.ready = s.ready.slice(s.readyHead);
          s.readyHead = 0;
        }
        batch = batch.filter((c) => !s.done.has(c));
        if (!batch.length) continue;
        s.readySince = s.readyHead < s.ready.length ? Date.now() : undefined;
        this.startChunks(s, batch);
      }
    }
  }

  private startChunks(s: StreamStageState, indexes: number[]): void {
    this.free[s.pool]--;
    s.running += indexes.length;
    this.inFlight++;
    this.report(s);
    void this.options.hooks.run(s, indexes, this.options.signal, (p) => {
      if (p.message && p.message !== s.message) {
        s.message = p.message;
        this.report(s);
      }
    }).then((result) => {
      for (const c of result.succeeded) {
        s.done.add(c);
        s.succeeded++;
        for (const down of this.states) if (down.upstream === s && down.plan?.follows) down.candidateUnits.add(unitOfUpstream(down.plan, c));
      }
      for (const f of result.failed) s.failed.set(f.index, { reason: f.reason, ...(f.logTail !== undefined ? { logTail: f.logTail } : {}) });
    }, (error: unknown) => {
      for (const c of indexes) s.failed.set(c, { reason: (error as Error).message });
    }).finally(() => {
      s.running -= indexes.length;
      this.free[s.pool]++;
      this.inFlight--;
      this.report(s);
      this.notify();
    });
  }
}

/** DuckDB threads per worker when `slots` chunks run at once on this machine. */
export function duckdbThreadsFor(slots: number): string {
  return String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, slots))));
}

export const emptyStreamStats = emptyStats;
