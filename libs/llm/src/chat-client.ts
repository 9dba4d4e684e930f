import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { setTimeout as sleep } from 'node:timers/promises';
import { Semaphore } from './semaphore.js';

export interface ChatClientOptions {
  /** OpenAI-compatible base URL: TGI "http://tgi:80/v1", vLLM "http://vllm:8000/v1", OpenAI "https://api.openai.com/v1". */
  baseURL: string;
  model: string;
  /** From the environment or a Secret; TGI ignores it. Never logged. */
  apiKey?: string;
  /** Requests in flight at once (TGI batches them on the GPU). */
  concurrency: number;
  timeoutMs: number;
  /** Retries after the first attempt, for 429, 5xx, timeouts and dropped connections. */
  maxRetries: number;
  /** First backoff delay; doubles per retry (with jitter) unless the server sends Retry-After. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface ChatRequest {
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  maxTokens?: number;
  temperature?: number;
  /** JSON schema the answer must follow (constrained decoding: TGI grammars, vLLM guided decoding, OpenAI structured outputs). */
  jsonSchema?: { name: string; schema: Record<string, unknown> };
  signal?: AbortSignal;
}

export interface ChatResult {
  content: string;
  promptTokens: number;
  completionTokens: number;
  attempts: number;
}

/** A request that failed for good: the class says whether it was the server's state or the request. */
export class LlmError extends Error {
  override name = 'LlmError';
  constructor(message: string, readonly errorClass: 'rate-limited' | 'unavailable' | 'timeout' | 'connection' | 'bad-request' | 'bad-response' | 'other', readonly attempts: number) {
    super(message);
  }
}

/** Retry-After as seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | Record<string, string | null | undefined> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const value = headers instanceof Headers ? headers.get('retry-after') : (headers['retry-after'] ?? undefined);
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function classify(error: unknown): { retryable: boolean; errorClass: LlmError['errorClass']; waitMs?: number } {
  if (error instanceof APIConnectionTimeoutError) return { retryable: true, errorClass: 'timeout' };
  if (error instanceof APIConnectionError) return { retryable: true, errorClass: 'connection' };
  if (error instanceof APIError) {
    const wait = retryAfterMs(error.headers as Headers | undefined);
    const withWait = wait === undefined ? {} : { waitMs: wait };
    if (error.status === 429) return { retryable: true, errorClass: 'rate-limited', ...withWait };
    if (error.status === 503 || error.status === 502 || error.status === 504) return { retryable: true, errorClass: 'unavailable', ...withWait };
    if (error.status !== undefined && error.status >= 500) return { retryable: true, errorClass: 'other', ...withWait };
    if (error.status !== undefined && error.status >= 400) return { retryable: false, errorClass: 'bad-request' };
  }
  if (error instanceof SyntaxError) return { retryable: true, errorClass: 'bad-response' };
  return { retryable: false, errorClass: 'other' };
}

/**
 * An OpenAI-compatible chat client for TGI's Messages API, vLLM and OpenAI: bounded
 * concurrency, explicit retries that honour Retry-After on 429 and 503, per-request timeouts.
 */
export class ChatClient {
  private readonly client: OpenAI;
  private readonly semaphore: Semaphore;
  constructor(readonly options: ChatClientOptions) {
    // The SDK's own retries are off: ours are explicit, counted and honour Retry-After.
    this.client = new OpenAI({ baseURL: options.baseURL, apiKey: options.apiKey || 'unused', maxRetries: 0, timeout: options.timeoutMs });
    this.semaphore = new Semaphore(options.concurrency);
  }

  get inFlight(): number {
    return this.semaphore.inFlight;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const base = this.options.baseDelayMs ?? 500;
    const cap = this.options.maxDelayMs ?? 30_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const completion = await this.semaphore.run(() =>
          this.client.chat.completions.create({
            model: this.options.model,
            messages: request.messages,
            max_tokens: request.maxTokens ?? 32,
            temperature: request.temperature ?? 0,
            ...(request.jsonSchema ? { response_format: { type: 'json_schema', json_schema: { name: request.jsonSchema.name, schema: request.jsonSchema.schema, strict: true } } } : {}),
          }, request.signal ? { signal: request.signal } : {}),
        );
        const choice = completion.choices?.[0];
        if (!choice || typeof choice.message?.content !== 'string') throw new SyntaxError('expected choices[0].message.content, got none');
        return { content: choice.message.content, promptTokens: completion.usage?.prompt_tokens ?? 0, completionTokens: completion.usage?.completion_tokens ?? 0, attempts: attempt };
      } catch (error) {
        if (request.signal?.aborted) throw error;
        const verdict = classify(error);
        const message = (error as Error).message.split('\n')[0]!.slice(0, 300);
        if (!verdict.retryable || attempt > this.options.maxRetries) {
          throw new LlmError(`chat completion at ${this.options.baseURL} failed after ${attempt} attempt(s): ${verdict.errorClass}: ${message}`, verdict.errorClass, attempt);
        }
        const backoff = Math.min(cap, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        await sleep(verdict.waitMs ?? backoff, undefined, request.signal ? { signal: request.signal } : {});
      }
    }
  }
}

/** The server root of an OpenAI-compatible base URL (".../v1" -> "..."), where TGI serves /health and /info. */
export function serverRoot(baseURL: string): string {
  return baseURL.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/**
 * Waits until a TGI server answers /health with 200 (the model is loaded), or the deadline passes.
 * A 404 means the server has no health endpoint at all (OpenAI, some proxies): nothing to wait for.
 */
export async function waitForHealth(baseURL: string, options: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal; onWait?: (status: string) => void }): Promise<void> {
  const url = `${serverRoot(baseURL)}/health`;
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(Math.min(5000, options.timeoutMs)) });
      if (r.ok || r.status === 404) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    options.onWait?.(last);
    await sleep(options.intervalMs ?? 2000, undefined, options.signal ? { signal: options.signal } : {});
  }
  throw new LlmError(`model server ${url}: expected 200 within ${Math.round(options.timeoutMs / 1000)} s, got ${last}`, 'unavailable', 0);
}
