import type { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, ObjectStore, S3Options } from '@finevideo/core';
import { checkKey, joinKey, parseS3Uri } from './keys.js';

type S3StoreModule = typeof import('./s3-store.js');
let s3Module: Promise<S3StoreModule> | undefined;

/**
 * An s3:// store that loads the AWS SDK on its first call. Evaluating the SDK costs about 130 ms of CPU,
 * which every chunk process paid at start-up even on folder storage when the S3 store was imported
 * eagerly; now only processes that touch S3 pay it. Behaves exactly as S3Store (it delegates to one).
 */
export class LazyS3Store implements ObjectStore {
  readonly uri: string;
  private real: Promise<ObjectStore> | undefined;

  constructor(uri: string, private readonly options: S3Options = {}) {
    const { bucket, prefix } = parseS3Uri(uri);
    this.uri = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  }

  private store(): Promise<ObjectStore> {
    this.real ??= (s3Module ??= import('./s3-store.js')).then((m) => m.S3Store.fromUri(this.uri, this.options));
    return this.real;
  }

  async get(key: string): Promise<Buffer> {
    return (await this.store()).get(key);
  }
  async getText(key: string): Promise<string | undefined> {
    return (await this.store()).getText(key);
  }
  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    return (await this.store()).getStream(key, range);
  }
  async download(key: string, localPath: string): Promise<void> {
    return (await this.store()).download(key, localPath);
  }
  async put(key: string, body: string | Uint8Array | Readable, options?: { contentType?: string }): Promise<void> {
    return (await this.store()).put(key, body, options);
  }
  async upload(key: string, localPath: string, options?: { contentType?: string }): Promise<void> {
    return (await this.store()).upload(key, localPath, options);
  }
  async exists(key: string): Promise<boolean> {
    return (await this.store()).exists(key);
  }
  async createIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    return (await this.store()).createIfAbsent(key, body);
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* (await this.store()).list(prefix);
  }
  async delete(key: string): Promise<void> {
    return (await this.store()).delete(key);
  }
  localPath(): string | undefined {
    return undefined;
  }
  child(prefix: string): ObjectStore {
    const { bucket, prefix: own } = parseS3Uri(this.uri);
    return new LazyS3Store(`s3://${bucket}/${joinKey(own, checkKey(prefix.replace(/\/$/, '')))}`, this.options);
  }
}
