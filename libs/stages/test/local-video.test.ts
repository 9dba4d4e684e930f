import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mediaLayout } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { truncateCopy } from '@finevideo/testing';
import { openVideo } from '../src/local-video.js';
import { annotateAll, itemOf, rowOf, storeWithVideos, videoId } from './annotate-helpers.js';
import { withoutLocalPaths } from './media-context.js';

describe('openVideo: a stored video checked whole before a stage uses it (real ffprobe)', function () {
  this.timeout(120_000);
  let store: FileStore;
  let dir: string;
  const whole = videoId(0);
  const cut = videoId(1);

  before(async () => {
    ({ store, dir } = await storeWithVideos(2));
    // A third of the file, as a probe found (200 KB of 658 KB): faststart keeps the index, the frames are gone.
    const path = store.localPath(mediaLayout(cut).video)!;
    await truncateCopy(store.localPath(mediaLayout(whole).video)!, `${path}.cut`, 0.33);
    await rm(path);
    await store.upload(mediaLayout(cut).video, `${path}.cut`);
    await rm(`${path}.cut`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('opens a whole video in place with its probed facts; a missing one is "video missing"', async () => {
    const opened = await openVideo(store, whole, dir, 'test', { expectedBytes: (await stat(store.localPath(mediaLayout(whole).video)!)).size });
    assert.ok(opened.ok);
    assert.equal(opened.video.copied, false);
    assert.ok(opened.facts.durationSec > 5);
    const missing = await openVideo(store, 'absent00001', dir, 'test');
    assert.deepEqual(missing, { ok: false, reason: 'video missing: expected media/absent00001/absent00001.mp4 in storage, got none' });
  });

  it('a truncated video is "video-corrupt" naming the file and what is missing; its scratch copy is removed', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'open-video-'));
    try {
      for (const s of [store, withoutLocalPaths(store)]) {
        const opened = await openVideo(s, cut, scratch, 'test');
        assert.equal(opened.ok, false);
        assert.match(!opened.ok ? opened.reason : '', /^video-corrupt: media\/vid00000001\/vid00000001\.mp4: expected video frames up to 6\.00 s/);
      }
      assert.deepEqual(await readdir(scratch), [], 'no copy left behind');
      const resized = await openVideo(store, whole, scratch, 'test', { expectedBytes: 658_000 });
      assert.match(!resized.ok ? resized.reason : '', /^video-corrupt: media\/vid00000000\/vid00000000\.mp4: expected 658000 bytes as downloaded, got \d+$/);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('annotate: a truncated video is an error row video-corrupt, never annotated (no annotation stored)', async () => {
    const { out } = await annotateAll(store, { backend: 'baseline' }, [itemOf(0), itemOf(1)]);
    assert.equal(out[0]!.status, 'kept');
    assert.equal(out[1]!.status, 'error');
    assert.match((out[1] as { reason: string }).reason, /^video-corrupt: media\/vid00000001\/vid00000001\.mp4: /);
    assert.equal(rowOf(out[1]!).video_id, cut);
    assert.equal(await store.exists(`annotations/${cut}.json`), false);
  });
});
