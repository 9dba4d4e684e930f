import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Options } from '@finevideo/core';
import { openStore, sqlString } from '@finevideo/storage';
import type { ExplorerDb } from './duckdb.js';

/** The most of a YouTube-Commons transcript shown (read in DuckDB: a long one never reaches JavaScript whole). */
const MAX_TEXT_CHARS = 200_000;

/**
 * The YouTube-Commons transcript of a video without subtitles: ytcommons copies no text, it records the
 * source shard (store URI and key) and the row; the text is read from there (a `text` column of the
 * row itself first). undefined when the row names no readable source.
 */
export async function readSourceText(db: ExplorerDb, row: Record<string, unknown> | undefined, s3: S3Options, cacheDir: string): Promise<string | undefined> {
  if (!row) return undefined;
  if (typeof row.text === 'string' && row.text) return row.text.slice(0, MAX_TEXT_CHARS);
  const { source_uri: uri, source_shard: key } = row;
  const rowNumber = Number(row.source_row);
  if (typeof uri !== 'string' || typeof key !== 'string' || !Number.isSafeInteger(rowNumber) || rowNumber < 0) return undefined;
  try {
    const store = openStore(uri, s3);
    let path = store.localPath(key);
    if (path === undefined) {
      path = join(cacheDir, 'sources', `${createHash('sha256').update(`${uri}\0${key}\0${String(row.source_version)}`).digest('hex').slice(0, 32)}.parquet`);
      if (!existsSync(path)) {
        await mkdir(join(cacheDir, 'sources'), { recursive: true });
        await store.download(key, `${path}.tmp-${process.pid}`);
        await rename(`${path}.tmp-${process.pid}`, path);
      }
    } else if (!existsSync(path)) return undefined;
    const found = await db.all(`SELECT left(CAST(text AS VARCHAR), ${MAX_TEXT_CHARS}) AS text FROM read_parquet(${sqlString(path)}, file_row_number = true) WHERE file_row_number = $1`, [rowNumber]);
    const text = found[0]?.text;
    return typeof text === 'string' && text ? text : undefined;
  } catch (e) {
    process.stderr.write(`explore: transcript of ${String(row.video_id)} from ${uri} ${key}: ${(e as Error).message}\n`);
    return undefined;
  }
}
