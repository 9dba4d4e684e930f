import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, type LoopbackServer } from '../http.js';

/**
 * A fake Hugging Face Hub speaking the endpoints @huggingface/hub calls (read from its source,
 * src/lib/{create-repo,repo-exists,list-files,commit}.ts), so production code runs unchanged through
 * the library's `hubUrl` option:
 *   GET  /api/{type}s/{ns}/{name}                          repoExists (404 when absent)
 *   POST /api/repos/create                                 createRepo
 *   GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]      listFiles (recursive; lfs.oid = sha256, oid = git blob sha1)
 *   POST /api/{type}s/{ns}/{name}/preupload/{rev}          which files go through LFS (here: every file over 1 KB or a binary one)
 *   POST /{type}s/{ns}/{name}.git/info/lfs/objects/batch   LFS batch, "basic" transfer (no xet): an upload href per unknown object
 *   PUT  /lfs-upload/{oid}                                 the object's bytes (sha256 checked)
 *   POST /api/{type}s/{ns}/{name}/commit/{rev}             NDJSON commit: header, file (base64), lfsFile (oid must be uploaded)
 * Every call but repo GETs needs `Authorization: Bearer <token>`.
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
  commits: { title: string; paths: string[] }[];
}

export interface FakeHubStats {
  repoCreates: number;
  lfsUploads: number;
  lfsBytes: number;
  commits: number;
  requests: string[];
}

export interface FakeHub extends LoopbackServer {
  repos: Map<string, FakeHubRepo>;
  stats: FakeHubStats;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Git's blob id, which the Hub returns as a regular file's oid. */
const gitBlobOid = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, value: unknown, contentType = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'X-Request-Id': 'fake-hub' });
  res.end(typeof value === 'string' ? value : JSON.stringify(value));
}

export async function startFakeHub(options: { token: string }): Promise<FakeHub> {
  const repos = new Map<string, FakeHubRepo>();
  const lfsObjects = new Map<string, Buffer>();
  const stats: FakeHubStats = { repoCreates: 0, lfsUploads: 0, lfsBytes: 0, commits: 0, requests: [] };
  let base = '';
  const authorized = (req: IncomingMessage) => req.headers.authorization === `Bearer ${options.token}`;
  const repoKey = (type: string, name: string) => `${type}:${name}`;

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://hub');
      const path = decodeURIComponent(url.pathname);
      stats.requests.push(`${req.method} ${url.pathname}`);
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && path === '/api/repos/create') {
        if (!authorized(req)) return send(res, 401, { error: 'Invalid credentials in Authorization header' });
        const p = JSON.parse((await body(req)).toString()) as { name: string; organization?: string; type?: string; visibility?: string };
        const type = p.type ?? 'model';
        const name = `${p.organization}/${p.name}`;
        if (repos.has(repoKey(type, name))) return send(res, 409, { error: 'You already created this dataset repo' });
        repos.set(repoKey(type, name), { type, name, private: p.visibility === 'private', files: new Map(), commits: [] });
        stats.repoCreates++;
        return send(res, 200, { url: `${base}/${type === 'model' ? '' : `${type}s/`}${name}`, id: name });
      }
      if (req.method === 'PUT' && (m = /^\/lfs-upload\/([0-9a-f]{64})$/.exec(path))) {
        const bytes = await body(req);
        if (sha256(bytes) !== m[1]) return send(res, 400, { error: `sha256 mismatch: expected ${m[1]}, got ${sha256(bytes)}` });
        lfsObjects.set(m[1]!, bytes);
        stats.lfsUploads++;
        stats.lfsBytes += bytes.length;
        return send(res, 200, '');
      }
      if (req.method === 'POST' && (m = /^\/(datasets|spaces)?\/?([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/.exec(path))) {
        if (!authorized(req)) return send(res, 401, { message: 'unauthorized' });
        const repo = repos.get(repoKey(m[1] ? m[1].slice(0, -1) : 'model', m[2]!));
        if (!repo) return send(res, 404, { message: 'Repository not found' });
        const p = JSON.parse((await body(req)).toString()) as { objects: { oid: string; size: number }[] };
        return send(res, 200, {
          transfer: 'basic',
          objects: p.objects.map((o) => (lfsObjects.has(o.oid) ? { oid: o.oid, size: o.size } : { oid: o.oid, size: o.size, actions: { upload: { href: `${base}/lfs-upload/${o.oid}` } } })),
        }, 'application/vnd.git-lfs+json');
      }
      m = /^\/api\/(models|datasets|spaces)\/([^/]+\/[^/]+)(?:\/(tree|preupload|commit)\/([^/]+)(\/.*)?)?$/.exec(path);
      if (!m) return send(res, 404, { error: `fake hub: no route for ${req.method} ${url.pathname}` });
      const type = m[1]!.slice(0, -1);
      const repo = repos.get(repoKey(type, m[2]!));
      const action = m[3];
      if (!action && req.method === 'GET') {
        if (!repo || (repo.private && !authorized(req))) return send(res, 404, { error: 'Repository not found' });
        return send(res, 200, { id: repo.name, private: repo.private, likes: 0 });
      }
      if (!authorized(req)) return send(res, 401, { error: 'Invalid credentials in Authorization header' });
      if (!repo) return send(res, 404, { error: 'Repository not found' });
      if (action === 'tree' && req.method === 'GET') {
        const prefix = m[5] ? `${m[5].slice(1)}/` : '';
        const entries = [...repo.files.entries()].filter(([p]) => p.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, f]) => ({
          type: 'file', path: p, size: f.size, oid: gitBlobOid(f.content), ...(f.lfs ? { lfs: { oid: f.sha256, size: f.size, pointerSize: 134 } } : {}),
        }));
        return send(res, 200, entries);
      }
      if (action === 'preupload' && req.method === 'POST') {
        const p = JSON.parse((await body(req)).toString()) as { files: { path: string; size: number; sample: string }[] };
        return send(res, 200, {
          files: p.files.map((f) => ({ path: f.path, uploadMode: f.size > 1024 || Buffer.from(f.sample, 'base64').includes(0) ? 'lfs' : 'regular', shouldIgnore: false })),
        });
      }
      if (action === 'commit' && req.method === 'POST') {
        const lines = (await body(req)).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: Record<string, unknown> });
        const header = lines.find((l) => l.key === 'header');
        const paths: string[] = [];
        const staged = new Map<string, HubFile>();
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
            repo.files.delete(String(l.value.path));
          }
        }
        for (const [p, f] of staged) {
          repo.files.set(p, f);
          paths.push(p);
        }
        repo.commits.push({ title: String(header?.value.summary ?? ''), paths });
        stats.commits++;
        const oid = createHash('sha1').update(`${repo.commits.length}`).digest('hex');
        return send(res, 200, { commitOid: oid, commitUrl: `${base}/${type}s/${repo.name}/commit/${oid}` });
      }
      return send(res, 404, { error: `fake hub: no route for ${req.method} ${url.pathname}` });
    })().catch((e: unknown) => send(res, 500, { error: String(e) }));
  });
  const listening = await listenOnLoopback(server);
  base = listening.url;
  return { ...listening, repos, stats };
}
