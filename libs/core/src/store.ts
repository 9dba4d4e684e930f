import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  size: number;
  /** What identifies this content of the object where the listing says it (S3: the ETag). */
  version?: string;
}

/**
 * One object store: a local folder or an S3 bucket prefix. Keys are relative,
 * '/'-separated. Every put is atomic: a reader sees the whole object or none.
 */
/** Bytes [start, end) of an object. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectStore {
  /** The root URI (file:///abs/path or s3://bucket/prefix). */
  readonly uri: string;
  get(key: string): Promise<Buffer>;
  /** undefined when the key does not exist. */
  getText(key: string): Promise<string | undefined>;
  /** The object's bytes, or only bytes [range.start, range.end) of it (a ranged GET on S3). */
  getStream(key: string, range?: ByteRange): Promise<Readable>;
  /** Copies the object to a local file (streamed). */
  download(key: string, localPath: string): Promise<void>;
  put(key: string, body: string | Uint8Array | Readable, options?: { contentType?: string }): Promise<void>;
  /** Uploads a local file (streamed, multipart on S3). */
  upload(key: string, localPath: string, options?: { contentType?: string }): Promise<void>;
  exists(key: string): Promise<boolean>;
  /**
   * Writes the object only if the key does not exist yet, atomically: of two writers, one wins
   * (a folder: link(2); S3: PutObject with If-None-Match: *). true when written, false when it existed.
   */
  createIfAbsent(key: string, body: string | Uint8Array): Promise<boolean>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
  /** A local filesystem path for the key when the store is a folder (lets native readers open it in place). */
  localPath(key: string): string | undefined;
  /** A child store rooted at key prefix. */
  child(prefix: string): ObjectStore;
}
