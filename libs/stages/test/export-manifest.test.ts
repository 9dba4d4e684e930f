import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@finevideo/core';
import { FileStore, openStore, writeParquetRows } from '@finevideo/storage';
import { setEnv, startS3rver } from '@finevideo/testing';
import { EXPORT_MANIFEST, parseExportManifest, writeExportManifest } from '@finevideo/stages/export-card';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('export manifest (export.json, written last by export-card)', () => {
  let root: string;
  let store: FileStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'manifest-'));
    store = new FileStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists the shards named by the index with their rows, then the other files, each with size and sha256, and the configs', async () => {
    const shards = { 'data/music/train-00000-of-00001.parquet': 'music bytes', 'data/education/train-00000-of-00002.parquet': 'edu 0', 'data/education/train-00001-of-00002.parquet': 'edu one' };
    for (const [path, text] of Object.entries(shards)) await store.put(`export/r1/${path}`, text);
    const rows = [['data/education/train-00000-of-00002.parquet', 3], ['data/education/train-00001-of-00002.parquet', 1], ['data/music/train-00000-of-00001.parquet', 2]] as const;
    await writeParquetRows(store, 'export/r1/index.parquet', rows.flatMap(([path, n]) => Array.from({ length: n }, (_, row) => ({ video_id: `${path}-${row}`, path, row }))));
    await store.put('export/r1/README.md', '# card\n');
    // Beside the export, not written by it: never listed.
    await store.put('export/r1/.git/config', 'secret');
    await store.put('export/r1/data/music/stray.parquet', 'stray');
    const written = await writeExportManifest(store, { root: 'export/r1', runId: 'r1', others: ['index.parquet', 'README.md'] });
    const read = parseExportManifest(await store.getText(`export/r1/${EXPORT_MANIFEST}`), 'export/r1');
    assert.deepEqual(read, written);
    assert.equal(read.runId, 'r1');
    assert.deepEqual(read.files.map((f) => [f.path, f.rows]), [...rows, ['index.parquet', undefined], ['README.md', undefined]]);
    const music = read.files.find((f) => f.path === 'data/music/train-00000-of-00001.parquet')!;
    assert.deepEqual([music.size, music.sha256], [11, sha('music bytes')]);
    assert.equal(read.files.find((f) => f.path === 'README.md')!.sha256, sha('# card\n'));
    assert.deepEqual(read.configs, {
      default: rows.map(([p]) => p),
      education: ['data/education/train-00000-of-00002.parquet', 'data/education/train-00001-of-00002.parquet'],
      music: ['data/music/train-00000-of-00001.parquet'],
    });
  });

  it('writes the same manifest from an export on S3 (s3rver) as from a folder', async () => {
    const s3 = await startS3rver({ buckets: ['exports'] });
    const restore = setEnv(s3.env);
    try {
      const bucket = openStore('s3://exports/prefix');
      for (const target of [store, bucket] as const) {
        await target.put('export/r1/data/a/train-00000-of-00001.parquet', 'shard bytes');
        await writeParquetRows(target, 'export/r1/index.parquet', [{ video_id: 'v1', path: 'data/a/train-00000-of-00001.parquet', row: 0 }]);
        await target.put('export/r1/README.md', '# card\n');
      }
      const options = { root: 'export/r1', runId: 'r1', others: ['index.parquet', 'README.md'] };
      const fromFolder = await writeExportManifest(store, options);
      await writeExportManifest(bucket, options);
      const fromS3 = parseExportManifest(await bucket.getText(`export/r1/${EXPORT_MANIFEST}`), 's3');
      const strip = (m: typeof fromFolder) => ({ ...m, createdAt: '' });
      assert.deepEqual(strip(fromS3), strip(fromFolder));
      assert.deepEqual(fromS3.files.map((f) => [f.path, f.rows]), [['data/a/train-00000-of-00001.parquet', 1], ['index.parquet', undefined], ['README.md', undefined]]);
    } finally {
      restore();
      await s3.stop();
    }
  });

  it('fails (no manifest written) when a shard the index names is missing', async () => {
    await writeParquetRows(store, 'export/r1/index.parquet', [{ video_id: 'a', path: 'data/x/train-00000-of-00001.parquet', row: 0 }]);
    await store.put('export/r1/README.md', '# card\n');
    await assert.rejects(writeExportManifest(store, { root: 'export/r1', runId: 'r1', others: ['README.md'] }), /expected export\/r1\/data\/x\/train-00000-of-00001\.parquet in .*, got none/);
    assert.equal(await store.exists(`export/r1/${EXPORT_MANIFEST}`), false);
  });

  it('refuses a manifest with a path outside the export, a duplicate, a config naming an unlisted file, or no card', () => {
    const file = { path: 'README.md', size: 1, sha256: 'a'.repeat(64) };
    const manifest = (over: Record<string, unknown>) => JSON.stringify({ format: 'finevideo-export', version: 1, runId: 'r', createdAt: 'now', files: [file], configs: {}, ...over });
    assert.equal(parseExportManifest(manifest({}), 'x').files.length, 1);
    for (const [over, message] of [
      [{ files: [file, { ...file, path: '../secrets' }] }, /files\.1\.path: a relative path/],
      [{ files: [file, { ...file, path: '/etc/passwd' }] }, /files\.1\.path/],
      [{ files: [file, file] }, /README\.md listed twice/],
      [{ configs: { default: ['data/a.parquet'] } }, /configs\.default: data\/a\.parquet is not among the files/],
      [{ files: [{ ...file, path: 'index.parquet' }] }, /README\.md \(the dataset card\) not listed/],
      [{ files: [{ ...file, sha256: 'nope' }] }, /sha256/],
    ] as const) {
      assert.throws(() => parseExportManifest(manifest(over), 'x'), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    }
  });
});
