import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mediaLayout } from '@finevideo/core';
import { startFakeGemini, startFakeOpenAi, type FakeGemini, type FakeGeminiOptions, type FakeOpenAi } from '@finevideo/testing';
import { annotateAll, itemOf, rowOf, storeWithVideos, videoId } from './annotate-helpers.js';

const KEY_ENV = 'FINEVIDEO_TEST_GEMINI_KEY';
const reasonOf = (o: { status: string }) => ('reason' in o ? String(o.reason) : '');

/** Waits until `check` holds (the fake's counters move with the run); fails naming `what` after 20 s. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 20_000) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('stage annotate, paths of the Gemini and vision backends (budgets, in-flight cap, Files API faults, refusals)', function () {
  this.timeout(60_000);
  let gemini: FakeGemini | undefined;
  let openai: FakeOpenAi | undefined;
  beforeEach(() => {
    process.env[KEY_ENV] = 'fake-gemini-key';
  });
  afterEach(async () => {
    delete process.env[KEY_ENV];
    await gemini?.close();
    await openai?.close();
    gemini = openai = undefined;
  });
  const params = (extra: Record<string, unknown> = {}) => ({
    geminiBaseUrl: gemini!.baseUrl, geminiApiKeyEnv: KEY_ENV, model: 'gemini-2.5-flash', filePollMs: 5, retryBaseDelayMs: 5, maxRetryDelayMs: 50, maxAttempts: 2, ...extra,
  });
  const run = async (options: FakeGeminiOptions, extra: Record<string, unknown>, n: number) => {
    gemini = await startFakeGemini(options);
    const { store } = await storeWithVideos(n);
    return annotateAll(store, params(extra), Array.from({ length: n }, (_, i) => itemOf(i)));
  };

  // Each budget admits what one minute allows at once, then holds the next request until it refills (tens of
  // seconds here): with every file ACTIVE, only the admitted calls reach the API; stopping the chunk ends the wait.
  // Budgets are per process and settings: these values are used by no other test.
  for (const budget of [{ requestsPerMinute: 2, tokensPerMinute: 0, admitted: 2 }, { requestsPerMinute: 0, tokensPerMinute: 9_001, admitted: 1 }]) {
    it(`requestsPerMinute ${budget.requestsPerMinute} / tokensPerMinute ${budget.tokensPerMinute}: ${budget.admitted} call(s) go out, the others wait for the budget, and a stopped chunk still deletes every upload`, async () => {
      gemini = await startFakeGemini();
      const { store } = await storeWithVideos(4);
      const stop = new AbortController();
      const running = annotateAll(store, params({ requestsPerMinute: budget.requestsPerMinute, tokensPerMinute: budget.tokensPerMinute, concurrency: 4 }), [0, 1, 2, 3].map(itemOf), stop.signal);
      const fake = gemini;
      await until('four ACTIVE files and the admitted answers', () => fake.stats.uploads === 4 && [...fake.stats.files.values()].every((f) => f.polls >= 1) && fake.stats.generateCalls.ok === budget.admitted);
      // Held calls would have gone out within milliseconds of their file turning ACTIVE.
      await sleep(300);
      assert.equal(fake.stats.generateTotal, budget.admitted, 'calls past the budget waited');
      stop.abort();
      await assert.rejects(running);
      await until('every upload deleted', () => fake.stats.aliveFiles.size === 0);
    });
  }

  it('concurrency caps the videos in flight across the chunk (requests at once never above it)', async () => {
    // Each answer takes a second: the three slots' uploads finish well inside it, so three calls overlap even on a loaded machine.
    const { out } = await run({ latencyMs: 1000 }, { concurrency: 3 }, 6);
    assert.deepEqual(out.map((o) => o.status), Array(6).fill('kept'));
    assert.equal(gemini!.stats.maxConcurrentGenerate, 3);
  });

  it('an upload refused past the retries is an error row naming the failure; no generate call, no file left', async () => {
    const { out, counters } = await run({ faults: { rate: 1, kinds: ['503'], filesEndpoints: ['upload'] } }, {}, 2);
    for (const o of out) assert.match(reasonOf(o), /^unavailable: Gemini API .* after 2 attempts: HTTP 503/);
    assert.equal(gemini!.stats.filesFaults.upload, 4);
    assert.equal(gemini!.stats.generateTotal, 0);
    assert.equal(gemini!.stats.uploads, 0);
    assert.equal(counters.annotate_retries_unavailable, 2);
  });

  it('a files.get failing past the retries is an error row, and the uploaded file is still deleted', async () => {
    const { out } = await run({ faults: { rate: 1, kinds: ['500'], filesEndpoints: ['get'] } }, {}, 2);
    for (const o of out) assert.match(reasonOf(o), /^server-error: .* after 2 attempts: HTTP 500/);
    assert.equal(gemini!.stats.uploads, 2);
    assert.equal(gemini!.stats.deletes, 2);
    assert.deepEqual([...gemini!.stats.aliveFiles], []);
  });

  it('a delete that keeps failing leaves the annotation stored and reports the file left behind (counter and a warning naming it)', async () => {
    const { out, counters, warnings } = await run({ faults: { rate: 1, kinds: ['503'], filesEndpoints: ['delete'], decide: () => undefined } }, {}, 2);
    assert.deepEqual(out.map((o) => o.status), ['kept', 'kept'], JSON.stringify(out.map(reasonOf)));
    assert.equal(counters.annotate_files_not_deleted, 2);
    assert.equal(counters.annotate_files_deleted, undefined);
    assert.equal(gemini!.stats.aliveFiles.size, 2);
    for (const name of gemini!.stats.aliveFiles) assert.ok(warnings.some((w) => w.includes(`could not delete uploaded file ${name}`)), `${name} named in ${JSON.stringify(warnings)}`);
  });

  it('a file still PROCESSING past fileProcessingTimeoutSec is gemini-file-timeout, and the file is deleted', async () => {
    const { out } = await run({ processingPolls: 1_000_000 }, { fileProcessingTimeoutSec: 0.1 }, 1);
    assert.match(reasonOf(out[0]!), /^gemini-file-timeout: files\/[a-z0-9]+ still PROCESSING after 0\.1 s/);
    assert.equal(gemini!.stats.generateTotal, 0);
    assert.deepEqual([...gemini!.stats.aliveFiles], []);
  });

  it('a prompt blocked by safety (promptFeedback.blockReason) or an answer stopped for SAFETY is gemini-no-answer naming why, not a retry', async () => {
    let call = 0;
    const { out } = await run({ answer: () => (call++ % 2 === 0 ? { blocked: 'SAFETY' } : { text: '', finishReason: 'SAFETY' }) }, { concurrency: 1 }, 2);
    assert.match(reasonOf(out[0]!), new RegExp(`^gemini-no-answer: no text for ${videoId(0)} \\(SAFETY\\)$`));
    assert.match(reasonOf(out[1]!), new RegExp(`^gemini-no-answer: no text for ${videoId(1)} \\(SAFETY\\)$`));
    assert.equal(gemini!.stats.generateTotal, 2, 'asked once each');
    assert.ok(Number(rowOf(out[0]!).input_tokens) > 0, 'the refused call is billed and counted');
  });

  it('openai-vision: a video nothing can be decoded from is an error row (video-corrupt since the integrity check runs first; frames-failed past it), with no model request', async () => {
    openai = await startFakeOpenAi({ kind: 'vllm', modelId: 'vision-model' });
    const { store } = await storeWithVideos(1);
    await store.put(mediaLayout(videoId(0)).video, Buffer.from('not a video at all, just bytes'));
    const { out } = await annotateAll(store, { backend: 'openai-vision', openaiBaseUrl: openai.baseURL, openaiModel: 'vision-model', maxFrames: 2, frameMaxSide: 64 }, [itemOf(0)]);
    assert.match(reasonOf(out[0]!), /^(video-corrupt|frames-failed): /);
    assert.equal(openai.stats.requests, 0);
  });
});
