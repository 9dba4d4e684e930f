import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectScenes, probe } from '@finevideo/media';
import { DEMO_VIDEO, demoVideoSpec, generateVideo, shotLengths, transcriptVtt } from '@finevideo/demo';

/** Ids whose demo video has shots (two of three; the third kind is mostly one still picture). */
const SHOT_IDS = ['abcdefghijk', 'bbcdefghijk', 'cbcdefghijk', 'dbcdefghijk', 'ebcdefghijk', 'Zz_-0123456'].filter((id) => demoVideoSpec(id, 60).sections.length > 2);

describe('demo media: videos with shots as long as their metadata says, and subtitles of their transcript', function () {
  this.timeout(120_000);

  it('a video\'s sections add up to exactly its metadata duration, whatever the id and duration', () => {
    for (const id of ['abcdefghijk', 'bbcdefghijk', 'cbcdefghijk', 'dbcdefghijk', 'ebcdefghijk']) {
      for (const seconds of [1, 2, 5, 7, 19, 37, 61, 120, 233, 599]) {
        const total = demoVideoSpec(id, seconds).sections.reduce((sum, s) => sum + s.seconds, 0);
        assert.equal(total, seconds, `${id} ${seconds} s`);
      }
    }
    assert.deepEqual(shotLengths(10, 3, 0).reduce((a, b) => a + b, 0), 10);
    assert.throws(() => demoVideoSpec('abcdefghijk', Number.NaN), /demo video abcdefghijk: expected a positive duration in seconds, got NaN/);
  });

  it('most videos have several shots of different kinds, one fade, and no still long enough to look frozen', () => {
    assert.ok(SHOT_IDS.length >= 3, `ids with shots: ${SHOT_IDS.join(', ')}`);
    for (const id of SHOT_IDS) {
      for (const seconds of [40, 90, 240]) {
        const { sections } = demoVideoSpec(id, seconds);
        assert.ok(sections.length >= 3, `${id} ${seconds} s: ${sections.length} shots`);
        for (let k = 1; k < sections.length; k++) assert.notEqual(sections[k]!.kind, sections[k - 1]!.kind, 'a cut between different pictures');
        assert.equal(sections.filter((s) => s.fadeOut).length, 1, 'one fade out');
        assert.equal(sections.filter((s) => s.fadeIn).length, 1, 'one fade in');
        assert.ok(sections.every((s) => s.kind !== 'still' && s.kind !== 'bars' || s.seconds <= 20));
      }
    }
  });

  it('a static video (mostly one still picture) only where the still lasts long enough to look frozen; shorter ones get shots', () => {
    const statics = ['abcdefghijk', 'bbcdefghijk', 'cbcdefghijk', 'dbcdefghijk', 'ebcdefghijk', 'Zz_-0123456'].filter((id) => !SHOT_IDS.includes(id));
    assert.ok(statics.length >= 1);
    for (const id of statics) {
      assert.deepEqual(demoVideoSpec(id, 75).sections.map((s) => [s.kind, s.seconds]), [['motion', 4], ['still', 71]]);
      assert.ok(demoVideoSpec(id, 45).sections.length >= 3);
    }
  });

  it('the generated file lasts its metadata duration and scene detection finds its cuts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-media-'));
    try {
      const id = SHOT_IDS[0]!;
      const spec = demoVideoSpec(id, 47);
      const file = join(dir, `${id}.mp4`);
      await generateVideo(file, spec);
      const probed = await probe(file);
      assert.ok(Math.abs(probed.durationSec - 47) < 0.5, `container duration ${probed.durationSec}`);
      assert.ok(Math.abs((probed.video?.durationSec ?? 0) - 47) < 0.01, `video stream duration ${probed.video?.durationSec}`);
      const detection = await detectScenes(file, { threshold: 15, signal: new AbortController().signal });
      assert.equal(detection.frameCount, 47 * DEMO_VIDEO.fps);
      // Hard cuts between different generated pictures are found (the fade may or may not count as one).
      assert.ok(detection.cuts.length >= spec.sections.length - 2, `cuts ${detection.cuts.map((c) => c / detection.fps)} for shots ${JSON.stringify(spec.sections)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('subtitles: every word of the transcript once, in order, in cues inside the video with pauses between', () => {
    const words = Array.from({ length: 53 }, (_, k) => `w${k}`);
    const vtt = transcriptVtt(`${words.join(' ')} <b> &`, 30);
    assert.match(vtt, /^WEBVTT\n\n/);
    const cues = [...vtt.matchAll(/^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+)$/gm)].map((m) => ({
      start: Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000,
      end: Number(m[5]) * 3600 + Number(m[6]) * 60 + Number(m[7]) + Number(m[8]) / 1000,
      text: m[9]!,
    }));
    assert.equal(cues.length, 7);
    assert.deepEqual(cues.flatMap((c) => c.text.split(' ')), [...words, '&lt;b&gt;', '&amp;']);
    for (const [k, cue] of cues.entries()) {
      assert.ok(cue.start < cue.end && cue.end <= 30, JSON.stringify(cue));
      if (k) assert.ok(cue.start > cues[k - 1]!.end, 'a pause between cues');
    }
    assert.equal(transcriptVtt('', 30), 'WEBVTT\n\n');
  });
});
