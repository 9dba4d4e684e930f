import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { uploadFolder } from './upload.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@finevideo/storage';
import { setEnv, startS3rver, type S3rverHandle } from '@finevideo/testing';
import { openExplorerTarget, startDatasetExplorer, type ExplorerServer } from '../src/index.js';
import { raw } from './http.js';
import { DONE_IDS, DONE_RUN, makeCompleteFixture } from './fixture-complete.js';

// Stand-ins for the export's images: the server passes stored bytes through, never decoding them.
const POSTER_BYTES = Buffer.from('poster of the first video');
const STRIP_BYTES = Buffer.from('strip of the first video');

const get = async <T>(url: string, path: string): Promise<T> => {
  const r = await raw(url, path);
  assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
  return JSON.parse(r.body.toString('utf8')) as T;
};

describe('explorer on a dataset folder on S3 (s3rver): opened like a local one, from a temporary copy removed on close', function () {
  this.timeout(85_000);
  let dir: string;
  let s3: S3rverHandle;
  let restore: () => void;
  const exported = () => join(dir, 'store', 'export', DONE_RUN);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'explore-s3-dataset-'));
    await makeCompleteFixture(join(dir, 'store'));
    s3 = await startS3rver({ buckets: ['datasets'] });
    restore = setEnv(s3.env);
    // The export uploaded on its own (no run beside it), as a dataset is shared.
    await uploadFolder(openStore('s3://datasets/shared/my-dataset'), exported());
    await openStore('s3://datasets/shared/my-dataset').put(`posters/${DONE_IDS[0]}.jpg`, POSTER_BYTES);
    await openStore('s3://datasets/shared/my-dataset').put(`posters/${DONE_IDS[0]}.strip.jpg`, STRIP_BYTES);
  });
  after(async () => {
    restore?.();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('s3://bucket/prefix of an export: index, pages, a video by range, posters fetched from S3, the DuckDB query naming the s3:// files; the copy gone on close', async () => {
    const target = await openExplorerTarget('s3://datasets/shared/my-dataset/');
    assert.ok(target.kind === 'dataset');
    const { folder } = target;
    assert.deepEqual([folder.layout, folder.card, folder.origin, folder.ownsRoot], ['export', true, 's3://datasets/shared/my-dataset', true]);
    assert.ok(folder.root.startsWith(tmpdir()) && existsSync(join(folder.root, 'index.parquet')));
    let server: ExplorerServer | undefined = await startDatasetExplorer(folder, { cacheDir: join(dir, 'cache') });
    try {
      const run = await get<{ kind: string; ref: string; name: string; headline: { endKept: number } }>(server.url, '/api/run');
      assert.deepEqual([run.kind, run.ref, run.name, run.headline.endKept], ['dataset', 's3://datasets/shared/my-dataset', 'my-dataset', 2]);
      const page = await get<{ rows: { video_id: string; category: string }[] }>(server.url, '/api/videos?sort=video_id');
      assert.deepEqual(page.rows.map((r) => [r.video_id, r.category]), [[DONE_IDS[0], 'Painting Tutorials'], [DONE_IDS[1], 'Science Explainers']]);
      const mp4 = readFileSync(join(dir, 'store', 'media', DONE_IDS[0], `${DONE_IDS[0]}.mp4`));
      const part = await raw(server.url, `/media/${DONE_IDS[0]}.mp4`, { headers: { Range: 'bytes=100-1099' } });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(mp4.subarray(100, 1100)));
      // Posters stay on S3, fetched when asked for: the stored bytes, and 404 for a video without one.
      const poster = await raw(server.url, `/posters/${DONE_IDS[0]}.jpg`);
      assert.equal(poster.status, 200);
      assert.equal(poster.headers['content-type'], 'image/jpeg');
      assert.ok(poster.body.equals(POSTER_BYTES));
      assert.ok((await raw(server.url, `/posters/${DONE_IDS[0]}.strip.jpg`)).body.equals(STRIP_BYTES));
      assert.ok(!existsSync(join(folder.root, 'posters')), 'posters are not copied');
      assert.equal((await raw(server.url, `/posters/${DONE_IDS[1]}.jpg`)).status, 404);
      const sql = (await raw(server.url, '/api/query.sql?q=science')).body.toString();
      assert.match(sql, /read_parquet\('s3:\/\/datasets\/shared\/my-dataset\/index\.parquet'\)/);
      assert.match(sql, /'s3:\/\/datasets\/shared\/my-dataset\/data\/[^']+\.parquet'/);
      assert.ok(!sql.includes(folder.root), 'the temporary copy is not named');
      await server.close();
      server = undefined;
      assert.ok(!existsSync(folder.root), `${folder.root} removed on close`);
    } finally {
      await server?.close();
    }
  });

  it('export/<run-id> on S3 without its run beside it opens as a dataset; a prefix without shards is refused with what was expected', async () => {
    await uploadFolder(openStore('s3://datasets/elsewhere'), exported(), `export/${DONE_RUN}/`);
    const target = await openExplorerTarget(`s3://datasets/elsewhere/export/${DONE_RUN}`);
    assert.ok(target.kind === 'dataset' && target.folder.origin === `s3://datasets/elsewhere/export/${DONE_RUN}`);
    await rm(target.folder.root, { recursive: true, force: true });
    await assert.rejects(openExplorerTarget('s3://datasets/nothing-here'), /expected a run folder or URI ending in runs\/<run-id>.*or a dataset folder or s3:\/\/ prefix holding data\/\*\*\/\*\.parquet/);
  });

  it('a shard key that is not a plain relative path is refused before anything is copied', async () => {
    const store = openStore('s3://datasets/odd');
    await store.put('data/.hidden/train-00000-of-00001.parquet', 'x');
    await assert.rejects(openExplorerTarget('s3://datasets/odd'), /expected shard keys like data\/<category>\/train-00000-of-00001\.parquet, got "data\/\.hidden\/train-00000-of-00001\.parquet"/);
    assert.ok(!readdirSync(tmpdir()).some((n) => n.startsWith('finevideo-explore-dataset-') && existsSync(join(tmpdir(), n, 'data', '.hidden'))));
  });
});
