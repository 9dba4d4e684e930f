import assert from 'node:assert/strict';
import { annotationJsonSchema } from '@finevideo/dataset';
import { sampleAnnotation, startFakeGemini, type FakeGemini } from '@finevideo/testing';
import { HttpStatusError, TokenBucket, annotateParams, classifyFailure, annotateStage, buildPrompt, estimateCost, promptHash, validateAnswer, DEFAULT_PROMPT } from '@finevideo/stages/annotate';
import { annotateAll, itemOf, rowOf, storeWithVideos } from './annotate-helpers.js';

describe('stage annotate, parts', function () {
  this.timeout(30_000);

  it('the token bucket paces takes past its minute, keeps arrival order, and settles estimates against real usage', async () => {
    let now = 0;
    const waits: number[] = [];
    const bucket = new TokenBucket(600, () => now, async (ms) => {
      waits.push(ms);
      now += ms;
    });
    await bucket.take(600);
    assert.deepEqual(waits, [], 'a full bucket pays at once');
    await bucket.take(60);
    assert.equal(waits.reduce((a, b) => a + b, 0), 6_000, '60 of 600 per minute take 6 s');
    // An estimate of 300 that turned out to be 60: 240 come back.
    bucket.settle(300, 60);
    waits.length = 0;
    await bucket.take(240);
    assert.deepEqual(waits, []);
    // A request above the capacity waits for a full bucket and leaves a debt, never refused.
    await bucket.take(1_200);
    assert.equal(waits.reduce((a, b) => a + b, 0), 60_000);
  });

  it('the default prompt is ours, fills every placeholder once, and its hash follows the template', () => {
    const text = buildPrompt(DEFAULT_PROMPT, { title: 'Bread {transcript}', description: 'd', durationSeconds: 3725, transcript: '[00:00:01] hi' });
    assert.match(text, /title: Bread \{transcript\}/, 'a placeholder inside a title is not expanded');
    assert.match(text, /length: 01:02:05/);
    assert.match(text, /Positive: Happy, Excited, Calm, Grateful, Proud/);
    assert.doesNotMatch(text, /\{(title|description|duration|moods)\}/);
    assert.notEqual(promptHash(DEFAULT_PROMPT), promptHash(`${DEFAULT_PROMPT} `));
  });

  it('validation: fenced JSON is read, extra keys and wrong types are refused, oversized answers are refused before parsing', () => {
    // A fenced annotation is read as the annotation; a fenced wrong one is a schema problem, so it was parsed.
    const annotation = sampleAnnotation({ durationSeconds: 20, seed: 4 });
    for (const fence of ['```json\n', '```\n', '  ```JSON\n']) {
      const read = validateAnswer(`${fence}${JSON.stringify(annotation, null, 2)}\n\`\`\``, 1_000_000);
      assert.ok(read.ok, `${JSON.stringify(fence)}: ${JSON.stringify(read).slice(0, 200)}`);
      assert.deepEqual(read.annotation, annotation);
    }
    const wrong = validateAnswer('```json\n{"title": 1}\n```', 1000);
    assert.ok(!wrong.ok && wrong.kind === 'schema', JSON.stringify(wrong));
    const bad = validateAnswer('{"title":"t","description":"d","characterList":[],"scenes":[],"storylines":{},"qAndA":[],"trimmingSuggestions":[],"video_id":"../../x"}', 10_000);
    assert.ok(!bad.ok && bad.kind === 'schema' && /scenes/.test(bad.problems) && /video_id|Unrecognized/.test(bad.problems), JSON.stringify(bad));
    const big = validateAnswer('x'.repeat(101), 100);
    assert.ok(!big.ok && big.kind === 'too-large');
  });

  it('the generated JSON Schema is what Gemini (responseJsonSchema) and OpenAI strict mode accept: every object closed and fully required', () => {
    const walk = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (n.type === 'object') {
        assert.equal(n.additionalProperties, false);
        assert.deepEqual([...(n.required as string[])].sort(), Object.keys(n.properties as object).sort());
      }
      for (const v of Object.values(n)) walk(v);
    };
    walk(annotationJsonSchema());
  });

  it('the plan estimate: tokens from video seconds and the price table; baseline costs nothing; a model without a price says so', async () => {
    const p = annotateParams.parse({ model: 'gemini-2.5-pro', estimateInputTokensPerSecond: 300, estimateOutputTokensPerVideo: 4_000 });
    const e = estimateCost(p, 10, 36_000);
    assert.equal(e.inputTokens, 300 * 36_000 + 2_000 * 10);
    assert.equal(e.outputTokens, 40_000);
    assert.ok(Math.abs(e.dollars! - (e.inputTokens * 1.25 + e.outputTokens * 10) / 1e6) < 1e-9);
    assert.match(e.line, /^expected cost: about \$\d+\.\d\d for 10 videos, 10\.00 h/);
    assert.match(estimateCost(annotateParams.parse({ backend: 'baseline' }), 3, 100).line, /\$0 \(baseline annotator/);
    assert.match(estimateCost(annotateParams.parse({ model: 'gemini-9-ultra' }), 1, 60).line, /unknown \(no price for gemini-9-ultra; set params\.prices\)/);
    async function* items() {
      yield { ...itemOf(0), duration_seconds: 1800 };
      yield { ...itemOf(1), duration_seconds: 1800 };
    }
    assert.match(await annotateStage.planEstimate!(items(), p), /for 2 videos, 1\.00 h/);
  });

  it('failures: a refused key fails the chunk, a 403 about one uploaded file is that item, 429 and 5xx are transient', () => {
    const url = 'https://generativelanguage.googleapis.com/v1beta/files/abc';
    assert.equal(classifyFailure(new HttpStatusError(403, url, 'PERMISSION_DENIED: Method doesn\'t allow unregistered callers')).kind, 'unauthorized');
    assert.equal(classifyFailure(new HttpStatusError(400, url, 'INVALID_ARGUMENT: API key not valid. Please pass a valid API key.')).kind, 'unauthorized');
    const gone = classifyFailure(new HttpStatusError(403, url, 'PERMISSION_DENIED: You do not have permission to access the File abc or it may not exist.'));
    assert.deepEqual([gone.kind, gone.errorClass], ['item', 'file-missing']);
    assert.equal(classifyFailure(new HttpStatusError(429, url, 'RESOURCE_EXHAUSTED', 7000)).retryAfterMs, 7000);
    assert.equal(classifyFailure(new HttpStatusError(503, url, 'UNAVAILABLE')).kind, 'transient');
  });

  it('params: the OpenAI-compatible paths need a base URL; key variables must be variable names', () => {
    assert.throws(() => annotateParams.parse({ backend: 'openai-vision' }), /openaiBaseUrl/);
    assert.throws(() => annotateParams.parse({ geminiApiKeyEnv: 'my key' }));
  });

  describe('retries against the fake Gemini API', () => {
    let fake: FakeGemini | undefined;
    afterEach(async () => {
      delete process.env.FINEVIDEO_TEST_GEMINI_KEY;
      await fake?.close();
    });
    it("a 429's Retry-After is honoured (not the long backoff), and 500/503 are retried up to maxAttempts, then an error row", async () => {
      process.env.FINEVIDEO_TEST_GEMINI_KEY = 'fake-gemini-key';
      fake = await startFakeGemini({ fileState: () => 'ACTIVE', faults: { rate: 1, kinds: ['429', '503'], retryAfterSeconds: 0.05, decide: (r) => (r.files[0]!.displayName === 'vid00000000' ? (r.attempt === 1 ? '429' : undefined) : '503') } });
      const { store } = await storeWithVideos(2);
      const base = { geminiBaseUrl: fake.baseUrl, geminiApiKeyEnv: 'FINEVIDEO_TEST_GEMINI_KEY', model: 'gemini-2.5-flash', filePollMs: 5 };
      // A backoff of 10 minutes would time the test out: only the server's 50 ms wait lets it pass.
      const first = await annotateAll(store, { ...base, retryBaseDelayMs: 600_000, maxRetryDelayMs: 600_000, maxAttempts: 3 }, [itemOf(0)]);
      assert.equal(first.out[0]!.status, 'kept', JSON.stringify(first.out[0]));
      assert.equal(first.counters.annotate_retries_rate_limited, 1);
      const second = await annotateAll(store, { ...base, retryBaseDelayMs: 5, maxAttempts: 3 }, [itemOf(1)]);
      assert.equal(second.out[0]!.status, 'error');
      assert.match((second.out[0] as { reason: string }).reason, /^unavailable: Gemini API .* after 3 attempts/);
      assert.equal(fake.stats.generateCalls['503'], 3);
      assert.equal(rowOf(second.out[0]!).video_id, 'vid00000001');
      assert.deepEqual([...fake.stats.aliveFiles], []);
    });
  });
});
