import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePipelineConfig, pipelineStages, runLayout } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { createLogger, createRun, planStage, runChunk } from '@finevideo/runtime';
import { numberedStage } from '@finevideo/testing';
import { ffmpegCoreDir } from '../src/build-web.js';
import { REFRESH_MS, openExplorerSource, startExplorer, type ExplorerServer } from '../src/index.js';
import { raw } from './http.js';

const RUN = 'live';
const CHUNKS = 3;
const PER_CHUNK = 3;
/** Video ids of chunk k: liveVid<k><n> padded to YouTube's 11 characters. */
const idsOf = (chunk: number) => Array.from({ length: PER_CHUNK }, (_, n) => `liveVid${chunk}${n}`.padEnd(11, '0'));

/** A stage that keeps each of CHUNKS * PER_CHUNK videos with a title: rows the explorer indexes. */
const videosStage = numberedStage({
  name: 'videos', description: 'test stage', items: CHUNKS * PER_CHUNK, itemsPerChunk: PER_CHUNK,
  processItem: async ({ n }) => {
    const video_id = idsOf(Math.floor(n / PER_CHUNK))[n % PER_CHUNK]!;
    return { status: 'kept', row: { video_id, title: `title of ${video_id}`, duration_seconds: 60 } };
  },
});

describe('explorer on a run in progress (chunks written by the real runtime while the explorer serves)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: ExplorerServer | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'explore-live-'));
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const listed = async (): Promise<{ total: number; ids: string[]; done: number }> => {
    const videos = JSON.parse((await raw(server!.url, '/api/videos?pageSize=100')).body.toString('utf8')) as { total: number; rows: { video_id: string }[] };
    const run = JSON.parse((await raw(server!.url, '/api/run')).body.toString('utf8')) as { stages: { done: number }[] };
    return { total: videos.total, ids: videos.rows.map((r) => r.video_id).sort(), done: run.stages[0]!.done };
  };

  it('shows each chunk once its marker lands, without a restart, and never the parts of a chunk still being written', async () => {
    const store = new FileStore(join(dir, 'store'));
    const log = createLogger({}, false);
    const config = parsePipelineConfig(`name: live\nstorage: ${store.uri}\nstages:\n  - stage: videos\n`);
    const manifest = await createRun(config, store, RUN);
    await planStage(manifest, pipelineStages(config)[0]!, undefined, { store, log, resolveStage: () => videosStage });
    const chunk = (index: number, on = store) => runChunk(videosStage, { store: on, runId: RUN, stageName: 'videos', chunkIndex: index, attempt: 1, log });
    await chunk(0);
    const web = join(dir, 'web');
    await mkdir(web);
    server = await startExplorer(await openExplorerSource(join(dir, 'store', 'runs', RUN)), { assets: { dir: web, ffmpegCoreDir: ffmpegCoreDir() }, cacheDir: join(dir, 'cache') });
    assert.deepEqual(await listed(), { total: 3, ids: idsOf(0), done: 1 });

    // Chunk 1 in flight: its parquet part is uploaded, its done marker (written last) held back.
    const layout = runLayout(RUN).stage('videos');
    let releaseMarker!: () => void;
    const markerHeld = new Promise<void>((resolve) => (releaseMarker = resolve));
    const writing = Object.create(store) as FileStore;
    writing.createIfAbsent = async (key, body) => {
      if (key === layout.done(1)) await markerHeld;
      return store.createIfAbsent(key, body);
    };
    const inFlight = chunk(1, writing);
    for (const start = Date.now(); !(await store.exists(layout.part(1, 0))); await sleep(20)) {
      assert.ok(Date.now() - start < 20_000, 'chunk 1 wrote its part');
    }
    // Past the explorer's refresh interval, the next request reads the run again: the part is there, the marker not.
    await sleep(REFRESH_MS + 200);
    assert.deepEqual(await listed(), { total: 3, ids: idsOf(0), done: 1 }, 'the half-written chunk is not shown');

    releaseMarker();
    await inFlight;
    await chunk(2);
    let now = await listed();
    for (const start = Date.now(); now.total < 9 && Date.now() - start < 20_000; now = await listed()) await sleep(250);
    assert.deepEqual(now, { total: 9, ids: [...idsOf(0), ...idsOf(1), ...idsOf(2)].sort(), done: 3 }, 'every chunk shown once its marker landed');
    const page = JSON.parse((await raw(server.url, `/api/videos/${idsOf(2)[0]}`)).body.toString('utf8')) as { video: { title: string } };
    assert.equal(page.video.title, `title of ${idsOf(2)[0]}`);
  });
});
