import { z } from 'zod';
import { ConfigError, httpUrl, isVideoId, type ItemContext, type MapStage, type Outcome, type Row } from '@finevideo/core';
import { LEAF_NAMES, leafInfo } from '@finevideo/dataset';
import { ChatClient, LlmError, describeServer, resolveServer, responseFormatName, waitForHealth, type ServerInfo } from '@finevideo/llm';
import { parseDuration } from '../worddensity/index.js';
import { sourceRefOf, withSourceText } from '../ytcommons/source-text.js';
import { answerKeyOf, lookupAnswer, storeAnswer } from './answers.js';
import { DEFAULT_TEMPLATE, answerToLeaf, buildPrompt, lexicalBaseline, type PromptFields } from './prompt.js';

export { DEFAULT_TEMPLATE, answerToLeaf, buildPrompt, lexicalBaseline } from './prompt.js';

const NO_ENDPOINT = 'nothing; set method: lexical-baseline to run without a model';

export const classifyParams = z.strictObject({
  /** llm: a model server labels videos. lexical-baseline: taxonomy terms matched in the text (no model), chosen explicitly. */
  method: z.enum(['llm', 'lexical-baseline']).default('llm'),
  /** OpenAI-compatible base URL (TGI: http://tgi.finevideo.svc/v1). Required for method llm. */
  endpoint: httpUrl('classify.endpoint').optional(),
  /** The server's dialect of constrained decoding: auto detects TGI (and its version) from /info, vLLM from /version. */
  serverKind: z.enum(['auto', 'tgi', 'vllm', 'openai']).default('auto'),
  model: z.string().default('meta-llama/Meta-Llama-3.1-70B-Instruct'),
  /** Name of the environment variable holding the API key (filled from a Secret on Kubernetes). */
  apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).default('FINEVIDEO_LLM_API_KEY'),
  concurrency: z.number().int().min(1).max(1024).default(64),
  timeoutMs: z.number().int().positive().default(60_000),
  maxRetries: z.number().int().min(0).max(20).default(6),
  retryBaseDelayMs: z.number().int().min(0).default(500),
  /** A server's Retry-After (429, 503) is honoured up to this many seconds, never unbounded. */
  maxRetryAfterSeconds: z.number().min(0).default(120),
  /** Wait this long for the server's /health before the first request (0: do not wait). */
  waitForHealthSeconds: z.number().min(0).default(900),
  /** Time between /health probes while waiting (one "waiting for the model server" line each). */
  healthIntervalSeconds: z.number().positive().default(5),
  /** Ask for constrained decoding (a JSON schema whose category is an enum of the leaves). */
  constrained: z.boolean().default(true),
  template: z.string().min(1).default(DEFAULT_TEMPLATE),
  transcriptChars: z.number().int().positive().default(5000),
  /** The earlier stage whose table holds titles, channels and transcripts. */
  metadataStage: z.string().default('ytcommons'),
  /** Ask the model again even when an answer for the same model, prompt and schema is stored. */
  force: z.boolean().default(false),
}).superRefine((p, ctx) => {
  // No silent fallback to the baseline: a run without a model is asked for by name.
  if (p.method === 'llm' && !p.endpoint) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'an http(s) URL for method llm', params: { redactedValue: NO_ENDPOINT } });
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
  /** The server is ready and its dialect known; rejects with a SystemicError that fails the chunk. */
  ready: Promise<ServerInfo>;
  /** Set once the server has refused response_format (no grammar support) and answered without it. */
  schemaRejected: boolean;
}
const clients = new Map<string, ClientEntry>();

/** Waits for /health, then learns the server's dialect (from /info unless serverKind names it). */
async function prepare(client: ChatClient, endpoint: string, apiKey: string | undefined, ctx: ItemContext<ClassifyParams>): Promise<ServerInfo> {
  const p = ctx.params;
  const probe = { apiKey, apiKeyEnv: p.apiKeyEnv, signal: ctx.signal };
  if (p.waitForHealthSeconds > 0) {
    await waitForHealth(endpoint, { ...probe, timeoutMs: p.waitForHealthSeconds * 1000, intervalMs: p.healthIntervalSeconds * 1000, maxRetryAfterMs: p.maxRetryAfterSeconds * 1000, onWait: (line) => ctx.log.info(line) });
  }
  const server = await resolveServer(endpoint, p.serverKind, probe);
  client.useServer(server);
  const form = p.constrained ? `response_format ${responseFormatName(server)}` : 'no response_format (constrained: false)';
  ctx.log.info(`model server at ${endpoint}: ${describeServer(server)}; sending ${form}`);
  return server;
}

/** One client per worker process: its semaphore bounds the requests in flight across the chunk. */
function clientFor(ctx: ItemContext<ClassifyParams>, endpoint: string): ClientEntry {
  const p = ctx.params;
  const apiKey = process.env[p.apiKeyEnv] || undefined;
  const key = JSON.stringify([endpoint, p.model, p.apiKeyEnv, p.serverKind, p.concurrency, p.timeoutMs, p.maxRetries, p.retryBaseDelayMs, p.maxRetryAfterSeconds]);
  let entry = clients.get(key);
  if (!entry) {
    const client = new ChatClient({
      baseURL: endpoint, model: p.model, apiKey, apiKeyEnv: p.apiKeyEnv, concurrency: p.concurrency, timeoutMs: p.timeoutMs,
      maxRetries: p.maxRetries, baseDelayMs: p.retryBaseDelayMs, maxRetryAfterMs: p.maxRetryAfterSeconds * 1000,
    });
    const ready = prepare(client, endpoint, apiKey, ctx);
    entry = { client, ready, schemaRejected: false };
    clients.set(key, entry);
    // A failed start is not cached: a later chunk in this process (or a test) starts over.
    ready.catch(() => clients.delete(key));
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
  if (p.method === 'lexical-baseline') {
    ctx.count('baseline_items');
    const guess = lexicalBaseline(fields);
    const extra = { method: 'lexical-baseline', raw_answer: guess?.basis ?? '', constrained: false, prompt_tokens: 0, completion_tokens: 0 };
    return guess ? { status: 'kept', row: rowFor(item, guess.leaf, extra) } : { status: 'dropped', reason: 'no-taxonomy-term', row: rowFor(item, null, extra) };
  }
  if (!p.endpoint) throw new ConfigError(`classify.endpoint: expected an http(s) URL for method llm, got ${NO_ENDPOINT}`);
  const prompt = buildPrompt(p.template, fields);
  const answerKey = answerKeyOf(p.model, prompt, p.constrained ? CATEGORY_SCHEMA : null, MAX_TOKENS);
  // Ids come from our rows; only a checked one becomes a storage key (others are asked, never stored).
  const storable = isVideoId(item.video_id);
  if (storable && !p.force) {
    const stored = await lookupAnswer(ctx.store, item.video_id, answerKey);
    if (stored.status === 'hit') {
      ctx.count('answers_reused');
      return answerOutcome(item, stored.answer, true);
    }
    if (stored.status === 'invalid') {
      ctx.count('answers_invalid');
      ctx.log.warn(`classify ${item.video_id}: stored answer invalid, asking again: ${stored.reason}`);
    }
  }
  const entry = clientFor(ctx, p.endpoint);
  // A server that never becomes ready, or refuses the key, fails the chunk (SystemicError), not its items.
  await entry.ready;
  const ask = (withSchema: boolean) => entry.client.chat({
    messages: [{ role: 'user', content: prompt }],
    maxTokens: MAX_TOKENS,
    ...(withSchema ? { jsonSchema: CATEGORY_SCHEMA } : {}),
    signal: ctx.signal,
  });
  try {
    let result;
    const asked = p.constrained && !entry.schemaRejected;
    try {
      result = await ask(asked);
    } catch (error) {
      // A server without grammar support refuses response_format with a 400/422: ask once more in free
      // text (mapped onto a leaf below), and stop sending the schema once that is confirmed.
      if (!(asked && error instanceof LlmError && error.errorClass === 'bad-request')) throw error;
      result = await ask(false);
      ctx.count('response_format_rejected');
      if (!entry.schemaRejected) ctx.log.warn(`${p.endpoint} rejected response_format (${error.message.slice(0, 200)}); asking in free text and mapping answers onto leaves`);
      entry.schemaRejected = true;
    }
    ctx.count('prompt_tokens', result.promptTokens);
    ctx.count('completion_tokens', result.completionTokens);
    ctx.count('llm_attempts', result.attempts);
    const answer = { key: answerKey, model: p.model, content: result.content, constrained: result.constrained, promptTokens: result.promptTokens, completionTokens: result.completionTokens, answeredAt: new Date().toISOString() };
    if (storable) await storeAnswer(ctx.store, item.video_id, answer);
    return answerOutcome(item, answer, false);
  } catch (error) {
    // Only this item's request was refused (a 400/422, an unreadable answer): an error row. Anything
    // else (SystemicError: a refused key, the endpoint down past its retries) fails the chunk.
    if (error instanceof LlmError) return { status: 'error', reason: `llm ${error.errorClass}: ${error.message}`, row: rowFor(item, null, { method: 'llm' }) };
    throw error;
  }
}

const MAX_TOKENS = 20;

/** The row of an answer, fresh or stored: a reused answer costs nothing this time (its tokens are its own). */
function answerOutcome(item: ClassifyItem, answer: { content: string; constrained: boolean; promptTokens: number; completionTokens: number }, reused: boolean): Outcome {
  const mapped = answerToLeaf(answer.content);
  const extra = {
    method: 'llm', raw_answer: answer.content.slice(0, 500), constrained: answer.constrained && Boolean(mapped?.fromJson),
    prompt_tokens: answer.promptTokens, completion_tokens: answer.completionTokens, answer_reused: reused,
  };
  // An answer that names no leaf stays in the table with its own reason; select never sees it.
  return mapped ? { status: 'kept', row: rowFor(item, mapped.leaf, extra) } : { status: 'dropped', reason: 'unmapped-answer', row: rowFor(item, null, extra) };
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
  itemConcurrency: (p) => (p.method === 'llm' ? p.concurrency : 1),
  inputColumns: ['video_id'],
  async *listItems(ctx) {
    const wanted = new Set<string>();
    for await (const row of ctx.previousRows()) if (typeof row.video_id === 'string') wanted.add(row.video_id);
    if (wanted.size === 0) return;
    let found = 0;
    const p = ctx.params;
    async function* matched(): AsyncIterable<Row> {
      try {
        for await (const m of ctx.stageRows(p.metadataStage)) {
          const id = m.video_id;
          if (typeof id !== 'string' || !wanted.delete(id)) continue;
          found++;
          yield m;
        }
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(`classify.params.metadataStage: ${e.message}`);
        throw e;
      }
    }
    // ytcommons keeps a reference to each transcript in its source shard (it does not copy them):
    // read the first transcriptChars of each, shard by shard. A table that holds `text` is used as it is.
    const refOf = (m: Row) => (typeof m.text === 'string' ? undefined : sourceRefOf(m));
    for await (const { entry: m, text } of withSourceText(matched(), refOf, { maxChars: p.transcriptChars })) {
      yield {
        video_id: String(m.video_id), title: String(m.title ?? ''), channel: String(m.channel ?? ''),
        tags: Array.isArray(m.tags) ? m.tags.join(', ') : String(m.tags ?? ''),
        transcript: String(text ?? m.text ?? '').slice(0, p.transcriptChars),
        duration_seconds: parseDuration(m.duration_string) ?? 0,
        view_count: num(m.view_count), like_count: num(m.like_count), comment_count: num(m.comment_count), channel_follower_count: num(m.channel_follower_count),
      };
    }
    if (wanted.size) ctx.log.warn(`${wanted.size} videos have no metadata row in ${p.metadataStage}`, { found });
    for (const id of wanted) {
      yield { video_id: id, title: '', channel: '', tags: '', transcript: '', duration_seconds: 0, view_count: null, like_count: null, comment_count: null, channel_follower_count: null, missing_metadata: true };
    }
  },
  itemKey: (item) => item.video_id,
  processItem: classifyItem,
  paidItems: (p) => p.method === 'llm',
};
