import { emptyStats, runLayout, type ObjectStore, type StageStats } from '@finevideo/core';
import { checkStageName, nextAttempt, planStage, sealStageCounting, type EngineOptions, type StageOutcome } from './engine.js';
import type { Executor } from './executor.js';
import type { RunManifest } from './run-state.js';
import { duckdbThreadsFor, poolSlotsOf, runStreaming, type PoolSlots, type StreamStageState, type StreamingHooks, type WavePolicy } from './scheduler.js';

export interface PipelineRunOptions extends EngineOptions {
  executor: Executor;
  /** Worker environment added by the launcher (storage endpoint and the like). */
  workerEnv: Record<string, string>;
  /** Stop after this stage (inclusive). */
  untilStage?: string;
  /** Kubernetes: ready chunks are submitted in waves of Indexed Jobs. */
  waves?: WavePolicy;
}

/**
 * Runs (or resumes) a run: the one driver. The scheduler (scheduler.ts) plans, runs and seals every
 * stage; a stage that does not follow the one before it (stage by stage, a global stage) waits for
 * its table, so a pipeline without streaming runs stage after stage through the same loop. The
 * outcomes are per stage, up to the first stage left unfinished.
 */
export async function runPipeline(manifest: RunManifest, options: PipelineRunOptions): Promise<StageOutcome[]> {
  const { store, log, executor } = options;
  if (options.untilStage !== undefined) checkStageName(manifest.config, options.untilStage, '--until');
  const slots = poolSlotsOf(manifest.config);
  const configured = manifest.config.executor.kind === 'kubernetes' ? manifest.config.executor.waves : undefined;
  const waves = options.waves ?? configured ?? { minChunks: 16, maxWaitSeconds: 60 };
  const states = await runStreaming({
    manifest, store, log, resolveStage: options.resolveStage, executorKind: executor.kind, slots,
    ...(executor.kind !== 'local' ? { waves } : {}),
    ...(options.untilStage !== undefined ? { untilStage: options.untilStage } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    hooks: engineHooks(manifest, options, slots),
  });
  return outcomesOf(manifest.runId, states, options);
}

/** What the scheduler asks of the engine: attempts, whole-stage plans, seals and the executor. */
function engineHooks(manifest: RunManifest, options: PipelineRunOptions, slots: PoolSlots): StreamingHooks {
  const { store, executor } = options;
  const runId = manifest.runId;
  const local = executor.kind === 'local';
  // Each submission of a stage after its first is a new attempt on Kubernetes (new Job names).
  const submitted = new Map<string, number>();
  return {
    nextAttempt: (stageName) => nextAttempt(store, runId, stageName),
    planWhole: (s) => planStage(manifest, s.cfg, s.previous?.cfg, options),
    seal: (s) => sealCounted(store, runId, s),
    run: async (s, indexes, signal, onProgress) => {
      let attempt = s.attempt ?? (await nextAttempt(store, runId, s.cfg.name));
      if (!local && submitted.has(s.cfg.name)) attempt = s.attempt = await nextAttempt(store, runId, s.cfg.name);
      if (!submitted.has(s.cfg.name)) submitted.set(s.cfg.name, attempt);
      const concurrentSince = submitted.get(s.cfg.name)!;
      const env = local ? { FINEVIDEO_DUCKDB_THREADS: duckdbThreadsFor(slots.cpu + slots.gpu), ...options.workerEnv } : options.workerEnv;
      return executor.runStage({
        runId, storage: store.uri, stageName: s.cfg.name, stageType: s.cfg.stage, image: s.stage.image, resources: s.stage.resources,
        chunkCount: s.plan!.chunkCount, indexes, attempt, concurrentSince, env, ...(signal ? { signal } : {}), onProgress,
      });
    },
  };
}

/** Seals a finished stage; a streamed stage learns its item count only now, and records it in its plan. */
async function sealCounted(store: ObjectStore, runId: string, s: StreamStageState): Promise<{ stats: StageStats; failedItems: number }> {
  const sealed = await sealStageCounting(store, runId, s.cfg.name, s.plan!);
  if (s.plan!.follows && s.plan!.itemCount !== sealed.stats.items) {
    s.plan = { ...s.plan!, itemCount: sealed.stats.items };
    await store.put(runLayout(runId).stage(s.cfg.name).plan, JSON.stringify(s.plan));
  }
  return sealed;
}

/** The run's outcome per stage, up to the first stage left unfinished (cancelled or failed). */
function outcomesOf(runId: string, states: StreamStageState[], options: PipelineRunOptions): StageOutcome[] {
  const outcomes: StageOutcome[] = [];
  for (const s of states) {
    if (s.error) throw s.error;
    if (!s.plan) break;
    if (s.sealed) {
      outcomes.push({ stage: s.cfg.name, plan: s.plan, stats: s.sealed.stats, failed: [], failedItems: s.sealed.failedItems, tableKey: runLayout(runId).stage(s.cfg.name).table });
      continue;
    }
    const cancelled = options.signal?.aborted === true;
    outcomes.push({ stage: s.cfg.name, plan: s.plan, stats: emptyStats(), failed: failedOf(s), ...(cancelled ? { cancelled } : {}) });
    const left = s.plan.chunkCount - s.done.size;
    if (cancelled) options.log.warn(`stage ${s.cfg.name}: cancelled with ${left} of ${s.plan.chunkCount} chunks not done; run "finevideo resume" to finish them`);
    else options.log.error(`stage ${s.cfg.name}: ${left} of ${s.plan.chunkCount} chunks not done (${s.failed.size} failed); fix the cause and run "finevideo resume"`);
    break;
  }
  return outcomes;
}

function failedOf(s: StreamStageState): StageOutcome['failed'] {
  if (s.failed.size) return [...s.failed].filter(([index]) => !s.done.has(index)).sort((a, b) => a[0] - b[0]).map(([index, f]) => ({ index, ...f }));
  return s.plan!.ranges.filter((r) => !s.done.has(r.index)).map((r) => ({ index: r.index, reason: 'no completion marker' }));
}
