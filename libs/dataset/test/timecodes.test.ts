import assert from 'node:assert/strict';
import {
  alignContentMetadata, alignedContentMetadataSchema, contentMetadataSchema, formatSeconds, formatTimecode, parseTimestamp,
  secondsToFrame, timecodeSeconds, type AlignResult, type ContentMetadata, type DetectedScenes, type Scene,
} from '@finevideo/dataset';

const seconds = (text: string) => {
  const r = parseTimestamp(text, 'f');
  assert.ok(r.ok, `${JSON.stringify(text)} should parse, got ${r.ok ? '' : r.error.message}`);
  assert.equal(r.value.kind, 'time', `${JSON.stringify(text)} should name a time`);
  return r.value.kind === 'time' ? r.value.seconds : NaN;
};

describe('parseTimestamp (the original alignment script\'s rules, its defects fixed)', () => {
  const times: [string, number][] = [
    ['00:01:05', 65], ['1:05', 65], ['01:02:03', 3723], ['65', 65], ['0', 0], ['12s', 12], ['12S', 12], ['12.5', 12.5],
    // Colon forms keep their fraction (the original truncated at the dot); a comma works as in SRT.
    ['0:05.9', 5.9], ['00:00:05,5', 5.5], ['1:00:00.250', 3600.25],
    // FIXED: the time after "around" / "~" (the original kept the empty text before them).
    ['around 0:30', 30], ['~1:05', 65], ['Around 00:00:30', 30], ['approx. 12s', 12], ['about 1:00', 60],
    // The longest qualifier is dropped whole ("approx" matched first once, leaving "imately 1:00" an error).
    ['approximately 1:00', 60], ['Approximately 00:00:30', 30], ['approx 1:00', 60], ['approx1:00', 60], ['at 0:45', 45], ['≈ 0:10', 10],
    // Ranges and offsets take their first part; "mm:ss note" keeps the first token.
    ['0:30-0:45', 30], ['0:30 - 0:45', 30], ['0:30–0:45', 30], ['0:30+', 30], ['0:30~0:40', 30], ['0:30 approx', 30],
    ['0:30 (start of the intro)', 30], ['(0:30)', 30], ['0:30.', 30], ['5 6', 5],
    // Units.
    ['12 seconds', 12], ['12 sec', 12], ['1m30s', 90], ['1 min 30 s', 90], ['2 minutes', 120], ['1h2m3s', 3723], ['  0:07  ', 7],
  ];
  for (const [text, expected] of times) it(`${JSON.stringify(text)} -> ${expected} s`, () => assert.equal(seconds(text), expected));

  for (const text of ['end', 'End', 'END', 'end of scene', 'the end', 'end of the video']) {
    it(`${JSON.stringify(text)} -> the scene's end`, () => assert.deepEqual(parseTimestamp(text, 'f'), { ok: true, value: { kind: 'end' } }));
  }
  for (const text of ['', '   ', 'n/a', 'N/A', 'varies', 'throughout', 'Throughout scene', 'throughout the scene', 'not present', 'not applicable', 'scene 2', 'scene 3 onwards', 'none', 'null']) {
    it(`${JSON.stringify(text)} -> no time`, () => assert.deepEqual(parseTimestamp(text, 'f'), { ok: true, value: { kind: 'none' } }));
  }

  for (const text of ['soon', '-5', 'ab:cd', '1:2:3:4', 'at the end', 'sometime around noon', '0x10', '1e3', 'Infinity']) {
    it(`${JSON.stringify(text)} is an error naming the field and the text`, () => {
      const r = parseTimestamp(text, 'scenes[1].activities[0].timestamp.start_timestamp');
      assert.equal(r.ok, false);
      assert.ok(!r.ok);
      assert.equal(r.error.field, 'scenes[1].activities[0].timestamp.start_timestamp');
      assert.equal(r.error.text, text);
      assert.match(r.error.message, /^scenes\[1\]\.activities\[0\]\.timestamp\.start_timestamp: expected a timestamp .*got "/);
      assert.ok(r.error.message.includes(JSON.stringify(text)));
    });
  }

  it('never throws on text that is not a string (model output typed loosely)', () => {
    const r = parseTimestamp(42 as unknown as string, 'f');
    assert.equal(r.ok, false);
  });

  it('a very long text is cut in the message, kept whole in the error', () => {
    const text = `x${'y'.repeat(500)}`;
    const r = parseTimestamp(text, 'f');
    assert.ok(!r.ok);
    assert.equal(r.error.text, text);
    assert.ok(r.error.message.length < 200);
  });
});

describe('frames and HH:MM:SS.mmm timecodes', () => {
  it('frames = round(seconds * fps)', () => {
    assert.equal(secondsToFrame(1.02, 25), 26);
    assert.equal(secondsToFrame(1.0, 29.97), 30);
    assert.equal(secondsToFrame(65, 23.976), 1558);
  });

  it('a half frame rounds to the even frame, as Python\'s round() in the original (not always up)', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 3.5, 4.5].map((s) => secondsToFrame(s, 1)), [0, 2, 2, 4, 4]);
    // 0.1 s at 25 fps is 2.5 frames: the original's round(2.5) is 2.
    assert.equal(secondsToFrame(0.1, 25), 2);
    assert.equal(secondsToFrame(0.14, 25), 4);
    assert.deepEqual([2.4999, 2.5001].map((s) => secondsToFrame(s, 1)), [2, 3]);
  });

  it('formats with hours kept, also past 99 (FIXED: the original wrote MM:SS for the last scene)', () => {
    assert.equal(formatTimecode(0, 25), '00:00:00.000');
    assert.equal(formatTimecode(25 * 3725.5, 25), '01:02:05.500');
    assert.equal(formatTimecode(1798, 29.97), '00:00:59.993');
    assert.equal(formatSeconds(360_000), '100:00:00.000');
    assert.equal(formatSeconds(59.9996), '00:01:00.000');
  });

  it('timecodeSeconds reads a written timecode back, and nothing else', () => {
    assert.equal(timecodeSeconds('01:02:05.500'), 3725.5);
    assert.equal(timecodeSeconds(formatTimecode(1798, 29.97)), 59.993);
    assert.equal(timecodeSeconds(''), undefined);
    assert.equal(timecodeSeconds('1:05'), undefined);
  });
});

// ---- alignment ----

function scene(sceneId: number, start: string, end: string, inner: Partial<Scene> = {}): Scene {
  return {
    sceneId, title: `Scene ${sceneId}`, timestamps: { start_timestamp: start, end_timestamp: end }, cast: [], activities: [], props: [],
    videoEditingDetails: [], mood: { description: 'calm', keyMoments: [] }, narrativeProgression: [], characterInteraction: [],
    thematicElements: 'x', contextualRelevance: 'x', dynamismScore: 0.5, audioVisualCorrelation: 0.5, ...inner,
  };
}

function metadata(scenes: Scene[], rest: Partial<ContentMetadata> = {}): ContentMetadata {
  return contentMetadataSchema.parse({
    title: 'T', description: 'D', characterList: [], scenes,
    storylines: { description: 's', scenes: scenes.map((s) => s.sceneId), climax: { description: 'c', timestamp: '0:05' } },
    qAndA: [], trimmingSuggestions: [], ...rest,
  });
}

/** A detection at `fps` with scenes starting at the given cut frames. */
function detection(frameCount: number, cuts: number[], fps = 25): DetectedScenes {
  const starts = [0, ...cuts];
  return { fps, frameCount, cuts, scenes: starts.map((s, k) => ({ startFrame: s, endFrame: starts[k + 1] ?? frameCount })) };
}

const aligned = (r: AlignResult) => {
  assert.ok(r.ok, r.ok ? '' : r.failure.message);
  assert.doesNotThrow(() => alignedContentMetadataSchema.parse(r.metadata), 'schema-valid');
  return r;
};
const sceneTimes = (r: AlignResult) => (r.ok ? r.metadata.scenes.map((s) => [s.timestamps.start_timestamp, s.timestamps.end_timestamp]) : []);

describe('alignContentMetadata (the original\'s contract)', () => {
  // 10 s at 25 fps, cuts at 4 s and 7 s.
  const video = detection(250, [100, 175]);

  it('scenes on the cuts: each ends on its last frame, the next starts on the cut; fps added; stats', () => {
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', '0:07'), scene(3, '0:07', 'end')]), video));
    assert.deepEqual(sceneTimes(r), [['00:00:00.000', '00:00:03.960'], ['00:00:04.000', '00:00:06.960'], ['00:00:07.000', '00:00:09.960']]);
    assert.ok(r.ok);
    assert.equal(r.metadata.fps, 25);
    assert.deepEqual(r.stats, { sceneCount: 3, cutCount: 2, fps: 25, frameCount: 250, largestShiftFrames: 0, snappedStarts: 0, snappedEnds: 0, modelEndSec: 10, warnings: [] });
  });

  it('snaps a start to the nearest detected start and an end to the nearest detected end within 2 s', () => {
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:05'), scene(2, '0:05', '0:08'), scene(3, '0:08', 'end')]), video));
    assert.deepEqual(sceneTimes(r), [['00:00:00.000', '00:00:03.960'], ['00:00:04.000', '00:00:06.960'], ['00:00:07.000', '00:00:09.960']]);
    assert.ok(r.ok);
    assert.equal(r.stats.snappedStarts, 2);
    assert.equal(r.stats.snappedEnds, 2);
  });

  it('does not snap at 2 s or more: the window is strict (2 * fps frames)', () => {
    // Model end 0:06 -> last frame 149; the nearest detected end is 99 (50 frames away = 2 s): no snap.
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:06'), scene(2, '0:06', 'end')]), detection(250, [100])));
    assert.deepEqual(sceneTimes(r), [['00:00:00.000', '00:00:05.960'], ['00:00:06.000', '00:00:09.960']]);
  });

  it('the last scene ends on the last frame whatever the model wrote', () => {
    // Within the overrun tolerance (5 s) a later end is the video's end too; "0:06" is early (the model's coverage).
    for (const end of ['end', '0:06', 'n/a', '0:14']) {
      const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', end)]), video));
      assert.equal(sceneTimes(r)[1]![1], '00:00:09.960', end);
    }
  });

  it('keeps hours in the last scene\'s end of a video over an hour (FIXED)', () => {
    const frames = 25 * 3700;
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '30:00'), scene(2, '30:00', 'end')]), detection(frames, [25 * 1800])));
    assert.deepEqual(sceneTimes(r), [['00:00:00.000', '00:29:59.960'], ['00:30:00.000', '01:01:39.960']]);
  });

  it('continuity: a scene starts one frame after the previous end; over 25 frames warns, over 125 fails', () => {
    const noCuts = detection(1000, []);
    // Scene 1 ends on frame 99 (0:04); scene 2 starts at 0:04 + n frames.
    const shifted = (frames: number) => alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, String(4 + frames / 25), 'end')]), noCuts);
    const ok25 = aligned(shifted(25));
    assert.ok(ok25.ok);
    assert.deepEqual([ok25.stats.largestShiftFrames, ok25.stats.warnings], [25, []]);
    assert.equal(sceneTimes(ok25)[1]![0], '00:00:04.000');
    const warn = aligned(shifted(26));
    assert.ok(warn.ok);
    assert.equal(warn.stats.largestShiftFrames, 26);
    assert.deepEqual(warn.stats.warnings, ['scene 2: start moved 26 frames to follow the previous scene (more than 25)']);
    assert.ok(shifted(125).ok);
    const fail = shifted(126);
    assert.ok(!fail.ok);
    assert.deepEqual(fail.failure, { kind: 'shift', sceneId: 2, frames: 126, message: 'scene 2 (scenes[1]): start moved 126 frames to follow the previous scene (more than 125)' });
    // An overlap moves the start forward, and counts the same.
    const overlap = alignContentMetadata(metadata([scene(1, '0:00', '0:10'), scene(2, '0:04', 'end')]), noCuts);
    assert.ok(!overlap.ok && overlap.failure.kind === 'shift' && overlap.failure.frames === 150);
  });

  it('thresholds and the snapping window are options', () => {
    const noCuts = detection(1000, []);
    const r = alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:05', 'end')]), noCuts, { warnShiftFrames: 10, failShiftFrames: 20 });
    assert.ok(!r.ok && r.failure.kind === 'shift');
    const wide = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:05.5'), scene(2, '0:05.5', 'end')]), detection(250, [100]), { snapWindowSec: 0.5 }));
    assert.deepEqual(sceneTimes(wide), [['00:00:00.000', '00:00:05.480'], ['00:00:05.520', '00:00:09.960']]);
  });

  it('clamps inner timestamps into their scene; "end" is the scene\'s end; no time is null (as the original)', () => {
    const middle = scene(2, '0:04', '0:07', {
      activities: [{ description: 'a', timestamp: { start_timestamp: '0:01', end_timestamp: '0:14' } }, { description: 'b', timestamp: { start_timestamp: 'around 0:05', end_timestamp: 'end' } }],
      props: [{ name: 'p', timestamp: { start_timestamp: 'n/a', end_timestamp: '~0:06' } }],
      videoEditingDetails: [{ description: 'cut', timestamps: { start_timestamp: '0:05-0:06', end_timestamp: 'throughout' } }],
      mood: { description: 'm', keyMoments: [{ timestamp: '0:09', changeDescription: 'x' }] },
      narrativeProgression: [{ description: 'n', timestamp: '0:00' }],
    });
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), middle, scene(3, '0:07', 'end')]), video));
    assert.ok(r.ok);
    const s = r.metadata.scenes[1]!;
    assert.deepEqual(s.activities.map((a) => a.timestamp), [
      { start_timestamp: '00:00:04.000', end_timestamp: '00:00:06.960' },
      { start_timestamp: '00:00:05.000', end_timestamp: '00:00:06.960' },
    ]);
    assert.deepEqual(s.props[0]!.timestamp, { start_timestamp: null, end_timestamp: '00:00:06.000' });
    assert.deepEqual(s.videoEditingDetails[0]!.timestamps, { start_timestamp: '00:00:05.000', end_timestamp: null });
    assert.equal(s.mood.keyMoments[0]!.timestamp, '00:00:06.960');
    assert.equal(s.narrativeProgression[0]!.timestamp, '00:00:04.000');
    assert.equal(s.activities[0]!.description, 'a', 'other fields kept');
  });

  it('clamps trimming suggestions into the scene they fall in, not the last scene (FIXED), and the climax into the video (FIXED)', () => {
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', '0:07'), scene(3, '0:07', 'end')], {
      storylines: { description: 's', scenes: [1, 2, 3], climax: { description: 'c', timestamp: '0:12' } },
      trimmingSuggestions: [
        { description: 'intro', timestamps: { start_timestamp: '0:01', end_timestamp: '0:02' } },
        { description: 'outro', timestamps: { start_timestamp: '0:08', end_timestamp: 'end' } },
        { description: 'past the end (within the tolerance)', timestamps: { start_timestamp: '0:05', end_timestamp: '0:13' } },
        { description: 'none', timestamps: { start_timestamp: '', end_timestamp: 'n/a' } },
      ],
    }), video));
    assert.ok(r.ok);
    assert.deepEqual(r.metadata.trimmingSuggestions.map((t) => [t.timestamps.start_timestamp, t.timestamps.end_timestamp]), [
      ['00:00:01.000', '00:00:02.000'], ['00:00:08.000', '00:00:09.960'], ['00:00:05.000', '00:00:09.960'], [null, null],
    ]);
    assert.equal(r.metadata.storylines.climax.timestamp, '00:00:09.960');
    const early = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', 'end')], {
      storylines: { description: 's', scenes: [1, 2], climax: { description: 'c', timestamp: 'around 0:05' } },
    }), video));
    assert.equal(early.ok && early.metadata.storylines.climax.timestamp, '00:00:05.000');
  });

  it('a bad timestamp anywhere is a failure naming the field and the text (no throw)', () => {
    const cases: [ContentMetadata, string, string][] = [
      [metadata([scene(1, 'soon', '0:04'), scene(2, '0:04', 'end')]), 'scenes[0].timestamps.start_timestamp', 'soon'],
      [metadata([scene(1, '0:00', 'later'), scene(2, '0:04', 'end')]), 'scenes[0].timestamps.end_timestamp', 'later'],
      [metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', 'end', { props: [{ name: 'p', timestamp: { start_timestamp: '0:05', end_timestamp: 'xx' } }] })]), 'scenes[1].props[0].timestamp.end_timestamp', 'xx'],
      [metadata([scene(1, '0:00', 'end')], { storylines: { description: 's', scenes: [1], climax: { description: 'c', timestamp: 'the climax' } } }), 'storylines.climax.timestamp', 'the climax'],
      [metadata([scene(1, '0:00', 'end')], { trimmingSuggestions: [{ description: 't', timestamps: { start_timestamp: '?', end_timestamp: '0:01' } }] }), 'trimmingSuggestions[0].timestamps.start_timestamp', '?'],
      // A scene boundary must be a time: "end" or "n/a" cannot place a scene.
      [metadata([scene(1, 'n/a', '0:04'), scene(2, '0:04', 'end')]), 'scenes[0].timestamps.start_timestamp', 'n/a'],
      [metadata([scene(1, '0:00', 'end'), scene(2, '0:04', 'end')]), 'scenes[0].timestamps.end_timestamp', 'end'],
    ];
    for (const [input, field, text] of cases) {
      const r = alignContentMetadata(input, video);
      assert.ok(!r.ok, field);
      assert.equal(r.failure.kind, 'timestamp');
      assert.ok(r.failure.kind === 'timestamp' && r.failure.field === field && r.failure.text === text, JSON.stringify(r.failure));
      assert.ok(r.failure.message.startsWith(`${field}: `), r.failure.message);
    }
  });

  it('a video without frames or frame rate is a failure; the frame count can be given apart from the detection', () => {
    const one = metadata([scene(1, '0:00', 'end')]);
    const noFps = alignContentMetadata(one, { ...video, fps: 0 });
    assert.ok(!noFps.ok && noFps.failure.kind === 'video' && /frame rate/.test(noFps.failure.message));
    const noFrames = alignContentMetadata(one, { ...video, frameCount: 0 });
    assert.ok(!noFrames.ok && noFrames.failure.kind === 'video');
    const r = aligned(alignContentMetadata(one, video, { frameCount: 200 }));
    assert.deepEqual(sceneTimes(r), [['00:00:00.000', '00:00:07.960']]);
  });

  it('a detection with no scene list snaps to the video\'s edges only; non-integer frame rates round frames', () => {
    const r = aligned(alignContentMetadata(metadata([scene(1, '0:01', '0:05'), scene(2, '0:05', 'end')]), { fps: 29.97, frameCount: 300, cuts: [], scenes: [] }));
    // Start 0:01 -> frame 30, within 2 s of frame 0: snapped.
    assert.deepEqual(sceneTimes(r), [['00:00:00.000', '00:00:04.972'], ['00:00:05.005', '00:00:09.977']]);
  });

  it('does not change its input', () => {
    const input = metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', 'end')]);
    const copy = structuredClone(input);
    aligned(alignContentMetadata(input, video));
    assert.deepEqual(input, copy);
  });
});

describe('alignContentMetadata: impossible times, the model\'s coverage, null for no time', () => {
  // 10 s at 25 fps, cuts at 4 s and 7 s.
  const video = detection(250, [100, 175]);
  const impossible = (r: AlignResult) => {
    assert.ok(!r.ok, 'expected a failure');
    assert.equal(r.failure.kind, 'impossible', r.failure.message);
    return r.failure as Extract<AlignResult, { ok: false }>['failure'] & { field: string; text: string };
  };

  it('a time past the video\'s end by more than the tolerance fails the video, naming the field and the text', () => {
    // "99:99" as the last scene's end in a 10 s video was stretched to the end and kept.
    const last = impossible(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', '99:99')]), video));
    assert.deepEqual([last.field, last.text], ['scenes[1].timestamps.end_timestamp', '99:99']);
    assert.equal(last.message, 'scenes[1].timestamps.end_timestamp: "99:99" is past the video\'s end (10 s, tolerance 5 s)');
    const prop = impossible(alignContentMetadata(metadata([scene(1, '0:00', 'end', { props: [{ name: 'p', timestamp: { start_timestamp: '0:02', end_timestamp: '0:16' } }] })]), video));
    assert.deepEqual([prop.field, prop.text], ['scenes[0].props[0].timestamp.end_timestamp', '0:16']);
    const climax = impossible(alignContentMetadata(metadata([scene(1, '0:00', 'end')], { storylines: { description: 's', scenes: [1], climax: { description: 'c', timestamp: '1:00' } } }), video));
    assert.equal(climax.field, 'storylines.climax.timestamp');
    const start = impossible(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:20', 'end')]), video));
    assert.equal(start.field, 'scenes[1].timestamps.start_timestamp');
    // The tolerance is an option: within it a late time is clamped, as before.
    const wide = aligned(alignContentMetadata(metadata([scene(1, '0:00', 'end')], { storylines: { description: 's', scenes: [1], climax: { description: 'c', timestamp: '1:00' } } }), video, { overrunToleranceSec: 60 }));
    assert.equal(wide.ok && wide.metadata.storylines.climax.timestamp, '00:00:09.960');
  });

  it('an end before its start fails the video (scenes, activities, trimming suggestions)', () => {
    const sceneEnd = impossible(alignContentMetadata(metadata([scene(1, '0:05', '0:02'), scene(2, '0:04', 'end')]), video));
    assert.deepEqual([sceneEnd.field, sceneEnd.text], ['scenes[0].timestamps.end_timestamp', '0:02']);
    assert.equal(sceneEnd.message, 'scenes[0].timestamps.end_timestamp: "0:02" is before its start "0:05"');
    const lastEnd = impossible(alignContentMetadata(metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', '0:03')]), video));
    assert.equal(lastEnd.field, 'scenes[1].timestamps.end_timestamp');
    const activity = impossible(alignContentMetadata(metadata([scene(1, '0:00', 'end', { activities: [{ description: 'a', timestamp: { start_timestamp: '0:06', end_timestamp: '0:05' } }] })]), video));
    assert.equal(activity.field, 'scenes[0].activities[0].timestamp.end_timestamp');
    const trim = impossible(alignContentMetadata(metadata([scene(1, '0:00', 'end')], { trimmingSuggestions: [{ description: 't', timestamps: { start_timestamp: '0:08', end_timestamp: '0:01' } }] }), video));
    assert.equal(trim.field, 'trimmingSuggestions[0].timestamps.end_timestamp');
    // Equal ends and one side without a time are not impossible.
    aligned(alignContentMetadata(metadata([scene(1, '0:00', 'end', { activities: [{ description: 'a', timestamp: { start_timestamp: '0:05', end_timestamp: '0:05' } }, { description: 'b', timestamp: { start_timestamp: '0:06', end_timestamp: 'n/a' } }] })]), video));
  });

  it('records the model\'s own coverage (the latest scene time it gave) before the last scene is stretched', () => {
    const tenMinutes = detection(25 * 600, [25 * 30]);
    const coverage = (last: string) => {
      const r = aligned(alignContentMetadata(metadata([scene(1, '0:00', '0:30'), scene(2, '0:30', last)]), tenMinutes));
      assert.ok(r.ok);
      assert.equal(sceneTimes(r)[1]![1], '00:09:59.960', 'the last scene still ends on the last frame');
      return r.stats.modelEndSec;
    };
    assert.equal(coverage('1:00'), 60);
    assert.equal(coverage('approximately 9:55'), 595);
    assert.equal(coverage('end'), 600);
    assert.equal(coverage('n/a'), 30, 'no time named: its start is the latest time');
  });

  it('no empty-string timestamp anywhere in the output: a time not named is null, and the schema allows null exactly there', () => {
    const none = { start_timestamp: 'n/a', end_timestamp: 'throughout' };
    const everyKind = metadata([scene(1, '0:00', '0:04'), scene(2, '0:04', 'end', {
      activities: [{ description: 'a', timestamp: none }], props: [{ name: 'p', timestamp: { start_timestamp: '', end_timestamp: 'none' } }],
      videoEditingDetails: [{ description: 'e', timestamps: none }], mood: { description: 'm', keyMoments: [{ timestamp: 'varies', changeDescription: 'c' }] },
      narrativeProgression: [{ description: 'n', timestamp: 'not applicable' }],
    })], { storylines: { description: 's', scenes: [1, 2], climax: { description: 'c', timestamp: 'N/A' } }, trimmingSuggestions: [{ description: 't', timestamps: none }] });
    const r = aligned(alignContentMetadata(everyKind, video));
    assert.ok(r.ok);
    const found: [string, unknown][] = [];
    const walk = (value: unknown, path: string): void => {
      if (Array.isArray(value)) value.forEach((v, k) => walk(v, `${path}[${k}]`));
      else if (value && typeof value === 'object') for (const [key, v] of Object.entries(value)) walk(v, `${path}.${key}`);
      else if (/timestamp/.test(path)) found.push([path, value]);
    };
    walk(r.metadata, '');
    assert.equal(found.filter(([, v]) => v === '').length, 0, 'no "" timestamp');
    assert.equal(found.filter(([, v]) => v === null).length, 11, 'every unnamed time is null');
    // The published schema: null at inner timestamps, never at a scene's boundaries; the model's schema has no null.
    const withNullScene = structuredClone(r.metadata) as unknown as { scenes: { timestamps: { start_timestamp: unknown } }[] };
    withNullScene.scenes[0]!.timestamps.start_timestamp = null;
    assert.equal(alignedContentMetadataSchema.safeParse(withNullScene).success, false);
    const modelWithNull = structuredClone(everyKind) as unknown as { storylines: { climax: { timestamp: unknown } } };
    modelWithNull.storylines.climax.timestamp = null;
    assert.equal(contentMetadataSchema.safeParse(modelWithNull).success, false);
  });
});
