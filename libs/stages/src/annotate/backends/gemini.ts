import { setTimeout as sleep } from 'node:timers/promises';
import type { Content, FileState, File as GeminiFile, GenerateContentResponse, GoogleGenAI, SafetySetting } from '@google/genai';
import { SystemicError, errorMessage } from '@finevideo/core';
import { retryAfterMs } from '@finevideo/llm';
import { annotationJsonSchema } from '@finevideo/dataset';
import { addUsage } from '../cost.js';
import { CONCISE_SUFFIX, buildPrompt, repairInstruction } from '../prompt.js';
import { HttpStatusError, ItemFailure, withRetries } from '../retry.js';
import type { AskOptions, Answer, Backend, BackendContext, Session, VideoInput } from './types.js';

export const GEMINI_DEFAULT_URL = 'https://generativelanguage.googleapis.com';

/**
 * fetch for the SDK: a non-2xx answer becomes an HttpStatusError carrying Retry-After (the SDK's
 * ApiError keeps only the status and body, and our retries honour the server's wait).
 */
const fetchWithStatus = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
  const response = await fetch(input, init);
  if (response.ok) return response;
  const body = await response.text().catch(() => '');
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  throw new HttpStatusError(response.status, url, body, retryAfterMs(response.headers));
};

type GenAiSdk = typeof import('@google/genai');
let sdkModule: Promise<GenAiSdk> | undefined;
/** The SDK loads with the first Gemini session: a process that never calls Gemini does not pay its start-up. */
const loadSdk = (): Promise<GenAiSdk> => (sdkModule ??= import('@google/genai'));

const clients = new Map<string, GoogleGenAI>();

/** One SDK client per process and settings (the SDK's own retries off: ours count and honour Retry-After). */
function clientFor(sdk: GenAiSdk, baseUrl: string | undefined, apiKey: string, timeoutMs: number): GoogleGenAI {
  const key = JSON.stringify([baseUrl, apiKey, timeoutMs]);
  let client = clients.get(key);
  if (!client) {
    client = new sdk.GoogleGenAI({ apiKey, httpOptions: { ...(baseUrl ? { baseUrl } : {}), timeout: timeoutMs, fetch: fetchWithStatus } });
    clients.set(key, client);
  }
  return client;
}

const schema = annotationJsonSchema();

function apiKeyOf(ctx: BackendContext): string {
  const key = process.env[ctx.params.geminiApiKeyEnv];
  if (!key) throw new SystemicError(`annotate: the Gemini API key variable ${ctx.params.geminiApiKeyEnv} is unset or empty; set it (a Secret on Kubernetes, see secretEnv) or choose another backend`, 'annotate no key', false);
  return key;
}

/** Tokens and modalities of one response, added to the video's usage. */
function recordUsage(ctx: BackendContext, model: string, response: GenerateContentResponse): number {
  const u = response.usageMetadata;
  const input = u?.promptTokenCount ?? 0;
  // Thinking tokens are billed as output.
  const output = (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0);
  const modalities: Record<string, number> = {};
  for (const d of u?.promptTokensDetails ?? []) if (d.modality && typeof d.tokenCount === 'number') modalities[d.modality] = (modalities[d.modality] ?? 0) + d.tokenCount;
  addUsage(ctx.usage, model, input, output, modalities);
  return input + output;
}

interface GeminiSessionOptions {
  /** Structured output (the gemini backend) or free text (the first step of gemini+structurer). */
  json: boolean;
}

class GeminiSession implements Session {
  private file: GeminiFile | undefined;
  private readonly ai: GoogleGenAI;
  private readonly service: string;
  constructor(private readonly sdk: GenAiSdk, private readonly video: VideoInput, private readonly ctx: BackendContext, private readonly options: GeminiSessionOptions, private readonly apiKey: string) {
    const p = ctx.params;
    this.ai = clientFor(sdk, p.geminiBaseUrl, apiKey, p.requestTimeoutSec * 1000);
    this.service = `Gemini API ${p.geminiBaseUrl ?? GEMINI_DEFAULT_URL}`;
  }

  private retry() {
    return this.ctx.retryOptions(this.service, this.apiKey, this.ctx.params.geminiApiKeyEnv, this.ctx.params.model);
  }

  /** Upload, then poll while PROCESSING. FAILED is retried once with a fresh upload, then an error row. */
  async open(): Promise<void> {
    for (let upload = 1; ; upload++) {
      const state = await this.uploadAndWait();
      if (state === this.sdk.FileState.ACTIVE) return;
      await this.deleteFile();
      if (upload >= 2) throw new ItemFailure(`gemini-file-failed: the Files API could not process ${this.video.videoId} (state FAILED twice)`, upload);
      this.ctx.count('annotate_file_failed_retries');
    }
  }

  private async uploadAndWait(): Promise<FileState | undefined> {
    const { signal } = this.ctx;
    const { value: uploaded } = await withRetries(() => this.ai.files.upload({ file: this.video.videoPath, config: { mimeType: 'video/mp4', displayName: this.video.videoId, abortSignal: signal } }), this.retry());
    this.file = uploaded;
    this.ctx.count('annotate_files_uploaded');
    const name = uploaded.name;
    if (!name) throw new ItemFailure(`bad-response: the Files API returned no file name for ${this.video.videoId}`);
    const deadline = Date.now() + this.ctx.params.fileProcessingTimeoutSec * 1000;
    let file = uploaded;
    while (file.state === this.sdk.FileState.PROCESSING || file.state === undefined || file.state === this.sdk.FileState.STATE_UNSPECIFIED) {
      if (Date.now() > deadline) throw new ItemFailure(`gemini-file-timeout: ${name} still PROCESSING after ${this.ctx.params.fileProcessingTimeoutSec} s`);
      await sleep(this.ctx.params.filePollMs, undefined, { signal });
      file = (await withRetries(() => this.ai.files.get({ name, config: { abortSignal: signal } }), this.retry())).value;
    }
    this.file = file;
    if (file.state === this.sdk.FileState.FAILED) return this.sdk.FileState.FAILED;
    if (!file.uri) throw new ItemFailure(`bad-response: file ${name} is ACTIVE without a uri`);
    return this.sdk.FileState.ACTIVE;
  }

  async ask(options: AskOptions): Promise<Answer> {
    const p = this.ctx.params;
    const file = this.file!;
    const prompt = buildPrompt(p.prompt, this.video) + (options.concise ? CONCISE_SUFFIX : '');
    const contents: Content[] = [this.sdk.createUserContent([this.sdk.createPartFromUri(file.uri!, file.mimeType ?? 'video/mp4'), prompt])];
    // A schema-invalid answer is sent back with its problems; a cut-off one is asked again, concisely.
    if (options.repair && !options.concise) contents.push({ role: 'model', parts: [{ text: options.repair.raw }] }, this.sdk.createUserContent(repairInstruction(options.repair.problems)));
    const estimate = this.ctx.estimatedInputTokens + p.estimateOutputTokensPerVideo;
    const { value: response } = await withRetries(async () => {
      await this.ctx.budgets.requests.take(1, this.ctx.signal);
      await this.ctx.budgets.tokens.take(estimate, this.ctx.signal);
      const r = await this.ai.models.generateContent({
        model: p.model,
        contents,
        config: {
          abortSignal: this.ctx.signal,
          maxOutputTokens: p.maxOutputTokens,
          safetySettings: p.safetySettings as SafetySetting[],
          ...(this.options.json ? { responseMimeType: 'application/json', responseJsonSchema: schema } : {}),
        },
      });
      this.ctx.budgets.tokens.settle(estimate, recordUsage(this.ctx, p.model, r));
      return r;
    }, this.retry());
    this.ctx.count('annotate_model_requests');
    const candidate = response.candidates?.[0];
    const raw = response.text;
    if (raw === undefined || raw === '') {
      const why = response.promptFeedback?.blockReason ?? candidate?.finishReason ?? 'no candidate';
      throw new ItemFailure(`gemini-no-answer: no text for ${this.video.videoId} (${why})`);
    }
    return { raw, truncated: candidate?.finishReason === this.sdk.FinishReason.MAX_TOKENS };
  }

  private async deleteFile(): Promise<void> {
    const name = this.file?.name;
    this.file = undefined;
    if (!name) return;
    // Its own signal: the chunk's may be aborted already, and the file must go in every case.
    const signal = AbortSignal.timeout(60_000);
    try {
      await withRetries(() => this.ai.files.delete({ name, config: { abortSignal: signal } }), { ...this.retry(), signal, maxAttempts: 3, baseDelayMs: 500 });
      this.ctx.count('annotate_files_deleted');
    } catch (e) {
      // A file left behind expires after 48 hours; it is counted and named, never fatal.
      this.ctx.count('annotate_files_not_deleted');
      this.ctx.log.warn(`annotate: could not delete uploaded file ${name} of ${this.video.videoId}: ${errorMessage(e).slice(0, 200)}`);
    }
  }

  close(): Promise<void> {
    return this.deleteFile();
  }
}

/** Opens a Gemini session (upload + processing), closing it when opening fails half way. */
export async function openGeminiSession(video: VideoInput, ctx: BackendContext, options: GeminiSessionOptions): Promise<Session> {
  const apiKey = apiKeyOf(ctx);
  const session = new GeminiSession(await loadSdk(), video, ctx, options, apiKey);
  try {
    await session.open();
  } catch (e) {
    await session.close();
    throw e;
  }
  return session;
}

export const geminiBackend: Backend = {
  check: (ctx) => void apiKeyOf(ctx),
  open: (video, ctx) => openGeminiSession(video, ctx, { json: true }),
};
