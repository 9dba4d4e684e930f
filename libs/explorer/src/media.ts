import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ObjectStore, S3Options } from '@finevideo/core';
import { parseS3Uri } from '@finevideo/storage';
import { s3ClientFor } from '@finevideo/storage/s3';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

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

/** S3: GetObject with a Range header, with the client settings the store uses (the run's s3 options, the standard AWS variables). */
function s3RangeReader(uri: string, options: S3Options): RangeReader {
  const { bucket, prefix } = parseS3Uri(uri);
  let client: S3Client | undefined;
  const s3 = () => (client ??= s3ClientFor(options));
  const fullKey = (key: string) => (prefix ? `${prefix}/${key}` : key);
  return {
    async size(key) {
      try {
        const head = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
        return head.ContentLength ?? 0;
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) return undefined;
        throw e;
      }
    },
    async read(key, range) {
      const r = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      return r.Body as Readable;
    },
  };
}
