import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type LoopbackServer } from '../http.js';

/**
 * A fake Hugging Face Hub speaking the endpoints @huggingface/hub calls (read from its source,
 * src/lib/{create-repo,repo-exists,dataset-info,list-files,commit}.ts), so production code runs unchanged
 * through the library's `hubUrl` option:
 *   GET  /api/{type}s/{ns}/{name}                          repoExists (404 when absent)
 *   GET  /api/{type}s/{ns}/{name}/revision/{rev}           datasetInfo (private, ...)
 *   POST /api/repos/create                                 createRepo (an initial .gitattributes, as the Hub commits)
 *   GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]      listFiles: `recursive=true` lists the whole subtree, otherwise
 *                                                          the folder's direct entries (files and "directory" entries);
 *                                                          pages of `treePageSize` joined by a Link rel="next" header
 *   POST /api/{type}s/{ns}/{name}/preupload/{rev}          which files go through LFS (here: every file over 1 KB or a binary one)
 *   POST /{type}s/{ns}/{name}.git/info/lfs/objects/batch   LFS batch (git-lfs batch API): `operation` upload or download and
 *                                                          `hash_algo` sha256 (the JS library spells it sha_256), else the
 *                                                          git-lfs error shape ({message, request_id}, 422 / 409)
 *   PUT  /lfs-upload/{oid}                                 "basic" transfer: the object's bytes (sha256 checked)
 *   PUT  /lfs-part/{oid}/{n}, POST /lfs-complete/{oid}     "multipart" transfer, for objects over `multipartChunkSize`
 *   POST /api/{type}s/{ns}/{name}/commit/{rev}             NDJSON commit: header, file (base64), lfsFile (oid must be uploaded), deletedFile
 * Every call but repo GETs needs `Authorization: Bearer <token>`.
 *
 * Transfers: @huggingface/hub 2.x offers "xet" in the LFS batch unless `useXet: false`, and the real Hub then
 * answers with Xet (a CAS protocol this fake does not speak). Rather than answer "basic" where the Hub would
 * answer "xet" (so the path production takes would never run here), the fake refuses a batch that offers xet.
 */
export interface HubFile {
  size: number;
  /** sha256 hex of the content (an LFS file's oid). */
  sha256: string;
  lfs: boolean;
  content: Buffer;
}

export interface FakeHubRepo {
  type: string;
  name: string;
  private: boolean;
  files: Map<string, HubFile>;
  commits: { title: string; paths: string[]; deleted: string[] }[];
}

export interface FakeHubStats {
  repoCreates: number;
  lfsUploads: number;
  lfsBytes: number;
  multipartUploads: number;
  commits: number;
  requests: string[];
}

/** Faults a test sets and clears while the hub runs. */
export interface FakeHubFaults {
  /** Commits accepted before the next ones fail: with 'error' a 500, with 'hang' no answer until the hub closes. */
  commitsBeforeFailure?: number;
  failure?: 'error' | 'hang';
}

export interface FakeHub extends LoopbackServer {
  repos: Map<string, FakeHubRepo>;
  stats: FakeHubStats;
  faults: FakeHubFaults;
}

export interface FakeHubOptions {
  token: string;
  /** Entries per tree page (the Hub pages its listings; a client that ignores the Link header misses the rest). */
  treePageSize?: number;
  /** LFS objects larger than this go through the multipart transfer (chunks of this size); default: never. */
  multipartChunkSize?: number;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Git's blob id, which the Hub returns as a regular file's oid. */
const gitBlobOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const GITATTRIBUTES = Buffer.from('*.parquet filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n');
const LFS_JSON = 'application/vnd.git-lfs+json';

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, value: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'X-Request-Id': 'fake-hub', ...headers });
  res.end(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A git-lfs batch API error: its documented body ({message, request_id}) and media type. */
const lfsError = (res: ServerResponse, status: number, message: string) => send(res, status, { message, request_id: 'fake-hub' }, LFS_JSON);

interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

/** The tree under `folder`: every file and folder below it when recursive, else its direct children. */
function treeEntries(repo: FakeHubRepo, folder: string, recursive: boolean): TreeEntry[] {
  const prefix = folder ? `${folder}/` : '';
  const entries = new Map<string, TreeEntry>();
  for (const [path, f] of repo.files) {
    if (!path.startsWith(prefix)) continue;
    const parts = path.slice(prefix.length).split('/');
    // The folders on the way to the file, as far as the listing goes.
    for (let i = 1; i < parts.length && (recursive || i === 1); i++) {
      const dir = prefix + parts.slice(0, i).join('/');
      entries.set(dir, { type: 'directory', path: dir, size: 0, oid: createHash('sha1').update(`tree ${dir}`).digest('hex') });
    }
    if (recursive || parts.length === 1) {
      entries.set(path, { type: 'file', path, size: f.size, oid: gitBlobOid(f.content), ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: 134 } } : {}) });
    }
  }
  return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
}

interface LfsBatchRequest {
  operation?: unknown;
  transfers?: unknown;
  hash_algo?: unknown;
  objects?: { oid?: unknown; size?: unknown }[];
}

/** Checks a batch request as the Hub's git-lfs endpoint does; a message when refused (and its status). */
function lfsBatchProblem(p: LfsBatchRequest): { status: number; message: string } | undefined {
  if (p.operation !== 'upload' && p.operation !== 'download') return { status: 422, message: `Invalid operation: expected "upload" or "download", got ${JSON.stringify(p.operation)}` };
  if (p.hash_algo !== undefined && p.hash_algo !== 'sha256' && p.hash_algo !== 'sha_256') return { status: 409, message: `Unsupported hash algorithm: ${JSON.stringify(p.hash_algo)} (only sha256)` };
  if (!Array.isArray(p.objects) || !p.objects.every((o) => typeof o.oid === 'string' && /^[0-9a-f]{64}$/.test(o.oid) && Number.isInteger(o.size) && Number(o.size) >= 0)) {
    return { status: 422, message: 'Invalid objects: each needs an oid (sha256 hex) and a non-negative integer size' };
  }
  if (Array.isArray(p.transfers) && p.transfers.includes('xet')) {
    return { status: 422, message: 'fake hub: the client offered the "xet" transfer, which the real Hub would answer with Xet and this fake does not speak; pin LFS (useXet: false)' };
  }
  return undefined;
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const repos = new Map<string, FakeHubRepo>();
  const lfsObjects = new Map<string, Buffer>();
  const parts = new Map<string, Map<number, Buffer>>();
  const stats: FakeHubStats = { repoCreates: 0, lfsUploads: 0, lfsBytes: 0, multipartUploads: 0, commits: 0, requests: [] };
  const faults: FakeHubFaults = {};
  const pageSize = options.treePageSize ?? 1000;
  let base = '';
  const authorized = (req: IncomingMessage) => req.headers.authorization === `Bearer ${options.token}`;
  const repoKey = (type: string, name: string) => `${type}:${name}`;

  const storeObject = (oid: string, bytes: Buffer) => {
    lfsObjects.set(oid, bytes);
    stats.lfsUploads++;
    stats.lfsBytes += bytes.length;
  };

  async function createRepo(req: IncomingMessage, res: ServerResponse) {
    if (!authorized(req)) return send(res, 401, { error: 'Invalid credentials in Authorization header' });
    const p = JSON.parse((await body(req)).toString()) as { name: string; organization?: string; type?: string; visibility?: string; private?: boolean };
    const type = p.type ?? 'model';
    const name = `${p.organization}/${p.name}`;
    if (repos.has(repoKey(type, name))) return send(res, 409, { error: 'You already created this dataset repo' });
    // The Hub's default is public; the library sends `visibility` (and older clients `private`).
    const isPrivate = p.visibility ? p.visibility !== 'public' : p.private === true;
    const files = new Map([['.gitattributes', { size: GITATTRIBUTES.length, sha256: sha256(GITATTRIBUTES), lfs: false, content: GITATTRIBUTES }]]);
    repos.set(repoKey(type, name), { type, name, private: isPrivate, files, commits: [{ title: 'initial commit', paths: ['.gitattributes'], deleted: [] }] });
    stats.repoCreates++;
    return send(res, 200, { url: `${base}/${type === 'model' ? '' : `${type}s/`}${name}`, id: name });
  }

  async function lfsBatch(req: IncomingMessage, res: ServerResponse, repo: FakeHubRepo | undefined) {
    if (!authorized(req)) return lfsError(res, 401, 'Invalid credentials in Authorization header');
    if (!repo) return lfsError(res, 404, 'Repository not found');
    const p = JSON.parse((await body(req)).toString()) as LfsBatchRequest;
    const problem = lfsBatchProblem(p);
    if (problem) return lfsError(res, problem.status, problem.message);
    const chunk = options.multipartChunkSize;
    const transfers = Array.isArray(p.transfers) ? p.transfers : ['basic'];
    const objects = (p.objects as { oid: string; size: number }[]).map((o) => {
      if (lfsObjects.has(o.oid)) return { oid: o.oid, size: o.size };
      if (chunk && o.size > chunk && transfers.includes('multipart')) {
        const header: Record<string, string> = { chunk_size: String(chunk) };
        for (let i = 1; i <= Math.ceil(o.size / chunk); i++) header[String(i).padStart(5, '0')] = `${base}/lfs-part/${o.oid}/${i}`;
        return { oid: o.oid, size: o.size, actions: { upload: { href: `${base}/lfs-complete/${o.oid}`, header } } };
      }
      return { oid: o.oid, size: o.size, actions: { upload: { href: `${base}/lfs-upload/${o.oid}` } } };
    });
    return send(res, 200, { transfer: 'basic', objects }, LFS_JSON);
  }

  async function multipart(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    let m: RegExpExecArray | null;
    if (req.method === 'PUT' && (m = /^\/lfs-part\/([0-9a-f]{64})\/(\d+)$/.exec(path))) {
      const bytes = await body(req);
      const of = parts.get(m[1]!) ?? new Map<number, Buffer>();
      parts.set(m[1]!, of.set(Number(m[2]), bytes));
      send(res, 200, '', 'text/plain', { ETag: `"${createHash('md5').update(bytes).digest('hex')}"` });
      return true;
    }
    if (req.method === 'POST' && (m = /^\/lfs-complete\/([0-9a-f]{64})$/.exec(path))) {
      const p = JSON.parse((await body(req)).toString()) as { oid: string; parts: { partNumber: number; etag: string }[] };
      const of = parts.get(m[1]!) ?? new Map<number, Buffer>();
      const chunks = p.parts.map((x) => ({ ...x, bytes: of.get(x.partNumber) }));
      const bad = chunks.find((c) => !c.bytes || c.etag !== `"${createHash('md5').update(c.bytes).digest('hex')}"`);
      if (bad) send(res, 400, { error: `part ${bad.partNumber} of ${m[1]}: missing or its ETag differs` });
      else {
        const bytes = Buffer.concat(chunks.map((c) => c.bytes!));
        if (p.oid !== m[1] || sha256(bytes) !== m[1]) send(res, 400, { error: `sha256 mismatch: expected ${m[1]}, got ${sha256(bytes)}` });
        else {
          parts.delete(m[1]!);
          stats.multipartUploads++;
          storeObject(m[1]!, bytes);
          send(res, 200, {});
        }
      }
      return true;
    }
    return false;
  }

  function tree(res: ServerResponse, url: URL, repo: FakeHubRepo, folder: string) {
    const all = treeEntries(repo, folder, url.searchParams.get('recursive') === 'true');
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const page = all.slice(start, start + pageSize);
    const next = start + pageSize < all.length ? new URL(url.toString().replace(/^http:\/\/hub/, base)) : undefined;
    next?.searchParams.set('cursor', String(start + pageSize));
    return send(res, 200, page, 'application/json', next ? { Link: `<${next.toString()}>; rel="next"` } : {});
  }

  async function commit(req: IncomingMessage, res: ServerResponse, repo: FakeHubRepo, type: string) {
    const text = (await body(req)).toString();
    if (faults.commitsBeforeFailure !== undefined && faults.commitsBeforeFailure <= 0) {
      if (faults.failure === 'hang') return; // the socket stays open until the hub closes
      return send(res, 500, { error: 'Internal Error - We\'re working hard to fix this as soon as possible!' });
    }
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
    const header = lines.find((l) => l.key === 'header');
    const staged = new Map<string, HubFile>();
    const deleted: string[] = [];
    for (const l of lines) {
      if (l.key === 'file') {
        const content = Buffer.from(String(l.value.content), l.value.encoding === 'base64' ? 'base64' : 'utf8');
        staged.set(String(l.value.path), { size: content.length, sha256: sha256(content), lfs: false, content });
      } else if (l.key === 'lfsFile') {
        const oid = String(l.value.oid);
        const content = lfsObjects.get(oid);
        if (!content) return send(res, 422, { error: `lfsFile ${String(l.value.path)}: object ${oid} was never uploaded` });
        staged.set(String(l.value.path), { size: content.length, sha256: oid, lfs: true, content });
      } else if (l.key === 'deletedFile') {
        if (!repo.files.has(String(l.value.path))) return send(res, 404, { error: `deletedFile ${String(l.value.path)}: not in the repo` });
        deleted.push(String(l.value.path));
      }
    }
    for (const p of deleted) repo.files.delete(p);
    for (const [p, f] of staged) repo.files.set(p, f);
    repo.commits.push({ title: String(header?.value.summary ?? ''), paths: [...staged.keys()], deleted });
    stats.commits++;
    if (faults.commitsBeforeFailure !== undefined) faults.commitsBeforeFailure--;
    const oid = createHash('sha1').update(`${repo.name}:${repo.commits.length}`).digest('hex');
    return send(res, 200, { commitOid: oid, commitUrl: `${base}/${type}s/${repo.name}/commit/${oid}` });
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = decodeURIComponent(url.pathname);
    stats.requests.push(`${req.method} ${url.pathname}`);
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && path === '/api/repos/create') return createRepo(req, res);
    if (req.method === 'PUT' && (m = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(path))) {
      const bytes = await body(req);
      if (sha256(bytes) !== m[1]) return send(res, 400, { error: `sha256 mismatch: expected ${m[1]}, got ${sha256(bytes)}` });
      storeObject(m[1]!, bytes);
      return send(res, 200, '');
    }
    if (await multipart(req, res, path)) return;
    if (req.method === 'POST' && (m = /^\/(datasets|spaces)?\/?([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path))) {
      return lfsBatch(req, res, repos.get(repoKey(m[1] ? m[1].slice(0, -1) : 'model', m[2]!)));
    }
    m = /^\/api\/(models|datasets|spaces)\/([^/]+\/[^/]+)(?:\/(tree|preupload|commit|revision)\/([^/]+)(\/.*)?)?$/.exec(path);
    if (!m) return send(res, 404, { error: `fake hub: no route for ${req.method} ${url.pathname}` });
    const type = m[1]!.slice(0, -1);
    const repo = repos.get(repoKey(type, m[2]!));
    const action = m[3];
    if ((!action || action === 'revision') && req.method === 'GET') {
      if (!repo || (repo.private && !authorized(req))) return send(res, 404, { error: 'Repository not found' });
      return send(res, 200, { _id: `id-${repo.name}`, id: repo.name, private: repo.private, likes: 0, downloads: 0, gated: false, lastModified: new Date(0).toISOString() });
    }
    if (!authorized(req)) return send(res, 401, { error: 'Invalid credentials in Authorization header' });
    if (!repo) return send(res, 404, { error: 'Repository not found' });
    if (action === 'tree' && req.method === 'GET') return tree(res, url, repo, m[5] ? m[5].slice(1) : '');
    if (action === 'preupload' && req.method === 'POST') {
      const p = JSON.parse((await body(req)).toString()) as { files: { path: string; size: number; sample: string }[] };
      return send(res, 200, {
        files: p.files.map((f) => ({ path: f.path, uploadMode: f.size > 1024 || Buffer.from(f.sample, 'base64').includes(0) ? 'lfs' : 'regular', shouldIgnore: false })),
      });
    }
    if (action === 'commit' && req.method === 'POST') return commit(req, res, repo, type);
    return send(res, 404, { error: `fake hub: no route for ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => send(res, 500, { error: String(e) }));
  });
  const listening = await listenOnLoopback(server);
  base = listening.url;
  return { ...listening, repos, stats, faults };
}
