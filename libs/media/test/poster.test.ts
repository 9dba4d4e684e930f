import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FrameSamplingError, SEEK_FROM_SECONDS, ffmpegPath, fitEven, jpegDimensions, makePosterAndStrip, posterSeekTimes, seekFrames } from '@finevideo/media';
import { generateAudioOnly, generateVideo } from '@finevideo/testing';

const run = promisify(execFile);

/** Eight 10 s segments, each one flat colour (RGB), so a frame's colour says which segment it came from. */
const SEGMENT_COLOURS: [number, number, number][] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255], [255, 255, 255], [0, 0, 0]];

async function generateColourSegments(path: string): Promise<void> {
  const hex = (c: number[]) => `0x${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  const inputs = SEGMENT_COLOURS.flatMap((c) => ['-f', 'lavfi', '-i', `color=c=${hex(c)}:s=160x120:r=10:d=10`]);
  const concat = `${SEGMENT_COLOURS.map((_, k) => `[${k}:v]`).join('')}concat=n=${SEGMENT_COLOURS.length}:v=1:a=0[v]`;
  // A keyframe every 5 s: a seek decodes from the one before its time, as in a real video.
  await run(ffmpegPath(), ['-v', 'error', '-y', ...inputs, '-filter_complex', concat, '-map', '[v]', '-c:v', 'libx264', '-g', '50', '-pix_fmt', 'yuv420p', path]);
}

/** The mean colour of each of `tiles` equal columns of a JPEG (decoded by ffmpeg). */
async function tileColours(jpeg: Buffer, tiles: number): Promise<number[][]> {
  const { width, height } = jpegDimensions(jpeg);
  const rgb = await new Promise<Buffer>((resolve, reject) => {
    const child = execFile(ffmpegPath(), ['-v', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 26 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    child.stdin!.end(jpeg);
  });
  const tileWidth = width / tiles;
  return Array.from({ length: tiles }, (_, t) => {
    const sum = [0, 0, 0];
    for (let y = 0; y < height; y++) for (let x = t * tileWidth; x < (t + 1) * tileWidth; x++) for (let c = 0; c < 3; c++) sum[c]! += rgb[(y * width + x) * 3 + c]!;
    return sum.map((v) => Math.round(v / (tileWidth * height)));
  });
}

const near = (actual: number[], expected: number[]) => actual.every((v, c) => Math.abs(v - expected[c]!) <= 24);

describe('poster and hover-scrub strip', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'poster-'));
    await Promise.all([
      generateVideo(join(dir, 'wide.mp4'), { sections: [{ kind: 'motion', seconds: 12 }], width: 640, height: 360, fps: 10 }),
      generateVideo(join(dir, 'short.mp4'), { sections: [{ kind: 'motion', seconds: 0.3 }], width: 100, height: 80, fps: 10 }),
      generateAudioOnly(join(dir, 'audio.m4a'), 2),
      generateColourSegments(join(dir, 'segments.mp4')),
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

  it(`seeks for the strip from ${SEEK_FROM_SECONDS} s of known duration on (the centre of each part), else one pass`, () => {
    assert.deepEqual(posterSeekTimes(80, 8), [5, 15, 25, 35, 45, 55, 65, 75]);
    assert.deepEqual(posterSeekTimes(SEEK_FROM_SECONDS, 2), [SEEK_FROM_SECONDS / 4, (3 * SEEK_FROM_SECONDS) / 4]);
    assert.equal(posterSeekTimes(SEEK_FROM_SECONDS - 0.5, 8), undefined);
    assert.equal(posterSeekTimes(undefined, 8), undefined);
    assert.equal(posterSeekTimes(Number.NaN, 8), undefined);
  });

  it(`a video of ${SEEK_FROM_SECONDS} s or more: each strip frame is a seek to the centre of its eighth, the poster the one a third in`, async () => {
    assert.ok(80 >= SEEK_FROM_SECONDS);
    const { poster, strip } = await makePosterAndStrip(join(dir, 'segments.mp4'), { posterSide: 160, stripFrames: 8, stripFrameSide: 40, durationSeconds: 80 });
    assert.equal(strip.frames, 8);
    const colours = await tileColours(strip.jpeg, 8);
    colours.forEach((colour, k) => assert.ok(near(colour, SEGMENT_COLOURS[k]!), `strip frame ${k}: expected about ${SEGMENT_COLOURS[k]}, got ${colour}`));
    const [posterColour] = await tileColours(poster.jpeg, 1);
    assert.ok(near(posterColour!, SEGMENT_COLOURS[2]!), `poster: expected segment 2's colour, got ${posterColour}`);
  });

  it('seekFrames gives the frame at or after each time, in the order asked, none past the end; refuses bad times', async () => {
    const frames = await seekFrames(join(dir, 'segments.mp4'), [35, 5, 79.5, 200], { maxSide: 80 });
    assert.deepEqual(frames.map((f) => [f.index, f.timeSeconds, f.width, f.height]), [[0, 35, 80, 60], [1, 5, 80, 60], [2, 79.5, 80, 60]]);
    const colours = await Promise.all(frames.map(async (f) => (await tileColours(f.jpeg, 1))[0]!));
    assert.ok(near(colours[0]!, SEGMENT_COLOURS[3]!) && near(colours[1]!, SEGMENT_COLOURS[0]!) && near(colours[2]!, SEGMENT_COLOURS[7]!), `colours ${JSON.stringify(colours)}`);
    await assert.rejects(seekFrames(join(dir, 'segments.mp4'), [1, -2], { maxSide: 80 }), /frame seeking: expected times in seconds >= 0, got \[1,-2\]/);
  });

  it('refuses a file without video and bad options, naming them', async () => {
    await assert.rejects(makePosterAndStrip(join(dir, 'audio.m4a'), { posterSide: 320, stripFrames: 8, stripFrameSide: 160 }), (e: Error) => e instanceof FrameSamplingError && /expected a video stream, got audio/.test(e.message));
    await assert.rejects(makePosterAndStrip(join(dir, 'wide.mp4'), { posterSide: 320, stripFrames: 0, stripFrameSide: 160 }), /stripFrames: expected an integer >= 1, got 0/);
  });
});
