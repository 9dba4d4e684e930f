import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Outcome } from '@finevideo/core';
import { LEAF_NAMES } from '@finevideo/dataset';
import { orderedPool } from '@finevideo/runtime';
import { FileStore } from '@finevideo/storage';
import { startFakeTgi, type FakeTgi } from '@finevideo/testing';
import { answerToLeaf, buildPrompt, classifyParams, classifyStage, lexicalBaseline, type ClassifyItem } from '@finevideo/stages/classify';
import { mediaItemContext } from './media-context.js';

const item = (i: number): ClassifyItem => ({
  video_id: `vid${String(i).padStart(8, '0')}`, title: ['easy cooking dinner', 'guitar cover song', 'tech review', 'history documentary'][i % 4]!, channel: `ch${i % 5}`,
  tags: 'a, b', transcript: 'words '.repeat(50), duration_seconds: 100 + i, view_count: i, like_count: 1, comment_count: 0, channel_follower_count: 10,
});

async function classifyAll(tgi: FakeTgi | undefined, params: Record<string, unknown>, n: number) {
  const dir = await mkdtemp(join(tmpdir(), 'classify-'));
  const p = classifyParams.parse({ ...(tgi ? { endpoint: tgi.baseURL } : {}), waitForHealthSeconds: 5, retryBaseDelayMs: 5, ...params });
  const ctx = await mediaItemContext(new FileStore(dir), p);
  const out: Outcome[] = [];
  await orderedPool(Array.from({ length: n }, (_, i) => item(i)), classifyStage.itemConcurrency(p), async (it) => (await classifyStage.processItem(it, ctx)) as Outcome, (o) => {
    out.push(o);
  });
  return { out, counters: ctx.counters };
}

const rowOf = (o: Outcome) => ('row' in o && o.row ? o.row : {}) as Record<string, unknown>;

describe('stage classify', function () {
  this.timeout(120_000);
  let tgi: FakeTgi | undefined;
  afterEach(async () => {
    await tgi?.close();
    tgi = undefined;
  });

  it('with constrained decoding every answer is a leaf, with its parent, top level and tokens', async () => {
    tgi = await startFakeTgi({ capacity: 16, latencyMs: 5 });
    const { out, counters } = await classifyAll(tgi, { concurrency: 16 }, 60);
    assert.equal(out.length, 60);
    for (const o of out) {
      assert.equal(o.status, 'kept');
      const r = rowOf(o);
      assert.ok(LEAF_NAMES.includes(String(r.category)), `leaf ${r.category}`);
      assert.equal(r.constrained, true);
      assert.ok(r.parent && r.top_level);
    }
    assert.equal(rowOf(out[0]!).category, 'Cooking Tutorials');
    assert.ok(counters.prompt_tokens! > 0 && counters.completion_tokens! > 0);
  });

  it('with 5% injected faults every item is classified exactly once, none lost or duplicated', async () => {
    tgi = await startFakeTgi({ capacity: 32, latencyMs: 2, faultRate: 0.05, seed: 11, retryAfterSeconds: 0.01 });
    const { out } = await classifyAll(tgi, { concurrency: 32, timeoutMs: 500, maxRetries: 10 }, 300);
    const ids = out.map((o) => rowOf(o).video_id);
    assert.equal(out.length, 300, 'one outcome per item: none duplicated');
    assert.equal(new Set(ids).size, 300, 'every item present: none lost');
    assert.ok(out.every((o) => o.status === 'kept'));
    const f = tgi.stats.faults;
    assert.ok(f['429'] + f['503'] + f.timeout + f.malformed > 5, `faults were injected: ${JSON.stringify(f)}`);
  });

  it('without constrained decoding, free text is mapped onto a leaf or kept in the table with its reason', async () => {
    tgi = await startFakeTgi({ capacity: 8, latencyMs: 2, constrained: false, unmappableRate: 0.3, seed: 5 });
    const { out } = await classifyAll(tgi, { concurrency: 8 }, 80);
    assert.equal(out.length, 80);
    const kept = out.filter((o) => o.status === 'kept');
    const unmapped = out.filter((o) => o.status === 'dropped');
    assert.ok(kept.length > 0 && unmapped.length > 0);
    for (const o of kept) {
      assert.ok(LEAF_NAMES.includes(String(rowOf(o).category)));
      assert.equal(rowOf(o).constrained, false);
    }
    for (const o of unmapped) {
      assert.equal(o.status === 'dropped' && o.reason, 'unmapped-answer');
      assert.equal(rowOf(o).category, null);
      assert.match(String(rowOf(o).raw_answer), /not sure/);
    }
  });

  it('a server that refuses response_format is asked again in free text, and not sent the schema again', async () => {
    tgi = await startFakeTgi({ capacity: 4, latencyMs: 2, rejectResponseFormat: true });
    const { out, counters } = await classifyAll(tgi, { concurrency: 4 }, 40);
    assert.equal(out.length, 40);
    for (const o of out) {
      assert.equal(o.status, 'kept');
      assert.ok(LEAF_NAMES.includes(String(rowOf(o).category)));
      assert.equal(rowOf(o).constrained, false);
    }
    const rejected = tgi.stats.rejectedResponseFormat;
    assert.ok(rejected >= 1 && rejected <= 4, `only the requests already in flight carried the schema: ${rejected}`);
    assert.equal(counters.response_format_rejected, rejected);
    assert.equal(tgi.stats.served, 40);
  });

  it('a server error that outlasts the retries is an error row, not a lost item', async () => {
    tgi = await startFakeTgi({ faultRate: 1, faultKinds: ['503'], retryAfterSeconds: 0.001 });
    const { out } = await classifyAll(tgi, { concurrency: 2, maxRetries: 1 }, 3);
    assert.deepEqual(out.map((o) => o.status), ['error', 'error', 'error']);
    assert.match(out[0]!.status === 'error' ? out[0]!.reason : '', /^llm unavailable: /);
  });

  it('with no endpoint uses the lexical baseline and says so in every row', async () => {
    const { out } = await classifyAll(undefined, {}, 4);
    assert.deepEqual(out.map((o) => rowOf(o).category), ['Cooking Tutorials', 'Covers', 'Tech Reviews', 'Documentaries']);
    assert.ok(out.every((o) => rowOf(o).method === 'lexical-baseline' && String(rowOf(o).raw_answer).includes('in title')));
    assert.equal(lexicalBaseline({ title: 'zzz', channel: '', tags: '', transcript: '' }), undefined);
  });

  it('builds the prompt in one pass and maps answers onto leaves', () => {
    const prompt = buildPrompt('{title}|{channel}|{transcript}|{categories}', { title: 'a {channel}', channel: 'c', tags: '', transcript: 't' }, ['X', 'Y']);
    assert.equal(prompt, 'a {channel}|c|t|- X\n- Y');
    assert.deepEqual(answerToLeaf('{"category":"Tech Reviews"}'), { leaf: 'Tech Reviews', fromJson: true });
    assert.deepEqual(answerToLeaf('tech reviews.'), { leaf: 'Tech Reviews', fromJson: false });
    assert.deepEqual(answerToLeaf('I would say Software Tutorials fits'), { leaf: 'Software Tutorials', fromJson: false });
    assert.equal(answerToLeaf('{"category":"Not A Leaf"}'), undefined);
    assert.equal(answerToLeaf('Error: Unable to get response'), undefined);
  });
});
