import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { annotationJsonSchema, contentMetadataSchema } from '@finevideo/dataset';
import { ffmpegPath } from '@finevideo/media';
import { startFakeOpenAi, startFakeTgi, type FakeOpenAi, type FakeOpenAiOptions } from '@finevideo/testing';

type ImagePart = OpenAI.Chat.Completions.ChatCompletionContentPartImage;
const strictFormat = (schema: Record<string, unknown>, name = 'content_metadata') => ({ type: 'json_schema' as const, json_schema: { name, schema, strict: true } });

describe('fake OpenAI-compatible server: image parts and strict json_schema, with the real openai client', function () {
  let dir: string;
  let frames: Buffer[];
  let server: FakeOpenAi | undefined;
  const start = async (options: FakeOpenAiOptions = {}) => {
    server = await startFakeOpenAi({ apiKey: 'sk-vision-key', modelId: 'gpt-4o', ...options });
    return { server, client: new OpenAI({ apiKey: 'sk-vision-key', baseURL: server.baseURL, maxRetries: 0 }) };
  };
  const imagePart = (jpeg: Buffer, mime = 'image/jpeg'): ImagePart => ({ type: 'image_url', image_url: { url: `data:${mime};base64,${jpeg.toString('base64')}` } });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-openai-vision-'));
    // Three real JPEG frames (320x180) from ffmpeg's test source.
    await promisify(execFile)(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=1', '-frames:v', '3', '-q:v', '5', join(dir, 'f%d.jpg')]);
    frames = await Promise.all((await readdir(dir)).sort().map((f) => readFile(join(dir, f))));
    assert.equal(frames.length, 3);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('decodes every image part, records count, bytes and size per request, and answers a sample annotation for a content_metadata schema', async () => {
    const { server, client } = await start({ strictSchemas: true });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You annotate videos.' },
        { role: 'user', content: [{ type: 'text', text: 'Frames at 00:00:00, 00:00:05, 00:00:10. Duration: 12 s.' }, ...frames.map((f) => imagePart(f))] },
      ],
      response_format: strictFormat(annotationJsonSchema()),
    });
    const annotation = contentMetadataSchema.parse(JSON.parse(completion.choices[0]!.message.content!));
    assert.equal(annotation.scenes.at(-1)!.timestamps.end_timestamp, '00:00:12', 'fitted to the duration the prompt states');
    assert.deepEqual(server.stats.imagesPerRequest, [3]);
    assert.deepEqual(server.stats.imageBytesPerRequest, [frames.reduce((s, f) => s + f.length, 0)]);
    assert.deepEqual(server.stats.receivedImages.map((i) => [i.mimeType, i.width, i.height]), frames.map(() => ['image/jpeg', 320, 180]));
    const usage = completion.usage!;
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    assert.ok(usage.prompt_tokens >= 3 * 255, `three 320x180 images cost 255 tokens each, got ${usage.prompt_tokens} prompt tokens`);
    assert.deepEqual(server.stats.usage, { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens });
  });

  it('refuses malformed parts with OpenAI\'s 400 error object', async () => {
    const { server, client } = await start();
    const refused = async (content: unknown, pattern: RegExp, role: 'user' | 'system' = 'user') => {
      const e = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role, content } as OpenAI.Chat.Completions.ChatCompletionMessageParam] })
        .then(() => assert.fail(`expected a 400 for ${JSON.stringify(content).slice(0, 80)}`), (err: unknown) => err);
      assert.ok(e instanceof OpenAI.BadRequestError, String(e));
      assert.match(e.message, pattern);
      assert.equal((e.error as { type?: string }).type, 'invalid_request_error');
    };
    await refused([{ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${Buffer.from('not a jpeg at all').toString('base64')}` } }], /unsupported image/);
    await refused([{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,@@@' } }], /Invalid image URL/);
    await refused([{ type: 'image_url', image_url: { url: 'https://example.com/a.jpg' } }], /data:/);
    await refused([{ type: 'image_url', image_url: {} }], /Missing required parameter: 'messages\[0\]\.content\[0\]\.image_url\.url'/);
    await refused([{ type: 'video', video: 'x' }], /Invalid value: 'video'/);
    await refused([{ text: 'no type' }], /Missing required parameter: 'messages\[0\]\.content\[0\]\.type'/);
    await refused([{ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${frames[0]!.toString('base64')}`, detail: 'ultra' } }], /Supported values are: 'auto', 'low', and 'high'/);
    assert.equal(server.stats.rejectedMessages, 7);
    assert.equal(server.stats.served, 0);
  });

  it('with strictSchemas, refuses a strict json_schema that is not strict, as OpenAI does', async () => {
    const { server, client } = await start({ strictSchemas: true });
    const ask = (schema: Record<string, unknown>, name?: string) => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], response_format: strictFormat(schema, name) });
    const loose = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    await assert.rejects(ask(loose), (e: Error) => e instanceof OpenAI.BadRequestError && /In context=\(\), 'additionalProperties' is required to be supplied and to be false/.test(e.message));
    const missing = { type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'string' }, c: { type: 'number' } }, required: ['b'], additionalProperties: false } } }, required: ['a'], additionalProperties: false };
    await assert.rejects(ask(missing), (e: Error) => e instanceof OpenAI.BadRequestError && /In context=\('properties', 'a', 'items'\), 'required' .* Missing 'c'/.test(e.message));
    await assert.rejects(ask(annotationJsonSchema(), 'content metadata!'), (e: Error) => e instanceof OpenAI.BadRequestError && /json_schema\.name/.test(e.message));
    assert.equal(server.stats.rejectedSchemas, 2);
    const ok = await ask(annotationJsonSchema());
    assert.equal(contentMetadataSchema.safeParse(JSON.parse(ok.choices[0]!.message.content!)).success, true, 'the generated annotation schema is strict');
  });

  it('lets the test choose the answer, and keeps the enum answer for other schemas', async () => {
    const { client } = await start({ answer: (r) => (r.images.length ? { content: `${r.images.length} images, ${r.images[0]!.bytes} bytes`, finish_reason: 'length' } : JSON.stringify({ category: 'x' })) });
    const c = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: [imagePart(frames[0]!), imagePart(frames[1]!)] }] });
    assert.equal(c.choices[0]!.message.content, `2 images, ${frames[0]!.length} bytes`);
    assert.equal(c.choices[0]!.finish_reason, 'length');
    await server!.close();
    const plain = await start();
    const e = await plain.client.chat.completions.create({
      model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'Title: easy cooking at home' }] }],
      response_format: strictFormat({ type: 'object', properties: { category: { type: 'string', enum: ['Cooking Tutorials', 'Tech Reviews'] } }, required: ['category'], additionalProperties: false }, 'c'),
    });
    assert.deepEqual(JSON.parse(e.choices[0]!.message.content!), { category: 'Cooking Tutorials' });
  });

  it('vLLM accepts image parts and any schema, and answers a bad part in its own error shape', async () => {
    const { client } = await start({ kind: 'vllm', strictSchemas: true, apiKey: 'sk-vision-key' });
    const c = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: [imagePart(frames[0]!)] }], response_format: strictFormat({ type: 'object', properties: { a: { type: 'string' } } }) });
    assert.ok(c.usage!.prompt_tokens > 0);
    const raw = await fetch(`${server!.baseURL}/chat/completions`, {
      method: 'POST', headers: { authorization: 'Bearer sk-vision-key', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }] }] }),
    });
    assert.equal(raw.status, 400);
    assert.deepEqual(Object.keys((await raw.json()) as object).sort(), ['code', 'message', 'object', 'param', 'type']);
  });

  it('the fake TGI reads the same image parts, and refuses a bad one with its 422 validation error', async () => {
    const tgi = await startFakeTgi({ latencyMs: 1 });
    try {
      const client = new OpenAI({ apiKey: 'unused', baseURL: tgi.baseURL, maxRetries: 0 });
      const c = await client.chat.completions.create({ model: 'tgi', messages: [{ role: 'user', content: [{ type: 'text', text: 'Title: honest phone reviews\n- Tech Reviews\n- Cooking' }, imagePart(frames[0]!), imagePart(frames[1]!)] }] });
      assert.match(c.choices[0]!.message.content!, /Tech Reviews/);
      const e = await client.chat.completions.create({ model: 'tgi', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } }] }] }).catch((err: unknown) => err);
      assert.ok(e instanceof OpenAI.UnprocessableEntityError, String(e));
      // TGI's validation error ({error, error_type}; the SDK keeps its `error`), not a serde deserialization error.
      assert.match(String(e.error), /^Input validation error: You uploaded an unsupported image/);
      assert.deepEqual(tgi.stats.imagesPerRequest, [2]);
      assert.equal(tgi.stats.rejectedMessages, 1);
    } finally {
      await tgi.close();
    }
  });
});
