import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GlobalContext, Outcome, Row } from '@finevideo/core';
import { alignContentMetadata, type AlignedContentMetadata } from '@finevideo/dataset';
import { FileStore } from '@finevideo/storage';
import { ANOMALY_RULES, anomalyParams, anomalyStage, judgeAnnotation, type AnomalyParams, type AnomalyRule, type VideoFacts } from '@finevideo/stages/anomaly';
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
