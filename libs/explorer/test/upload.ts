import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { ObjectStore } from '@finevideo/core';

/** Every file of a local folder uploaded under a store's prefix, keys relative to the folder. */
export async function uploadFolder(store: ObjectStore, folder: string, prefix = ''): Promise<void> {
  const paths = readdirSync(folder, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  for (const path of paths) await store.upload(`${prefix}${relative(folder, path).split(sep).join('/')}`, path);
}
