import { setTimeout as sleep } from 'node:timers/promises';
import { SystemicError, redactUrlCredentials } from '@finevideo/core';
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { keyNote, retryAfterMs } from '@finevideo/llm';

/** A non-2xx answer of the Gemini API, with its Retry-After (our fetch wrapper throws it; the SDK drops headers). */
export class HttpStatusError extends Error {
  override name = 'HttpStatusError';
  constructor(readonly status: number, readonly url: string, readonly detail: string, readonly retryAfterMs?: number) {
    super(`HTTP ${status} from ${redactUrlCredentials(url.split('?')[0]!)}: ${detail.slice(0, 300)}`);
  }
}

/** This item cannot be annotated (a refused request, a file Gemini cannot process): an error row, the chunk goes on. */
export class ItemFailure extends Error {
  override name = 'ItemFailure';
  /** reason: "<class>: detail", as error rows hold it. */
  constructor(readonly reason: string, readonly attempts = 1) {
    super(reason);
  }
}

export type FailureKind = 'transient' | 'item' | 'unauthorized' | 'not-found';

export interface Failure {
  kind: FailureKind;
  /** Short class for rows and counters (rate-limited, unavailable, timeout, connection, bad-request). */
  errorClass: string;
  status?: number;
  retryAfterMs?: number;
  message: string;
}

const RESET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'EAI_AGAIN']);

function statusFailure(status: number, message: string, retryAfter?: number): Failure {
  const wait = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
  // A 403 about one uploaded file ("...access the File x or it may not exist") is that file gone, not a bad key.
  if (status === 403 && /\bFile\b.*(may not exist|does not exist)/i.test(message)) return { kind: 'item', errorClass: 'file-missing', status, message };
  // Gemini answers a malformed key with 400 INVALID_ARGUMENT / API_KEY_INVALID: the key, not the item.
  if (status === 401 || status === 403 || (status === 400 && /API_KEY_INVALID|API key not valid/i.test(message))) return { kind: 'unauthorized', errorClass: 'unauthorized', status, message };
  if (status === 404) return { kind: 'not-found', errorClass: 'not-found', status, message };
  if (status === 429) return { kind: 'transient', errorClass: 'rate-limited', status, message, ...wait };
  if (status === 408) return { kind: 'transient', errorClass: 'timeout', status, message };
  if (status >= 500) return { kind: 'transient', errorClass: status === 500 ? 'server-error' : 'unavailable', status, message, ...wait };
  return { kind: 'item', errorClass: 'bad-request', status, message };
}

/** Sorts a thrown error into transient (retry), item (error row) or systemic (unauthorized, not found). */
export function classifyFailure(error: unknown): Failure {
  const message = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 400) : String(error);
  if (error instanceof HttpStatusError) return statusFailure(error.status, error.message, error.retryAfterMs);
  if (error instanceof APIConnectionTimeoutError) return { kind: 'transient', errorClass: 'timeout', message };
  if (error instanceof APIConnectionError) return { kind: 'transient', errorClass: 'connection', message };
  if (error instanceof APIError && typeof error.status === 'number') return statusFailure(error.status, message, retryAfterMs(error.headers as Headers | undefined));
  // @google/genai's own ApiError (status, no headers), should a path bypass our fetch wrapper.
  const status = (error as { status?: unknown })?.status;
  if (error instanceof Error && error.name === 'ApiError' && typeof status === 'number') return statusFailure(status, message);
  const name = (error as Error)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'transient', errorClass: 'timeout', message };
  const code = (error as { code?: string; cause?: { code?: string } })?.cause?.code ?? (error as { code?: string })?.code;
  if (code && RESET_CODES.has(code)) return { kind: 'transient', errorClass: 'connection', message: `${message} (${code})` };
  if (error instanceof TypeError && /fetch failed|terminated|other side closed/i.test(message)) return { kind: 'transient', errorClass: 'connection', message };
  if (error instanceof SyntaxError) return { kind: 'transient', errorClass: 'bad-response', message };
  return { kind: 'item', errorClass: 'unexpected', message };
}

export interface RetryOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  signal: AbortSignal;
  /** Names the endpoint and its key in systemic messages. */
  service: string;
  apiKey?: string | undefined;
  apiKeyEnv?: string;
  model?: string;
  /** Called before each wait (counters, logs). */
  onRetry?: (failure: Failure, attempt: number, waitMs: number) => void;
}

/** The error a final failure becomes: a SystemicError for the account or endpoint, an ItemFailure otherwise. */
export function finalError(failure: Failure, attempts: number, options: RetryOptions): Error {
  const where = redactUrlCredentials(options.service);
  if (failure.kind === 'unauthorized') {
    return new SystemicError(`${where}: HTTP ${failure.status ?? 401} (${keyNote(options.apiKey, options.apiKeyEnv)}); fix the key and resume the run`, 'annotate unauthorized', false);
  }
  if (failure.kind === 'not-found') {
    return new SystemicError(`${where}: HTTP 404 (an unknown model ${JSON.stringify(options.model ?? '')} or a wrong base URL): ${failure.message.slice(0, 200)}`, 'annotate not found', false);
  }
  const after = attempts > 1 ? ` after ${attempts} attempts` : '';
  return new ItemFailure(`${failure.errorClass}: ${where}${after}: ${failure.message.slice(0, 300)}`, attempts);
}

/**
 * Runs one request with retries: transient failures (429, 5xx, timeouts, resets) wait with exponential
 * backoff from baseDelayMs (doubling, with jitter) or the server's Retry-After (capped at maxDelayMs),
 * up to maxAttempts; other failures end at once. Resolves with the value and the attempts it took.
 */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(attempt), attempts: attempt };
    } catch (error) {
      if (options.signal.aborted) throw error;
      if (error instanceof SystemicError || error instanceof ItemFailure) throw error;
      const failure = classifyFailure(error);
      if (failure.kind !== 'transient' || attempt >= options.maxAttempts) throw finalError(failure, attempt, options);
      const backoff = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1)) * (0.75 + Math.random() / 4);
      const waitMs = failure.retryAfterMs === undefined ? backoff : Math.min(failure.retryAfterMs, options.maxDelayMs);
      options.onRetry?.(failure, attempt, waitMs);
      await sleep(waitMs, undefined, { signal: options.signal });
    }
  }
}
