import type { z } from 'zod';
import type { ObjectStore } from './store.js';

/** What a stage's worker needs from the machine; executors map it to processes or pods. */
export interface ResourceClass {
  /** Node pool: plain CPU nodes or the GPU pool. */
  pool: 'cpu' | 'gpu';
  cpu: string;
  memory: string;
  gpu?: number;
  /**
   * 'network': the stage waits on the network (download). The local executor runs its chunks in
   * network slots, which may oversubscribe the CPUs, so they overlap with CPU stages.
   */
  class?: 'network';
}

export type Row = Record<string, unknown>;

/** The result of one item: a verdict and a reason, or an error, as data. */
export type Outcome<O extends Row = Row> =
  | { status: 'kept'; row: O }
  | { status: 'dropped'; reason: string; row?: O; count?: number }
  | { status: 'error'; reason: string; row?: Partial<O> & Row }
  /**
   * Many kept rows at once: a local parquet file the stage wrote natively (bulk stages such as
   * ytcommons). With `status` ('kept') and `reason` (null) columns it becomes an output part as
   * it is; without them the runtime adds them (one rewrite).
   */
  | { status: 'kept-parquet'; path: string; count: number };

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

interface BaseContext<P> {
  params: P;
  runId: string;
  stageName: string;
  /** The storage root (runs/ and media/ live under it). */
  store: ObjectStore;
  log: Logger;
}

export interface PlanContext<P> extends BaseContext<P> {
  /** Kept rows of the previous stage's table, in table order; empty for a first stage. */
  previousRows(): AsyncIterable<Row>;
  hasPrevious: boolean;
  /** Kept rows of any earlier stage of this run by instance name (to join metadata such as titles and transcripts back in). */
  stageRows(stageName: string): AsyncIterable<Row>;
}

export interface ItemContext<P> extends BaseContext<P> {
  chunkIndex: number;
  attempt: number;
  /** A private scratch directory for this chunk, removed afterwards. */
  tmpDir: string;
  signal: AbortSignal;
  /** Adds to a stage-specific counter in the chunk's stats (tokens, bytes...). */
  count(counter: string, amount?: number): void;
}

export interface GlobalContext<P> extends ItemContext<P> {
  /** Kept rows of the previous stage's table; only the named columns when given (a missing one reads as null). */
  input(columns?: readonly string[]): AsyncIterable<Row>;
  /** Writes an extra artifact (a report) under the stage's artifacts/ folder. */
  writeArtifact(name: string, content: string): Promise<void>;
}

interface StageBase<P> {
  name: string;
  description: string;
  params: z.ZodType<P>;
  /** Container image repository name, without registry or tag (e.g. "finevideo/stage-dynamism"). */
  image: string;
  resources: ResourceClass;
  /**
   * True when, with these params, each item costs a model call (an API bill or GPU time): what
   * `resume --retry-errors` counts before it resets the stage.
   */
  paidItems?(params: P): boolean;
}

export interface MapStage<P = unknown, I = unknown, O extends Row = Row> extends StageBase<P> {
  kind: 'map';
  /** Items per chunk when the pipeline does not set chunking. */
  defaultItemsPerChunk: number;
  /**
   * Columns of the previous stage's rows this stage reads (previousRows() is projected to them), so
   * large columns such as transcripts are not copied through every stage; later stages join them back
   * by video id with stageRows(). Unset: every column.
   */
  inputColumns?: readonly string[];
  /** Items processed at once inside one chunk. */
  itemConcurrency(params: P): number;
  /**
   * True when each item yields many rows that users count one by one (export: a shard of videos): the
   * stage's items are its rows and its error share (errorPolicy.maxStageShare) is error rows over rows, so
   * losing 2 of 6 videos is a third of the stage, not "0% of 4 shards".
   */
  rowsAreItems?: boolean;
  /** Lists the work items, in a deterministic order. Items must be JSON-serialisable. */
  listItems(ctx: PlanContext<P>): AsyncIterable<I>;
  /** A short key naming the item in error rows and logs (video id, shard name). */
  itemKey(item: I): string;
  /** Processes one item. An ordinary failure is an outcome, not a throw; a throw fails the whole chunk (retried). */
  processItem(item: I, ctx: ItemContext<P>): AsyncIterable<Outcome<O>> | Promise<Outcome<O> | Outcome<O>[]>;
  /** Optional: one line for `finevideo plan` from the planned items (a paid stage's expected cost), before anything runs. */
  planEstimate?(items: AsyncIterable<I>, params: P): Promise<string>;
}

export interface GlobalStage<P = unknown, O extends Row = Row> extends StageBase<P> {
  kind: 'global';
  run(ctx: GlobalContext<P>): AsyncIterable<Outcome<O>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds stages of every param/row type
export type AnyStage = MapStage<any, any, any> | GlobalStage<any, any>;

/** Worker exit codes: the contract between a worker and every executor. */
export const EXIT_OK = 0;
/** The chunk broke (storage down, crash): retry the index. */
export const EXIT_RETRYABLE = 1;
/** The chunk can never succeed (bad config, unknown stage): fail the index at once. */
export const EXIT_NOT_RETRYABLE = 42;

/** Environment variables of a worker: the same locally and on Kubernetes. */
export const WORKER_ENV = {
  runUri: 'FINEVIDEO_RUN',
  storage: 'FINEVIDEO_STORAGE',
  runId: 'FINEVIDEO_RUN_ID',
  stage: 'FINEVIDEO_STAGE',
  index: 'JOB_COMPLETION_INDEX',
  /** Resume on Kubernetes: index i of the Job runs the i-th chunk of this range list ("3,7-9"). */
  chunkMap: 'FINEVIDEO_CHUNK_MAP',
  attempt: 'FINEVIDEO_ATTEMPT',
  /** The launcher's lease epoch: the worker commits only while the run's lease still carries it (fencing). */
  epoch: 'FINEVIDEO_EPOCH',
  /** "stdin": a local worker whose stdin is a pipe from its launcher; its end means the launcher is gone. */
  launcherPipe: 'FINEVIDEO_LAUNCHER_PIPE',
} as const;
