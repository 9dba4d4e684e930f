import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WebAssets } from '../src/build-web.js';
import { parseExplorerRef, type ExplorerServer } from '../src/index.js';
import { parseRange } from '../src/media.js';
import { parseVtt } from '../src/artifacts.js';
import { raw } from './http.js';
import { ANNOTATED, EXTRA_ROWS, MODEL_ANNOTATED, RUN_ID, VIDEO_IDS, serveFixture } from './fixture.js';

const json = (r: { body: Buffer }) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

describe('explorer HTTP API (a generated run on a folder store)', function () {
  this.timeout(80_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let server: ExplorerServer;
  let dir: string;
  let assets: WebAssets;
  let url: string;

  before(async () => {
    served = await serveFixture('explore-api-');
    ({ server, dir, assets } = served);
    url = server.url;
  });
  after(async () => served?.close());

  it('GET /api/run: stages with chunk progress, the funnel from markers, hours from the index, cost counters, the anomaly report; a run with a chunk left is not complete', async () => {
    const r = await raw(url, '/api/run');
    assert.equal(r.status, 200);
    const run = json(r) as { runId: string; complete: boolean; stages: { stage: string; chunks: number; done: number; sealed: boolean; stats: { kept: number; errors: number; reasons: Record<string, number>; counters: Record<string, number> } }[]; funnelHours: { stage: string; status: string; hours: number; videos: number }[]; anomalies: { stage: string }[]; reports: unknown[] };
    assert.equal(run.runId, RUN_ID);
    assert.equal(run.complete, false);
    assert.deepEqual(run.stages.map((s) => s.stage), ['ytcommons', 'download', 'classify', 'select', 'annotate']);
    const annotate = run.stages.find((s) => s.stage === 'annotate')!;
    assert.deepEqual([annotate.chunks, annotate.done, annotate.sealed], [2, 1, false]);
    assert.equal(annotate.stats.counters.cost_usd, 0.42);
    const ytcommons = run.stages[0]!;
    assert.equal(ytcommons.stats.reasons['error:unreadable-shard'], 1);
    assert.equal(ytcommons.stats.reasons['dropped:not-english-original'], EXTRA_ROWS / 4);
    const download = run.stages[1]!;
    assert.ok(download.stats.errors > 0 && download.stats.reasons['error:not-found'] === download.stats.errors);
    // Hours come from the durations the index joined: every kept download row has one.
    const keptHours = run.funnelHours.filter((f) => f.stage === 'download' && f.status === 'kept');
    assert.ok(keptHours.length === 1 && keptHours[0]!.hours > 0 && keptHours[0]!.videos === download.stats.kept);
    assert.equal(run.anomalies[0]?.stage, 'annotate');
    assert.equal(run.reports.length, 1);
  });

  it('GET /api/dataset: per-category candidates and selected videos, facets for the filters, the selection report', async () => {
    const r = await raw(url, '/api/dataset');
    assert.equal(r.status, 200);
    const d = json(r) as { categories: { category: string; candidates: number; selected: number; selectedHours: number }[]; facets: { statuses: { value: string }[]; reasons: { value: string; stage: string }[] }; selection: { videos: number } };
    assert.deepEqual(d.categories.map((c) => c.category), ['Gameplay Tutorials', 'Recipe Videos', 'Science Explainers']);
    assert.equal(d.categories.reduce((a, c) => a + c.selected, 0), 6);
    assert.ok(d.categories.every((c) => c.candidates >= c.selected));
    assert.deepEqual(new Set(d.facets.statuses.map((s) => s.value)), new Set(['kept', 'dropped', 'error']));
    assert.ok(d.facets.reasons.some((r) => r.value === 'not-reached' && r.stage === 'select'));
    assert.equal(d.selection.videos, 6);
  });

  it('GET /api/videos: pages, filters (category, channel, status, stage, reason, duration), title search and sort, all in DuckDB', async () => {
    const all = json(await raw(url, '/api/videos?pageSize=10')) as { total: number; rows: { video_id: string }[] };
    assert.equal(all.total, VIDEO_IDS.length + EXTRA_ROWS);
    assert.equal(all.rows.length, 10);
    const page2 = json(await raw(url, '/api/videos?pageSize=10&page=2')) as { rows: { video_id: string }[] };
    assert.ok(page2.rows.every((r) => !all.rows.some((x) => x.video_id === r.video_id)), 'page 2 holds other rows');
    const search = json(await raw(url, '/api/videos?q=BANANA')) as { total: number; rows: { video_id: string }[] };
    assert.deepEqual(search.rows.map((r) => r.video_id), [VIDEO_IDS[1]]);
    const dropped = json(await raw(url, '/api/videos?status=dropped&stage=ytcommons&reason=not-english-original')) as { total: number };
    assert.equal(dropped.total, EXTRA_ROWS / 4);
    const category = json(await raw(url, `/api/videos?category=${encodeURIComponent('Recipe Videos')}&pageSize=200`)) as { total: number; rows: { category: string }[] };
    assert.ok(category.total > 0 && category.rows.every((r) => r.category === 'Recipe Videos'));
    const channel = json(await raw(url, `/api/videos?channel=${encodeURIComponent('Channel 2')}&pageSize=200`)) as { total: number; rows: { channel: string }[] };
    assert.ok(channel.total > 0 && channel.rows.every((r) => r.channel === 'Channel 2'));
    const long = json(await raw(url, '/api/videos?minDuration=400&sort=duration&dir=desc&pageSize=200')) as { total: number; rows: { duration: number }[] };
    assert.ok(long.total > 0 && long.rows.every((r) => r.duration >= 400));
    assert.ok(long.rows.every((r, i) => i === 0 || long.rows[i - 1]!.duration >= r.duration), 'sorted by duration, longest first');
    const errors = json(await raw(url, '/api/videos?status=error')) as { total: number; rows: { stage: string; reason: string }[] };
    assert.ok(errors.total > 0 && errors.rows.every((r) => r.stage === 'download' && r.reason === 'not-found: HTTP 404'));
  });

  it('GET /api/videos refuses bad parameters with 400 naming them (an injected sort, a page size past the cap, an unknown stage)', async () => {
    for (const query of ['sort=title%3BDROP%20TABLE%20videos', 'pageSize=100000', 'page=0', 'minDuration=-3', 'stage=nope', 'unknown=1', `q=${'x'.repeat(400)}`]) {
      const r = await raw(url, `/api/videos?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(String(json(r).error), /expected|Unrecognized/i, query);
    }
    // A quote in a filter value is a value, not SQL.
    const quoted = json(await raw(url, `/api/videos?q=${encodeURIComponent("x' OR '1'='1")}`)) as { total: number };
    assert.equal(quoted.total, 0);
  });

  it('GET /api/channels: channels by prefix, most videos first', async () => {
    const r = json(await raw(url, '/api/channels?q=channel%201')) as { channels: { channel: string; videos: number }[] };
    assert.ok(r.channels.length > 0 && r.channels.every((c) => c.channel.toLowerCase().startsWith('channel 1')));
    assert.equal((await raw(url, `/api/channels?q=${'a'.repeat(300)}`)).status, 400);
  });

  it('GET /api/videos/:id: the index row, every stage\'s row, the aligned annotation, the transcript and the media link', async () => {
    const r = await raw(url, `/api/videos/${ANNOTATED}`);
    assert.equal(r.status, 200);
    const v = json(r) as { video: { status: string; stage: string }; stages: { stage: string; rows: { status: string }[] }[]; annotation: { source: string; valid: boolean; contentMetadata: { scenes: unknown[] }; provenance: Record<string, unknown> }; transcript: { start: number; text: string }[]; media: { url: string; size: number } };
    assert.deepEqual([v.video.stage, v.video.status], ['annotate', 'kept']);
    assert.deepEqual(v.stages.map((s) => [s.stage, s.rows[0]?.status]), [['ytcommons', 'kept'], ['download', 'kept'], ['classify', 'kept'], ['select', 'kept'], ['annotate', 'kept']]);
    assert.equal(v.annotation.source, 'aligned');
    assert.equal(v.annotation.valid, true, JSON.stringify(v.annotation));
    assert.equal(v.annotation.contentMetadata.scenes.length, 3);
    assert.equal(v.annotation.provenance.model, 'baseline');
    assert.deepEqual(v.transcript.map((c) => c.start), [0.5, 4, 8]);
    assert.equal(v.media.url, `/media/${ANNOTATED}.mp4`);
    const model = json(await raw(url, `/api/videos/${MODEL_ANNOTATED}`)) as { annotation: { source: string; valid: boolean } };
    assert.deepEqual([model.annotation.source, model.annotation.valid], ['annotations', true]);
    // A video dropped early: its verdicts, no annotation, no media.
    const dropped = json(await raw(url, '/api/videos/gen00000000')) as { video: { status: string; reason: string }; annotation: null; media: null; stages: { rows: unknown[] }[] };
    assert.deepEqual([dropped.video.status, dropped.video.reason, dropped.annotation, dropped.media], ['dropped', 'not-english-original', null, null]);
    assert.equal(dropped.stages[1]!.rows.length, 0);
  });

  it('GET /api/videos/:id refuses bad ids and traversal before storage (400), and says 404 for an id not in the run', async () => {
    for (const path of ['/api/videos/short', '/api/videos/..%2F..%2Frun.json', '/api/videos/%2E%2E%2F%2E%2E%2Fetc', '/api/videos/abc%00defghij', "/api/videos/aaaaaaaaaa'"]) {
      const r = await raw(url, path);
      assert.equal(r.status, 400, path);
      assert.match(String(json(r).error), /expected 11 characters/, path);
    }
    assert.equal((await raw(url, '/api/videos/zzzzzzzzzzz')).status, 404);
  });

  it('GET /media/<id>.mp4: whole file, byte ranges (206 with Content-Range), a suffix range, 416 past the end, HEAD', async () => {
    const file = readFileSync(join(dir, 'store', 'media', ANNOTATED, `${ANNOTATED}.mp4`));
    const whole = await raw(url, `/media/${ANNOTATED}.mp4`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    assert.equal(whole.headers['content-type'], 'video/mp4');
    assert.ok(whole.body.equals(file));
    const part = await raw(url, `/media/${ANNOTATED}.mp4`, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${file.length}`);
    assert.ok(part.body.equals(file.subarray(100, 200)));
    const open = await raw(url, `/media/${ANNOTATED}.mp4`, { headers: { Range: `bytes=${file.length - 10}-` } });
    assert.ok(open.status === 206 && open.body.equals(file.subarray(file.length - 10)));
    const suffix = await raw(url, `/media/${ANNOTATED}.mp4`, { headers: { Range: 'bytes=-5' } });
    assert.ok(suffix.status === 206 && suffix.body.equals(file.subarray(file.length - 5)));
    const past = await raw(url, `/media/${ANNOTATED}.mp4`, { headers: { Range: `bytes=${file.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${file.length}`);
    const head = await raw(url, `/media/${ANNOTATED}.mp4`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(file.length));
  });

  it('GET /media refuses bad ids and traversal (400) and says 404 for a video without a file', async () => {
    for (const path of ['/media/..%2F..%2Fruns%2Fexplore-test%2Frun.json', '/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd', `/media/${ANNOTATED}.json`, '/media/x.mp4', `/media/${ANNOTATED}`]) {
      const r = await raw(url, path);
      assert.equal(r.status, 400, path);
    }
    // Unencoded dots are resolved by the URL parser before routing: they never name a file either.
    assert.equal((await raw(url, '/media/../runs/explore-test/run.json')).status, 404);
    assert.equal((await raw(url, '/media/gen00000001.mp4')).status, 404);
  });

  it('GET / and /assets/*: the page and its bundled assets (ffmpeg.wasm core included), nothing outside the built set', async () => {
    const page = await raw(url, '/');
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<script type="module" src="\/assets\/app.js">/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    for (const asset of ['/assets/app.js', '/assets/app.css', '/assets/ffmpeg-worker.js', '/assets/ffmpeg/ffmpeg-core.js']) {
      assert.equal((await raw(url, asset)).status, 200, asset);
    }
    const wasm = await raw(url, '/assets/ffmpeg/ffmpeg-core.wasm', { method: 'HEAD' });
    assert.equal(wasm.headers['content-type'], 'application/wasm');
    // No asset names a CDN: the page works offline.
    assert.doesNotMatch(readFileSync(join(assets.dir, 'app.js'), 'utf8'), /https:\/\/(unpkg|cdn\.jsdelivr|cdnjs)/);
    for (const path of ['/assets/../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/nope.js', '/package.json']) {
      assert.equal((await raw(url, path)).status, 404, path);
    }
  });

  it('is read-only (405 for other methods) and answers only loopback Host names (DNS rebinding)', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) assert.equal((await raw(url, '/api/run', { method })).status, 405, method);
    assert.equal((await raw(url, '/api/run', { headers: { Host: 'evil.example:80' } })).status, 421);
    assert.equal((await raw(url, '/api/run', { headers: { Host: `localhost:${server.port}` } })).status, 200);
  });
});

describe('explorer helpers', () => {
  it('parseRange: single ranges, suffixes, open ends, unsatisfiable and ignored forms', () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: 'whole' });
    assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'range', range: { start: 0, end: 9 } });
    assert.deepEqual(parseRange('bytes=90-500', 100), { kind: 'range', range: { start: 90, end: 99 } });
    assert.deepEqual(parseRange('bytes=-20', 100), { kind: 'range', range: { start: 80, end: 99 } });
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=5-2', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'whole' });
    assert.deepEqual(parseRange('items=0-1', 100), { kind: 'whole' });
  });

  it('parseVtt: cue times in seconds, tags stripped, repeated rolling lines merged', () => {
    const cues = parseVtt('WEBVTT\n\n00:00:01.000 --> 00:00:02.500 align:start\n<c>Hello</c> there\n\n00:00:02.500 --> 00:00:04.000\nHello there\n\n01:02:03.250 --> 01:02:04.000\nLate\n');
    assert.deepEqual(cues, [{ start: 1, end: 4, text: 'Hello there' }, { start: 3723.25, end: 3724, text: 'Late' }]);
  });

  it('parseExplorerRef: a run, an export folder, and a clear error for anything else', () => {
    assert.deepEqual(parseExplorerRef('.data/demo/runs/demo-1'), { storage: '.data/demo', runId: 'demo-1', given: 'run' });
    assert.deepEqual(parseExplorerRef('s3://bucket/prefix/export/demo-1/'), { storage: 's3://bucket/prefix', runId: 'demo-1', given: 'export' });
    assert.throws(() => parseExplorerRef('.data/demo'), /expected a run folder or URI ending in runs\/<run-id>.*got "\.data\/demo"/);
    assert.throws(() => parseExplorerRef('x/runs/../etc'), /expected a run folder/);
  });
});
