import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPortFree, openExplorerSource, startExplorer, type ExplorerServer } from '../src/index.js';
import { webAssetsIn } from './fixture.js';
import { raw } from './http.js';
import { COUNTED_DROPS, DONE_IDS, DONE_RUN, SOURCE_TEXT, UNREADABLE_SHARD, makeCompleteFixture } from './fixture-complete.js';

const get = async <T>(url: string, path: string): Promise<T> => {
  const r = await raw(url, path);
  assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
  return JSON.parse(r.body.toString('utf8')) as T;
};

describe('explorer numbers on a finished run shaped like the demo (headline, categories, run-level stages, item errors, baseline annotations)', function () {
  this.timeout(85_000);
  let dir: string;
  let server: ExplorerServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'explore-numbers-'));
    await makeCompleteFixture(join(dir, 'store'));
    const assets = await webAssetsIn(dir);
    server = await startExplorer(await openExplorerSource(join(dir, 'store', 'runs', DONE_RUN)), { assets, cacheDir: join(dir, 'cache') });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the headline: videos seen is the first stage\'s videos (counted drops included, the shard that names no video apart); kept at the end is export, not export-card', async () => {
    const run = await get<{ headline: Record<string, unknown>; stages: { stage: string; runLevel: boolean }[]; itemErrors: { stage: string; item: string; reason: string }[] }>(server.url, '/api/run');
    assert.deepEqual(run.headline, {
      videosSeen: DONE_IDS.length + 2 + COUNTED_DROPS, firstStage: 'ytcommons', itemsWithoutVideo: 1,
      endStage: 'export', endKept: DONE_IDS.length, endHours: (DONE_IDS.length * 12) / 3600, endIsFinal: true,
    });
    assert.deepEqual(run.stages.filter((s) => s.runLevel).map((s) => s.stage), ['export-card']);
    assert.deepEqual(run.itemErrors.map((e) => [e.stage, e.item]), [['ytcommons', UNREADABLE_SHARD]]);
    assert.match(run.itemErrors[0]!.reason, /^unreadable-shard: shard-2\.parquet: /);
  });

  it('one category identity: the fine category of the taxonomy, also for exported videos (never export\'s folder slug), and selected counts agree with select\'s report', async () => {
    const d = await get<{ categories: { category: string; selected: number }[]; facets: { categories: { value: string }[] } }>(server.url, '/api/dataset');
    assert.deepEqual(d.categories.map((c) => [c.category, c.selected]), [['Painting Tutorials', 1], ['Recipe Videos', 0], ['Science Explainers', 1]]);
    assert.ok(!d.facets.categories.some((c) => c.value.includes('_')), JSON.stringify(d.facets.categories));
    const v = await get<{ video: { category: string; top_level: string; stage: string } }>(server.url, `/api/videos/${DONE_IDS[0]}`);
    assert.deepEqual([v.video.category, v.video.top_level, v.video.stage], ['Painting Tutorials', 'Art & Creativity', 'export']);
  });

  it('a video: who annotated it (the baseline), export-card marked run-level, and without subtitles the YouTube-Commons transcript', async () => {
    const withVtt = await get<{ annotator: string; transcript: unknown[]; sourceText: string | null }>(server.url, `/api/videos/${DONE_IDS[0]}`);
    assert.equal(withVtt.annotator, 'baseline annotator');
    assert.equal(withVtt.transcript.length, 1);
    assert.equal(withVtt.sourceText, null);
    const noVtt = await get<{ transcript: unknown; sourceText: string; stages: { stage: string; runLevel: boolean }[] }>(server.url, `/api/videos/${DONE_IDS[1]}`);
    assert.equal(noVtt.transcript, null);
    assert.equal(noVtt.sourceText, SOURCE_TEXT);
    assert.deepEqual(noVtt.stages.filter((s) => s.runLevel).map((s) => s.stage), ['export-card']);
  });

  it('a reason given as its class (as the funnel counts errors) finds the rows with the full reason', async () => {
    const r = await get<{ total: number }>(server.url, '/api/videos?status=dropped&reason=not-reached');
    assert.equal(r.total, 2);
    const prefix = await get<{ total: number }>(server.url, '/api/videos?reason=not');
    assert.equal(prefix.total, 0, 'only a whole class before ":" matches');
  });
});

describe('explore start-up errors that say what to do', function () {
  this.timeout(30_000);

  it('a port in use: a sentence naming it and suggesting --port, before any indexing', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(checkPortFree('127.0.0.1', port), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use .*--port ${port + 1}`));
    } finally {
      taken.close();
    }
    await checkPortFree('127.0.0.1', port);
  });

  it('a file where a run folder is expected: a sentence, not ENOTDIR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'explore-file-'));
    try {
      const file = join(dir, 'notes.txt');
      await writeFile(file, 'not a run');
      await assert.rejects(openExplorerSource(join(file, 'runs', 'r1')), /notes\.txt" is a file, not a folder: expected a run folder/);
      await assert.rejects(openExplorerSource(file), /notes\.txt" is a file, not a folder/);
      assert.ok(existsSync(file));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
