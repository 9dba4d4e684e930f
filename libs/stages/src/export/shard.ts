import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { exportJsonDuckDbType, type ExportJson } from '@finevideo/dataset';
import { runDuckDb, sqlString } from '@finevideo/storage';

export interface ShardRow {
  /** A local file holding the video's bytes (in the store's folder, or a streamed copy in scratch). */
  videoPath: string;
  json: ExportJson;
}

/**
 * Writes one parquet shard (`mp4` BLOB, `json` STRUCT) with DuckDB under bounded memory.
 *
 * The video bytes are never in JavaScript: read_blob streams the files in the listed order straight into
 * the parquet writer, which flushes a row group every `rowGroupRows` rows. The `json` cell of each file is
 * a lookup in one map built from a small staged JSONL (a scalar subquery, evaluated once), not a join: a
 * join or POSITIONAL JOIN made DuckDB materialise every blob (out of memory at 512 MB on a 1.6 GB shard);
 * base64 in JSON and UNION ALL of one read_blob per file also ran out of memory. With the lookup, one
 * thread and a 768 MB limit, peak RSS stays under 1 GB whatever the shard size (tools/bench/export.ts).
 * Output is deterministic: the same rows give the same bytes (resume gives the same hashes).
 */
export async function writeShard(rows: readonly ShardRow[], scratchDir: string, outPath: string, rowGroupRows: number): Promise<void> {
  if (rows.length === 0) throw new Error('writeShard: expected at least one row, got none');
  const seen = new Set<string>();
  for (const r of rows) {
    // read_blob expands glob characters and a repeated path would be one map key for two rows.
    if (/[*?[\]{}]/.test(r.videoPath)) throw new Error(`writeShard: expected a video path without glob characters, got ${JSON.stringify(r.videoPath)}`);
    if (seen.has(r.videoPath)) throw new Error(`writeShard: expected each video file once, got ${JSON.stringify(r.videoPath)} twice`);
    seen.add(r.videoPath);
  }
  const staged = join(scratchDir, 'rows.jsonl');
  const sink = createWriteStream(staged);
  for (const r of rows) if (!sink.write(`${JSON.stringify({ file: r.videoPath, json: r.json })}\n`)) await once(sink, 'drain');
  sink.end();
  await once(sink, 'close');
  const lookup = `(SELECT map(list(file), list(json)) FROM read_json(${sqlString(staged)}, format = 'newline_delimited', columns = {file: 'VARCHAR', json: ${sqlString(exportJsonDuckDbType())}}))`;
  const files = rows.map((r) => sqlString(r.videoPath)).join(', ');
  // One thread and the export's own memory limit while the shard is written (then the process's settings
  // again): two threads each held a vector of videos, and at 512 MB DuckDB failed on shards of 20 MB videos.
  const saved = await runDuckDb(`SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS memory`);
  await runDuckDb(`SET threads = 1; SET memory_limit = ${sqlString(exportDuckDbMemory())}`);
  try {
    await runDuckDb(
      `COPY (SELECT b.content AS mp4, ${lookup}[b.filename] AS json FROM read_blob([${files}]) b) TO ${sqlString(outPath)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${Math.max(1, Math.floor(rowGroupRows))})`,
    );
  } finally {
    await runDuckDb(`SET threads = ${Number(saved[0]!.threads)}; SET memory_limit = ${sqlString(String(saved[0]!.memory))}`);
  }
}

/** DuckDB's memory limit while a shard is written: FINEVIDEO_EXPORT_DUCKDB_MEMORY, 768MB unless set (peak RSS stays under 1 GB). */
export function exportDuckDbMemory(): string {
  return process.env.FINEVIDEO_EXPORT_DUCKDB_MEMORY || '768MB';
}
