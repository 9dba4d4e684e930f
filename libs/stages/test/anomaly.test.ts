import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GlobalContext, Outcome, Row } from '@finevideo/core';
import { alignContentMetadata, type AlignedContentMetadata } from '@finevideo/dataset';
import { FileStore } from '@finevideo/storage';
import {
  ANOMALY_RULES, AnomalyReport, anomalyParams, anomalyStage, judgeAnnotation, scoreErrors, withScoresClamped, type AnomalyParams, type AnomalyRule, type VideoFacts,
} from '@finevideo/stages/anomaly';
import { sampleAnnotation } from '@finevideo/testing';
import { mediaItemContext } from './media-context.js';

/** A realistic annotation of a 30 s video (3 scenes of 10 s) aligned to cuts at 10 s and 20 s, 25 fps. */
function goodAligned(): AlignedContentMetadata {
  const r = alignContentMetadata(sampleAnnotation({ durationSeconds: 30, scenes: 3, seed: 1 }), {
    fps: 25, frameCount: 750, cuts: [250, 500], scenes: [{ startFrame: 0, endFrame: 250 }, { startFrame: 250, endFrame: 500 }, { startFrame: 500, endFrame: 750 }],
  });
  assert.ok(r.ok, r.ok ? '' : r.failure.message);
  return r.metadata;
}
const FACTS: VideoFacts = { fps: 25, frameCount: 750, cuts: 2, metadataDuration: 30, modelEndSec: 30, baseline: false };
const DEFAULTS = anomalyParams.parse({});

const judge = (a: AlignedContentMetadata | Record<string, unknown>, facts: Partial<VideoFacts> = {}, params: Partial<AnomalyParams> = {}) => {
  const raw = structuredClone(a) as AlignedContentMetadata;
  const scores = raw.scenes.flatMap((s, i) => ([['dynamismScore', s.dynamismScore], ['audioVisualCorrelation', s.audioVisualCorrelation]] as const)
    .filter(([, v]) => !(typeof v === 'number' && v >= 0 && v <= 1)).map(([k, v]) => `scenes[${i}].${k} = ${JSON.stringify(v)}`));
  return judgeAnnotation(raw, { ...FACTS, ...facts }, { ...DEFAULTS, ...params }, { count: scores.length, first: scores[0] });
};
const rulesOf = (j: ReturnType<typeof judge>) => j.violations.map((v) => v.rule);
const mutated = (change: (a: AlignedContentMetadata) => void) => {
  const a = goodAligned();
  change(a);
  return a;
};

describe('anomaly rules (each fires on its bad case, not on a good annotation)', () => {
  it('a realistic aligned annotation breaks no rule and skips none', () => {
    assert.deepEqual(judge(goodAligned()), { violations: [], skipped: [] });
  });

  const cases: [AnomalyRule, string, () => ReturnType<typeof judge>, RegExp][] = [
    ['coverage', 'the first scene starts late', () => judge(mutated((a) => { a.scenes[0]!.timestamps.start_timestamp = '00:00:05.000'; })), /first scene starts at 5 s/],
    ['coverage', 'a gap between scenes', () => judge(mutated((a) => { a.scenes[1]!.timestamps.start_timestamp = '00:00:10.400'; })), /gap of 10 frames before scene 2/],
    ['coverage', 'the last scene ends early', () => judge(mutated((a) => { a.scenes[2]!.timestamps.end_timestamp = '00:00:25.000'; })), /last scene ends at 25 s/],
    ['coverage', 'a scene ending before it starts', () => judge(mutated((a) => { a.scenes[1]!.timestamps.end_timestamp = '00:00:09.000'; })), /scene 2 ends \(9 s\) before it starts/],
    ['timestamps', 'an activity outside its scene', () => judge(mutated((a) => { a.scenes[1]!.activities[0]!.timestamp.start_timestamp = '00:00:01.000'; })), /1 timestamp\(s\) .* first scenes\[1\]\.activities\[0\]\.timestamp\.start_timestamp = "00:00:01\.000" \(outside 10 s\.\.19\.96 s\)/],
    ['timestamps', 'a prop time that is not a timecode', () => judge(mutated((a) => { a.scenes[0]!.props[0]!.timestamp.end_timestamp = 'later'; })), /"later" \(not a timecode\)/],
    ['timestamps', 'a trimming suggestion past the end', () => judge(mutated((a) => { a.trimmingSuggestions[0]!.timestamps.end_timestamp = '00:01:00.000'; })), /trimmingSuggestions\[0\]/],
    ['scene-ids', 'ids not 1..n', () => judge(mutated((a) => { a.scenes[1]!.sceneId = 5; a.storylines.scenes = [1, 5, 3]; })), /1 scene id\(s\) not 1\.\.3 in order \(first: 5 at position 2\)/],
    ['scene-count', 'a cut-heavy video in three scenes', () => judge(goodAligned(), { cuts: 301 }), /301 detected cuts in 3 scene\(s\)/],
    ['scene-count', 'many more scenes than shots', () => judge(goodAligned(), { cuts: 0 }, { maxExtraScenes: 1 }), /3 scenes for 1 detected shot\(s\)/],
    ['cast', 'cast names not in characterList', () => judge(mutated((a) => { for (const s of a.scenes) s.cast = ['Nobody', 'Ghost']; })), /6 of 6 cast entries name no character/],
    ['storyline', 'a storyline scene that does not exist', () => judge(mutated((a) => { a.storylines.scenes = [1, 2, 9]; })), /storyline scene id\(s\) 9 name no scene/],
    ['climax', 'a climax past the end', () => judge(mutated((a) => { a.storylines.climax.timestamp = '00:05:00.000'; })), /climax at 300 s is outside the video/],
    ['qa', 'four Q&A pairs', () => judge(mutated((a) => { a.qAndA.pop(); })), /4 Q&A pair\(s\), expected 5/],
    ['qa', 'an empty answer', () => judge(mutated((a) => { a.qAndA[2]!.answer = '  '; })), /qAndA\[2\] has an empty question or answer/],
    ['qa', 'a question asked twice', () => judge(mutated((a) => { a.qAndA[3]!.question = `${a.qAndA[0]!.question.toUpperCase()} `; })), /is asked twice/],
    ['scores', 'a score above 1', () => judge(mutated((a) => { a.scenes[0]!.dynamismScore = 1.5; })), /1 score\(s\) not a number in \[0, 1\], first scenes\[0\]\.dynamismScore = 1\.5/],
    ['text', 'an empty title', () => judge(mutated((a) => { a.title = ' '; })), /the title " " is shorter than 1/],
    ['text', 'an empty description', () => judge(mutated((a) => { a.description = ''; })), /the description "" is shorter/],
    ['placeholder', 'N/A everywhere', () => judge(mutated((a) => {
      for (const s of a.scenes) {
        s.title = 'N/A'; s.thematicElements = 'n/a'; s.contextualRelevance = '...'; s.mood.description = 'TBD';
        for (const x of s.activities) x.description = 'N/A';
        for (const x of s.videoEditingDetails) x.description = 'none';
        for (const x of s.mood.keyMoments) x.changeDescription = '';
        for (const x of s.narrativeProgression) x.description = '<description>';
        for (const x of s.characterInteraction) x.description = 'N/A';
      }
      a.storylines.description = 'N/A';
      a.storylines.climax.description = 'N/A';
      for (const c of a.characterList) c.description = 'unknown';
    })), /of \d+ text fields are empty or placeholders/],
    ['placeholder', 'the prompt\'s own words', () => judge(mutated((a) => { a.scenes[1]!.contextualRelevance = 'The overall story, the sceneIds it runs through, and its climax with a time.'; })), /scenes\[1\]\.contextualRelevance repeats the annotation prompt/],
    ['early-stop', 'a 30 s video described to 10 s, with the gap tolerance lowered to 10 s', () => judge(goodAligned(), { modelEndSec: 10 }, { earlyStopMaxGapSec: 10 }), /the model's scenes end at 10 s of 30 s \(33%, under 80% and more than 10 s before the end\)/],
    ['duration', 'metadata and file durations apart', () => judge(goodAligned(), { metadataDuration: 60 }), /the metadata says 60 s, the file has 30 s \(more than 5 s apart\)/],
  ];
  for (const [rule, name, run, detail] of cases) {
    it(`${rule}: ${name}`, () => {
      const j = run();
      assert.equal(j.violations[0]?.rule, rule, JSON.stringify(j.violations));
      assert.match(j.violations[0]!.detail, detail);
    });
  }

  it('every rule has a bad case above', () => {
    assert.deepEqual([...new Set(cases.map(([rule]) => rule))].sort(), [...ANOMALY_RULES].sort());
  });

  it('thresholds relax their rule', () => {
    assert.deepEqual(rulesOf(judge(goodAligned(), { metadataDuration: 33 })), []);
    assert.deepEqual(rulesOf(judge(goodAligned(), { metadataDuration: 60 }, { durationToleranceSec: 40 })), []);
    assert.deepEqual(rulesOf(judge(goodAligned(), { cuts: 301 }, { maxCutsPerScene: 200 })), []);
    assert.deepEqual(rulesOf(judge(mutated((a) => { a.qAndA.pop(); }), {}, { minQaPairs: 4 })), []);
    assert.deepEqual(rulesOf(judge(mutated((a) => { a.scenes[0]!.timestamps.start_timestamp = '00:00:05.000'; a.scenes[0]!.activities = []; a.scenes[0]!.props = []; a.scenes[0]!.videoEditingDetails = []; a.scenes[0]!.narrativeProgression = []; a.scenes[0]!.mood.keyMoments = []; a.trimmingSuggestions = []; }), {}, { coverageToleranceSec: 6 })), []);
    // Half the cast unknown is tolerated at the default 0.5, not at 0.4.
    const half = mutated((a) => { for (const s of a.scenes) s.cast = [a.characterList[0]!.name, 'Ghost']; });
    assert.deepEqual(rulesOf(judge(half)), []);
    assert.deepEqual(rulesOf(judge(half, {}, { maxUnknownCastShare: 0.4 })), ['cast']);
  });

  it('cast entries may be characterIds (as our prompt asks) or names, in any case', () => {
    assert.deepEqual(rulesOf(judge(mutated((a) => { for (const s of a.scenes) s.cast = [a.characterList[0]!.characterId.toUpperCase(), a.characterList[0]!.name.toLowerCase()]; }))), []);
  });

  describe('early-stop: the model stopped describing part way (align stretched its last scene to the end)', () => {
    /** A model's annotation of the first `annotatedSec` of a 10-minute video, aligned as the align stage does. */
    const tenMinuteVideo = (annotatedSec: number) => {
      const cuts = [25 * 20, 25 * 40];
      const r = alignContentMetadata(sampleAnnotation({ durationSeconds: annotatedSec, scenes: 3, seed: 2 }), {
        fps: 25, frameCount: 15_000, cuts, scenes: [{ startFrame: 0, endFrame: cuts[0]! }, { startFrame: cuts[0]!, endFrame: cuts[1]! }, { startFrame: cuts[1]!, endFrame: 15_000 }],
      });
      assert.ok(r.ok, r.ok ? '' : r.failure.message);
      return judge(r.metadata, { frameCount: 15_000, cuts: 2, metadataDuration: 600, modelEndSec: r.stats.modelEndSec });
    };

    it('a 10-minute video annotated to 1:00 is dropped (every other rule passes: the stretch hid it)', () => {
      const j = tenMinuteVideo(60);
      assert.deepEqual(rulesOf(j), ['early-stop']);
      assert.match(j.violations[0]!.detail, /the model's scenes end at 60 s of 600 s \(10%/);
    });

    it('one annotated to 9:55 is kept', () => {
      assert.deepEqual(tenMinuteVideo(595), { violations: [], skipped: [] });
    });

    it('thresholds: a short video\'s skipped outro is within the gap; the coverage share is a param; unknown coverage skips', () => {
      // 30 s video, the model's scenes end at 10 s: 33% but only 20 s short (at most 30 s tolerated).
      assert.deepEqual(rulesOf(judge(goodAligned(), { modelEndSec: 10 })), []);
      assert.deepEqual(rulesOf(tenMinuteVideo(60)), ['early-stop']);
      assert.deepEqual(rulesOf(judge(goodAligned(), { frameCount: 25 * 600, metadataDuration: 600, modelEndSec: 400 }, { disabled: ['coverage', 'timestamps', 'climax'] })), ['early-stop']);
      assert.deepEqual(rulesOf(judge(goodAligned(), { frameCount: 25 * 600, metadataDuration: 600, modelEndSec: 400 }, { disabled: ['coverage', 'timestamps', 'climax'], earlyStopMinCoverage: 0.6 })), []);
      assert.deepEqual(judge(goodAligned(), { modelEndSec: null }).skipped, ['early-stop']);
    });
  });

  it('disabled rules are not applied', () => {
    assert.deepEqual(rulesOf(judge(goodAligned(), { metadataDuration: 60 }, { disabled: ['duration'] })), []);
  });

  it('a video breaking several rules lists them all, in rule order', () => {
    const j = judge(mutated((a) => { a.title = ''; a.qAndA = []; a.storylines.scenes = [7]; }), { metadataDuration: 90 });
    assert.deepEqual(rulesOf(j), ['storyline', 'qa', 'text', 'duration']);
  });

  it('a baseline annotation (empty Q&A and texts by design) skips the qa and placeholder rules; an unknown metadata duration skips duration', () => {
    const baseline = mutated((a) => {
      a.qAndA = []; a.characterList = []; a.storylines = { description: '', scenes: [], climax: { description: '', timestamp: null } }; a.trimmingSuggestions = [];
      for (const s of a.scenes) Object.assign(s, { title: '', cast: [], activities: [], props: [], characterInteraction: [], thematicElements: '', contextualRelevance: '', mood: { description: '', keyMoments: [] } });
    });
    assert.deepEqual(judge(baseline, { baseline: true, metadataDuration: null }), { violations: [], skipped: ['qa', 'placeholder', 'duration'] });
    // No time named is null in an aligned annotation: never judged as a bad timecode.
    assert.deepEqual(judge(mutated((a) => { a.storylines.climax.timestamp = null; a.scenes[0]!.props[0]!.timestamp.start_timestamp = null; })).violations, []);
    assert.deepEqual(rulesOf(judge(baseline, { baseline: false })), ['qa', 'placeholder']);
  });
});

/** The verdict of one rule alone: its detail, undefined when the video passes it, 'skip' when it does not apply. */
const only = (rule: AnomalyRule, a: AlignedContentMetadata, facts: Partial<VideoFacts> = {}, params: Partial<AnomalyParams> = {}) => {
  const j = judge(a, facts, { ...params, disabled: ANOMALY_RULES.filter((r) => r !== rule) });
  return j.skipped.includes(rule) ? 'skip' : j.violations.find((v) => v.rule === rule)?.detail;
};

describe('anomaly rules at their thresholds (a value at the threshold passes, one step past it fails)', () => {
  it('coverage: edges within the tolerance, scenes that touch, one-frame scenes; a boundary that is no timecode', () => {
    const withScene = (i: number, edge: 'start_timestamp' | 'end_timestamp', value: string) => mutated((a) => { a.scenes[i]!.timestamps[edge] = value; });
    assert.equal(only('coverage', withScene(0, 'start_timestamp', '00:00:02.000')), undefined, '50 frames late = 2 s tolerance');
    assert.equal(only('coverage', withScene(0, 'start_timestamp', '00:00:02.040')), 'the first scene starts at 2.04 s, more than 2 s after the video\'s start');
    assert.equal(only('coverage', withScene(2, 'end_timestamp', '00:00:27.960')), undefined, 'ends 50 frames before the last frame');
    assert.equal(only('coverage', withScene(2, 'end_timestamp', '00:00:27.920')), 'the last scene ends at 27.92 s, more than 2 s before the video\'s end (29.96 s)');
    assert.equal(only('coverage', withScene(1, 'start_timestamp', '00:00:10.040')), 'a gap of 1 frames before scene 2');
    assert.equal(only('coverage', withScene(1, 'start_timestamp', '00:00:09.960')), 'scene 2 overlaps the previous one by 1 frames');
    assert.equal(only('coverage', withScene(2, 'start_timestamp', '00:00:19.920')), 'scene 3 overlaps the previous one by 2 frames');
    const oneFrame = mutated((a) => { a.scenes[1]!.timestamps.end_timestamp = '00:00:10.000'; a.scenes[2]!.timestamps.start_timestamp = '00:00:10.040'; });
    assert.equal(only('coverage', oneFrame), undefined, 'a scene may be a single frame');
    assert.equal(only('coverage', withScene(2, 'start_timestamp', 'soon')), 'scene 3: its start or end is not a timecode ({"start_timestamp":"soon","end_timestamp":"00:00:29.960"})');
    assert.match(only('coverage', withScene(0, 'start_timestamp', 'soon')) ?? '', /^scene 1: its start or end is not a timecode /, 'the first scene too');
    assert.equal(only('coverage', withScene(1, 'end_timestamp', '10 s')), 'scene 2: its start or end is not a timecode ({"start_timestamp":"00:00:10.000","end_timestamp":"10 s"})');
    assert.equal(only('coverage', withScene(0, 'start_timestamp', '00:00:03.000'), {}, { coverageToleranceSec: 3 }), undefined);
  });

  it('early-stop: reaching the coverage share or ending within the gap is enough', () => {
    const strictGap = { earlyStopMaxGapSec: 0 };
    assert.equal(only('early-stop', goodAligned(), { modelEndSec: 24 }, strictGap), undefined, '24 s of 30 s is 80%');
    assert.equal(only('early-stop', goodAligned(), { modelEndSec: 23.5 }, strictGap), 'the model\'s scenes end at 23.5 s of 30 s (78%, under 80% and more than 0 s before the end): it stopped describing part way');
    assert.equal(only('early-stop', goodAligned(), { modelEndSec: 10 }, { earlyStopMaxGapSec: 20 }), undefined, '20 s short, 20 s tolerated');
    assert.match(only('early-stop', goodAligned(), { modelEndSec: 10 }, { earlyStopMaxGapSec: 19.5 }) ?? '', /^the model's scenes end at 10 s of 30 s \(33%, under 80% and more than 19\.5 s before the end\)/);
    assert.equal(only('early-stop', goodAligned(), { modelEndSec: 15, frameCount: 1500, fps: 50 }, { earlyStopMaxGapSec: 14 }), 'the model\'s scenes end at 15 s of 30 s (50%, under 80% and more than 14 s before the end): it stopped describing part way', 'the duration is frames over fps');
  });

  it('timestamps: every timecode is checked against its scene (or the video) and named in the detail', () => {
    // [field, how to set it, a frame just outside its range, the range the detail names]
    const scene1 = (a: AlignedContentMetadata) => a.scenes[1]!;
    const fields: [string, (a: AlignedContentMetadata, t: string) => void, string, string][] = [
      ['scenes[1].activities[0].timestamp.start_timestamp', (a, t) => { scene1(a).activities[0]!.timestamp.start_timestamp = t; }, '00:00:09.960', '10 s..19.96 s'],
      ['scenes[1].activities[0].timestamp.end_timestamp', (a, t) => { scene1(a).activities[0]!.timestamp.end_timestamp = t; }, '00:00:20.000', '10 s..19.96 s'],
      ['scenes[1].props[0].timestamp.start_timestamp', (a, t) => { scene1(a).props[0]!.timestamp.start_timestamp = t; }, '00:00:09.960', '10 s..19.96 s'],
      ['scenes[1].props[0].timestamp.end_timestamp', (a, t) => { scene1(a).props[0]!.timestamp.end_timestamp = t; }, '00:00:20.000', '10 s..19.96 s'],
      ['scenes[1].videoEditingDetails[0].timestamps.start_timestamp', (a, t) => { scene1(a).videoEditingDetails[0]!.timestamps.start_timestamp = t; }, '00:00:09.960', '10 s..19.96 s'],
      ['scenes[1].videoEditingDetails[0].timestamps.end_timestamp', (a, t) => { scene1(a).videoEditingDetails[0]!.timestamps.end_timestamp = t; }, '00:00:20.000', '10 s..19.96 s'],
      ['scenes[1].mood.keyMoments[0].timestamp', (a, t) => { scene1(a).mood.keyMoments[0]!.timestamp = t; }, '00:00:20.000', '10 s..19.96 s'],
      ['scenes[1].narrativeProgression[0].timestamp', (a, t) => { scene1(a).narrativeProgression[0]!.timestamp = t; }, '00:00:09.960', '10 s..19.96 s'],
      ['trimmingSuggestions[0].timestamps.start_timestamp', (a, t) => { a.trimmingSuggestions[0]!.timestamps.start_timestamp = t; }, '00:00:30.000', '0 s..29.96 s'],
      ['trimmingSuggestions[0].timestamps.end_timestamp', (a, t) => { a.trimmingSuggestions[0]!.timestamps.end_timestamp = t; }, '00:00:30.000', '0 s..29.96 s'],
    ];
    for (const [path, set, outside, range] of fields) {
      const bad = mutated((a) => set(a, outside));
      assert.equal(only('timestamps', bad), `1 timestamp(s) outside their scene or the video, first ${path} = "${outside}" (outside ${range})`, path);
      assert.equal(only('timestamps', bad, {}, { timestampToleranceFrames: 1 }), undefined, `${path}: one frame tolerated`);
      assert.equal(only('timestamps', mutated((a) => set(a, 'noon'))), `1 timestamp(s) outside their scene or the video, first ${path} = "noon" (not a timecode)`, path);
    }
    // Scene boundaries are checked against the video; a scene running past the end bounds its contents by the video.
    const past = mutated((a) => { a.scenes[2]!.timestamps.end_timestamp = '00:00:40.000'; a.scenes[2]!.props[0]!.timestamp.end_timestamp = '00:00:35.000'; });
    assert.equal(only('timestamps', past), '2 timestamp(s) outside their scene or the video, first scenes[2].timestamps.end_timestamp = "00:00:40.000" (outside 0 s..29.96 s)');
    assert.equal(only('timestamps', mutated((a) => { a.scenes[2]!.timestamps.end_timestamp = '00:00:40.000'; a.scenes[2]!.props[0]!.timestamp.end_timestamp = '00:00:40.000'; }), {}, { timestampToleranceFrames: 251 }), undefined);
    assert.equal(only('timestamps', mutated((a) => { a.scenes[0]!.timestamps.start_timestamp = 'start'; })), 'scene boundaries are not timecodes');
    assert.equal(only('timestamps', mutated((a) => { a.scenes[2]!.timestamps.end_timestamp = 'end'; })), 'scene boundaries are not timecodes');
  });

  it('scene-ids, scene-count, storyline and scores tolerate exactly their threshold', () => {
    const twoWrong = mutated((a) => { a.scenes[0]!.sceneId = 7; a.scenes[2]!.sceneId = 8; });
    assert.equal(only('scene-ids', twoWrong, {}, { maxSceneIdErrors: 2 }), undefined);
    assert.equal(only('scene-ids', twoWrong, {}, { maxSceneIdErrors: 1 }), '2 scene id(s) not 1..3 in order (first: 7 at position 1)');
    assert.equal(only('scene-count', goodAligned(), { cuts: 0 }, { maxExtraScenes: 2 }), undefined, '3 scenes for 1 shot, 2 extra tolerated');
    assert.equal(only('scene-count', goodAligned(), { cuts: 0 }, { maxExtraScenes: 1 }), '3 scenes for 1 detected shot(s) (more than 1 extra)');
    assert.equal(only('scene-count', goodAligned(), { cuts: 300 }), undefined, '100 cuts a scene tolerated');
    assert.equal(only('scene-count', goodAligned(), { cuts: 301 }), '301 detected cuts in 3 scene(s) (more than 100 a scene)');
    const unknownScenes = mutated((a) => { a.storylines.scenes = [1, 11, 12, 13, 14, 15, 16]; });
    assert.equal(only('storyline', unknownScenes, {}, { maxUnknownStorylineScenes: 6 }), undefined);
    assert.equal(only('storyline', unknownScenes, {}, { maxUnknownStorylineScenes: 5 }), 'storyline scene id(s) 11, 12, 13, 14, 15 name no scene', 'five ids shown');
    assert.equal(only('scores', goodAligned(), {}, {}), undefined);
    const twoScores = mutated((a) => { a.scenes[0]!.dynamismScore = -1; a.scenes[1]!.audioVisualCorrelation = 2; });
    assert.equal(only('scores', twoScores, {}, { maxScoreErrors: 2 }), undefined);
    assert.equal(only('scores', twoScores, {}, { maxScoreErrors: 1 }), '2 score(s) not a number in [0, 1], first scenes[0].dynamismScore = -1');
  });

  it('cast: names and ids match after case and punctuation are folded; no cast at all passes; punctuation alone names no one', () => {
    assert.equal(only('cast', mutated((a) => { for (const s of a.scenes) s.cast = ['SAM!', ' char_2 ']; })), undefined);
    assert.equal(only('cast', mutated((a) => { for (const s of a.scenes) s.cast = []; })), undefined);
    const dots = mutated((a) => { a.characterList[1]!.name = '...'; for (const s of a.scenes) s.cast = ['...']; });
    assert.equal(only('cast', dots), '3 of 3 cast entries name no character of characterList (first: "...")');
    const long = `Someone ${'very '.repeat(20)}far away`;
    assert.equal(only('cast', mutated((a) => { for (const s of a.scenes) s.cast = [long]; })), `3 of 3 cast entries name no character of characterList (first: ${JSON.stringify(long.slice(0, 60))})`);
  });

  it('climax: the first and the last frame are inside the video, one frame past is not (unless tolerated)', () => {
    const climaxAt = (t: string) => mutated((a) => { a.storylines.climax.timestamp = t; });
    assert.equal(only('climax', climaxAt('00:00:00.000')), undefined);
    assert.equal(only('climax', climaxAt('00:00:29.960')), undefined);
    assert.equal(only('climax', climaxAt('00:00:30.000')), 'the climax at 30 s is outside the video (0..29.96 s)');
    assert.equal(only('climax', climaxAt('00:00:30.000'), {}, { climaxToleranceFrames: 1 }), undefined);
    assert.equal(only('climax', climaxAt(`at the very end, when everything ${'x'.repeat(30)}`)), 'the climax "at the very end, when everything xxxxxxx" is not a timecode');
  });

  it('qa: the pair count, an empty question, a repeated question after case and punctuation are folded', () => {
    assert.equal(only('qa', goodAligned(), {}, { minQaPairs: 6 }), '5 Q&A pair(s), expected 6');
    assert.equal(only('qa', goodAligned(), {}, { minQaPairs: 5 }), undefined);
    assert.equal(only('qa', mutated((a) => { a.qAndA[4]!.question = ' '; })), 'qAndA[4] has an empty question or answer');
    assert.equal(only('qa', mutated((a) => { a.qAndA[0]!.answer = ''; })), 'qAndA[0] has an empty question or answer');
    assert.equal(only('qa', mutated((a) => { a.qAndA[4]!.question = '...who is THE main character'; })), 'the question "...who is THE main character" is asked twice');
    assert.equal(only('qa', mutated((a) => { a.qAndA[4]!.question = 'Who is the main character, really?'; })), undefined);
  });

  it('text: the title and the description, trimmed, need minTextChars characters', () => {
    assert.equal(only('text', mutated((a) => { a.title = '  Abcd  '; a.description = 'Long enough'; }), {}, { minTextChars: 4 }), undefined);
    assert.equal(only('text', mutated((a) => { a.description = ' Abcd '; }), {}, { minTextChars: 4 }), undefined);
    assert.equal(only('text', mutated((a) => { a.title = '  Abc  '; }), {}, { minTextChars: 4 }), 'the title "  Abc  " is shorter than 4 character(s)');
    assert.equal(only('text', mutated((a) => { a.description = ' Abc '; }), {}, { minTextChars: 4 }), 'the description " Abc " is shorter than 4 character(s)');
    const longTitle = 'T'.repeat(45);
    assert.equal(only('text', mutated((a) => { a.title = longTitle; }), {}, { minTextChars: 50 }), `the title "${'T'.repeat(40)}" is shorter than 50 character(s)`);
    assert.equal(only('text', mutated((a) => { a.description = longTitle; a.title = 'T'.repeat(60); }), {}, { minTextChars: 50 }), `the description "${'T'.repeat(40)}" is shorter than 50 character(s)`);
  });

  it('placeholder: each placeholder form counts, the share tolerated is inclusive, and an echo of the prompt is named by its field', () => {
    const forms = ['N/A', 'na', 'None', 'null', 'nil', 'TBD', 'todo', 'Unknown', 'not available', 'Not applicable', 'placeholder', 'Lorem ipsum dolor', 'string', 'text', 'description', 'title',
      '..', '…', '---', '??', 'xxx', '<scene title>', '[insert]', '{value}', '', '   '];
    for (const form of forms) {
      assert.equal(only('placeholder', mutated((a) => { a.title = form; }), {}, { maxPlaceholderShare: 0 }), '1 of 47 text fields are empty or placeholders ("N/A", "...")', JSON.stringify(form));
    }
    for (const real of ['Nana', 'x-ray', 'A title', 'Unknown soldier', 'n/a maybe', '.', 'not', 'textbook']) {
      assert.equal(only('placeholder', mutated((a) => { a.title = real; }), {}, { maxPlaceholderShare: 0 }), undefined, JSON.stringify(real));
    }
    // The annotation has 47 text fields: 23 placeholders are under the default half, 24 are over it; the share tolerated is inclusive.
    const fill = (count: number) => mutated((a) => { let left = count; for (const s of a.scenes) for (const key of ['title', 'thematicElements', 'contextualRelevance'] as const) if (left-- > 0) s[key] = 'N/A'; for (const c of a.characterList) if (left-- > 0) c.description = 'N/A'; for (const q of a.qAndA) if (left-- > 0) q.answer = 'N/A'; for (const s of a.scenes) for (const x of s.activities) if (left-- > 0) x.description = 'N/A'; for (const s of a.scenes) for (const x of s.props) if (left-- > 0) x.name = 'N/A'; for (const s of a.scenes) for (const x of s.narrativeProgression) if (left-- > 0) x.description = 'N/A'; });
    assert.equal(only('placeholder', fill(23)), undefined);
    assert.equal(only('placeholder', fill(24)), '24 of 47 text fields are empty or placeholders ("N/A", "...")');
    assert.equal(only('placeholder', fill(1), {}, { maxPlaceholderShare: 1 / 47 }), undefined);
    assert.equal(only('placeholder', fill(2), {}, { maxPlaceholderShare: 1 / 47 }), '2 of 47 text fields are empty or placeholders ("N/A", "...")');
    const echo = 'The overall story, the sceneIds it runs through';
    const fields: [string, (a: AlignedContentMetadata) => void][] = [
      ['title', (a) => { a.title = echo; }], ['description', (a) => { a.description = echo; }],
      ['characterList[1].name', (a) => { a.characterList[1]!.name = echo; }], ['characterList[0].description', (a) => { a.characterList[0]!.description = echo; }],
      ['scenes[2].title', (a) => { a.scenes[2]!.title = echo; }], ['scenes[1].activities[0].description', (a) => { a.scenes[1]!.activities[0]!.description = echo; }],
      ['scenes[1].props[0].name', (a) => { a.scenes[1]!.props[0]!.name = echo; }], ['scenes[1].videoEditingDetails[0].description', (a) => { a.scenes[1]!.videoEditingDetails[0]!.description = echo; }],
      ['scenes[0].mood.description', (a) => { a.scenes[0]!.mood.description = echo; }], ['scenes[0].mood.keyMoments[0].changeDescription', (a) => { a.scenes[0]!.mood.keyMoments[0]!.changeDescription = echo; }],
      ['scenes[1].narrativeProgression[0].description', (a) => { a.scenes[1]!.narrativeProgression[0]!.description = echo; }],
      ['scenes[1].characterInteraction[0].description', (a) => { a.scenes[1]!.characterInteraction[0]!.description = echo; }],
      ['scenes[2].thematicElements', (a) => { a.scenes[2]!.thematicElements = echo; }], ['scenes[0].contextualRelevance', (a) => { a.scenes[0]!.contextualRelevance = echo; }],
      ['storylines.description', (a) => { a.storylines.description = echo; }], ['storylines.climax.description', (a) => { a.storylines.climax.description = echo; }],
      ['qAndA[3].question', (a) => { a.qAndA[3]!.question = echo; }], ['qAndA[2].answer', (a) => { a.qAndA[2]!.answer = echo; }],
      ['trimmingSuggestions[0].description', (a) => { a.trimmingSuggestions[0]!.description = echo; }],
    ];
    for (const [path, set] of fields) assert.equal(only('placeholder', mutated(set)), `${path} repeats the annotation prompt (${JSON.stringify(echo)})`, path);
    // 24 characters (after folding) found in the prompt are an echo; 23 are a coincidence.
    assert.match(only('placeholder', mutated((a) => { a.title = '  The overall story, the sc  '; })) ?? '', /^title repeats the annotation prompt \("The overall story, the sc"\)$/);
    assert.equal(only('placeholder', mutated((a) => { a.title = 'The overall story, the s'; })), undefined);
  });

  it('duration: a difference of exactly the tolerance passes; an unknown, zero or negative metadata duration skips the rule', () => {
    assert.equal(only('duration', goodAligned(), { metadataDuration: 35 }), undefined);
    assert.equal(only('duration', goodAligned(), { metadataDuration: 25 }), undefined);
    assert.equal(only('duration', goodAligned(), { metadataDuration: 24.5 }), 'the metadata says 24.5 s, the file has 30 s (more than 5 s apart)');
    assert.equal(only('duration', goodAligned(), { metadataDuration: 30.004, frameCount: 750 }, { durationToleranceSec: 0 }), 'the metadata says 30 s, the file has 30 s (more than 0 s apart)', 'seconds are shown to the hundredth');
    for (const metadataDuration of [null, 0, -3]) assert.equal(only('duration', goodAligned(), { metadataDuration }), 'skip', String(metadataDuration));
  });
  it('disabled rules are neither applied nor listed as skipped', () => {
    assert.deepEqual(judge(goodAligned(), { modelEndSec: null, baseline: true, metadataDuration: 60 }, { disabled: ['early-stop', 'qa', 'placeholder', 'duration'] }), { violations: [], skipped: [] });
  });
});

describe('anomaly scores read before the schema', () => {
  it('counts every score that is not a finite number in [0, 1] and names the first', () => {
    const raw = { scenes: [{ dynamismScore: 0, audioVisualCorrelation: 1 }, { dynamismScore: Number.NaN, audioVisualCorrelation: '0.5' }, null, { dynamismScore: Infinity, audioVisualCorrelation: 1.0001 }] };
    assert.deepEqual(scoreErrors(raw), { count: 6, first: 'scenes[1].dynamismScore = null' });
    assert.deepEqual(scoreErrors({ scenes: [{ dynamismScore: 0.5 }] }), { count: 1, first: 'scenes[0].audioVisualCorrelation = missing' });
    assert.deepEqual(scoreErrors({ scenes: [{ dynamismScore: -0.01, audioVisualCorrelation: 0.5 }] }), { count: 1, first: 'scenes[0].dynamismScore = -0.01' });
    assert.deepEqual(scoreErrors({ scenes: [{ dynamismScore: 0.2, audioVisualCorrelation: 0.9 }] }), { count: 0, first: undefined });
    for (const raw of [null, 'text', { scenes: 'none' }, {}]) assert.deepEqual(scoreErrors(raw), { count: 0 });
  });

  it('clamps numbers into [0, 1], makes other values 0, and leaves everything else as it was', () => {
    const raw = { title: 'kept', scenes: [{ sceneId: 1, dynamismScore: 1.5, audioVisualCorrelation: -2 }, { sceneId: 2, dynamismScore: 'high', audioVisualCorrelation: Infinity }, { sceneId: 3, dynamismScore: 0.25, audioVisualCorrelation: 0.75 }, 'odd', null] };
    assert.deepEqual(withScoresClamped(raw), {
      title: 'kept',
      scenes: [{ sceneId: 1, dynamismScore: 1, audioVisualCorrelation: 0 }, { sceneId: 2, dynamismScore: 0, audioVisualCorrelation: 0 }, { sceneId: 3, dynamismScore: 0.25, audioVisualCorrelation: 0.75 }, 'odd', null],
    });
    assert.equal((raw.scenes[0] as { dynamismScore: number }).dynamismScore, 1.5, 'the input is not changed');
    const noScenes = { title: 'x', scenes: 'none' };
    assert.equal(withScoresClamped(noScenes), noScenes);
    assert.equal(withScoresClamped(null), null);
  });
});

describe('anomaly report', () => {
  it('counts each video once, drops it for its first rule only, caps the examples and counts skips and errors', () => {
    const params = anomalyParams.parse({ examples: 2, disabled: ['cast'] });
    const report = new AnomalyReport(params);
    report.add('v1', { violations: [{ rule: 'qa', detail: 'q1' }, { rule: 'text', detail: 't1' }], skipped: ['duration'] });
    report.add('v2', { violations: [{ rule: 'qa', detail: 'q2' }], skipped: [] });
    report.add('v3', { violations: [{ rule: 'qa', detail: 'q3' }], skipped: ['duration', 'early-stop'] });
    report.add('v4', { violations: [], skipped: ['duration'] });
    report.addError();
    const json = report.toJSON();
    assert.deepEqual([json.videos, json.kept, json.dropped, json.errors, json.anomalyShare], [4, 1, 3, 1, 3 / 4]);
    assert.deepEqual(json.rules.qa, { reason: 'anomaly:qa', enabled: true, thresholds: { minQaPairs: 5 }, violations: 3, dropped: 3, skipped: 0, examples: [{ video_id: 'v1', detail: 'q1' }, { video_id: 'v2', detail: 'q2' }] });
    assert.deepEqual(json.rules.text, { reason: 'anomaly:text', enabled: true, thresholds: { minTextChars: 1 }, violations: 1, dropped: 0, skipped: 0, examples: [{ video_id: 'v1', detail: 't1' }] });
    assert.deepEqual([json.rules.duration?.skipped, json.rules['early-stop']?.skipped, json.rules.cast?.enabled], [3, 1, false]);
    assert.equal(new AnomalyReport(params).toJSON().anomalyShare, 0, 'no videos: a share of 0, not NaN');
  });
});


describe('anomaly stage (global: aligned annotations from storage, rows, report)', () => {
  let dir: string;
  let store: FileStore;
  const ids = {
    good: 'goodVideo01', good2: 'goodVideo02', qa: 'badQandA001', qa2: 'badQandA002', duration: 'badDuration', scores: 'badScores01',
    missing: 'noAligned01', notJson: 'notJsonFile', offSchema: 'offSchema01',
  };
  const rows: Row[] = Object.values(ids).map((id) => ({ video_id: id, cuts: 2, fps: 25, frame_count: 750, duration_seconds: id === ids.duration ? 45 : 30, annotator: 'gemini', model_end_seconds: 30 }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anomaly-'));
    store = new FileStore(join(dir, 'store'));
    const put = (id: string, value: unknown) => store.put(`aligned/${id}.json`, typeof value === 'string' ? value : JSON.stringify(value));
    await put(ids.good, goodAligned());
    await put(ids.good2, goodAligned());
    await put(ids.qa, mutated((a) => { a.qAndA = a.qAndA.slice(0, 2); }));
    await put(ids.qa2, mutated((a) => { a.qAndA[0]!.question = ''; }));
    await put(ids.duration, goodAligned());
    await put(ids.scores, mutated((a) => { a.scenes[2]!.audioVisualCorrelation = -0.2; }));
    await put(ids.notJson, '{"title":');
    await put(ids.offSchema, { ...goodAligned(), scenes: 'none' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps good videos, drops each bad one with reason anomaly:<rule>, makes error rows of unreadable files, and writes artifacts/anomalies.json', async () => {
    const artifacts: Record<string, string> = {};
    const base = await mediaItemContext(store, anomalyParams.parse({ concurrency: 3, examples: 1 }));
    let columns: readonly string[] | undefined;
    const ctx: GlobalContext<AnomalyParams> = {
      ...base,
      input: (c) => { columns = c; return (async function* () { yield* rows; })(); },
      writeArtifact: async (name, content) => { artifacts[name] = content; },
    };
    const outcomes: Outcome[] = [];
    for await (const o of anomalyStage.run(ctx)) outcomes.push(o);
    await rm(base.tmpDir, { recursive: true, force: true });

    assert.deepEqual(columns, ['video_id', 'cuts', 'fps', 'frame_count', 'duration_seconds', 'annotator', 'model_end_seconds']);
    const summary = outcomes.map((o) => [o.status === 'kept-parquet' ? '' : o.row?.video_id ?? '', o.status, o.status === 'kept' || o.status === 'kept-parquet' ? '' : o.reason]);
    assert.deepEqual(summary.map(([id, status, reason]) => [id, status, String(reason).replace(/:.*/s, (m) => (status === 'error' ? m.slice(0, 1) : m))]), [
      [ids.good, 'kept', ''], [ids.good2, 'kept', ''],
      [ids.qa, 'dropped', 'anomaly:qa'], [ids.qa2, 'dropped', 'anomaly:qa'],
      [ids.duration, 'dropped', 'anomaly:duration'], [ids.scores, 'dropped', 'anomaly:scores'],
      [ids.missing, 'error', 'aligned missing:'], [ids.notJson, 'error', 'aligned invalid:'], [ids.offSchema, 'error', 'aligned invalid:'],
    ]);
    assert.match(String(summary[6]![2]), /^aligned missing: expected aligned\/noAligned01\.json in storage, got none$/);
    assert.match(String(summary[8]![2]), /^aligned invalid: aligned\/offSchema01\.json at scenes: /);
    const dropped = outcomes[2]!;
    assert.ok(dropped.status === 'dropped');
    assert.deepEqual(dropped.row, { video_id: ids.qa, scenes: 3, qa_pairs: 2, cuts: 2, anomalies: 'qa', anomaly_count: 1, detail: '2 Q&A pair(s), expected 5' });
    assert.equal(base.counters.anomaly_qa, 2);

    const report = JSON.parse(artifacts['anomalies.json']!);
    assert.deepEqual([report.videos, report.kept, report.dropped, report.errors], [6, 2, 4, 3]);
    assert.equal(report.anomalyShare, 4 / 6);
    assert.deepEqual(Object.keys(report.rules), [...ANOMALY_RULES]);
    assert.deepEqual(report.rules.qa, {
      reason: 'anomaly:qa', enabled: true, thresholds: { minQaPairs: 5 }, violations: 2, dropped: 2, skipped: 0,
      examples: [{ video_id: ids.qa, detail: '2 Q&A pair(s), expected 5' }],
    });
    assert.deepEqual(report.rules.duration.examples, [{ video_id: ids.duration, detail: 'the metadata says 45 s, the file has 30 s (more than 5 s apart)' }]);
    assert.equal(report.rules.scores.dropped, 1);
    assert.deepEqual(report.rules['scene-count'].thresholds, { maxExtraScenes: 5, maxCutsPerScene: 100 });
    assert.equal(report.rules.coverage.violations, 0);
  });
});
