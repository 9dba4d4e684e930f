import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Semaphore } from '@finevideo/llm';
import { seededRandom } from '../ytcommons/index.js';

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
}

export interface FakeTgiStats {
  requests: number;
  served: number;
  faults: Record<TgiFault, number>;
  maxConcurrent: number;
  /** Requests refused because they carried response_format (rejectResponseFormat). */
  rejectedResponseFormat: number;
  /** Chat requests per "Title:" line seen, to check nothing is asked twice without need. */
  byTitle: Map<string, number>;
}

export interface FakeTgi {
  url: string;
  /** The OpenAI-compatible base URL (url + "/v1"). */
  baseURL: string;
  stats: FakeTgiStats;
  close(): Promise<void>;
}

interface ChatBody {
  model?: string;
  messages?: { role: string; content: string }[];
  max_tokens?: number;
  response_format?: { type: string; json_schema?: { name?: string; schema?: Record<string, unknown> } };
}

/** The first property of a JSON schema that carries an enum: TGI's grammar would force one of its values. */
function enumOf(schema: unknown): { property: string; values: string[] } | undefined {
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
 * /health, /info, /generate and the OpenAI-compatible /v1/chat/completions (response_format
 * json_schema honoured as a grammar), with a capacity and latency model and injected faults.
 */
export async function startFakeTgi(options: FakeTgiOptions = {}): Promise<FakeTgi> {
  const capacity = options.capacity ?? 8;
  const latency = options.latencyMs ?? 10;
  const rnd = seededRandom(options.seed ?? 1);
  const started = Date.now();
  const stats: FakeTgiStats = { requests: 0, served: 0, faults: { '429': 0, '503': 0, timeout: 0, malformed: 0 }, maxConcurrent: 0, rejectedResponseFormat: 0, byTitle: new Map() };
  // The server's batch: `capacity` requests served at once, the rest queued in arrival order.
  const batch = new Semaphore(capacity);
  const sockets = new Set<Socket>();
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
      if (req.method === 'GET' && path === '/health') {
        return Date.now() - started >= (options.readyAfterMs ?? 0) ? res.writeHead(200).end() : json(res, 503, { error: 'Model is loading' });
      }
      if (req.method === 'GET' && path === '/info') {
        return json(res, 200, { model_id: options.modelId ?? 'fake/llama-3.1-70b-instruct', max_concurrent_requests: capacity, max_input_tokens: 8000, max_total_tokens: 8192, version: 'fake' });
      }
      if (req.method !== 'POST' || (path !== '/generate' && path !== '/v1/chat/completions')) return json(res, 404, { error: `no route ${req.method} ${path}` });
      const body = (await readBody(req)) as ChatBody & { inputs?: string };
      stats.requests++;
      if (options.rejectResponseFormat && body.response_format) {
        stats.rejectedResponseFormat++;
        return json(res, 422, { error: 'Input validation error: grammar is not supported', error_type: 'validation' });
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
      if (path === '/generate') {
        return json(res, 200, { generated_text: fakeAnswerFor(body.inputs ?? '', ['Music Videos', 'Cooking Tutorials', 'Tech Reviews']) });
      }
      const prompt = (body.messages ?? []).map((m) => m.content).join('\n');
      const title = /^Title: (.*)$/m.exec(prompt)?.[1] ?? '';
      stats.byTitle.set(title, (stats.byTitle.get(title) ?? 0) + 1);
      const schemaEnum = enumOf(body.response_format?.json_schema?.schema);
      const listed = [...prompt.matchAll(/^- (.+)$/gm)].map((m) => m[1]!.trim());
      let content: string;
      if (schemaEnum && options.constrained !== false) {
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
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
