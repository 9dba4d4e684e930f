import assert from 'node:assert/strict';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { SystemicError } from '@finevideo/core';
import { HttpStatusError, ItemFailure, classifyFailure, finalError, withRetries, type Failure, type RetryOptions } from '../src/annotate/retry.js';

const url = 'https://user:secret@generativelanguage.example/v1beta/models/m:generate?key=abc';

function options(overrides: Partial<RetryOptions> = {}): RetryOptions {
  return { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, signal: new AbortController().signal, service: 'https://user:pw@api.example/v1', ...overrides };
}

describe('annotate retry: classifying failures', () => {
  it('HttpStatusError names the status and the URL without credentials or query, detail cut at 300', () => {
    const e = new HttpStatusError(503, url, 'x'.repeat(400), 1500);
    assert.equal(e.name, 'HttpStatusError');
    assert.equal(e.message, `HTTP 503 from https://***@generativelanguage.example/v1beta/models/m:generate: ${'x'.repeat(300)}`);
    assert.doesNotMatch(e.message, /secret|key=abc/);
    assert.equal(e.retryAfterMs, 1500);
  });

  it('sorts HTTP statuses into kinds and classes', () => {
    const table: Array<[number, string, Partial<Failure>]> = [
      [401, 'UNAUTHENTICATED', { kind: 'unauthorized', errorClass: 'unauthorized' }],
      [403, 'PERMISSION_DENIED', { kind: 'unauthorized', errorClass: 'unauthorized' }],
      [403, 'You do not have permission to access the File abc or it does not exist.', { kind: 'item', errorClass: 'file-missing' }],
      [403, 'PERMISSION_DENIED: the caller may not exist', { kind: 'unauthorized', errorClass: 'unauthorized' }],
      [400, 'INVALID_ARGUMENT: API_KEY_INVALID', { kind: 'unauthorized', errorClass: 'unauthorized' }],
      [400, 'INVALID_ARGUMENT: bad schema', { kind: 'item', errorClass: 'bad-request' }],
      [404, 'model not found', { kind: 'not-found', errorClass: 'not-found' }],
      [408, 'timeout', { kind: 'transient', errorClass: 'timeout' }],
      [429, 'RESOURCE_EXHAUSTED', { kind: 'transient', errorClass: 'rate-limited' }],
      [500, 'INTERNAL', { kind: 'transient', errorClass: 'server-error' }],
      [502, 'bad gateway', { kind: 'transient', errorClass: 'unavailable' }],
      [499, 'client closed', { kind: 'item', errorClass: 'bad-request' }],
      [413, 'too large', { kind: 'item', errorClass: 'bad-request' }],
    ];
    for (const [status, detail, expected] of table) {
      const failure = classifyFailure(new HttpStatusError(status, 'http://h/x', detail));
      assert.equal(failure.kind, expected.kind, `${status} ${detail}`);
      assert.equal(failure.errorClass, expected.errorClass, `${status} ${detail}`);
      assert.equal(failure.status, status);
      assert.ok(failure.message.includes(detail), failure.message);
    }
  });

  it('keeps Retry-After only for 429 and 5xx', () => {
    assert.equal(classifyFailure(new HttpStatusError(429, 'http://h', 'x', 7000)).retryAfterMs, 7000);
    assert.equal(classifyFailure(new HttpStatusError(503, 'http://h', 'x', 2000)).retryAfterMs, 2000);
    assert.equal('retryAfterMs' in classifyFailure(new HttpStatusError(429, 'http://h', 'x')), false);
    assert.equal('retryAfterMs' in classifyFailure(new HttpStatusError(408, 'http://h', 'x', 2000)), false);
  });

  it('reads the OpenAI SDK errors: timeouts, connections, statuses with Retry-After', () => {
    assert.deepEqual(classifyFailure(new APIConnectionTimeoutError({ message: 'Request timed out.' })), { kind: 'transient', errorClass: 'timeout', message: 'Request timed out.' });
    assert.deepEqual(classifyFailure(new APIConnectionError({ message: 'Connection error.' })), { kind: 'transient', errorClass: 'connection', message: 'Connection error.' });
    const limited = classifyFailure(APIError.generate(429, { error: { message: 'slow down' } }, 'slow down', new Headers({ 'retry-after': '3' })));
    assert.equal(limited.kind, 'transient');
    assert.equal(limited.errorClass, 'rate-limited');
    assert.equal(limited.retryAfterMs, 3000);
    assert.equal(classifyFailure(APIError.generate(401, { error: { message: 'bad key' } }, 'bad key', new Headers())).kind, 'unauthorized');
  });

  it('reads @google/genai ApiError by name and status, and only with a numeric status', () => {
    const apiError = Object.assign(new Error('got status: 404 Not Found'), { name: 'ApiError', status: 404 });
    assert.equal(classifyFailure(apiError).kind, 'not-found');
    const noStatus = Object.assign(new Error('odd'), { name: 'ApiError', status: '404' });
    assert.deepEqual(classifyFailure(noStatus), { kind: 'item', errorClass: 'unexpected', message: 'odd' });
    const otherName = Object.assign(new Error('odd'), { status: 404 });
    assert.equal(classifyFailure(otherName).errorClass, 'unexpected');
  });

  it('aborts and timeouts are transient timeouts; socket codes on the error or its cause are connections', () => {
    assert.equal(classifyFailure(new DOMException('t', 'TimeoutError')).errorClass, 'timeout');
    assert.equal(classifyFailure(new DOMException('a', 'AbortError')).errorClass, 'timeout');
    assert.equal(classifyFailure(new DOMException('a', 'AbortError')).kind, 'transient');
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EAI_AGAIN']) {
      const direct = classifyFailure(Object.assign(new Error('socket'), { code }));
      assert.deepEqual(direct, { kind: 'transient', errorClass: 'connection', message: `socket (${code})` }, code);
      const viaCause = classifyFailure(new Error('fetch broke', { cause: Object.assign(new Error('x'), { code }) }));
      assert.equal(viaCause.errorClass, 'connection', code);
    }
    assert.equal(classifyFailure(Object.assign(new Error('disk'), { code: 'ENOSPC' })).errorClass, 'unexpected');
  });

  it('fetch TypeErrors are connections, SyntaxErrors bad responses, anything else an unexpected item failure', () => {
    for (const text of ['fetch failed', 'terminated', 'other side closed']) {
      assert.deepEqual(classifyFailure(new TypeError(text)), { kind: 'transient', errorClass: 'connection', message: text });
    }
    assert.equal(classifyFailure(new TypeError('x is not a function')).kind, 'item');
    assert.equal(classifyFailure(new Error('fetch failed')).kind, 'item');
    assert.deepEqual(classifyFailure(new SyntaxError('Unexpected token')), { kind: 'transient', errorClass: 'bad-response', message: 'Unexpected token' });
    assert.deepEqual(classifyFailure('a string'), { kind: 'item', errorClass: 'unexpected', message: 'a string' });
    assert.deepEqual(classifyFailure(null), { kind: 'item', errorClass: 'unexpected', message: 'null' });
  });

  it('keeps the first line of a message, at most 400 characters', () => {
    assert.equal(classifyFailure(new Error('first line\nsecond line')).message, 'first line');
    assert.equal(classifyFailure(new Error('y'.repeat(500))).message, 'y'.repeat(400));
  });
});

describe('annotate retry: final errors', () => {
  it('unauthorized is a not-retryable SystemicError naming the endpoint (credentials masked) and the key variable', () => {
    const e = finalError({ kind: 'unauthorized', errorClass: 'unauthorized', status: 403, message: 'no' }, 1, options({ apiKey: 'sk-1', apiKeyEnv: 'GEMINI_API_KEY' }));
    assert.ok(e instanceof SystemicError);
    assert.equal(e.errorClass, 'annotate unauthorized');
    assert.equal(e.retryable, false);
    assert.equal(e.message, 'https://***@api.example/v1: HTTP 403 (the key in GEMINI_API_KEY was refused); fix the key and resume the run');
    const noStatus = finalError({ kind: 'unauthorized', errorClass: 'unauthorized', message: 'no' }, 1, options());
    assert.match(noStatus.message, /HTTP 401 \(no key was sent/);
  });

  it('not found is a not-retryable SystemicError naming the model', () => {
    const e = finalError({ kind: 'not-found', errorClass: 'not-found', status: 404, message: 'm'.repeat(300) }, 1, options({ model: 'gemini-x' }));
    assert.ok(e instanceof SystemicError);
    assert.equal(e.errorClass, 'annotate not found');
    assert.equal(e.retryable, false);
    assert.equal(e.message, `https://***@api.example/v1: HTTP 404 (an unknown model "gemini-x" or a wrong base URL): ${'m'.repeat(200)}`);
    assert.match(finalError({ kind: 'not-found', errorClass: 'not-found', message: '' }, 1, options()).message, /unknown model "" /);
  });

  it('anything else is an ItemFailure whose reason starts with the class and counts attempts beyond one', () => {
    const once = finalError({ kind: 'item', errorClass: 'bad-request', message: 'refused' }, 1, options());
    assert.ok(once instanceof ItemFailure);
    assert.equal(once.name, 'ItemFailure');
    assert.equal(once.reason, 'bad-request: https://***@api.example/v1: refused');
    assert.equal(once.attempts, 1);
    const thrice = finalError({ kind: 'transient', errorClass: 'rate-limited', message: 'z'.repeat(400) }, 3, options()) as ItemFailure;
    assert.equal(thrice.reason, `rate-limited: https://***@api.example/v1 after 3 attempts: ${'z'.repeat(300)}`);
    assert.equal(thrice.message, thrice.reason);
    assert.equal(thrice.attempts, 3);
    assert.equal(new ItemFailure('x: y').attempts, 1);
  });
});

describe('annotate retry: withRetries', () => {
  it('retries transient failures up to maxAttempts with growing, capped waits, then gives up with an ItemFailure', async () => {
    const waits: number[] = [];
    const calls: number[] = [];
    const run = withRetries(async (attempt) => { calls.push(attempt); throw new HttpStatusError(503, 'http://h', 'down'); },
      options({ maxAttempts: 4, baseDelayMs: 4, maxDelayMs: 10, onRetry: (f, attempt, wait) => { assert.equal(f.errorClass, 'unavailable'); assert.equal(attempt, waits.length + 1); waits.push(wait); } }));
    await assert.rejects(run, (e: unknown) => e instanceof ItemFailure && e.attempts === 4 && /after 4 attempts/.test(e.reason));
    assert.deepEqual(calls, [1, 2, 3, 4]);
    assert.equal(waits.length, 3);
    // Exponential from 4 ms (4, 8, then capped at 10), each with jitter in [75%, 100%].
    [4, 8, 10].forEach((base, i) => assert.ok(waits[i]! >= base * 0.75 && waits[i]! <= base, `wait ${i}: ${waits[i]} for base ${base}`));
  });

  it('waits the server Retry-After, capped at maxDelayMs, and resolves with the attempts it took', async () => {
    const waits: number[] = [];
    let n = 0;
    const result = await withRetries(async () => {
      n++;
      if (n === 1) throw new HttpStatusError(429, 'http://h', 'slow', 3);
      if (n === 2) throw new HttpStatusError(429, 'http://h', 'slow', 60_000);
      return 'done';
    }, options({ maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 20, onRetry: (_f, _a, wait) => waits.push(wait) }));
    assert.deepEqual(result, { value: 'done', attempts: 3 });
    assert.deepEqual(waits, [3, 20]);
  });

  it('does not retry item failures, systemic errors or anything after an abort', async () => {
    let calls = 0;
    await assert.rejects(withRetries(async () => { calls++; throw new HttpStatusError(400, 'http://h', 'bad'); }, options()), (e: unknown) => e instanceof ItemFailure && e.attempts === 1 && e.reason.startsWith('bad-request: '));
    assert.equal(calls, 1);
    const systemic = new SystemicError('x', 'y');
    await assert.rejects(withRetries(async () => { calls++; throw systemic; }, options()), (e: unknown) => e === systemic);
    const item = new ItemFailure('z: w');
    await assert.rejects(withRetries(async () => { calls++; throw item; }, options()), (e: unknown) => e === item);
    assert.equal(calls, 3);
    await assert.rejects(withRetries(async () => { calls++; throw new HttpStatusError(401, 'http://h', 'no'); }, options()), (e: unknown) => e instanceof SystemicError && e.retryable === false);
    assert.equal(calls, 4);
    const controller = new AbortController();
    const original = new HttpStatusError(503, 'http://h', 'down');
    await assert.rejects(withRetries(async () => { calls++; controller.abort(); throw original; }, options({ signal: controller.signal })), (e: unknown) => e === original);
    assert.equal(calls, 5);
  });

  it('an abort during the wait ends the retries', async () => {
    const controller = new AbortController();
    let calls = 0;
    const run = withRetries(async () => { calls++; throw new HttpStatusError(503, 'http://h', 'down'); },
      options({ maxAttempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000, signal: controller.signal, onRetry: () => setImmediate(() => controller.abort()) }));
    await assert.rejects(run, (e: unknown) => (e as Error).name === 'AbortError');
    assert.equal(calls, 1);
  });
});
