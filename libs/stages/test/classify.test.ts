import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, SystemicError, parseOrThrow, parsePipelineConfig, runLayout, type Logger, type Outcome } from '@finevideo/core';
import { LEAF_NAMES } from '@finevideo/dataset';
import { createRun, orderedPool, runChunk } from '@finevideo/runtime';
import { FileStore } from '@finevideo/storage';
import { startFakeOpenAi, startFakeTgi, type FakeOpenAi, type FakeTgi } from '@finevideo/testing';
import { answerToLeaf, buildPrompt, classifyParams, classifyStage, lexicalBaseline, type ClassifyItem } from '@finevideo/stages/classify';
import { mediaItemContext } from './media-context.js';

const item = (i: number): ClassifyItem => ({
  video_id: `vid${String(i).padStart(8, '0')}`, title: ['easy cooking dinner', 'guitar cover song', 'tech review', 'history documentary'][i % 4]!, channel: `ch${i % 5}`,
  tags: 'a, b', transcript: 'words '.repeat(50), duration_seconds: 100 + i, view_count: i, like_count: 1, comment_count: 0, channel_follower_count: 10,
});

async function classifyAll(server: { baseURL: string } | undefined, params: Record<string, unknown>, n: number, items = Array.from({ length: n }, (_, i) => item(i)), storageDir?: string) {
  const dir = storageDir ?? (await mkdtemp(join(tmpdir(), 'classify-')));
  const p = classifyParams.parse({ ...(server ? { endpoint: server.baseURL } : { method: 'lexical-baseline' }), waitForHealthSeconds: 5, healthIntervalSeconds: 0.05, retryBaseDelayMs: 5, ...params });
  const ctx = await mediaItemContext(new FileStore(dir), p);
  const out: Outcome[] = [];
  await orderedPool(items, classifyStage.itemConcurrency(p), async (it) => (await classifyStage.processItem(it, ctx)) as Outcome, (o) => {
    out.push(o);
  });
  return { out, counters: ctx.counters };
}

/** The config error a classify params object gets, as the launcher prints it. */
function paramsError(params: Record<string, unknown>): string {
  try {
    parseOrThrow(classifyParams, params, 'params of stage classify');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  return assert.fail(`expected ${JSON.stringify(params)} to be refused`);
}

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const rowOf = (o: Outcome) => ('row' in o && o.row ? o.row : {}) as Record<string, unknown>;

describe('stage classify', function () {
  this.timeout(120_000);
  let tgi: FakeTgi | undefined;
  afterEach(async () => {
    await tgi?.close();
    tgi = undefined;
  });

  // One per dialect: the constrained path is taken (no fallback counted, every row constrained).
  const dialects: { name: string; start: () => Promise<FakeTgi | FakeOpenAi>; params?: Record<string, unknown>; form: (s: FakeTgi | FakeOpenAi) => Record<string, number>; expected: Record<string, number> }[] = [
    { name: 'TGI 3.3.4 (json_schema with value)', start: () => startFakeTgi({ capacity: 16, latencyMs: 5, version: '3.3.4' }), form: (s) => (s as FakeTgi).stats.grammars, expected: { 'chat:json_schema': 60 } },
    { name: 'TGI 2.4.1 (json with value)', start: () => startFakeTgi({ capacity: 16, latencyMs: 5, version: '2.4.1' }), form: (s) => (s as FakeTgi).stats.grammars, expected: { 'chat:json': 60 } },
    { name: 'TGI 1.4.5 (json with value; content a string, temperature 0 refused)', start: () => startFakeTgi({ capacity: 16, latencyMs: 5, version: '1.4.5' }), form: (s) => (s as FakeTgi).stats.grammars, expected: { 'chat:json': 60 } },
    { name: 'TGI 2.0.4 named by serverKind: tgi', start: () => startFakeTgi({ capacity: 16, latencyMs: 5, version: '2.0.4' }), params: { serverKind: 'tgi' }, form: (s) => (s as FakeTgi).stats.grammars, expected: { 'chat:json': 60 } },
    { name: 'vLLM (OpenAI json_schema)', start: () => startFakeOpenAi({ kind: 'vllm', modelId: 'meta-llama/Meta-Llama-3.1-70B-Instruct' }), form: (s) => (s as FakeOpenAi).stats.responseFormats, expected: { json_schema: 60 } },
    { name: 'OpenAI with a key (OpenAI json_schema)', start: () => startFakeOpenAi({ kind: 'openai', apiKey: 'sk-dialect-key', modelId: 'gpt-test' }), params: { model: 'gpt-test', apiKeyEnv: 'FINEVIDEO_TEST_DIALECT_KEY' }, form: (s) => (s as FakeOpenAi).stats.responseFormats, expected: { json_schema: 60 } },
  ];
  for (const d of dialects) {
    it(`with constrained decoding on ${d.name} every answer is a leaf, with its parent, top level and tokens`, async () => {
      process.env.FINEVIDEO_TEST_DIALECT_KEY = 'sk-dialect-key';
      const server = await d.start();
      try {
        const { out, counters } = await classifyAll(server, { concurrency: 16, ...d.params }, 60);
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
        assert.equal(counters.response_format_rejected, undefined, 'no fallback to free text');
        assert.deepEqual(d.form(server), d.expected, 'every request carried the form this server accepts');
      } finally {
        delete process.env.FINEVIDEO_TEST_DIALECT_KEY;
        await server.close();
      }
    });
  }

  it('answers are stored per video and reused for the same model, prompt and schema: a re-run pays only for what changed', async () => {
    tgi = await startFakeTgi({ capacity: 8, latencyMs: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'classify-store-'));
    const items = Array.from({ length: 8 }, (_, i) => item(i));
    const first = await classifyAll(tgi, { concurrency: 8 }, 8, items, dir);
    assert.equal(tgi.stats.served, 8);
    assert.ok(first.out.every((o) => rowOf(o).answer_reused === false));
    const categories = first.out.map((o) => rowOf(o).category);

    const again = await classifyAll(tgi, { concurrency: 8 }, 8, items, dir);
    assert.equal(tgi.stats.served, 8, 'nothing asked again');
    assert.deepEqual(again.out.map((o) => rowOf(o).category), categories, 'the same answers');
    assert.ok(again.out.every((o) => rowOf(o).answer_reused === true && o.status === 'kept'));
    assert.equal(again.counters.answers_reused, 8);
    assert.equal(again.counters.prompt_tokens, undefined, 'no tokens spent this time');

    // One video's text changed: only its prompt differs, only it is asked.
    const changed = items.map((it, i) => (i === 3 ? { ...it, transcript: 'a different transcript' } : it));
    await classifyAll(tgi, { concurrency: 8 }, 8, changed, dir);
    assert.equal(tgi.stats.served, 9);
    // Another model, or no schema: every answer is asked again.
    await classifyAll(tgi, { concurrency: 8, model: 'another/model' }, 8, changed, dir);
    assert.equal(tgi.stats.served, 17);
    await classifyAll(tgi, { concurrency: 8, model: 'another/model', constrained: false }, 8, changed, dir);
    assert.equal(tgi.stats.served, 25);
    // A damaged stored answer is asked again, never reused; force asks for all.
    const store = new FileStore(dir);
    const key = 'classifications/vid00000002.json';
    const stored = JSON.parse((await store.getText(key))!) as Record<string, unknown>;
    await store.put(key, JSON.stringify({ ...stored, promptTokens: 'many' }));
    const repaired = await classifyAll(tgi, { concurrency: 8, model: 'another/model', constrained: false }, 8, changed, dir);
    assert.equal(tgi.stats.served, 26);
    assert.equal(repaired.counters.answers_invalid, 1);
    assert.equal(repaired.counters.answers_reused, 7);
    await classifyAll(tgi, { concurrency: 8, model: 'another/model', constrained: false, force: true }, 8, changed, dir);
    assert.equal(tgi.stats.served, 34);
    // An id that is not a YouTube id never becomes a storage key: asked each time, never stored.
    const odd = [{ ...item(0), video_id: '../../etc' }];
    await classifyAll(tgi, { concurrency: 1 }, 1, odd, dir);
    await classifyAll(tgi, { concurrency: 1 }, 1, odd, dir);
    assert.equal(tgi.stats.served, 36);
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

  it('an endpoint down past its retries fails the chunk (systemic, retryable), not its items', async () => {
    tgi = await startFakeTgi({ faultRate: 1, faultKinds: ['503'], retryAfterSeconds: 0.001 });
    await assert.rejects(classifyAll(tgi, { concurrency: 2, maxRetries: 1 }, 3), (e: Error) => e instanceof SystemicError && e.retryable && e.errorClass === 'llm unavailable' && e.message.includes(tgi!.baseURL));
  });

  it('a 422 for one item\'s request (after the response_format fallback) is an error row; the others go on constrained', async () => {
    const normal = buildPrompt(classifyParams.parse({ method: 'lexical-baseline' }).template, item(0));
    // Room for every normal prompt, not for one with a 5,000-character transcript.
    tgi = await startFakeTgi({ capacity: 4, latencyMs: 2, maxTotalTokens: Math.ceil(normal.length / 4) + 20 + 200 });
    const items = Array.from({ length: 6 }, (_, i) => (i === 2 ? { ...item(i), transcript: 'long '.repeat(2000) } : item(i)));
    const { out, counters } = await classifyAll(tgi, { concurrency: 1 }, 6, items);
    assert.deepEqual(out.map((o) => o.status), ['kept', 'kept', 'error', 'kept', 'kept', 'kept']);
    assert.match(out[2]!.status === 'error' ? out[2]!.reason : '', /^llm bad-request: .*422 .*must be <= /);
    assert.ok(out.filter((o) => o.status === 'kept').every((o) => rowOf(o).constrained === true), 'one long prompt does not turn constrained decoding off');
    assert.equal(counters.response_format_rejected, undefined);
  });

  it('a 401 from the model endpoint fails the chunk (not retryable) with a message naming the endpoint and the status, never the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'classify-401-'));
    const store = new FileStore(dir);
    // TGI started with --api-key: /health and /info are open, the Messages API refuses a wrong key.
    tgi = await startFakeTgi({ apiKey: 'the-right-key' });
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: classify\n    params: { endpoint: "${tgi.baseURL}", apiKeyEnv: FINEVIDEO_TEST_401_KEY, waitForHealthSeconds: 5, maxRetries: 3, retryBaseDelayMs: 1 }\n`);
    await createRun(config, store, 'run-401');
    const layout = runLayout('run-401').stage('classify');
    await store.put(layout.chunk(0), Array.from({ length: 5 }, (_, i) => JSON.stringify(item(i))).join('\n'));
    process.env.FINEVIDEO_TEST_401_KEY = 'sk-wrong-key-s3cr3t';
    try {
      await assert.rejects(runChunk(classifyStage, { store, runId: 'run-401', stageName: 'classify', chunkIndex: 0, attempt: 1, log: quiet }), (e: Error) => {
        assert.ok(e instanceof SystemicError && !e.retryable, String(e));
        assert.match(e.message, new RegExp(`^model endpoint ${tgi!.baseURL}/chat/completions: HTTP 401 \\(the key in FINEVIDEO_TEST_401_KEY was refused\\)`));
        assert.ok(!e.message.includes('s3cr3t') && !e.message.includes('the-right-key'), e.message);
        return true;
      });
    } finally {
      delete process.env.FINEVIDEO_TEST_401_KEY;
    }
    assert.equal(await store.exists(layout.done(0)), false, 'nothing is marked done');
    assert.equal(tgi.stats.served, 0);
  });

  it('a health wait that meets a 401 ends at once and fails the chunk', async () => {
    // A proxy in front of TGI asks for the key on /health too: waiting cannot fix a key.
    tgi = await startFakeTgi({ apiKey: 'the-right-key', keyOnEveryRoute: true });
    await assert.rejects(classifyAll(tgi, { waitForHealthSeconds: 900, apiKeyEnv: 'FINEVIDEO_TEST_UNSET_KEY' }, 3), (e: Error) =>
      e instanceof SystemicError && !e.retryable && e.message.includes(`${tgi!.url}/health: HTTP 401 (no key was sent (FINEVIDEO_TEST_UNSET_KEY is unset or empty))`));
    assert.equal(tgi.stats.unauthorized, 1, 'one probe, no waiting');
  });

  it('method llm needs an endpoint; endpoints refuse credentials (not repeated) and scheme-less URLs', () => {
    assert.match(paramsError({}), /endpoint: expected an http\(s\) URL for method llm, got nothing; set method: lexical-baseline to run without a model/);
    const withPassword = paramsError({ endpoint: 'http://user:hunter2@tgi/v1' });
    assert.match(withPassword, /endpoint: expected a URL without user:password/);
    assert.ok(!withPassword.includes('hunter2'));
    assert.match(paramsError({ endpoint: 'tgi.finevideo.svc:80/v1' }), /endpoint: expected an http:\/\/ or https:\/\/ URL with a host/);
    assert.match(paramsError({ serverKind: 'triton', endpoint: 'http://x/v1' }), /serverKind: expected one of "auto", "tgi", "vllm", "openai"/);
    assert.equal(classifyParams.parse({ method: 'lexical-baseline' }).endpoint, undefined);
  });

  it('the lexical baseline is chosen by name, says so in every row and counts its items', async () => {
    const { out, counters } = await classifyAll(undefined, {}, 4);
    assert.deepEqual(out.map((o) => rowOf(o).category), ['Cooking Tutorials', 'Covers', 'Tech Reviews', 'Documentaries']);
    assert.ok(out.every((o) => rowOf(o).method === 'lexical-baseline' && String(rowOf(o).raw_answer).includes('in title')));
    assert.equal(counters.baseline_items, 4);
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
