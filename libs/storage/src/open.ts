import type { ObjectStore, S3Options } from '@finevideo/core';
import { FileStore } from './file-store.js';
import { S3Store } from './s3-store.js';

/** Opens a store from a URI: s3://bucket/prefix, file:///abs/path or a plain path. */
export function openStore(uri: string, s3: S3Options = {}): ObjectStore {
  if (uri.startsWith('s3://')) return S3Store.fromUri(uri, s3);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) {
    throw new Error(`storage URI: expected a folder, file:// or s3:// URI, got ${JSON.stringify(uri)}`);
  }
  return new FileStore(uri);
}
