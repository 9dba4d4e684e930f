import type { Logger, ObjectStore } from '@finevideo/core';
import type { Budgets } from '../budget.js';
import type { Usage } from '../cost.js';
import type { AnnotateParams } from '../params.js';
import type { RetryOptions } from '../retry.js';
import type { Cue } from '../transcript.js';

/** What a backend knows about one video. Every string here comes from our rows or our storage. */
export interface VideoInput {
  videoId: string;
  /** A local file of the video. */
  videoPath: string;
  durationSeconds: number;
  title: string;
  description: string;
  /** Subtitle cues from the stored VTT (empty when there is none). */
  cues: Cue[];
  /** Transcript text for prompts: timecoded VTT lines, else the YouTube-Commons text, cut at transcriptChars. */
  transcript: string;
}

/** One request of a session: the first, or a repair of the previous answer. */
export interface AskOptions {
  /** Append the be-concise instruction (the previous answer was cut off). */
  concise: boolean;
  /** The previous answer and what was wrong with it, for backends that can send it back. */
  repair?: { raw: string; problems: string };
}

export interface Answer {
  raw: string;
  /** The model stopped at its output limit. */
  truncated: boolean;
}

export interface BackendContext {
  params: AnnotateParams;
  signal: AbortSignal;
  log: Logger;
  tmpDir: string;
  /** The run's storage, where scene detections are stored and reused (scenes/<id>.json); absent in unit tests. */
  store?: ObjectStore;
  /** Every response's usage is added here (per model). */
  usage: Usage;
  count(counter: string, amount?: number): void;
  budgets: Budgets;
  /** Retry settings for one service (its URL, key variable and model). */
  retryOptions(service: string, apiKey: string | undefined, apiKeyEnv: string, model: string): RetryOptions;
  /** Input tokens to reserve from the tokens-per-minute budget before a request of this video. */
  estimatedInputTokens: number;
}

/**
 * One video's conversation with a model: open prepares (uploads, samples frames), ask requests an
 * answer (again for a repair), close releases what open made (the uploaded file), in every case.
 */
export interface Session {
  ask(options: AskOptions): Promise<Answer>;
  close(): Promise<void>;
}

export interface Backend {
  /** Fails at once (SystemicError) when the backend cannot work at all (no key). */
  check(ctx: BackendContext): void;
  open(video: VideoInput, ctx: BackendContext): Promise<Session>;
}
