import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mediaLayout, type Outcome } from '@finevideo/core';
import type { SceneDetection } from '@finevideo/media';
import { FileStore } from '@finevideo/storage';
import { generateVideo } from '@finevideo/testing';
import { alignParams, alignVideo, type AlignRow, type Detector } from '@finevideo/stages/align';
import { readStoredScenes, storedScenesKey } from '../src/stored-scenes.js';
import { annotateAll } from './annotate-helpers.js';
import { mediaItemContext } from './media-context.js';

const DETECTION: SceneDetection = {
  fps: 25, frameCount: 250, cuts: [100, 175], detectorWidth: 320, detectorHeight: 240,
  scenes: [{ startFrame: 0, endFrame: 100 }, { startFrame: 100, endFrame: 175 }, { startFrame: 175, endFrame: 250 }],
};
const ANNOTATION = {
  title: 'A video', description: 'What happens', characterList: [], qAndA: [], trimmingSuggestions: [],
  storylines: { description: 's', scenes: [1, 2], climax: { description: 'c', timestamp: '0:05' } },
  scenes: [1, 2].map((sceneId) => ({
    sceneId, title: `Scene ${sceneId}`, timestamps: sceneId === 1 ? { start_timestamp: '0:00', end_timestamp: '0:04' } : { start_timestamp: '0:04', end_timestamp: 'end' },
    cast: [], activities: [], props: [], videoEditingDetails: [], mood: { description: 'calm', keyMoments: [] }, narrativeProgression: [],
    characterInteraction: [], thematicElements: 'x', contextualRelevance: 'x', dynamismScore: 0.5, audioVisualCorrelation: 0.5,
  })),
};
/** A detector that must not run: the detection has to come from storage. */
const mustNotDecode: Detector = () => Promise.reject(new Error('decoded again: expected the stored detection'));

describe('stored scene detections (scenes/<id>.json, reused by align and written by the baseline annotator)', function () {
  this.timeout(120_000);
  let dir: string;
  let store: FileStore;
  let n = 0;
  const storedVideo = async () => {
    const id = `storedScn${String(n++).padStart(2, '0')}`;
    await store.put(`annotations/${id}.json`, JSON.stringify(ANNOTATION));
    const path = store.localPath(mediaLayout(id).video);
    await mkdir(dirname(path), { recursive: true });
    // A real (tiny) video: align checks the file before use; the detection itself is injected.
    await copyFile(join(dir, 'tiny.mp4'), path);
    return id;
  };
  const align = async (id: string, detect: Detector, params: Record<string, unknown> = {}) => {
    const ctx = await mediaItemContext(store, alignParams.parse(params));
    const outcome = await alignVideo({ video_id: id, duration_seconds: 10, annotator: 'gemini' }, ctx, detect);
    await rm(ctx.tmpDir, { recursive: true, force: true });
    return { outcome, counters: ctx.counters, warnings: ctx.warnings };
  };
  const rowOf = (o: Outcome<AlignRow>) => (o.status === 'kept' ? o.row : assert.fail(`expected a kept row, got ${JSON.stringify(o)}`));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stored-scenes-'));
    store = new FileStore(join(dir, 'store'));
    await generateVideo(join(dir, 'tiny.mp4'), { sections: [{ kind: 'still', seconds: 2 }], fps: 5, audio: false, gop: 5 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keys one file per video and detector settings, FineVideo\'s settings under the plain name; bad ids and settings refused', () => {
    assert.equal(storedScenesKey('abcdefghijk', { threshold: 15, minSceneLen: 15 }), 'scenes/abcdefghijk.json');
    assert.equal(storedScenesKey('abcdefghijk', { threshold: 27.5, minSceneLen: 15 }), 'scenes/abcdefghijk.t27.5-m15.json');
    assert.equal(storedScenesKey('abcdefghijk', { threshold: 15, minSceneLen: 0 }), 'scenes/abcdefghijk.t15-m0.json');
    assert.throws(() => storedScenesKey('../../etc/pw', { threshold: 15, minSceneLen: 15 }), /expected a video id, got "..\/..\/etc\/pw"/);
    assert.throws(() => storedScenesKey('abcdefghijk', { threshold: Number.NaN, minSceneLen: 15 }), /expected a threshold >= 0, got NaN/);
  });

  it('align stores its detection and, on a re-run, reuses it without the video or a decode', async () => {
    const id = await storedVideo();
    const first = await align(id, async () => DETECTION);
    assert.equal(first.counters.align_frames_decoded, 250);
    assert.deepEqual((await readStoredScenes(store, id, { threshold: 15, minSceneLen: 15 })).detection, DETECTION);
    await store.delete(mediaLayout(id).video);
    const again = await align(id, mustNotDecode);
    assert.deepEqual(rowOf(again.outcome), rowOf(first.outcome));
    assert.equal(again.counters.align_scenes_reused, 1);
    assert.equal(again.counters.align_frames_decoded, undefined);
  });

  it('other settings are another detection; a stored file of another video, with bad cuts or not JSON is detected again and replaced', async () => {
    const id = await storedVideo();
    await align(id, async () => DETECTION);
    let detections = 0;
    const counting: Detector = async () => { detections++; return DETECTION; };
    await align(id, counting, { threshold: 20 });
    assert.equal(detections, 1, 'threshold 20 is not threshold 15\'s detection');
    assert.ok(await store.exists(`scenes/${id}.t20-m15.json`));
    const key = `scenes/${id}.json`;
    const good = (await store.getText(key))!;
    const bad: [string, RegExp][] = [
      [good.replace(id, 'otherVideo1'), /expected video storedScn\d+, got otherVideo1/],
      [good.replace('[100,175]', '[175,100]'), /expected ascending cuts below frame_count 250, got 100 at 1/],
      [good.replace('[100,175]', '[100,250]'), /expected ascending cuts below frame_count 250, got 250 at 1/],
      ['{"video_id": ', /expected JSON, got unreadable text/],
      [good.replace('"ContentDetector"', '"AdaptiveDetector"'), /at detector: /],
    ];
    for (const [text, problem] of bad) {
      await store.put(key, text);
      const { outcome, warnings } = await align(id, counting);
      rowOf(outcome);
      assert.match(warnings.join('\n'), problem);
      assert.equal(await store.getText(key), good, 'replaced by the new detection');
    }
    assert.equal(detections, 1 + bad.length);
  });

  it('the baseline annotator stores the detection of a real video, and align then aligns without decoding it', async () => {
    const id = 'baselineScn';
    const video = store.localPath(mediaLayout(id).video);
    await mkdir(dirname(video), { recursive: true });
    await generateVideo(video, { sections: [{ kind: 'still', seconds: 3 }, { kind: 'motion', seconds: 2 }, { kind: 'still', seconds: 2 }], fps: 5 });
    const item = { video_id: id, duration_seconds: 7, title: 'Cuts', description: 'Three pictures', transcript: '' };
    const { out, counters } = await annotateAll(store, { backend: 'baseline' }, [item]);
    assert.equal(out[0]!.status, 'kept', JSON.stringify(out[0]));
    assert.equal(counters.baseline_scenes_detected, 1);
    const stored = (await readStoredScenes(store, id, { threshold: 15, minSceneLen: 15 })).detection;
    assert.ok(stored && stored.frameCount === 35 && stored.cuts.length >= 1, `stored: ${JSON.stringify(stored)}`);
    await store.delete(mediaLayout(id).video);
    const aligned = await align(id, mustNotDecode);
    assert.equal(rowOf(aligned.outcome).frame_count, 35);
    assert.equal(aligned.counters.align_scenes_reused, 1);
  });
});
