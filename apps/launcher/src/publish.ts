import { createReadStream, openAsBlob } from 'node:fs';
import { lstat, mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, errorMessage, redactUrlCredentials, type ObjectStore } from '@finevideo/core';
import { openStore, s3SettingsForRun, type S3Flags } from '@finevideo/storage';
import { EXPORT_MANIFEST, contentHashes, parseExportManifest, type ExportManifest, type ExportManifestFile } from '@finevideo/stages/export-card';
import type { CommandResult } from './commands.js';

export interface PublishOptions extends S3Flags {
  /** namespace/name of the dataset repo. */
  repo: string;
  /** Create a missing repo public (default: private). An existing repo keeps its visibility. */
  public?: boolean;
  /** The Hub's URL (the library's hubUrl): HF_ENDPOINT, else https://huggingface.co. */
  hubUrl?: string;
  /** Files per commit (each batch is one commit, so an interrupted publish keeps the batches before it). */
  batchFiles?: number;
  log?: (line: string) => void;
}

export interface PublishResult {
  repoUrl: string;
  visibility: 'private' | 'public';
  created: boolean;
  uploaded: number;
  uploadedBytes: number;
  skipped: number;
  /** Files under data/ on the Hub that the manifest does not list (an older export's shards), removed. */
  deleted: number;
  commits: number;
}

const REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DEFAULT_HUB = 'https://huggingface.co';
/** A commit closes at this many bytes too: an S3 export's batch is copied to local scratch first, so this bounds the disk it takes. */
const BATCH_BYTES = 4 * 1024 ** 3;

/** HF_ENDPOINT (or the option) as a base URL; anything but an http(s) URL is a ConfigError naming it. */
export function hubEndpoint(raw: string | undefined): string {
  const value = raw?.trim() || DEFAULT_HUB;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`HF_ENDPOINT: expected the Hub's http(s) URL without credentials or query (e.g. ${DEFAULT_HUB}), got ${JSON.stringify(redactUrlCredentials(value))}`);
  }
  return value.replace(/\/+$/, '');
}

/** Where the export's bytes are: a folder (read in place, links refused) or an S3 prefix (streamed). */
interface ExportSource {
  store: ObjectStore;
  /** The folder's real path (links resolved), for a folder source. */
  folder?: string;
}

async function openExport(source: string, flags: S3Flags): Promise<ExportSource> {
  const isUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(source);
  const store = openStore(isUri ? source : resolve(source), s3SettingsForRun(source, flags), 'export');
  if (isUri && !source.startsWith('file://')) return { store };
  const path = source.startsWith('file://') ? fileURLToPath(source) : resolve(source);
  const folder = await realpath(path).catch(() => {
    throw new ConfigError(`export: expected an export folder, got nothing at ${path}`);
  });
  return { store, folder };
}

/** What is wrong with one local file against its manifest entry, or undefined when it matches. */
async function checkLocalFile(folder: string, f: ExportManifestFile, hashes: Map<string, string>): Promise<string | undefined> {
  const path = join(folder, f.path);
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 'missing';
  if (!info.isFile()) return info.isSymbolicLink() ? 'a link (links are not followed)' : 'not a regular file';
  // A parent folder that is a link would lead outside the export.
  if ((await realpath(path)) !== path) return 'reached through a link (links are not followed)';
  if (info.size !== f.size) return `${info.size} bytes, the manifest says ${f.size}`;
  const h = await contentHashes(createReadStream(path), f.size);
  if (h.sha256 !== f.sha256) return 'content differs from the manifest (sha256)';
  hashes.set(f.path, h.gitOid);
  return undefined;
}

/** Sizes of the manifest's objects under an S3 prefix (one listing; only the manifest's keys kept). */
async function listedSizes(store: ObjectStore, manifest: ExportManifest): Promise<Map<string, number>> {
  const wanted = new Set(manifest.files.map((f) => f.path));
  const sizes = new Map<string, number>();
  for await (const o of store.list('')) if (wanted.has(o.key)) sizes.set(o.key, o.size);
  return sizes;
}

async function checkStoredFile(store: ObjectStore, sizes: Map<string, number>, f: ExportManifestFile, hashes: Map<string, string>): Promise<string | undefined> {
  const size = sizes.get(f.path);
  if (size === undefined) return 'missing';
  if (size !== f.size) return `${size} bytes, the manifest says ${f.size}`;
  const h = await contentHashes(await store.getStream(f.path), f.size);
  if (h.sha256 !== f.sha256) return 'content differs from the manifest (sha256)';
  hashes.set(f.path, h.gitOid);
  return undefined;
}

/**
 * Checks every file of the manifest (presence, size, sha256) before anything is sent to the Hub; any
 * difference fails the publish naming the files. Returns each file's git blob id (the Hub's oid of a file
 * stored without LFS), so unchanged small files are recognised on the Hub.
 */
async function verifyExport(source: ExportSource, manifest: ExportManifest): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const shown: string[] = [];
  let problems = 0;
  const sizes = source.folder ? undefined : await listedSizes(source.store, manifest);
  for (const f of manifest.files) {
    const problem = source.folder ? await checkLocalFile(source.folder, f, hashes) : await checkStoredFile(source.store, sizes!, f, hashes);
    if (!problem) continue;
    problems++;
    if (shown.length < 20) shown.push(`${f.path} (${problem})`);
  }
  if (problems) {
    throw new Error(`export ${source.store.uri}: ${problems} of ${manifest.files.length} file(s) differ from ${EXPORT_MANIFEST}, nothing uploaded: ${shown.join(', ')}${problems > shown.length ? ', ...' : ''}`);
  }
  return hashes;
}

type Hub = typeof import('@huggingface/hub');

/** A Hub call whose failure names the Hub and what was being done ("fetch failed" says neither). */
async function atHub<T>(hubUrl: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (e instanceof TypeError && cause) {
      throw new Error(`Hub ${hubUrl} (HF_ENDPOINT) unreachable while ${what}: ${String(cause.code ?? cause.message ?? e.message)}`, { cause: e });
    }
    // The library reads a message only from an application/json body; the LFS endpoints' git-lfs+json one is in `data`.
    const data = (e as { data?: { message?: unknown } }).data?.message;
    const detail = typeof data === 'string' && !errorMessage(e).includes(data) ? ` (${data.slice(0, 300)})` : '';
    throw new Error(`Hub ${hubUrl}: ${what}: ${errorMessage(e)}${detail}`, { cause: e });
  }
}

async function ensureRepo(hub: Hub, common: HubCommon, wantPublic: boolean, log: (l: string) => void): Promise<{ created: boolean; visibility: 'private' | 'public' }> {
  const name = common.repo.name;
  if (await atHub(common.hubUrl, `checking ${name}`, () => hub.repoExists(common))) {
    const info = await atHub(common.hubUrl, `reading ${name}`, () => hub.datasetInfo({ name, hubUrl: common.hubUrl, accessToken: common.accessToken }));
    return { created: false, visibility: info.private ? 'private' : 'public' };
  }
  const visibility = wantPublic ? 'public' : 'private';
  await atHub(common.hubUrl, `creating ${name}`, () => hub.createRepo({ ...common, visibility }));
  log(`created dataset repo ${name} (${visibility})`);
  return { created: true, visibility };
}

interface HubCommon {
  repo: { type: 'dataset'; name: string };
  accessToken: string;
  hubUrl: string;
}

interface RemoteFile {
  size: number;
  oid: string;
  sha256?: string;
}

async function remoteFiles(hub: Hub, common: HubCommon): Promise<Map<string, RemoteFile>> {
  const remote = new Map<string, RemoteFile>();
  await atHub(common.hubUrl, `listing ${common.repo.name}`, async () => {
    for await (const f of hub.listFiles({ ...common, recursive: true })) {
      if (f.type === 'file') remote.set(f.path, { oid: f.oid ?? '', size: f.size, ...(f.lfs ? { sha256: f.lfs.oid } : {}) });
    }
  });
  return remote;
}

/** One file to send: its manifest entry and a local path to read it from (an S3 object is copied first). */
interface Pending {
  file: ExportManifestFile;
  local: string;
}

/** Data first, the card last: a viewer of a half-published repo never sees a card describing missing files. */
function uploadOrder(manifest: ExportManifest): ExportManifestFile[] {
  return [...manifest.files.filter((f) => f.path !== 'README.md'), ...manifest.files.filter((f) => f.path === 'README.md')];
}

/** A local path holding the file's bytes, checked again against the manifest when it was copied from S3. */
async function localCopy(source: ExportSource, f: ExportManifestFile, scratch: string): Promise<string> {
  if (source.folder) {
    const path = join(source.folder, f.path);
    // Checked again as it is opened: a file swapped for a link since the check is not followed.
    const info = await lstat(path);
    if (!info.isFile() || info.size !== f.size) throw new Error(`export ${source.store.uri}: ${f.path} changed after it was checked against ${EXPORT_MANIFEST}`);
    return path;
  }
  const local = join(scratch, f.path);
  await mkdir(dirname(local), { recursive: true });
  await source.store.download(f.path, local);
  const h = await contentHashes(createReadStream(local), f.size);
  if (h.size !== f.size || h.sha256 !== f.sha256) throw new Error(`export ${source.store.uri}: ${f.path} changed after it was checked against ${EXPORT_MANIFEST}`);
  return local;
}

/**
 * Uploads an export to a Hub dataset repo with @huggingface/hub. Nothing reaches the Hub before the export's
 * manifest (export.json, written last by export-card) is read and every file it lists matches it (size,
 * sha256); only those files are sent, links are never followed. Creates the repo when absent (private unless
 * `public`), skips files already there with the same content (sha256 of LFS files, git blob id of the
 * others), commits the rest in batches with the card last, and removes shards under data/ the manifest does
 * not list. Re-running after an interruption uploads only what is missing.
 */
export async function publishExport(source: string, options: PublishOptions): Promise<PublishResult> {
  if (!REPO.test(options.repo)) throw new ConfigError(`--repo: expected <namespace>/<name>, got ${JSON.stringify(options.repo)}`);
  const accessToken = process.env.HF_TOKEN;
  if (!accessToken) throw new ConfigError('HF_TOKEN: expected a Hugging Face token with write access in the environment (or from a Secret), got none');
  const hubUrl = hubEndpoint(options.hubUrl ?? process.env.HF_ENDPOINT);
  const log = options.log ?? (() => undefined);
  const exported = await openExport(source, options);
  const manifest = parseExportManifest(await exported.store.getText(EXPORT_MANIFEST), exported.store.uri);
  const gitOids = await verifyExport(exported, manifest);
  log(`export ${exported.store.uri}: ${manifest.files.length} file(s) match ${EXPORT_MANIFEST} (run ${manifest.runId})`);

  const hub = await import('@huggingface/hub');
  const common: HubCommon = { repo: { type: 'dataset', name: options.repo }, accessToken, hubUrl };
  const repo = await ensureRepo(hub, common, options.public === true, log);
  const remote = await remoteFiles(hub, common);
  const listed = new Set(manifest.files.map((f) => f.path));
  const stale = [...remote.keys()].filter((p) => p.startsWith('data/') && !listed.has(p));
  const result: PublishResult = { repoUrl: `${hubUrl}/datasets/${options.repo}`, ...repo, uploaded: 0, uploadedBytes: 0, skipped: 0, deleted: 0, commits: 0 };
  const batchFiles = Math.max(1, options.batchFiles ?? 50);
  const scratch = await mkdtemp(join(tmpdir(), 'finevideo-publish-'));
  try {
    const commit = async (batch: Pending[], deletes: string[]) => {
      const first = result.uploaded + 1;
      const operations = [
        ...await Promise.all(batch.map(async (b) => ({ operation: 'addOrUpdate' as const, path: b.file.path, content: await openAsBlob(b.local) }))),
        ...deletes.map((path) => ({ operation: 'delete' as const, path })),
      ];
      const title = batch.length ? `finevideo publish: ${batch.length} file(s) (${first}-${first + batch.length - 1})` : `finevideo publish: remove ${deletes.length} stale file(s)`;
      // LFS, not Xet: see the README ("Publishing"): the Hub takes LFS uploads into any repo, and it is the transfer our fake Hub speaks.
      await atHub(hubUrl, `committing to ${options.repo}`, () => hub.commit({ ...common, title, operations, useXet: false }));
      result.commits++;
      result.uploaded += batch.length;
      result.uploadedBytes += batch.reduce((n, b) => n + b.file.size, 0);
      result.deleted += deletes.length;
      log(`committed ${batch.length} file(s)${deletes.length ? ` and removed ${deletes.length}` : ''}: ${batch.map((b) => b.file.path).slice(0, 3).join(', ')}${batch.length > 3 ? ', ...' : ''}`);
      for (const b of batch) if (!exported.folder) await rm(b.local, { force: true });
    };
    let batch: Pending[] = [];
    let batchBytes = 0;
    for (const f of uploadOrder(manifest)) {
      const on = remote.get(f.path);
      if (on && on.size === f.size && (on.sha256 ? on.sha256 === f.sha256 : on.oid === gitOids.get(f.path))) {
        result.skipped++;
        continue;
      }
      batch.push({ file: f, local: await localCopy(exported, f, scratch) });
      batchBytes += f.size;
      if ((batch.length >= batchFiles || batchBytes >= BATCH_BYTES) && f.path !== 'README.md') {
        await commit(batch, []);
        batch = [];
        batchBytes = 0;
      }
    }
    // The last commit holds the card and removes an older export's shards, so the repo's configs read only this export.
    if (batch.length || stale.length) await commit(batch, stale);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return result;
}

export async function publishCommand(source: string, opts: { repo: string; public?: boolean; batchFiles?: number } & S3Flags): Promise<CommandResult> {
  const { s3Endpoint, s3Region, s3PathStyle } = opts;
  const s3 = { ...(s3Endpoint ? { s3Endpoint } : {}), ...(s3Region ? { s3Region } : {}), ...(s3PathStyle ? { s3PathStyle } : {}) };
  const r = await publishExport(source, { ...s3, repo: opts.repo, public: opts.public === true, ...(opts.batchFiles ? { batchFiles: opts.batchFiles } : {}), log: (l) => process.stderr.write(`${l}\n`) });
  const lines = [
    `published ${source} to ${r.repoUrl} (${r.visibility}, ${r.created ? 'new repo' : 'existing repo'}): ${r.uploaded} file(s) uploaded (${(r.uploadedBytes / 1e6).toFixed(1)} MB) in ${r.commits} commit(s), ${r.skipped} already there with the same content${r.deleted ? `, ${r.deleted} stale file(s) under data/ removed` : ''}`,
  ];
  if (!r.created && opts.public && r.visibility === 'private') lines.push('the repo existed and stays private: --public applies only when publish creates it');
  lines.push(`load it: datasets.load_dataset("${opts.repo}", split="train")`);
  return { exitCode: 0, output: lines.join('\n') };
}
