/**
 * What the fake OpenAI-compatible server checks in a request: chat content parts (text and
 * base64 image data URLs, decoded and checked for their format) and strict json_schema
 * response formats, with the messages OpenAI answers a bad request with.
 */

/** One image a request carried, decoded. */
export interface ReceivedImage {
  mimeType: string;
  bytes: number;
  /** From the JPEG's SOF marker or the PNG's IHDR; undefined when the fake cannot read it. */
  width?: number;
  height?: number;
  detail?: string;
}

/** A request problem, as OpenAI reports it: a message and the parameter at fault. */
export interface RequestProblem {
  message: string;
  param: string | null;
  code: string | null;
}

/** Width and height of a JPEG from its first SOFn segment (baseline, progressive...), or undefined. */
export function jpegSize(bytes: Buffer): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0xff) {
      at += marker === 0xff ? 1 : 2;
      continue;
    }
    const length = bytes.readUInt16BE(at + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes a data:image/...;base64 URL and checks the bytes are the image type it claims (JPEG's SOI FF D8 FF, PNG's signature). */
export function decodeImageUrl(url: unknown, param: string, detail?: string): ReceivedImage | RequestProblem {
  if (typeof url !== 'string' || url === '') return { message: `Missing required parameter: '${param}'.`, param, code: 'missing_required_parameter' };
  if (!url.startsWith('data:')) {
    return { message: `Invalid image URL: '${param}'. The fake OpenAI server serves base64 data URLs only (e.g. 'data:image/jpeg;base64,...'), got a value without the 'data:' prefix.`, param, code: 'invalid_value' };
  }
  const m = /^data:([a-z]+\/[a-z0-9.+-]+);base64,([A-Za-z0-9+/]*={0,2})$/.exec(url);
  if (!m) return { message: `Invalid image URL: '${param}'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got an invalid value.`, param, code: 'invalid_value' };
  const mimeType = m[1]!;
  const bytes = Buffer.from(m[2]!, 'base64');
  const unsupported: RequestProblem = { message: "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].", param: null, code: 'invalid_image_format' };
  if (mimeType === 'image/jpeg') {
    if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) return unsupported;
    return { mimeType, bytes: bytes.length, ...jpegSize(bytes), ...(detail ? { detail } : {}) };
  }
  if (mimeType === 'image/png') {
    if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.length < 24) return unsupported;
    return { mimeType, bytes: bytes.length, width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), ...(detail ? { detail } : {}) };
  }
  if (mimeType === 'image/gif' || mimeType === 'image/webp') return { mimeType, bytes: bytes.length, ...(detail ? { detail } : {}) };
  return unsupported;
}

/** OpenAI's image token count (gpt-4o): 85 for detail low, else 85 + 170 per 512 px tile after fitting 2048 and scaling the short side to 768. */
export function imageTokens(image: ReceivedImage): number {
  if (image.detail === 'low' || !image.width || !image.height) return 85;
  let w = image.width;
  let h = image.height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, 768 / Math.min(w, h));
  w *= shrink;
  h *= shrink;
  return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
}

export interface ReadMessages {
  /** Every text of every message, joined with newlines (what a model would read). */
  text: string;
  images: ReceivedImage[];
}

const PART_TYPES = ['text', 'image_url', 'input_audio', 'refusal', 'audio', 'file'];

/** Reads chat messages whose content is a string or an array of parts; the first malformed part is a problem. */
export function readMessages(messages: unknown): ReadMessages | RequestProblem {
  if (!Array.isArray(messages) || messages.length === 0) return { message: "Missing required parameter: 'messages'.", param: 'messages', code: 'missing_required_parameter' };
  const texts: string[] = [];
  const images: ReceivedImage[] = [];
  for (const [i, message] of messages.entries()) {
    const m = message as { role?: unknown; content?: unknown } | null;
    if (!m || typeof m !== 'object' || typeof m.role !== 'string') return { message: `Missing required parameter: 'messages[${i}].role'.`, param: `messages[${i}].role`, code: 'missing_required_parameter' };
    if (typeof m.content === 'string') {
      texts.push(m.content);
      continue;
    }
    if (!Array.isArray(m.content)) return { message: `Invalid type for 'messages[${i}].content': expected one of a string or array of objects, but got ${m.content === null ? 'null' : typeof m.content} instead.`, param: `messages[${i}].content`, code: 'invalid_type' };
    for (const [j, raw] of m.content.entries()) {
      const at = `messages[${i}].content[${j}]`;
      const part = raw as { type?: unknown; text?: unknown; image_url?: { url?: unknown; detail?: unknown } } | null;
      if (!part || typeof part !== 'object') return { message: `Invalid type for '${at}': expected an object, but got ${typeof raw} instead.`, param: at, code: 'invalid_type' };
      if (part.type === undefined) return { message: `Missing required parameter: '${at}.type'.`, param: `${at}.type`, code: 'missing_required_parameter' };
      if (typeof part.type !== 'string' || !PART_TYPES.includes(part.type)) {
        return { message: `Invalid value: '${String(part.type)}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.`, param: `${at}.type`, code: 'invalid_value' };
      }
      if (part.type === 'text') {
        if (typeof part.text !== 'string') return { message: `Missing required parameter: '${at}.text'.`, param: `${at}.text`, code: 'missing_required_parameter' };
        texts.push(part.text);
      } else if (part.type === 'image_url') {
        if (m.role !== 'user') return { message: `Invalid '${at}': Image URLs are only allowed for messages with role 'user', but this message with role '${m.role}' contains an image URL.`, param: at, code: 'invalid_value' };
        const detail = part.image_url?.detail;
        if (detail !== undefined && !['auto', 'low', 'high'].includes(String(detail))) {
          return { message: `Invalid value: '${String(detail)}'. Supported values are: 'auto', 'low', and 'high'.`, param: `${at}.image_url.detail`, code: 'invalid_value' };
        }
        const image = decodeImageUrl(part.image_url?.url, `${at}.image_url.url`, detail as string | undefined);
        if ('message' in image) return image;
        images.push(image);
      } else {
        return { message: `The fake OpenAI server does not serve '${part.type}' parts (text and image_url only).`, param: `${at}.type`, code: 'invalid_value' };
      }
    }
  }
  return { text: texts.join('\n'), images };
}

/**
 * OpenAI's check of a strict json_schema (structured outputs): every object lists all its
 * properties in `required` and sets additionalProperties: false. Returns the first violation with
 * its context path, worded as OpenAI words it.
 */
export function strictSchemaProblem(name: string, schema: unknown): string | undefined {
  const walk = (node: unknown, context: string[]): string | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) {
        const p = walk(n, [...context, String(i)]);
        if (p) return p;
      }
      return undefined;
    }
    const s = node as Record<string, unknown>;
    const where = `In context=(${context.map((c) => `'${c}'`).join(', ')}${context.length === 1 ? ',' : ''})`;
    const isObject = s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object')) || (s.properties !== undefined && s.type === undefined);
    if (isObject) {
      if (s.additionalProperties !== false) return `Invalid schema for response_format '${name}': ${where}, 'additionalProperties' is required to be supplied and to be false.`;
      const keys = Object.keys((s.properties as Record<string, unknown> | undefined) ?? {});
      const required = Array.isArray(s.required) ? (s.required as unknown[]) : undefined;
      const missing = keys.filter((k) => !required?.includes(k));
      if (!required || missing.length) return `Invalid schema for response_format '${name}': ${where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing[0] ?? keys[0]}'.`;
    }
    for (const key of ['properties', 'items', 'anyOf', '$defs', 'definitions']) {
      const child = s[key];
      if (child === undefined) continue;
      if (key === 'properties' || key === '$defs' || key === 'definitions') {
        for (const [k, v] of Object.entries(child as Record<string, unknown>)) {
          const p = walk(v, [...context, key, k]);
          if (p) return p;
        }
      } else {
        const p = walk(child, [...context, key]);
        if (p) return p;
      }
    }
    return undefined;
  };
  return walk(schema, []);
}
