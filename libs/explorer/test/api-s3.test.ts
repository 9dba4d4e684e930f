import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { openStore } from '@finevideo/storage';
import { setEnv, startS3rver, type S3rverHandle } from '@finevideo/testing';
import { ffmpegCoreDir } from '../src/build-web.js';
import { openExplorerSource, startExplorer, type ExplorerServer } from '../src/index.js';
import { raw } from './http.js';
import { ANNOTATED, RUN_ID, VIDEO_IDS, makeFixture, webAssetsIn } from './fixture.js';

const files = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

describe('explorer HTTP API on S3 storage (s3rver): the index from downloaded parts, the video by S3 range requests', function () {
  this.timeout(85_000);
  let dir: string;
  let s3: S3rverHandle;
  let restore: () => void;
  let server: ExplorerServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'explore-s3-'));
    const local = join(dir, 'store');
    await makeFixture(local);
    s3 = await startS3rver({ buckets: ['runs'] });
    restore = setEnv(s3.env);
    const store = openStore('s3://runs/prefix');
    for (const path of files(local)) await store.upload(relative(local, path).split(sep).join('/'), path);
    const assets = await webAssetsIn(dir);
    server = await startExplorer(await openExplorerSource(`s3://runs/prefix/runs/${RUN_ID}`), { assets, cacheDir: join(dir, 'cache') });
  });
  after(async () => {
    await server?.close();
    restore?.();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('GET /api/run and /api/videos read the run from S3 (parts cached locally for DuckDB)', async () => {
    const run = JSON.parse((await raw(server.url, '/api/run')).body.toString()) as { runId: string; indexedVideos: number; stages: { stage: string; done: number }[] };
    assert.equal(run.runId, RUN_ID);
    assert.ok(run.indexedVideos > VIDEO_IDS.length);
    const search = JSON.parse((await raw(server.url, '/api/videos?q=cherry')).body.toString()) as { rows: { video_id: string }[] };
    assert.deepEqual(search.rows.map((r) => r.video_id), [VIDEO_IDS[2]]);
    const detail = JSON.parse((await raw(server.url, `/api/videos/${ANNOTATED}`)).body.toString()) as { annotation: { source: string }; media: { size: number } };
    assert.equal(detail.annotation.source, 'aligned');
    assert.ok(detail.media.size > 0);
  });

  it('without a cache folder given, the parts it downloaded go to a temporary folder of its own, removed when it closes', async () => {
    const own = await startExplorer(await openExplorerSource(`s3://runs/prefix/runs/${RUN_ID}`), { assets: { dir: join(dir, 'web'), ffmpegCoreDir: ffmpegCoreDir() } });
    const cache = own.index.cacheDir;
    try {
      assert.ok(cache.startsWith(tmpdir()) && files(cache).some((f) => f.endsWith('.parquet')), `parts cached in ${cache}`);
    } finally {
      await own.close();
    }
    assert.ok(!existsSync(cache), `${cache} removed on close`);
  });

  it('GET /api/query.sql names the parts where they are (s3:// URLs), never the local copies DuckDB indexed', async () => {
    const sql = (await raw(server.url, '/api/query.sql?status=kept')).body.toString();
    assert.match(sql, new RegExp(`read_parquet\\(\\['s3://runs/prefix/runs/${RUN_ID}/ytcommons/out/`));
    assert.ok(!sql.includes(join(dir, 'cache')), 'no cached part named');
  });

  it('GET /media/<id>.mp4 from S3: whole, a byte range (206), past the end (416), missing (404)', async () => {
    const file = readFileSync(join(dir, 'store', 'media', ANNOTATED, `${ANNOTATED}.mp4`));
    const whole = await raw(server.url, `/media/${ANNOTATED}.mp4`);
    assert.ok(whole.status === 200 && whole.body.equals(file));
    const part = await raw(server.url, `/media/${ANNOTATED}.mp4`, { headers: { Range: 'bytes=1000-1999' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-1999/${file.length}`);
    assert.ok(part.body.equals(file.subarray(1000, 2000)));
    assert.equal((await raw(server.url, `/media/${ANNOTATED}.mp4`, { headers: { Range: `bytes=${file.length + 5}-` } })).status, 416);
    assert.equal((await raw(server.url, '/media/gen00000001.mp4')).status, 404);
    assert.equal((await raw(server.url, '/media/..%2F..%2Fx.mp4')).status, 400);
  });
});
