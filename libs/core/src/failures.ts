/**
 * The error policy, in one place. Two kinds of failure:
 *
 * - item failures (this video is private, this file is corrupt, this answer is off-schema): the stage
 *   returns an `error` outcome with a reason; it becomes an error row and the chunk goes on.
 * - systemic failures (a bad key, an unknown model, an endpoint or storage that is down past its
 *   retries, out of memory or disk): they would hit every item, so the stage throws a SystemicError;
 *   the chunk fails and nothing is marked done. `retryable: false` (a bad key, a bad URL) fails the
 *   index at once (exit 42); otherwise the index is retried.
 *
 * A thrown error that is neither a SystemicError nor a ConfigError is treated as systemic and
 * retryable: an unknown crash must never end as "done".
 */
export class SystemicError extends Error {
  override name = 'SystemicError';
  constructor(
    message: string,
    /** A short class for stats and messages ("llm unauthorized", "storage unreachable", "out of memory"). */
    readonly errorClass: string,
    /** False when retrying cannot help (a bad key, a refused request shape): the index fails at once. */
    readonly retryable = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isSystemicError(error: unknown): error is SystemicError {
  return error instanceof SystemicError;
}

/** A per-stage policy on error rows (pipeline config `errorPolicy`). */
export interface ErrorPolicy {
  /** The chunk fails when this many items in a row end with the same error class. */
  maxConsecutive: number;
  /** The chunk fails when more than this share of its items (after `minItems`) are errors of one class. */
  maxChunkShare: number;
  /** Items a chunk must have processed before `maxChunkShare` applies. */
  minItems: number;
  /** The run exits non-zero when more than this share of a stage's items ended as error rows. */
  maxStageShare: number;
}

export const DEFAULT_ERROR_POLICY: ErrorPolicy = { maxConsecutive: 20, maxChunkShare: 0.5, minItems: 40, maxStageShare: 0.2 };

/** The error class of an error reason: the text before the first ':' ("llm timeout: ..." -> "llm timeout"). */
export function errorClassOf(reason: string): string {
  return reason.split(':')[0]!.trim().slice(0, 80);
}

const TRANSIENT = ['connection', 'timeout', 'rate-limited', 'unavailable', 'server-error', 'bad-response'];

/**
 * Error classes (errorClassOf) a retry can change: the service or the network was briefly unwell
 * (connection, server error, rate limit, timeout, an unreadable answer, storage). Everything else is
 * a verdict on the item (private video, corrupt file, off-schema answer, unreadable shard) that a retry
 * repeats. Whole classes, since a word means different things per stage: "download unavailable" is a
 * private video, "llm unavailable" a 503.
 */
export const RETRYABLE_ERROR_CLASSES: ReadonlySet<string> = new Set([
  // annotate (bare classes), classify ("llm ..."), download ("download ..." as yt-dlp's classes)
  ...TRANSIENT, ...TRANSIENT.map((c) => `llm ${c}`), 'gemini-file-timeout',
  'download network', 'download rate_limited',
  'storage', 'storage unreachable',
]);

/** Whether an error row's reason can change on a retry (see RETRYABLE_ERROR_CLASSES). */
export function isRetryableReason(reason: string): boolean {
  return RETRYABLE_ERROR_CLASSES.has(errorClassOf(reason).toLowerCase());
}
