import type { ResourceClass } from '@finevideo/core';

/** What an executor needs to run some chunks of one stage. Executors never see a concrete stage. */
export interface StageRunRequest {
  runId: string;
  /** Storage root URI (passed to workers as FINEVIDEO_STORAGE). */
  storage: string;
  /** Stage instance name (FINEVIDEO_STAGE) and its stage type (selects the worker image/command). */
  stageName: string;
  stageType: string;
  image: string;
  resources: ResourceClass;
  /** Total chunks of the stage (never changes after planning). */
  chunkCount: number;
  /** The chunk indexes to run now (all of them, or those without a completion marker). */
  indexes: number[];
  /** Attempt number of this stage submission (1 for the first run, +1 per resume). */
  attempt: number;
  /**
   * Streaming waves: Jobs of this stage's attempts from this one on may run alongside (other chunks);
   * only earlier attempts' live Jobs are refused.
   */
  concurrentSince?: number;
  /** Extra worker environment (no secrets: those come by reference or from the launcher's environment). */
  env: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (progress: StageProgress) => void;
}

export interface StageProgress {
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  /** Chunk indexes (not Job indexes) that finished, for callers that track them. */
  lastSucceeded?: number;
  message?: string;
}

export interface StageRunResult {
  succeeded: number[];
  failed: { index: number; reason: string; logTail?: string }[];
}

export interface Executor {
  readonly kind: string;
  runStage(request: StageRunRequest): Promise<StageRunResult>;
}
