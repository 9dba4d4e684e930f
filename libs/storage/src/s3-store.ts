import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ByteRange, ObjectInfo, ObjectStore, S3Options } from '@finevideo/core';
import { checkKey, checkRange, joinKey } from './keys.js';
import { parseS3Uri } from './keys.js';

const isMissing = (e: unknown) =>
  e instanceof S3ServiceException && (e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404);

/** Options from the config win; the environment fills the rest (the standard AWS variables). */
export function s3ClientFor(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const forcePathStyle = options.forcePathStyle ?? (env.FINEVIDEO_S3_FORCE_PATH_STYLE === '1' || env.FINEVIDEO_S3_FORCE_PATH_STYLE === 'true');
  return new S3Client({
    region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    forcePathStyle,
    // The SDK's standard strategy retries throttling (SlowDown, 429) and 5xx with jittered backoff.
    retryMode: 'standard',
    maxAttempts: Number(env.FINEVIDEO_S3_MAX_ATTEMPTS ?? 5),
  });
}

/**
 * A bucket prefix as an object store. S3 PUT and CompleteMultipartUpload are atomic:
 * a reader sees the previous object or the whole new one, never a part.
 */
export class S3Store implements ObjectStore {
  readonly uri: string;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.uri = `s3://${bucket}${prefix ? `/${prefix.replace(/\/$/, '')}` : ''}`;
  }

  static fromUri(uri: string, options: S3Options = {}): S3Store {
    const { bucket, prefix } = parseS3Uri(uri);
    return new S3Store(s3ClientFor(options), bucket, prefix);
  }

  private key(key: string): string {
    return joinKey(this.prefix, checkKey(key));
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${this.key(key)}`;
  }

  private fail(action: string, key: string, e: unknown): never {
    this.failAt(action, this.where(key), e);
  }

  private failAt(action: string, location: string, e: unknown): never {
    const status = e instanceof S3ServiceException ? ` (HTTP ${e.$metadata?.httpStatusCode ?? '?'}, ${e.name})` : '';
    throw new Error(`${action} ${location}: ${(e as Error).message}${status}`, { cause: e });
  }

  localPath(): string | undefined {
    return undefined;
  }

  child(prefix: string): ObjectStore {
    return new S3Store(this.client, this.bucket, this.key(prefix.replace(/\/$/, '')));
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    if (range) checkRange(key, range);
    // HTTP ranges cannot be empty: an empty range is answered without a request.
    if (range && range.end === range.start) return Readable.from([]);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }));
      return r.Body as Readable;
    } catch (e) {
      if (isMissing(e)) throw new Error(`object ${this.where(key)}: expected it to exist, got not found`);
      this.fail('get', key, e);
    }
  }

  async get(key: string): Promise<Buffer> {
    const stream = await this.getStream(key);
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(Buffer.from(part as Uint8Array));
    return Buffer.concat(parts);
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return (await this.get(key)).toString('utf8');
    } catch (e) {
      if ((e as Error).message.endsWith('got not found')) return undefined;
      throw e;
    }
  }

  async download(key: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    await pipeline(await this.getStream(key), createWriteStream(localPath));
  }

  async put(key: string, body: string | Uint8Array | Readable, options: { contentType?: string } = {}): Promise<void> {
    try {
      // lib-storage streams in parts (multipart above 5 MiB), a single PUT otherwise.
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: this.key(key), Body: body, ...(options.contentType ? { ContentType: options.contentType } : {}) },
        partSize: 8 * 1024 * 1024,
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (e) {
      this.fail('put', key, e);
    }
  }

  async upload(key: string, localPath: string, options: { contentType?: string } = {}): Promise<void> {
    await this.put(key, createReadStream(localPath), options);
  }

  async createIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    // S3 conditional write (AWS since 2024-08, MinIO, R2): 412 when the key exists; 409 while another
    // conditional write of the key is in flight (retry). s3rver ignores If-None-Match on PUT.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: body, IfNoneMatch: '*' }));
        return true;
      } catch (e) {
        const status = e instanceof S3ServiceException ? e.$metadata?.httpStatusCode : undefined;
        if (status === 412) return false;
        if (status === 409 && attempt < 5) {
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
          continue;
        }
        this.fail('create', key, e);
      }
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      this.fail('head', key, e);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = this.prefix ? joinKey(this.prefix, prefix) : prefix;
    const strip = this.prefix ? `${this.prefix}/` : '';
    // Page by page (1,000 keys each), never the whole listing in memory: S3 returns keys in UTF-8
    // binary order, which is the sorted order the contract promises.
    let token: string | undefined;
    let last: Buffer | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }));
      } catch (e) {
        // The prefix may be '' (the whole store): name the location without checking it as a key.
        this.failAt('list', `s3://${this.bucket}/${full}`, e);
      }
      // One page (at most 1,000 keys) is put in UTF-8 binary order: some S3-compatible servers (s3rver)
      // return a folder's keys before a sibling such as "a-c".
      const objects = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ raw: Buffer.from(o.Key, 'utf8'), key: o.Key, size: o.Size ?? 0, etag: o.ETag }] : []))
        .sort((a, b) => Buffer.compare(a.raw, b.raw));
      for (const o of objects) {
        // A server that repeats or reorders keys across pages would make callers miss or redo work.
        if (last !== undefined && Buffer.compare(o.raw, last) <= 0) {
          throw new Error(`list s3://${this.bucket}/${full}: expected keys in ascending order across pages, got ${JSON.stringify(o.key)} after ${JSON.stringify(last.toString('utf8'))}`);
        }
        last = o.raw;
        yield { key: o.key.slice(strip.length), size: o.size, ...(o.etag ? { version: o.etag } : {}) };
      }
      const next = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !next) throw new Error(`list s3://${this.bucket}/${full}: expected a continuation token with a truncated page, got none`);
      token = next;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    } catch (e) {
      if (!isMissing(e)) this.fail('delete', key, e);
    }
  }
}
