import { createReadStream, createWriteStream, rename as renameCallback, writeFile as writeFileCallback } from 'node:fs';
import { copyFile, link, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SystemicError, type ByteRange, type ObjectInfo, type ObjectStore } from '@finevideo/core';
import { checkKey, checkRange } from './keys.js';

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

/** The error class of a folder the process may not read or write: permanent, so the chunk is not retried. */
export const STORAGE_PERMISSION_CLASS = 'storage permission denied';
const PERMISSION_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * An error of the file system as the store's: a permission refusal (EACCES, EPERM, a read-only file
 * system) becomes a not-retryable SystemicError naming the action and the path; others stay as they are.
 */
function storageError(e: unknown, action: string, path: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !PERMISSION_CODES.has(code)) return e;
  return new SystemicError(
    `${STORAGE_PERMISSION_CLASS}: cannot ${action} ${(e as NodeJS.ErrnoException).path ?? path} (${code}); give this user access to the folder, or choose another storage`,
    STORAGE_PERMISSION_CLASS, false, { cause: e },
  );
}
// The callback API, promisified: 2.4x faster than fs/promises (no FileHandle per file) for the
// many small puts of a plan (40,000 work lists at 2,000,000 items).
const writeFast = promisify(writeFileCallback);
const renameFast = promisify(renameCallback);

let tmpCounter = 0;

/** A put's temporary sibling: `<target>.tmp-<pid>-<8 hex digits>`, unique per process and put. */
function temporaryName(target: string): string {
  return `${target}.tmp-${process.pid}-${(tmpCounter++ % 0x1_0000_0000).toString(16).padStart(8, '0')}`;
}

/** Whether a file name is a put still under way (or left by a crash): listings never show it. */
export function isTemporaryName(name: string): boolean {
  return /\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/** A folder as an object store. Puts write a temporary sibling and rename it: atomic on one filesystem. */
export class FileStore implements ObjectStore {
  readonly root: string;
  readonly uri: string;

  constructor(rootPathOrUri: string) {
    const path = rootPathOrUri.startsWith('file://') ? fileURLToPath(rootPathOrUri) : rootPathOrUri;
    this.root = resolve(path);
    this.uri = `file://${this.root}`;
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  /** Runs a file-system action of the store, its permission errors made permanent storage errors. */
  private async guard<T>(action: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw storageError(e, action, key ? this.path(key) : this.root);
    }
  }

  localPath(key: string): string {
    return this.path(key);
  }

  child(prefix: string): ObjectStore {
    return new FileStore(this.path(prefix.replace(/\/$/, '')));
  }

  async get(key: string): Promise<Buffer> {
    return this.guard('read', key, async (): Promise<Buffer> => {
      try {
        return await readFile(this.path(key));
      } catch (e) {
        if (isNotFound(e)) throw new Error(`object ${key} in ${this.uri}: expected it to exist, got not found`);
        throw e;
      }
    });
  }

  async getText(key: string): Promise<string | undefined> {
    return this.guard('read', key, async (): Promise<string | undefined> => {
      try {
        return await readFile(this.path(key), 'utf8');
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    });
  }

  async getStream(key: string, range?: ByteRange): Promise<Readable> {
    return this.guard('read', key, async (): Promise<Readable> => {
      if (!(await this.exists(key))) throw new Error(`object ${key} in ${this.uri}: expected it to exist, got not found`);
      if (!range) return createReadStream(this.path(key));
      checkRange(key, range);
      // createReadStream's end is inclusive; an empty range reads nothing.
      return range.end > range.start ? createReadStream(this.path(key), { start: range.start, end: range.end - 1 }) : Readable.from([]);
    });
  }

  async download(key: string, localPath: string): Promise<void> {
    return this.guard('read', key, async (): Promise<void> => {
      await mkdir(dirname(localPath), { recursive: true });
      await copyFile(this.path(key), localPath);
    });
  }

  /**
   * Folders this store made, so 40,000 puts into one folder cost one mkdir, not 40,000. A folder removed
   * since (a stage reset) is made again when a write into it answers ENOENT.
   */
  private readonly madeDirs = new Set<string>();

  private async ensureDir(dir: string, again = false): Promise<void> {
    if (!again && this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.madeDirs.size >= 4096) this.madeDirs.clear();
    this.madeDirs.add(dir);
  }

  private async atomically(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const target = this.path(key);
    await this.ensureDir(dirname(target));
    const tmp = temporaryName(target);
    try {
      try {
        await write(tmp);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        await this.ensureDir(dirname(target), true);
        await write(tmp);
      }
      await renameFast(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async put(key: string, body: string | Uint8Array | Readable): Promise<void> {
    return this.guard('write', key, async (): Promise<void> => {
      await this.atomically(key, async (tmp) => {
        if (body instanceof Readable) await pipeline(body, createWriteStream(tmp));
        else await writeFast(tmp, body);
      });
    });
  }

  async upload(key: string, localPath: string): Promise<void> {
    return this.guard('write', key, async (): Promise<void> => {
      await this.atomically(key, (tmp) => copyFile(localPath, tmp));
    });
  }

  async createIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    return this.guard('write', key, async (): Promise<boolean> => {
      const target = this.path(key);
      await mkdir(dirname(target), { recursive: true });
      const tmp = temporaryName(target);
      try {
        await writeFile(tmp, body);
        // link(2) fails with EEXIST when the target exists, and the target appears whole: an atomic create.
        await link(tmp, target);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException)?.code === 'EEXIST') return false;
        throw e;
      } finally {
        await rm(tmp, { force: true });
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    return this.guard('check', key, async (): Promise<boolean> => {
      try {
        await stat(this.path(key));
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // A prefix may end inside a name ("runs/a/out/00"): list its folder and keep the names that start so.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(dirKey, prefix.slice(slash + 1));
  }

  /**
   * Streams the files under a folder in key order, one folder's names in memory at a time (never the
   * whole tree). A folder sorts as its name plus '/', so "a-c" comes before "a/b" as in S3's order.
   */
  private async *walk(dirKey: string, namePrefix = '', folder = dirKey ? this.path(dirKey) : this.root): AsyncIterable<ObjectInfo> {
    let entries: { name: string; folder: boolean; sortKey: string }[];
    try {
      entries = (await readdir(folder, { withFileTypes: true }))
        .filter((e) => e.name.startsWith(namePrefix) && !isTemporaryName(e.name))
        .map((e) => ({ name: e.name, folder: e.isDirectory(), sortKey: e.isDirectory() ? `${e.name}/` : e.name }));
    } catch (e) {
      if (isNotFound(e) || (e as NodeJS.ErrnoException)?.code === 'ENOTDIR') return;
      throw storageError(e, 'list', folder);
    }
    entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    // Files are stat'ed a batch at a time (their sizes), folders walked in place.
    const batch = 64;
    for (let i = 0; i < entries.length; ) {
      const entry = entries[i]!;
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.folder) {
        yield* this.walk(key, '', join(folder, entry.name));
        i++;
        continue;
      }
      let end = i;
      while (end < entries.length && end - i < batch && !entries[end]!.folder) end++;
      const files = entries.slice(i, end);
      const stats = await Promise.all(files.map((f) => stat(join(folder, f.name)).catch((e: unknown) => {
        if (isNotFound(e)) return undefined; // removed while listing
        throw storageError(e, 'list', join(folder, f.name));
      })));
      for (const [k, s] of stats.entries()) {
        if (s?.isFile()) yield { key: dirKey ? `${dirKey}/${files[k]!.name}` : files[k]!.name, size: s.size };
      }
      i = end;
    }
  }

  async delete(key: string): Promise<void> {
    return this.guard('delete', key, async (): Promise<void> => {
      await rm(this.path(key), { force: true });
    });
  }
}
