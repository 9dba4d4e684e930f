import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemicError, redactUrlCredentials } from '@finevideo/core';
import { Semaphore } from './semaphore.js';
import { chatBodyFor, retryAfterMs, unauthorized, type ChatMessage, type JsonSchemaSpec, type ServerInfo } from './server.js';


export interface ChatClientOptions {
  /** OpenAI-compatible base URL: TGI "http://tgi:80/v1", vLLM "http://vllm:8000/v1", OpenAI "https://api.openai.com/v1". */
  baseURL: string;
  model: string;
  /** From the environment or a Secret. Never logged, never in a message. */
  apiKey?: string;
  /** The variable the key came from, named in messages ("the key in FINEVIDEO_LLM_API_KEY was refused"). */
  apiKeyEnv?: string;
  /** Requests in flight at once (TGI batches them on the GPU). */
  concurrency: number;
  timeoutMs: number;
  /** Retries after the first attempt, for 429, 5xx, timeouts and dropped connections. */
  maxRetries: number;
  /** First backoff delay; doubles per retry (with jitter) unless the server sends Retry-After. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After is honoured up to this (default 120 s): a server asking for an hour is not obeyed. */
  maxRetryAfterMs?: number;
  /** The server's dialect of constrained decoding (default: OpenAI's form). See responseFormatFor. */
  server?: ServerInfo;
}

export interface ChatRequest {
  /** Content is a string or parts (text, image_url); sent in the form the server reads (chatBodyFor). */
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  /** JSON schema the answer must follow (TGI grammars, vLLM guided decoding, OpenAI structured outputs), sent in the server's form. */
  jsonSchema?: JsonSchemaSpec;
  signal?: AbortSignal;
}

export interface ChatResult {
  content: string;
  promptTokens: number;
  completionTokens: number;
  attempts: number;
  /** True when a response_format constrained the answer (false: the server's version has no grammar support). */
  constrained: boolean;
  /** choices[0].finish_reason ("length": cut at the output limit). */
  finishReason?: string;
  /** usage.prompt_tokens_details by modality (IMAGE, AUDIO, TEXT), where the server reports it. */
  promptTokensByModality: Record<string, number>;
}

export type LlmErrorClass = 'rate-limited' | 'unavailable' | 'server-error' | 'timeout' | 'connection' | 'unauthorized' | 'not-found' | 'bad-request' | 'bad-response' | 'other';

/**
 * A request that failed for this item (a 400/422, an unreadable answer): an error row. Failures of
 * the endpoint (a refused key, a wrong path or model, a server down past the retries) are thrown
 * as SystemicError instead: they would hit every item.
 */
export class LlmError extends Error {
  override name = 'LlmError';
  constructor(message: string, readonly errorClass: LlmErrorClass, readonly attempts: number, readonly status?: number) {
    super(message);
  }
}

interface Verdict {
  retryable: boolean;
  errorClass: LlmErrorClass;
  status?: number;
  waitMs?: number;
}

function classify(error: unknown): Verdict {
  if (error instanceof APIConnectionTimeoutError) return { retryable: true, errorClass: 'timeout' };
  if (error instanceof APIConnectionError) return { retryable: true, errorClass: 'connection' };
  if (error instanceof APIError && error.status !== undefined) {
    const status = error.status;
    const wait = retryAfterMs(error.headers as Headers | undefined);
    const withWait = wait === undefined ? { status } : { status, waitMs: wait };
    if (status === 401 || status === 403) return { retryable: false, errorClass: 'unauthorized', status };
    if (status === 404) return { retryable: false, errorClass: 'not-found', status };
    if (status === 429) return { retryable: true, errorClass: 'rate-limited', ...withWait };
    if (status === 503 || status === 502 || status === 504) return { retryable: true, errorClass: 'unavailable', ...withWait };
    if (status >= 500) return { retryable: true, errorClass: 'server-error', ...withWait };
    if (status >= 400) return { retryable: false, errorClass: 'bad-request', status };
  }
  if (error instanceof SyntaxError) return { retryable: true, errorClass: 'bad-response' };
  return { retryable: false, errorClass: 'other' };
}

/**
 * An OpenAI-compatible chat client for TGI's Messages API, vLLM and OpenAI: bounded
 * concurrency, explicit retries that honour Retry-After (up to a cap) on 429 and 503,
 * per-request timeouts, and constrained decoding in the form the server understands.
 */
export class ChatClient {
  private readonly client: OpenAI;
  private readonly semaphore: Semaphore;
  private server: ServerInfo;
  private readonly url: string;
  constructor(readonly options: ChatClientOptions) {
    // The SDK's own retries are off: ours are explicit, counted and honour Retry-After.
    this.client = new OpenAI({ baseURL: options.baseURL, apiKey: options.apiKey || 'unused', maxRetries: 0, timeout: options.timeoutMs });
    this.semaphore = new Semaphore(options.concurrency);
    this.server = options.server ?? { kind: 'openai' };
    this.url = redactUrlCredentials(options.baseURL.replace(/\/+$/, ''));
  }

  get inFlight(): number {
    return this.semaphore.inFlight;
  }

  /** Sets the server's dialect once it is known (from /info or the serverKind param). */
  useServer(server: ServerInfo): void {
    this.server = server;
  }

  /** The server's dialect in use. */
  get serverInfo(): ServerInfo {
    return this.server;
  }

  /**
   * One attempt, no retries: the SDK's errors (APIError with status and headers, connection errors) are
   * thrown as they are, for a caller with its own retry policy (annotate: budgets taken per attempt).
   */
  async chatOnce(request: ChatRequest, attempt = 1): Promise<ChatResult> {
    const body = chatBodyFor(this.server, { model: this.options.model, messages: request.messages, maxTokens: request.maxTokens ?? 32, temperature: request.temperature ?? 0, ...(request.jsonSchema ? { jsonSchema: request.jsonSchema } : {}) });
    // The TGI forms are not in the SDK's types; the SDK sends the body as it is.
    const completion = await this.semaphore.run(() => this.client.chat.completions.create(body as unknown as ChatCompletionCreateParamsNonStreaming, request.signal ? { signal: request.signal } : {}));
    const choice = completion.choices?.[0];
    if (!choice || typeof choice.message?.content !== 'string') throw new SyntaxError('expected choices[0].message.content, got none');
    const details = (completion.usage?.prompt_tokens_details ?? {}) as Record<string, unknown>;
    const promptTokensByModality: Record<string, number> = {};
    for (const [key, modality] of [['image_tokens', 'IMAGE'], ['audio_tokens', 'AUDIO'], ['text_tokens', 'TEXT']] as const) {
      if (typeof details[key] === 'number' && details[key] > 0) promptTokensByModality[modality] = details[key];
    }
    return {
      content: choice.message.content, promptTokens: completion.usage?.prompt_tokens ?? 0, completionTokens: completion.usage?.completion_tokens ?? 0,
      attempts: attempt, constrained: 'response_format' in body, ...(choice.finish_reason ? { finishReason: choice.finish_reason } : {}), promptTokensByModality,
    };
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const base = this.options.baseDelayMs ?? 500;
    const cap = this.options.maxDelayMs ?? 30_000;
    const retryAfterCap = this.options.maxRetryAfterMs ?? 120_000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.chatOnce(request, attempt);
      } catch (error) {
        if (request.signal?.aborted || error instanceof SystemicError) throw error;
        const verdict = classify(error);
        if (!verdict.retryable || attempt > this.options.maxRetries) throw this.failure(verdict, attempt, error);
        const backoff = Math.min(cap, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        await sleep(verdict.waitMs === undefined ? backoff : Math.min(verdict.waitMs, retryAfterCap), undefined, request.signal ? { signal: request.signal } : {});
      }
    }
  }

  /** The error a failed request ends with: systemic for the endpoint's state, LlmError for this item. */
  private failure(verdict: Verdict, attempts: number, error: unknown): Error {
    const status = verdict.status === undefined ? '' : `HTTP ${verdict.status}, `;
    if (verdict.errorClass === 'unauthorized') return unauthorized(`${this.url}/chat/completions`, verdict.status ?? 401, this.options.apiKey, this.options.apiKeyEnv);
    // The server's text is left out of auth failures (OpenAI echoes part of the key); elsewhere it helps.
    const detail = redactUrlCredentials((error as Error).message.split('\n')[0]!.slice(0, 300));
    if (verdict.errorClass === 'not-found') {
      return new SystemicError(`model endpoint ${this.url}/chat/completions: HTTP 404 (a wrong path or an unknown model "${this.options.model}": ${detail})`, 'llm not found', false);
    }
    // Not an HTTP or network failure (a bug, an SDK surprise): thrown as it is, so the chunk fails, never a row.
    if (verdict.errorClass === 'other' && verdict.status === undefined) return error instanceof Error ? error : new Error(String(error));
    if (verdict.errorClass === 'bad-request' || verdict.errorClass === 'bad-response') {
      return new LlmError(`chat completion at ${this.url} failed after ${attempts} attempt(s): ${verdict.errorClass}: ${detail}`, verdict.errorClass, attempts, verdict.status);
    }
    return new SystemicError(`model endpoint ${this.url}: ${verdict.errorClass} after ${attempts} attempt(s) (${status}${detail})`, `llm ${verdict.errorClass}`, true, { cause: error });
  }
}
