import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mediaLayout, type ObjectStore, type Outcome } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { jpegDimensions } from '@finevideo/media';
import { dynamismParams, dynamismStage, storePosters, type DynamismRow } from '@finevideo/stages/dynamism';
import { generateAudioOnly, generateVideo, generateWithoutMoov, truncateCopy } from '@finevideo/testing';
import { mediaItemContext } from './media-context.js';

/** A store that hides its folder: the stage must copy the video to its scratch folder (the S3 path). */
function withoutLocalPaths(store: ObjectStore): ObjectStore {
  return Object.assign(Object.create(store) as ObjectStore, { localPath: () => undefined });
}

describe('dynamism stage (real ffmpeg)', function () {
  this.timeout(120_000);
  let dir: string;
  let store: FileStore;
  const ids = { dynamic: 'dynamicVid1', static: 'staticVid01', truncated: 'truncatedV1', noMoov: 'noMoovVideo', audio: 'audioOnly01', absent: 'notStored01' };

  const place = (id: string) => {
    const path = store.localPath(mediaLayout(id).video);
    return mkdir(dirname(path), { recursive: true }).then(() => path);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dynamism-'));
    store = new FileStore(join(dir, 'store'));
    await generateVideo(await place(ids.dynamic), { sections: [{ kind: 'motion', seconds: 70 }, { kind: 'still', seconds: 40 }], audio: true });
    await generateVideo(await place(ids.static), { sections: [{ kind: 'still', seconds: 125 }, { kind: 'motion', seconds: 10 }] });
    await truncateCopy(store.localPath(mediaLayout(ids.static).video), await place(ids.truncated), 0.4);
    await generateWithoutMoov(await place(ids.noMoov), { sections: [{ kind: 'motion', seconds: 10 }] });
    await generateAudioOnly(await place(ids.audio), 10);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const judge = async (id: string, params: Record<string, unknown> = {}, s: ObjectStore = store): Promise<Outcome<DynamismRow>> => {
    const ctx = await mediaItemContext(s, dynamismParams.parse(params));
    const outcome = await dynamismStage.processItem({ video_id: id }, ctx) as Outcome<DynamismRow>;
    assert.deepEqual(await readdir(ctx.tmpDir), [], 'no scratch files left');
    await rm(ctx.tmpDir, { recursive: true, force: true });
    return outcome;
  };

  it('keeps a dynamic video with its figures', async () => {
    const outcome = await judge(ids.dynamic);
    assert.equal(outcome.status, 'kept');
    assert.deepEqual(outcome.status === 'kept' && outcome.row, {
      video_id: ids.dynamic, duration: 110, segments: 2, frozen_segments: 0, frozen_share: 0, static: false, mode: 'full',
    });
  });

  it('the decode that judges a video also leaves its poster and strip beside it (media/<id>/, outside the run)', async () => {
    const keys = mediaLayout(ids.dynamic);
    await store.delete(keys.poster);
    await store.delete(keys.strip);
    await judge(ids.dynamic);
    // 160x120 frames: the poster is not upscaled; the strip is 8 of them side by side.
    assert.deepEqual(jpegDimensions(await store.get(keys.poster)), { width: 160, height: 120 });
    assert.deepEqual(jpegDimensions(await store.get(keys.strip)), { width: 8 * 160, height: 120 });
    await store.delete(keys.poster);
    await judge(ids.dynamic, { posters: false });
    assert.equal(await store.exists(keys.poster), false, 'posters: false makes none');
  });

  it('a poster that cannot be made is a counted warning, not the video\'s error', async () => {
    const ctx = await mediaItemContext(store, dynamismParams.parse({}));
    const keys = { poster: 'media/x/poster.jpg', strip: 'media/x/strip.jpg' };
    assert.equal(await storePosters(ctx, ids.audio, store.localPath(mediaLayout(ids.audio).video)!, 10, keys), null);
    assert.deepEqual(ctx.counters, { poster_warnings: 1 });
    assert.match(ctx.warnings[0]!, /^audioOnly01: no poster: sampling frames of .*matches no streams/);
    assert.equal(await store.exists(keys.poster), false);
    await rm(ctx.tmpDir, { recursive: true, force: true });
  });

  it('drops a static video with reason "static"', async () => {
    const outcome = await judge(ids.static);
    assert.equal(outcome.status, 'dropped');
    assert.equal(outcome.status === 'dropped' && outcome.reason, 'static');
    assert.equal(outcome.status === 'dropped' && outcome.row?.frozen_segments, 2);
    assert.equal(outcome.status === 'dropped' && outcome.row?.segments, 3);
  });

  it('copies the video to scratch when the store has no local paths, and agrees', async () => {
    const outcome = await judge(ids.static, {}, withoutLocalPaths(store));
    assert.equal(outcome.status, 'dropped');
  });

  it('fast mode gives a verdict labelled fast', async () => {
    const outcome = await judge(ids.static, { mode: 'fast' });
    assert.equal(outcome.status === 'dropped' && outcome.row?.mode, 'fast');
  });

  const errors: [keyof typeof ids, RegExp][] = [
    ['truncated', /^decode failed: /],
    ['noMoov', /^probe failed: /],
    ['audio', /^no video stream$/],
    ['absent', /^video missing: /],
  ];
  for (const [name, reason] of errors) {
    it(`${name}: error row with reason ${reason}`, async () => {
      const outcome = await judge(ids[name]);
      assert.equal(outcome.status, 'error');
      assert.match(outcome.status === 'error' ? outcome.reason : '', reason);
    });
  }
});
