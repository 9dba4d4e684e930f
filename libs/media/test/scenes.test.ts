/**
 * Scene detection parity with PySceneDetect 0.6.4 (ContentDetector(threshold=15), VideoManager +
 * SceneManager with default downscaling) running on OpenCV 4.6.0 (Debian 12's python3-opencv).
 * The expected cuts below were produced by tools/scenes-reference/run.py on these same generated
 * videos; the pixel digests were produced by cv2 4.6.0 itself (see tools/scenes-reference/README.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContentDetector, DecodeError, FlashFilter, LinearDownscaler, decodeArguments, detectScenes, detectorSize, downscaleFactor,
  ffmpegPath, hsvPlanes, opencvConversionFilter, roundHalfEven, runProcess, scenesFromCuts,
} from '@finevideo/media';
import { generateAudioOnly, truncateCopy } from '@finevideo/testing';
import { generateCorpusVideo, type CorpusVideo, type Segment } from './scenes-corpus.js';

const S = (kind: Segment['kind'], frames: number, extra: Partial<Segment> = {}): Segment => ({ kind, frames, ...extra });

/** Same bytes as the Python digest script: x = (x * 1103515245 + 12345) mod 2^31, byte = (x >> 16) & 255. */
function lcgImage(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  let x = seed;
  for (let i = 0; i < out.length; i++) {
    x = Number((BigInt(x) * 1103515245n + 12345n) & 0x7fffffffn);
    out[i] = (x >> 16) & 255;
  }
  return out;
}

describe('scene detection arithmetic (PySceneDetect 0.6.4 on OpenCV 4.6.0)', () => {
  it('picks SceneManager 0.6\'s downscale factor (width // 256) and Python-rounded sizes', () => {
    assert.equal(downscaleFactor(255), 1);
    assert.equal(downscaleFactor(256), 1);
    assert.equal(downscaleFactor(640), 2);
    assert.equal(downscaleFactor(1920), 7);
    assert.deepEqual(detectorSize(1920, 1080), { factor: 7, width: 274, height: 154 });
    assert.deepEqual(detectorSize(426, 240), { factor: 1, width: 426, height: 240 });
    assert.deepEqual(detectorSize(1280, 720), { factor: 5, width: 256, height: 144 });
    // round() halves to even: 641 / 2 = 320.5 -> 320, 361 / 2 = 180.5 -> 180.
    assert.deepEqual(detectorSize(641, 361), { factor: 2, width: 320, height: 180 });
    assert.equal(roundHalfEven(2.5), 2);
    assert.equal(roundHalfEven(3.5), 4);
  });

  it('converts every one of the 2^24 BGR colours to the HSV cv2.cvtColor(COLOR_BGR2HSV) gives', () => {
    const hash = createHash('sha256');
    const block = 1 << 16;
    const bgr = new Uint8Array(block * 3);
    const h = new Uint8Array(block);
    const s = new Uint8Array(block);
    const v = new Uint8Array(block);
    const interleaved = new Uint8Array(block * 3);
    for (let start = 0; start < 1 << 24; start += block) {
      for (let i = 0; i < block; i++) {
        const colour = start + i;
        bgr[i * 3] = colour >> 16;
        bgr[i * 3 + 1] = (colour >> 8) & 255;
        bgr[i * 3 + 2] = colour & 255;
      }
      hsvPlanes(bgr, block, h, s, v);
      for (let i = 0; i < block; i++) {
        interleaved[i * 3] = h[i]!;
        interleaved[i * 3 + 1] = s[i]!;
        interleaved[i * 3 + 2] = v[i]!;
      }
      hash.update(interleaved);
    }
    assert.equal(hash.digest('hex'), 'cc4c8f3a2064ffaed3776170c4dfa02c90011b02dbc7ece07b7fced54069ad55');
  });

  it('shrinks frames to the bytes cv2.resize(INTER_LINEAR) gives, whole or gathered', () => {
    // Digests of cv2's output where there is one; the others check the gathered shrink against resize().
    const cases: [number, number, string | undefined][] = [
      [1920, 1080, '962f466006444be1a75f1a573cfa33e37517c579c1494d634de0520ca917ea17'],
      [1280, 720, undefined], // exactly 5x: one tap per output pixel on both axes, the gathered image is the result
      [1283, 480, undefined], // 5x rows exactly (one tap), columns 4.992x (two)
      [854, 480, 'cc67cb9dbdcf9e746529b87e47d7ddb10a88fd59ec45d3665866f8e5281f2eb5'],
      [642, 362, '14ae94913980ab8ac944e899a67c8fa6e63329648f3682a28a546f3060eff82c'], // exact 2x: OpenCV's area shortcut
      [641, 361, '11fea943400a8f7b9da090ad07aa008ad94e242406d5f31452775f61692549b1'], // 2.003x: bilinear
      [1366, 768, '1ef0b9ad99aa82b914d53c480c2a7e4ac0861be4c5729de018f1ce43c4c78e0e'],
    ];
    for (const [width, height, digest] of cases) {
      const size = detectorSize(width, height);
      const frame = lcgImage(width, height, width * height);
      const scaler = new LinearDownscaler(width, height, size.width, size.height);
      const out = new Uint8Array(size.width * size.height * 3);
      scaler.resize(frame, out);
      if (digest) assert.equal(createHash('sha256').update(out).digest('hex'), digest, `${width}x${height}`);
      if (!scaler.canGather) continue;
      const maps = scaler.gatherMaps();
      const taps: Record<string, [number, number]> = { '1280x720': [256, 144], '1283x480': [2 * 257, 96] };
      const oneTap = taps[`${width}x${height}`];
      if (oneTap) assert.deepEqual([maps.width, maps.height], oneTap, `${width}x${height}: taps kept per axis`);
      assert.equal(maps.exact, width === 1280, `${width}x${height}: exact`);
      const gathered = new Uint8Array(maps.width * maps.height * 3);
      for (let r = 0, o = 0; r < maps.height; r++) {
        for (let c = 0; c < maps.width; c++, o += 3) gathered.set(frame.subarray((maps.rows[r]! * width + maps.columns[c]!) * 3, (maps.rows[r]! * width + maps.columns[c]!) * 3 + 3), o);
      }
      const fromGathered = new Uint8Array(out.length);
      scaler.resizeGathered(gathered, fromGathered);
      assert.ok(Buffer.from(fromGathered).equals(out), `${width}x${height}: expected the gathered shrink to give resize()'s bytes`);
    }
  });

  it('merges cuts closer than min_scene_len as 0.6.4\'s FlashFilter does', () => {
    const run = (above: number[], frames: number) => {
      const filter = new FlashFilter(15);
      const cuts: number[] = [];
      for (let f = 0; f < frames; f++) {
        const cut = filter.filter(f, above.includes(f));
        if (cut !== undefined) cuts.push(cut);
      }
      return cuts;
    };
    // Same results as PySceneDetect 0.6.4's FlashFilter(MERGE, 15) on these inputs.
    // Too close to the start (frame 0 counts as the last cut): dropped, not merged (merging is off until a first cut).
    assert.deepEqual(run([10], 60), []);
    assert.deepEqual(run([20], 60), [20]);
    // A burst right after a cut spanning 15 frames or more: one cut at its last frame above the
    // threshold, emitted once 15 frames below it have passed; a shorter burst is dropped.
    assert.deepEqual(run([20, 25, 32, 41], 80), [20, 41]);
    assert.deepEqual(run([20, 25, 30, 33], 80), [20]);
    // A burst still pending when the video ends is lost (0.6.4 has no post_process for it).
    assert.deepEqual(run([20, 25, 32, 41], 50), [20]);
  });

  it('scores identical frames 0 and a black-to-white change 85 (V 255, H and S 0: 255 / 3)', () => {
    const detector = new ContentDetector(4, 2, { threshold: 15 });
    const black = new Uint8Array(24);
    const white = new Uint8Array(24).fill(255);
    assert.equal(detector.processFrame(0, black), 0);
    assert.equal(detector.processFrame(1, black), 0);
    assert.equal(detector.processFrame(2, white), 85);
    assert.throws(() => new ContentDetector(4, 2, { minSceneLen: -1 }), /minSceneLen: expected an integer >= 0, got -1/);
  });

  it('builds the scene list from cuts and decodes the way cv2.VideoCapture converts', () => {
    assert.deepEqual(scenesFromCuts([10, 30], 40), [{ startFrame: 0, endFrame: 10 }, { startFrame: 10, endFrame: 30 }, { startFrame: 30, endFrame: 40 }]);
    assert.deepEqual(scenesFromCuts([], 40), [{ startFrame: 0, endFrame: 40 }]);
    assert.deepEqual(scenesFromCuts([], 0), []);
    assert.match(opencvConversionFilter('yuv420p'), /in_color_matrix=bt601:.*in_range=tv:flags=bicubic/);
    assert.match(opencvConversionFilter('yuvj420p'), /in_range=pc/);
    assert.match(opencvConversionFilter('yuv420p', 90), /format=bgr24,transpose=clock$/);
    assert.match(opencvConversionFilter('yuv420p', 270), /format=bgr24,transpose=cclock$/);
    const args = decodeArguments('/videos/a.mp4', 'yuv420p');
    assert.deepEqual(args.slice(args.indexOf('-i'), args.indexOf('-i') + 2), ['-i', 'file:/videos/a.mp4']);
    assert.ok(args.includes('passthrough'));
    assert.ok(args.indexOf('-noautorotate') < args.indexOf('-i'));
  });
});

/** Small videos and the cuts PySceneDetect 0.6.4 found in them (verified with tools/scenes-reference/run.py). */
const PARITY: { video: CorpusVideo; frames: number; cuts: number[] }[] = [
  {
    // 640x360: factor 2, OpenCV's exact-2x area path; 29.97 fps.
    video: { name: 'hard-cuts-360p-29.97', width: 640, height: 360, fps: '30000/1001', preset: 'ultrafast', segments: [S('sierpinski', 30, { seed: 5 }), S('testsrc', 30), S('life', 25), S('gradients', 30, { seed: 9 }), S('bars', 25)] },
    frames: 140, cuts: [30, 60, 85, 115],
  },
  {
    // 426x240: no downscale; cuts 3 to 16 frames apart exercise the flash filter's merging.
    video: { name: 'fast-cuts-240p-24', width: 426, height: 240, fps: '24', preset: 'ultrafast', segments: [S('bars', 20), S('life', 4), S('testsrc', 16), S('life', 8), S('bars', 3), S('testsrc', 12), S('life', 20), S('bars', 17)] },
    frames: 100, cuts: [40],
  },
  {
    // 854x480: factor 3 (gathered pixels); fades through black at 23.976 fps, tagged BT.709.
    video: { name: 'fades-480p-23.976', width: 854, height: 480, fps: '24000/1001', preset: 'ultrafast', colourTags: 'bt709', transition: 'fade', transitionFrames: 10, segments: [S('testsrc', 40), S('life', 40), S('bars', 40)] },
    frames: 120, cuts: [40],
  },
  {
    // 1280x720: factor 5; a dissolve, a lighting swing, a camera flash and a pan at 25 fps; full range (yuvj420p).
    video: { name: 'footage-720p-25', width: 1280, height: 720, fps: '25', preset: 'ultrafast', pixelFormat: 'yuvj420p', transition: 'dissolve', transitionFrames: 12, segments: [S('lighting', 50), S('flash', 40), S('pan', 40)] },
    frames: 107, cuts: [59],
  },
  {
    // Variable frame rate: 30, 12 and 24 fps segments, every decoded frame counted once.
    video: { name: 'vfr-360p', width: 640, height: 360, fps: '30', vfr: true, preset: 'ultrafast', segments: [S('testsrc', 30, { fps: '30' }), S('life', 20, { fps: '12' }), S('gradients', 30, { fps: '24' })] },
    frames: 80, cuts: [30, 50],
  },
];

describe('detectScenes on generated videos (real ffmpeg; expected cuts from PySceneDetect 0.6.4)', function () {
  this.timeout(120_000);
  let dir: string;
  const paths = new Map<string, string>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scenes-test-'));
    for (const { video } of PARITY) {
      const path = join(dir, `${video.name}.mp4`);
      await generateCorpusVideo(video, path);
      paths.set(video.name, path);
    }
  });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  for (const { video, frames, cuts } of PARITY) {
    it(`${video.name}: ${frames} frames, cuts exactly ${JSON.stringify(cuts)}`, async () => {
      const result = await detectScenes(paths.get(video.name)!);
      assert.equal(result.frameCount, frames);
      assert.deepEqual(result.cuts, cuts, video.name);
      assert.deepEqual(result.scenes, scenesFromCuts(result.cuts, frames));
      const size = detectorSize(video.width, video.height);
      assert.deepEqual([result.detectorWidth, result.detectorHeight], [size.width, size.height]);
    });
  }

  it('turns a rotated video as cv2 does (tag 90: clockwise) and sizes the detector on the turned frame', async () => {
    const rotated = join(dir, 'rotated.mp4');
    const copy = await runProcess(ffmpegPath(), ['-v', 'error', '-y', '-i', paths.get('hard-cuts-360p-29.97')!, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated]);
    assert.equal(copy.exitCode, 0, copy.stderrTail);
    const result = await detectScenes(rotated);
    // 360 wide after turning: no downscale (PySceneDetect 0.6.4 gave [60, 85, 115] on this file).
    assert.deepEqual([result.detectorWidth, result.detectorHeight], [360, 640]);
    assert.deepEqual(result.cuts, [60, 85, 115], 'rotated');
  });

  it('streams: scores arrive frame by frame, in order, before the decode ends; abort stops ffmpeg', async () => {
    const path = paths.get('hard-cuts-360p-29.97')!;
    const controller = new AbortController();
    const seen: number[] = [];
    const started = performance.now();
    await assert.rejects(detectScenes(path, {
      signal: controller.signal,
      onFrameScore: (frame) => { seen.push(frame); if (frame === 9) controller.abort(); },
    }), (error: Error) => error.name === 'AbortError' && error.message.includes(path));
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(performance.now() - started < 60_000);
    const already = new AbortController();
    already.abort();
    await assert.rejects(detectScenes(path, { signal: already.signal }), { name: 'AbortError' });
  });

  it('uses the threshold and min_scene_len it is given', async () => {
    const path = paths.get('fast-cuts-240p-24')!;
    const strict = await detectScenes(path, { threshold: 255 });
    assert.deepEqual(strict.cuts, []);
    assert.deepEqual(strict.scenes, [{ startFrame: 0, endFrame: 100 }]);
    const everyCut = await detectScenes(path, { minSceneLen: 0 });
    assert.ok(everyCut.cuts.length > 3, `expected every cut without the length filter, got ${JSON.stringify(everyCut.cuts)}`);
  });

  it('names the file and the reason for a missing file, a non-video, an audio-only file and a truncated video', async () => {
    await assert.rejects(detectScenes(join(dir, 'missing.mp4')), (error: Error) => error instanceof DecodeError && error.message.includes('missing.mp4'));
    const text = join(dir, 'notes.mp4');
    await writeFile(text, 'not a video at all\n');
    await assert.rejects(detectScenes(text), (error: Error) => error instanceof DecodeError && error.message.includes('notes.mp4'));
    const audio = join(dir, 'audio.m4a');
    await generateAudioOnly(audio, 1);
    await assert.rejects(detectScenes(audio), /audio\.m4a: expected a video stream with a size, got no video stream/);
    const truncated = join(dir, 'truncated.mp4');
    await truncateCopy(paths.get('fades-480p-23.976')!, truncated, 0.5);
    // ffmpeg reads what it can of a cut-off file: fewer frames, never a hang or a crash.
    const partial = await detectScenes(truncated).catch((error: unknown) => error);
    if (partial instanceof Error) assert.ok(partial instanceof DecodeError && partial.message.includes('truncated.mp4'), partial.message);
    else assert.ok((partial as { frameCount: number }).frameCount < 120);
  });

  // The reference itself, when it is installed (tools/bench/scenes.ts runs it on a larger corpus).
  it('PySceneDetect 0.6.4 gives the kept cuts on these videos (runs only with PYSCENEDETECT_SRC)', () => {
    const reference = process.env.PYSCENEDETECT_SRC;
    if (!reference) {
      console.log('      PYSCENEDETECT_SRC is not set: the expected cuts were recorded from PySceneDetect 0.6.4; not re-running it');
      return;
    }
    const run = spawnSync('/usr/bin/python3', ['tools/scenes-reference/run.py', ...PARITY.map(({ video }) => paths.get(video.name)!)], {
      env: { ...process.env, PYSCENEDETECT_SRC: reference }, encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const reports = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { version: string; frames: number; cuts: number[] });
    reports.forEach((report, i) => {
      assert.equal(report.version, '0.6.4');
      assert.equal(report.frames, PARITY[i]!.frames);
      assert.deepEqual(report.cuts, PARITY[i]!.cuts, PARITY[i]!.video.name);
    });
  });
});
