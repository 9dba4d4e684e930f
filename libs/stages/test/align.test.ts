import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mediaLayout, type ObjectStore, type Outcome, type PlanContext, type Row } from '@finevideo/core';
import { alignedContentMetadataSchema, type ContentMetadata, type Scene } from '@finevideo/dataset';
import { DecodeError, type SceneDetection } from '@finevideo/media';
import { FileStore } from '@finevideo/storage';
import { generateVideo, truncateCopy } from '@finevideo/testing';
import { alignParams, alignStage, alignVideo, type AlignItem, type AlignRow, type Detector } from '@finevideo/stages/align';
import { mediaItemContext } from './media-context.js';

/** A store that hides its folder: the stage must copy the video to its scratch folder (the S3 path). */
function withoutLocalPaths(store: ObjectStore): ObjectStore {
  return Object.assign(Object.create(store) as ObjectStore, { localPath: () => undefined });
}

function alignScene(sceneId: number, start: string, end: string, inner: Partial<Scene> = {}): Scene {
  return {
    sceneId, title: `Scene ${sceneId}`, timestamps: { start_timestamp: start, end_timestamp: end }, cast: [], activities: [], props: [],
    videoEditingDetails: [], mood: { description: 'calm', keyMoments: [] }, narrativeProgression: [], characterInteraction: [],
    thematicElements: 'x', contextualRelevance: 'x', dynamismScore: 0.5, audioVisualCorrelation: 0.5, ...inner,
  };
}

function annotationOf(scenes: Scene[], rest: Partial<ContentMetadata> = {}): ContentMetadata {
  return {
    title: 'A video', description: 'What happens', characterList: [], scenes,
    storylines: { description: 's', scenes: scenes.map((s) => s.sceneId), climax: { description: 'c', timestamp: '0:05' } },
    qAndA: [], trimmingSuggestions: [], ...rest,
  };
}

/** 10 s at 25 fps with cuts at 4 s and 7 s, as a detector would report it. */
const DETECTION: SceneDetection = {
  fps: 25, frameCount: 250, cuts: [100, 175], detectorWidth: 320, detectorHeight: 240,
  scenes: [{ startFrame: 0, endFrame: 100 }, { startFrame: 100, endFrame: 175 }, { startFrame: 175, endFrame: 250 }],
};
const fixedDetector = (detection: SceneDetection = DETECTION): Detector => async () => detection;
/** The model's timestamps, a little off the cuts (as models are). */
const GOOD = annotationOf([alignScene(1, '0:00', '0:05'), alignScene(2, '0:05', '0:07.5'), alignScene(3, '0:07.5', 'end')]);

describe('align stage (storage, error rows; detection injected)', function () {
  this.timeout(60_000);
  let dir: string;
  let store: FileStore;
  let n = 0;
  /** A whole video (the stage checks it before detection; the detector itself is injected), made once. */
  let sample: string;
  /** A fresh id with its annotation (text or object) and the sample video stored. */
  const stored = async (annotation: unknown, options: { video?: boolean } = {}) => {
    const id = `alignVid${String(n++).padStart(3, '0')}`;
    if (annotation !== undefined) await store.put(`annotations/${id}.json`, typeof annotation === 'string' ? annotation : JSON.stringify(annotation));
    if (options.video !== false) {
      const path = store.localPath(mediaLayout(id).video);
      await mkdir(dirname(path), { recursive: true });
      await copyFile(sample, path);
    }
    return id;
  };
  const align = async (id: string, detect: Detector = fixedDetector(), s: ObjectStore = store, params: Record<string, unknown> = {}) => {
    const ctx = await mediaItemContext(s, alignParams.parse(params));
    const outcome = await alignVideo({ video_id: id, duration_seconds: 10, annotator: 'gemini' }, ctx, detect);
    assert.deepEqual(await readdir(ctx.tmpDir), [], 'no scratch files left');
    await rm(ctx.tmpDir, { recursive: true, force: true });
    return { outcome, counters: ctx.counters };
  };
  const reasonOf = (o: Outcome<AlignRow>) => (o.status === 'error' ? o.reason : `not an error: ${o.status}`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'align-'));
    store = new FileStore(join(dir, 'store'));
    sample = join(dir, 'sample.mp4');
    await generateVideo(sample, { sections: [{ kind: 'still', seconds: 10 }], fps: 25, width: 64, height: 48 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes aligned/<id>.json (schema-valid, fps added, snapped timecodes) and a row with its figures', async () => {
    const id = await stored(GOOD);
    const { outcome, counters } = await align(id);
    assert.equal(outcome.status, 'kept', reasonOf(outcome));
    assert.deepEqual(outcome.status === 'kept' && outcome.row, {
      video_id: id, duration_seconds: 10, annotator: 'gemini', aligned_key: `aligned/${id}.json`, scenes: 3, cuts: 2, largest_shift_frames: 0,
      snapped_starts: 2, snapped_ends: 2, warning_count: 0, warnings: '', fps: 25, frame_count: 250, file_duration: 10, model_end_seconds: 10,
    });
    const aligned = alignedContentMetadataSchema.parse(JSON.parse((await store.getText(`aligned/${id}.json`))!));
    assert.equal(aligned.fps, 25);
    assert.deepEqual(aligned.scenes.map((s) => s.timestamps), [
      { start_timestamp: '00:00:00.000', end_timestamp: '00:00:03.960' },
      { start_timestamp: '00:00:04.000', end_timestamp: '00:00:06.960' },
      { start_timestamp: '00:00:07.000', end_timestamp: '00:00:09.960' },
    ]);
    assert.equal(counters.align_frames_decoded, 250);
  });

  it('warnings are in the row and counted', async () => {
    const noCuts: SceneDetection = { ...DETECTION, cuts: [], scenes: [{ startFrame: 0, endFrame: 250 }] };
    const id = await stored(annotationOf([alignScene(1, '0:00', '0:02'), alignScene(2, '0:04', 'end')]));
    const { outcome, counters } = await align(id, fixedDetector(noCuts));
    assert.equal(outcome.status, 'kept', reasonOf(outcome));
    assert.ok(outcome.status === 'kept');
    assert.equal(outcome.row.largest_shift_frames, 50);
    assert.equal(outcome.row.warning_count, 1);
    assert.equal(outcome.row.warnings, 'scene 2: start moved 50 frames to follow the previous scene (more than 25)');
    assert.equal(counters.align_warnings, 1);
  });

  const errorCases: [string, () => Promise<string>, RegExp][] = [
    ['a missing annotation', () => stored(undefined), /^annotation missing: expected annotations\/alignVid\d+\.json in storage, got none$/],
    ['an annotation that is not JSON', () => stored('{"title": '), /^annotation invalid: annotations\/alignVid\d+\.json is not JSON/],
    ['an annotation off the schema', () => stored({ ...GOOD, scenes: [{ ...GOOD.scenes[0], dynamismScore: 3 }] }), /^annotation invalid: annotations\/alignVid\d+\.json at scenes\.0\.dynamismScore: /],
    ['an unparseable scene start', () => stored(annotationOf([alignScene(1, 'soon', '0:05'), alignScene(2, '0:05', 'end')])),
      /^timestamp unparseable: scenes\[0\]\.timestamps\.start_timestamp: expected a timestamp \(h:m:s, m:s or seconds\), got "soon"$/],
    ['an unparseable inner timestamp', () => stored(annotationOf([alignScene(1, '0:00', 'end', { activities: [{ description: 'a', timestamp: { start_timestamp: '0:01', end_timestamp: 'when he leaves' } }] })])),
      /^timestamp unparseable: scenes\[0\]\.activities\[0\]\.timestamp\.end_timestamp: .*got "when he leaves"$/],
    ['an unparseable climax', () => stored(annotationOf([alignScene(1, '0:00', 'end')], { storylines: { description: 's', scenes: [1], climax: { description: 'c', timestamp: '??' } } })),
      /^timestamp unparseable: storylines\.climax\.timestamp: .*got "\?\?"$/],
    ['a scene start far from the previous end', () => stored(annotationOf([alignScene(1, '0:00', '0:02'), alignScene(2, '0:09', 'end')])),
      /^scene shift too large: scene 2 \(scenes\[1\]\): start moved \d+ frames to follow the previous scene \(more than 125\)$/],
    // "99:99" as the last scene's end of a 10 s video was stretched to the end and kept.
    ['a time far past the video\'s end', () => stored(annotationOf([alignScene(1, '0:00', '0:04'), alignScene(2, '0:04', '99:99')])),
      /^timestamp impossible: scenes\[1\]\.timestamps\.end_timestamp: "99:99" is past the video's end \(10 s, tolerance 5 s\)$/],
    ['a scene ending before it starts', () => stored(annotationOf([alignScene(1, '0:00', '0:04'), alignScene(2, '0:04', '0:06'), alignScene(3, '0:07', '0:05')])),
      /^timestamp impossible: scenes\[2\]\.timestamps\.end_timestamp: "0:05" is before its start "0:07"$/],
    ['a missing video', () => stored(GOOD, { video: false }), /^video missing: expected media\/alignVid\d+\/alignVid\d+\.mp4 in storage, got none$/],
  ];
  for (const [name, make, reason] of errorCases) {
    it(`${name}: an error row, nothing written`, async () => {
      const id = await make();
      const { outcome } = await align(id);
      assert.match(reasonOf(outcome), reason);
      assert.equal(outcome.status === 'error' && outcome.row?.video_id, id);
      assert.equal(await store.exists(`aligned/${id}.json`), false);
    });
  }

  it('a video ffmpeg cannot decode is an error row; any other detector failure fails the chunk', async () => {
    const id = await stored(GOOD);
    const { outcome } = await align(id, async () => { throw new DecodeError('ffmpeg exited with code 1: moov atom not found'); });
    assert.match(reasonOf(outcome), /^scene detection failed: ffmpeg exited with code 1: moov atom not found$/);
    await assert.rejects(align(id, async () => { throw new Error('scene detection: not built yet'); }), /not built yet/);
  });

  it('an invalid video id is an error row and never reaches a key', async () => {
    const ctx = await mediaItemContext(store, alignParams.parse({}));
    const outcome = await alignVideo({ video_id: '../../etc/pw', duration_seconds: null, annotator: null }, ctx, fixedDetector());
    assert.match(reasonOf(outcome), /^invalid video id: /);
  });

  it('copies the video to scratch when the store has no local paths (S3), removes it, and agrees', async () => {
    const id = await stored(GOOD);
    let seen = '';
    const { outcome } = await align(id, async (path) => { seen = path; return DETECTION; }, withoutLocalPaths(store));
    assert.equal(outcome.status, 'kept');
    assert.ok(seen.startsWith(tmpdir()) && seen.endsWith(`align-${id}.mp4`), seen);
  });

  it('params: thresholds reach the alignment; the threshold reaches the detector; bad params are refused', async () => {
    const id = await stored(annotationOf([alignScene(1, '0:00', '0:02'), alignScene(2, '0:03', 'end')]));
    const noCuts: SceneDetection = { ...DETECTION, cuts: [], scenes: [{ startFrame: 0, endFrame: 250 }] };
    let threshold = 0;
    const { outcome } = await align(id, async (_p, o) => { threshold = o.threshold; return noCuts; }, store, { failShiftFrames: 10, threshold: 27 });
    assert.match(reasonOf(outcome), /^scene shift too large: .*more than 10\)$/);
    assert.equal(threshold, 27);
    const late = await stored(annotationOf([alignScene(1, '0:00', '0:04'), alignScene(2, '0:04', '0:11')]));
    assert.equal((await align(late)).outcome.status, 'kept', 'within the default 5 s tolerance');
    assert.match(reasonOf((await align(late, fixedDetector(), store, { overrunToleranceSec: 0.5 })).outcome), /^timestamp impossible: .*tolerance 0\.5 s\)$/);
    assert.throws(() => alignParams.parse({ snapWindow: 2 }), /snapWindow/);
  });

  it('lists one item per annotated video with its metadata duration and annotator (only those columns read)', async () => {
    const rows: Row[] = [{ video_id: 'aaaaaaaaaaa', duration_seconds: 12.5, annotator: 'baseline annotator' }, { video_id: 'bbbbbbbbbbb', duration_seconds: null, annotator: null }, { video_id: null }];
    const ctx = { previousRows: async function* () { yield* rows; } } as unknown as PlanContext<unknown>;
    const items: AlignItem[] = [];
    for await (const item of alignStage.listItems(ctx as PlanContext<never>)) items.push(item);
    assert.deepEqual(items, [{ video_id: 'aaaaaaaaaaa', duration_seconds: 12.5, annotator: 'baseline annotator' }, { video_id: 'bbbbbbbbbbb', duration_seconds: null, annotator: null }]);
    assert.deepEqual(alignStage.inputColumns, ['video_id', 'duration_seconds', 'annotator']);
  });
});

describe('align stage on generated videos (real ffmpeg, real scene detection)', function () {
  this.timeout(120_000);
  let dir: string;
  let store: FileStore;
  const ids = { cuts: 'realCuts001', truncated: 'realTrunc01' };
  const place = async (id: string) => {
    const path = store.localPath(mediaLayout(id).video);
    await mkdir(dirname(path), { recursive: true });
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'align-real-'));
    store = new FileStore(join(dir, 'store'));
    // Three still shots of different colours at 25 fps: hard cuts at 4 s (frame 100) and 7 s (frame 175).
    await generateVideo(await place(ids.cuts), { sections: [{ kind: 'still', seconds: 4 }, { kind: 'still', seconds: 3 }, { kind: 'still', seconds: 3 }], fps: 25, width: 320, height: 240 });
    await truncateCopy(store.localPath(mediaLayout(ids.cuts).video), await place(ids.truncated), 0.3);
    for (const id of Object.values(ids)) await store.put(`annotations/${id}.json`, JSON.stringify(GOOD));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const align = async (id: string, s: ObjectStore = store) => {
    const ctx = await mediaItemContext(s, alignParams.parse({}));
    const outcome = await alignStage.processItem({ video_id: id, duration_seconds: 10, annotator: 'gemini' }, ctx) as Outcome<AlignRow>;
    assert.deepEqual(await readdir(ctx.tmpDir), [], 'no scratch files left');
    await rm(ctx.tmpDir, { recursive: true, force: true });
    return outcome;
  };

  it('snaps the model\'s times (0:05, 0:07.5) onto the detected cuts (4 s, 7 s) and writes frame-accurate timecodes', async () => {
    const outcome = await align(ids.cuts);
    assert.equal(outcome.status, 'kept', outcome.status === 'error' ? outcome.reason : '');
    assert.ok(outcome.status === 'kept');
    assert.deepEqual([outcome.row.cuts, outcome.row.fps, outcome.row.frame_count, outcome.row.scenes, outcome.row.largest_shift_frames], [2, 25, 250, 3, 0]);
    const aligned = alignedContentMetadataSchema.parse(JSON.parse((await store.getText(`aligned/${ids.cuts}.json`))!));
    assert.deepEqual(aligned.scenes.map((s) => [s.timestamps.start_timestamp, s.timestamps.end_timestamp]), [
      ['00:00:00.000', '00:00:03.960'], ['00:00:04.000', '00:00:06.960'], ['00:00:07.000', '00:00:09.960'],
    ]);
  });

  it('agrees when the video is copied from a store without local paths', async () => {
    const outcome = await align(ids.cuts, withoutLocalPaths(store));
    assert.equal(outcome.status === 'kept' && outcome.row.cuts, 2);
  });

  it('a truncated video is an error row video-corrupt (checked before detection), not a crashed chunk', async () => {
    const outcome = await align(ids.truncated);
    assert.equal(outcome.status, 'error');
    assert.match(outcome.status === 'error' ? outcome.reason : '', /^video-corrupt: media\/realTrunc01\/realTrunc01\.mp4: expected video frames up to 10\.00 s/);
  });
});
