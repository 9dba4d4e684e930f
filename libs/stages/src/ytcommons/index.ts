import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, SystemicError, errorMessage, locationWithoutCredentials, type MapStage, type ObjectStore, type Outcome, type Row } from '@finevideo/core';
import { FileStore, duckDbSystemicError, isTemporaryName, openStore, queryRows, runDuckDb, sqlIdent, sqlString } from '@finevideo/storage';
import { SOURCE_REF_COLUMNS, sourceStore, type SourceRef } from './source-text.js';

export { SOURCE_REF_COLUMNS, sourceRefOf, withSourceText, type SourceRef, type SourceTextOptions } from './source-text.js';

/** The columns FineVideo kept from YouTube-Commons (source_language is derived, see below). */
export const CONTRACT_COLUMNS = [
  'acodec', 'age_limit', 'categories', 'channel', 'channel_follower_count', 'channel_id', 'character_count', 'comment_count',
  'date', 'description', 'duration_string', 'language', 'license', 'like_count', 'original_language', 'resolution', 'tags',
  'text', 'title', 'transcription_language', 'upload_date', 'vcodec', 'video_id', 'video_link', 'view_count', 'word_count',
] as const;

/**
 * The columns ytcommons writes: the contract's metadata without the transcript (`text`, most of a
 * shard's bytes). Later stages read a transcript from its source shard through the source_* reference.
 */
export const OUTPUT_COLUMNS = CONTRACT_COLUMNS.filter((c) => c !== 'text');

/** The checks, in the order a row meets them: the first that fails is its drop reason. */
export const DROP_REASONS = {
  notEnglishOriginal: 'not-english-original',
  notEnglishTranscript: 'not-english-transcript',
  tooFewWords: 'too-few-words',
} as const;

export const ytcommonsParams = z.strictObject({
  /** Folder, file:// or s3:// prefix holding YouTube-Commons parquet shards. */
  source: locationWithoutCredentials('source'),
  /** Only shard names ending with this are listed. */
  suffix: z.string().default('.parquet'),
  minWords: z.number().int().min(0).default(50),
  language: z.string().default('en'),
});
export type YtcommonsParams = z.infer<typeof ytcommonsParams>;

export interface ShardItem {
  key: string;
  size: number;
  /** Modification time (folders) or ETag (S3) when planned: shards are immutable inputs. */
  version?: string | null;
  /** The raw bytes of a file name that is not valid UTF-8 (as \xNN escapes): the shard is an error row. */
  badName?: string;
}

/** The SQL for the source_language column: the shard's own, else language_id_method, else null. */
export function sourceLanguageExpression(columns: ReadonlySet<string>): string {
  if (columns.has('source_language')) return 'source_language';
  if (columns.has('language_id_method')) return 'language_id_method AS source_language';
  return 'NULL::VARCHAR AS source_language';
}

/** Video ids are strings from the first stage on (integer ids are cast). */
const ID = 'CAST(video_id AS VARCHAR)';
/** An id that can name a row downstream: not NULL, not blank, no whitespace, control characters or slashes, at most 64 characters. */
const VALID_ID = `(${ID} IS NOT NULL AND length(${ID}) BETWEEN 1 AND 64 AND NOT regexp_matches(${ID}, '[\\s/\\\\[:cntrl:]]'))`;

const decoder = new TextDecoder('utf-8', { fatal: true });
const escapeBytes = (name: Buffer) => [...name].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
const errno = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/**
 * The shards of a folder, read with raw (Buffer) names: a name that is not valid UTF-8 becomes an
 * item of its own (an error row), not a crash of the listing.
 */
async function* folderShards(store: FileStore, source: string, suffix: string): AsyncIterable<ShardItem> {
  // A source that is a file was refused when the store was opened (openStore names it).
  try {
    await stat(store.root);
  } catch (e) {
    if (errno(e) === 'ENOENT') throw new ConfigError(`ytcommons.params.source: expected a folder of parquet shards, got ${JSON.stringify(source)}, which does not exist`);
    throw e;
  }
  const found: ShardItem[] = [];
  const walk = async (dir: Buffer, prefix: string, rawPrefix: string, bad: boolean): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const raw = entry.name as unknown as Buffer;
      const path = Buffer.concat([dir, Buffer.from('/'), raw]);
      let name: string;
      let badHere = bad;
      try {
        name = decoder.decode(raw);
      } catch {
        name = raw.toString('utf8');
        badHere = true;
      }
      const key = prefix + name;
      const rawKey = rawPrefix + escapeBytes(raw);
      if (entry.isDirectory()) {
        await walk(path, `${key}/`, `${rawKey}/`, badHere);
        continue;
      }
      if (!entry.isFile() || isTemporaryName(name) || !key.endsWith(suffix)) continue;
      const s = await lstat(path);
      found.push({ key, size: s.size, version: s.mtime.toISOString(), ...(badHere ? { badName: rawKey } : {}) });
    }
  };
  await walk(Buffer.from(store.root), '', '', false);
  found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  yield* found;
}

async function* storeShards(store: ObjectStore, source: string, suffix: string): AsyncIterable<ShardItem> {
  try {
    for await (const info of store.list('')) {
      if (!info.key.endsWith(suffix)) continue;
      const version = (info as { version?: unknown }).version;
      yield { key: info.key, size: info.size, version: typeof version === 'string' ? version : null };
    }
  } catch (e) {
    if (/NoSuchBucket/.test(errorMessage(e))) throw new ConfigError(`ytcommons.params.source: expected an existing bucket, got ${JSON.stringify(source)}: ${errorMessage(e)}`);
    throw e;
  }
}

/** A machine failure (out of memory, disk full) fails the chunk; any other failure is the shard's. */
function machineFailure(e: unknown, key: string, signal: AbortSignal): SystemicError | undefined {
  return signal.aborted ? undefined : duckDbSystemicError(e, `shard ${key}`);
}

interface Observed {
  size: number;
  version: string | null;
}

/** Where DuckDB reads the shard, and what the shard is now (checked against the plan). */
async function localShard(store: ObjectStore, item: ShardItem, scratchDir: string): Promise<{ path: string; observed: Observed } | { missing: string }> {
  const local = store.localPath(item.key);
  // DuckDB expands glob characters in a path: a shard named "part-*.parquet" would read its neighbours too.
  if (local && !/[*?[\]{}]/.test(item.key)) {
    try {
      const s = await stat(local);
      return { path: local, observed: { size: s.size, version: s.mtime.toISOString() } };
    } catch (e) {
      if (errno(e) === 'ENOENT') return { missing: 'not found' };
      throw e;
    }
  }
  const path = join(scratchDir, 'shard.parquet');
  try {
    await store.download(item.key, path);
  } catch (e) {
    if (errorMessage(e).endsWith('got not found')) return { missing: 'not found' };
    if (errno(e) === 'ENOSPC') throw new SystemicError(`disk full: no space left downloading shard ${item.key} from ${store.uri}`, 'disk full', true, { cause: e });
    // The store is unreachable or refuses: every shard of the chunk would fail the same way.
    throw new SystemicError(`storage download: shard ${item.key} from ${store.uri}: ${errorMessage(e).split('\n')[0]}`, 'storage unreachable', true, { cause: e });
  }
  const s = await stat(path);
  const observed = { size: s.size, version: item.version ?? null };
  if (local) observed.version = (await stat(local)).mtime.toISOString();
  return { path, observed };
}

async function* processShard(item: ShardItem, params: YtcommonsParams, tmpDir: string, signal: AbortSignal): AsyncIterable<Outcome> {
  const shardRow = { shard: item.key };
  if (item.badName !== undefined) {
    yield { status: 'error', reason: `shard-name: expected a UTF-8 file name, got "${item.badName}"`, row: shardRow };
    return;
  }
  signal.throwIfAborted();
  const store = sourceStore(params.source);
  const scratch = await mkdtemp(join(tmpDir, 'shard-'));
  let where: string | undefined;
  // Errors name the shard by its key, not by a scratch path that means nothing afterwards.
  const described = (e: unknown) => (where ? errorMessage(e).split(where).join(item.key) : errorMessage(e)).split('\n')[0];
  const q = { signal };
  try {
    const local = await localShard(store, item, scratch);
    if ('missing' in local) {
      yield { status: 'error', reason: `missing-shard: ${item.key}: expected the shard listed when the run was planned, got ${local.missing}`, row: shardRow };
      return;
    }
    where = local.path;
    const { observed } = local;
    // Later stages read transcripts through a reference to this shard: it must be the shard that was planned.
    if (observed.size !== item.size || (item.version && observed.version && item.version !== observed.version)) {
      yield {
        status: 'error',
        reason: `shard-changed: ${item.key}: expected the shard as planned (${item.size} bytes, ${item.version ?? 'no version'}), got ${observed.size} bytes, ${observed.version ?? 'no version'}; shards are immutable inputs, plan a new run`,
        row: shardRow,
      };
      return;
    }
    const file = `read_parquet(${sqlString(local.path)}, file_row_number = true)`;
    let columns: Set<string>;
    try {
      columns = new Set((await runDuckDb(`DESCRIBE SELECT * FROM read_parquet(${sqlString(local.path)})`, q)).map((r) => String(r.column_name)));
    } catch (e) {
      const systemic = machineFailure(e, item.key, signal);
      if (systemic) throw systemic;
      if (signal.aborted) throw e;
      yield { status: 'error', reason: `unreadable-shard: ${item.key}: ${described(e)}`, row: shardRow };
      return;
    }
    // The transcript column must be there too: later stages read it from this shard.
    const missing = CONTRACT_COLUMNS.filter((c) => !columns.has(c));
    if (missing.length) {
      yield { status: 'error', reason: `schema: ${item.key}: expected the YouTube-Commons columns, got none of ${missing.join(', ')}`, row: shardRow };
      return;
    }
    const lang = sqlString(params.language);
    const english = `original_language = ${lang}`;
    const transcript = `transcription_language = ${lang}`;
    const words = `word_count > ${params.minWords}`;
    // One aggregate pass counts bad ids and the drops by reason; only small columns are read.
    const [counts] = await runDuckDb(`SELECT
      count(*) FILTER (WHERE NOT ${VALID_ID}) AS bad,
      count(*) FILTER (WHERE ${VALID_ID} AND NOT coalesce(${english}, false)) AS a,
      count(*) FILTER (WHERE ${VALID_ID} AND coalesce(${english}, false) AND NOT coalesce(${transcript}, false)) AS b,
      count(*) FILTER (WHERE ${VALID_ID} AND coalesce(${english}, false) AND coalesce(${transcript}, false) AND NOT coalesce(${words}, false)) AS c
      FROM ${file}`, q);
    const ref: Omit<SourceRef, 'source_row'> = { source_uri: store.uri, source_shard: item.key, source_size: observed.size, source_version: observed.version };
    const refColumns = SOURCE_REF_COLUMNS.map((c) => (c === 'source_row' ? 'file_row_number AS source_row' : `${ref[c] === null ? 'NULL::VARCHAR' : typeof ref[c] === 'number' ? `${ref[c]}::BIGINT` : sqlString(String(ref[c]))} AS ${c}`));
    const select = [
      ...OUTPUT_COLUMNS.map((c) => (c === 'video_id' ? `${ID} AS video_id` : sqlIdent(c))),
      sourceLanguageExpression(columns), ...refColumns, `'kept' AS status`, 'NULL::VARCHAR AS reason',
    ].join(', ');
    // Kept rows never pass through JavaScript, and the transcripts are never read: DuckDB filters and
    // projects the shard's metadata columns straight into parquet.
    const kept = join(tmpDir, `kept-${createHash('sha256').update(item.key).digest('hex').slice(0, 16)}.parquet`);
    const written = await runDuckDb(`COPY (SELECT ${select} FROM ${file} WHERE ${VALID_ID} AND ${english} AND ${transcript} AND ${words}) TO ${sqlString(kept)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 8192)`, q);
    yield { status: 'kept-parquet', path: kept, count: Number(written[0]?.Count ?? 0) };
    if (Number(counts?.bad) > 0) {
      // A row without a usable id is an error row with its position: it never vanishes between stages.
      for await (const r of queryRows(`SELECT file_row_number AS row, ${ID} AS id FROM ${file} WHERE NOT ${VALID_ID}`, q)) {
        const got = r.id === null ? 'NULL' : JSON.stringify(String(r.id).slice(0, 80));
        yield { status: 'error', reason: `invalid-id: ${item.key} row ${String(r.row)}: expected a video id (1 to 64 characters without spaces or slashes), got ${got}`, row: { shard: item.key, source_shard: item.key, source_row: Number(r.row), video_id: r.id === null ? null : String(r.id) } };
      }
    }
    const drops: [string, unknown][] = [[DROP_REASONS.notEnglishOriginal, counts?.a], [DROP_REASONS.notEnglishTranscript, counts?.b], [DROP_REASONS.tooFewWords, counts?.c]];
    for (const [reason, n] of drops) if (Number(n) > 0) yield { status: 'dropped', reason, count: Number(n) };
  } catch (e) {
    if (signal.aborted || e instanceof SystemicError || e instanceof ConfigError) throw e;
    const systemic = machineFailure(e, item.key, signal);
    if (systemic) throw systemic;
    // A shard that fails while being read (truncated pages, bad encoding) is data, not a broken chunk.
    yield { status: 'error', reason: `unreadable-shard: ${item.key}: ${described(e)}`, row: shardRow };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Stage 1: English video rows of YouTube-Commons, streamed shard by shard. */
export const ytcommonsStage: MapStage<YtcommonsParams, ShardItem, Row> = {
  name: 'ytcommons',
  kind: 'map',
  description: 'YouTube-Commons parquet shards -> English rows: metadata columns and a reference to each transcript in its shard',
  params: ytcommonsParams,
  image: 'finevideo/stage-ytcommons',
  resources: { pool: 'cpu', cpu: '2', memory: '2Gi' },
  // A shard costs a few hundred milliseconds now that transcripts are not read: ten per chunk keeps a
  // process's start-up small next to its work, and a retried chunk cheap.
  defaultItemsPerChunk: 10,
  itemConcurrency: () => 1,
  async *listItems(ctx) {
    const source = openStore(ctx.params.source, {}, 'source');
    if (source instanceof FileStore) yield* folderShards(source, ctx.params.source, ctx.params.suffix);
    else yield* storeShards(source, ctx.params.source, ctx.params.suffix);
  },
  itemKey: (item) => item.key,
  processItem: (item, ctx) => processShard(item, ctx.params, ctx.tmpDir, ctx.signal),
};
