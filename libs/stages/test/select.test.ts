import assert from 'node:assert/strict';
import { selectContent, selectionReport, type Candidate, type OracleOptions } from '@finevideo/stages/select';

function candidates(n: number, seed = 1): Candidate[] {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const cats = ['Cooking Tutorials', 'Tech Reviews', 'Music Videos', 'Documentaries'];
  return Array.from({ length: n }, (_, i) => ({
    video_id: `v${i}`, category: cats[i % cats.length]!, top_level: i % 2 ? 'Education' : 'Entertainment', channel: `ch${Math.floor(r() * 12)}`,
    channel_follower_count: Math.floor(r() * 1000), duration_seconds: 30 + Math.floor(r() * 700),
    view_count: Math.floor(r() * 1e6), like_count: Math.floor(r() * 1e4), comment_count: i % 7 ? Math.floor(r() * 100) : null,
  }));
}
const options: OracleOptions = { targetHours: 5, maxDurationSeconds: 600, seed: 42, weights: { comments: 0.2, views: 0.5, likes: 0.3 }, channelPenalty: 0.1 };

describe('stage select (oracle)', () => {
  it('is reproducible: the same input and seed give the same selection byte for byte', () => {
    const a = JSON.stringify(selectContent(candidates(400), options).selected);
    const b = JSON.stringify(selectContent(candidates(400), options).selected);
    assert.equal(a, b);
    assert.notEqual(JSON.stringify(selectContent(candidates(400), { ...options, seed: 7 }).selected), a, 'another seed gives another selection');
  });

  it('fits within the target, never takes a video over the maximum duration, and accounts for every row', () => {
    const input = candidates(400);
    const result = selectContent(input, options);
    const total = result.selected.reduce((n, s) => n + s.duration_seconds!, 0);
    assert.ok(total <= 5 * 3600, `total ${total}`);
    assert.ok(total > 5 * 3600 * 0.9, `lands near the target: ${total}`);
    assert.ok(result.selected.every((s) => s.duration_seconds! <= 600));
    assert.equal(result.selected.length + result.notSelected.size, input.length);
    assert.ok([...result.notSelected.values()].includes('too-long'));
    const sorted = result.selected.map((s) => s.duration_seconds!);
    assert.deepEqual(sorted, [...sorted].sort((x, y) => x - y), 'final picks are shortest first');
  });

  it('balances categories: each budget is the seconds still missing over the categories left, recomputed after each', () => {
    const input = candidates(400);
    // A category with little content: the categories walked after it share what it left.
    const small = input.filter((c) => c.category !== 'Documentaries').concat(input.filter((c) => c.category === 'Documentaries').slice(0, 2));
    const result = selectContent(small, { ...options, channelPenalty: 0 });
    const target = 5 * 3600;
    let picked = 0;
    result.categoryBudgets.forEach((b, i) => {
      const expected = (target - picked) / (result.categoryBudgets.length - i);
      assert.ok(Math.abs(b.budgetSeconds - expected) < 1e-6, `${b.category}: budget ${b.budgetSeconds}, expected ${expected}`);
      // A category stops at the first video that reaches its budget: it never overshoots by more than one video.
      assert.ok(b.pickedSeconds < b.budgetSeconds + 600, `${b.category} picked ${b.pickedSeconds}`);
      picked += b.pickedSeconds;
    });
    assert.equal(result.categoryBudgets[0]!.budgetSeconds, target / 4);
    const docs = result.categoryBudgets.find((b) => b.category === 'Documentaries')!;
    assert.ok(docs.pickedSeconds < docs.budgetSeconds, 'the small category cannot fill its budget');
    const report = selectionReport(result);
    assert.ok(Math.abs(report.distanceHours - (5 - report.selectedHours)) < 1e-9);
  });

  it('walks categories in their order of first appearance in the input, whatever the seed', () => {
    const input = candidates(400).reverse();
    const firstSeen = [...new Set(input.filter((c) => c.duration_seconds! <= options.maxDurationSeconds).map((c) => c.category))];
    assert.notEqual(firstSeen[0], 'Cooking Tutorials', 'the reversed input starts with another category');
    for (const seed of [1, 7, 42, 99]) {
      assert.deepEqual(selectContent(input, { ...options, seed }).categoryBudgets.map((b) => b.category), firstSeen, `seed ${seed}`);
    }
  });

  it('keeps a video of unknown length out of the budget with its own reason', () => {
    const input = candidates(40).map((c, i) => (i === 3 ? { ...c, duration_seconds: null } : i === 5 ? { ...c, duration_seconds: 0 } : c));
    const result = selectContent(input, options);
    assert.equal(result.notSelected.get('v3'), 'no-duration');
    assert.equal(result.notSelected.get('v5'), 'no-duration');
    assert.ok(!result.selected.some((s) => s.video_id === 'v3' || s.video_id === 'v5'));
  });

  it('penalises channels already picked in a category', () => {
    const input = candidates(600).map((c) => ({ ...c, channel: c.video_id < 'v3' ? 'same' : c.channel }));
    const strict = selectContent(input, { ...options, channelPenalty: 1 });
    const perChannelCategory = new Map<string, number>();
    for (const s of strict.selected) perChannelCategory.set(`${s.category}/${s.channel}`, (perChannelCategory.get(`${s.category}/${s.channel}`) ?? 0) + 1);
    assert.ok([...perChannelCategory.values()].every((n) => n === 1), 'penalty 1: one video per channel and category');
    assert.ok([...strict.notSelected.values()].includes('channel-penalty'));
    const none = selectContent(input, { ...options, channelPenalty: 0 });
    assert.ok(![...none.notSelected.values()].includes('channel-penalty'));
  });
});
