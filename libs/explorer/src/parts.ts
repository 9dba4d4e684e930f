import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '@finevideo/core';
import { sqlIdent, sqlString } from '@finevideo/storage';
import type { ExplorerDb } from './duckdb.js';

/**
 * Local paths for a stage's parquet parts: in place for a folder store; for S3, a copy in the
 * explorer's cache folder (parts are immutable once a marker lists them; the marker's finish time is
 * part of the cache name, so a part rewritten by a retry is fetched again).
 */
export async function localParts(
  store: ObjectStore, keys: readonly { key: string; version: string }[], cacheDir: string, origins?: Map<string, string>,
): Promise<string[]> {
  const paths: string[] = [];
  for (const { key, version } of keys) {
    const local = store.localPath(key);
    if (local !== undefined) {
      if (existsSync(local)) paths.push(local);
      continue;
    }
    const name = createHash('sha256').update(`${store.uri}\0${key}\0${version}`).digest('hex').slice(0, 32);
    const path = join(cacheDir, `${name}.parquet`);
    if (!existsSync(path)) {
      await mkdir(cacheDir, { recursive: true });
      const tmp = `${path}.tmp-${process.pid}`;
      await store.download(key, tmp);
      await rename(tmp, path);
    }
    // Where the part is for a reader outside this process (the "copy as DuckDB query" of the page).
    origins?.set(path, `${store.uri.replace(/\/$/, '')}/${key}`);
    paths.push(path);
  }
  return paths;
}

/** A column's physical reading: absent, JSON text (DuckDB typed an all-null JSONL field as JSON), or a plain value. */
type ColumnKind = 'absent' | 'json' | 'value';

/** Parts grouped by how the wanted columns are stored: one read_parquet per group, so types never clash. */
export interface PartGroup {
  files: string[];
  kinds: Record<string, ColumnKind>;
  /** Every column of these files, in order (the full schema is the same across the group). */
  columns: string[];
}

/**
 * Groups files by their schema. Parts of one stage can disagree (a field null in every row of one
 * chunk was written as JSON, the same field as VARCHAR in another), and read_parquet with
 * union_by_name then fails casting one to the other; so each group is read on its own.
 */
export async function groupPartsBySchema(db: ExplorerDb, files: readonly string[]): Promise<PartGroup[]> {
  if (!files.length) return [];
  const schema = await db.all(
    `SELECT file_name, name, converted_type, num_children FROM parquet_schema([${files.map(sqlString).join(', ')}])`,
  );
  // Top-level columns only: parquet_schema lists the root, then fields depth first; children of a
  // nested column follow it, counted by num_children.
  const byFile = new Map<string, { name: string; json: boolean }[]>();
  const pendingChildren = new Map<string, number[]>();
  for (const row of schema) {
    const file = String(row.file_name);
    let cols = byFile.get(file);
    const stack = pendingChildren.get(file) ?? [];
    if (!cols) {
      // The first row of a file is its root (num_children = its top-level columns).
      byFile.set(file, (cols = []));
      pendingChildren.set(file, [Number(row.num_children ?? 0)]);
      continue;
    }
    const depth = stack.length;
    if (depth === 1) cols.push({ name: String(row.name), json: row.converted_type === 'JSON' });
    // This row consumes one child of its parent; a nested row opens its own level.
    stack[depth - 1] = stack[depth - 1]! - 1;
    const children = Number(row.num_children ?? 0);
    if (children > 0) stack.push(children);
    while (stack.length > 1 && stack[stack.length - 1] === 0) stack.pop();
    pendingChildren.set(file, stack);
  }
  const groups = new Map<string, PartGroup>();
  for (const file of files) {
    const cols = byFile.get(file) ?? [];
    const signature = cols.map((c) => `${c.name}:${c.json ? 'j' : 'v'}`).join(',');
    let group = groups.get(signature);
    if (!group) {
      const kinds: Record<string, ColumnKind> = {};
      for (const c of cols) kinds[c.name] = c.json ? 'json' : 'value';
      groups.set(signature, (group = { files: [], kinds, columns: cols.map((c) => c.name) }));
    }
    group.files.push(file);
  }
  return [...groups.values()];
}

export type ValueType = 'VARCHAR' | 'DOUBLE' | 'BOOLEAN';

/** An expression reading column `name` as `type` from a group, whatever way it was stored. */
export function columnAs(group: PartGroup, name: string, type: ValueType): string {
  const kind = group.kinds[name] ?? 'absent';
  if (kind === 'absent') return `NULL::${type}`;
  const col = sqlIdent(name);
  const text = kind === 'json' ? `json_extract_string(${col}, '$')` : col;
  return type === 'VARCHAR' ? `CAST(${text} AS VARCHAR)` : `TRY_CAST(${text} AS ${type})`;
}

/** The group's read_parquet; `origin` names each file as a reader elsewhere finds it (an S3 part's s3:// URL for its cached copy). */
export const readGroup = (group: PartGroup, origin: (file: string) => string = (f) => f): string =>
  `read_parquet([${group.files.map((f) => sqlString(origin(f))).join(', ')}])`;
