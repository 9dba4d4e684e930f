import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { plain } from '@finevideo/storage';
import { openExplorerTarget, startDatasetExplorer, type ExplorerServer } from '../src/index.js';
import { raw } from './http.js';
import { serveFixture } from './fixture.js';
import { BASELINE, DONE_RUN, makeCompleteFixture } from './fixture-complete.js';
import type { Histogram } from '../src/range-fields.js';

const COLUMNS = ['video_id', 'title', 'channel', 'duration', 'category', 'top_level', 'stage', 'status', 'reason', 'selected'] as const;

/** Every row the table shows for a query, page after page, in its columns. */
async function pageRows(url: string, query: string): Promise<unknown[][]> {
  const rows: unknown[][] = [];
  for (let page = 1; ; page++) {
    const r = await raw(url, `/api/videos?${query}&pageSize=200&page=${page}`);
    assert.equal(r.status, 200, r.body.toString());
    const body = JSON.parse(r.body.toString()) as { total: number; rows: Record<string, unknown>[] };
    rows.push(...body.rows.map((row) => COLUMNS.map((c) => row[c] ?? null)));
    if (rows.length >= body.total || !body.rows.length) return rows;
  }
}

/** The copied query run by a DuckDB of its own (not the explorer's) on the files where they are. */
async function queryRows(url: string, query: string): Promise<{ sql: string; rows: unknown[][] }> {
  const r = await raw(url, `/api/query.sql?${query}`);
  assert.equal(r.status, 200, r.body.toString());
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  const sql = r.body.toString();
  const db = await DuckDBInstance.create(':memory:');
  try {
    const connection = await db.connect();
    const result = await connection.runAndReadAll(sql);
    return { sql, rows: result.getRowObjectsJS().map((row) => COLUMNS.map((c) => (plain(row) as Record<string, unknown>)[c] ?? null)) };
  } finally {
    db.closeSync();
  }
}

const VIEWS = [
  '', 'category=Recipe%20Videos&minWordDensity=1&maxDuration=300&sort=duration&dir=desc', 'q=clip%201&status=dropped&sort=title',
  'stage=select&reason=not-reached&minScore=0.9&sort=stage&dir=desc', 'minScenes=3&maxQa=1', "q=it's%20%241", 'status=error&reason=not-found&sort=channel',
];

describe('explorer "copy this view as a DuckDB query": the query, run on the files, gives exactly the rows the table shows', function () {
  this.timeout(85_000);

  describe('a run on a folder store (its stages\' parts where they are)', () => {
    let served: Awaited<ReturnType<typeof serveFixture>>;
    before(async () => {
      served = await serveFixture('explore-query-');
    });
    after(async () => served?.close());

    for (const view of VIEWS) {
      it(`GET /api/query.sql?${view}`, async () => {
        const expected = await pageRows(served.server.url, view);
        const { sql, rows } = await queryRows(served.server.url, view);
        assert.deepEqual(rows, expected);
        if (view.includes('sort')) assert.ok(expected.length > 1, `${view}: more than one row, so the order counts`);
        // The files are read where they are: the run's parts, not the explorer's cache or database.
        assert.match(sql, new RegExp(`read_parquet\\(\\['${served.dir}/store/runs/`));
        assert.doesNotMatch(sql, /cache/);
      });
    }

    it('refuses what the table refuses (a bound that is not a number), naming it', async () => {
      const r = await raw(served.server.url, '/api/query.sql?minQa=many');
      assert.equal(r.status, 400);
      assert.match(r.body.toString(), /minQa: expected a non-negative number, got \\"many\\"/);
    });
  });

  describe('an export folder copied away from its run (index.parquet and the shards)', () => {
    let dir: string;
    let server: ExplorerServer;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'explore-query-dataset-'));
      await makeCompleteFixture(join(dir, 'store'));
      cpSync(join(dir, 'store', 'export', DONE_RUN), join(dir, 'copy'), { recursive: true });
      const target = await openExplorerTarget(join(dir, 'copy'));
      assert.ok(target.kind === 'dataset');
      server = await startDatasetExplorer(target.folder, { cacheDir: join(dir, 'cache') });
    });
    after(async () => {
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('its range filters read the json column: words per second, scenes and Q&A counted, the scenes\' mean dynamismScore, no select score', async () => {
      const r = await raw(server.url, '/api/histograms');
      const byField = new Map((JSON.parse(r.body.toString()) as { histograms: Histogram[] }).histograms.map((h) => [h.field, h]));
      assert.deepEqual([byField.get('wordDensity')!.min, byField.get('wordDensity')!.max], [5 / 12, 5 / 12], 'text_to_speech_word_count 5 over 12 s');
      assert.deepEqual(byField.get('scenes')!.bins.map((b) => [b.from, b.videos]), [[BASELINE.scenes.length, 2]]);
      assert.deepEqual(byField.get('qa')!.bins.map((b) => [b.from, b.videos]), [[BASELINE.qAndA.length, 2]]);
      assert.deepEqual([byField.get('dynamism')!.min, byField.get('dynamism')!.max], [0, 0]);
      assert.deepEqual([byField.get('score')!.min, byField.get('score')!.bins, byField.get('score')!.missing], [null, [], 2]);
    });

    for (const view of ['', 'sort=duration&dir=desc', 'minScenes=1&sort=title']) {
      it(`GET /api/query.sql?${view}`, async () => {
        const expected = await pageRows(server.url, view);
        assert.ok(expected.length > 0);
        const { sql, rows } = await queryRows(server.url, view);
        assert.deepEqual(rows, expected);
        assert.match(sql, new RegExp(`read_parquet\\('${dir}/copy/index.parquet'\\)`));
      });
    }
  });
});
