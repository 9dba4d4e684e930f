import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { SystemicError, errorMessage, type ObjectStore, type Row } from '@finevideo/core';
import { FileStore } from './file-store.js';
import { toJsonlLine } from './jsonl.js';

/*
 * Parquet through DuckDB: streaming reads with projection and predicate pushdown,
 * native speed, and a prebuilt binary shipped inside its npm package.
 */

let instance: Promise<DuckDBInstance> | undefined;

function spillDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), `finevideo-duckdb-${process.pid}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** DuckDB's memory limit in this process: FINEVIDEO_DUCKDB_MEMORY, 512MB unless set. */
export function duckDbMemoryLimit(): string {
  return process.env.FINEVIDEO_DUCKDB_MEMORY || '512MB';
}

function duckdb(): Promise<DuckDBInstance> {
  // Loaded on first use: the native library is a large part of a process's start-up, and a chunk that
  // is already done (or a launcher command that reads no table) never needs it.
  instance ??= import('@duckdb/node-api').then(({ DuckDBInstance }) => DuckDBInstance.create(':memory:', {
    memory_limit: duckDbMemoryLimit(),
    threads: process.env.FINEVIDEO_DUCKDB_THREADS ?? '2',
    // Per process: concurrent workers on one machine must never share DuckDB's spill files.
    temp_directory: spillDirectory(),
    preserve_insertion_order: 'true',
  }));
  return instance;
}

async function withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const connection = await (await duckdb()).connect();
  try {
    return await fn(connection);
  } finally {
    connection.closeSync();
  }
}

/** A machine failure seen in a DuckDB error (not a fault of the data it read), or undefined. */
export type DuckDbFailureKind = 'out-of-memory' | 'disk-full' | 'interrupted';

export function duckDbFailureKind(error: unknown): DuckDbFailureKind | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (/out of memory/i.test(message) || /failed to allocate/i.test(message)) return 'out-of-memory';
  if (/no space left on device|ENOSPC|disk quota exceeded/i.test(message)) return 'disk-full';
  if (/^INTERRUPT Error/m.test(message)) return 'interrupted';
  return undefined;
}

/**
 * A machine failure while DuckDB reads `what` (out of memory, disk full), as the systemic error that
 * fails the chunk, with the setting to raise; undefined for any other failure (the input's own).
 */
export function duckDbSystemicError(error: unknown, what: string): SystemicError | undefined {
  const kind = duckDbFailureKind(error) ?? ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC' ? 'disk-full' : undefined);
  if (kind === 'out-of-memory') {
    return new SystemicError(
      `out of memory: DuckDB ran out of memory reading ${what} (FINEVIDEO_DUCKDB_MEMORY=${duckDbMemoryLimit()}); raise FINEVIDEO_DUCKDB_MEMORY (e.g. 2GB) and the worker's memory, then resume`,
      'out of memory', true, { cause: error },
    );
  }
  if (kind === 'disk-full') return new SystemicError(`disk full: no space left while reading ${what} (scratch space of the worker): ${errorMessage(error).split('\n')[0]}`, 'disk full', true, { cause: error });
  return undefined;
}

export interface QueryOptions {
  /** Interrupts the query (DuckDB's connection.interrupt()) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Runs fn with the connection interrupted when the signal aborts; an interrupted query throws the abort reason. */
async function interruptible<T>(c: DuckDBConnection, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  if (!signal) return fn();
  signal.throwIfAborted();
  const stop = () => c.interrupt();
  signal.addEventListener('abort', stop, { once: true });
  try {
    return await fn();
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw e;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** Runs SQL written by our own code (never untrusted text) and returns plain JSON rows. */
export async function runDuckDb(sql: string, options: QueryOptions = {}): Promise<Row[]> {
  return withConnection((c) => interruptible(c, options.signal, async () => {
    const reader = await c.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((r) => plain(r) as Row);
  }));
}

/** Streams the rows of a query written by our own code, one DuckDB vector at a time. */
export async function* queryRows(sql: string, options: QueryOptions = {}): AsyncIterable<Row> {
  const connection = await (await duckdb()).connect();
  const { signal } = options;
  const stop = () => connection.interrupt();
  signal?.throwIfAborted();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const result = await connection.stream(sql);
    for await (const batch of result.yieldRowObjectJs()) {
      for (const row of batch) yield plain(row) as Row;
    }
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw e;
  } finally {
    signal?.removeEventListener('abort', stop);
    connection.closeSync();
  }
}

/** A path as an SQL string literal. */
export const sqlString = (text: string): string => `'${text.replace(/'/g, "''")}'`;
/** A column name as an SQL identifier. */
export const sqlIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** DuckDB JS values to plain JSON: safe bigints to numbers, dates to ISO strings, blobs to base64. */
export function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

/** Gives fn a local file path for the object: in place for folders, a temporary download otherwise. */
export async function withLocalCopy<T>(store: ObjectStore, key: string, fn: (path: string) => Promise<T>): Promise<T> {
  const local = store.localPath(key);
  if (local) {
    if (!(await store.exists(key))) throw new Error(`object ${key} in ${store.uri}: expected it to exist, got not found`);
    return fn(local);
  }
  const dir = await mkdtemp(join(tmpdir(), 'finevideo-copy-'));
  try {
    const path = join(dir, key.split('/').pop() || 'object');
    await store.download(key, path);
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ReadParquetOptions {
  columns?: string[];
  /** An SQL filter written by our code, e.g. "status = 'kept'"; never untrusted text. */
  where?: string;
}

/** Streams the rows of a parquet object as plain JSON, one DuckDB vector (2,048 rows) at a time. */
export async function* readParquetRows(store: ObjectStore, key: string, options: ReadParquetOptions = {}): AsyncIterable<Row> {
  const local = store.localPath(key);
  let dir: string | undefined;
  let path = local;
  if (!path) {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-parquet-'));
    path = join(dir, 'table.parquet');
    await store.download(key, path);
  } else if (!(await store.exists(key))) {
    throw new Error(`parquet ${key} in ${store.uri}: expected it to exist, got not found`);
  }
  const connection = await (await duckdb()).connect();
  try {
    const readable = async <T>(what: () => Promise<T>): Promise<T> => {
      try {
        return await what();
      } catch (e) {
        throw new Error(`parquet ${key}: expected a readable parquet file, got ${(e as Error).message.split('\n')[0]}`);
      }
    };
    let columns = '*';
    if (options.columns?.length) {
      // Parts are unioned by name: a column a part lacks (no row of it had the field) reads as null.
      const described = await readable(async () => (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`)).getRowObjectsJS());
      const present = new Set(described.map((r) => String(r.column_name)));
      columns = options.columns.map((c) => (present.has(c) ? sqlIdent(c) : `NULL AS ${sqlIdent(c)}`)).join(', ');
    }
    const where = options.where ? ` WHERE ${options.where}` : '';
    const result = await readable(() => connection.stream(`SELECT ${columns} FROM read_parquet(${sqlString(path)})${where}`));
    for await (const batch of result.yieldRowObjectJs()) {
      for (const row of batch) yield plain(row) as Row;
    }
  } finally {
    connection.closeSync();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** Column names of a local parquet file. */
export async function parquetFileColumns(path: string): Promise<string[]> {
  return (await runDuckDb(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`)).map((r) => String(r.column_name));
}

export async function parquetColumns(store: ObjectStore, key: string): Promise<{ name: string; type: string }[]> {
  return withLocalCopy(store, key, async (path) => {
    const rows = await runDuckDb(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`);
    return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  });
}

export async function parquetRowCount(store: ObjectStore, key: string, where?: string): Promise<number> {
  return withLocalCopy(store, key, async (path) => {
    const rows = await runDuckDb(`SELECT count(*) AS n FROM read_parquet(${sqlString(path)})${where ? ` WHERE ${where}` : ''}`);
    return Number(rows[0]?.n ?? 0);
  });
}

/**
 * Merges JSONL objects, in the given order, into one parquet object. Fields are the
 * union over all rows (missing ones null); the upload is atomic.
 */
export async function writeParquetFromJsonl(store: ObjectStore, jsonlKeys: string[], targetKey: string): Promise<{ rows: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'finevideo-merge-'));
  try {
    const paths: string[] = [];
    for (const [i, key] of jsonlKeys.entries()) {
      const local = store.localPath(key);
      if (local) {
        if (!(await store.exists(key))) throw new Error(`jsonl ${key} in ${store.uri}: expected it to exist, got not found`);
        paths.push(local);
      } else {
        const path = join(dir, `part-${String(i).padStart(6, '0')}.jsonl`);
        await store.download(key, path);
        paths.push(path);
      }
    }
    const out = join(dir, 'table.parquet');
    const nonEmpty: string[] = [];
    for (const p of paths) {
      if ((await stat(p)).size > 0) nonEmpty.push(p);
    }
    let rows = 0;
    await withConnection(async (c) => {
      if (nonEmpty.length === 0) {
        await c.run(`COPY (SELECT NULL::VARCHAR AS status, NULL::VARCHAR AS reason WHERE false) TO ${sqlString(out)} (FORMAT parquet)`);
        return;
      }
      // filename + line order keep the chunk order; full-sample inference copes with heterogeneous rows.
      await c.run(
        `COPY (SELECT * EXCLUDE (filename) FROM ${await jsonlReader(c, nonEmpty, ', union_by_name = true, filename = true')}) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048)`,
      );
      const counted = await c.runAndReadAll(`SELECT count(*) AS n FROM read_parquet(${sqlString(out)})`);
      rows = Number(counted.getRowObjectsJS()[0]?.n ?? 0);
    });
    await store.upload(targetKey, out, { contentType: 'application/vnd.apache.parquet' });
    return { rows };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Types DuckDB's JSON reader infers from strings that look like dates and times. */
const TEMPORAL_TYPES = /\b(TIMESTAMP WITH TIME ZONE|TIME WITH TIME ZONE|TIMESTAMP_NS|TIMESTAMP_MS|TIMESTAMP_S|TIMESTAMP|DATE|TIME)\b/g;

/**
 * read_json over JSONL files with the types inferred from every row, except that strings stay strings:
 * JSON has no date or time type, yet DuckDB reads a column of "4:05" as TIME and "2024-01-01" as DATE,
 * which changed values such as duration_string ("4:05" came back as 14700000000 microseconds). The
 * inference pass is the DESCRIBE; the read then takes the given columns and infers nothing again.
 */
async function jsonlReader(c: DuckDBConnection, paths: string[], extra = ''): Promise<string> {
  const source = `${paths.length === 1 ? sqlString(paths[0]!) : `[${paths.map(sqlString).join(', ')}]`}, format = 'newline_delimited', maximum_object_size = 33554432`;
  const described = await c.runAndReadAll(`DESCRIBE SELECT * FROM read_json(${source}, sample_size = -1${extra.replace(/, filename = true/, '')})`);
  const columns = described.getRowObjectsJS().map((r) => `${sqlString(String(r.column_name))}: ${sqlString(columnType(String(r.column_name), String(r.column_type)))}`);
  return `read_json(${source}, columns = {${columns.join(', ')}}${extra})`;
}

/** Columns every run table has, always text: a part whose rows are all kept has reason all null, which DuckDB would read as JSON. */
const TEXT_COLUMNS = new Set(['status', 'reason']);

function columnType(name: string, inferred: string): string {
  return TEXT_COLUMNS.has(name) ? 'VARCHAR' : inferred.replace(TEMPORAL_TYPES, 'VARCHAR');
}

/** A piece of a chunk's output: rows in a JSONL file, or kept rows in a parquet file a stage wrote. */
export type OutputPart = { kind: 'jsonl'; path: string } | { kind: 'kept-parquet'; path: string };

/**
 * Writes the parts, in order, into one local parquet file (columns are the union by name).
 * Returns the row count. No parts: an empty table with the status and reason columns.
 */
export async function composeParquet(parts: OutputPart[], outPath: string): Promise<number> {
  return withConnection(async (c) => {
    const selects: string[] = [];
    for (const part of parts) {
      if (part.kind === 'jsonl') {
        if ((await stat(part.path)).size === 0) continue;
        selects.push(`SELECT * FROM ${await jsonlReader(c, [part.path])}`);
      } else {
        selects.push(`SELECT *, 'kept' AS status, NULL::VARCHAR AS reason FROM read_parquet(${sqlString(part.path)})`);
      }
    }
    const query = selects.length ? selects.join(' UNION ALL BY NAME ') : `SELECT NULL::VARCHAR AS status, NULL::VARCHAR AS reason WHERE false`;
    const r = await c.runAndReadAll(`COPY (${query}) TO ${sqlString(outPath)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048)`);
    return Number(r.getRowsJS()[0]?.[0] ?? 0);
  });
}

/** Writes rows as one parquet object (through a temporary JSONL file). */
export async function writeParquetRows(store: ObjectStore, key: string, rows: AsyncIterable<Row> | Iterable<Row>): Promise<{ rows: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'finevideo-rows-'));
  try {
    const scratch = new FileStore(dir);
    const sink = createWriteStream(join(dir, 'rows.jsonl'));
    for await (const row of rows as AsyncIterable<Row>) if (!sink.write(toJsonlLine(row))) await once(sink, 'drain');
    sink.end();
    await once(sink, 'close');
    await writeParquetFromJsonl(scratch, ['rows.jsonl'], 'rows.parquet');
    await store.upload(key, join(dir, 'rows.parquet'));
    return { rows: await parquetRowCount(scratch, 'rows.parquet') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
