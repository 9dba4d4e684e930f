import type { Readable } from 'node:stream';
import { SystemicError, type ByteRange, type ObjectInfo, type ObjectStore } from '@finevideo/core';
import { describeHolder, leaseKey, parseHolder } from './lease.js';

/** The error class of a worker whose launcher was superseded: never retried, nothing committed. */
export const SUPERSEDED_CLASS = 'superseded';

/**
 * A check run before every write of a worker started by the launcher of `epoch`: it throws (not
 * retryable) once the run's lease no longer carries that epoch, because a newer launcher took the run
 * over (its own workers redo the chunk) or the launcher ended. One small read per write.
 */
export function epochFence(store: ObjectStore, runId: string, epoch: number): () => Promise<void> {
  return async () => {
    const holder = parseHolder(await store.getText(leaseKey(runId)));
    if (holder?.epoch === epoch) return;
    const now = holder ? `held by epoch ${holder.epoch} (${describeHolder(holder)})` : 'held by no launcher';
    throw new SystemicError(
      `run ${runId}: expected its lease to carry this worker's epoch ${epoch}, got it ${now}; this worker's launcher was superseded, so nothing more of it is written`,
      SUPERSEDED_CLASS, false,
    );
  };
}

/**
 * A store whose writes (put, upload, createIfAbsent, delete) each pass `check` first: what a stage
 * writes through it (parts, markers, annotations/<id>.json, exported shards) can never land once the
 * worker's launcher is superseded. Reads go straight through.
 */
export class FencedStore implements ObjectStore {
  constructor(private readonly inner: ObjectStore, private readonly check: () => Promise<void>) {}

  get uri(): string {
    return this.inner.uri;
  }

  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }

  getText(key: string): Promise<string | undefined> {
    return this.inner.getText(key);
  }

  getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.inner.getStream(key, range); // a chunk reads its byte range of the stage's work list
  }

  download(key: string, localPath: string): Promise<void> {
    return this.inner.download(key, localPath);
  }

  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }

  localPath(key: string): string | undefined {
    return this.inner.localPath(key);
  }

  child(prefix: string): ObjectStore {
    return new FencedStore(this.inner.child(prefix), this.check);
  }

  async put(key: string, body: string | Uint8Array | Readable, options?: { contentType?: string }): Promise<void> {
    await this.check();
    await this.inner.put(key, body, options);
  }

  async upload(key: string, localPath: string, options?: { contentType?: string }): Promise<void> {
    await this.check();
    await this.inner.upload(key, localPath, options);
  }

  async createIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    await this.check();
    return this.inner.createIfAbsent(key, body);
  }

  async delete(key: string): Promise<void> {
    await this.check();
    await this.inner.delete(key);
  }
}
