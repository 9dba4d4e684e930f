import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mediaLayout } from '@finevideo/core';
import { DEFAULT_POSTER_OPTIONS, makePosterAndStrip } from '@finevideo/media';
import { buildWebAssets, ffmpegCoreDir } from '../src/build-web.js';
import { detectDatasetFolder, startDatasetExplorer, type ExplorerServer } from '../src/index.js';
import { raw } from './http.js';
import { DONE_IDS, DONE_RUN, makeCompleteFixture } from './fixture-complete.js';

describe('explorer posters of a dataset folder (an export copied away from its run)', function () {
  this.timeout(85_000);
  let dir: string;
  let server: ExplorerServer | undefined;
  const [WITH, WITHOUT] = DONE_IDS;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'explore-posters-dataset-'));
    await makeCompleteFixture(join(dir, 'store'));
    const assets = { dir: join(dir, 'web'), ffmpegCoreDir: ffmpegCoreDir() };
    await buildWebAssets(join(import.meta.dirname, '..', 'web'), assets.dir);
    const copy = join(dir, 'downloads', 'my-dataset');
    cpSync(join(dir, 'store', 'export', DONE_RUN), copy, { recursive: true });
    // The pair export writes beside the shards, for one of the two videos.
    const images = await makePosterAndStrip(join(dir, 'store', mediaLayout(WITH!).video), DEFAULT_POSTER_OPTIONS);
    await mkdir(join(copy, 'posters'), { recursive: true });
    await writeFile(join(copy, 'posters', `${WITH}.jpg`), images.poster.jpeg);
    await writeFile(join(copy, 'posters', `${WITH}.strip.jpg`), images.strip.jpeg);
    server = await startDatasetExplorer(detectDatasetFolder(copy)!, { assets, cacheDir: join(dir, 'cache') });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves posters/ beside the shards, and the video page names its poster only when there is one', async () => {
    const url = server!.url;
    const poster = await raw(url, `/posters/${WITH}.jpg`);
    assert.equal(poster.status, 200);
    assert.deepEqual([poster.body[0], poster.body[1]], [0xff, 0xd8], 'a JPEG');
    assert.equal((await raw(url, `/posters/${WITH}.strip.jpg`)).status, 200);
    assert.equal((await raw(url, `/posters/${WITHOUT}.jpg`)).status, 404);
    const page = (id: string) => raw(url, `/api/videos/${id}`).then((r) => JSON.parse(r.body.toString()) as { poster: string | null });
    assert.equal((await page(WITH!)).poster, `/posters/${WITH}.jpg`);
    assert.equal((await page(WITHOUT!)).poster, null);
  });
});
