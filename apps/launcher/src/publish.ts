import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, errorMessage, type ObjectStore } from '@finevideo/core';
import { isTemporaryName, openStore } from '@finevideo/storage';
import type { CommandResult } from './commands.js';

export interface PublishOptions {
  /** namespace/name of the dataset repo. */
  repo: string;
  private?: boolean;
  /** The Hub's URL (the library's hubUrl): HF_ENDPOINT, else https://huggingface.co. */
  hubUrl?: string;
  /** Files per commit (each batch is one commit, so an interrupted publish keeps the batches before it). */
  batchFiles?: number;
  log?: (line: string) => void;
}

export interface PublishResult {
  repoUrl: string;
  created: boolean;
  uploaded: number;
  uploadedBytes: number;
  skipped: number;
  commits: number;
}

const REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function fileHashes(path: string, size: number): Promise<{ sha256: string; gitOid: string }> {
  const sha = createHash('sha256');
  // A regular (non-LFS) file on the Hub is known by its git blob id: sha1 of "blob <size>\0" and the bytes.
  const git = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) {
    sha.update(chunk as Buffer);
    git.update(chunk as Buffer);
  }
  return { sha256: sha.digest('hex'), gitOid: git.digest('hex') };
}

interface LocalFile {
  path: string;
  size: number;
}

/** The export's files with a local path each (a folder as it is; an S3 prefix is copied batch by batch). */
async function listExport(store: ObjectStore): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for await (const o of store.list('')) {
    const name = o.key.split('/').pop() ?? '';
    if (isTemporaryName(name) || name.startsWith('.')) continue;
    files.push({ path: o.key, size: o.size });
  }
  return files;
}

/**
 * Uploads an export folder (or S3 prefix) to a Hub dataset repo with @huggingface/hub: creates the repo when
 * absent, skips files already on the Hub with the same content (sha256 of LFS files, git blob id of the
 * others), and commits the rest in batches (the library uploads large files through LFS, or Xet where the
 * Hub offers it). Re-running after an interruption uploads only what is missing.
 */
export async function publishExport(source: string, options: PublishOptions): Promise<PublishResult> {
  if (!REPO.test(options.repo)) throw new ConfigError(`--repo: expected <namespace>/<name>, got ${JSON.stringify(options.repo)}`);
  const accessToken = process.env.HF_TOKEN;
  if (!accessToken) throw new ConfigError('HF_TOKEN: expected a Hugging Face token with write access in the environment (or from a Secret), got none');
  const hubUrl = (options.hubUrl ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const log = options.log ?? (() => undefined);
  const batchFiles = Math.max(1, options.batchFiles ?? 50);
  const store = openStore(/^[a-z0-9]+:\/\//i.test(source) ? source : resolve(source), {}, 'export');
  const files = await listExport(store);
  if (!files.some((f) => f.path === 'README.md')) {
    throw new ConfigError(`export ${store.uri}: expected an export folder (README.md card and data/<category>/*.parquet), got no README.md`);
  }
  const hub = await import('@huggingface/hub');
  const repo = { type: 'dataset' as const, name: options.repo };
  const common = { repo, accessToken, hubUrl };
  let created = false;
  if (!(await hub.repoExists(common))) {
    await hub.createRepo({ ...common, private: options.private === true });
    created = true;
    log(`created dataset repo ${options.repo}${options.private ? ' (private)' : ''}`);
  }
  const remote = new Map<string, { sha256?: string; oid: string; size: number }>();
  for await (const f of hub.listFiles({ ...common, recursive: true })) {
    if (f.type === 'file') remote.set(f.path, { oid: f.oid ?? '', size: f.size, ...(f.lfs ? { sha256: f.lfs.oid } : {}) });
  }
  const scratch = await mkdtemp(join(tmpdir(), 'finevideo-publish-'));
  const result: PublishResult = { repoUrl: `${hubUrl}/datasets/${options.repo}`, created, uploaded: 0, uploadedBytes: 0, skipped: 0, commits: 0 };
  try {
    let batch: { path: string; local: string; size: number }[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const first = result.uploaded + 1;
      await hub.commit({
        ...common,
        title: `finevideo publish: ${batch.length} file(s) (${first}-${first + batch.length - 1})`,
        operations: batch.map((b) => ({ operation: 'addOrUpdate' as const, path: b.path, content: pathToFileURL(b.local) })),
      });
      result.commits++;
      result.uploaded += batch.length;
      result.uploadedBytes += batch.reduce((n, b) => n + b.size, 0);
      log(`committed ${batch.length} file(s): ${batch.map((b) => b.path).slice(0, 3).join(', ')}${batch.length > 3 ? ', ...' : ''}`);
      for (const b of batch) if (b.local.startsWith(scratch)) await rm(b.local, { force: true });
      batch = [];
    };
    // Data first, the card last: a viewer of a half-published repo never sees a card describing missing files.
    const ordered = [...files.filter((f) => f.path !== 'README.md'), ...files.filter((f) => f.path === 'README.md')];
    for (const f of ordered) {
      let local = store.localPath(f.path);
      if (!local) {
        local = join(scratch, f.path);
        await mkdir(dirname(local), { recursive: true });
        await store.download(f.path, local);
      }
      const size = (await stat(local)).size;
      const on = remote.get(f.path);
      if (on && on.size === size) {
        const h = await fileHashes(local, size);
        if ((on.sha256 && on.sha256 === h.sha256) || (!on.sha256 && on.oid === h.gitOid)) {
          result.skipped++;
          if (local.startsWith(scratch)) await rm(local, { force: true });
          continue;
        }
      }
      batch.push({ path: f.path, local, size });
      if (batch.length >= batchFiles) await flush();
    }
    await flush();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new Error(`publish to ${hubUrl} (${options.repo}): ${errorMessage(e)}`, { cause: e });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return result;
}

export async function publishCommand(source: string, opts: { repo: string; private?: boolean; batchFiles?: number }): Promise<CommandResult> {
  const lines: string[] = [];
  const r = await publishExport(source, { repo: opts.repo, private: opts.private === true, ...(opts.batchFiles ? { batchFiles: opts.batchFiles } : {}), log: (l) => process.stderr.write(`${l}\n`) });
  lines.push(`published ${source} to ${r.repoUrl}${r.created ? ' (new repo)' : ''}: ${r.uploaded} file(s) uploaded (${(r.uploadedBytes / 1e6).toFixed(1)} MB) in ${r.commits} commit(s), ${r.skipped} already there with the same content`);
  lines.push(`load it: datasets.load_dataset("${opts.repo}", split="train")`);
  return { exitCode: 0, output: lines.join('\n') };
}
