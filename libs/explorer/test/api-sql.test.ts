import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { raw } from './http.js';
import { EXTRA_ROWS, VIDEO_IDS, serveFixtureForSuite } from './fixture.js';

const sql = async (url: string, q: string) => {
  const r = await raw(url, `/api/sql?q=${encodeURIComponent(q)}`);
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as { columns: string[]; rows: unknown[][]; truncated: boolean; error?: string } };
};

describe('explorer SQL box: read-only DuckDB over the index\'s videos table', function () {
  this.timeout(80_000);
  const server = serveFixtureForSuite('explore-sql-');

  it('answers a SELECT over videos (columns, rows) and stops at the row limit', async () => {
    const r = await sql(server().url, "SELECT category, count(*) AS n FROM videos WHERE category IS NOT NULL GROUP BY ALL ORDER BY category");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.columns, ['category', 'n']);
    assert.deepEqual(r.body.rows.map((x) => x[0]), ['Gameplay Tutorials', 'Recipe Videos', 'Science Explainers']);
    const all = await sql(server().url, 'SELECT video_id, last_stage FROM videos ORDER BY video_id');
    assert.equal(all.body.rows.length, VIDEO_IDS.length + EXTRA_ROWS);
    assert.equal(all.body.truncated, false);
    const many = await sql(server().url, 'SELECT * FROM range(5000)');
    assert.deepEqual([many.status, many.body.rows.length, many.body.truncated], [200, 1000, true]);
  });

  it('refuses to read a file, write, attach, load or install an extension, change a setting, or run two statements (400, saying why)', async () => {
    const refused: [string, RegExp][] = [
      ["SELECT * FROM read_csv('/etc/passwd')", /disabled|Permission/i],
      ["SELECT * FROM read_parquet('/tmp/x.parquet')", /disabled|Permission/i],
      ["SELECT content FROM read_blob('/etc/hostname')", /disabled|Permission/i],
      ["COPY videos TO '/tmp/explore-sql-leak.csv'", /expected a SELECT|disabled|Permission/i],
      ['CREATE TABLE t AS SELECT 1', /expected a SELECT|read-only/i],
      ["DELETE FROM videos", /expected a SELECT|read-only/i],
      ["INSERT INTO videos (video_id) VALUES ('x')", /expected a SELECT|read-only/i],
      ["ATTACH '/tmp/other.duckdb' AS other", /expected a SELECT|disabled|Permission/i],
      ['LOAD httpfs', /expected a SELECT|disabled|Permission/i],
      ['INSTALL httpfs', /expected a SELECT|disabled|Permission/i],
      ['SET enable_external_access = true', /expected a SELECT|locked/i],
      ['SELECT 1; SELECT 2', /expected one statement, got 2/],
      ['SELECT * FROM nope', /nope/],
    ];
    for (const [q, why] of refused) {
      const r = await sql(server().url, q);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
      assert.match(String(r.body.error), why, q);
    }
    assert.ok(!existsSync('/tmp/explore-sql-leak.csv'));
    // The index is still whole.
    const count = await sql(server().url, 'SELECT count(*) FROM videos');
    assert.equal(Number(count.body.rows[0]![0]), VIDEO_IDS.length + EXTRA_ROWS);
  });

  it('stops a query at the time limit', async () => {
    const r = await sql(server().url, 'SELECT count(*) FROM range(100000000000) a');
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /time limit of 5 s/);
  });
});
