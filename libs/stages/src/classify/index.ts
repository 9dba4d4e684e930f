import { z } from 'zod';
import { ConfigError, type ItemContext, type MapStage, type Outcome, type Row } from '@finevideo/core';
import { LEAF_NAMES, leafInfo } from '@finevideo/dataset';
import { ChatClient, LlmError, waitForHealth } from '@finevideo/llm';
import { parseDuration } from '../worddensity/index.js';
import { DEFAULT_TEMPLATE, answerToLeaf, buildPrompt, lexicalBaseline, type PromptFields } from './prompt.js';

export { DEFAULT_TEMPLATE, answerToLeaf, buildPrompt, lexicalBaseline } from './prompt.js';

export const classifyParams = z.strictObject({
  /** OpenAI-compatible base URL (TGI: http://tgi.finevideo.svc/v1). Empty: the lexical baseline, not an LLM. */
  endpoint: z.string().default(''),
  model: z.string().default('meta-llama/Meta-Llama-3.1-70B-Instruct'),
  /** Name of the environment variable holding the API key (filled from a Secret on Kubernetes). */
  apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('FINEVIDEO_LLM_API_KEY'),
  concurrency: z.number().int().min(1).max(1024).default(64),
  timeoutMs: z.number().int().positive().default(60_000),
  maxRetries: z.number().int().min(0).max(20).default(6),
  retryBaseDelayMs: z.number().int().min(0).default(500),
  /** Wait this long for the server's /health before the first request (0: do not wait). */
  waitForHealthSeconds: z.number().min(0).default(900),
  /** Ask for constrained decoding (a JSON schema whose category is an enum of the leaves). */
  constrained: z.boolean().default(true),
  template: z.string().min(1).default(DEFAULT_TEMPLATE),
  transcriptChars: z.number().int().positive().default(5000),
  /** The earlier stage whose table holds titles, channels and transcripts. */
  metadataStage: z.string().default('ytcommons'),
});
export type ClassifyParams = z.infer<typeof classifyParams>;

export interface ClassifyItem extends PromptFields {
  video_id: string;
  duration_seconds: number;
  view_count: number | null;
  like_count: number | null;
  comment_count: number | null;
  channel_follower_count: number | null;
  /** Set when the metadata stage had no row for this id: it becomes an error row, never silently lost. */
  missing_metadata?: boolean;
}

interface ClientEntry {
  client: ChatClient;
  ready: Promise<void>;
  /** Set once the server has refused response_format (no grammar support) and answered without it. */
  schemaRejected: boolean;
}
const clients = new Map<string, ClientEntry>();

/** One client per worker process: its semaphore bounds the requests in flight across the chunk. */
function clientFor(ctx: ItemContext<ClassifyParams>): ClientEntry {
  const p = ctx.params;
  const key = JSON.stringify([p.endpoint, p.model, p.apiKeyEnv, p.concurrency, p.timeoutMs, p.maxRetries, p.retryBaseDelayMs]);
  let entry = clients.get(key);
  if (!entry) {
    const client = new ChatClient({ baseURL: p.endpoint, model: p.model, apiKey: process.env[p.apiKeyEnv], concurrency: p.concurrency, timeoutMs: p.timeoutMs, maxRetries: p.maxRetries, baseDelayMs: p.retryBaseDelayMs });
    const ready = p.waitForHealthSeconds > 0
      ? waitForHealth(p.endpoint, { timeoutMs: p.waitForHealthSeconds * 1000, signal: ctx.signal, onWait: (s) => ctx.log.info(`waiting for the model server at ${p.endpoint} (${s})`) })
      : Promise.resolve();
    entry = { client, ready, schemaRejected: false };
    clients.set(key, entry);
  }
  return entry;
}

const CATEGORY_SCHEMA = {
  name: 'video_category',
  schema: { type: 'object', properties: { category: { type: 'string', enum: [...LEAF_NAMES] } }, required: ['category'], additionalProperties: false },
};

function rowFor(item: ClassifyItem, leaf: string | null, extra: Row): Row {
  const info = leaf ? leafInfo(leaf) : undefined;
  const { transcript: _t, tags: _g, missing_metadata: _m, ...metadata } = item;
  return { ...metadata, category: leaf, parent: info?.parent ?? null, top_level: info?.topLevel ?? null, ...extra };
}

export async function classifyItem(item: ClassifyItem, ctx: ItemContext<ClassifyParams>): Promise<Outcome> {
  const p = ctx.params;
  if (item.missing_metadata) return { status: 'error', reason: `no-metadata: expected a row for ${item.video_id} in stage ${p.metadataStage}, got none` };
  const fields: PromptFields = { title: item.title, channel: item.channel, tags: item.tags, transcript: item.transcript.slice(0, p.transcriptChars) };
  if (!p.endpoint) {
    const guess = lexicalBaseline(fields);
    const extra = { method: 'lexical-baseline', raw_answer: guess?.basis ?? '', constrained: false, prompt_tokens: 0, completion_tokens: 0 };
    return guess ? { status: 'kept', row: rowFor(item, guess.leaf, extra) } : { status: 'dropped', reason: 'no-taxonomy-term', row: rowFor(item, null, extra) };
  }
  const entry = clientFor(ctx);
  await entry.ready; // a server that never becomes ready fails the chunk (retried), not its items
  const ask = (withSchema: boolean) => entry.client.chat({
    messages: [{ role: 'user', content: buildPrompt(p.template, fields) }],
    maxTokens: 20,
    ...(withSchema ? { jsonSchema: CATEGORY_SCHEMA } : {}),
    signal: ctx.signal,
  });
  try {
    let result;
    let constrained = p.constrained && !entry.schemaRejected;
    try {
      result = await ask(constrained);
    } catch (error) {
      // A server without grammar support refuses response_format with a 4xx: ask once more in free
      // text (mapped onto a leaf below), and stop sending the schema once that is confirmed.
      if (!(constrained && error instanceof LlmError && error.errorClass === 'bad-request')) throw error;
      result = await ask(false);
      constrained = false;
      ctx.count('response_format_rejected');
      if (!entry.schemaRejected) ctx.log.warn(`${p.endpoint} rejected response_format (${error.message.slice(0, 200)}); asking in free text and mapping answers onto leaves`);
      entry.schemaRejected = true;
    }
    ctx.count('prompt_tokens', result.promptTokens);
    ctx.count('completion_tokens', result.completionTokens);
    ctx.count('llm_attempts', result.attempts);
    const mapped = answerToLeaf(result.content);
    const extra = { method: 'llm', raw_answer: result.content.slice(0, 500), constrained: constrained && Boolean(mapped?.fromJson), prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens };
    // An answer that names no leaf stays in the table with its own reason; select never sees it.
    return mapped ? { status: 'kept', row: rowFor(item, mapped.leaf, extra) } : { status: 'dropped', reason: 'unmapped-answer', row: rowFor(item, null, extra) };
  } catch (error) {
    if (error instanceof LlmError) return { status: 'error', reason: `llm ${error.errorClass}: ${error.message}`, row: rowFor(item, null, { method: 'llm' }) };
    throw error;
  }
}

const num = (v: unknown) => (v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? null : Number(v));

/** Stage 5: topic classification over the fixed taxonomy (an LLM on TGI, or the lexical baseline). */
export const classifyStage: MapStage<ClassifyParams, ClassifyItem, Row> = {
  name: 'classify',
  kind: 'map',
  description: 'classify each video into one leaf of the content taxonomy',
  params: classifyParams,
  image: 'finevideo/stage-classify',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  defaultItemsPerChunk: 2000,
  itemConcurrency: (p) => (p.endpoint ? p.concurrency : 1),
  inputColumns: ['video_id'],
  async *listItems(ctx) {
    const wanted = new Set<string>();
    for await (const row of ctx.previousRows()) if (typeof row.video_id === 'string') wanted.add(row.video_id);
    if (wanted.size === 0) return;
    let found = 0;
    try {
      for await (const m of ctx.stageRows(ctx.params.metadataStage)) {
        const id = m.video_id;
        if (typeof id !== 'string' || !wanted.delete(id)) continue;
        found++;
        yield {
          video_id: id, title: String(m.title ?? ''), channel: String(m.channel ?? ''),
          tags: Array.isArray(m.tags) ? m.tags.join(', ') : String(m.tags ?? ''),
          transcript: String(m.text ?? '').slice(0, ctx.params.transcriptChars),
          duration_seconds: parseDuration(m.duration_string) ?? 0,
          view_count: num(m.view_count), like_count: num(m.like_count), comment_count: num(m.comment_count), channel_follower_count: num(m.channel_follower_count),
        };
      }
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`classify.params.metadataStage: ${e.message}`);
      throw e;
    }
    if (wanted.size) ctx.log.warn(`${wanted.size} videos have no metadata row in ${ctx.params.metadataStage}`, { found });
    for (const id of wanted) {
      yield { video_id: id, title: '', channel: '', tags: '', transcript: '', duration_seconds: 0, view_count: null, like_count: null, comment_count: null, channel_follower_count: null, missing_metadata: true };
    }
  },
  itemKey: (item) => item.video_id,
  processItem: classifyItem,
};
