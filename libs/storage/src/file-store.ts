import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ObjectInfo, ObjectStore } from '@finevideo/core';
import { checkKey } from './keys.js';

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

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

  localPath(key: string): string {
    return this.path(key);
  }

  child(prefix: string): ObjectStore {
    return new FileStore(this.path(prefix.replace(/\/$/, '')));
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if (isNotFound(e)) throw new Error(`object ${key} in ${this.uri}: expected it to exist, got not found`);
      throw e;
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async getStream(key: string): Promise<Readable> {
    if (!(await this.exists(key))) throw new Error(`object ${key} in ${this.uri}: expected it to exist, got not found`);
    return createReadStream(this.path(key));
  }

  async download(key: string, localPath: string): Promise<void> {
    await mkdir(dirname(localPath), { recursive: true });
    await copyFile(this.path(key), localPath);
  }

  private async atomically(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await write(tmp);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async put(key: string, body: string | Uint8Array | Readable): Promise<void> {
    await this.atomically(key, async (tmp) => {
      if (body instanceof Readable) await pipeline(body, createWriteStream(tmp));
      else await writeFile(tmp, body);
    });
  }

  async upload(key: string, localPath: string): Promise<void> {
    await this.atomically(key, (tmp) => copyFile(localPath, tmp));
  }

  async createIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
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
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.path(key));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // A prefix may end inside a name ("runs/a/out/00"): list its folder and filter.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const base = dirKey ? this.path(dirKey) : this.root;
    let entries: string[];
    try {
      entries = (await readdir(base, { recursive: true })).map(String);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const keys: ObjectInfo[] = [];
    for (const rel of entries) {
      const key = (dirKey ? `${dirKey}/` : '') + rel.split(sep).join('/');
      if (!key.startsWith(prefix) || /\.tmp-\d+-[0-9a-f]{8}$/.test(key)) continue;
      const s = await stat(join(base, rel));
      if (s.isFile()) keys.push({ key, size: s.size });
    }
    keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* keys;
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
