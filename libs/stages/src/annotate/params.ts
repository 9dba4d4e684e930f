import { z } from 'zod';
import { httpUrl } from '@finevideo/core';
import { DEFAULT_PROMPT } from './prompt.js';

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'an environment variable name (A-Z, 0-9, _)' });

/** $ per million tokens for one model; input by modality where the provider prices it apart (Gemini: AUDIO). */
export const modelPriceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  /** Input price by modality as the API reports it (TEXT, IMAGE, VIDEO, AUDIO); others use `input`. */
  inputByModality: z.record(z.string(), z.number().min(0)).optional(),
});
export type ModelPrice = z.infer<typeof modelPriceSchema>;

/**
 * Example list prices ($ per million tokens, prompts under 200k tokens) as published by Google and
 * OpenAI when this was written. Prices change: set `prices` in the pipeline for real budgets.
 */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  'gemini-2.5-pro': { input: 1.25, output: 10 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5, inputByModality: { AUDIO: 1 } },
  'gemini-1.5-pro-latest': { input: 1.25, output: 5 },
  'gpt-4o-2024-08-06': { input: 2.5, output: 10 },
};

const safetySettingSchema = z.strictObject({ category: z.string().min(1), threshold: z.string().min(1) });

/** The original turned every safety filter off: annotation describes what is there, it does not publish it. */
export const DEFAULT_SAFETY = ['HARM_CATEGORY_HARASSMENT', 'HARM_CATEGORY_HATE_SPEECH', 'HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_DANGEROUS_CONTENT']
  .map((category) => ({ category, threshold: 'BLOCK_NONE' }));

export const annotateParams = z.strictObject({
  /**
   * gemini: video upload + structured output in one call. gemini+structurer: Gemini free text, then an
   * OpenAI-compatible model writes the JSON. openai-vision: sampled frames + timecoded transcript to an
   * OpenAI-compatible vision model (vLLM/TGI on our GPUs). baseline: no model (scene cuts, metadata,
   * transcript lines), labelled "baseline annotator" everywhere.
   */
  backend: z.enum(['gemini', 'gemini+structurer', 'openai-vision', 'baseline']).default('gemini'),
  /** Gemini model name (gemini, gemini+structurer). */
  model: z.string().min(1).default('gemini-2.5-pro'),
  /** Gemini API base URL (a proxy, or a fake in tests); unset: Google's. */
  geminiBaseUrl: httpUrl('annotate.geminiBaseUrl').optional(),
  geminiApiKeyEnv: envName.default('GEMINI_API_KEY'),
  safetySettings: z.array(safetySettingSchema).default(DEFAULT_SAFETY),
  /** Time between files.get calls while an upload is PROCESSING, and the longest wait for it. */
  filePollMs: z.number().int().min(1).default(5_000),
  fileProcessingTimeoutSec: z.number().positive().default(900),
  /** OpenAI-compatible base URL (structurer, openai-vision), e.g. https://api.openai.com/v1 or http://vllm.finevideo.svc/v1. */
  openaiBaseUrl: httpUrl('annotate.openaiBaseUrl').optional(),
  openaiApiKeyEnv: envName.default('OPENAI_API_KEY'),
  /** The OpenAI-compatible server's dialect: auto detects TGI (/info, with its version) and vLLM (/version); else OpenAI's. */
  openaiServerKind: z.enum(['auto', 'tgi', 'vllm', 'openai']).default('auto'),
  /** The structurer model (gemini+structurer) or the vision model (openai-vision). */
  openaiModel: z.string().min(1).default('gpt-4o-2024-08-06'),
  /** openai-vision frames: one decode, JPEG in memory. */
  framesPerSecond: z.number().positive().max(30).default(0.5),
  maxFrames: z.number().int().min(1).max(512).default(32),
  frameMaxSide: z.number().int().min(64).max(4096).default(512),
  /** The annotation prompt ({title}, {description}, {duration}, {transcript}, {moods} are filled in). */
  prompt: z.string().min(1).default(DEFAULT_PROMPT),
  /** Transcript characters sent to text/vision models and to the baseline (from the stored VTT, else the YouTube-Commons text). */
  transcriptChars: z.number().int().min(0).default(20_000),
  maxOutputTokens: z.number().int().positive().default(16_384),
  /** Requests in flight at once in one worker (model backends wait 20-60 s per video). */
  concurrency: z.number().int().min(1).max(1024).default(64),
  /** Attempts per request, the first included (the original: 5, from 2 s doubling). */
  maxAttempts: z.number().int().min(1).max(20).default(5),
  retryBaseDelayMs: z.number().int().min(0).default(2_000),
  maxRetryDelayMs: z.number().int().min(0).default(120_000),
  /** One model request's time limit (the original: 600 s). */
  requestTimeoutSec: z.number().positive().default(600),
  /** Budgets per worker process (0: none); split the account's quota by the stage's parallelism (README). */
  requestsPerMinute: z.number().min(0).default(0),
  tokensPerMinute: z.number().min(0).default(0),
  /** $ per million tokens by model name; merged over DEFAULT_PRICES. */
  prices: z.record(z.string(), modelPriceSchema).default({}),
  /** For plan's estimate and the token budget before usage is known: input tokens per video second, output tokens per video. */
  estimateInputTokensPerSecond: z.number().min(0).default(300),
  estimateOutputTokensPerVideo: z.number().min(0).default(4_000),
  /** Longest answer accepted (characters); a longer one is schema-invalid (hostile or runaway output). */
  maxAnswerChars: z.number().int().positive().default(1_000_000),
  /** Re-annotate even when a stored annotation with the same provenance exists (costs again). */
  force: z.boolean().default(false),
  /** The earlier stage whose table holds titles, descriptions and transcripts. */
  metadataStage: z.string().default('ytcommons'),
  /** Scene detection threshold for the baseline (FineVideo used 15). */
  sceneThreshold: z.number().positive().default(15),
}).superRefine((p, ctx) => {
  const needsOpenAi = p.backend === 'gemini+structurer' || p.backend === 'openai-vision';
  if (needsOpenAi && !p.openaiBaseUrl) ctx.addIssue({ code: 'custom', path: ['openaiBaseUrl'], message: `an http(s) URL of an OpenAI-compatible server for backend ${p.backend}` });
});
export type AnnotateParams = z.infer<typeof annotateParams>;

/** The model whose answer is stored (provenance, prices). */
export function answeringModel(p: AnnotateParams): string {
  if (p.backend === 'baseline') return 'baseline';
  if (p.backend === 'openai-vision') return p.openaiModel;
  if (p.backend === 'gemini+structurer') return `${p.model}+${p.openaiModel}`;
  return p.model;
}
