import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubApiError, commit, createRepo, listFiles, repoExists } from '@huggingface/hub';
import { startFakeHub, type FakeHub } from '@finevideo/testing';

describe('fake Hugging Face Hub (the endpoints @huggingface/hub calls)', function () {
  this.timeout(30_000);
  let hub: FakeHub;
  let dir: string;
  before(async () => {
    hub = await startFakeHub({ token: 'hf_test' });
    dir = await mkdtemp(join(tmpdir(), 'hub-'));
  });
  after(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a repo, uploads a large file through LFS and a small one inline, lists them with their hashes', async () => {
    const common = { repo: { type: 'dataset' as const, name: 'me/set' }, accessToken: 'hf_test', hubUrl: hub.url };
    assert.equal(await repoExists(common), false);
    await createRepo({ ...common, private: true });
    assert.equal(await repoExists(common), true);
    assert.equal(await repoExists({ ...common, accessToken: 'hf_wrong' }), false, 'a private repo is invisible without the token');
    const big = Buffer.alloc(200_000, 7);
    await mkdir(join(dir, 'data'), { recursive: true });
    await writeFile(join(dir, 'data', 'a.parquet'), big);
    await commit({ ...common, title: 'add', operations: [
      { operation: 'addOrUpdate', path: 'data/a.parquet', content: new URL(`file://${join(dir, 'data', 'a.parquet')}`) },
      { operation: 'addOrUpdate', path: 'README.md', content: new Blob(['# hi\n']) },
    ], useXet: false });
    assert.equal(hub.stats.lfsUploads, 1);
    const files = [];
    for await (const f of listFiles({ ...common, recursive: true })) files.push(f);
    const lfs = files.find((f) => f.path === 'data/a.parquet');
    assert.equal(lfs?.lfs?.oid, createHash('sha256').update(big).digest('hex'));
    assert.equal(files.find((f) => f.path === 'README.md')?.lfs, undefined);
    await assert.rejects(createRepo({ ...common, accessToken: 'hf_wrong' }), /Invalid credentials/);
  });

  it('refuses the library\'s default Xet transfer (the real Hub would answer with Xet, which the fake does not speak)', async () => {
    const common = { repo: { type: 'dataset' as const, name: 'me/xet' }, accessToken: 'hf_test', hubUrl: hub.url };
    await createRepo(common);
    await assert.rejects(
      commit({ ...common, title: 'add', operations: [{ operation: 'addOrUpdate', path: 'big.bin', content: new Blob([Buffer.alloc(5000, 1)]) }] }),
      // The library reads a message only from application/json; a git-lfs+json body is kept as the error's data.
      (e: unknown) => e instanceof HubApiError && e.statusCode === 422 && /offered the \\"xet\\" transfer/.test(String(e.data?.message)),
    );
    assert.equal(hub.repos.get('dataset:me/xet')!.files.has('big.bin'), false);
  });

  it('checks an LFS batch\'s operation and hash_algo as the Hub\'s git-lfs endpoint does (its error body and media type)', async () => {
    const common = { repo: { type: 'dataset' as const, name: 'me/batch' }, accessToken: 'hf_test', hubUrl: hub.url };
    await createRepo(common);
    const batch = (payload: Record<string, unknown>) => fetch(`${hub.url}/datasets/me/batch.git/info/lfs/objects/batch`, {
      method: 'POST', headers: { Authorization: 'Bearer hf_test', Accept: 'application/vnd.git-lfs+json', 'Content-Type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({ operation: 'upload', transfers: ['basic'], hash_algo: 'sha_256', objects: [{ oid: 'a'.repeat(64), size: 3 }], ...payload }),
    });
    const ok = await batch({});
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { objects: { actions?: unknown }[] }).objects[0]!.actions !== undefined, true);
    const wrongOperation = await batch({ operation: 'verify' });
    assert.equal(wrongOperation.status, 422);
    assert.equal(wrongOperation.headers.get('content-type'), 'application/vnd.git-lfs+json');
    assert.match(((await wrongOperation.json()) as { message: string }).message, /Invalid operation: expected "upload" or "download", got "verify"/);
    const wrongHash = await batch({ hash_algo: 'sha512' });
    assert.equal(wrongHash.status, 409);
    assert.match(((await wrongHash.json()) as { message: string }).message, /Unsupported hash algorithm: "sha512"/);
    assert.equal((await batch({ objects: [{ oid: 'not-a-sha', size: 3 }] })).status, 422);
  });

  it('lists a folder\'s direct entries unless recursive, in pages joined by Link headers', async () => {
    const paged = await startFakeHub({ token: 'hf_test', treePageSize: 2 });
    try {
      const common = { repo: { type: 'dataset' as const, name: 'me/tree' }, accessToken: 'hf_test', hubUrl: paged.url };
      await createRepo(common);
      const files = ['README.md', 'data/a/1.parquet', 'data/a/2.parquet', 'data/b/1.parquet', 'index.parquet'];
      await commit({ ...common, title: 'add', useXet: false, operations: files.map((path) => ({ operation: 'addOrUpdate' as const, path, content: new Blob([`content of ${path}`]) })) });
      const list = async (params: { recursive?: boolean; path?: string }) => {
        const out: string[] = [];
        for await (const f of listFiles({ ...common, ...params })) out.push(`${f.type}:${f.path}`);
        return out;
      };
      assert.deepEqual(await list({}), ['file:.gitattributes', 'file:README.md', 'directory:data', 'file:index.parquet']);
      assert.deepEqual(await list({ path: 'data' }), ['directory:data/a', 'directory:data/b']);
      assert.deepEqual((await list({ recursive: true })).filter((e) => e.startsWith('file:')).map((e) => e.slice(5)), ['.gitattributes', ...files].sort());
      assert.ok(paged.stats.requests.filter((r) => r.includes('/tree/')).length > 4, 'listings came in several pages');
    } finally {
      await paged.close();
    }
  });

  it('takes a large object through the multipart transfer (parts, their ETags, the completion) when it offers it', async () => {
    const multi = await startFakeHub({ token: 'hf_test', multipartChunkSize: 64 * 1024 });
    try {
      const common = { repo: { type: 'dataset' as const, name: 'me/multi' }, accessToken: 'hf_test', hubUrl: multi.url };
      await createRepo(common);
      const big = Buffer.alloc(200_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
      await commit({ ...common, title: 'add', useXet: false, operations: [{ operation: 'addOrUpdate', path: 'data/a.parquet', content: new Blob([big]) }] });
      assert.equal(multi.stats.multipartUploads, 1);
      assert.ok(multi.repos.get('dataset:me/multi')!.files.get('data/a.parquet')!.content.equals(big));
    } finally {
      await multi.close();
    }
  });
});
