import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeParquet, runDuckDb } from '../src/parquet.js';

const sql = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * A stage table is one parquet part per chunk, each composed on its own: a chunk with only kept rows
 * (reason all null) and a chunk with error rows must give `reason` the same type, or the README's
 * query over all parts fails.
 */
describe('run tables: one type per column across parts', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-table-types-'));
    await mkdir(join(dir, 'out'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("the README's query reads a table whose parts hold only kept rows, and error rows", async () => {
    const keptOnly = join(dir, 'kept.jsonl');
    const withErrors = join(dir, 'errors.jsonl');
    await writeFile(keptOnly, ['{"video_id":"a","n":1,"status":"kept","reason":null}', '{"video_id":"b","n":2,"status":"kept","reason":null}', ''].join('\n'));
    await writeFile(withErrors, ['{"video_id":"c","n":3,"status":"kept","reason":null}', '{"video_id":"d","n":null,"status":"error","reason":"error:llm timeout"}', ''].join('\n'));
    await composeParquet([{ kind: 'jsonl', path: keptOnly }], join(dir, 'out', 'part-000000.parquet'));
    await composeParquet([{ kind: 'jsonl', path: withErrors }], join(dir, 'out', 'part-000001.parquet'));
    const glob = join(dir, 'out', '*.parquet');
    const types = await runDuckDb(`SELECT DISTINCT type FROM parquet_schema(${sql(glob)}) WHERE name = 'reason'`);
    assert.equal(types.length, 1, `reason: expected one type across parts, got ${JSON.stringify(types)}`);
    const kept = await runDuckDb(`SELECT video_id FROM read_parquet(${sql(glob)}, union_by_name = true) WHERE status = 'kept' ORDER BY video_id`);
    assert.deepEqual(kept.map((r) => r.video_id), ['a', 'b', 'c']);
    const errors = await runDuckDb(`SELECT reason FROM read_parquet(${sql(glob)}, union_by_name = true) WHERE status = 'error'`);
    assert.deepEqual(errors, [{ reason: 'error:llm timeout' }], 'reason is text');
  });
});
