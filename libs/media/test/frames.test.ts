import assert from 'node:assert/strict';
import { constants, openSync, closeSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import {
  FrameSamplingError, JpegStreamSplitter, ffmpegPath, frameSamplingFilter, jpegDimensions, lastLines, plannedFrameCount, runProcess, sampleFrames,
  validateFrameSamplingOptions, type FrameSamplingOptions, type SampledFrame,
} from '@finevideo/media';
import { generateAudioOnly, generateVideo, truncateCopy } from '@finevideo/testing';

/** A tiny but complete baseline JPEG (8x8 grey) made by ffmpeg, for the splitter tests. */
async function tinyJpeg(dir: string): Promise<Buffer> {
  const frames = await sampleFrames(join(dir, 'small.mp4'), { fps: 1, maxFrames: 1, maxSide: 16 });
  return frames[0]!.jpeg;
}

async function ffmpegOk(args: string[], what: string): Promise<string> {
  const result = await runProcess(ffmpegPath(), ['-hide_banner', '-nostdin', '-nostats', '-y', ...args], { timeoutMs: 120_000 });
  assert.equal(result.exitCode, 0, `${what}: ${lastLines(result.stderrTail)}`);
  return result.stderrTail;
}

/**
 * Decodes the JPEGs with ffmpeg (one stream of concatenated images) and returns, per image, its
 * size as the decoder saw it and its mean luma: proof the bytes are real, whole JPEGs.
 */
async function decodeJpegs(dir: string, frames: SampledFrame[]): Promise<{ width: number; height: number; luma: number }[]> {
  const file = join(dir, `check-${Math.random().toString(36).slice(2)}.mjpeg`);
  await writeFile(file, Buffer.concat(frames.map((f) => f.jpeg)));
  const result = await runProcess(ffmpegPath(), [
    '-hide_banner', '-nostdin', '-nostats', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', file,
    '-vf', 'showinfo,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-f', 'null', '-',
  ], { timeoutMs: 60_000, stderrTailChars: 2_000_000 });
  assert.equal(result.exitCode, 0, `decoding the JPEGs: ${lastLines(result.stderrTail)}`);
  const sizes = [...result.stderrTail.matchAll(/Parsed_showinfo_\d+ @ [^\]]+\] n:\s*\d+ .*? s:(\d+)x(\d+)/g)];
  const lumas = [...result.stderrTail.matchAll(/lavfi\.signalstats\.YAVG=([0-9.]+)/g)];
  return sizes.map((m, i) => ({ width: Number(m[1]), height: Number(m[2]), luma: Number(lumas[i]?.[1]) }));
}

describe('frame sampling arithmetic and options', () => {
  it('plans round(duration * fps) frames, at least one, at most maxFrames', () => {
    assert.equal(plannedFrameCount(20, 0.5, 100), 10);
    assert.equal(plannedFrameCount(9.97, 1, 100), 10);
    assert.equal(plannedFrameCount(180, 1, 32), 32);
    assert.equal(plannedFrameCount(0.3, 1, 32), 1);
  });

  it('picks frames nearest the interval centres and scales to even sides without upscaling', () => {
    const graph = frameSamplingFilter(2.5, 512);
    assert.match(graph, /^select='gte\(t\+if\(isnan\(prev_t\),0,\(t-prev_t\)\/2\),\(selected_n\+0\.5\)\*2\.5\)'/);
    assert.match(graph, /scale=w='max\(2,trunc\(iw\*sar\*min\(1,512\/max\(iw\*sar,ih\)\)\/2\+0\.00001\)\*2\)'/);
    assert.match(graph, /,showinfo$/);
  });

  it('rejects bad options with the option, what it expects and the value', () => {
    const base: FrameSamplingOptions = { fps: 1, maxFrames: 8, maxSide: 512 };
    const cases: [Partial<FrameSamplingOptions>, RegExp][] = [
      [{ fps: 0 }, /option fps: expected a number > 0, got 0/],
      [{ fps: Number.NaN }, /option fps: expected a number > 0, got NaN/],
      [{ maxFrames: 0 }, /option maxFrames: expected an integer >= 1, got 0/],
      [{ maxFrames: 2.5 }, /option maxFrames: expected an integer >= 1, got 2\.5/],
      [{ maxSide: 8 }, /option maxSide: expected an integer >= 16, got 8/],
      [{ jpegQuality: 1 }, /option jpegQuality: expected an integer from 2 to 31, got 1/],
      [{ durationSeconds: -3 }, /option durationSeconds: expected a number > 0, got -3/],
    ];
    for (const [change, message] of cases) {
      assert.throws(() => validateFrameSamplingOptions({ ...base, ...change }), (e: Error) => e instanceof FrameSamplingError && message.test(e.message));
    }
  });
});

describe('sampleFrames on generated videos (real ffmpeg)', function () {
  this.timeout(120_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'frames-'));
    await Promise.all([
      generateVideo(join(dir, 'landscape.mp4'), { sections: [{ kind: 'motion', seconds: 20 }], width: 320, height: 180, fps: 10, audio: true }),
      generateVideo(join(dir, 'portrait.mp4'), { sections: [{ kind: 'motion', seconds: 10 }], width: 180, height: 320, fps: 10 }),
      generateVideo(join(dir, 'small.mp4'), { sections: [{ kind: 'still', seconds: 6 }], width: 64, height: 48, fps: 5 }),
      // Frame n has luma 2n (n < 128): the picture itself says which frame, hence which time, it is.
      ffmpegOk(['-f', 'lavfi', '-i', "color=c=black:s=64x64:r=10:d=12,format=gray,geq=lum='2*N'", '-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p', join(dir, 'counter.mp4')], 'counter video'),
      // Anamorphic: 240x180 pixels shown 4:3 wider, so 320x180 on screen.
      ffmpegOk(['-f', 'lavfi', '-i', 'testsrc2=s=240x180:r=10:d=4,setsar=4/3', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', join(dir, 'anamorphic.mp4')], 'anamorphic video'),
    ]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('landscape: the requested count, scaled to maxSide with the aspect kept, evenly spread', async () => {
    const frames = await sampleFrames(join(dir, 'landscape.mp4'), { fps: 0.5, maxFrames: 100, maxSide: 160 });
    assert.equal(frames.length, 10);
    assert.deepEqual(frames.map((f) => f.index), [...Array(10).keys()]);
    for (const f of frames) {
      assert.deepEqual([f.width, f.height], [160, 90]);
      assert.deepEqual(jpegDimensions(f.jpeg), { width: 160, height: 90 });
    }
    // Centres of 2 s intervals: 1, 3, 5 ... 19 s, each within half a source frame (0.05 s).
    frames.forEach((f, k) => assert.ok(Math.abs(f.timeSeconds - (2 * k + 1)) <= 0.05 + 1e-9, `frame ${k} at ${f.timeSeconds}`));
  });

  it('portrait: the longer (vertical) side is maxSide', async () => {
    const frames = await sampleFrames(join(dir, 'portrait.mp4'), { fps: 1, maxFrames: 4, maxSide: 160 });
    assert.equal(frames.length, 4);
    for (const f of frames) assert.deepEqual([f.width, f.height], [90, 160]);
  });

  it('a video smaller than maxSide is never upscaled', async () => {
    const frames = await sampleFrames(join(dir, 'small.mp4'), { fps: 1, maxFrames: 10, maxSide: 512 });
    assert.equal(frames.length, 6);
    for (const f of frames) assert.deepEqual([f.width, f.height], [64, 48]);
  });

  it('anamorphic video: display aspect with square pixels', async () => {
    const frames = await sampleFrames(join(dir, 'anamorphic.mp4'), { fps: 1, maxFrames: 2, maxSide: 160 });
    for (const f of frames) assert.deepEqual([f.width, f.height], [160, 90]);
  });

  it('caps at maxFrames by lowering the rate, so the frames still cover the whole video', async () => {
    const frames = await sampleFrames(join(dir, 'landscape.mp4'), { fps: 5, maxFrames: 4, maxSide: 64 });
    assert.equal(frames.length, 4);
    const expected = [2.5, 7.5, 12.5, 17.5];
    frames.forEach((f, k) => assert.ok(Math.abs(f.timeSeconds - expected[k]!) <= 0.05 + 1e-9, `frame ${k} at ${f.timeSeconds}, expected ${expected[k]}`));
    const gaps = frames.slice(1).map((f, k) => f.timeSeconds - frames[k]!.timeSeconds);
    for (const gap of gaps) assert.ok(Math.abs(gap - 5) <= 0.1 + 1e-9, `gaps ${gaps.join(', ')}`);
  });

  it('each time is the time of the picture in the JPEG, and every JPEG decodes at its stated size', async () => {
    const frames = await sampleFrames(join(dir, 'counter.mp4'), { fps: 0.75, maxFrames: 20, maxSide: 32, jpegQuality: 2 });
    assert.equal(frames.length, 9);
    const decoded = await decodeJpegs(dir, frames);
    assert.equal(decoded.length, frames.length, 'decoded images');
    frames.forEach((f, k) => {
      assert.deepEqual([decoded[k]!.width, decoded[k]!.height], [f.width, f.height]);
      const frameNumber = Math.round(decoded[k]!.luma / 2);
      assert.equal(frameNumber / 10, f.timeSeconds, `frame ${k}: picture of frame ${frameNumber}, time ${f.timeSeconds}`);
      // Nearest frame to the centre of interval k (12 s / 9 intervals).
      assert.ok(Math.abs(f.timeSeconds - (k + 0.5) * (12 / 9)) <= 0.05 + 1e-9, `frame ${k} at ${f.timeSeconds}`);
    });
  });

  it('a known duration skips the probe and is trusted', async () => {
    const frames = await sampleFrames(join(dir, 'landscape.mp4'), { fps: 1, maxFrames: 5, maxSide: 64, durationSeconds: 10 });
    assert.deepEqual(frames.map((f) => f.timeSeconds), [1, 3, 5, 7, 9]);
  });

  it('a missing file names the file and ffmpeg/ffprobe\'s reason', async () => {
    const missing = join(dir, 'missing.mp4');
    await assert.rejects(sampleFrames(missing, { fps: 1, maxFrames: 4, maxSide: 64 }),
      (e: Error) => e instanceof FrameSamplingError && e.message.includes(missing) && /No such file or directory/.test(e.message));
    await assert.rejects(sampleFrames(missing, { fps: 1, maxFrames: 4, maxSide: 64, durationSeconds: 5 }),
      (e: Error) => e instanceof FrameSamplingError && e.message.includes(`sampling frames of ${missing}: expected ffmpeg to exit with 0, got exit code 1:`) && /No such file or directory/.test(e.message));
  });

  it('a corrupt file gives a clear error', async () => {
    const corrupt = join(dir, 'corrupt.mp4');
    await writeFile(corrupt, Buffer.from('this is not a video at all, just text pretending to be one '.repeat(100)));
    await assert.rejects(sampleFrames(corrupt, { fps: 1, maxFrames: 4, maxSide: 64, durationSeconds: 5 }),
      (e: Error) => e instanceof FrameSamplingError && e.message.includes(corrupt) && /Invalid data found/.test(e.message));
  });

  it('an audio-only file: no video stream to sample', async () => {
    const audio = join(dir, 'audio.m4a');
    await generateAudioOnly(audio, 3);
    await assert.rejects(sampleFrames(audio, { fps: 1, maxFrames: 4, maxSide: 64 }),
      (e: Error) => e instanceof FrameSamplingError && e.message === `sampling frames of ${audio}: expected a video stream, got audio`);
    await assert.rejects(sampleFrames(audio, { fps: 1, maxFrames: 4, maxSide: 64, durationSeconds: 3 }),
      (e: Error) => e instanceof FrameSamplingError && e.message.includes(audio) && /matches no streams/.test(e.message));
  });

  it('a truncated file is an error, not frames from its first part only', async () => {
    const truncated = join(dir, 'truncated.mp4');
    await truncateCopy(join(dir, 'landscape.mp4'), truncated, 0.4);
    await assert.rejects(sampleFrames(truncated, { fps: 0.5, maxFrames: 10, maxSide: 64 }),
      (e: Error) => e instanceof FrameSamplingError && e.message.includes(truncated) && /ends early/.test(e.message));
  });

  it('an already aborted signal rejects before anything runs', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await assert.rejects(sampleFrames(join(dir, 'small.mp4'), { fps: 1, maxFrames: 2, maxSide: 64, signal: controller.signal }), /stop now/);
  });

  it('an abort kills ffmpeg (a FIFO nobody writes to keeps it waiting until then)', async () => {
    const fifo = join(dir, 'stalled.fifo');
    const made = await runProcess('mkfifo', [fifo]).catch(() => undefined);
    if (made?.exitCode !== 0) {
      console.log('      mkfifo is not available here: abort checked only before start');
      return;
    }
    const controller = new AbortController();
    const sampling = sampleFrames(fifo, { fps: 1, maxFrames: 2, maxSide: 64, durationSeconds: 5, signal: controller.signal });
    const settled = sampling.then(() => 'resolved', (e: unknown) => e);
    // Opening the write end without blocking succeeds only once a reader (ffmpeg) has it open.
    let writer: number | undefined;
    while (writer === undefined) {
      try {
        writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error;
        await tick();
      }
    }
    controller.abort();
    const outcome = await settled;
    closeSync(writer);
    assert.ok(outcome instanceof Error && outcome.name === 'AbortError', `expected an AbortError, got ${String(outcome)}`);
    // No reader left: ffmpeg is gone.
    assert.throws(() => openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK), { code: 'ENXIO' });
  });

  it('the splitter cuts a byte-by-byte stream into whole images and ignores FFD9 inside a header segment', async () => {
    const jpeg = await tinyJpeg(dir);
    // An APP15 segment whose payload holds FF D9 (an end marker if read naively), inserted after SOI.
    const app = Buffer.from([0xff, 0xef, 0x00, 0x06, 0xff, 0xd9, 0xff, 0xd9]);
    const tricky = Buffer.concat([jpeg.subarray(0, 2), app, jpeg.subarray(2)]);
    const stream = Buffer.concat([jpeg, tricky, jpeg]);
    const splitter = new JpegStreamSplitter(1_000_000);
    const images = [];
    for (let i = 0; i < stream.length; i++) images.push(...splitter.push(stream.subarray(i, i + 1)));
    assert.deepEqual(images.map((im) => im.jpeg.length), [jpeg.length, tricky.length, jpeg.length]);
    assert.equal(splitter.leftoverBytes, 0);
    assert.deepEqual([images[1]!.width, images[1]!.height], [16, 12]);
    assert.throws(() => new JpegStreamSplitter(100).push(Buffer.from('GIF89a')), /expected a JPEG start marker FFD8, got 4749/);
    assert.throws(() => new JpegStreamSplitter(100).push(Buffer.concat([jpeg.subarray(0, -2), Buffer.alloc(200, 0x11)])), /at most 100 bytes/);
  });
});
