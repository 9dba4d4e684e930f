import { setTimeout as sleep } from 'node:timers/promises';
import { SystemicError, redactUrlCredentials } from '@finevideo/core';

/** Which dialect of constrained decoding a server speaks (see responseFormatFor). */
export type ServerKind = 'tgi' | 'vllm' | 'openai';

export interface ServerInfo {
  kind: ServerKind;
  /** The version the server reports (TGI's /info, vLLM's /version); undefined when it says none. */
  version?: string;
  modelId?: string;
}

/** A JSON schema to constrain an answer to, with a name (OpenAI requires one). */
export interface JsonSchemaSpec {
  name: string;
  schema: Record<string, unknown>;
}

/** The server root of an OpenAI-compatible base URL (".../v1" -> "..."), where TGI serves /health and /info. */
export function serverRoot(baseURL: string): string {
  return baseURL.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** "3.3.4", "2.0.5-dev0", "v1.4.3" -> [3, 3, 4]; undefined when no x.y.z is there. */
export function parseVersion(version: string | undefined): [number, number, number] | undefined {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(version ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** Whether version v is min or later. */
export function atLeast(v: [number, number, number], min: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i]! > min[i]!;
  return true;
}

/**
 * The `response_format` a server accepts for a JSON schema, from TGI's router/src/lib.rs (GrammarType,
 * `#[serde(tag = "type", content = "value")]`) and OpenAI's / vLLM's API:
 * - TGI >= 3.3.0: {type: "json_schema", value: {name, schema}}
 * - TGI 1.4.3 - 3.2.x: {type: "json", value: schema} ("json_object" is an alias only from 2.1.0)
 * - TGI < 1.4.3: none (no grammar support): undefined, the answer is free text
 * - TGI of unknown version: the "json" form, which every TGI with grammars accepts
 * - vLLM, OpenAI: {type: "json_schema", json_schema: {name, schema, strict: true}}
 */
export function responseFormatFor(server: ServerInfo, spec: JsonSchemaSpec): Record<string, unknown> | undefined {
  if (server.kind !== 'tgi') return { type: 'json_schema', json_schema: { name: spec.name, schema: spec.schema, strict: true } };
  const v = parseVersion(server.version);
  if (!v) return { type: 'json', value: spec.schema };
  if (atLeast(v, [3, 3, 0])) return { type: 'json_schema', value: { name: spec.name, schema: spec.schema } };
  if (atLeast(v, [1, 4, 3])) return { type: 'json', value: spec.schema };
  return undefined;
}

/** One part of a chat message's content: text, or an image as a URL (a base64 data URL here). */
export type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatContentPart[];
}

/** What a server's Messages API takes, from TGI's router/src/lib.rs and server.rs per version. */
export interface DialectRules {
  /** Content as a list of parts (text, image_url): TGI from 2.0.2 (before, `content` is a string), vLLM, OpenAI. */
  contentParts: boolean;
  /** temperature 0 means greedy: TGI from 2.0.2 (before, 0 is a 422 "must be strictly positive"), vLLM, OpenAI. */
  zeroTemperature: boolean;
  /** The output limit's name: OpenAI's max_completion_tokens (max_tokens is deprecated there); TGI and vLLM read max_tokens. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
}

export function dialectRules(server: ServerInfo): DialectRules {
  if (server.kind === 'openai') return { contentParts: true, zeroTemperature: true, maxTokensField: 'max_completion_tokens' };
  if (server.kind === 'vllm') return { contentParts: true, zeroTemperature: true, maxTokensField: 'max_tokens' };
  const v = parseVersion(server.version);
  // An unreadable TGI version: parts allowed (an image has no other way), temperature 0 not (near-greedy works on every version).
  return { contentParts: !v || atLeast(v, [2, 0, 2]), zeroTemperature: !!v && atLeast(v, [2, 0, 2]), maxTokensField: 'max_tokens' };
}

/** The temperature sent for "greedy" where 0 is refused: small enough that sampling picks the top token. */
export const NEAR_GREEDY_TEMPERATURE = 0.001;

export interface ChatBodyInput {
  model: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  jsonSchema?: JsonSchemaSpec;
}

/**
 * The /v1/chat/completions body in the server's dialect: response_format in its form (responseFormatFor),
 * content parts joined into one string where the server reads only strings (text parts only: an image
 * there is a SystemicError, as no request to that server could carry it), temperature and output limit as it reads them.
 */
export function chatBodyFor(server: ServerInfo, input: ChatBodyInput): Record<string, unknown> {
  const rules = dialectRules(server);
  const messages = input.messages.map((m, i) => {
    const textOnly = typeof m.content !== 'string' && m.content.every((part) => part.type === 'text');
    // Text-only parts go to TGI as one string, which every TGI version reads.
    if (typeof m.content === 'string' || (rules.contentParts && !(server.kind === 'tgi' && textOnly))) return m;
    if (!textOnly) {
      throw new SystemicError(`model endpoint: TGI ${server.version ?? ''} reads chat content as a string only (image_url parts from TGI 2.0.2); messages[${i}] carries an image: upgrade TGI or serve the model with vLLM`, 'llm dialect', false);
    }
    return { role: m.role, content: m.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n') };
  });
  const responseFormat = input.jsonSchema ? responseFormatFor(server, input.jsonSchema) : undefined;
  const temperature = input.temperature <= 0 && !rules.zeroTemperature ? NEAR_GREEDY_TEMPERATURE : input.temperature;
  return {
    model: input.model,
    messages,
    [rules.maxTokensField]: input.maxTokens,
    temperature,
    ...(responseFormat ? { response_format: responseFormat } : {}),
  };
}

/** A short name of the form responseFormatFor chose, for logs and README tables. */
export function responseFormatName(server: ServerInfo): string {
  const f = responseFormatFor(server, { name: 'x', schema: {} });
  if (!f) return 'none (no grammar support)';
  return 'value' in f ? `{type: "${String(f.type)}", value}` : '{type: "json_schema", json_schema: {name, schema, strict}}';
}

function authHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

/** The sentence about the key for a 401/403: which variable, whether it was set; never the key. */
export function keyNote(apiKey: string | undefined, apiKeyEnv: string | undefined): string {
  const name = apiKeyEnv ?? 'the API key variable';
  return apiKey ? `the key in ${name} was refused` : `no key was sent (${name} is unset or empty)`;
}

export function unauthorized(url: string, status: number, apiKey: string | undefined, apiKeyEnv: string | undefined): SystemicError {
  return new SystemicError(`model endpoint ${redactUrlCredentials(url)}: HTTP ${status} (${keyNote(apiKey, apiKeyEnv)}); fix the key and resume the run`, 'llm unauthorized', false);
}

/** Retry-After as seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | Record<string, string | null | undefined> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const value = headers instanceof Headers ? headers.get('retry-after') : (headers['retry-after'] ?? undefined);
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface ProbeOptions {
  apiKey?: string;
  /** The variable the key came from, named in messages. */
  apiKeyEnv?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

async function getJson(url: string, options: ProbeOptions): Promise<{ status: number; body: unknown }> {
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 10_000), ...(options.signal ? [options.signal] : [])];
  const r = await fetch(url, { headers: authHeaders(options.apiKey), signal: AbortSignal.any(signals) });
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, body };
}

/**
 * Which server is behind a base URL: TGI answers /info with its model_id and version (router
 * "text-generation-router"); vLLM answers /version; anything else is taken as OpenAI-compatible.
 * A 401/403 fails at once (the key is wrong); a server that does not answer is retried by the caller.
 */
export async function detectServer(baseURL: string, options: ProbeOptions = {}): Promise<ServerInfo> {
  const root = serverRoot(baseURL);
  const probe = async (path: string) => {
    try {
      const r = await getJson(`${root}${path}`, options);
      if (r.status === 401 || r.status === 403) throw unauthorized(`${root}${path}`, r.status, options.apiKey, options.apiKeyEnv);
      return r;
    } catch (error) {
      if (error instanceof SystemicError || options.signal?.aborted) throw error;
      throw new SystemicError(`model endpoint ${redactUrlCredentials(root)}${path}: no answer (${(error as Error).message})`, 'llm unavailable', true, { cause: error });
    }
  };
  const info = await probe('/info');
  const b = (info.status === 200 && info.body && typeof info.body === 'object' ? info.body : {}) as Record<string, unknown>;
  if (typeof b.model_id === 'string' && (typeof b.version === 'string' || b.router === 'text-generation-router')) {
    return { kind: 'tgi', modelId: b.model_id, ...(typeof b.version === 'string' ? { version: b.version } : {}) };
  }
  const version = await probe('/version');
  const vb = (version.status === 200 && version.body && typeof version.body === 'object' ? version.body : {}) as Record<string, unknown>;
  if (typeof vb.version === 'string') return { kind: 'vllm', version: vb.version };
  return { kind: 'openai' };
}

/**
 * The dialect to speak: detected (auto), or named. A named TGI still asks /info for its version (the
 * forms differ per version) and is taken as a TGI with grammars when /info does not answer; a refused
 * key fails at once.
 */
export async function resolveServer(baseURL: string, kind: ServerKind | 'auto', options: ProbeOptions = {}): Promise<ServerInfo> {
  if (kind === 'auto') return detectServer(baseURL, options);
  if (kind !== 'tgi') return { kind };
  const found = await detectServer(baseURL, options).catch((e: unknown) => {
    if (e instanceof SystemicError && !e.retryable) throw e;
    return undefined;
  });
  return found?.kind === 'tgi' ? found : { kind: 'tgi' };
}

/** "TGI 3.3.4 serving m", "vLLM 0.8.5", "an OpenAI-compatible server": for the log line naming the dialect. */
export function describeServer(server: ServerInfo): string {
  const name = server.kind === 'tgi' ? 'TGI' : server.kind === 'vllm' ? 'vLLM' : 'an OpenAI-compatible server';
  return `${name}${server.version ? ` ${server.version}` : ''}${server.modelId ? ` serving ${server.modelId}` : ''}`;
}

export interface WaitForHealthOptions extends ProbeOptions {
  timeoutMs: number;
  /** Time between probes, and between "waiting" lines (default 5 s). */
  intervalMs?: number;
  /** A Retry-After on a 503 is honoured up to this (default 120 s), never past the deadline. */
  maxRetryAfterMs?: number;
  /** One line per probe that found the server not ready. */
  onWait?: (line: string) => void;
}

/**
 * Waits until the server answers /health with 200 (TGI: the model is loaded), or the deadline passes.
 * Probes carry the key as requests will (a proxy in front may refuse without it). A 401/403 ends the
 * wait at once: waiting cannot fix a key. A 404 means the server has no health endpoint (OpenAI):
 * nothing to wait for.
 */
export async function waitForHealth(baseURL: string, options: WaitForHealthOptions): Promise<void> {
  let url: string;
  try {
    url = new URL(`${serverRoot(baseURL)}/health`).toString();
  } catch {
    throw new SystemicError('model endpoint: expected an http(s) URL, got an unparseable one (not shown)', 'llm bad url', false);
  }
  const shown = redactUrlCredentials(serverRoot(baseURL));
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const total = Math.round(options.timeoutMs / 1000);
  let last = 'no answer';
  for (;;) {
    let wait = options.intervalMs ?? 5000;
    try {
      const r = await fetch(url, { headers: authHeaders(options.apiKey), signal: AbortSignal.any([AbortSignal.timeout(Math.min(5000, options.timeoutMs || 5000)), ...(options.signal ? [options.signal] : [])]) });
      await r.body?.cancel();
      if (r.ok || r.status === 404) return;
      if (r.status === 401 || r.status === 403) throw unauthorized(url, r.status, options.apiKey, options.apiKeyEnv);
      last = `HTTP ${r.status}`;
      const after = retryAfterMs(r.headers);
      if (after !== undefined) wait = Math.max(wait, Math.min(after, options.maxRetryAfterMs ?? 120_000));
    } catch (error) {
      if (error instanceof SystemicError || options.signal?.aborted) throw error;
      const cause = (error as Error & { cause?: { code?: string } }).cause;
      last = cause?.code ?? (error as Error).message;
    }
    const elapsed = Date.now() - started;
    if (Date.now() >= deadline) break;
    options.onWait?.(`waiting for the model server at ${shown} (${last}, ${Math.round(elapsed / 1000)} s of ${total} s)`);
    await sleep(Math.min(wait, Math.max(0, deadline - Date.now())), undefined, options.signal ? { signal: options.signal } : {});
  }
  throw new SystemicError(`model endpoint ${shown}: not ready after ${total} s (${last} from /health)`, 'llm unavailable', true);
}
