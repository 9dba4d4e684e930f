import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@finevideo/core';
import { openStore, s3SettingsForRun, type S3Flags } from '@finevideo/storage';
import { detectDatasetFolder, type DatasetFolder } from './dataset.js';
import { storedPosters } from './posters.js';

/** A shard key as a dataset lays it out (data/train-*.parquet or data/<category>/train-*.parquet): safe as a relative path. */
const SHARD_KEY = /^data\/(?:[A-Za-z0-9_][A-Za-z0-9._-]*\/)*[A-Za-z0-9_][A-Za-z0-9._-]*\.parquet$/;

/**
 * A dataset folder on S3 (an export uploaded anywhere, or the flat layout): its shards, index.parquet and card
 * copied into a temporary folder of its own (removed when the explorer closes, or here when a copy fails),
 * since DuckDB reads local files and the mp4 cells are served by offset; its posters stay on S3, fetched as
 * the page asks for them. Undefined when the prefix holds no
 * data/*.parquet. Keys come from the listing: one that is not a plain relative path is refused, never copied.
 */
export async function fetchS3DatasetFolder(ref: string, flags: S3Flags = {}): Promise<DatasetFolder | undefined> {
  const origin = ref.trim().replace(/\/+$/, '');
  const store = openStore(origin, s3SettingsForRun(origin, flags));
  const shards: string[] = [];
  for await (const { key } of store.list('data/')) {
    if (!key.endsWith('.parquet')) continue;
    if (!SHARD_KEY.test(key) || key.split('/').includes('..')) {
      throw new ConfigError(`explore: ${origin}: expected shard keys like data/<category>/train-00000-of-00001.parquet, got ${JSON.stringify(key.slice(0, 200))}`);
    }
    shards.push(key);
  }
  if (!shards.length) return undefined;
  const root = await mkdtemp(join(tmpdir(), 'finevideo-explore-dataset-'));
  try {
    for (const key of shards) await store.download(key, join(root, key));
    for (const key of ['index.parquet', 'README.md']) if (await store.exists(key)) await store.download(key, join(root, key));
    const folder = detectDatasetFolder(root);
    if (!folder) throw new Error(`explore: ${origin}: copied ${shards.length} shard(s) into ${root}, but found none there`);
    return { ...folder, origin, ownsRoot: true, posters: storedPosters(store) };
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw e;
  }
}
