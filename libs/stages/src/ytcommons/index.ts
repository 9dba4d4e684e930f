import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage, type MapStage, type Outcome, type Row } from '@finevideo/core';
import { openStore, runDuckDb, sqlIdent, sqlString } from '@finevideo/storage';

/** The columns FineVideo kept from YouTube-Commons (source_language is derived, see below). */
export const CONTRACT_COLUMNS = [
  'acodec', 'age_limit', 'categories', 'channel', 'channel_follower_count', 'channel_id', 'character_count', 'comment_count',
  'date', 'description', 'duration_string', 'language', 'license', 'like_count', 'original_language', 'resolution', 'tags',
  'text', 'title', 'transcription_language', 'upload_date', 'vcodec', 'video_id', 'video_link', 'view_count', 'word_count',
] as const;

/** The checks, in the order a row meets them: the first that fails is its drop reason. */
export const DROP_REASONS = {
  notEnglishOriginal: 'not-english-original',
  notEnglishTranscript: 'not-english-transcript',
  tooFewWords: 'too-few-words',
} as const;

export const ytcommonsParams = z.strictObject({
  /** Folder, file:// or s3:// prefix holding YouTube-Commons parquet shards. */
  source: z.string().min(1),
  /** Only shard names ending with this are listed. */
  suffix: z.string().default('.parquet'),
  minWords: z.number().int().min(0).default(50),
  language: z.string().default('en'),
});
export type YtcommonsParams = z.infer<typeof ytcommonsParams>;

export interface ShardItem {
  key: string;
  size: number;
}

/** The SQL for the source_language column: the shard's own, else language_id_method, else null. */
export function sourceLanguageExpression(columns: ReadonlySet<string>): string {
  if (columns.has('source_language')) return 'source_language';
  if (columns.has('language_id_method')) return 'language_id_method AS source_language';
  return 'NULL::VARCHAR AS source_language';
}

async function* processShard(item: ShardItem, params: YtcommonsParams, tmpDir: string): AsyncIterable<Outcome> {
  const store = openStore(params.source);
  let scratch: string | undefined;
  // DuckDB expands glob characters in a path: a shard named "part-*.parquet" would read its neighbours too.
  let path = /[*?[\]{}]/.test(item.key) ? undefined : store.localPath(item.key);
  // Errors name the shard by its key, not by a scratch path that means nothing afterwards.
  const described = (e: unknown) => (path ? errorMessage(e).split(path).join(item.key) : errorMessage(e)).split('\n')[0];
  try {
    if (!path) {
      scratch = await mkdtemp(join(tmpDir, 'shard-'));
      path = join(scratch, 'shard.parquet');
      await store.download(item.key, path);
    }
    const file = `read_parquet(${sqlString(path)})`;
    let columns: Set<string>;
    try {
      columns = new Set((await runDuckDb(`DESCRIBE SELECT * FROM ${file}`)).map((r) => String(r.column_name)));
    } catch (e) {
      yield { status: 'error', reason: `unreadable-shard: ${item.key}: ${described(e)}`, row: { shard: item.key } };
      return;
    }
    const missing = CONTRACT_COLUMNS.filter((c) => !columns.has(c));
    if (missing.length) {
      yield { status: 'error', reason: `schema: ${item.key}: expected the YouTube-Commons columns, got none of ${missing.join(', ')}`, row: { shard: item.key } };
      return;
    }
    const lang = sqlString(params.language);
    const english = `original_language = ${lang}`;
    const transcript = `transcription_language = ${lang}`;
    const words = `word_count > ${params.minWords}`;
    // One aggregate pass counts the drops by reason; the kept rows stream in a second, projected pass.
    const [counts] = await runDuckDb(`SELECT
      count(*) FILTER (WHERE NOT coalesce(${english}, false)) AS a,
      count(*) FILTER (WHERE coalesce(${english}, false) AND NOT coalesce(${transcript}, false)) AS b,
      count(*) FILTER (WHERE coalesce(${english}, false) AND coalesce(${transcript}, false) AND NOT coalesce(${words}, false)) AS c
      FROM ${file}`);
    // The status columns make the file an output part as it is (no second copy of the transcripts).
    const select = [...CONTRACT_COLUMNS.map(sqlIdent), sourceLanguageExpression(columns), `'kept' AS status`, 'NULL::VARCHAR AS reason'].join(', ');
    // Kept rows never pass through JavaScript: DuckDB filters and projects the shard straight into parquet.
    const kept = join(tmpDir, `kept-${createHash('sha256').update(item.key).digest('hex').slice(0, 16)}.parquet`);
    const written = await runDuckDb(`COPY (SELECT ${select} FROM ${file} WHERE ${english} AND ${transcript} AND ${words}) TO ${sqlString(kept)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048)`);
    yield { status: 'kept-parquet', path: kept, count: Number(written[0]?.Count ?? 0) };
    const drops: [string, unknown][] = [[DROP_REASONS.notEnglishOriginal, counts?.a], [DROP_REASONS.notEnglishTranscript, counts?.b], [DROP_REASONS.tooFewWords, counts?.c]];
    for (const [reason, n] of drops) if (Number(n) > 0) yield { status: 'dropped', reason, count: Number(n) };
  } catch (e) {
    // A shard that fails while being read (truncated pages, bad encoding) is data, not a broken chunk.
    yield { status: 'error', reason: `unreadable-shard: ${item.key}: ${described(e)}`, row: { shard: item.key } };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** Stage 1: English video rows of YouTube-Commons, streamed shard by shard. */
export const ytcommonsStage: MapStage<YtcommonsParams, ShardItem, Row> = {
  name: 'ytcommons',
  kind: 'map',
  description: 'YouTube-Commons parquet shards -> English rows with the contract columns',
  params: ytcommonsParams,
  image: 'finevideo/stage-ytcommons',
  resources: { pool: 'cpu', cpu: '2', memory: '2Gi' },
  defaultItemsPerChunk: 1,
  itemConcurrency: () => 1,
  async *listItems(ctx) {
    const source = openStore(ctx.params.source);
    for await (const { key, size } of source.list('')) if (key.endsWith(ctx.params.suffix)) yield { key, size };
  },
  itemKey: (item) => item.key,
  processItem: (item, ctx) => processShard(item, ctx.params, ctx.tmpDir),
};
