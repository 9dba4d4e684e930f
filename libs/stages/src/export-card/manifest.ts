import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ConfigError, type ObjectStore } from '@finevideo/core';
import { runDuckDb, sqlString, withLocalCopy } from '@finevideo/storage';

/** The manifest's name at the export root: written last, so its presence means the export is whole. */
export const EXPORT_MANIFEST = 'export.json';

/**
 * A path inside the export: relative, '/'-separated, no segment empty or starting with a dot (so no "..",
 * no ".git", no hidden file), only the characters the export's own names use.
 */
const exportPath = z.string().max(512).regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/, 'a relative path of [A-Za-z0-9._-] segments, none starting with "."');

export const exportManifestFileSchema = z.strictObject({
  path: exportPath,
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lower-case hex'),
  /** Rows of a parquet shard (from the export's index). */
  rows: z.number().int().nonnegative().optional(),
});

export const exportManifestSchema = z.strictObject({
  format: z.literal('finevideo-export'),
  version: z.literal(1),
  runId: z.string().min(1),
  createdAt: z.string().min(1),
  /** Every file of the export (the manifest itself excepted): data first, the card last. */
  files: z.array(exportManifestFileSchema).min(1),
  /** The card's configs and the shards each reads (default: all of them). */
  configs: z.record(z.string(), z.array(exportPath)),
}).superRefine((m, ctx) => {
  const paths = new Set<string>();
  for (const f of m.files) {
    if (paths.has(f.path)) ctx.addIssue({ code: 'custom', path: ['files'], message: `${f.path} listed twice` });
    paths.add(f.path);
  }
  if (!paths.has('README.md')) ctx.addIssue({ code: 'custom', path: ['files'], message: 'README.md (the dataset card) not listed' });
  for (const [name, files] of Object.entries(m.configs)) {
    for (const f of files) if (!paths.has(f)) ctx.addIssue({ code: 'custom', path: ['configs', name], message: `${f} is not among the files` });
  }
});
export type ExportManifest = z.infer<typeof exportManifestSchema>;
export type ExportManifestFile = z.infer<typeof exportManifestFileSchema>;

export interface ContentHashes {
  size: number;
  sha256: string;
  /** Git's blob id (sha1 of "blob <size>\0" and the bytes): how the Hub names a file stored without LFS. */
  gitOid: string;
}

/** Hashes a stream once: its size, sha256 and git blob id (the blob header needs the size in advance). */
export async function contentHashes(stream: Readable, expectedSize: number): Promise<ContentHashes> {
  const sha = createHash('sha256');
  const git = createHash('sha1').update(`blob ${expectedSize}\0`);
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    sha.update(bytes);
    git.update(bytes);
  }
  return { size, sha256: sha.digest('hex'), gitOid: size === expectedSize ? git.digest('hex') : '' };
}

/** Reads and checks a manifest's text; a missing or invalid one is a ConfigError naming what is wrong. */
export function parseExportManifest(text: string | undefined, where: string): ExportManifest {
  if (text === undefined) {
    throw new ConfigError(`export ${where}: expected ${EXPORT_MANIFEST} (the manifest export-card writes last), got none: the export is unfinished or not an export folder`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`export ${where}: ${EXPORT_MANIFEST}: expected JSON, got ${(e as Error).message}`);
  }
  const parsed = exportManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`export ${where}: ${EXPORT_MANIFEST}: expected a finevideo export manifest, got ${issues}`);
  }
  return parsed.data;
}

/** Rows per shard path, from the index export-card wrote (paths relative to the export root). */
async function rowsPerShard(store: ObjectStore, indexKey: string): Promise<Map<string, number>> {
  const rows = await withLocalCopy(store, indexKey, (local) => runDuckDb(`SELECT path, count(*) AS n FROM read_parquet(${sqlString(local)}) GROUP BY path ORDER BY path`));
  return new Map(rows.map((r) => [String(r.path), Number(r.n)]));
}

/** The posters and strips the index names (columns absent in an export made before posters: none). */
async function imagesOf(store: ObjectStore, indexKey: string): Promise<string[]> {
  return withLocalCopy(store, indexKey, async (local) => {
    const columns = new Set((await runDuckDb(`DESCRIBE SELECT * FROM read_parquet(${sqlString(local)})`)).map((c) => String(c.column_name)));
    if (!columns.has('poster') || !columns.has('strip')) return [];
    const rows = await runDuckDb(`SELECT p FROM (SELECT poster AS p, video_id FROM read_parquet(${sqlString(local)}) UNION ALL SELECT strip, video_id FROM read_parquet(${sqlString(local)})) WHERE p IS NOT NULL ORDER BY p`);
    return rows.map((r) => String(r.p));
  });
}

async function describe(store: ObjectStore, sizes: Map<string, number>, key: string, path: string): Promise<ExportManifestFile> {
  const size = sizes.get(key);
  if (size === undefined) throw new Error(`export manifest: expected ${key} in ${store.uri}, got none`);
  const h = await contentHashes(await store.getStream(key), size);
  if (h.size !== size) throw new Error(`export manifest: ${key} changed while it was hashed (listed ${size} bytes, read ${h.size})`);
  return { path, size, sha256: h.sha256 };
}

/** Sizes of the given keys, from one listing of the export root (not one request per file). */
async function sizesOf(store: ObjectStore, root: string, keys: Set<string>): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for await (const o of store.list(`${root}/`)) if (keys.has(o.key)) sizes.set(o.key, o.size);
  return sizes;
}

/**
 * Writes export.json at the export root, after everything else: the shards named by the index (with their
 * rows), the posters and strips it names, then `others` (index, plot, card), each with size and sha256, and the card's configs. `publish`
 * uploads exactly these files and checks each against it first.
 */
export async function writeExportManifest(store: ObjectStore, options: { root: string; runId: string; others: readonly string[] }): Promise<ExportManifest> {
  const { root } = options;
  const shards = await rowsPerShard(store, `${root}/index.parquet`);
  const images = await imagesOf(store, `${root}/index.parquet`);
  const sizes = await sizesOf(store, root, new Set([...shards.keys(), ...images, ...options.others].map((p) => `${root}/${p}`)));
  const files: ExportManifestFile[] = [];
  const configs: Record<string, string[]> = { default: [] };
  for (const [path, rows] of shards) {
    files.push({ ...(await describe(store, sizes, `${root}/${path}`, path)), rows });
    configs.default!.push(path);
    const category = /^data\/([^/]+)\//.exec(path)?.[1];
    if (category) (configs[category] ??= []).push(path);
  }
  for (const path of images) files.push(await describe(store, sizes, `${root}/${path}`, path));
  for (const path of options.others) files.push(await describe(store, sizes, `${root}/${path}`, path));
  const manifest = exportManifestSchema.parse({ format: 'finevideo-export', version: 1, runId: options.runId, createdAt: new Date().toISOString(), files, configs });
  await store.put(`${root}/${EXPORT_MANIFEST}`, `${JSON.stringify(manifest, null, 1)}\n`, { contentType: 'application/json' });
  return manifest;
}
