import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError, EXIT_NOT_RETRYABLE, EXIT_OK, EXIT_RETRYABLE, SystemicError, addReason, emptyStats, errorClassOf, errorMessage, isSystemicError, mergeStats,
  parseOrThrow, redactUrlCredentials, runLayout,
  type AnyStage, type ErrorPolicy, type GlobalContext, type GlobalStage, type ItemContext, type MapStage, type Logger, type ObjectStore, type Outcome, type Row, type StageStats,
} from '@finevideo/core';
import { composeParquet, openStore, parquetFileColumns, runDuckDb, sqlString, withLocalCopy, type OutputPart } from '@finevideo/storage';
import { createLogger } from './log.js';
import { orderedPool } from './ordered-pool.js';
import { manifestStage, readJsonObject, readRunManifest, retryKey, type ChunkMarker, type ErrorItem, type RetryRequest, type StagePlan } from './run-state.js';
import { chunkItems } from './work-list.js';
import { keptRows } from './table.js';
import { readWorkerEnv } from './worker-env.js';
import { FencedStore, epochFence } from './fencing.js';
import { watchLauncher } from './launcher-watch.js';

export interface ChunkRequest {
  store: ObjectStore;
  runId: string;
  stageName: string;
  chunkIndex: number;
  attempt: number;
  /** The launcher's lease epoch, recorded in the marker (the store is fenced by it: see fencing.ts). */
  epoch?: number;
  log?: Logger;
  signal?: AbortSignal;
}

export type ChunkResult = { skipped: true } | { skipped: false; marker: ChunkMarker };

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value;
}

async function* outcomesOf<O extends Row>(produced: AsyncIterable<Outcome<O>> | Promise<Outcome<O> | Outcome<O>[]>): AsyncIterable<Outcome<O>> {
  if (isAsyncIterable<Outcome<O>>(produced)) {
    yield* produced;
    return;
  }
  const value = await produced;
  if (Array.isArray(value)) yield* value;
  else yield value;
}

/** An error reason as recorded in markers and messages: no URL credentials, bounded length. */
const shortReason = (reason: string, max = 300): string => redactUrlCredentials(reason).slice(0, max);

/**
 * Writes outcomes as output rows and counts them; the chunk's stats come from here only.
 * Rows go to JSONL parts; a stage's own parquet of kept rows is a part of its own. Each part,
 * in outcome order, becomes one parquet part of the chunk's output.
 *
 * It is also the chunk's circuit breaker: items that fail whole with the same error class, many in
 * a row or most of the chunk, mean something systemic (a bad key, a dead endpoint), so the chunk
 * throws a SystemicError instead of writing hundreds of identical error rows.
 */
class ChunkOutput {
  readonly stats: StageStats = emptyStats();
  /** Items whose every outcome was an error, for `resume --retry-errors`. */
  readonly errorItems: ErrorItem[] = [];
  private readonly parts: OutputPart[] = [];
  private stream: WriteStream | undefined;
  private closing: Promise<void> | undefined;
  private itemError: string | undefined;
  private itemOther = false;
  private streakClass: string | undefined;
  private streak = 0;
  private readonly classItems = new Map<string, number>();
  constructor(private readonly dir: string, private readonly policy: ErrorPolicy, private readonly where: string) {}

  private async line(row: Row): Promise<void> {
    if (!this.stream) {
      const path = join(this.dir, `part-${this.parts.length}.jsonl`);
      this.parts.push({ kind: 'jsonl', path });
      this.stream = createWriteStream(path);
      this.closing = undefined;
    }
    if (!this.stream.write(`${JSON.stringify(row)}\n`)) await once(this.stream, 'drain');
  }

  private closePart(): Promise<void> {
    const stream = this.stream;
    if (!stream) return this.closing ?? Promise.resolve();
    this.stream = undefined;
    this.closing = (async () => {
      stream.end();
      if (!stream.closed) await once(stream, 'close');
    })();
    return this.closing;
  }

  /** Starts an item: its outcomes follow, then endItem. */
  beginItem(): void {
    this.stats.items++;
    this.itemError = undefined;
    this.itemOther = false;
  }

  /** Ends an item; throws a SystemicError when the circuit breaker trips. */
  endItem(itemKey: string): void {
    const reason = this.itemError;
    if (reason === undefined || this.itemOther) {
      // Any other outcome (kept, dropped) ends a streak: the failures are not all alike.
      this.streak = 0;
      this.streakClass = undefined;
      return;
    }
    this.errorItems.push({ key: itemKey, reason: shortReason(reason) });
    const cls = errorClassOf(reason);
    this.streak = cls === this.streakClass ? this.streak + 1 : 1;
    this.streakClass = cls;
    const count = (this.classItems.get(cls) ?? 0) + 1;
    this.classItems.set(cls, count);
    const { maxConsecutive, maxChunkShare, minItems } = this.policy;
    const last = shortReason(reason, 200);
    if (this.streak >= maxConsecutive) {
      throw new SystemicError(
        `${this.where}: ${this.streak} items in a row failed with the same error class "${cls}" (errorPolicy.maxConsecutive is ${maxConsecutive}), so the chunk fails instead of writing identical error rows; last reason: ${last}`,
        cls,
      );
    }
    const items = this.stats.items;
    if (items >= minItems && count / items > maxChunkShare) {
      throw new SystemicError(
        `${this.where}: ${count} of ${items} items failed with the error class "${cls}" (more than errorPolicy.maxChunkShare ${maxChunkShare} once ${minItems} items are processed), so the chunk fails instead of writing identical error rows; last reason: ${last}`,
        cls,
      );
    }
  }

  async add(outcome: Outcome, itemKey: string): Promise<void> {
    if (outcome.status === 'error') this.itemError ??= outcome.reason;
    else this.itemOther = true;
    switch (outcome.status) {
      case 'kept':
        this.stats.kept++;
        await this.line({ ...outcome.row, status: 'kept', reason: null });
        return;
      case 'kept-parquet':
        await this.closePart();
        this.stats.kept += outcome.count;
        this.parts.push({ kind: 'kept-parquet', path: outcome.path });
        return;
      case 'dropped': {
        const count = outcome.count ?? 1;
        this.stats.dropped += count;
        addReason(this.stats, 'dropped', outcome.reason, count);
        if (outcome.row) await this.line({ ...outcome.row, status: 'dropped', reason: outcome.reason });
        return;
      }
      case 'error':
        this.stats.errors++;
        addReason(this.stats, 'error', errorClassOf(outcome.reason));
        await this.line({ item_key: itemKey, ...(outcome.row ?? {}), status: 'error', reason: outcome.reason });
        return;
    }
  }

  /** Closes the parts and returns the chunk's parquet parts (local paths), in row order. */
  async finish(): Promise<string[]> {
    await this.closePart();
    const files: string[] = [];
    for (const [k, part] of this.parts.entries()) {
      if (part.kind === 'kept-parquet') {
        const columns = new Set(await parquetFileColumns(part.path));
        if (columns.has('status') && columns.has('reason')) {
          files.push(part.path);
          continue;
        }
      } else if ((await stat(part.path)).size === 0) {
        continue;
      }
      const out = join(this.dir, `part-${k}.parquet`);
      await composeParquet([part], out);
      files.push(out);
    }
    return files;
  }

  close(): Promise<void> {
    return this.closePart();
  }
}

/** The k of a part key (".../out/000003-0002.parquet" -> 2). */
const partNumber = (key: string): number => Number(/-(\d+)\.parquet$/.exec(key)?.[1] ?? -1);

async function* onlyItems<I>(items: AsyncIterable<I>, keep: (item: I) => boolean): AsyncIterable<I> {
  for await (const item of items) if (keep(item)) yield item;
}

/** A part of the chunk being retried: carried as it is, or rewritten without the error rows of the items run again. */
interface CarriedPart {
  /** The key to list in the new marker (the old key when carried unchanged). */
  key?: string;
  /** A local rewritten file to upload under a new key. */
  file?: string;
}

/**
 * The previous parts of a chunk being retried, without the error rows of the items run again.
 * A part with no such row is kept as it is (no copy); one with some is rewritten (DuckDB, streamed).
 */
async function carryParts(store: ObjectStore, previous: ChunkMarker, keys: ReadonlySet<string>, tmpDir: string): Promise<{ parts: CarriedPart[]; removedReasons: string[] }> {
  const parts: CarriedPart[] = [];
  const removedReasons: string[] = [];
  const inList = `(${[...keys].map(sqlString).join(', ')})`;
  for (const [i, key] of previous.parts.entries()) {
    const result = await withLocalCopy(store, key, async (path): Promise<CarriedPart> => {
      const columns = new Set(await parquetFileColumns(path));
      if (!columns.has('status') || !columns.has('item_key') || keys.size === 0) return { key };
      const match = `status = 'error' AND item_key IN ${inList}`;
      const removed = await runDuckDb(`SELECT reason FROM read_parquet(${sqlString(path)}) WHERE ${match}`);
      if (removed.length === 0) return { key };
      for (const r of removed) removedReasons.push(String(r.reason ?? ''));
      const total = Number((await runDuckDb(`SELECT count(*) AS n FROM read_parquet(${sqlString(path)})`))[0]?.n ?? 0);
      if (total === removed.length) return {}; // nothing else in it: the part goes
      const out = join(tmpDir, `carried-${i}.parquet`);
      await runDuckDb(`COPY (SELECT * FROM read_parquet(${sqlString(path)}) WHERE NOT (${match})) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048)`);
      return { file: out };
    });
    parts.push(result);
  }
  return { parts, removedReasons };
}

/**
 * Runs one chunk of one stage: reads its work list, processes the items with bounded
 * concurrency (results in input order), uploads the output rows, and writes the
 * completion marker last. A chunk that already has its marker is skipped.
 *
 * A chunk with a retry request (`resume --retry-errors`) runs only the items asked for: the
 * previous parts keep their other rows, the new rows follow them, the new marker is written last,
 * and only then are the replaced parts and the request removed.
 */
export async function runChunk(stage: AnyStage, request: ChunkRequest): Promise<ChunkResult> {
  const { store, runId, stageName, chunkIndex, attempt } = request;
  const log = request.log ?? createLogger({ stage: stageName, index: chunkIndex });
  const layout = runLayout(runId).stage(stageName);
  const retryAt = retryKey(runId, stageName, chunkIndex);
  const existing = await readJsonObject<ChunkMarker>(store, layout.done(chunkIndex));
  if (existing) {
    // A retry that wrote its marker but stopped before cleaning up: finish the clean-up.
    if (await store.exists(retryAt)) await removeUnlisted(store, layout.partsPrefix(chunkIndex), existing.parts, retryAt);
    log.info(`chunk ${chunkIndex} of ${stageName} already done; nothing to do`);
    return { skipped: true };
  }
  const retry = await readJsonObject<RetryRequest>(store, retryAt);
  const manifest = await readRunManifest(store, runId);
  const { stage: stageConfig, previous } = manifestStage(manifest, stageName);
  if (stageConfig.stage !== stage.name) {
    throw new ConfigError(`stage ${stageName}: expected a worker of type ${stageConfig.stage}, got ${stage.name}`);
  }
  const params = parseOrThrow(stage.params, stageConfig.params, `params of stage ${stageName}`);
  const startedAt = new Date();
  const tmpDir = await mkdtemp(join(tmpdir(), `finevideo-w${process.pid}-${stageName}-${chunkIndex}-`)); // the pid lets a later run remove it after a kill -9
  const signal = request.signal ?? new AbortController().signal;
  const output = new ChunkOutput(tmpDir, stageConfig.errorPolicy, `stage ${stageName} chunk ${chunkIndex}`);
  try {
    // Parts of an earlier, broken attempt are removed first: out/ holds only what a marker lists
    // (and, while a retry runs, the parts of the marker it replaces).
    await removeUnlisted(store, layout.partsPrefix(chunkIndex), retry?.previous.parts ?? []);
    const base: ItemContext<unknown> = {
      params, runId, stageName, store, log, chunkIndex, attempt, tmpDir, signal,
      count: (counter, amount = 1) => {
        output.stats.counters[counter] = (output.stats.counters[counter] ?? 0) + amount;
      },
    };
    // The retried items' keys, when a retry asked for some items only: their old error rows are replaced.
    let found: Set<string> | undefined;
    if (stage.kind === 'map') {
      found = await processMapItems(stage, base, output, retry?.items);
    } else {
      if (chunkIndex !== 0) throw new ConfigError(`stage ${stageName} is global: expected chunk index 0, got ${chunkIndex}`);
      await processGlobal(stage, {
        ...base,
        input: (columns) => {
          if (!previous) throw new ConfigError(`global stage ${stageName}: expected a previous stage to read, got none`);
          return keptRows(store, runId, previous.name, columns);
        },
        writeArtifact: (name, content) => store.put(layout.artifact(name), content),
      }, output);
    }
    const rowsAreItems = stage.kind === 'map' && stage.rowsAreItems === true;
    const written = await uploadParts(base, output, retry, found, rowsAreItems);
    const finishedAt = new Date();
    const marker: ChunkMarker = {
      stage: stageName,
      index: chunkIndex,
      attempt,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ...written,
      ...(request.epoch !== undefined ? { epoch: request.epoch } : {}),
      ...(rowsAreItems ? { rowsAreItems: true as const } : {}),
    };
    // A cancelled chunk (its launcher stopped it, or is gone) commits nothing, whatever its items returned.
    if (signal.aborted) throw new Error(`stage ${stageName} chunk ${chunkIndex}: cancelled before its marker was written; nothing committed`);
    // The marker is written last, once: its presence means the output above is whole. A marker that
    // appeared meanwhile (another worker of the chunk) wins; this attempt's parts are then not listed.
    if (!(await store.createIfAbsent(layout.done(chunkIndex), JSON.stringify(marker, null, 2)))) {
      log.warn(`chunk ${chunkIndex} of ${stageName}: another worker wrote its marker first; this attempt's output is discarded`);
      const winner = await readJsonObject<ChunkMarker>(store, layout.done(chunkIndex));
      if (winner) await removeUnlisted(store, layout.partsPrefix(chunkIndex), winner.parts);
      return { skipped: true };
    }
    if (retry) await removeUnlisted(store, layout.partsPrefix(chunkIndex), marker.parts, retryAt);
    return { skipped: false, marker };
  } finally {
    await output.close().catch(() => undefined);
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/**
 * A map chunk's items through the stage, outcomes written in input order. With `retryItems` (a
 * retry request's item keys) only those of them in the work list run; their keys are returned.
 */
async function processMapItems(stage: MapStage, base: ItemContext<unknown>, output: ChunkOutput, retryItems: readonly string[] | undefined): Promise<Set<string> | undefined> {
  const { store, runId, stageName, chunkIndex, log, params } = base;
  const itemKey = (item: unknown) => String(stage.itemKey(item)).slice(0, 200);
  const plan = await readJsonObject<StagePlan>(store, runLayout(runId).stage(stageName).plan);
  let items = chunkItems(store, runId, stageName, chunkIndex, plan);
  let found: Set<string> | undefined;
  if (retryItems) {
    found = new Set<string>();
    const asked = new Set(retryItems);
    for await (const item of chunkItems(store, runId, stageName, chunkIndex, plan)) if (asked.has(itemKey(item))) found.add(itemKey(item));
    const keep = found;
    items = onlyItems(items, (item) => keep.has(itemKey(item)));
    log.info(`retrying ${found.size} item(s) whose rows are errors (of ${asked.size} asked for)`);
  }
  const concurrency = stage.itemConcurrency(params);
  if (concurrency <= 1) {
    // Stream straight through: one item may yield very many rows (a parquet shard).
    for await (const item of items) {
      output.beginItem();
      for await (const outcome of outcomesOf(stage.processItem(item, base))) await output.add(outcome, itemKey(item));
      output.endItem(itemKey(item));
    }
  } else {
    await orderedPool(items, concurrency, async (item) => {
      const collected: Outcome[] = [];
      for await (const outcome of outcomesOf(stage.processItem(item, base))) collected.push(outcome);
      return collected;
    }, async (outcomes, item) => {
      output.beginItem();
      for (const outcome of outcomes) await output.add(outcome, itemKey(item));
      output.endItem(itemKey(item));
    });
  }
  // A stage whose items are many rows each (export's shards of videos) counts its rows, as users do.
  if (stage.rowsAreItems) output.stats.items = output.stats.kept + output.stats.dropped + output.stats.errors;
  return found;
}

/** A global stage's one chunk: everything it yields, as one item. */
async function processGlobal(stage: GlobalStage, ctx: GlobalContext<unknown>, output: ChunkOutput): Promise<void> {
  for await (const outcome of stage.run(ctx)) {
    output.beginItem();
    await output.add(outcome, 'global');
    output.endItem('global');
  }
  // A global stage's items are the rows it judged, not its outcomes (one may count a million rows).
  output.stats.items = output.stats.kept + output.stats.dropped + output.stats.errors;
}

/**
 * Uploads the chunk's parts and returns what its marker records. New parts of a retry are numbered after
 * the replaced marker's, so they never overwrite them; a retry of some items (`found`) also keeps the
 * replaced marker's other rows (carried parts first, new rows after) and its stats less the rows run again.
 */
async function uploadParts(
  base: ItemContext<unknown>, output: ChunkOutput, retry: RetryRequest | undefined, found: ReadonlySet<string> | undefined, rowsAreItems: boolean,
): Promise<Pick<ChunkMarker, 'stats' | 'parts' | 'errorItems'>> {
  const { store, runId, stageName, chunkIndex, tmpDir } = base;
  const layout = runLayout(runId).stage(stageName);
  const parts: string[] = [];
  let k = retry ? retry.previous.parts.reduce((max, key) => Math.max(max, partNumber(key)), -1) + 1 : 0;
  const upload = async (file: string) => {
    const key = layout.part(chunkIndex, k++);
    await store.upload(key, file, { contentType: 'application/vnd.apache.parquet' });
    parts.push(key);
  };
  let stats = output.stats;
  let errorItems = output.errorItems;
  if (retry && found) {
    const carried = await carryParts(store, retry.previous, found, tmpDir);
    for (const part of carried.parts) {
      if (part.key) parts.push(part.key);
      else if (part.file) await upload(part.file);
    }
    // The rows run again are the retried items' error rows when rows are the items.
    stats = withoutRetried(retry.previous.stats, rowsAreItems ? carried.removedReasons.length : found.size, carried.removedReasons);
    mergeStats(stats, output.stats);
    errorItems = [...(retry.previous.errorItems ?? []).filter((e) => !found.has(e.key)), ...output.errorItems];
  }
  for (const file of await output.finish()) await upload(file);
  return { stats, parts, errorItems };
}

/** Deletes the parts under a chunk's prefix that `keep` does not list, then `thenDelete` (a retry request). */
async function removeUnlisted(store: ObjectStore, prefix: string, keep: readonly string[], thenDelete?: string): Promise<void> {
  const listed = new Set(keep);
  const stale: string[] = [];
  for await (const { key } of store.list(prefix)) if (!listed.has(key)) stale.push(key);
  for (const key of stale) await store.delete(key);
  if (thenDelete) await store.delete(thenDelete);
}

/** The previous stats of a retried chunk without the items run again and their error rows. */
function withoutRetried(previous: StageStats, items: number, removedReasons: readonly string[]): StageStats {
  const stats = mergeStats(emptyStats(), previous);
  stats.items -= items;
  stats.errors -= removedReasons.length;
  for (const reason of removedReasons) {
    const key = `error:${errorClassOf(reason)}`;
    const left = (stats.reasons[key] ?? 0) - 1;
    if (left > 0) stats.reasons[key] = left;
    else delete stats.reasons[key];
  }
  return stats;
}

/**
 * A not-retryable SystemicError the thrown error carries as its cause (a stage that wraps any storage
 * failure as "storage unreachable" may wrap a permission refusal, which no retry can fix).
 */
function permanentCause(error: unknown): SystemicError | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++, e = e.cause) if (isSystemicError(e) && !e.retryable) return e;
  return undefined;
}

/** The worker's exit code for a chunk that threw: 42 when retrying cannot help, 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return EXIT_NOT_RETRYABLE;
  if (permanentCause(error)) return EXIT_NOT_RETRYABLE;
  return EXIT_RETRYABLE;
}

/** The class of a thrown error for logs: the SystemicError's class (a permanent cause's first), "config", or the error's name. */
export function thrownClassOf(error: unknown): string {
  const permanent = permanentCause(error);
  if (permanent) return permanent.errorClass;
  if (isSystemicError(error)) return error.errorClass;
  if (error instanceof ConfigError) return 'config';
  return error instanceof Error ? error.name : typeof error;
}

/** The entrypoint of every stage image: env in, exit code out. */
export function runWorkerMain(stage: AnyStage): void {
  const abort = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => abort.abort(new Error(sig))); // SIGINT: Ctrl-C reaches the whole process group
  const launcher = watchLauncher(abort);
  (async () => {
    let log: Logger = createLogger({ stage: stage.name });
    try {
      const env = readWorkerEnv();
      log = createLogger({ stage: env.stageName, index: env.chunkIndex, attempt: env.attempt });
      const opened = openStore(env.storage);
      // Every write of the chunk (parts, marker, per-video outputs) first checks that the launcher still holds the run.
      const store = env.epoch !== undefined ? new FencedStore(opened, epochFence(opened, env.runId, env.epoch)) : opened;
      log.info(`worker ${stage.name} starting chunk ${env.chunkIndex} (completion index ${env.completionIndex}, attempt ${env.attempt}${env.epoch !== undefined ? `, epoch ${env.epoch}` : ''})`);
      const result = await runChunk(stage, {
        store, runId: env.runId, stageName: env.stageName, chunkIndex: env.chunkIndex, attempt: env.attempt, log, signal: abort.signal,
        ...(env.epoch !== undefined ? { epoch: env.epoch } : {}),
      });
      if (!result.skipped) {
        const s = result.marker.stats;
        log.info(`chunk ${env.chunkIndex} done: ${s.items} items, ${s.kept} kept, ${s.dropped} dropped, ${s.errors} errors in ${result.marker.durationMs} ms`);
      }
      return EXIT_OK;
    } catch (error) {
      const code = exitCodeFor(error);
      // Nothing was marked done. The message is the error's own (they name endpoints, never keys); URL credentials are masked anyway.
      log.error(`chunk failed (${thrownClassOf(error)}, ${code === EXIT_NOT_RETRYABLE ? 'not retryable' : 'retryable'}): ${redactUrlCredentials(errorMessage(error))}`, { errorClass: thrownClassOf(error), exitCode: code });
      return code;
    }
  })().then((code) => launcher.exit(code));
}
