import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom, type GlobalContext, type Outcome, type Row } from '@finevideo/core';
import {
  CandidateTable, SELECT_COLUMNS, reasonOf, selectContent, selectionReport, selectParams, selectStage, type Candidate, type OracleOptions, type OracleResult,
} from '@finevideo/stages/select';
import { runDuckDb, sqlString } from '@finevideo/storage';

function candidates(n: number, seed = 1): Candidate[] {
  const r = seededRandom(seed);
  const cats = ['Cooking Tutorials', 'Tech Reviews', 'Music Videos', 'Documentaries'];
  return Array.from({ length: n }, (_, i) => ({
    video_id: `v${i}`, category: cats[i % cats.length]!, top_level: i % 2 ? 'Education' : 'Entertainment', channel: `ch${Math.floor(r() * 12)}`,
    channel_follower_count: Math.floor(r() * 1000), duration_seconds: 30 + Math.floor(r() * 700),
    view_count: Math.floor(r() * 1e6), like_count: Math.floor(r() * 1e4), comment_count: i % 7 ? Math.floor(r() * 100) : null,
  }));
}
const options: OracleOptions = { targetHours: 5, seed: 42, weights: { comments: 0.2, views: 0.5, likes: 0.3 }, channelPenalty: 0.1 };
const selectedRows = (result: OracleResult) => Array.from(result.selected, (i) => result.table.row(i));
const reasons = (result: OracleResult) => new Set(Array.from({ length: result.table.size }, (_, i) => reasonOf(result, i)).filter((x) => x !== undefined));

describe('stage select (oracle)', () => {
  it('is reproducible: the same input and seed give the same selection byte for byte', () => {
    const a = JSON.stringify(selectedRows(selectContent(candidates(400), options)));
    const b = JSON.stringify(selectedRows(selectContent(candidates(400), options)));
    assert.equal(a, b);
    assert.notEqual(JSON.stringify(selectedRows(selectContent(candidates(400), { ...options, seed: 7 }))), a, 'another seed gives another selection');
  });

  it('fits within the target, accounts for every row, and has no duration cap unless one is set', () => {
    const input = candidates(400);
    const result = selectContent(input, options);
    const picked = selectedRows(result);
    const total = picked.reduce((n, s) => n + s.duration_seconds!, 0);
    assert.ok(total <= 5 * 3600, `total ${total}`);
    assert.ok(total > 5 * 3600 * 0.9, `lands near the target: ${total}`);
    assert.ok(picked.some((s) => s.duration_seconds! > 600), 'the default has no cap: videos over 10 minutes are selectable');
    let notSelected = 0;
    for (let i = 0; i < input.length; i++) if (reasonOf(result, i)) notSelected++;
    assert.equal(result.selected.length + notSelected, input.length);
    assert.ok(!reasons(result).has('too-long'));
    const sorted = picked.map((s) => s.duration_seconds!);
    assert.deepEqual(sorted, [...sorted].sort((x, y) => x - y), 'final picks are shortest first');

    const capped = selectContent(input, { ...options, maxDurationSeconds: 600 });
    assert.ok(selectedRows(capped).every((s) => s.duration_seconds! <= 600));
    assert.ok(reasons(capped).has('too-long'));
    assert.equal(selectParams.parse({}).maxDurationSeconds, undefined, 'no cap by default in the stage params');
  });

  it('scales counts over the whole candidate table by default, over eligible rows with scaleOver: eligible', () => {
    // A video without duration holds the largest view count: over the table it flattens every other view score.
    const base = { top_level: null, channel_follower_count: 0, comment_count: 0 };
    const input: Candidate[] = [
      { ...base, video_id: 'huge', category: 'A', channel: 'x', duration_seconds: null, view_count: 1_000_000, like_count: 0 },
      { ...base, video_id: 'views', category: 'A', channel: 'y', duration_seconds: 100, view_count: 100, like_count: 0 },
      { ...base, video_id: 'likes', category: 'A', channel: 'z', duration_seconds: 100, view_count: 0, like_count: 10 },
    ];
    const one = { ...options, targetHours: 100 / 3600 };
    const table = selectContent(input, one);
    assert.ok(Math.abs(table.scores[1]! - 0.5 * (100 / 1_000_000)) < 1e-12, `score ${table.scores[1]}`);
    assert.ok(Math.abs(table.scores[2]! - 0.3) < 1e-12, `score ${table.scores[2]}`);
    assert.deepEqual(selectedRows(table).map((s) => s.video_id), ['likes']);
    const eligible = selectContent(input, { ...one, scaleOver: 'eligible' });
    assert.ok(Math.abs(eligible.scores[1]! - 0.5) < 1e-12, `score ${eligible.scores[1]}`);
    assert.deepEqual(selectedRows(eligible).map((s) => s.video_id), ['views']);
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
      assert.ok(b.pickedSeconds < b.budgetSeconds + 730, `${b.category} picked ${b.pickedSeconds}`);
      picked += b.pickedSeconds;
    });
    assert.equal(result.categoryBudgets[0]!.budgetSeconds, target / 4);
    const docs = result.categoryBudgets.find((b) => b.category === 'Documentaries')!;
    assert.ok(docs.pickedSeconds < docs.budgetSeconds, 'the small category cannot fill its budget');
    const report = selectionReport(result);
    assert.ok(Math.abs(report.distanceHours - (5 - report.selectedHours)) < 1e-9);
    assert.equal(report.videos, result.selected.length);
  });

  it('walks categories in their order of first appearance in the whole table, whatever the seed; a category with nothing selectable is not walked', () => {
    const input = candidates(400).reverse();
    input.unshift({ ...input[0]!, video_id: 'first', category: 'Tech Reviews', duration_seconds: null });
    input.push({ ...input[0]!, video_id: 'nothing', category: 'Unplayable', duration_seconds: 0 });
    const firstSeen = [...new Set(input.map((c) => c.category))].filter((c) => c !== 'Unplayable');
    assert.equal(firstSeen[0], 'Tech Reviews', 'the row without duration comes first');
    assert.notEqual(input[1]!.category, 'Tech Reviews', 'the first eligible row is of another category');
    for (const seed of [1, 7, 42, 99]) {
      assert.deepEqual(selectContent(input, { ...options, seed }).categoryBudgets.map((b) => b.category), firstSeen, `seed ${seed}`);
    }
  });

  it('keeps a video of unknown length out of the budget with its own reason', () => {
    const input = candidates(40).map((c, i) => (i === 3 ? { ...c, duration_seconds: null } : i === 5 ? { ...c, duration_seconds: 0 } : c));
    const result = selectContent(input, options);
    assert.equal(reasonOf(result, 3), 'no-duration');
    assert.equal(reasonOf(result, 5), 'no-duration');
    assert.ok(!selectedRows(result).some((s) => s.video_id === 'v3' || s.video_id === 'v5'));
  });

  it('penalises channels already picked in a category', () => {
    const input = candidates(600).map((c) => ({ ...c, channel: c.video_id < 'v3' ? 'same' : c.channel }));
    const strict = selectContent(input, { ...options, channelPenalty: 1 });
    const perChannelCategory = new Map<string, number>();
    for (const s of selectedRows(strict)) perChannelCategory.set(`${s.category}/${s.channel}`, (perChannelCategory.get(`${s.category}/${s.channel}`) ?? 0) + 1);
    assert.ok([...perChannelCategory.values()].every((n) => n === 1), 'penalty 1: one video per channel and category');
    assert.ok(reasons(strict).has('channel-penalty'));
    const none = selectContent(input, { ...options, channelPenalty: 0 });
    assert.ok(!reasons(none).has('channel-penalty'));
  });

  it('selects among 300,000 candidates (the spread of old overflowed the stack above ~125,000)', () => {
    const r = seededRandom(5);
    const table = new CandidateTable();
    for (let i = 0; i < 300_000; i++) {
      table.add({
        video_id: `id${i}`, category: `cat${i % 50}`, top_level: null, channel: `ch${i % 5000}`, channel_follower_count: i % 97,
        duration_seconds: 30 + Math.floor(r() * 900), view_count: i === 123_456 ? 9e9 : Math.floor(r() * 1e6), like_count: Math.floor(r() * 1e4), comment_count: null,
      });
    }
    const result = selectContent(table, { ...options, targetHours: 100 });
    assert.ok(result.selectedSeconds <= 100 * 3600 && result.selectedSeconds > 99 * 3600, `selected ${result.selectedSeconds} s`);
    assert.ok(Math.abs(result.scores[123_456]! - 0.5 - 0.3 * table.likes.values[123_456]! / 9999) < 0.01, 'the largest view count scales to 1');
    const report = selectionReport(result);
    assert.equal(Object.values(report.notSelected).reduce((a, b) => a + b, 0) + report.videos, 300_000);
  });

  it('as a stage: one parquet part with every row and its verdict (selected first), counts per reason, and the report', async () => {
    const input = candidates(200).map((c, i) => (i === 7 ? { ...c, channel: 'a "quoted", channel\nwith a newline', view_count: 12.6 } : c));
    const artifacts = new Map<string, string>();
    const tmpDir = await mkdtemp(join(tmpdir(), 'select-'));
    let asked: readonly string[] | undefined;
    try {
      const ctx = {
        params: selectParams.parse({ targetHours: 2, maxDurationSeconds: 600 }),
        tmpDir,
        input: async function* (columns?: readonly string[]) {
          asked = columns;
          for (const c of input) yield { ...c, title: 'not read' } as unknown as Row;
        },
        writeArtifact: async (name: string, content: string) => void artifacts.set(name, content),
        log: { info: () => undefined, warn: () => undefined, error: () => undefined },
      } as unknown as GlobalContext<ReturnType<typeof selectParams.parse>>;
      const outcomes: Outcome[] = [];
      for await (const o of selectStage.run(ctx)) outcomes.push(o);
      assert.deepEqual(asked, SELECT_COLUMNS, 'only the columns select needs are read');
      const report = JSON.parse(artifacts.get('report.json')!) as { videos: number; notSelected: Record<string, number> };
      const part = outcomes[0]!;
      assert.ok(part.status === 'kept-parquet');
      assert.equal(part.count, report.videos);
      const dropped = outcomes.slice(1).map((o) => (o.status === 'dropped' ? [o.reason, o.count] : undefined));
      assert.deepEqual(Object.fromEntries(dropped as [string, number][]), report.notSelected);
      const rows = await runDuckDb(`SELECT * FROM read_parquet(${sqlString(part.path)})`);
      assert.equal(rows.length, input.length, 'every candidate has a row');
      const kept = rows.filter((r) => r.status === 'kept');
      assert.equal(kept.length, report.videos);
      assert.deepEqual(rows.slice(0, kept.length), kept, 'selected rows come first');
      assert.ok(kept.every((r) => typeof r.score === 'number' && (r.duration_seconds as number) <= 600 && r.reason === null));
      assert.ok(rows.some((r) => r.status === 'dropped' && r.reason === 'too-long'));
      const odd = rows.find((r) => r.video_id === 'v7')!;
      assert.equal(odd.channel, input[7]!.channel, 'strings survive quotes, commas and newlines');
      assert.equal(odd.view_count, 13, 'counts are integers');
      const { score: _score, status: _status, reason: _reason, ...candidate } = rows.find((r) => r.video_id === 'v3')!;
      assert.deepEqual(candidate, input[3], 'a row holds the candidate as read');
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  });

  it('writes a row as JSON members equal to the row itself, counts rounded', () => {
    const table = CandidateTable.of([
      { video_id: 'a"b', category: 'Cat\u00e9', top_level: null, channel: 'c\n', channel_follower_count: null, duration_seconds: 12.5, view_count: 3.4, like_count: 0, comment_count: null },
    ]);
    assert.deepEqual(JSON.parse(`{${table.jsonFields(0)}}`), { ...table.row(0), view_count: 3 });
  });
});
