import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { seededRandom } from '@finevideo/core';
import { listenOnLoopback, type FakeModelServer } from '../http.js';
import { responseJsonSchemaProblem, responseSchemaProblem, safetySettingsProblem, type GeminiRequestProblem, type GeminiSchemaLimits } from './checks.js';
import { annotationAsText, exampleFromSchema, looksLikeContentMetadata, sampleAnnotation } from '../annotation-fixture.js';

/**
 * Faults the fake can inject. All but 'failed-processing' hit a generateContent call:
 * - '429': RESOURCE_EXHAUSTED with a Retry-After header and a RetryInfo retryDelay in the body
 * - '500': INTERNAL, '503': UNAVAILABLE ("The model is overloaded")
 * - 'slow': the answer comes after `faults.slowMs` (past the client's timeout)
 * - 'invalid-json': a 200 whose text is not JSON (a trailing comma)
 * - 'schema-invalid': a 200 with JSON that breaks content_metadata (no scenes, an extra key, a score of 7)
 * - 'truncated': a 200 cut short with finishReason MAX_TOKENS
 * - 'failed-processing': an upload ends in state FAILED instead of ACTIVE
 */
export type GeminiFaultKind = '429' | '500' | '503' | 'slow' | 'failed-processing' | 'invalid-json' | 'schema-invalid' | 'truncated';
export const GEMINI_FAULT_KINDS: readonly GeminiFaultKind[] = ['429', '500', '503', 'slow', 'failed-processing', 'invalid-json', 'schema-invalid', 'truncated'];

/** What became of one generateContent call: answered ('ok'), a fault, refused with a 4xx ('rejected'), or the client left first ('aborted'). */
export type GeminiGenerateOutcome = 'ok' | 'rejected' | 'aborted' | Exclude<GeminiFaultKind, 'failed-processing'>;

/** An uploaded file as the fake knows it. */
export interface FakeGeminiFile {
  /** "files/<id>", id of [a-z0-9] (what the SDK's tFileName can read back from a URI). */
  name: string;
  displayName?: string;
  mimeType: string;
  sizeBytes: number;
  /** base64 SHA-256 of the bytes, as the API reports it. */
  sha256Hash: string;
  /** Read from the MP4's mvhd box; undefined when the bytes are not an MP4 the fake can read. */
  durationSeconds?: number;
  /** The state it reaches after processingPolls gets. */
  finalState: 'ACTIVE' | 'FAILED';
  /** files.get calls so far. */
  polls: number;
  deleted: boolean;
  createTime: string;
}

/** One generateContent call, as the `answer` callback and `faults.decide` see it. */
export interface FakeGeminiRequest {
  /** The model id without "models/". */
  model: string;
  /** Every text part of the contents, joined with newlines. */
  prompt: string;
  systemInstruction?: string;
  /** The uploaded files named by fileData parts, in order. */
  files: FakeGeminiFile[];
  /** Media sent inline (inlineData parts, base64), decoded: type, size and, for an MP4, duration. */
  inline: { mimeType: string; sizeBytes: number; durationSeconds?: number }[];
  /** generationConfig.responseMimeType is application/json. */
  json: boolean;
  /** generationConfig.responseSchema or responseJsonSchema. */
  schema?: unknown;
  generationConfig: Record<string, unknown>;
  /** 1-based: how many generateContent calls have named the first file so far, this one included (1 when no file). */
  attempt: number;
  /** The request body as sent. */
  body: Record<string, unknown>;
}

/** The answer to a generateContent call: its text, or text with a finish reason, or a prompt blocked by safety filters. */
export type GeminiAnswer = string | { text: string; finishReason?: 'STOP' | 'MAX_TOKENS' | 'SAFETY' | 'RECITATION' | 'OTHER' } | { blocked: 'SAFETY' | 'OTHER' | 'BLOCKLIST' | 'PROHIBITED_CONTENT' };

export interface FakeGeminiFaults {
  /** 0..1: the chance a generateContent call is faulted (kind drawn from `kinds` that apply), and, when 'failed-processing' is listed, the chance an upload ends FAILED. */
  rate: number;
  /** Default: all of GEMINI_FAULT_KINDS. */
  kinds?: GeminiFaultKind[];
  /** Seed of the fault draws (default 1): the same seed and request order give the same faults. */
  seed?: number;
  /** Retry-After (and RetryInfo.retryDelay) of a 429, in seconds (default 0.05). */
  retryAfterSeconds?: number;
  /** How long a 'slow' answer takes (default 60 000 ms); set the client's timeout below it. */
  slowMs?: number;
  /** Decides the fault of each generateContent call instead of the random draw (undefined: none). */
  decide?: (request: FakeGeminiRequest) => Exclude<GeminiFaultKind, 'failed-processing'> | undefined;
  /**
   * Files API calls that can also fail, at the same rate, with the transient kinds listed ('429', '500', '503'):
   * 'upload' (the start request), 'get', 'delete'. Default none: only generateContent is faulted.
   */
  filesEndpoints?: ('upload' | 'get' | 'delete')[];
}

export interface FakeGeminiOptions {
  /** The key expected in x-goog-api-key (or ?key=). Default "fake-gemini-key". null: any non-empty key. A missing key is always a 403. */
  apiKey?: string | null;
  /** How the fake answers a wrong key: 400 INVALID_ARGUMENT/API_KEY_INVALID (Google's real answer, default), 401 UNAUTHENTICATED or 403 PERMISSION_DENIED (a suspended key). */
  wrongKeyStatus?: 400 | 401 | 403;
  /** Model ids served (without "models/"); another is a 404 NOT_FOUND. Default gemini-2.5-flash, gemini-2.5-pro, gemini-2.0-flash. */
  models?: string[];
  /** files.get answers PROCESSING this many times before ACTIVE (or FAILED). Default 1. The upload answer itself is PROCESSING when > 0. */
  processingPolls?: number;
  /** Time a generateContent call takes: a number, or a [min, max] range drawn uniformly (seeded). Default 5 ms. */
  latencyMs?: number | [number, number];
  /** The answer text of each call. Default: a sample annotation (JSON when asked for JSON, prose otherwise) fitted to the video's duration. */
  answer?: (request: FakeGeminiRequest) => GeminiAnswer | Promise<GeminiAnswer>;
  faults?: FakeGeminiFaults;
  /** Decides how processing ends for a file (default ACTIVE, or FAILED when drawn as a fault). */
  fileState?: (file: FakeGeminiFile) => 'ACTIVE' | 'FAILED';
  /** Thinking tokens reported per answer (thoughtsTokenCount, billed as output). Default 0 (not reported). */
  thoughtsTokens?: number;
  /** Prompt tokens per second of video (VIDEO modality, default 258: one frame per second) and of its sound track (AUDIO, default 32). */
  videoTokensPerSecond?: number;
  audioTokensPerSecond?: number;
  /** Nesting and size limits of a responseJsonSchema (see GeminiSchemaLimits). */
  schemaLimits?: GeminiSchemaLimits;
}

export interface FakeGeminiUsage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  thoughtsTokenCount: number;
  totalTokenCount: number;
  /** promptTokensDetails summed per modality (TEXT, VIDEO, AUDIO). */
  promptByModality: Record<string, number>;
  /** Answers (HTTP 200 with usageMetadata) that carried these counts. */
  responses: number;
}

export interface FakeGeminiStats {
  /** Resumable uploads started (start command). */
  uploadStarts: number;
  /** Uploads finalized: files created. */
  uploads: number;
  gets: number;
  deletes: number;
  lists: number;
  /** generateContent calls by outcome. */
  generateCalls: Record<GeminiGenerateOutcome, number>;
  generateTotal: number;
  /** Requests refused for a missing or wrong key. */
  unauthorized: number;
  /** Every file uploaded, by name ("files/<id>"), deleted ones included (deleted: true). */
  files: Map<string, FakeGeminiFile>;
  /** Names of the files uploaded and not deleted: empty after a run that cleans up. */
  aliveFiles: Set<string>;
  /** generateContent calls naming each file (by name), whatever their outcome. */
  generateByFile: Map<string, number>;
  /** Whole, unaltered answers delivered ('ok', or 'slow' when the client waited) per display name of the (first) file: 1 each when every video was annotated once. */
  okByDisplayName: Map<string, number>;
  /** Usage reported in every 200 answer (faulted answers are billed too). */
  usage: FakeGeminiUsage;
  faults: Record<GeminiFaultKind, number>;
  /** Transient faults injected on Files API calls (faults.filesEndpoints), by endpoint. */
  filesFaults: Record<'upload' | 'get' | 'delete', number>;
  /** Most generateContent calls in flight at once. */
  maxConcurrentGenerate: number;
}

export interface FakeGemini extends FakeModelServer<FakeGeminiStats> {
  /** What to pass as `httpOptions.baseUrl` to `new GoogleGenAI(...)` (the root URL; the SDK adds the API version). */
  baseUrl: string;
  /** The key the fake expects (for `new GoogleGenAI({apiKey})`). */
  apiKey: string;
}

const DEFAULT_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash'];
const API_VERSIONS = '(v1|v1beta|v1alpha)';
const UPLOAD_CHUNK_GRANULARITY = 8 * 1024 * 1024;

const hash32 = (text: string) => [...text].reduce((a, c) => (Math.imul(a, 31) + c.charCodeAt(0)) >>> 0, 17);

/**
 * The duration of an MP4 from its movie header (moov/mvhd: timescale and duration), or undefined.
 * Reads boxes only (no decoder): a fake needs the length to fit timestamps and count video tokens.
 */
export function mp4DurationSeconds(bytes: Buffer): number | undefined {
  const findBox = (start: number, end: number, type: string): [number, number] | undefined => {
    let at = start;
    while (at + 8 <= end) {
      let size = bytes.readUInt32BE(at);
      let header = 8;
      if (size === 1) {
        if (at + 16 > end) return undefined;
        size = Number(bytes.readBigUInt64BE(at + 8));
        header = 16;
      } else if (size === 0) size = end - at;
      if (size < header) return undefined;
      if (bytes.toString('latin1', at + 4, at + 8) === type) return [at + header, Math.min(end, at + size)];
      at += size;
    }
    return undefined;
  };
  const moov = findBox(0, bytes.length, 'moov');
  const mvhd = moov && findBox(moov[0], moov[1], 'mvhd');
  if (!mvhd) return undefined;
  const [p, end] = mvhd;
  const version = bytes[p];
  if (version === 1 && p + 32 <= end) {
    const timescale = bytes.readUInt32BE(p + 20);
    return timescale ? Number(bytes.readBigUInt64BE(p + 24)) / timescale : undefined;
  }
  if (p + 20 > end) return undefined;
  const timescale = bytes.readUInt32BE(p + 12);
  return timescale ? bytes.readUInt32BE(p + 16) / timescale : undefined;
}

interface PendingUpload {
  displayName?: string;
  name?: string;
  mimeType: string;
  declaredBytes: number;
  chunks: Buffer[];
  received: number;
  apiVersion: string;
}

/**
 * A fake Gemini Developer API on 127.0.0.1 speaking the REST protocol @google/genai (v3) uses, reached
 * through `new GoogleGenAI({apiKey, httpOptions: {baseUrl}})`:
 * - Files API resumable upload: POST /upload/{v}/files with X-Goog-Upload-Protocol: resumable and
 *   X-Goog-Upload-Command: start answers the session URL in X-Goog-Upload-URL; POSTs to that URL with
 *   "upload" / "upload, finalize" and X-Goog-Upload-Offset carry the bytes (8 MiB chunks), the last one
 *   answers X-Goog-Upload-Status: final and {file}.
 * - GET /{v}/files/{id} (PROCESSING, then ACTIVE or FAILED), DELETE /{v}/files/{id}, GET /{v}/files.
 * - GET /{v}/models/{model}, POST /{v}/models/{model}:generateContent (candidates, usageMetadata).
 * - Google's error body {error: {code, message, status, details?}} for every failure.
 */
export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const expectedKey = options.apiKey === undefined ? 'fake-gemini-key' : options.apiKey;
  const models = new Set(options.models ?? DEFAULT_MODELS);
  const processingPolls = options.processingPolls ?? 1;
  const faultRandom = seededRandom(options.faults?.seed ?? 1);
  const latencyRandom = seededRandom((options.faults?.seed ?? 1) + 7919);
  const faultKinds = options.faults?.kinds ?? [...GEMINI_FAULT_KINDS];
  for (const k of faultKinds) if (!GEMINI_FAULT_KINDS.includes(k)) throw new Error(`faults.kinds: expected some of ${GEMINI_FAULT_KINDS.join(', ')}, got ${JSON.stringify(k)}`);
  const faultRate = options.faults?.rate ?? 0;
  if (!(faultRate >= 0 && faultRate <= 1)) throw new Error(`faults.rate: expected a number in [0, 1], got ${faultRate}`);
  const stats: FakeGeminiStats = {
    uploadStarts: 0, uploads: 0, gets: 0, deletes: 0, lists: 0,
    generateCalls: { ok: 0, rejected: 0, aborted: 0, '429': 0, '500': 0, '503': 0, slow: 0, 'invalid-json': 0, 'schema-invalid': 0, truncated: 0 },
    generateTotal: 0, unauthorized: 0,
    files: new Map(), aliveFiles: new Set(), generateByFile: new Map(), okByDisplayName: new Map(),
    usage: { promptTokenCount: 0, candidatesTokenCount: 0, thoughtsTokenCount: 0, totalTokenCount: 0, promptByModality: {}, responses: 0 },
    faults: { '429': 0, '500': 0, '503': 0, slow: 0, 'failed-processing': 0, 'invalid-json': 0, 'schema-invalid': 0, truncated: 0 },
    filesFaults: { upload: 0, get: 0, delete: 0 },
    maxConcurrentGenerate: 0,
  };
  const uploads = new Map<string, PendingUpload>();
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  let origin = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(body));
  };
  const googleError = (res: ServerResponse, code: number, status: string, message: string, details?: unknown[], headers: Record<string, string> = {}) =>
    send(res, code, { error: { code, message, status, ...(details ? { details } : {}) } }, headers);
  /** Waits ms; false when the client went away first (its timeout or abort), so nothing is written. */
  const sleep = (ms: number, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      if (ms <= 0) return resolve(!res.destroyed);
      const onClose = () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.off('close', onClose);
        resolve(!res.destroyed);
      }, ms);
      timers.add(timer);
      res.once('close', onClose);
    });
  const readBody = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const latency = () => {
    const l = options.latencyMs ?? 5;
    return Array.isArray(l) ? l[0] + latencyRandom() * (l[1] - l[0]) : l;
  };

  /** Google's answers to a request without a valid key; undefined when the key is good. */
  const refuseKey = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): boolean => {
    const header = req.headers['x-goog-api-key'];
    const key = (Array.isArray(header) ? header[0] : header) ?? query.get('key') ?? '';
    if (key && (expectedKey === null || key === expectedKey)) return false;
    stats.unauthorized++;
    if (!key) {
      googleError(res, 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    } else if ((options.wrongKeyStatus ?? 400) === 400) {
      googleError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
      ]);
    } else if (options.wrongKeyStatus === 401) {
      googleError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]);
    } else {
      googleError(res, 403, 'PERMISSION_DENIED', 'Permission denied: Consumer has been suspended.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_SUSPENDED', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]);
    }
    return true;
  };

  const fileJson = (f: FakeGeminiFile, apiVersion: string) => {
    const state = f.polls >= processingPolls ? f.finalState : 'PROCESSING';
    return {
      name: f.name,
      ...(f.displayName !== undefined ? { displayName: f.displayName } : {}),
      mimeType: f.mimeType,
      sizeBytes: String(f.sizeBytes),
      createTime: f.createTime,
      updateTime: f.createTime,
      expirationTime: new Date(Date.parse(f.createTime) + 48 * 3600_000).toISOString(),
      sha256Hash: f.sha256Hash,
      uri: `${origin}/${apiVersion}/${f.name}`,
      state,
      source: 'UPLOADED',
      ...(state === 'ACTIVE' && f.durationSeconds !== undefined && f.mimeType.startsWith('video/') ? { videoMetadata: { videoDuration: `${f.durationSeconds}s` } } : {}),
      ...(state === 'FAILED' ? { error: { code: 3, message: 'The video could not be processed.' } } : {}),
    };
  };
  const quotaExceeded = (res: ServerResponse, model: string) => {
    const after = options.faults?.retryAfterSeconds ?? 0.05;
    googleError(res, 429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count', quotaId: 'GenerateContentPaidTierInputTokensPerModelPerMinute', quotaDimensions: { location: 'global', model }, quotaValue: '1000000' }] },
      { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${after}s` },
    ], { 'retry-after': String(after) });
  };
  const internalError = (res: ServerResponse) => googleError(res, 500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
  const overloaded = (res: ServerResponse) => googleError(res, 503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
  /** A transient fault on a Files API call (faults.filesEndpoints): answered here, true when one was. */
  const filesFault = (res: ServerResponse, endpoint: 'upload' | 'get' | 'delete'): boolean => {
    if (!options.faults?.filesEndpoints?.includes(endpoint)) return false;
    const transient = faultKinds.filter((k): k is '429' | '500' | '503' => k === '429' || k === '500' || k === '503');
    if (!transient.length || faultRandom() >= faultRate) return false;
    const kind = transient[Math.floor(faultRandom() * transient.length)]!;
    stats.faults[kind]++;
    stats.filesFaults[endpoint]++;
    if (kind === '429') quotaExceeded(res, 'files');
    else if (kind === '500') internalError(res);
    else overloaded(res);
    return true;
  };
  const noSuchFile = (res: ServerResponse, id: string) => googleError(res, 403, 'PERMISSION_DENIED', `You do not have permission to access the File ${id} or it may not exist.`);

  const startUpload = async (req: IncomingMessage, res: ServerResponse, apiVersion: string) => {
    const protocol = String(req.headers['x-goog-upload-protocol'] ?? '');
    const command = String(req.headers['x-goog-upload-command'] ?? '');
    if (protocol !== 'resumable' || command !== 'start') {
      return googleError(res, 400, 'INVALID_ARGUMENT', `This fake serves resumable uploads only: expected X-Goog-Upload-Protocol: resumable and X-Goog-Upload-Command: start, got ${JSON.stringify(protocol)} and ${JSON.stringify(command)}.`);
    }
    const declared = Number(req.headers['x-goog-upload-header-content-length']);
    if (!Number.isSafeInteger(declared) || declared < 0) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `X-Goog-Upload-Header-Content-Length: expected a byte count, got ${JSON.stringify(req.headers['x-goog-upload-header-content-length'])}.`);
    }
    let meta: { file?: { displayName?: unknown; name?: unknown; mimeType?: unknown } };
    try {
      const text = (await readBody(req)).toString('utf8');
      meta = (text ? JSON.parse(text) : {}) as typeof meta;
    } catch {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.');
    }
    const mimeType = String(meta.file?.mimeType ?? req.headers['x-goog-upload-header-content-type'] ?? '');
    if (!mimeType) return googleError(res, 400, 'INVALID_ARGUMENT', 'Unsupported MIME type: (empty).');
    const displayName = typeof meta.file?.displayName === 'string' ? meta.file.displayName : undefined;
    if (displayName !== undefined && displayName.length > 512) return googleError(res, 400, 'INVALID_ARGUMENT', '* File.display_name: must be at most 512 characters.');
    let name: string | undefined;
    if (typeof meta.file?.name === 'string') {
      name = meta.file.name.startsWith('files/') ? meta.file.name : `files/${meta.file.name}`;
      if (!/^files\/[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) return googleError(res, 400, 'INVALID_ARGUMENT', `* File.name: Invalid file name ${JSON.stringify(meta.file.name)}: lowercase alphanumeric or dashes, at most 40 characters.`);
      if (stats.files.has(name)) return googleError(res, 409, 'ALREADY_EXISTS', `File ${name} already exists.`);
    }
    if (filesFault(res, 'upload')) return;
    stats.uploadStarts++;
    const uploadId = randomBytes(24).toString('base64url');
    uploads.set(uploadId, { displayName, name, mimeType, declaredBytes: declared, chunks: [], received: 0, apiVersion });
    res.writeHead(200, {
      'x-goog-upload-url': `${origin}/upload/${apiVersion}/files?upload_id=${uploadId}&upload_protocol=resumable`,
      'x-goog-upload-status': 'active',
      'x-goog-upload-chunk-granularity': String(UPLOAD_CHUNK_GRANULARITY),
      'content-length': '0',
    }).end();
  };

  const continueUpload = async (req: IncomingMessage, res: ServerResponse, uploadId: string) => {
    const upload = uploads.get(uploadId);
    if (!upload) return googleError(res, 404, 'NOT_FOUND', 'Upload session not found or expired.');
    const commands = String(req.headers['x-goog-upload-command'] ?? '').split(',').map((c) => c.trim());
    const offset = Number(req.headers['x-goog-upload-offset']);
    if (commands.includes('cancel')) {
      uploads.delete(uploadId);
      return res.writeHead(200, { 'x-goog-upload-status': 'cancelled', 'content-length': '0' }).end();
    }
    if (!commands.includes('upload')) return googleError(res, 400, 'INVALID_ARGUMENT', `X-Goog-Upload-Command: expected "upload" or "upload, finalize", got ${JSON.stringify(req.headers['x-goog-upload-command'])}.`);
    if (offset !== upload.received) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `X-Goog-Upload-Offset: expected ${upload.received} (bytes received so far), got ${JSON.stringify(req.headers['x-goog-upload-offset'])}.`);
    }
    const chunk = await readBody(req);
    upload.chunks.push(chunk);
    upload.received += chunk.length;
    if (upload.received > upload.declaredBytes) {
      uploads.delete(uploadId);
      return googleError(res, 400, 'INVALID_ARGUMENT', `Received ${upload.received} bytes, more than the ${upload.declaredBytes} declared in X-Goog-Upload-Header-Content-Length.`);
    }
    if (!commands.includes('finalize')) return res.writeHead(200, { 'x-goog-upload-status': 'active', 'content-length': '0' }).end();
    uploads.delete(uploadId);
    if (upload.received !== upload.declaredBytes) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `Finalized after ${upload.received} bytes, ${upload.declaredBytes} declared.`);
    }
    const bytes = Buffer.concat(upload.chunks);
    let name = upload.name;
    while (!name || stats.files.has(name)) name = `files/${randomBytes(9).toString('hex').slice(0, 12)}`;
    const file: FakeGeminiFile = {
      name,
      ...(upload.displayName !== undefined ? { displayName: upload.displayName } : {}),
      mimeType: upload.mimeType,
      sizeBytes: bytes.length,
      sha256Hash: createHash('sha256').update(bytes).digest('base64'),
      durationSeconds: mp4DurationSeconds(bytes),
      finalState: 'ACTIVE',
      polls: 0,
      deleted: false,
      createTime: new Date().toISOString(),
    };
    if (options.fileState) file.finalState = options.fileState(file);
    else if (faultKinds.includes('failed-processing') && faultRandom() < faultRate) file.finalState = 'FAILED';
    if (file.finalState === 'FAILED') stats.faults['failed-processing']++;
    stats.files.set(name, file);
    stats.aliveFiles.add(name);
    stats.uploads++;
    res.writeHead(200, { 'x-goog-upload-status': 'final', 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify({ file: fileJson(file, upload.apiVersion) }));
  };

  /** The file a fileData part names, from its URI (…/files/<id>) or name. */
  const fileOfUri = (uri: string): string | undefined => /(?:^|\/)files\/([a-z0-9-]+)(?:$|[?#])/.exec(uri)?.[1];

  const pickFault = (request: FakeGeminiRequest): Exclude<GeminiFaultKind, 'failed-processing'> | undefined => {
    if (options.faults?.decide) return options.faults.decide(request);
    if (faultRate === 0) return undefined;
    const applicable = faultKinds.filter((k): k is Exclude<GeminiFaultKind, 'failed-processing'> => k !== 'failed-processing' && (request.json || (k !== 'invalid-json' && k !== 'schema-invalid')));
    if (!applicable.length || faultRandom() >= faultRate) return undefined;
    return applicable[Math.floor(faultRandom() * applicable.length)];
  };

  const defaultAnswer = (request: FakeGeminiRequest): string => {
    const file = request.files[0];
    const duration = file?.durationSeconds ?? request.inline[0]?.durationSeconds ?? 30;
    const annotation = sampleAnnotation({ durationSeconds: duration, seed: hash32(file?.displayName ?? file?.name ?? request.prompt) % 1000 });
    if (!request.json) return annotationAsText(annotation);
    if (request.schema === undefined || looksLikeContentMetadata(request.schema)) return JSON.stringify(annotation);
    return JSON.stringify(exampleFromSchema(request.schema));
  };

  const generate = async (req: IncomingMessage, res: ServerResponse, apiVersion: string, model: string) => {
    stats.generateTotal++;
    const outcome = (o: GeminiGenerateOutcome) => stats.generateCalls[o]++;
    if (!models.has(model)) {
      outcome('rejected');
      return googleError(res, 404, 'NOT_FOUND', `models/${model} is not found for API version ${apiVersion}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`);
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
    } catch {
      outcome('rejected');
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.');
    }
    const bad = (message: string, status = 'INVALID_ARGUMENT', code = 400) => {
      outcome('rejected');
      googleError(res, code, status, message);
    };
    // A field Google's JSON parser refuses carries a BadRequest fieldViolation naming it.
    const invalidArgument = (p: GeminiRequestProblem) => {
      outcome('rejected');
      googleError(res, 400, 'INVALID_ARGUMENT', p.message, p.field ? [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: p.field, description: p.message }] }] : undefined);
    };
    type Part = { text?: unknown; fileData?: { fileUri?: unknown; mimeType?: unknown }; inlineData?: { mimeType?: unknown; data?: unknown } };
    const contents = body.contents as { role?: string; parts?: Part[] }[] | undefined;
    if (!Array.isArray(contents) || contents.length === 0) return bad('* GenerateContentRequest.contents: contents is not specified');
    const config = (body.generationConfig ?? {}) as Record<string, unknown>;
    const mime = config.responseMimeType as string | undefined;
    if (mime !== undefined && !['text/plain', 'application/json', 'text/x.enum'].includes(mime)) {
      return bad(`* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are \`text/plain\`, \`application/json\`, \`application/xml\`, \`application/yaml\` and \`text/x.enum\`.`);
    }
    if (config.responseSchema !== undefined && config.responseJsonSchema !== undefined) {
      return bad('* GenerateContentRequest.generation_config.response_schema: response_schema and response_json_schema cannot both be set.');
    }
    const schema = config.responseSchema ?? config.responseJsonSchema;
    if (schema !== undefined && mime !== 'application/json' && mime !== 'text/x.enum') {
      return bad('* GenerateContentRequest.generation_config.response_mime_type: response_mime_type must be set to application/json when response_schema is set.');
    }
    const problem = (config.responseSchema !== undefined ? responseSchemaProblem(config.responseSchema) : undefined)
      ?? (config.responseJsonSchema !== undefined ? responseJsonSchemaProblem(config.responseJsonSchema, options.schemaLimits) : undefined)
      ?? safetySettingsProblem(body.safetySettings, apiVersion);
    if (problem) return invalidArgument(problem);
    const texts: string[] = [];
    const files: FakeGeminiFile[] = [];
    const inline: FakeGeminiRequest['inline'] = [];
    for (const content of contents) {
      for (const part of content.parts ?? []) {
        if (typeof part.text === 'string') texts.push(part.text);
        if (part.inlineData) {
          const { mimeType, data } = part.inlineData;
          if (typeof mimeType !== 'string' || typeof data !== 'string') return bad('* GenerateContentRequest.contents.parts.inline_data: mime_type and data are required.');
          const bytes = Buffer.from(data, 'base64');
          inline.push({ mimeType, sizeBytes: bytes.length, durationSeconds: mimeType === 'video/mp4' ? mp4DurationSeconds(bytes) : undefined });
        }
        if (part.fileData) {
          const id = typeof part.fileData.fileUri === 'string' ? fileOfUri(part.fileData.fileUri) : undefined;
          if (!id) return bad(`* GenerateContentRequest.contents.parts.file_data.file_uri: Invalid or unsupported file uri: ${JSON.stringify(part.fileData.fileUri)}`);
          const file = stats.files.get(`files/${id}`);
          if (!file || file.deleted) return bad(`You do not have permission to access the File ${id} or it may not exist.`, 'PERMISSION_DENIED', 403);
          stats.generateByFile.set(file.name, (stats.generateByFile.get(file.name) ?? 0) + 1);
          if (file.polls < processingPolls || file.finalState !== 'ACTIVE') return bad(`The File ${id} is not in an ACTIVE state and usage is not allowed.`, 'FAILED_PRECONDITION');
          files.push(file);
        }
      }
    }
    const system = body.systemInstruction as { parts?: { text?: unknown }[] } | undefined;
    const systemText = system?.parts?.map((p) => (typeof p.text === 'string' ? p.text : '')).join('\n');
    const request: FakeGeminiRequest = {
      model,
      prompt: texts.join('\n'),
      ...(systemText ? { systemInstruction: systemText } : {}),
      files,
      inline,
      json: mime === 'application/json',
      ...(schema !== undefined ? { schema } : {}),
      generationConfig: config,
      attempt: files[0] ? stats.generateByFile.get(files[0].name)! : 1,
      body,
    };

    const fault = pickFault(request);
    if (fault) stats.faults[fault]++;
    if (fault === '429') {
      outcome('429');
      return quotaExceeded(res, model);
    }

    inFlight++;
    stats.maxConcurrentGenerate = Math.max(stats.maxConcurrentGenerate, inFlight);
    try {
      const waited = await sleep(fault === 'slow' ? (options.faults?.slowMs ?? 60_000) : latency(), res);
      if (!waited) return outcome(fault === 'slow' ? 'slow' : 'aborted');
      if (fault === '500') {
        outcome('500');
        return internalError(res);
      }
      if (fault === '503') {
        outcome('503');
        return overloaded(res);
      }
      let answer: GeminiAnswer;
      try {
        answer = options.answer ? await options.answer(request) : defaultAnswer(request);
      } catch (e) {
        outcome('rejected');
        return googleError(res, 500, 'INTERNAL', `fake Gemini: the answer callback failed: ${(e as Error).message}`);
      }
      let text: string | undefined;
      let finishReason = 'STOP';
      let blocked: string | undefined;
      if (typeof answer === 'string') text = answer;
      else if ('blocked' in answer) blocked = answer.blocked;
      else {
        text = answer.text;
        finishReason = answer.finishReason ?? 'STOP';
      }
      if (text !== undefined && fault === 'invalid-json') text = `${text.replace(/\s*\}\s*$/, '')},}`;
      if (text !== undefined && fault === 'schema-invalid') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = {};
        }
        const broken = (parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}) as Record<string, unknown>;
        const firstScene = Array.isArray(broken.scenes) ? (broken.scenes[0] as Record<string, unknown> | undefined) : undefined;
        delete broken.scenes;
        broken.unexpectedField = true;
        broken.dynamismScore = 7;
        if (firstScene) broken.scene = firstScene;
        text = JSON.stringify(broken);
      }
      if (text !== undefined && fault === 'truncated') {
        text = text.slice(0, Math.max(1, Math.floor(text.length * 0.6)));
        finishReason = 'MAX_TOKENS';
      }
      const textTokens = Math.ceil((request.prompt.length + (request.systemInstruction?.length ?? 0)) / 4);
      // Gemini's rates: a video is one frame a second (258 tokens each) plus its sound (32 a second); an image 258.
      const media: { mimeType: string; durationSeconds?: number }[] = [...files, ...inline];
      const secondsOf = (m: { durationSeconds?: number }) => Math.max(1, Math.ceil(m.durationSeconds ?? 1));
      const videoSeconds = media.reduce((s, m) => s + (m.mimeType.startsWith('video/') ? secondsOf(m) : 0), 0);
      const audioSeconds = media.reduce((s, m) => s + (m.mimeType.startsWith('video/') || m.mimeType.startsWith('audio/') ? secondsOf(m) : 0), 0);
      const videoTokens = videoSeconds * (options.videoTokensPerSecond ?? 258);
      const audioTokens = audioSeconds * (options.audioTokensPerSecond ?? 32);
      const imageTokens = media.filter((m) => m.mimeType.startsWith('image/')).length * 258;
      const details = [
        { modality: 'TEXT', tokenCount: textTokens },
        ...(videoTokens ? [{ modality: 'VIDEO', tokenCount: videoTokens }] : []),
        ...(audioTokens ? [{ modality: 'AUDIO', tokenCount: audioTokens }] : []),
        ...(imageTokens ? [{ modality: 'IMAGE', tokenCount: imageTokens }] : []),
      ];
      const promptTokenCount = details.reduce((s, d) => s + d.tokenCount, 0);
      const maxOut = typeof config.maxOutputTokens === 'number' ? config.maxOutputTokens : undefined;
      let candidatesTokenCount = text === undefined ? 0 : Math.ceil(text.length / 4);
      if (finishReason === 'MAX_TOKENS' && maxOut !== undefined) candidatesTokenCount = maxOut;
      const thoughts = blocked ? 0 : (options.thoughtsTokens ?? 0);
      const usageMetadata = {
        promptTokenCount,
        ...(text !== undefined ? { candidatesTokenCount } : {}),
        totalTokenCount: promptTokenCount + candidatesTokenCount + thoughts,
        promptTokensDetails: details,
        ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
      };
      const u = stats.usage;
      u.promptTokenCount += promptTokenCount;
      u.candidatesTokenCount += candidatesTokenCount;
      u.thoughtsTokenCount += thoughts;
      u.totalTokenCount += usageMetadata.totalTokenCount;
      for (const d of details) u.promptByModality[d.modality] = (u.promptByModality[d.modality] ?? 0) + d.tokenCount;
      u.responses++;
      const result = fault ?? 'ok';
      outcome(result);
      // A slow answer the client waited for is a whole, unaltered answer too.
      if (result === 'ok' || result === 'slow') {
        const key = files[0]?.displayName ?? files[0]?.name ?? '';
        stats.okByDisplayName.set(key, (stats.okByDisplayName.get(key) ?? 0) + 1);
      }
      send(res, 200, {
        ...(blocked
          ? { promptFeedback: { blockReason: blocked, safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] } }
          : { candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason, index: 0 }] }),
        usageMetadata,
        modelVersion: model,
        responseId: randomBytes(12).toString('base64url'),
      });
    } finally {
      inFlight--;
    }
  };

  const server = createServer((req, res) => {
    (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      let m: RegExpExecArray | null;
      // The upload session URL: the upload id is its credential (the SDK sends the key anyway).
      if (req.method === 'POST' && (m = new RegExp(`^/upload/${API_VERSIONS}/files$`).exec(path)) && url.searchParams.has('upload_id')) {
        return await continueUpload(req, res, url.searchParams.get('upload_id')!);
      }
      if (refuseKey(req, res, url.searchParams)) return;
      if (req.method === 'POST' && (m = new RegExp(`^/upload/${API_VERSIONS}/files$`).exec(path))) return await startUpload(req, res, m[1]!);
      if ((m = new RegExp(`^/${API_VERSIONS}/files/([^/:]+)$`).exec(path))) {
        const [, apiVersion, id] = m;
        const file = stats.files.get(`files/${id}`);
        if (req.method === 'GET') {
          stats.gets++;
          if (filesFault(res, 'get')) return;
          if (!file || file.deleted) return noSuchFile(res, id!);
          const answer = fileJson(file, apiVersion!);
          file.polls++;
          return send(res, 200, answer);
        }
        if (req.method === 'DELETE') {
          if (filesFault(res, 'delete')) return;
          if (!file || file.deleted) return noSuchFile(res, id!);
          stats.deletes++;
          file.deleted = true;
          stats.aliveFiles.delete(file.name);
          return send(res, 200, {});
        }
      }
      if (req.method === 'GET' && (m = new RegExp(`^/${API_VERSIONS}/files$`).exec(path))) {
        stats.lists++;
        const alive = [...stats.aliveFiles].map((n) => stats.files.get(n)!);
        const pageSize = Math.min(100, Math.max(1, Number(url.searchParams.get('pageSize')) || 10));
        const start = Number(url.searchParams.get('pageToken') || 0);
        const page = alive.slice(start, start + pageSize);
        return send(res, 200, { files: page.map((f) => fileJson(f, m![1]!)), ...(start + pageSize < alive.length ? { nextPageToken: String(start + pageSize) } : {}) });
      }
      if ((m = new RegExp(`^/${API_VERSIONS}/models/([^/:]+)(?::([A-Za-z]+))?$`).exec(path))) {
        const [, apiVersion, model, method] = m;
        if (req.method === 'POST' && method === 'generateContent') return await generate(req, res, apiVersion!, model!);
        if (req.method === 'GET' && !method) {
          if (!models.has(model!)) return googleError(res, 404, 'NOT_FOUND', `models/${model} is not found for API version ${apiVersion}, or is not supported for get. Call ListModels to see the list of available models and their supported methods.`);
          return send(res, 200, { name: `models/${model}`, version: '001', displayName: model, inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, supportedGenerationMethods: ['generateContent', 'countTokens'] });
        }
        if (method) return googleError(res, 404, 'NOT_FOUND', `fake Gemini: models.${method} is not served (generateContent only).`);
      }
      googleError(res, 404, 'NOT_FOUND', `fake Gemini: no route ${req.method} ${path}`);
    })().catch((e: unknown) => googleError(res, 500, 'INTERNAL', `fake Gemini: ${(e as Error).message}`));
  });
  // Long keep-alive: a client pool reusing an idle socket must not race the server closing it.
  server.keepAliveTimeout = 60_000;
  const { url, close } = await listenOnLoopback(server);
  origin = url;
  return {
    url,
    baseURL: url,
    baseUrl: url,
    apiKey: expectedKey ?? 'any-key',
    stats,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await close();
    },
  };
}
