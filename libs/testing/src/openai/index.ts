import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type FakeModelServer } from '../http.js';
import { enumOf, fakeAnswerFor } from '../tgi/index.js';

export interface FakeOpenAiOptions {
  /**
   * openai: every route needs the key (401 with OpenAI's error object), no /health (404).
   * vllm: `vllm serve --api-key` guards /v1 only; /health answers 200 and /version the version.
   */
  kind?: 'openai' | 'vllm';
  /** The key the server expects; undefined: no key needed. */
  apiKey?: string;
  /** The model it serves; another model name is a 404, as both servers answer. */
  modelId?: string;
  version?: string;
  latencyMs?: number;
}

export interface FakeOpenAiStats {
  requests: number;
  served: number;
  unauthorized: number;
  /** Accepted requests per response_format type ("json_schema", "json_object", "text", "none"). */
  responseFormats: Record<string, number>;
  /** Requests refused with 400 for a response_format shape these servers do not know (TGI's {type: "json", value}). */
  rejectedResponseFormat: number;
}

export type FakeOpenAi = FakeModelServer<FakeOpenAiStats>;

interface Body {
  model?: string;
  messages?: { role: string; content: string }[];
  max_tokens?: number;
  response_format?: { type?: unknown; json_schema?: { name?: unknown; schema?: unknown; strict?: unknown } };
}

/** OpenAI shows a masked key in its 401 (a few characters of each end): the client must not pass it on. */
const masked = (key: string) => `${key.slice(0, 3)}${'*'.repeat(Math.max(0, key.length - 7))}${key.slice(-4)}`;

/**
 * A fake OpenAI-compatible server (OpenAI's API or vLLM's, by `kind`) on 127.0.0.1, a real HTTP
 * server: /v1/chat/completions with structured outputs in OpenAI's form, response_format
 * {type: "json_schema", json_schema: {name, schema, strict}}; other shapes are a 400 as both answer.
 */
export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const kind = options.kind ?? 'openai';
  const model = options.modelId ?? 'fake-model';
  const stats: FakeOpenAiStats = { requests: 0, served: 0, unauthorized: 0, responseFormats: {}, rejectedResponseFormat: 0 };
  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const apiError = (res: ServerResponse, status: number, message: string, code: string | null, type = 'invalid_request_error') => json(res, status, { error: { message, type, param: null, code } });
  const readBody = async (req: IncomingMessage): Promise<Body> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Body;
  };
  const server = createServer((req, res) => {
    (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const guarded = kind === 'openai' || path.startsWith('/v1/');
      if (options.apiKey !== undefined && guarded && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        stats.unauthorized++;
        const sent = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (kind === 'vllm') return json(res, 401, { error: 'Unauthorized' });
        return apiError(res, 401, sent ? `Incorrect API key provided: ${masked(sent)}. You can find your API key at https://platform.openai.com/account/api-keys.` : 'You didn\'t provide an API key.', sent ? 'invalid_api_key' : null);
      }
      if (req.method === 'GET' && path === '/health' && kind === 'vllm') return res.writeHead(200).end();
      if (req.method === 'GET' && path === '/version' && kind === 'vllm') return json(res, 200, { version: options.version ?? '0.8.5' });
      if (req.method === 'GET' && path === '/v1/models') return json(res, 200, { object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: kind }] });
      if (req.method !== 'POST' || path !== '/v1/chat/completions') return apiError(res, 404, `Invalid URL (${req.method} ${path})`, null);
      const body = await readBody(req);
      stats.requests++;
      if (body.model !== model) return apiError(res, 404, `The model \`${String(body.model)}\` does not exist or you do not have access to it.`, 'model_not_found');
      const rf = body.response_format;
      let schema: unknown;
      if (rf) {
        if (rf.type === 'json_schema') {
          const js = rf.json_schema;
          if (!js || typeof js.name !== 'string' || !js.schema || typeof js.schema !== 'object') {
            stats.rejectedResponseFormat++;
            return apiError(res, 400, "Missing required parameter: 'response_format.json_schema' (with name and schema).", 'missing_required_parameter');
          }
          schema = js.schema;
        } else if (rf.type !== 'json_object' && rf.type !== 'text') {
          stats.rejectedResponseFormat++;
          return apiError(res, 400, `Invalid value: '${String(rf.type)}'. Supported values are: 'json_object', 'json_schema', and 'text'.`, 'invalid_value');
        }
      }
      const format = typeof rf?.type === 'string' ? rf.type : 'none';
      stats.responseFormats[format] = (stats.responseFormats[format] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, options.latencyMs ?? 2));
      const prompt = (body.messages ?? []).map((m) => m.content).join('\n');
      const schemaEnum = enumOf(schema);
      const listed = [...prompt.matchAll(/^- (.+)$/gm)].map((m) => m[1]!.trim());
      const content = schemaEnum
        ? JSON.stringify({ [schemaEnum.property]: fakeAnswerFor(prompt, schemaEnum.values) })
        : `The best category is: ${fakeAnswerFor(prompt, listed.length ? listed : ['Unknown'])}.`;
      stats.served++;
      const promptTokens = Math.ceil(prompt.length / 4);
      const completionTokens = Math.ceil(content.length / 4);
      json(res, 200, {
        id: `chatcmpl-${stats.requests}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
        choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    })().catch((e: unknown) => apiError(res, 400, (e as Error).message, null));
  });
  const { url, close } = await listenOnLoopback(server);
  return {
    url,
    baseURL: `${url}/v1`,
    stats,
    close,
  };
}
