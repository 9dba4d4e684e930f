import assert from 'node:assert/strict';
import { SystemicError } from '@finevideo/core';
import { contentMetadataSchema } from '@finevideo/dataset';
import { sampleAnnotation, startFakeGemini, startFakeOpenAi, startFakeTgi, type FakeGemini, type FakeOpenAi, type FakeTgi } from '@finevideo/testing';
import { annotationLayout } from '@finevideo/stages/annotate';
import { annotateAll, itemOf, rowOf, storeWithVideos, videoId } from './annotate-helpers.js';

const GEMINI_ENV = 'FINEVIDEO_TEST_GEMINI_KEY';
const OPENAI_ENV = 'FINEVIDEO_TEST_OPENAI_KEY';
const VTT = 'WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nWe start the engine.\n\n00:00:04.000 --> 00:00:05.000\nAnd off we go.\n';

describe('stage annotate, OpenAI-compatible paths (fake OpenAI server, real openai SDK)', function () {
  this.timeout(60_000);
  let gemini: FakeGemini | undefined;
  let openai: FakeOpenAi | undefined;
  let tgi: FakeTgi | undefined;
  beforeEach(() => {
    process.env[GEMINI_ENV] = 'fake-gemini-key';
    process.env[OPENAI_ENV] = 'sk-fake-openai';
  });
  afterEach(async () => {
    delete process.env[GEMINI_ENV];
    delete process.env[OPENAI_ENV];
    await gemini?.close();
    await openai?.close();
    await tgi?.close();
    gemini = openai = undefined;
    tgi = undefined;
  });

  // Each backend that speaks to an OpenAI-compatible server, against each dialect, detected (serverKind auto).
  const servers: { name: string; start: () => Promise<FakeTgi | FakeOpenAi>; check: (s: FakeTgi | FakeOpenAi, videos: number) => void }[] = [
    { name: 'TGI 3.3.4', start: () => startFakeTgi({ version: '3.3.4' }), check: (s, n) => assert.deepEqual((s as FakeTgi).stats.grammars, { 'chat:json_schema': n }) },
    { name: 'TGI 2.4.1', start: () => startFakeTgi({ version: '2.4.1' }), check: (s, n) => assert.deepEqual((s as FakeTgi).stats.grammars, { 'chat:json': n }) },
    { name: 'vLLM', start: () => startFakeOpenAi({ kind: 'vllm', modelId: 'vision-model' }), check: (s, n) => assert.deepEqual((s as FakeOpenAi).stats.responseFormats, { json_schema: n }) },
    { name: 'OpenAI', start: () => startFakeOpenAi({ kind: 'openai', apiKey: 'sk-fake-openai', modelId: 'vision-model', strictSchemas: true }), check: (s, n) => assert.deepEqual((s as FakeOpenAi).stats.responseFormats, { json_schema: n }) },
  ];
  for (const server of servers) {
    for (const backend of ['openai-vision', 'gemini+structurer'] as const) {
      it(`${backend} on ${server.name}: every video annotated, the schema sent in the form that server reads`, async () => {
        const fake = await server.start();
        if ('grammars' in fake.stats) tgi = fake as FakeTgi;
        else openai = fake as FakeOpenAi;
        if (backend === 'gemini+structurer') gemini = await startFakeGemini();
        const { store } = await storeWithVideos(2, { vtt: VTT });
        const { out, counters } = await annotateAll(store, {
          backend, openaiBaseUrl: fake.baseURL, openaiApiKeyEnv: OPENAI_ENV, openaiModel: 'vision-model', maxFrames: 3, frameMaxSide: 64, retryBaseDelayMs: 5,
          ...(gemini ? { geminiBaseUrl: gemini.baseUrl, geminiApiKeyEnv: GEMINI_ENV, model: 'gemini-2.5-flash', filePollMs: 5 } : {}),
        }, [itemOf(0), itemOf(1)]);
        assert.deepEqual(out.map((o) => o.status), ['kept', 'kept'], JSON.stringify(out));
        assert.equal(counters.annotate_model_requests, backend === 'openai-vision' ? 2 : 4);
        server.check(fake, 2);
        if (backend === 'openai-vision') assert.deepEqual(fake.stats.imagesPerRequest, [3, 3]);
      });
    }
  }

  it('openai-vision on TGI before 2.0.2 (chat content is a string only) fails the chunk at once, saying why, instead of one 422 row per video', async () => {
    tgi = await startFakeTgi({ version: '2.0.1' });
    const { store } = await storeWithVideos(1);
    await assert.rejects(annotateAll(store, { backend: 'openai-vision', openaiBaseUrl: tgi.baseURL, maxFrames: 2, frameMaxSide: 64 }, [itemOf(0)]), (e: unknown) => {
      assert.ok(e instanceof SystemicError && !e.retryable, String(e));
      assert.match(e.message, /TGI 2\.0\.1 reads chat content as a string only \(image_url parts from TGI 2\.0\.2\)/);
      return true;
    });
    assert.equal(tgi.stats.requests, 0);
  });

  it('gemini+structurer: Gemini answers in free text (no schema), the structurer turns it into JSON with a strict json_schema; both models are costed', async () => {
    gemini = await startFakeGemini();
    const structured: string[] = [];
    openai = await startFakeOpenAi({
      apiKey: 'sk-fake-openai', modelId: 'gpt-4o-2024-08-06', strictSchemas: true,
      answer: (r) => {
        structured.push(r.prompt);
        return JSON.stringify(sampleAnnotation({ durationSeconds: 6, seed: 3 }));
      },
    });
    const { store } = await storeWithVideos(3);
    const { out, counters } = await annotateAll(store, {
      backend: 'gemini+structurer', geminiBaseUrl: gemini.baseUrl, geminiApiKeyEnv: GEMINI_ENV, model: 'gemini-2.5-flash', filePollMs: 5,
      openaiBaseUrl: openai.baseURL, openaiApiKeyEnv: OPENAI_ENV, retryBaseDelayMs: 5,
    }, [0, 1, 2].map(itemOf));
    assert.deepEqual(out.map((o) => o.status), ['kept', 'kept', 'kept'], JSON.stringify(out));
    assert.equal(gemini.stats.generateTotal, 3);
    assert.equal(openai.stats.responseFormats.json_schema, 3);
    assert.equal(openai.stats.rejectedSchemas, 0, 'the generated schema is strict enough for OpenAI');
    // The structurer read Gemini's prose (the fake's free-text rendering of an annotation), not JSON.
    for (const p of structured) assert.doesNotMatch(p.split('\n').slice(1).join('\n').trim(), /^\{/);
    for (let i = 0; i < 3; i++) contentMetadataSchema.parse(JSON.parse((await store.getText(annotationLayout(videoId(i)).annotation))!));
    const rows = out.map(rowOf);
    const inputs = rows.reduce((a, r) => a + Number(r.input_tokens), 0);
    assert.equal(inputs, gemini.stats.usage.promptTokenCount + openai.stats.usage.prompt_tokens);
    assert.equal(counters.annotate_output_tokens, gemini.stats.usage.candidatesTokenCount + openai.stats.usage.completion_tokens);
    assert.ok(rows.every((r) => typeof r.cost_usd === 'number' && r.cost_usd > 0), 'both models have prices');
    assert.equal(rows[0]!.model, 'gemini-2.5-flash+gpt-4o-2024-08-06');
    assert.deepEqual([...gemini.stats.aliveFiles], []);
  });

  it('gemini+structurer: a structurer answer off the schema is repaired by the structurer alone, with the problems sent back', async () => {
    gemini = await startFakeGemini();
    let calls = 0;
    openai = await startFakeOpenAi({
      apiKey: 'sk-fake-openai', modelId: 'gpt-4o-2024-08-06',
      answer: (r) => (++calls === 1 ? JSON.stringify({ title: 'only a title' }) : (assert.match(r.prompt, /does not match the required JSON schema/), JSON.stringify(sampleAnnotation({ durationSeconds: 6 })))),
    });
    const { store } = await storeWithVideos(1);
    const { out } = await annotateAll(store, {
      backend: 'gemini+structurer', geminiBaseUrl: gemini.baseUrl, geminiApiKeyEnv: GEMINI_ENV, model: 'gemini-2.5-flash', filePollMs: 5,
      openaiBaseUrl: openai.baseURL, openaiApiKeyEnv: OPENAI_ENV,
    }, [itemOf(0)]);
    assert.equal(out[0]!.status, 'kept');
    assert.equal(rowOf(out[0]!).repaired, true);
    assert.equal(gemini.stats.generateTotal, 1, 'Gemini was not asked again');
    assert.equal(calls, 2);
  });

  it('openai-vision: sampled frames as JPEG image parts (count and size as asked), each right after a text part with its time, the timecoded transcript from the stored VTT, the schema as response_format', async () => {
    const prompts: string[] = [];
    const bodies: Record<string, unknown>[] = [];
    // vLLM takes any schema (OpenAI's strict-mode rules are OpenAI's): the strict check is the OpenAI dialect's test above.
    openai = await startFakeOpenAi({ kind: 'vllm', modelId: 'Qwen/Qwen2.5-VL-7B-Instruct', answer: (r) => (prompts.push(r.prompt), bodies.push(r.body), JSON.stringify(sampleAnnotation({ durationSeconds: 6 }))) });
    const { store } = await storeWithVideos(2, { vtt: VTT });
    const { out, counters } = await annotateAll(store, {
      backend: 'openai-vision', openaiBaseUrl: openai.baseURL, openaiModel: 'Qwen/Qwen2.5-VL-7B-Instruct', framesPerSecond: 1, maxFrames: 4, frameMaxSide: 96,
      prices: { 'Qwen/Qwen2.5-VL-7B-Instruct': { input: 0.1, output: 0.2 } },
    }, [itemOf(0), itemOf(1)]);
    assert.deepEqual(out.map((o) => o.status), ['kept', 'kept'], JSON.stringify(out));
    assert.deepEqual(openai.stats.imagesPerRequest, [4, 4]);
    assert.ok(openai.stats.receivedImages.every((im) => im.mimeType === 'image/jpeg' && im.width !== undefined && Math.max(im.width, im.height ?? 0) <= 96), JSON.stringify(openai.stats.receivedImages.slice(0, 2)));
    assert.equal(openai.stats.responseFormats.json_schema, 2);
    assert.match(prompts[0]!, /\[00:00:01\] We start the engine\.\n\[00:00:04\] And off we go\./);
    // Each image part comes right after a text part holding only its time, times rising within the 6 s video.
    const parts = ((bodies[0]!.messages as { content: { type: string; text?: string }[] }[])[0]!).content;
    const times = parts.flatMap((p, i) => (p.type === 'image_url' ? [parts[i - 1]] : [])).map((p) => (p?.type === 'text' ? p.text : `a ${p?.type} part`));
    assert.equal(times.length, 4);
    const seconds = times.map((t) => /^\[00:00:0(\d)\]$/.exec(t ?? '')?.[1]).map(Number);
    assert.ok(seconds.every((x, i) => x >= 0 && x < 6 && (i === 0 || x > seconds[i - 1]!)), JSON.stringify(times));
    assert.equal(counters.annotate_frames, 8);
    const cost = out.map(rowOf).reduce((a, r) => a + Number(r.cost_usd), 0);
    assert.ok(Math.abs(cost - (openai.stats.usage.prompt_tokens * 0.1 + openai.stats.usage.completion_tokens * 0.2) / 1e6) < 1e-12);
  });

  it('openai-vision: a video that passes the integrity check but whose frames cannot be sampled as asked is an error row frames-failed, no model paid, and the chunk goes on', async () => {
    openai = await startFakeOpenAi({ kind: 'vllm', modelId: 'vision-model' });
    const { store } = await storeWithVideos(3);
    // Video 1 is the same whole 6 s file, but its metadata says 60 s (a shorter variant was downloaded):
    // 8 frames asked every 7.5 s, the last at 56.25 s; the decode ends at 6 s with one frame (3.75 s): annotating
    // it would describe a tenth of the video.
    const longer = { ...itemOf(1), duration_seconds: 60 };
    const { out, counters } = await annotateAll(store, { backend: 'openai-vision', openaiBaseUrl: openai.baseURL, openaiModel: 'vision-model', framesPerSecond: 1, maxFrames: 8, frameMaxSide: 64 }, [itemOf(0), longer, itemOf(2)]);
    assert.deepEqual(out.map((o) => o.status), ['kept', 'error', 'kept'], JSON.stringify(out));
    const reason = 'reason' in out[1]! ? String(out[1].reason) : '';
    assert.match(reason, /^frames-failed: sampling frames of .*: the video ends early: expected frames up to 56\.3 s of 60\.0 s, got 1 of 8, the last at 3\.8 s/);
    assert.equal(openai.stats.imagesPerRequest.length, 2, 'only the two good videos reached the model');
    assert.equal(rowOf(out[1]!).video_id, videoId(1));
    assert.equal(counters.annotate_annotated, 2);
  });

  it('openai-vision: a refused key fails the chunk (SystemicError, not retried) without naming the key', async () => {
    openai = await startFakeOpenAi({ apiKey: 'sk-the-right-one', modelId: 'gpt-4o-2024-08-06' });
    const { store } = await storeWithVideos(1);
    await assert.rejects(annotateAll(store, { backend: 'openai-vision', openaiBaseUrl: openai.baseURL, openaiApiKeyEnv: OPENAI_ENV, maxFrames: 2, frameMaxSide: 64 }, [itemOf(0)]), (e: unknown) => {
      assert.ok(e instanceof SystemicError && !e.retryable, String(e));
      assert.match(e.message, /HTTP 401 \(the key in FINEVIDEO_TEST_OPENAI_KEY was refused\)/);
      assert.doesNotMatch(e.message, /sk-fake-openai/);
      return true;
    });
  });
});
