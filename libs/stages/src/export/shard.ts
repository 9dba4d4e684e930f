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
 * the parquet writer, which flushes a row group every `rowGroupRows` rows. Each file's `json` cell is a
 * connection variable (SET VARIABLE, one per row, from a small staged JSONL) picked by a CASE on the file
 * name: a constant per row, no join. Measured alternatives ran DuckDB out of memory or grew with the
 * shard: a join or POSITIONAL JOIN materialised every blob, a map of the json cells was copied per row
 * (quadratic time, 700+ MB at 200 MB), base64 inside JSON and a UNION ALL of one read_blob per file also
 * failed. With one thread and a 768 MB limit peak RSS stays near 400-500 MB whatever the shard size
 * (tools/bench/export.ts). Output is deterministic: the same rows give the same bytes (resume gives the
 * same hashes).
 */
let shardTables = 0;

export async function writeShard(rows: readonly ShardRow[], scratchDir: string, outPath: string, rowGroupRows: number): Promise<void> {
  if (rows.length === 0) throw new Error('writeShard: expected at least one row, got none');
  const seen = new Set<string>();
  for (const r of rows) {
    // read_blob expands glob characters, and a repeated path would be one CASE branch for two rows.
    if (/[*?[\]{}]/.test(r.videoPath)) throw new Error(`writeShard: expected a video path without glob characters, got ${JSON.stringify(r.videoPath)}`);
    if (seen.has(r.videoPath)) throw new Error(`writeShard: expected each video file once, got ${JSON.stringify(r.videoPath)} twice`);
    seen.add(r.videoPath);
  }
  const staged = join(scratchDir, 'rows.jsonl');
  const sink = createWriteStream(staged);
  for (const r of rows) if (!sink.write(`${JSON.stringify({ file: r.videoPath, json: r.json })}\n`)) await once(sink, 'drain');
  sink.end();
  await once(sink, 'close');
  // A table of the in-memory database (runDuckDb opens a connection per call; TEMP tables are per connection).
  const table = `export_shard_json_${++shardTables}`;
  await runDuckDb(`CREATE OR REPLACE TABLE ${table} AS SELECT row_number() OVER () - 1 AS i, json FROM read_json(${sqlString(staged)}, format = 'newline_delimited', columns = {file: 'VARCHAR', json: ${sqlString(exportJsonDuckDbType())}})`);
  // One thread and the export's own memory limit while the shard is written (then the process's settings
  // again): two threads each held a vector of videos, and at 512 MB DuckDB failed on shards of 20 MB videos.
  // Insertion order is kept: the rows must come out in the listed order (the index records their position).
  const saved = await runDuckDb(`SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS memory, current_setting('preserve_insertion_order') AS ordered`);
  await runDuckDb(`SET threads = 1; SET preserve_insertion_order = true; SET memory_limit = ${sqlString(exportDuckDbMemory())}`);
  try {
    // One statement list on one connection: variables (SET VARIABLE) belong to the connection.
    const variables = rows.map((_, i) => `SET VARIABLE export_json_${i} = (SELECT json FROM ${table} WHERE i = ${i});`).join('\n');
    const cases = rows.map((r, i) => `WHEN ${sqlString(r.videoPath)} THEN getvariable('export_json_${i}')`).join(' ');
    await runDuckDb(
      `${variables}\nCOPY (SELECT b.content AS mp4, CASE b.filename ${cases} END AS json FROM read_blob([${rows.map((r) => sqlString(r.videoPath)).join(', ')}]) b) TO ${sqlString(outPath)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${Math.max(1, Math.floor(rowGroupRows))})`,
    );
  } finally {
    await runDuckDb(`DROP TABLE IF EXISTS ${table}`);
    await runDuckDb(`SET threads = ${Number(saved[0]!.threads)}; SET preserve_insertion_order = ${saved[0]!.ordered === true || saved[0]!.ordered === 'true'}; SET memory_limit = ${sqlString(String(saved[0]!.memory))}`);
  }
}

/** DuckDB's memory limit while a shard is written: FINEVIDEO_EXPORT_DUCKDB_MEMORY, 768MB unless set (peak RSS stays under 1 GB). */
export function exportDuckDbMemory(): string {
  return process.env.FINEVIDEO_EXPORT_DUCKDB_MEMORY || '768MB';
}
