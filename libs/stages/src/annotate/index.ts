import { rm } from 'node:fs/promises';
import { ConfigError, isVideoId, mediaLayout, type ItemContext, type MapStage, type Outcome, type Row } from '@finevideo/core';
import type { ContentMetadata } from '@finevideo/dataset';
import { Semaphore } from '@finevideo/llm';
import { parseDuration } from '../worddensity/index.js';
import { sourceRefOf, withSourceText } from '../ytcommons/source-text.js';
import { BASELINE_LABEL, baselineBackend } from './backends/baseline.js';
import { geminiBackend } from './backends/gemini.js';
import { openaiVisionBackend } from './backends/openai-vision.js';
import { structurerBackend } from './backends/structurer.js';
import type { Answer, Backend, BackendContext, Session, VideoInput } from './backends/types.js';
import { budgetsFor } from './budget.js';
import { MICRO, emptyUsage, estimateCost, priceTable, usageDollars, type Usage } from './cost.js';
import { annotateParams, answeringModel, type AnnotateParams } from './params.js';
import { ItemFailure } from './retry.js';
import { openVideo } from '../local-video.js';
import { annotationLayout, lookupCache, provenanceOf, storeAnnotation, storeInvalidAnswer, type Provenance } from './store.js';
import { parseVtt, timecodedTranscript } from './transcript.js';
import { validateAnswer } from './validate.js';

export { annotateParams, answeringModel, DEFAULT_PRICES, type AnnotateParams } from './params.js';
export { DEFAULT_PROMPT, buildPrompt, promptHash } from './prompt.js';
export { BASELINE_LABEL, baselineAnnotation } from './backends/baseline.js';
export { annotationLayout, type Provenance } from './store.js';
export { estimateCost, usageDollars } from './cost.js';
export { parseVtt, timecodedTranscript } from './transcript.js';
export { validateAnswer } from './validate.js';
export { TokenBucket } from './budget.js';
export { HttpStatusError, classifyFailure } from './retry.js';

export interface AnnotateItem {
  video_id: string;
  duration_seconds: number;
  title: string;
  description: string;
  /** YouTube-Commons transcript text (cut at transcriptChars), used when no VTT is stored. */
  transcript: string;
  /** The metadata stage had no row for this id: annotated without title and description. */
  missing_metadata?: boolean;
}

const BACKENDS: Record<AnnotateParams['backend'], Backend> = {
  gemini: geminiBackend,
  'gemini+structurer': structurerBackend,
  'openai-vision': openaiVisionBackend,
  baseline: baselineBackend,
};

const annotatorOf = (p: AnnotateParams) => (p.backend === 'baseline' ? BASELINE_LABEL : p.backend);

function backendContext(ctx: ItemContext<AnnotateParams>, item: AnnotateItem, usage: Usage): BackendContext {
  const p = ctx.params;
  return {
    params: p, signal: ctx.signal, log: ctx.log, tmpDir: ctx.tmpDir, store: ctx.store, usage,
    count: (c, n) => ctx.count(c, n),
    budgets: budgetsFor(p.requestsPerMinute, p.tokensPerMinute),
    estimatedInputTokens: Math.round(item.duration_seconds * p.estimateInputTokensPerSecond) + 2_000,
    retryOptions: (service, apiKey, apiKeyEnv, model) => ({
      maxAttempts: p.maxAttempts, baseDelayMs: p.retryBaseDelayMs, maxDelayMs: p.maxRetryDelayMs, signal: ctx.signal,
      service, apiKey, apiKeyEnv, model,
      onRetry: (failure) => {
        ctx.count('annotate_retries');
        ctx.count(`annotate_retries_${failure.errorClass.replace(/[^a-z0-9]+/g, '_')}`);
      },
    }),
  };
}

/** Token and cost columns of a row, and the same figures added to the chunk's counters. */
function usageColumns(ctx: ItemContext<AnnotateParams>, usage: Usage): Row {
  const cost = usageDollars(usage, priceTable(ctx.params));
  // Only what was spent: a baseline run's counters stay free of zeros.
  if (usage.inputTokens + usage.outputTokens > 0) {
    ctx.count('annotate_input_tokens', usage.inputTokens);
    ctx.count('annotate_output_tokens', usage.outputTokens);
    for (const [modality, n] of Object.entries(usage.inputByModality)) ctx.count(`annotate_input_${modality.toLowerCase()}_tokens`, n);
    if (cost !== undefined) ctx.count('annotate_cost_microusd', Math.round(cost * MICRO));
    else ctx.count('annotate_unpriced_videos');
  }
  const m = usage.inputByModality;
  return {
    input_tokens: usage.inputTokens, output_tokens: usage.outputTokens,
    input_text_tokens: m.TEXT ?? 0, input_image_tokens: m.IMAGE ?? 0, input_video_tokens: m.VIDEO ?? 0, input_audio_tokens: m.AUDIO ?? 0,
    cost_usd: cost ?? null,
  };
}

async function videoInput(item: AnnotateItem, path: string, ctx: ItemContext<AnnotateParams>): Promise<VideoInput> {
  const vtt = await ctx.store.getText(mediaLayout(item.video_id).subtitles);
  const cues = vtt ? parseVtt(vtt) : [];
  const max = ctx.params.transcriptChars;
  const transcript = cues.length ? timecodedTranscript(cues, max) : item.transcript.slice(0, max);
  return { videoId: item.video_id, videoPath: path, durationSeconds: item.duration_seconds, title: item.title, description: item.description, cues, transcript };
}

type Attempted = { ok: true; annotation: ContentMetadata; requests: number; repaired: boolean }
  | { ok: false; problems: string; raw: string; requests: number };

/** One answer, checked; when it fails, one repair (problems sent back, or a concise retry when cut off), checked again. */
async function askValidated(session: Session, ctx: ItemContext<AnnotateParams>): Promise<Attempted> {
  const max = ctx.params.maxAnswerChars;
  const first: Answer = await session.ask({ concise: false });
  const v1 = validateAnswer(first.raw, max);
  if (v1.ok) return { ok: true, annotation: v1.annotation, requests: 1, repaired: false };
  ctx.count('annotate_repairs');
  // Sending a huge answer back costs more than asking again concisely.
  const concise = first.truncated || v1.kind !== 'schema' || first.raw.length > 200_000;
  const second = await session.ask({ concise, repair: { raw: first.raw, problems: v1.problems } });
  const v2 = validateAnswer(second.raw, max);
  if (v2.ok) return { ok: true, annotation: v2.annotation, requests: 2, repaired: true };
  return { ok: false, problems: `first answer:\n${v1.problems}\nafter repair:\n${v2.problems}`, raw: second.raw, requests: 2 };
}

export async function annotateItem(item: AnnotateItem, ctx: ItemContext<AnnotateParams>): Promise<Outcome> {
  const p = ctx.params;
  const id = item.video_id;
  // The id comes from our rows; still checked, since it becomes a storage key.
  if (!isVideoId(id)) return { status: 'error', reason: `invalid video id: expected 11 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(id)?.slice(0, 40)}` };
  const provenance = provenanceOf(p);
  const base: Row = { video_id: id, annotator: annotatorOf(p), backend: p.backend, model: provenance.model, prompt_hash: provenance.promptHash, duration_seconds: item.duration_seconds };
  if (!p.force) {
    const cache = await lookupCache(ctx.store, id, provenance.key);
    if (cache.status === 'invalid') {
      // Damaged or edited since it was stored: never reused, requested again (its row says so if that fails too).
      ctx.count('annotate_cache_invalid');
      ctx.log.warn(`annotate ${id}: stored annotation invalid, requesting it again: ${cache.reason}`);
    }
    if (cache.status === 'hit') {
      const cached = cache.provenance;
      ctx.count('annotate_cached');
      if (p.backend === 'baseline') ctx.count('baseline_annotator_items');
      return { status: 'kept', row: { ...base, annotation_key: annotationLayout(id).annotation, scenes: cached.scenes, cached: true, requests: 0, repaired: false, input_tokens: 0, output_tokens: 0, cost_usd: 0 } };
    }
  }
  // Per process, the requests in flight are bounded here (not by the item window, see itemConcurrency).
  return slotsFor(p.backend === 'baseline' ? 1 : p.concurrency).run(() => {
    ctx.signal.throwIfAborted();
    return annotateUncached(item, ctx, base, provenance);
  });
}

const slots = new Map<number, Semaphore>();
function slotsFor(limit: number): Semaphore {
  let s = slots.get(limit);
  if (!s) slots.set(limit, (s = new Semaphore(limit)));
  return s;
}

async function annotateUncached(item: AnnotateItem, ctx: ItemContext<AnnotateParams>, base: Row, provenance: ReturnType<typeof provenanceOf>): Promise<Outcome> {
  const p = ctx.params;
  const id = item.video_id;
  if (item.missing_metadata) ctx.count('annotate_no_metadata');
  const backend = BACKENDS[p.backend];
  const usage = emptyUsage();
  const bctx = backendContext(ctx, item, usage);
  backend.check(bctx);
  // Checked whole before any model is paid for it: a truncated file is an error row video-corrupt.
  const opened = await openVideo(ctx.store, id, ctx.tmpDir, 'annotate', { signal: ctx.signal });
  if (!opened.ok) return { status: 'error', reason: opened.reason, row: base };
  const { video } = opened;
  try {
    let session: Session | undefined;
    let result: Attempted;
    try {
      session = await backend.open(await videoInput(item, video.path, ctx), bctx);
      result = await askValidated(session, ctx);
    } catch (error) {
      if (error instanceof ItemFailure) {
        return { status: 'error', reason: error.reason, row: { ...base, ...usageColumns(ctx, usage) } };
      }
      // SystemicError (a refused key, an unknown model) and anything unexpected fail the chunk.
      throw error;
    } finally {
      await session?.close();
    }
    const columns = usageColumns(ctx, usage);
    if (!result.ok) {
      const key = await storeInvalidAnswer(ctx.store, id, { backend: p.backend, model: provenance.model, problems: result.problems, raw: result.raw, attempts: result.requests }, 4 * p.maxAnswerChars);
      ctx.count('annotate_schema_invalid');
      return { status: 'error', reason: `schema-invalid: the answer failed content_metadata after one repair (raw answer at ${key}): ${result.problems.split('\n').slice(1, 3).join(' ').slice(0, 200)}`, row: { ...base, ...columns, requests: result.requests, error_key: key } };
    }
    const stored: Provenance = {
      ...provenance, annotator: annotatorOf(p), annotatedAt: new Date().toISOString(), scenes: result.annotation.scenes.length,
      inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd: (columns.cost_usd as number | null) ?? null,
    };
    await storeAnnotation(ctx.store, id, result.annotation, stored);
    ctx.count('annotate_annotated');
    return { status: 'kept', row: { ...base, annotation_key: annotationLayout(id).annotation, scenes: stored.scenes, cached: false, requests: result.requests, repaired: result.repaired, ...columns } };
  } finally {
    if (video.copied) await rm(video.path, { force: true });
  }
}

const WINDOW_FACTOR = 4;

const num = (v: unknown) => (v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? undefined : Number(v));

/** Stage 7: FineVideo's content_metadata for each selected video, schema-checked, stored at annotations/<id>.json. */
export const annotateStage: MapStage<AnnotateParams, AnnotateItem, Row> = {
  name: 'annotate',
  kind: 'map',
  description: 'annotates each selected video (scenes, characters, moods, storylines, Q&A) as content_metadata, schema-checked, at annotations/<id>.json',
  params: annotateParams,
  image: 'finevideo/stage-annotate',
  resources: { pool: 'cpu', cpu: '1', memory: '2Gi' },
  defaultItemsPerChunk: 200,
  // Model backends wait on the network (20-60 s a video, widely spread); the baseline decodes video on
  // this CPU. The worker starts an item only when its oldest finishes (output stays in order), so with
  // a window of `concurrency` one slow video would idle the others: the window is 4x wider and a
  // semaphore in annotateItem keeps `concurrency` requests in flight (measured in tools/bench/annotate.ts).
  itemConcurrency: (p) => (p.backend === 'baseline' ? 1 : p.concurrency * WINDOW_FACTOR),
  inputColumns: ['video_id', 'duration_seconds'],
  async *listItems(ctx) {
    const p = ctx.params;
    const wanted = new Map<string, number | undefined>();
    for await (const row of ctx.previousRows()) if (typeof row.video_id === 'string') wanted.set(row.video_id, num(row.duration_seconds));
    if (wanted.size === 0) return;
    async function* matched(): AsyncIterable<Row> {
      try {
        for await (const m of ctx.stageRows(p.metadataStage)) {
          if (typeof m.video_id === 'string' && wanted.has(m.video_id)) yield m;
        }
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(`annotate.params.metadataStage: ${e.message}`);
        throw e;
      }
    }
    const refOf = (m: Row) => (p.transcriptChars === 0 || typeof m.text === 'string' ? undefined : sourceRefOf(m));
    for await (const { entry: m, text } of withSourceText(matched(), refOf, { maxChars: Math.max(1, p.transcriptChars) })) {
      const id = String(m.video_id);
      if (!wanted.has(id)) continue;
      const duration = wanted.get(id) ?? parseDuration(m.duration_string) ?? 0;
      wanted.delete(id);
      yield { video_id: id, duration_seconds: duration, title: String(m.title ?? ''), description: String(m.description ?? ''), transcript: p.transcriptChars ? String(text ?? m.text ?? '').slice(0, p.transcriptChars) : '' };
    }
    if (wanted.size) ctx.log.warn(`${wanted.size} videos have no metadata row in ${p.metadataStage}: annotated without title, description and transcript`);
    for (const [id, duration] of wanted) yield { video_id: id, duration_seconds: duration ?? 0, title: '', description: '', transcript: '', missing_metadata: true };
  },
  itemKey: (item) => item.video_id,
  processItem: annotateItem,
  paidItems: (p) => p.backend !== 'baseline',
  async planEstimate(items, params) {
    let videos = 0;
    let seconds = 0;
    for await (const item of items) {
      videos++;
      seconds += Number(item.duration_seconds) || 0;
    }
    return estimateCost(params, videos, seconds).line;
  },
};

/** Re-exported for the bench and tests: the models a run pays for. */
export const modelsOf = (p: AnnotateParams) => answeringModel(p);
