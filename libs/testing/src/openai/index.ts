import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type FakeModelServer } from '../http.js';
import { enumOf, fakeAnswerFor } from '../tgi/index.js';
import { annotationAnswerFor, looksLikeContentMetadata } from '../annotation-fixture.js';
import { imageTokens, readMessages, strictSchemaProblem, type ReceivedImage } from './checks.js';

export { decodeImageUrl, imageTokens, jpegSize, readMessages, strictSchemaProblem, type ReceivedImage } from './checks.js';

/** One chat request, as the `answer` callback sees it. */
export interface FakeOpenAiRequest {
  model: string;
  /** Every text of every message (string contents and text parts), joined with newlines. */
  prompt: string;
  /** The images of image_url parts, decoded and checked. */
  images: ReceivedImage[];
  /** response_format.type, or "none". */
  responseFormat: string;
  /** The json_schema's schema and name when response_format is json_schema. */
  schema?: unknown;
  schemaName?: string;
  maxTokens?: number;
  /** The request body as sent. */
  body: Record<string, unknown>;
}

/** An answer: the message content, or content with a finish reason ("length": cut at max_tokens). */
export type OpenAiAnswer = string | { content: string; finish_reason?: 'stop' | 'length' | 'content_filter' };

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
  /**
   * Refuse a json_schema with strict: true that is not strict (an object without additionalProperties: false
   * or not listing every property in required) with OpenAI's 400 (kind openai only: vLLM accepts any schema).
   * Default false, so callers that send loose schemas keep working; annotation tests turn it on.
   */
  strictSchemas?: boolean;
  /** The answer content of each request. Default: a sample content_metadata when the json_schema looks like one, else a category. */
  answer?: (request: FakeOpenAiRequest) => OpenAiAnswer | Promise<OpenAiAnswer>;
}

export interface FakeOpenAiStats {
  requests: number;
  served: number;
  unauthorized: number;
  /** Accepted requests per response_format type ("json_schema", "json_object", "text", "none"). */
  responseFormats: Record<string, number>;
  /** Requests refused with 400 for a response_format shape these servers do not know (TGI's {type: "json", value}). */
  rejectedResponseFormat: number;
  /** Requests refused with 400 for a malformed message or content part (a bad image included). */
  rejectedMessages: number;
  /** Requests refused with 400 for a strict json_schema that is not strict (strictSchemas). */
  rejectedSchemas: number;
  /** Images received in all accepted requests, and their decoded bytes. */
  images: number;
  imageBytes: number;
  /** Per accepted request, in arrival order: how many images it carried and their decoded bytes. */
  imagesPerRequest: number[];
  imageBytesPerRequest: number[];
  /** Every image received (format, bytes, width and height read from the JPEG/PNG header). */
  receivedImages: ReceivedImage[];
  /** Usage summed over every answer. */
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export type FakeOpenAi = FakeModelServer<FakeOpenAiStats>;

interface Body {
  model?: string;
  messages?: unknown;
  max_tokens?: number;
  max_completion_tokens?: number;
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
  const stats: FakeOpenAiStats = {
    requests: 0, served: 0, unauthorized: 0, responseFormats: {}, rejectedResponseFormat: 0, rejectedMessages: 0, rejectedSchemas: 0,
    images: 0, imageBytes: 0, imagesPerRequest: [], imageBytesPerRequest: [], receivedImages: [], usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
  const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  // vLLM answers a bad request with its own ErrorResponse shape; OpenAI with {error: {message, type, param, code}}.
  const apiError = (res: ServerResponse, status: number, message: string, code: string | null, type = 'invalid_request_error', param: string | null = null) =>
    kind === 'vllm' && status === 400
      ? json(res, 400, { object: 'error', message, type: 'BadRequestError', param, code: 400 })
      : json(res, status, { error: { message, type, param, code } });
  const readBody = async (req: IncomingMessage): Promise<Body> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Body;
  };
  /** A sample annotation fitted to a "duration: N" the prompt states (else 30 s), for a content_metadata schema; a category otherwise. */
  const defaultAnswer = (request: FakeOpenAiRequest): string => {
    const { prompt, schema } = request;
    if (schema !== undefined && looksLikeContentMetadata(schema)) return annotationAnswerFor(prompt);
    const schemaEnum = enumOf(schema);
    const listed = [...prompt.matchAll(/^- (.+)$/gm)].map((m) => m[1]!.trim());
    return schemaEnum
      ? JSON.stringify({ [schemaEnum.property]: fakeAnswerFor(prompt, schemaEnum.values) })
      : `The best category is: ${fakeAnswerFor(prompt, listed.length ? listed : ['Unknown'])}.`;
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
      const read = readMessages(body.messages);
      if ('message' in read) {
        stats.rejectedMessages++;
        return apiError(res, 400, read.message, read.code, 'invalid_request_error', read.param);
      }
      const rf = body.response_format;
      let schema: unknown;
      let schemaName: string | undefined;
      if (rf) {
        if (rf.type === 'json_schema') {
          const js = rf.json_schema;
          if (!js || typeof js.name !== 'string' || !js.schema || typeof js.schema !== 'object') {
            stats.rejectedResponseFormat++;
            return apiError(res, 400, "Missing required parameter: 'response_format.json_schema' (with name and schema).", 'missing_required_parameter');
          }
          if (kind === 'openai' && !/^[a-zA-Z0-9_-]{1,64}$/.test(js.name)) {
            stats.rejectedResponseFormat++;
            return apiError(res, 400, "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", 'invalid_value', 'invalid_request_error', 'response_format.json_schema.name');
          }
          const problem = kind === 'openai' && options.strictSchemas && js.strict === true ? strictSchemaProblem(js.name, js.schema) : undefined;
          if (problem) {
            stats.rejectedSchemas++;
            return apiError(res, 400, problem, null, 'invalid_request_error', 'response_format');
          }
          schema = js.schema;
          schemaName = js.name;
        } else if (rf.type !== 'json_object' && rf.type !== 'text') {
          stats.rejectedResponseFormat++;
          return apiError(res, 400, `Invalid value: '${String(rf.type)}'. Supported values are: 'json_object', 'json_schema', and 'text'.`, 'invalid_value');
        }
      }
      const format = typeof rf?.type === 'string' ? rf.type : 'none';
      stats.responseFormats[format] = (stats.responseFormats[format] ?? 0) + 1;
      const imageBytes = read.images.reduce((s, i) => s + i.bytes, 0);
      stats.images += read.images.length;
      stats.imageBytes += imageBytes;
      stats.imagesPerRequest.push(read.images.length);
      stats.imageBytesPerRequest.push(imageBytes);
      for (const image of read.images) stats.receivedImages.push(image);
      await new Promise((r) => setTimeout(r, options.latencyMs ?? 2));
      const prompt = read.text;
      const request: FakeOpenAiRequest = {
        model, prompt, images: read.images, responseFormat: format, body: body as Record<string, unknown>,
        ...(schema !== undefined ? { schema } : {}), ...(schemaName !== undefined ? { schemaName } : {}),
        ...((body.max_completion_tokens ?? body.max_tokens) !== undefined ? { maxTokens: body.max_completion_tokens ?? body.max_tokens } : {}),
      };
      let answer: OpenAiAnswer;
      try {
        answer = options.answer ? await options.answer(request) : defaultAnswer(request);
      } catch (e) {
        return apiError(res, 500, `fake OpenAI: the answer callback failed: ${(e as Error).message}`, null, 'server_error');
      }
      const content = typeof answer === 'string' ? answer : answer.content;
      const finishReason = typeof answer === 'string' ? 'stop' : (answer.finish_reason ?? 'stop');
      stats.served++;
      const promptTokens = Math.ceil(prompt.length / 4) + read.images.reduce((s, i) => s + imageTokens(i), 0);
      const completionTokens = Math.ceil(content.length / 4);
      const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
      stats.usage.prompt_tokens += usage.prompt_tokens;
      stats.usage.completion_tokens += usage.completion_tokens;
      stats.usage.total_tokens += usage.total_tokens;
      json(res, 200, {
        id: `chatcmpl-${stats.requests}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
        choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: finishReason }],
        usage,
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
