import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { generateVideo } from '@finevideo/testing';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebAssets } from '../src/build-web.js';
import { webAssetsIn } from './fixture.js';
import { openExplorerTarget, startDatasetExplorer, type ExplorerServer } from '../src/index.js';
import { raw } from './http.js';
import { BASELINE, DONE_IDS, DONE_RUN, SOURCE_TEXT, exportJson, makeCompleteFixture, writeExportShard } from './fixture-complete.js';

const NOT_SELECTED_MP4 = 'other';

const get = async <T>(url: string, path: string): Promise<T> => {
  const r = await raw(url, path);
  assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
  return JSON.parse(r.body.toString('utf8')) as T;
};

/** Every byte of the video through range requests of the server, compared with the file it was made from. */
async function assertServesVideo(url: string, id: string, file: Buffer): Promise<void> {
  const head = await raw(url, `/media/${id}.mp4`, { method: 'HEAD' });
  assert.equal(head.headers['content-length'], String(file.length));
  const part = await raw(url, `/media/${id}.mp4`, { headers: { Range: 'bytes=100-1099' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 100-1099/${file.length}`);
  assert.ok(part.body.equals(file.subarray(100, 1100)));
  const whole = await raw(url, `/media/${id}.mp4`);
  assert.ok(whole.status === 200 && whole.body.equals(file));
  assert.equal((await raw(url, `/media/${id}.mp4`, { headers: { Range: `bytes=${file.length}-` } })).status, 416);
}

describe('explorer on datasets as people receive them: an export copied away from its run, and the flat published layout', function () {
  this.timeout(85_000);
  let dir: string;
  let assets: WebAssets;
  const servers: ExplorerServer[] = [];
  const video = (id: string) => readFileSync(join(dir, 'store', 'media', id, `${id}.mp4`));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'explore-dataset-'));
    await makeCompleteFixture(join(dir, 'store'));
    assets = await webAssetsIn(dir);
  });
  after(async () => {
    for (const s of servers) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an export folder copied elsewhere (no run beside it): everything from its index.parquet and shards, videos out of the mp4 cells by range', async () => {
    const copy = join(dir, 'downloads', 'my-dataset');
    cpSync(join(dir, 'store', 'export', DONE_RUN), copy, { recursive: true });
    const target = await openExplorerTarget(copy);
    assert.equal(target.kind, 'dataset');
    assert.ok(target.kind === 'dataset' && target.folder.layout === 'export');
    const server = await startDatasetExplorer(target.kind === 'dataset' ? target.folder : (undefined as never), { assets, cacheDir: join(dir, 'cache-export') });
    servers.push(server);
    const run = await get<{ kind: string; headline: { videosSeen: number; endKept: number }; export: { card: boolean } }>(server.url, '/api/run');
    assert.deepEqual([run.kind, run.headline.videosSeen, run.headline.endKept, run.export.card], ['dataset', 2, 2, true]);
    const d = await get<{ categories: { category: string; topLevel: string }[] }>(server.url, '/api/dataset');
    assert.deepEqual(d.categories.map((c) => [c.category, c.topLevel]), [['Painting Tutorials', 'Art & Creativity'], ['Science Explainers', 'Education']]);
    const page = await get<{ total: number; rows: { video_id: string; title: string; category: string }[] }>(server.url, '/api/videos?sort=video_id');
    assert.deepEqual(page.rows.map((r) => [r.video_id, r.category]), [[DONE_IDS[0], 'Painting Tutorials'], [DONE_IDS[1], 'Science Explainers']]);
    const search = await get<{ rows: { video_id: string }[] }>(server.url, '/api/videos?q=science');
    assert.deepEqual(search.rows.map((r) => r.video_id), [DONE_IDS[1]]);
    const detail = await get<{ annotation: { valid: boolean; contentMetadata: { scenes: unknown[] } }; transcript: unknown; sourceText: string; media: { size: number } }>(server.url, `/api/videos/${DONE_IDS[1]}`);
    assert.equal(detail.annotation.valid, true);
    assert.equal(detail.annotation.contentMetadata.scenes.length, BASELINE.scenes.length);
    assert.deepEqual([detail.transcript, detail.sourceText], [null, SOURCE_TEXT]);
    const first = await get<{ transcript: { start: number; text: string }[] }>(server.url, `/api/videos/${DONE_IDS[0]}`);
    assert.deepEqual(first.transcript.map((c) => [c.start, c.text]), [[0.5, 'Welcome to the first part.']]);
    await assertServesVideo(server.url, DONE_IDS[0], video(DONE_IDS[0]));
    assert.equal((await raw(server.url, '/api/videos/zzzzzzzzzzz')).status, 404);
    assert.equal((await raw(server.url, '/media/zzzzzzzzzzz.mp4')).status, 404);
  });

  it('the flat published layout (data/train-*.parquet, no index, no card): the index from the json column, ids from original_video_filename or the row\'s place', async () => {
    const flat = join(dir, 'finevideo-local');
    await mkdir(join(flat, 'data'), { recursive: true });
    const media = (id: string) => (id === NOT_SELECTED_MP4 ? join(dir, 'other.mp4') : join(dir, 'store', 'media', id, `${id}.mp4`));
    await generateVideo(join(dir, 'other.mp4'), { sections: [{ kind: 'still', seconds: 2 }], fps: 5, audio: false, gop: 5 });
    // The first shard stored uncompressed (its video is served by offset out of the shard), the second snappy (its cell is copied once to the cache).
    await writeExportShard(join(flat, 'data', 'train-00000-of-00002.parquet'), [{ mp4: media(NOT_SELECTED_MP4), json: { ...exportJson(DONE_IDS[1], BASELINE), original_video_filename: 'not-an-id.mp4', original_json_filename: 'not-an-id.json' } }, { mp4: media(DONE_IDS[0]), json: { ...exportJson(DONE_IDS[0], BASELINE), original_video_filename: `${DONE_IDS[0]}.mp4` } }], 'uncompressed');
    await writeExportShard(join(flat, 'data', 'train-00001-of-00002.parquet'), [{ mp4: media(DONE_IDS[1]), json: exportJson(DONE_IDS[1], BASELINE) }]);
    const target = await openExplorerTarget(flat);
    assert.ok(target.kind === 'dataset' && target.folder.layout === 'flat' && !target.folder.card);
    const server = await startDatasetExplorer(target.folder, { assets, cacheDir: join(dir, 'cache-flat') });
    servers.push(server);
    const page = await get<{ rows: { video_id: string; category: string; duration: number }[] }>(server.url, '/api/videos?sort=category');
    // The first shard's first row names no video (its file names are not ids): its id is its place (shard 0, row 0).
    assert.deepEqual(page.rows.map((r) => [r.video_id, r.category, r.duration]), [[DONE_IDS[0], 'Painting Tutorials', 12], ['f0000000000', 'Science Explainers', 12], [DONE_IDS[1], 'Science Explainers', 12]]);
    // Row 1 of the uncompressed shard (after another video): its bytes located in the file, nothing copied.
    await assertServesVideo(server.url, DONE_IDS[0], video(DONE_IDS[0]));
    await assertServesVideo(server.url, 'f0000000000', readFileSync(media(NOT_SELECTED_MP4)));
    assert.ok(!existsSync(join(dir, 'cache-flat', 'cells')), 'served by offset out of the shard');
    await assertServesVideo(server.url, DONE_IDS[1], video(DONE_IDS[1]));
    assert.ok(existsSync(join(dir, 'cache-flat', 'cells')), 'a compressed cell is copied to the cache');
  });

  it('a folder that is neither a run nor a dataset is refused with what was expected', async () => {
    await mkdir(join(dir, 'empty', 'data'), { recursive: true });
    await assert.rejects(openExplorerTarget(join(dir, 'empty')), /holds no \.parquet shards: expected data\/train-\*\.parquet/);
    await assert.rejects(openExplorerTarget(join(dir, 'store')), /expected a run folder or URI ending in runs\/<run-id>.*or a dataset folder/);
  });
});
