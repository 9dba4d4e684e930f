import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameSamplingError, fitEven, jpegDimensions, makePosterAndStrip } from '@finevideo/media';
import { generateAudioOnly, generateVideo } from '@finevideo/testing';

describe('poster and hover-scrub strip', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'poster-'));
    await Promise.all([
      generateVideo(join(dir, 'wide.mp4'), { sections: [{ kind: 'motion', seconds: 12 }], width: 640, height: 360, fps: 10 }),
      generateVideo(join(dir, 'short.mp4'), { sections: [{ kind: 'motion', seconds: 0.3 }], width: 100, height: 80, fps: 10 }),
      generateAudioOnly(join(dir, 'audio.m4a'), 2),
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('fits sides to the longer side, even, never upscaled', () => {
    assert.deepEqual(fitEven(640, 360, 320), { width: 320, height: 180 });
    assert.deepEqual(fitEven(360, 640, 160), { width: 90, height: 160 });
    assert.deepEqual(fitEven(100, 80, 320), { width: 100, height: 80 });
  });

  it('makes a poster at posterSide and a strip of stripFrames frames side by side, both real JPEGs', async () => {
    const { poster, strip } = await makePosterAndStrip(join(dir, 'wide.mp4'), { posterSide: 320, stripFrames: 8, stripFrameSide: 160 });
    assert.deepEqual(jpegDimensions(poster.jpeg), { width: 320, height: 180 });
    assert.deepEqual([poster.width, poster.height], [320, 180]);
    assert.equal(strip.frames, 8);
    assert.deepEqual(jpegDimensions(strip.jpeg), { width: 8 * 160, height: 90 });
    assert.deepEqual([strip.width, strip.height], [1280, 90]);
  });

  it('a video shorter than the strip gets the frames it has', async () => {
    const { poster, strip } = await makePosterAndStrip(join(dir, 'short.mp4'), { posterSide: 320, stripFrames: 8, stripFrameSide: 40 });
    assert.deepEqual([poster.width, poster.height], [100, 80]);
    assert.ok(strip.frames >= 1 && strip.frames <= 3, `frames of a 0.3 s video at 10 fps: ${strip.frames}`);
    assert.deepEqual(jpegDimensions(strip.jpeg), { width: strip.frames * 40, height: 32 });
  });

  it('refuses a file without video and bad options, naming them', async () => {
    await assert.rejects(makePosterAndStrip(join(dir, 'audio.m4a'), { posterSide: 320, stripFrames: 8, stripFrameSide: 160 }), (e: Error) => e instanceof FrameSamplingError && /expected a video stream, got audio/.test(e.message));
    await assert.rejects(makePosterAndStrip(join(dir, 'wide.mp4'), { posterSide: 320, stripFrames: 0, stripFrameSide: 160 }), /stripFrames: expected an integer >= 1, got 0/);
  });
});
