import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commit, createRepo, listFiles, repoExists } from '@huggingface/hub';
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
    ] });
    assert.equal(hub.stats.lfsUploads, 1);
    const files = [];
    for await (const f of listFiles({ ...common, recursive: true })) files.push(f);
    const lfs = files.find((f) => f.path === 'data/a.parquet');
    assert.equal(lfs?.lfs?.oid, createHash('sha256').update(big).digest('hex'));
    assert.equal(files.find((f) => f.path === 'README.md')?.lfs, undefined);
    await assert.rejects(createRepo({ ...common, accessToken: 'hf_wrong' }), /Invalid credentials/);
  });
});
