import type { ByteRange } from '@finevideo/core';
/** Object keys are relative '/'-paths without '..', '.', empty or absolute segments. */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) {
    throw new Error(`object key: expected 1 to 1024 characters, got ${JSON.stringify(key)}`);
  }
  const parts = key.split('/');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const trailingSlash = i === parts.length - 1 && p === '' && parts.length > 1;
    if (trailingSlash) continue;
    if (p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0')) {
      throw new Error(`object key: expected relative segments without ".", ".." or empty parts, got ${JSON.stringify(key)}`);
    }
  }
  return key;
}

export function joinKey(prefix: string, key: string): string {
  if (!prefix) return key;
  return prefix.endsWith('/') ? `${prefix}${key}` : `${prefix}/${key}`;
}

/** A byte range [start, end) of object `key`: whole non-negative numbers, start <= end. */
export function checkRange(key: string, range: ByteRange): ByteRange {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new Error(`byte range of ${key}: expected whole numbers 0 <= start <= end, got [${start}, ${end})`);
  }
  return range;
}

/** Parses s3://bucket[/prefix]; the same rule S3Store.fromUri applies. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new Error(`storage URI: expected s3://<bucket>[/prefix], got ${JSON.stringify(uri)}`);
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  if (prefix) checkKey(prefix);
  return { bucket: m[1]!, prefix };
}
