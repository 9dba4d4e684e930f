import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, SAFE_NAME_PATTERN } from '@finevideo/core';
import { openStore, rememberS3Settings, s3SettingsForRun, type S3Flags } from '@finevideo/storage';
import { readRunManifest, type RunManifest } from '@finevideo/runtime';
import { detectDatasetFolder, type DatasetFolder } from './dataset.js';
import { fetchS3DatasetFolder } from './s3-dataset.js';

import type { ExplorerSource } from './source-types.js';

export type { ExplorerSource } from './source-types.js';

const RUN_REF = /^(.*?)\/?runs\/([^/]+)\/?$/;
const EXPORT_REF = /^(.*?)\/?export\/([^/]+)\/?$/;

/** Splits "<root>/runs/<id>" or "<root>/export/<id>" (a folder, file:// or s3:// URI) into storage root and run id. */
export function parseExplorerRef(ref: string): { storage: string; runId: string; given: 'run' | 'export' } {
  const trimmed = ref.trim();
  for (const [pattern, given] of [[RUN_REF, 'run'], [EXPORT_REF, 'export']] as const) {
    const m = pattern.exec(trimmed);
    if (m && SAFE_NAME_PATTERN.test(m[2]!)) return { storage: m[1] || '.', runId: m[2]!, given };
  }
  throw new ConfigError(
    `explore: expected a run folder or URI ending in runs/<run-id> (as "finevideo run" prints), or an export folder ending in export/<run-id>, got ${JSON.stringify(ref)}`,
  );
}

/** A local reference that is (or passes through) a file gets a sentence, not ENOTDIR from deep inside a read. */
export function refuseFileAsFolder(ref: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref) && !ref.startsWith('file://')) return;
  let path = resolve(ref.startsWith('file://') ? fileURLToPath(ref) : ref);
  for (;;) {
    const found = statSync(path, { throwIfNoEntry: false });
    if (found) {
      if (!found.isDirectory()) {
        throw new ConfigError(`explore: ${JSON.stringify(path)} is a file, not a folder: expected a run folder (<storage>/runs/<run-id>, as "finevideo run" prints) or an export folder, got ${JSON.stringify(ref)}`);
      }
      return;
    }
    const parent = dirname(path);
    if (parent === path) return;
    path = parent;
  }
}

/**
 * Opens the run: its manifest is read through a first store (with the settings that reach it), then
 * the store is opened again with the run's own S3 settings completed by those.
 */
export async function openExplorerSource(ref: string, flags: S3Flags = {}): Promise<ExplorerSource> {
  refuseFileAsFolder(ref);
  const { storage, runId, given } = parseExplorerRef(ref);
  // As the launcher's other commands: flags, else what this machine remembered for the storage, else the environment.
  const used = s3SettingsForRun(storage, flags);
  const probe = openStore(storage, used);
  let manifest: RunManifest;
  try {
    manifest = await readRunManifest(probe, runId);
  } catch (e) {
    if (given === 'export' && e instanceof ConfigError) {
      throw new ConfigError(`explore: the export ${JSON.stringify(ref)} is read together with its run; expected runs/${runId}/run.json beside it in ${probe.uri}, got none`);
    }
    throw e;
  }
  const s3 = { ...manifest.config.s3, ...used };
  rememberS3Settings(storage, s3);
  const store = Object.keys(s3).length ? openStore(storage, s3) : probe;
  const root = store.uri.startsWith('file://') ? store.uri.slice('file://'.length) : store.uri;
  return { store, runId, manifest, given, ref: `${root.replace(/\/$/, '')}/runs/${runId}` };
}

/** What `finevideo explore` opens: a run (also through its export beside it), or a dataset folder on its own. */
export type ExplorerTarget = { kind: 'run'; source: ExplorerSource } | { kind: 'dataset'; folder: DatasetFolder };

/**
 * A run folder or URI (runs/<id>); an export folder beside its run (export/<id>, read with the run); or
 * a dataset folder anywhere (an export copied away, or FineVideo's flat layout data/train-*.parquet).
 */
export async function openExplorerTarget(ref: string, flags: S3Flags = {}): Promise<ExplorerTarget> {
  refuseFileAsFolder(ref);
  let parsed: ReturnType<typeof parseExplorerRef> | undefined;
  // A dataset folder: local (checked on disk) or an S3 prefix (its shards copied to a temporary folder).
  const datasetAt = (at: string) => (at.startsWith('s3://') ? fetchS3DatasetFolder(at, flags) : Promise.resolve(detectDatasetFolder(at)));
  try {
    parsed = parseExplorerRef(ref);
  } catch (e) {
    const folder = await datasetAt(ref);
    if (folder) return { kind: 'dataset', folder };
    throw new ConfigError(`${(e as Error).message}, or a dataset folder or s3:// prefix holding data/**/*.parquet`);
  }
  if (parsed.given === 'export') {
    // An export is read with its run when the run is beside it; copied elsewhere, on its own.
    const probe = openStore(parsed.storage, s3SettingsForRun(parsed.storage, flags));
    const runBeside = await probe.exists(`runs/${parsed.runId}/run.json`).catch(() => false);
    const folder = runBeside ? undefined : await datasetAt(ref);
    if (folder) return { kind: 'dataset', folder };
  }
  return { kind: 'run', source: await openExplorerSource(ref, flags) };
}
