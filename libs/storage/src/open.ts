import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, redactUrlCredentials, type ObjectStore, type S3Options } from '@finevideo/core';
import { FileStore } from './file-store.js';
import { LazyS3Store } from './lazy-s3-store.js';

/**
 * A folder store's root must be a folder or not exist yet: a file there, or at a parent, can never hold
 * objects. Said as a sentence naming the path, instead of a raw ENOTDIR from the first read or write.
 */
function assertFolderPath(root: string, what: string): void {
  for (let path = root; ; path = dirname(path)) {
    let isFolder: boolean | undefined;
    try {
      isFolder = statSync(path, { throwIfNoEntry: false })?.isDirectory();
    } catch (e) {
      // ENOTDIR: a parent is a file; the walk up finds it.
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
    }
    if (isFolder === false) {
      throw new ConfigError(`${what}: expected a folder, got a file at ${path}${path === root ? '' : ` (a parent of ${root})`}`);
    }
    if (isFolder === true || dirname(path) === path) return;
  }
}

/**
 * Opens a store from a URI: s3://bucket/prefix, file:///abs/path or a plain path. `what` names the
 * setting in errors ("storage", "source").
 */
export function openStore(uri: string, s3: S3Options = {}, what = 'storage'): ObjectStore {
  if (uri.startsWith('s3://')) {
    if (!/^s3:\/\/[^/]+/.test(uri)) throw new ConfigError(`${what}: expected s3://<bucket>[/prefix], got ${JSON.stringify(redactUrlCredentials(uri))}`);
    return new LazyS3Store(uri, s3);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !uri.startsWith('file://')) {
    throw new ConfigError(`${what}: expected a folder, file:// or s3:// URI, got ${JSON.stringify(redactUrlCredentials(uri))}`);
  }
  assertFolderPath(resolve(uri.startsWith('file://') ? fileURLToPath(uri) : uri), what);
  return new FileStore(uri);
}
