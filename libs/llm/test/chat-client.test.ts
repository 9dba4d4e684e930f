import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemicError } from '@finevideo/core';
import { ChatClient, LlmError, Semaphore, retryAfterMs, waitForHealth } from '@finevideo/llm';
import { startFakeTgi, type FakeTgi } from '@finevideo/testing';

const schema = { name: 'c', schema: { type: 'object', properties: { category: { type: 'string', enum: ['Cooking Tutorials', 'Tech Reviews', 'Music Videos'] } }, required: ['category'] } };

describe('ChatClient against a fake TGI server', function () {
  this.timeout(60_000);
  let tgi: FakeTgi | undefined;
  afterEach(async () => {
    await tgi?.close();
    tgi = undefined;
  });

  it('gets constrained answers (one of the enum) with token usage', async () => {
    tgi = await startFakeTgi({ capacity: 4, latencyMs: 5 });
    const client = new ChatClient({ baseURL: tgi.baseURL, model: 'tgi', concurrency: 4, timeoutMs: 5000, maxRetries: 0, server: { kind: 'tgi', version: '3.3.4' } });
    const r = await client.chat({ messages: [{ role: 'user', content: 'Title: easy cooking at home' }], jsonSchema: schema });
    assert.deepEqual(JSON.parse(r.content), { category: 'Cooking Tutorials' });
    assert.ok(r.promptTokens > 0 && r.completionTokens > 0);
    assert.equal(r.attempts, 1);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    // Each request holds its slot long enough that 7 are in flight at once even on a loaded machine.
    tgi = await startFakeTgi({ capacity: 100, latencyMs: 250 });
    const client = new ChatClient({ baseURL: tgi.baseURL, model: 'tgi', concurrency: 7, timeoutMs: 5000, maxRetries: 0 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => client.chat({ messages: [{ role: 'user', content: `Title: ${i}` }] })));
    assert.equal(tgi.stats.maxConcurrent, 7);
    assert.equal(tgi.stats.served, 40);
  });

  it('retries 429 and 503 honouring Retry-After, timeouts and malformed bodies, until every request succeeds', async () => {
    tgi = await startFakeTgi({ capacity: 16, latencyMs: 2, faultRate: 0.3, seed: 3, retryAfterSeconds: 0.02 });
    const client = new ChatClient({ baseURL: tgi.baseURL, model: 'tgi', concurrency: 16, timeoutMs: 300, maxRetries: 12, baseDelayMs: 5, server: { kind: 'tgi', version: '3.3.4' } });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => client.chat({ messages: [{ role: 'user', content: `Title: video ${i}` }], jsonSchema: schema })));
    assert.equal(results.length, 60);
    const f = tgi.stats.faults;
    assert.ok(f['429'] > 0 && f['503'] > 0 && f.timeout > 0 && f.malformed > 0, `every fault kind was injected: ${JSON.stringify(f)}`);
    const attempts = results.reduce((n, r) => n + r.attempts, 0);
    assert.equal(attempts, tgi.stats.requests, 'every attempt reached the server and is counted');
    assert.ok(attempts >= 60 + f['429'] + f['503'] + f.timeout + f.malformed, 'at least one extra attempt per injected fault');
  });

  it('waits the Retry-After the server asks for', async () => {
    let calls = 0;
    const times: number[] = [];
    const server = createServer((req, res) => {
      times.push(Date.now());
      calls++;
      req.resume();
      if (calls === 1) return res.writeHead(429, { 'retry-after': '0.4', 'content-type': 'application/json' }).end('{"error":"overloaded"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new ChatClient({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, model: 'm', concurrency: 1, timeoutMs: 5000, maxRetries: 2, baseDelayMs: 1 });
      const r = await client.chat({ messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.attempts, 2);
      assert.ok(times[1]! - times[0]! >= 380, `waited ${times[1]! - times[0]!} ms, expected about 400`);
    } finally {
      server.close();
    }
  });

  it('a server that keeps failing past the retries is systemic (retryable); a wrong path is systemic at once (not retryable); a 422 is this item\'s', async () => {
    tgi = await startFakeTgi({ faultRate: 1, faultKinds: ['503'], retryAfterSeconds: 0.001 });
    const client = new ChatClient({ baseURL: tgi.baseURL, model: 'tgi', concurrency: 1, timeoutMs: 1000, maxRetries: 3, baseDelayMs: 1 });
    await assert.rejects(client.chat({ messages: [{ role: 'user', content: 'x' }] }), (e: Error) => e instanceof SystemicError && e.retryable && e.errorClass === 'llm unavailable' && /after 4 attempt\(s\) \(HTTP 503/.test(e.message));
    const bad = new ChatClient({ baseURL: `${tgi.url}/nowhere/v1`, model: 'tgi', concurrency: 1, timeoutMs: 1000, maxRetries: 3 });
    await assert.rejects(bad.chat({ messages: [{ role: 'user', content: 'x' }] }), (e: Error) => e instanceof SystemicError && !e.retryable && e.message.includes(`${tgi!.url}/nowhere/v1/chat/completions: HTTP 404`));
    await tgi.close();
    tgi = await startFakeTgi({ maxTotalTokens: 100 });
    const small = new ChatClient({ baseURL: tgi.baseURL, model: 'tgi', concurrency: 1, timeoutMs: 1000, maxRetries: 3 });
    await assert.rejects(small.chat({ messages: [{ role: 'user', content: 'long '.repeat(200) }] }), (e: Error) => e instanceof LlmError && e.errorClass === 'bad-request' && e.status === 422 && e.attempts === 1);
  });

  it('caps a Retry-After far in the future at maxRetryAfterMs instead of waiting an hour', async () => {
    let calls = 0;
    const server = createServer((req, res) => {
      calls++;
      req.resume();
      if (calls === 1) return res.writeHead(503, { 'retry-after': '3600', 'content-type': 'application/json' }).end('{"error":"loading"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      // Uncapped, this would sleep for an hour and the test's timeout would fail it.
      const client = new ChatClient({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, model: 'm', concurrency: 1, timeoutMs: 5000, maxRetries: 2, maxRetryAfterMs: 20 });
      const r = await client.chat({ messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.attempts, 2);
    } finally {
      server.close();
    }
  });

  it('waits for /health with a line per probe, and fails retryable when it never comes', async () => {
    tgi = await startFakeTgi({ readyAfterMs: 300 });
    const waits: string[] = [];
    await waitForHealth(tgi.baseURL, { timeoutMs: 5000, intervalMs: 50, onWait: (s) => waits.push(s) });
    assert.ok(waits.length >= 2, `waited through: ${waits}`);
    for (const w of waits) assert.match(w, new RegExp(`^waiting for the model server at ${tgi.url} \\(HTTP 503, \\d+ s of 5 s\\)$`));
    await tgi.close();
    tgi = await startFakeTgi({ readyAfterMs: 60_000 });
    await assert.rejects(waitForHealth(tgi.baseURL, { timeoutMs: 300, intervalMs: 50 }), (e: Error) => e instanceof SystemicError && e.retryable && /not ready after 0 s \(HTTP 503 from \/health\)/.test(e.message));
  });

  it('a 401 on /health ends the wait at once (not retryable), naming the endpoint and the status, never the key', async () => {
    tgi = await startFakeTgi({ apiKey: 'right-key-123', keyOnEveryRoute: true, readyAfterMs: 0 });
    const waits: string[] = [];
    // A 15-minute wait that must end at the first probe: no "waiting" line, a SystemicError at once.
    await assert.rejects(waitForHealth(tgi.baseURL, { timeoutMs: 900_000, intervalMs: 50, apiKey: 'wrong-key-456', apiKeyEnv: 'LLM_KEY', onWait: (s) => waits.push(s) }), (e: Error) => {
      assert.ok(e instanceof SystemicError && !e.retryable, String(e));
      assert.match(e.message, new RegExp(`model endpoint ${tgi!.url}/health: HTTP 401 \\(the key in LLM_KEY was refused\\)`));
      assert.ok(!e.message.includes('wrong-key-456') && !e.message.includes('right-key-123'));
      return true;
    });
    assert.deepEqual(waits, []);
    assert.equal(tgi.stats.unauthorized, 1, 'one probe');
    // The probe carries the key as requests will: with the right key the wait ends at once, ready.
    await waitForHealth(tgi.baseURL, { timeoutMs: 5000, intervalMs: 50, apiKey: 'right-key-123' });
  });

  it('honours a health Retry-After only up to its cap', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      if (calls === 1) return res.writeHead(503, { 'retry-after': '3600' }).end();
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const waits: string[] = [];
      await waitForHealth(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, { timeoutMs: 7_200_000, intervalMs: 10, maxRetryAfterMs: 30, onWait: (s) => waits.push(s) });
      assert.equal(waits.length, 1);
      assert.equal(calls, 2);
    } finally {
      server.close();
    }
  });

  it('does not wait on a server without a health endpoint (404, as OpenAI answers)', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const waits: string[] = [];
      await waitForHealth(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, { timeoutMs: 2000, intervalMs: 50, onWait: (s) => waits.push(s) });
      assert.deepEqual(waits, []);
    } finally {
      server.close();
    }
  });

  it('never lets a newcomer take a released slot ahead of a waiter', async () => {
    const gate = new Semaphore(1);
    let inside = 0;
    let most = 0;
    const started: Promise<void>[] = [];
    const afterTicks = (ticks: number, fn: () => void): void => queueMicrotask(() => (ticks > 1 ? afterTicks(ticks - 1, fn) : fn()));
    const hold = (onLeave?: () => void) =>
      gate.run(async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 2));
        inside--;
        onLeave?.();
      });
    // Newcomers arrive a few microtasks after the first holder leaves: one of them lands between the
    // release and the woken waiter's turn, where a naive semaphore let both in.
    const first = hold(() => {
      for (let ticks = 1; ticks <= 8; ticks++) afterTicks(ticks, () => started.push(hold()));
    });
    const waiter = hold();
    await Promise.all([first, waiter]);
    await new Promise((r) => setTimeout(r, 0));
    await Promise.all(started);
    assert.equal(started.length, 8);
    assert.equal(most, 1, 'at most one holder at a time');
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    assert.equal(retryAfterMs({ 'retry-after': '2' }), 2000);
    assert.equal(retryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4_000), 6000);
    assert.equal(retryAfterMs({ 'retry-after': 'soon' }), undefined);
    assert.equal(retryAfterMs({}), undefined);
  });
});
