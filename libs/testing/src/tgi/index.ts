import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type FakeModelServer } from '../http.js';
import { Semaphore, atLeast as versionAtLeast, parseVersion } from '@finevideo/llm';
import { seededRandom } from '@finevideo/core';
import { annotationAnswerFor, looksLikeContentMetadata } from '../annotation-fixture.js';
import { decodeImageUrl, type ReceivedImage } from '../openai/checks.js';

export type TgiFault = '429' | '503' | 'timeout' | 'malformed';

export interface FakeTgiOptions {
  /** Requests served at once; the rest queue (TGI's continuous batching, simplified). */
  capacity?: number;
  /** Time one request holds a slot. */
  latencyMs?: number;
  /** false: the server ignores response_format (no grammar support) and answers free text. */
  constrained?: boolean;
  /** The server refuses any request with response_format, as TGI does with grammar support disabled (422). */
  rejectResponseFormat?: boolean;
  /** Share of free-text answers that name no category at all (only when not constrained). */
  unmappableRate?: number;
  /** Share of requests answered with a fault, drawn from `faultKinds` with a seeded RNG. */
  faultRate?: number;
  faultKinds?: TgiFault[];
  retryAfterSeconds?: number;
  seed?: number;
  /** /health answers 503 until this much time has passed (model loading). */
  readyAfterMs?: number;
  modelId?: string;
  /**
   * The TGI version /info reports; the Messages API accepts the response_format shapes of that version
   * (router/src/lib.rs GrammarType): "json" from 1.4.3, its alias "json_object" from 2.1.0, "json_schema"
   * (with a `value`) from 3.3.0; anything else is a 422, as serde refuses it. Default 3.3.4 (our manifests).
   */
  version?: string;
  /** TGI's --api-key: POST routes need `Authorization: Bearer <key>` (401 otherwise); /health and /info stay open. */
  apiKey?: string;
  /** A proxy in front (an inference endpoint) that asks for the key on every route, /health included. */
  keyOnEveryRoute?: boolean;
  /** max_total_tokens: a prompt (chars / 4) plus max_tokens above it is a 422, as TGI validates. */
  maxTotalTokens?: number;
}

export interface FakeTgiStats {
  requests: number;
  served: number;
  faults: Record<TgiFault, number>;
  maxConcurrent: number;
  /** Requests refused because they carried response_format (rejectResponseFormat, or a shape this version does not know). */
  rejectedResponseFormat: number;
  /** Accepted constrained requests per form: "chat:json", "chat:json_object", "chat:json_schema", "generate:json", ... */
  grammars: Record<string, number>;
  /** Requests refused for a missing or wrong key. */
  unauthorized: number;
  /** Chat requests refused (422) for messages this version cannot read: content parts before 2.0.2, an unknown part type, a bad image. */
  rejectedMessages: number;
  /** Chat requests per "Title:" line seen, to check nothing is asked twice without need. */
  byTitle: Map<string, number>;
  /** Images of image_url parts (base64 data URLs, checked) per accepted chat request, and in all. */
  imagesPerRequest: number[];
  images: number;
}

export type FakeTgi = FakeModelServer<FakeTgiStats>;

interface ChatBody {
  model?: string;
  messages?: unknown;
  max_tokens?: number;
  temperature?: number;
  response_format?: { type?: unknown; value?: unknown; json_schema?: unknown };
}

interface GenerateBody {
  inputs?: string;
  parameters?: { max_new_tokens?: number; temperature?: number; grammar?: { type?: unknown; value?: unknown } };
}

/** The fake's version gate: the client's own comparison (an unreadable version counts as the newest). */
function atLeast(version: string, min: [number, number, number]): boolean {
  const v = parseVersion(version);
  return v === undefined || versionAtLeast(v, min);
}

/**
 * Reads a grammar as the TGI router of `version` deserializes GrammarType (`tag = "type", content =
 * "value"`): the schema to follow, "regex" (free text here), or the serde error TGI answers 422 with.
 */
function tgiGrammar(version: string, grammar: { type?: unknown; value?: unknown }): { schema?: unknown; type: string } | { error: string } {
  const types = ['json', 'regex', ...(atLeast(version, [2, 1, 0]) ? ['json_object'] : []), ...(atLeast(version, [3, 3, 0]) ? ['json_schema'] : [])];
  if (typeof grammar.type !== 'string' || !types.includes(grammar.type)) {
    return { error: `unknown variant \`${String(grammar.type)}\`, expected one of ${types.map((t) => `\`${t}\``).join(', ')}` };
  }
  if (!('value' in grammar)) return { error: 'missing field `value`' };
  if (grammar.type === 'regex') return typeof grammar.value === 'string' ? { type: 'regex' } : { error: 'invalid type: expected a string' };
  if (grammar.type === 'json_schema') {
    const v = grammar.value as { schema?: unknown } | null;
    if (!v || typeof v !== 'object' || !('schema' in v)) return { error: 'missing field `schema`' };
    return { type: 'json_schema', schema: v.schema };
  }
  return { type: grammar.type, schema: grammar.value };
}

/**
 * Reads chat messages as the TGI router of `version` deserializes them (router/src/lib.rs): `content` a
 * string only before 2.0.2; from 2.0.2 a string or chunks {type: "text", text} / {type: "image_url",
 * image_url: {url}} (another type: "invalid content type" up to 2.1, an untagged-enum miss from 2.2).
 * Images are base64 data URLs here (TGI would fetch an http URL; the fake cannot), decoded and checked.
 */
export function readTgiMessages(version: string, messages: unknown): { text: string; images: ReceivedImage[] } | { error: string; validation?: true } {
  if (!Array.isArray(messages)) return { error: 'messages: invalid type: expected a sequence' };
  const texts: string[] = [];
  const images: ReceivedImage[] = [];
  const chunks = atLeast(version, [2, 0, 2]);
  for (const [i, raw] of messages.entries()) {
    const m = (raw ?? {}) as { role?: unknown; content?: unknown };
    if (typeof m.role !== 'string') return { error: `messages[${i}]: missing field \`role\`` };
    if (typeof m.content === 'string') {
      texts.push(m.content);
      continue;
    }
    if (!chunks || !Array.isArray(m.content)) return { error: `messages[${i}].content: invalid type: ${Array.isArray(m.content) ? 'sequence' : typeof m.content}, expected a string` };
    const parts: string[] = [];
    for (const [j, chunk] of m.content.entries()) {
      const c = (chunk ?? {}) as { type?: unknown; text?: unknown; image_url?: { url?: unknown } };
      if (c.type === 'text' && typeof c.text === 'string') parts.push(c.text);
      else if (c.type === 'image_url' && c.image_url && typeof c.image_url.url === 'string') {
        const image = decodeImageUrl(c.image_url.url, `messages[${i}].content[${j}].image_url.url`);
        // Read by the router's validation (it fetches and decodes the image), not by serde.
        if ('message' in image) return { error: image.message, validation: true };
        images.push(image);
        parts.push(`![](${c.image_url.url.slice(0, 40)}...)`);
      } else return { error: atLeast(version, [2, 2, 0]) ? `messages[${i}]: data did not match any variant of untagged enum MessageBody` : `messages[${i}].content: invalid content type` };
    }
    texts.push(parts.join(''));
  }
  return { text: texts.join('\n'), images };
}

/** The first property of a JSON schema that carries an enum: TGI's grammar would force one of its values. */
export function enumOf(schema: unknown): { property: string; values: string[] } | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const props = (schema as { properties?: Record<string, { enum?: unknown[] }> }).properties ?? {};
  for (const [property, def] of Object.entries(props)) {
    if (Array.isArray(def.enum) && def.enum.every((v) => typeof v === 'string')) return { property, values: def.enum as string[] };
  }
  return undefined;
}

const hash = (text: string) => [...text].reduce((a, c) => (Math.imul(a, 31) + c.charCodeAt(0)) >>> 0, 17);

/** A category for a prompt, deterministic: one whose words appear in the title, else one by hash. */
export function fakeAnswerFor(prompt: string, values: readonly string[]): string {
  const title = (/^Title: (.*)$/m.exec(prompt)?.[1] ?? prompt).toLowerCase();
  const hit = values.find((v) => v.toLowerCase().split(/[^a-z]+/).some((w) => w.length > 4 && title.includes(w)));
  return hit ?? values[hash(prompt) % values.length]!;
}

/**
 * A fake text-generation-inference server speaking TGI's real wire protocol on 127.0.0.1:
 * /health, /info (with the version it claims), /generate (parameters.grammar) and the Messages API
 * /v1/chat/completions (response_format in the shapes that version knows, 422 for the others:
 * OpenAI's {type: "json_schema", json_schema: ...} has no `value`, so every TGI refuses it),
 * --api-key's 401, with a capacity and latency model and injected faults.
 */
export async function startFakeTgi(options: FakeTgiOptions = {}): Promise<FakeTgi> {
  const capacity = options.capacity ?? 8;
  const latency = options.latencyMs ?? 10;
  const rnd = seededRandom(options.seed ?? 1);
  const started = Date.now();
  const version = options.version ?? '3.3.4';
  const grammarsSupported = atLeast(version, [1, 4, 3]);
  const stats: FakeTgiStats = { requests: 0, served: 0, faults: { '429': 0, '503': 0, timeout: 0, malformed: 0 }, maxConcurrent: 0, rejectedResponseFormat: 0, rejectedMessages: 0, grammars: {}, unauthorized: 0, byTitle: new Map(), imagesPerRequest: [], images: 0 };
  // axum's Json extractor answers a body serde cannot read with 422 and a plain-text reason.
  const unprocessable = (res: ServerResponse, reason: string, counter: 'rejectedResponseFormat' | 'rejectedMessages' = 'rejectedResponseFormat') => {
    stats[counter]++;
    res.writeHead(422, { 'content-type': 'text/plain; charset=utf-8' }).end(`Failed to deserialize the JSON body into the target type: ${reason} at line 1 column 1`);
  };
  const keyOk = (req: IncomingMessage) => req.headers.authorization?.toLowerCase() === `bearer ${options.apiKey ?? ''}`.toLowerCase();
  // The server's batch: `capacity` requests served at once, the rest queued in arrival order.
  const batch = new Semaphore(capacity);
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  };
  const pickFault = (): TgiFault | undefined => {
    if (!options.faultRate || rnd() >= options.faultRate) return undefined;
    const kinds = options.faultKinds ?? ['429', '503', 'timeout', 'malformed'];
    return kinds[Math.floor(rnd() * kinds.length)];
  };

  const server = createServer((req, res) => {
    (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (options.apiKey !== undefined && (req.method === 'POST' || options.keyOnEveryRoute) && !keyOk(req)) {
        stats.unauthorized++;
        return res.writeHead(401).end(); // TGI's auth layer: a bare 401
      }
      if (req.method === 'GET' && path === '/health') {
        return Date.now() - started >= (options.readyAfterMs ?? 0) ? res.writeHead(200).end() : json(res, 503, { error: 'Model is loading' });
      }
      if (req.method === 'GET' && path === '/info') {
        // The fields of router/src/lib.rs `Info`.
        return json(res, 200, {
          model_id: options.modelId ?? 'fake/llama-3.1-70b-instruct', model_sha: null, model_pipeline_tag: 'text-generation',
          max_concurrent_requests: capacity, max_best_of: 2, max_stop_sequences: 4, max_input_tokens: (options.maxTotalTokens ?? 8192) - 1, max_total_tokens: options.maxTotalTokens ?? 8192,
          validation_workers: 2, max_client_batch_size: 4, router: 'text-generation-router', version, sha: null, docker_label: null,
        });
      }
      // The Messages API came with TGI 1.4.0.
      const chatServed = atLeast(version, [1, 4, 0]);
      if (req.method !== 'POST' || (path !== '/generate' && (path !== '/v1/chat/completions' || !chatServed))) return json(res, 404, { error: `no route ${req.method} ${path}` });
      const body = (await readBody(req)) as ChatBody & GenerateBody;
      stats.requests++;
      // The grammar as this version reads it: a chat response_format, or /generate's parameters.grammar.
      const grammarIn = path === '/generate' ? body.parameters?.grammar : body.response_format;
      let schema: unknown;
      if (grammarIn && grammarsSupported) {
        const g = tgiGrammar(version, grammarIn);
        if ('error' in g) return unprocessable(res, `${path === '/generate' ? 'parameters.grammar' : 'response_format'}: ${g.error}`);
        if (options.rejectResponseFormat) {
          stats.rejectedResponseFormat++;
          return json(res, 422, { error: 'Input validation error: Grammar is not supported', error_type: 'validation' });
        }
        stats.grammars[`${path === '/generate' ? 'generate' : 'chat'}:${g.type}`] = (stats.grammars[`${path === '/generate' ? 'generate' : 'chat'}:${g.type}`] ?? 0) + 1;
        schema = g.schema;
      }
      // Chat content as this version reads it (a 422 from serde otherwise); temperature 0 is greedy only from 2.0.2.
      const read = path === '/generate' ? undefined : readTgiMessages(version, body.messages);
      if (read && 'error' in read) {
        if (!read.validation) return unprocessable(res, read.error, 'rejectedMessages');
        stats.rejectedMessages++;
        return json(res, 422, { error: `Input validation error: ${read.error}`, error_type: 'validation' });
      }
      if (read) {
        stats.imagesPerRequest.push(read.images.length);
        stats.images += read.images.length;
      }
      const temperature = path === '/generate' ? body.parameters?.temperature : body.temperature;
      if (typeof temperature === 'number' && temperature <= 0 && (path === '/generate' || !atLeast(version, [2, 0, 2]))) {
        return json(res, 422, { error: 'Input validation error: `temperature` must be strictly positive', error_type: 'validation' });
      }
      const promptText = read ? read.text : (body.inputs ?? '');
      const maxNew = (path === '/generate' ? body.parameters?.max_new_tokens : body.max_tokens) ?? 20;
      if (options.maxTotalTokens && Math.ceil(promptText.length / 4) + maxNew > options.maxTotalTokens) {
        return json(res, 422, { error: `Input validation error: \`inputs\` tokens + \`max_new_tokens\` must be <= ${options.maxTotalTokens}. Given: ${Math.ceil(promptText.length / 4)} \`inputs\` tokens and ${maxNew} \`max_new_tokens\``, error_type: 'validation' });
      }
      const fault = pickFault();
      if (fault) stats.faults[fault]++;
      if (fault === '429') return json(res, 429, { error: 'Model is overloaded', error_type: 'overloaded' }, { 'retry-after': String(options.retryAfterSeconds ?? 0.05) });
      if (fault === '503') return json(res, 503, { error: 'Service unavailable' }, { 'retry-after': String(options.retryAfterSeconds ?? 0.05) });
      if (fault === 'timeout') return; // accept, then never answer: the client's timeout must fire
      await batch.run(async () => {
        stats.maxConcurrent = Math.max(stats.maxConcurrent, batch.inFlight);
        await new Promise((r) => setTimeout(r, latency));
      });
      if (fault === 'malformed') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [ {"message": ');
      stats.served++;
      const prompt = promptText;
      const title = /^Title: (.*)$/m.exec(prompt)?.[1] ?? '';
      stats.byTitle.set(title, (stats.byTitle.get(title) ?? 0) + 1);
      const schemaEnum = enumOf(schema);
      if (path === '/generate') {
        const listedValues = [...prompt.matchAll(/^- (.+)$/gm)].map((m) => m[1]!.trim());
        const values = schemaEnum?.values ?? (listedValues.length ? listedValues : ['Music Videos', 'Cooking Tutorials', 'Tech Reviews']);
        const answer = fakeAnswerFor(prompt, values);
        return json(res, 200, { generated_text: schemaEnum && options.constrained !== false ? JSON.stringify({ [schemaEnum.property]: answer }) : answer });
      }
      const listed = [...prompt.matchAll(/^- (.+)$/gm)].map((m) => m[1]!.trim());
      let content: string;
      if (schema !== undefined && looksLikeContentMetadata(schema)) content = annotationAnswerFor(prompt);
      else if (schemaEnum && options.constrained !== false) {
        content = JSON.stringify({ [schemaEnum.property]: fakeAnswerFor(prompt, schemaEnum.values) });
      } else {
        const values = schemaEnum?.values ?? listed;
        content = values.length && rnd() >= (options.unmappableRate ?? 0) ? `The best category is: ${fakeAnswerFor(prompt, values)}.` : 'I am not sure what this video is about.';
      }
      const promptTokens = Math.ceil(prompt.length / 4);
      const completionTokens = Math.ceil(content.length / 4);
      json(res, 200, {
        id: `chatcmpl-${stats.requests}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: body.model ?? 'tgi',
        system_fingerprint: 'fake-tgi',
        choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    })().catch((e) => json(res, 400, { error: (e as Error).message }));
  });
  server.keepAliveTimeout = 60_000;
  const { url, close } = await listenOnLoopback(server);
  return {
    url,
    baseURL: `${url}/v1`,
    stats,
    close,
  };
}
