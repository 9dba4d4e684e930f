import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FileStore, writeParquetRows } from '@finevideo/storage';
import { writeExportManifest, type ExportManifest } from '@finevideo/stages/export-card';
import type { FakeHubRepo } from '@finevideo/testing';

export const SHARDS = [
  ['data/education/train-00000-of-00002.parquet', 300_000, 3],
  ['data/education/train-00001-of-00002.parquet', 200_000, 2],
  ['data/music/train-00000-of-00001.parquet', 150_000, 2],
] as const;

/** Distinct, incompressible-looking bytes per file (so no two files share an LFS object). */
function bytesOf(path: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(path).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * An export as export and export-card leave it: shards by category, index.parquet (one row per video, its
 * shard path), categories.png, README.md, and export.json written by the real manifest writer. Returns the
 * export folder (<tmp>/export/run1) and its manifest.
 */
export async function exportFolder(): Promise<{ dir: string; manifest: ExportManifest }> {
  const root = await mkdtemp(join(tmpdir(), 'publish-'));
  const store = new FileStore(root);
  const index: Record<string, unknown>[] = [];
  for (const [path, size, rows] of SHARDS) {
    await store.put(`export/run1/${path}`, bytesOf(path, size));
    for (let row = 0; row < rows; row++) index.push({ video_id: `${path.split('/')[1]}-${row}`, category: path.split('/')[1], path, row });
  }
  await writeParquetRows(store, 'export/run1/index.parquet', index);
  await store.put('export/run1/categories.png', bytesOf('png', 3_000));
  await store.put('export/run1/README.md', '---\nlicense: cc-by-4.0\n---\n# set\n');
  const manifest = await writeExportManifest(store, { root: 'export/run1', runId: 'run1', others: ['index.parquet', 'categories.png', 'README.md'] });
  return { dir: join(root, 'export', 'run1'), manifest };
}

/** Secrets and links a careless folder holds beside an export: none of them may reach the Hub. */
export async function plantProbes(dir: string): Promise<void> {
  await mkdir(join(dir, '.git'), { recursive: true });
  await writeFile(join(dir, '.git', 'config'), '[remote "origin"]\n\turl = https://user:ghp_secret@github.com/me/x\n');
  await writeFile(join(dir, 'credentials'), '[default]\naws_secret_access_key = AKIASECRET\n');
  await writeFile(join(dir, 'id_rsa'), '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----\n');
  await writeFile(join(dir, 'data', 'music', 'notes.txt'), 'not part of the export');
}

/** Every file under a folder, relative and sorted (hidden ones included). */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** The repo's files as path -> sha256, without the .gitattributes the Hub commits on creation. */
export function repoContent(repo: FakeHubRepo): Record<string, string> {
  return Object.fromEntries([...repo.files].filter(([p]) => p !== '.gitattributes').map(([p, f]) => [p, f.sha256]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
}

/** The manifest's files as path -> sha256. */
export function manifestContent(manifest: ExportManifest): Record<string, string> {
  return Object.fromEntries(manifest.files.map((f) => [f.path, f.sha256]).sort(([a], [b]) => (a! < b! ? -1 : 1)));
}
