import assert from 'node:assert/strict';
import { SystemicError } from '@finevideo/core';
import { ChatClient, LlmError, NEAR_GREEDY_TEMPERATURE, chatBodyFor, detectServer, responseFormatFor, type ChatMessage, type ServerInfo } from '@finevideo/llm';
import { startFakeOpenAi, startFakeTgi, type FakeOpenAi, type FakeTgi } from '@finevideo/testing';

const spec = { name: 'c', schema: { type: 'object', properties: { category: { type: 'string', enum: ['Cooking Tutorials', 'Tech Reviews', 'Music Videos'] } }, required: ['category'] } };
const ask = (client: ChatClient) => client.chat({ messages: [{ role: 'user', content: 'Title: easy cooking at home' }], jsonSchema: spec });

describe('constrained decoding in each server\'s dialect', function () {
  this.timeout(60_000);
  const servers: (FakeTgi | FakeOpenAi)[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  const tgi = async (options: Parameters<typeof startFakeTgi>[0]) => {
    const s = await startFakeTgi(options);
    servers.push(s);
    return s;
  };
  const openai = async (options: Parameters<typeof startFakeOpenAi>[0]) => {
    const s = await startFakeOpenAi(options);
    servers.push(s);
    return s;
  };

  it('picks the response_format each server version accepts', () => {
    const form = (server: ServerInfo) => responseFormatFor(server, spec);
    assert.deepEqual(form({ kind: 'tgi', version: '3.3.4' }), { type: 'json_schema', value: { name: 'c', schema: spec.schema } });
    assert.deepEqual(form({ kind: 'tgi', version: '3.2.3' }), { type: 'json', value: spec.schema });
    assert.deepEqual(form({ kind: 'tgi', version: '2.0.4' }), { type: 'json', value: spec.schema });
    assert.deepEqual(form({ kind: 'tgi', version: '1.4.3' }), { type: 'json', value: spec.schema });
    assert.equal(form({ kind: 'tgi', version: '1.4.2' }), undefined);
    assert.deepEqual(form({ kind: 'tgi' }), { type: 'json', value: spec.schema });
    for (const kind of ['vllm', 'openai'] as const) assert.deepEqual(form({ kind }), { type: 'json_schema', json_schema: { name: 'c', schema: spec.schema, strict: true } });
  });

  it('the fake TGI refuses the shapes its version does not know with 422, as TGI\'s serde does', async () => {
    const openAiForm = new ChatClient({ baseURL: (await tgi({ version: '3.3.4' })).baseURL, model: 'tgi', concurrency: 1, timeoutMs: 5000, maxRetries: 0, server: { kind: 'openai' } });
    await assert.rejects(ask(openAiForm), (e: Error) => e instanceof LlmError && e.status === 422 && /missing field `value`/.test(e.message));
    const old = await tgi({ version: '2.0.4' });
    const newForm = new ChatClient({ baseURL: old.baseURL, model: 'tgi', concurrency: 1, timeoutMs: 5000, maxRetries: 0, server: { kind: 'tgi', version: '3.3.4' } });
    await assert.rejects(ask(newForm), (e: Error) => e instanceof LlmError && e.status === 422 && /unknown variant `json_schema`/.test(e.message));
    assert.equal(old.stats.rejectedResponseFormat, 1);
  });

  it('builds the chat body each server reads: content parts, temperature 0 and the output limit per dialect', () => {
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/jpeg;base64,/9j/' } };
    const withImage: ChatMessage[] = [{ role: 'user', content: [{ type: 'text', text: '[00:00:01]' }, image] }];
    const textParts: ChatMessage[] = [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }];
    const body = (server: ServerInfo, messages: ChatMessage[]) => chatBodyFor(server, { model: 'm', messages, maxTokens: 9, temperature: 0 });
    // TGI 2.0.2 and later: parts as they are (images included), text-only parts as one string, greedy temperature 0, max_tokens.
    assert.deepEqual(body({ kind: 'tgi', version: '2.0.2' }, withImage), { model: 'm', messages: withImage, max_tokens: 9, temperature: 0 });
    assert.deepEqual(body({ kind: 'tgi', version: '3.3.4' }, textParts).messages, [{ role: 'user', content: 'a\nb' }]);
    // TGI before 2.0.2: content a string only, temperature strictly positive; an image cannot be sent at all.
    assert.deepEqual(body({ kind: 'tgi', version: '2.0.1' }, textParts), { model: 'm', messages: [{ role: 'user', content: 'a\nb' }], max_tokens: 9, temperature: NEAR_GREEDY_TEMPERATURE });
    assert.throws(() => body({ kind: 'tgi', version: '1.4.5' }, withImage), (e: Error) => e instanceof SystemicError && !e.retryable && /TGI 1\.4\.5 reads chat content as a string only/.test(e.message));
    assert.equal(body({ kind: 'tgi' }, textParts).temperature, NEAR_GREEDY_TEMPERATURE, 'an unknown TGI version gets what every version takes');
    assert.deepEqual(body({ kind: 'vllm' }, withImage), { model: 'm', messages: withImage, max_tokens: 9, temperature: 0 });
    assert.deepEqual(body({ kind: 'openai' }, withImage), { model: 'm', messages: withImage, max_completion_tokens: 9, temperature: 0 });
  });

  it('the fake TGI refuses, as its version does, content parts (before 2.0.2), temperature 0 (before 2.0.2), unknown part types; and serves no Messages API before 1.4.0', async () => {
    const post = (server: FakeTgi, body: Record<string, unknown>) => fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tgi', max_tokens: 5, ...body }) });
    const parts = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Title: x' }] }] };
    const old = await tgi({ version: '2.0.1' });
    const r1 = await post(old, parts);
    assert.equal(r1.status, 422);
    assert.match(await r1.text(), /messages\[0\]\.content: invalid type: sequence, expected a string/);
    const r2 = await post(old, { messages: [{ role: 'user', content: 'Title: x' }], temperature: 0 });
    assert.equal(r2.status, 422);
    assert.match(await r2.text(), /`temperature` must be strictly positive/);
    assert.equal((await post(old, { messages: [{ role: 'user', content: 'Title: x' }], temperature: NEAR_GREEDY_TEMPERATURE })).status, 200);
    const current = await tgi({ version: '3.3.4' });
    assert.equal((await post(current, { ...parts, temperature: 0 })).status, 200);
    const r3 = await post(current, { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] });
    assert.equal(r3.status, 422);
    assert.match(await r3.text(), /did not match any variant of untagged enum MessageBody/);
    assert.equal(current.stats.rejectedMessages, 1);
    assert.equal((await post(await tgi({ version: '1.3.4' }), parts)).status, 404);
  });

  it('the fake TGI takes a grammar on /generate in parameters.grammar, and reports /info as TGI does', async () => {
    const server = await tgi({ version: '2.0.4' });
    const generate = (grammar: unknown) => fetch(`${server.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: 'Title: easy cooking at home', parameters: { max_new_tokens: 20, grammar } }) });
    const ok = await generate({ type: 'json', value: spec.schema });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(((await ok.json()) as { generated_text: string }).generated_text), { category: 'Cooking Tutorials' });
    // "json_object" is an alias only from 2.1.0.
    const alias = await generate({ type: 'json_object', value: spec.schema });
    assert.equal(alias.status, 422);
    assert.match(await alias.text(), /unknown variant `json_object`, expected one of `json`, `regex`/);
    assert.deepEqual(server.stats.grammars, { 'generate:json': 1 });
    const info = (await (await fetch(`${server.url}/info`)).json()) as Record<string, unknown>;
    for (const field of ['model_id', 'model_sha', 'model_pipeline_tag', 'max_concurrent_requests', 'max_best_of', 'max_stop_sequences', 'max_input_tokens', 'max_total_tokens', 'validation_workers', 'max_client_batch_size', 'router', 'version', 'sha', 'docker_label']) {
      assert.ok(field in info, `/info has ${field}`);
    }
    assert.equal(info.version, '2.0.4');
    assert.equal(info.router, 'text-generation-router');
  });

  for (const version of ['3.3.4', '2.4.1', '1.4.3']) {
    it(`detects TGI ${version} from /info and gets a constrained answer in its form`, async () => {
      const server = await tgi({ version, modelId: 'meta-llama/Meta-Llama-3.1-8B-Instruct' });
      const info = await detectServer(server.baseURL);
      assert.deepEqual(info, { kind: 'tgi', version, modelId: 'meta-llama/Meta-Llama-3.1-8B-Instruct' });
      const client = new ChatClient({ baseURL: server.baseURL, model: 'tgi', concurrency: 1, timeoutMs: 5000, maxRetries: 0, server: info });
      const r = await ask(client);
      assert.equal(r.constrained, true);
      assert.deepEqual(JSON.parse(r.content), { category: 'Cooking Tutorials' });
      assert.deepEqual(server.stats.grammars, { [`chat:${version === '3.3.4' ? 'json_schema' : 'json'}`]: 1 });
      assert.equal(server.stats.rejectedResponseFormat, 0);
    });
  }

  for (const kind of ['vllm', 'openai'] as const) {
    it(`detects ${kind} and gets a constrained answer in OpenAI's json_schema form`, async () => {
      const server = await openai({ kind, apiKey: 'sk-test-abcdefgh1234', modelId: 'm' });
      const info = await detectServer(server.baseURL, { apiKey: 'sk-test-abcdefgh1234' });
      assert.equal(info.kind, kind);
      const client = new ChatClient({ baseURL: server.baseURL, model: 'm', apiKey: 'sk-test-abcdefgh1234', concurrency: 1, timeoutMs: 5000, maxRetries: 0, server: info });
      const r = await ask(client);
      assert.equal(r.constrained, true);
      assert.deepEqual(JSON.parse(r.content), { category: 'Cooking Tutorials' });
      assert.deepEqual(server.stats.responseFormats, { json_schema: 1 });
    });
  }

  it('a refused key is systemic and not retryable, names the endpoint and status, never the key nor the server\'s echo of it', async () => {
    const server = await openai({ kind: 'openai', apiKey: 'sk-right-0000' });
    const client = new ChatClient({ baseURL: server.baseURL, model: 'fake-model', apiKey: 'sk-wrong-secret-9876', apiKeyEnv: 'FINEVIDEO_LLM_API_KEY', concurrency: 1, timeoutMs: 5000, maxRetries: 5 });
    await assert.rejects(ask(client), (e: Error) => {
      assert.ok(e instanceof SystemicError && !e.retryable && e.errorClass === 'llm unauthorized', String(e));
      assert.match(e.message, new RegExp(`^model endpoint ${server.baseURL}/chat/completions: HTTP 401 \\(the key in FINEVIDEO_LLM_API_KEY was refused\\)`));
      assert.ok(!e.message.includes('9876') && !e.message.includes('sk-wrong'), e.message);
      return true;
    });
    assert.equal(server.stats.unauthorized, 1, 'a 401 is not retried');
    await assert.rejects(detectServer(server.baseURL, { apiKey: 'sk-wrong-secret-9876' }), (e: Error) => e instanceof SystemicError && !e.retryable && /\/info: HTTP 401/.test(e.message));
    const noKey = new ChatClient({ baseURL: server.baseURL, model: 'fake-model', apiKeyEnv: 'FINEVIDEO_LLM_API_KEY', concurrency: 1, timeoutMs: 5000, maxRetries: 0 });
    await assert.rejects(ask(noKey), /HTTP 401 \(no key was sent \(FINEVIDEO_LLM_API_KEY is unset or empty\)\)/);
  });

  it('an unknown model is systemic and not retryable (404)', async () => {
    const server = await openai({ kind: 'vllm', modelId: 'served-model' });
    const client = new ChatClient({ baseURL: server.baseURL, model: 'typo-model', concurrency: 1, timeoutMs: 5000, maxRetries: 5 });
    await assert.rejects(ask(client), (e: Error) => e instanceof SystemicError && !e.retryable && /HTTP 404 \(a wrong path or an unknown model "typo-model"/.test(e.message));
    assert.equal(server.stats.requests, 1);
  });
});
