import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DecodeError, ProbeError, detectFrozenSegments, detectFrozenSegmentsPerSegment, freezeVerdict, probe, segmentCount, segmentOfFreezeStart, segmentedFreezeGraph,
} from '@finevideo/media';
import { generateAudioOnly, generateVideo, generateWithoutMoov, truncateCopy, type VideoSpec } from '@finevideo/testing';

describe('freeze verdict arithmetic', () => {
  it('counts ceil(duration / 60) segments and is static at a share of exactly 0.4', () => {
    assert.equal(segmentCount(120), 2);
    assert.equal(segmentCount(120.5), 3);
    assert.equal(freezeVerdict(300, [0, 1]).static, true);
    assert.equal(freezeVerdict(300, [0, 1]).frozenShare, 0.4);
    assert.equal(freezeVerdict(301, [0, 1]).static, false);
    assert.equal(freezeVerdict(0, []).static, false);
  });

  it('builds one trimmed freezedetect branch per segment and maps reports back to them', () => {
    const graph = segmentedFreezeGraph(3);
    assert.match(graph, /^\[0:v:0\]split=4\[pass\]\[s0\]\[s1\]\[s2\];/);
    assert.match(graph, /\[s2\]trim=start=120:duration=60,setpts=PTS-STARTPTS\+2000\/TB,freezedetect=n=0\.05:d=50,nullsink/);
    assert.equal(segmentOfFreezeStart(2000), 2);
    assert.equal(segmentOfFreezeStart(2069.9), 2);
    assert.equal(segmentOfFreezeStart(0), 0);
  });
});

describe('freeze detection on generated videos (real ffmpeg)', function () {
  this.timeout(180_000);
  let dir: string;
  const videos: Record<string, { spec: VideoSpec; frozen: number[]; static: boolean }> = {
    // Clearly dynamic: moving test pattern and a zooming fractal.
    dynamic: { spec: { sections: [{ kind: 'motion', seconds: 90 }, { kind: 'mandelbrot', seconds: 60 }], audio: true }, frozen: [], static: false },
    // A still picture for the first 130 s: segments 0 and 1 frozen, the 10 s left in segment 2 are too short.
    stillStart: { spec: { sections: [{ kind: 'still', seconds: 130 }, { kind: 'motion', seconds: 20 }] }, frozen: [0, 1], static: true },
    // Exactly at the threshold: 2 of 5 segments frozen = 0.4 -> static.
    atThreshold: { spec: { sections: [{ kind: 'still', seconds: 120 }, { kind: 'motion', seconds: 180 }] }, frozen: [0, 1], static: true },
    // Just under: 2 of 6 segments.
    underThreshold: { spec: { sections: [{ kind: 'still', seconds: 120 }, { kind: 'motion', seconds: 181 }] }, frozen: [0, 1], static: false },
    // A 55 s freeze across the 60 s boundary: a single whole-file freezedetect would see it, per-segment runs do not.
    straddling: { spec: { sections: [{ kind: 'motion', seconds: 30 }, { kind: 'still', seconds: 55 }, { kind: 'motion', seconds: 35 }] }, frozen: [], static: false },
    // Light noise on the still picture stays under the 0.05 noise floor; the freeze is in segment 1.
    noisyStill: { spec: { sections: [{ kind: 'motion', seconds: 62 }, { kind: 'still', seconds: 58, noise: true }] }, frozen: [1], static: true },
    // NTSC frame rate (frames never land on the 60 s boundaries): 55 s of still in segment 0, 51 s in segment 3.
    ntsc: { spec: { sections: [{ kind: 'motion', seconds: 5 }, { kind: 'still', seconds: 56 }, { kind: 'motion', seconds: 120 }, { kind: 'still', seconds: 51 }], fps: 30000 / 1001 }, frozen: [0, 3], static: true },
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freeze-'));
    await Promise.all(Object.entries(videos).map(([name, v]) => generateVideo(join(dir, `${name}.mp4`), v.spec)));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [name, expected] of Object.entries(videos)) {
    it(`${name}: one-pass verdict equals the original per-segment method`, async () => {
      const file = join(dir, `${name}.mp4`);
      const facts = await probe(file);
      const ours = await detectFrozenSegments(file, facts.durationSec);
      const original = await detectFrozenSegmentsPerSegment(file, facts.durationSec);
      assert.deepEqual(ours.frozenIndexes, original.frozenIndexes, 'frozen segments: one pass vs per segment');
      assert.deepEqual(ours.frozenIndexes, expected.frozen);
      assert.equal(ours.static, expected.static);
      assert.equal(ours.segments, segmentCount(facts.durationSec));
    });
  }

  it('fast mode (key frames only) runs and agrees on a clear case', async () => {
    const file = join(dir, 'stillStart.mp4');
    const facts = await probe(file);
    const fast = await detectFrozenSegments(file, facts.durationSec, { mode: 'fast' });
    assert.equal(fast.segments, 3);
    assert.equal(fast.static, true);
  });

  it('probes duration, streams and fps', async () => {
    const facts = await probe(join(dir, 'dynamic.mp4'));
    assert.ok(Math.abs(facts.durationSec - 150) < 0.5, `duration ${facts.durationSec}`);
    assert.equal(facts.hasVideo, true);
    assert.equal(facts.hasAudio, true);
    assert.equal(facts.video?.width, 160);
    assert.equal(facts.video?.fps, 5);
  });

  it('an audio-only file has no video stream', async () => {
    const file = join(dir, 'audio.m4a');
    await generateAudioOnly(file, 5);
    const facts = await probe(file);
    assert.equal(facts.hasVideo, false);
    assert.equal(facts.hasAudio, true);
  });

  it('a file without its moov atom fails the probe', async () => {
    const file = join(dir, 'nomoov.mp4');
    await generateWithoutMoov(file, { sections: [{ kind: 'motion', seconds: 20 }] });
    await assert.rejects(probe(file), (e: Error) => e instanceof ProbeError && /moov atom not found|Invalid data/.test(e.message));
  });

  it('a truncated file probes but fails the decode', async () => {
    const file = join(dir, 'truncated.mp4');
    await truncateCopy(join(dir, 'stillStart.mp4'), file, 0.5);
    const facts = await probe(file);
    await assert.rejects(detectFrozenSegments(file, facts.durationSec), (e: Error) => e instanceof DecodeError && /truncated|partial/.test(e.message));
  });
});
