import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ObjectStore, S3Options } from '@finevideo/core';

/** A byte range of an object: inclusive start and end, as HTTP Range headers count. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest = { kind: 'whole' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * Parses a Range header for an object of `size` bytes: one range ("bytes=a-b", "bytes=a-", "bytes=-n").
 * Several ranges are served whole (allowed by RFC 9110: a server may ignore Range); a range that
 * starts past the end is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'whole' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return { kind: 'unsatisfiable' };
  return { kind: 'range', range: { start, end } };
}

/** Reads objects by byte range: in place for a folder store; with S3 GetObject Range for S3. */
export interface RangeReader {
  /** The object's size, or undefined when it does not exist. */
  size(key: string): Promise<number | undefined>;
  read(key: string, range: ByteRange | undefined): Promise<Readable>;
}

export function rangeReader(store: ObjectStore, s3: S3Options = {}): RangeReader {
  // A folder store: the file is opened by its path (the key was checked before it got here).
  if (store.localPath('media/x') !== undefined) {
    return {
      async size(key) {
        try {
          const s = await stat(store.localPath(key)!);
          return s.isFile() ? s.size : undefined;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
          throw e;
        }
      },
      async read(key, range) {
        return createReadStream(store.localPath(key)!, range ? { start: range.start, end: range.end } : {});
      },
    };
  }
  return s3RangeReader(store.uri, s3);
}

/** S3: the SDK is loaded on first use, with the client settings the store uses (the standard AWS variables). */
function s3RangeReader(uri: string, options: S3Options): RangeReader {
  type S3 = typeof import('@aws-sdk/client-s3');
  let loaded: Promise<{ sdk: S3; client: import('@aws-sdk/client-s3').S3Client; bucket: string; prefix: string }> | undefined;
  const load = () =>
    (loaded ??= Promise.all([import('@aws-sdk/client-s3'), import('@finevideo/storage/s3'), import('@finevideo/storage')]).then(([sdk, s3, storage]) => {
      const { bucket, prefix } = storage.parseS3Uri(uri);
      return { sdk, client: s3.s3ClientFor(options), bucket, prefix };
    }));
  const fullKey = (prefix: string, key: string) => (prefix ? `${prefix}/${key}` : key);
  return {
    async size(key) {
      const { sdk, client, bucket, prefix } = await load();
      try {
        const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: fullKey(prefix, key) }));
        return head.ContentLength ?? 0;
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) return undefined;
        throw e;
      }
    },
    async read(key, range) {
      const { sdk, client, bucket, prefix } = await load();
      const r = await client.send(new sdk.GetObjectCommand({
        Bucket: bucket, Key: fullKey(prefix, key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
      }));
      return r.Body as Readable;
    },
  };
}
