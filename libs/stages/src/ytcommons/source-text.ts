import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, SystemicError, errorMessage, type ObjectStore, type Row } from '@finevideo/core';
import { duckDbSystemicError, openStore, queryRows, sqlIdent, sqlString } from '@finevideo/storage';

/**
 * Where a row's transcript lives: ytcommons does not copy transcripts, it records the source shard
 * (store URI + key), the row's position in it (DuckDB's file_row_number) and what the shard was
 * (size, and modification time or ETag) so a reader can tell when it changed.
 */
export interface SourceRef {
  source_uri: string;
  source_shard: string;
  source_row: number;
  source_size: number;
  source_version: string | null;
}

export const SOURCE_REF_COLUMNS = ['source_uri', 'source_shard', 'source_row', 'source_size', 'source_version'] as const;

/** The reference of a ytcommons row, or undefined when the row has none (an older table, another source). */
export function sourceRefOf(row: Row): SourceRef | undefined {
  const { source_uri, source_shard, source_row, source_size, source_version } = row;
  if (typeof source_uri !== 'string' || typeof source_shard !== 'string') return undefined;
  const rowNumber = Number(source_row);
  const size = Number(source_size);
  if (!Number.isSafeInteger(rowNumber) || rowNumber < 0 || !Number.isSafeInteger(size)) return undefined;
  return { source_uri, source_shard, source_row: rowNumber, source_size: size, source_version: typeof source_version === 'string' ? source_version : null };
}

export interface SourceTextOptions {
  /** The shard column to read (default "text", the transcript). */
  column?: string;
  /** Keep only the first this many characters (read in DuckDB, so long transcripts never reach JavaScript whole). */
  maxChars?: number;
  /** Rows fetched per query (bounded memory: entries and their texts of one batch are held at once). */
  batchRows?: number;
  signal?: AbortSignal;
}

interface OpenShard {
  id: string;
  path: string;
  scratch?: string;
}

const shardId = (ref: SourceRef) => `${ref.source_uri}\n${ref.source_shard}`;

/** The shard as it is now must be the shard ytcommons read: same size, same modification time or ETag. */
async function checkShard(store: ObjectStore, ref: SourceRef): Promise<string | undefined> {
  const local = store.localPath(ref.source_shard);
  let size: number;
  let version: string | null = null;
  if (local) {
    try {
      const s = await stat(local);
      size = s.size;
      version = s.mtime.toISOString();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  } else {
    let info: { size: number; version?: unknown } | undefined;
    for await (const o of store.list(ref.source_shard)) if (o.key === ref.source_shard) info = o;
    if (!info) return undefined;
    size = info.size;
    version = typeof info.version === 'string' ? info.version : null;
  }
  if (size !== ref.source_size || (ref.source_version && version && version !== ref.source_version)) {
    throw new ConfigError(
      `source shard ${ref.source_shard} in ${ref.source_uri}: expected the shard ytcommons read (${ref.source_size} bytes, ${ref.source_version ?? 'no version'}), got ${size} bytes, ${version ?? 'no version'}; source shards are immutable inputs: restore it or run ytcommons again`,
    );
  }
  return local;
}

const sourceStores = new Map<string, ObjectStore>();

/**
 * The store of a source folder or prefix, opened once per process: opening checks the path (a folder)
 * or builds an S3 client, work that must not repeat for every shard of a chunk.
 */
export function sourceStore(uri: string): ObjectStore {
  let store = sourceStores.get(uri);
  if (!store) {
    store = openStore(uri, {}, 'source');
    sourceStores.set(uri, store);
  }
  return store;
}

async function openShard(ref: SourceRef): Promise<OpenShard> {
  const store = sourceStore(ref.source_uri);
  const local = await checkShard(store, ref).catch((e: unknown) => {
    if (e instanceof ConfigError) throw e;
    throw new SystemicError(`storage: checking source shard ${ref.source_shard} in ${ref.source_uri}: ${errorMessage(e)}`, 'storage unreachable', true, { cause: e });
  });
  if (local === undefined && store.localPath(ref.source_shard)) {
    throw new ConfigError(`source shard ${ref.source_shard} in ${ref.source_uri}: expected the shard ytcommons read, got not found; source shards are immutable inputs`);
  }
  // DuckDB expands glob characters: such a shard is read from a copy of its own.
  if (local && !/[*?[\]{}]/.test(ref.source_shard)) return { id: shardId(ref), path: local };
  const scratch = await mkdtemp(join(tmpdir(), 'finevideo-source-'));
  const path = join(scratch, 'shard.parquet');
  try {
    await store.download(ref.source_shard, path);
  } catch (e) {
    await rm(scratch, { recursive: true, force: true });
    if (errorMessage(e).endsWith('got not found')) throw new ConfigError(`source shard ${ref.source_shard} in ${ref.source_uri}: expected the shard ytcommons read, got not found; source shards are immutable inputs`);
    throw new SystemicError(`storage download: source shard ${ref.source_shard} from ${ref.source_uri}: ${errorMessage(e)}`, 'storage unreachable', true, { cause: e });
  }
  return { id: shardId(ref), path, scratch };
}

/**
 * Streams entries with their text read from the source shards, in input order. Entries are taken in
 * batches of consecutive references to one shard (the ytcommons table's own order groups them), and
 * each batch is one projected query that reads only the wanted rows' column; a shard is checked
 * (size, modification time or ETag) and, on S3, downloaded once per run of consecutive entries.
 * Entries without a reference (refOf returns undefined) come out with text null.
 */
export async function* withSourceText<T>(
  entries: AsyncIterable<T> | Iterable<T>,
  refOf: (entry: T) => SourceRef | undefined,
  options: SourceTextOptions = {},
): AsyncIterable<{ entry: T; text: string | null }> {
  const column = sqlIdent(options.column ?? 'text');
  const batchRows = Math.max(1, options.batchRows ?? 1024);
  const value = options.maxChars !== undefined ? `left(CAST(${column} AS VARCHAR), ${Math.max(0, Math.floor(options.maxChars))})` : `CAST(${column} AS VARCHAR)`;
  let open: OpenShard | undefined;
  const close = async () => {
    if (open?.scratch) await rm(open.scratch, { recursive: true, force: true });
    open = undefined;
  };
  let batch: { entry: T; ref: SourceRef | undefined }[] = [];
  /** The shard of the current batch (its first reference). */
  let current: SourceRef | undefined;

  async function* flush(): AsyncIterable<{ entry: T; text: string | null }> {
    const wanted = batch;
    const first = current;
    batch = [];
    current = undefined;
    const texts = new Map<number, string | null>();
    if (first) {
      if (open?.id !== shardId(first)) {
        await close();
        open = await openShard(first);
      }
      const rows = wanted.map((w) => w.ref!.source_row);
      let lo = rows[0]!;
      let hi = rows[0]!;
      for (const r of rows) {
        if (r < lo) lo = r;
        if (r > hi) hi = r;
      }
      // The range lets DuckDB skip row groups; the list picks the rows.
      const sql = `SELECT file_row_number AS r, ${value} AS t FROM read_parquet(${sqlString(open.path)}, file_row_number = true) WHERE file_row_number BETWEEN ${lo} AND ${hi} AND file_row_number IN (${rows.join(',')})`;
      try {
        for await (const r of queryRows(sql, { signal: options.signal })) texts.set(Number(r.r), r.t === null ? null : String(r.t));
      } catch (e) {
        if (options.signal?.aborted) throw e;
        const machine = duckDbSystemicError(e, `source shard ${first.source_shard}`);
        if (machine) throw machine;
        throw new ConfigError(`source shard ${first.source_shard} in ${first.source_uri}: expected a readable parquet file with a ${options.column ?? 'text'} column, got ${errorMessage(e).split('\n')[0]}`);
      }
      for (const r of rows) {
        if (!texts.has(r)) throw new ConfigError(`source shard ${first.source_shard} in ${first.source_uri}: expected row ${r}, got a shard with fewer rows; source shards are immutable inputs`);
      }
    }
    for (const w of wanted) yield { entry: w.entry, text: w.ref ? (texts.get(w.ref.source_row) ?? null) : null };
  }

  try {
    for await (const entry of entries as AsyncIterable<T>) {
      const ref = refOf(entry);
      if (batch.length >= batchRows || (ref && current && shardId(ref) !== shardId(current))) yield* flush();
      batch.push({ entry, ref });
      current ??= ref;
    }
    if (batch.length) yield* flush();
  } finally {
    await close();
  }
}
