import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError, EXIT_NOT_RETRYABLE, EXIT_OK, EXIT_RETRYABLE, addReason, emptyStats, errorMessage, parseOrThrow, runLayout,
  type AnyStage, type DoneMarker, type GlobalContext, type ItemContext, type Logger, type ObjectStore, type Outcome, type Row, type StageStats,
} from '@finevideo/core';
import { composeParquet, openStore, parquetFileColumns, readJsonl, type OutputPart } from '@finevideo/storage';
import { createLogger } from './log.js';
import { orderedPool } from './ordered-pool.js';
import { manifestStage, readRunManifest } from './run-state.js';
import { keptRows } from './table.js';
import { readWorkerEnv } from './worker-env.js';

export interface ChunkRequest {
  store: ObjectStore;
  runId: string;
  stageName: string;
  chunkIndex: number;
  attempt: number;
  log?: Logger;
  signal?: AbortSignal;
}

export type ChunkResult = { skipped: true } | { skipped: false; marker: DoneMarker };

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

/**
 * Writes outcomes as output rows and counts them; the chunk's stats come from here only.
 * Rows go to JSONL parts; a stage's own parquet of kept rows is a part of its own. Each part,
 * in outcome order, becomes one parquet part of the chunk's output.
 */
class ChunkOutput {
  readonly stats: StageStats = emptyStats();
  private readonly parts: OutputPart[] = [];
  private stream: WriteStream | undefined;
  private closing: Promise<void> | undefined;
  constructor(private readonly dir: string) {}

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

  async add(outcome: Outcome, itemKey: string): Promise<void> {
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
        addReason(this.stats, 'error', outcome.reason.split(':')[0]!.slice(0, 80));
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

/**
 * Runs one chunk of one stage: reads its work list, processes the items with bounded
 * concurrency (results in input order), uploads the output rows, and writes the
 * completion marker last. A chunk that already has its marker is skipped.
 */
export async function runChunk(stage: AnyStage, request: ChunkRequest): Promise<ChunkResult> {
  const { store, runId, stageName, chunkIndex, attempt } = request;
  const log = request.log ?? createLogger({ stage: stageName, index: chunkIndex });
  const layout = runLayout(runId).stage(stageName);
  if (await store.exists(layout.done(chunkIndex))) {
    log.info(`chunk ${chunkIndex} of ${stageName} already done; nothing to do`);
    return { skipped: true };
  }
  const manifest = await readRunManifest(store, runId);
  const { stage: stageConfig, previous } = manifestStage(manifest, stageName);
  if (stageConfig.stage !== stage.name) {
    throw new ConfigError(`stage ${stageName}: expected a worker of type ${stageConfig.stage}, got ${stage.name}`);
  }
  const params = parseOrThrow(stage.params, stageConfig.params, `params of stage ${stageName}`);
  const startedAt = new Date();
  const tmpDir = await mkdtemp(join(tmpdir(), `finevideo-w${process.pid}-${stageName}-${chunkIndex}-`)); // the pid lets a later run remove it after a kill -9
  const signal = request.signal ?? new AbortController().signal;
  const output = new ChunkOutput(tmpDir);
  try {
    const base: ItemContext<unknown> = {
      params, runId, stageName, store, log, chunkIndex, attempt, tmpDir, signal,
      count: (counter, amount = 1) => {
        output.stats.counters[counter] = (output.stats.counters[counter] ?? 0) + amount;
      },
    };
    if (stage.kind === 'map') {
      const items = readJsonl(store, layout.chunk(chunkIndex));
      const concurrency = stage.itemConcurrency(params);
      const itemKey = (item: unknown) => String(stage.itemKey(item)).slice(0, 200);
      if (concurrency <= 1) {
        // Stream straight through: one item may yield very many rows (a parquet shard).
        for await (const item of items) {
          output.stats.items++;
          for await (const outcome of outcomesOf(stage.processItem(item, base))) await output.add(outcome, itemKey(item));
        }
      } else {
        await orderedPool(items, concurrency, async (item) => {
          const collected: Outcome[] = [];
          for await (const outcome of outcomesOf(stage.processItem(item, base))) collected.push(outcome);
          return collected;
        }, async (outcomes, item) => {
          output.stats.items++;
          for (const outcome of outcomes) await output.add(outcome, itemKey(item));
        });
      }
    } else {
      if (chunkIndex !== 0) throw new ConfigError(`stage ${stageName} is global: expected chunk index 0, got ${chunkIndex}`);
      const ctx: GlobalContext<unknown> = {
        ...base,
        input: () => {
          if (!previous) throw new ConfigError(`global stage ${stageName}: expected a previous stage to read, got none`);
          return keptRows(store, runId, previous.name);
        },
        writeArtifact: (name, content) => store.put(layout.artifact(name), content),
      };
      for await (const outcome of stage.run(ctx)) {
        output.stats.items++;
        await output.add(outcome, 'global');
      }
    }
    // Parts of an earlier, broken attempt are removed first: out/ holds only what the marker lists.
    const stale: string[] = [];
    for await (const { key } of store.list(layout.partsPrefix(chunkIndex))) stale.push(key);
    for (const key of stale) await store.delete(key);
    const parts: string[] = [];
    for (const file of await output.finish()) {
      const key = layout.part(chunkIndex, parts.length);
      await store.upload(key, file, { contentType: 'application/vnd.apache.parquet' });
      parts.push(key);
    }
    const finishedAt = new Date();
    const marker: DoneMarker = {
      stage: stageName,
      index: chunkIndex,
      attempt,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      stats: output.stats,
      parts,
    };
    // The marker is written last: its presence means the output above is whole.
    await store.put(layout.done(chunkIndex), JSON.stringify(marker, null, 2));
    return { skipped: false, marker };
  } finally {
    await output.close().catch(() => undefined);
    await rm(tmpDir, { recursive: true, force: true });
  }
}


/** The entrypoint of every stage image: env in, exit code out. */
export function runWorkerMain(stage: AnyStage): void {
  const abort = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => abort.abort(new Error(sig))); // SIGINT: Ctrl-C reaches the whole process group
  (async () => {
    let log: Logger = createLogger({ stage: stage.name });
    try {
      const env = readWorkerEnv();
      log = createLogger({ stage: env.stageName, index: env.chunkIndex, attempt: env.attempt });
      const store = openStore(env.storage);
      log.info(`worker ${stage.name} starting chunk ${env.chunkIndex} (completion index ${env.completionIndex}, attempt ${env.attempt})`);
      const result = await runChunk(stage, { store, runId: env.runId, stageName: env.stageName, chunkIndex: env.chunkIndex, attempt: env.attempt, log, signal: abort.signal });
      if (!result.skipped) {
        const s = result.marker.stats;
        log.info(`chunk ${env.chunkIndex} done: ${s.items} items, ${s.kept} kept, ${s.dropped} dropped, ${s.errors} errors in ${result.marker.durationMs} ms`);
      }
      return EXIT_OK;
    } catch (error) {
      const retryable = !(error instanceof ConfigError);
      log.error(`chunk failed (${retryable ? 'retryable' : 'not retryable'}): ${errorMessage(error)}`);
      return retryable ? EXIT_RETRYABLE : EXIT_NOT_RETRYABLE;
    }
  })().then((code) => process.exit(code));
}
