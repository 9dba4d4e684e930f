import assert from 'node:assert/strict';
import { CandidateTable, reasonOf, selectContent, selectionReport, type Candidate, type OracleOptions, type OracleResult } from '@finevideo/stages/select';

/** The oracle on small crafted tables, where every pick, reason and budget can be worked out by hand. */
const options: OracleOptions = { targetHours: 1, seed: 42, weights: { comments: 0.2, views: 0.5, likes: 0.3 }, channelPenalty: 0 };
const hours = (seconds: number) => seconds / 3600;

/** A candidate of 100 s in category A on its own channel, with no engagement, unless told otherwise. */
function video(video_id: string, fields: Partial<Candidate> = {}): Candidate {
  return {
    video_id, category: 'A', top_level: null, channel: `ch-${video_id}`, channel_follower_count: 0, duration_seconds: 100,
    view_count: 0, like_count: 0, comment_count: 0, ...fields,
  };
}

const idsOf = (result: OracleResult) => Array.from(result.selected, (i) => result.table.videoIds[i]);
/** video id -> its reason ('selected' for a pick), in input order. */
const verdicts = (result: OracleResult) => Object.fromEntries(result.table.videoIds.map((id, i) => [id, reasonOf(result, i) ?? 'selected']));

describe('select oracle on crafted tables', () => {
  it('a category stops taking once its budget is met exactly: the next video is not reached', () => {
    const input = [video('a', { view_count: 3 }), video('b', { view_count: 2 }), video('c', { view_count: 1 })];
    const result = selectContent(input, { ...options, targetHours: hours(200) });
    assert.deepEqual(idsOf(result), ['a', 'b']);
    assert.deepEqual(verdicts(result), { a: 'selected', b: 'selected', c: 'not-reached' });
    assert.deepEqual(result.categoryBudgets, [{ category: 'A', budgetSeconds: 200, pickedSeconds: 200 }]);
    assert.equal(result.selectedSeconds, 200, 'picks summing to exactly the target all fit');
    // Views scale from 1..3 to 0..1 (weight 0.5); comments and likes are all equal and scale to 0, not NaN.
    assert.deepEqual(Array.from(result.scores), [0.5, 0.25, 0]);
  });

  it('picks that overshoot the target are dropped over-budget in the final fit, shortest kept first', () => {
    const input = [video('long', { view_count: 3, duration_seconds: 120 }), video('short', { view_count: 2, duration_seconds: 90 }), video('never', { view_count: 1 })];
    const result = selectContent(input, { ...options, targetHours: hours(150) });
    assert.deepEqual(verdicts(result), { long: 'over-budget', short: 'selected', never: 'not-reached' });
    assert.deepEqual(result.categoryBudgets, [{ category: 'A', budgetSeconds: 150, pickedSeconds: 210 }]);
    assert.equal(result.selectedSeconds, 90);
  });

  it('ties in score go to the channel with fewer followers', () => {
    const input = [video('big', { channel_follower_count: 5000 }), video('small', { channel_follower_count: 10 }), video('mid', { channel_follower_count: 300 })];
    for (const seed of [1, 2, 3, 4]) {
      const result = selectContent(input, { ...options, seed, targetHours: hours(100) });
      assert.deepEqual(verdicts(result), { big: 'not-reached', small: 'selected', mid: 'not-reached' }, `seed ${seed}`);
    }
    assert.deepEqual(idsOf(selectContent(input, { ...options, targetHours: hours(200) })), ['small', 'mid']);
  });

  it('full ties (same score and followers) go by the seeded shuffle, not by input order', () => {
    const input = ['a', 'b', 'c', 'd', 'e'].map((id) => video(id));
    const pickOf = (seed: number) => idsOf(selectContent(input, { ...options, seed, targetHours: hours(100) }));
    const picks = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      assert.deepEqual(pickOf(seed), pickOf(seed), `seed ${seed} is reproducible`);
      picks.add(pickOf(seed)[0]!);
    }
    assert.ok(picks.size >= 3, `20 seeds picked only ${[...picks].join(', ')}`);
  });

  it('a category that overshoots leaves the later ones a budget of zero or less: they take nothing', () => {
    const input = [video('a1', { duration_seconds: 300 }), video('a2'), video('b1', { category: 'B', duration_seconds: 50 }), video('b2', { category: 'B', duration_seconds: 50 })];
    const result = selectContent(input, { ...options, targetHours: hours(300) });
    assert.deepEqual(result.categoryBudgets, [{ category: 'A', budgetSeconds: 150, pickedSeconds: 300 }, { category: 'B', budgetSeconds: 0, pickedSeconds: 0 }]);
    assert.deepEqual(verdicts(result), { a1: 'selected', a2: 'not-reached', b1: 'not-reached', b2: 'not-reached' });
    // After each category, what is still missing is shared by the categories without a pick yet.
    const budgetsOf = (input: Candidate[], seconds: number) => selectContent(input, { ...options, targetHours: hours(seconds) }).categoryBudgets.map((b) => [b.category, b.budgetSeconds, b.pickedSeconds]);
    const three = [...input.slice(0, 2), video('b1', { category: 'B', duration_seconds: 50 }), video('c1', { category: 'C', duration_seconds: 40 })];
    assert.deepEqual(budgetsOf(three, 360), [['A', 120, 300], ['B', 30, 50], ['C', 10, 40]]);
    // B picks nothing (its budget is negative) and so still counts among those waiting: C's share is -60 / 2.
    assert.deepEqual(budgetsOf(three, 240), [['A', 80, 300], ['B', -30, 0], ['C', -30, 0]]);
  });

  it('the channel penalty counts picks per category: penalty 1 takes a channel once in each category', () => {
    const input = [video('a1', { channel: 'x' }), video('a2', { channel: 'x' }), video('a3', { channel: 'y' }), video('b1', { category: 'B', channel: 'x' })];
    const result = selectContent(input, { ...options, channelPenalty: 1, targetHours: 10 });
    const verdict = verdicts(result);
    assert.deepEqual([verdict.a1, verdict.a2].sort(), ['channel-penalty', 'selected']);
    assert.deepEqual([verdict.a3, verdict.b1], ['selected', 'selected']);
  });

  it('penalty 0.5: a channel\'s second video in a category is a coin toss, its third never taken', () => {
    const input = ['1', '2', '3', '4'].map((n) => video(`x${n}`, { channel: 'x' }));
    const picked = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const result = selectContent(input, { ...options, seed, channelPenalty: 0.5, targetHours: 10 });
      picked.add(result.selected.length);
      assert.equal(Object.values(verdicts(result)).filter((v) => v === 'channel-penalty').length, 4 - result.selected.length, `seed ${seed}`);
    }
    assert.deepEqual([...picked].sort(), [1, 2]);
  });

  it('durations: exactly the cap is selectable, past it too long; zero, negative or unknown has no duration', () => {
    const input = [
      video('cap', { duration_seconds: 600 }), video('over', { duration_seconds: 600.5 }), video('zero', { duration_seconds: 0 }),
      video('negative', { duration_seconds: -5 }), video('unknown', { duration_seconds: null }), video('infinite', { duration_seconds: Infinity }),
    ];
    const result = selectContent(input, { ...options, maxDurationSeconds: 600, targetHours: 10 });
    assert.deepEqual(verdicts(result), { cap: 'selected', over: 'too-long', zero: 'no-duration', negative: 'no-duration', unknown: 'no-duration', infinite: 'no-duration' });
  });

  it('nothing selectable: no category is walked and nothing is selected', () => {
    const result = selectContent([video('a', { duration_seconds: null }), video('b', { category: 'B', duration_seconds: 0 })], options);
    assert.deepEqual([idsOf(result), result.categoryBudgets, result.selectedSeconds], [[], [], 0]);
    assert.deepEqual(selectionReport(result), {
      targetHours: 1, selectedHours: 0, distanceHours: 1, videos: 0, byCategory: {}, byTopLevel: {}, topChannels: [], notSelected: { 'no-duration': 2 },
    });
  });

  it('refuses a target or a cap that is not a number > 0, naming it', () => {
    for (const targetHours of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => selectContent([video('a')], { ...options, targetHours }), { message: `targetHours: expected a number > 0, got ${targetHours}` });
    }
    assert.throws(() => selectContent([video('a')], { ...options, maxDurationSeconds: 0 }), { message: 'maxDurationSeconds: expected a number > 0, got 0' });
    assert.equal(selectContent([video('a')], { ...options, maxDurationSeconds: undefined }).selected.length, 1);
  });

  it('the report: hours per category and top level, channels by count then name (20 at most), only reasons that occur', () => {
    const input: Candidate[] = [];
    for (let c = 0; c < 22; c++) input.push(video(`v${c}`, { channel: `ch${String(c).padStart(2, '0')}`, top_level: c % 2 ? 'Education' : null, category: c < 11 ? 'A' : 'B', duration_seconds: 360 }));
    input.push(video('extra', { channel: 'ch21', category: 'B', duration_seconds: 360, top_level: 'Education' }), video('late', { duration_seconds: null }));
    const report = selectionReport(selectContent(input, { ...options, targetHours: 100 }));
    const rounded = (map: Record<string, { videos: number; hours: number }>) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, [v.videos, Math.round(v.hours * 1e6) / 1e6]]));
    assert.deepEqual(rounded(report.byCategory), { A: [11, 1.1], B: [12, 1.2] });
    assert.deepEqual(rounded(report.byTopLevel), { unknown: [11, 1.1], Education: [12, 1.2] });
    assert.deepEqual(report.topChannels.slice(0, 3), [{ channel: 'ch21', videos: 2 }, { channel: 'ch00', videos: 1 }, { channel: 'ch01', videos: 1 }]);
    assert.equal(report.topChannels.length, 20);
    assert.deepEqual(report.topChannels.at(-1), { channel: 'ch18', videos: 1 });
    assert.deepEqual([report.videos, report.notSelected, report.targetHours], [23, { 'no-duration': 1 }, 100]);
    assert.ok(Math.abs(report.selectedHours - 2.3) < 1e-9 && Math.abs(report.distanceHours - 97.7) < 1e-9, `${report.selectedHours} ${report.distanceHours}`);
  });

  it('the table keeps every value past the growth of its columns, and its categories in order of first appearance', () => {
    const input = Array.from({ length: 1030 }, (_, i) => video(`v${i}`, {
      category: `cat${(1029 - i) % 7}`, top_level: `top${i % 3}`, channel: `ch${i % 11}`, channel_follower_count: i, duration_seconds: i + 1, view_count: 2 * i, like_count: 3 * i, comment_count: 4 * i,
    }));
    const table = CandidateTable.of(input);
    for (const i of [0, 1023, 1024, 1025, 1029]) assert.deepEqual(table.row(i), input[i], `row ${i}`);
    assert.deepEqual(table.categories.names, ['cat0', 'cat6', 'cat5', 'cat4', 'cat3', 'cat2', 'cat1']);
  });

  it('the table: counts that are not finite numbers read as null; JSON rows follow rows added after an earlier write', () => {
    const table = CandidateTable.of([video('a', { view_count: Infinity, like_count: Number.NaN, top_level: 'Education' })]);
    assert.deepEqual(table.row(0), { ...video('a', { top_level: 'Education' }), view_count: null, like_count: null });
    assert.deepEqual(JSON.parse(`{${table.jsonFields(0)}}`), table.row(0));
    table.add(video('b', { category: 'New', top_level: 'Other', channel: 'fresh', duration_seconds: null }));
    assert.deepEqual(JSON.parse(`{${table.jsonFields(1)}}`), table.row(1));
    assert.deepEqual([table.row(1).category, table.row(1).top_level, table.row(1).channel, table.row(1).duration_seconds], ['New', 'Other', 'fresh', null]);
  });
});
