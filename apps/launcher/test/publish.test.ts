import assert from 'node:assert/strict';
import { readFile, rename, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { ConfigError } from '@finevideo/core';
import { setEnv, startFakeHub, type FakeHub } from '@finevideo/testing';
import { publishExport } from '../src/publish.js';
import { SHARDS, exportFolder, manifestContent, plantProbes, repoContent } from './publish-fixture.js';

const TOKEN = 'hf_publish_token';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('finevideo publish (against the fake Hub, through @huggingface/hub)', function () {
  this.timeout(60_000);
  let hub: FakeHub;
  let restore: () => void;
  const folders: string[] = [];
  const fresh = async () => {
    const made = await exportFolder();
    folders.push(dirname(dirname(made.dir)));
    return made;
  };
  before(async () => {
    hub = await startFakeHub({ token: TOKEN });
    restore = setEnv({ HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url });
  });
  after(async () => {
    restore();
    await hub.close();
    for (const f of folders) await rm(f, { recursive: true, force: true });
  });

  it('creates the repo private, uploads the manifest\'s files in batches (card last), and a re-run skips what is there', async () => {
    const { dir, manifest } = await fresh();
    const first = await publishExport(dir, { repo: 'me/finevideo-demo', batchFiles: 2 });
    assert.deepEqual([first.created, first.visibility, first.uploaded, first.commits], [true, 'private', 6, 3]);
    assert.equal(first.repoUrl, `${hub.url}/datasets/me/finevideo-demo`);
    const repo = hub.repos.get('dataset:me/finevideo-demo')!;
    assert.equal(repo.private, true);
    assert.deepEqual(repoContent(repo), manifestContent(manifest));
    assert.equal(repo.commits.at(-1)!.paths.at(-1), 'README.md', 'the card goes last');
    assert.ok(repo.commits.slice(0, -1).every((c) => !c.paths.includes('README.md')), 'in the last commit only');
    assert.equal(repo.files.get(SHARDS[2][0])!.lfs, true);
    const uploads = hub.stats.lfsUploads;

    // A re-run: nothing changed, nothing uploaded, no commit (the nested data/ files are found by a recursive listing).
    const again = await publishExport(dir, { repo: 'me/finevideo-demo' });
    assert.deepEqual([again.created, again.visibility, again.uploaded, again.skipped, again.commits], [false, 'private', 0, 6, 0]);
    assert.equal(hub.stats.lfsUploads, uploads);
  });

  it('creates the repo public only with `public`', async () => {
    const { dir } = await fresh();
    const r = await publishExport(dir, { repo: 'me/open-set', public: true });
    assert.equal(r.visibility, 'public');
    assert.equal(hub.repos.get('dataset:me/open-set')!.private, false);
  });

  it('uploads exactly the manifest\'s files: a .git/config, credentials, a private key and stray files beside the export stay home', async () => {
    const { dir, manifest } = await fresh();
    await plantProbes(dir);
    await publishExport(dir, { repo: 'me/probe' });
    const repo = hub.repos.get('dataset:me/probe')!;
    assert.deepEqual(repoContent(repo), manifestContent(manifest));
    const uploaded = [...repo.files.values()].map((f) => f.content.toString('latin1')).join('\n');
    assert.doesNotMatch(uploaded, /ghp_secret|AKIASECRET|PRIVATE KEY|not part of the export/);
  });

  it('never follows a link: a listed file that is a symlink, or under a linked folder, is refused before any upload', async () => {
    const { dir } = await fresh();
    const shard = join(dir, SHARDS[2][0]);
    // Same bytes, so only the link itself is wrong.
    const elsewhere = join(dirname(dirname(dir)), 'outside.parquet');
    await writeFile(elsewhere, await readFile(shard));
    await unlink(shard);
    await symlink(elsewhere, shard);
    const before = hub.stats.requests.length;
    await assert.rejects(publishExport(dir, { repo: 'me/linked' }), (e: unknown) => !(e instanceof ConfigError)
      && new RegExp(`1 of 6 file\\(s\\) differ from export.json, nothing uploaded: ${SHARDS[2][0]} \\(a link`).test((e as Error).message));
    // A linked folder: data/education moved out and linked back, every byte the same.
    const { dir: other } = await fresh();
    const moved = join(dirname(dirname(other)), 'education-elsewhere');
    await rename(join(other, 'data', 'education'), moved);
    await symlink(moved, join(other, 'data', 'education'));
    await assert.rejects(publishExport(other, { repo: 'me/linked' }), (e: unknown) => /2 of 6 file\(s\) differ.*data\/education\/train-00000-of-00002\.parquet \(reached through a link/.test((e as Error).message));
    assert.equal(hub.stats.requests.length, before, 'no call reached the Hub');
  });

  it('refuses a damaged export (a shard deleted, one truncated) naming both, with nothing sent to the Hub', async () => {
    const { dir } = await fresh();
    await unlink(join(dir, SHARDS[0][0]));
    await truncate(join(dir, SHARDS[1][0]), 1024);
    const before = hub.stats.requests.length;
    await assert.rejects(publishExport(dir, { repo: 'me/damaged' }), (e: unknown) => {
      const m = (e as Error).message;
      return !(e instanceof ConfigError) && m.includes(`${SHARDS[0][0]} (missing)`) && m.includes(`${SHARDS[1][0]} (1024 bytes, the manifest says 200000)`);
    });
    // Same size, other bytes: the sha256 says so.
    const { dir: other } = await fresh();
    const bytes = await readFile(join(other, 'categories.png'));
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(join(other, 'categories.png'), bytes);
    await assert.rejects(publishExport(other, { repo: 'me/damaged' }), /categories\.png \(content differs from the manifest \(sha256\)\)/);
    assert.equal(hub.stats.requests.length, before, 'no call reached the Hub');
    assert.equal(hub.repos.has('dataset:me/damaged'), false);
  });

  it('refuses a folder without a valid manifest (a ConfigError naming it) before any call to the Hub', async () => {
    const { dir } = await fresh();
    const manifestPath = join(dir, 'export.json');
    const text = await readFile(manifestPath, 'utf8');
    const before = hub.stats.requests.length;
    await unlink(manifestPath);
    await assert.rejects(publishExport(dir, { repo: 'me/x' }), (e: unknown) => e instanceof ConfigError && /expected export\.json \(the manifest export-card writes last\), got none/.test(e.message));
    await writeFile(manifestPath, text.slice(0, 40));
    await assert.rejects(publishExport(dir, { repo: 'me/x' }), (e: unknown) => e instanceof ConfigError && /export\.json: expected JSON/.test(e.message));
    const listed = JSON.parse(text) as { files: { path: string }[] };
    listed.files[0]!.path = '.git/config';
    await writeFile(manifestPath, JSON.stringify(listed));
    await assert.rejects(publishExport(dir, { repo: 'me/x' }), (e: unknown) => e instanceof ConfigError && /files\.0\.path: a relative path of \[A-Za-z0-9._-\] segments, none starting with "\."/.test(e.message));
    const traversal = JSON.parse(text) as { files: { path: string }[] };
    traversal.files[0]!.path = 'data/../../../etc/passwd';
    await writeFile(manifestPath, JSON.stringify(traversal));
    await assert.rejects(publishExport(dir, { repo: 'me/x' }), ConfigError);
    assert.equal(hub.stats.requests.length, before, 'no call reached the Hub');
  });

  it('names a malformed HF_ENDPOINT (a ConfigError) and an unreachable one', async () => {
    const { dir } = await fresh();
    await assert.rejects(publishExport(dir, { repo: 'me/x', hubUrl: 'huggingface.co' }), (e: unknown) => e instanceof ConfigError && /HF_ENDPOINT: expected the Hub's http\(s\) URL .*got "huggingface\.co"/.test(e.message));
    await assert.rejects(publishExport(dir, { repo: 'me/x', hubUrl: 'ftp://hub.example' }), ConfigError);
    await assert.rejects(publishExport(dir, { repo: 'me/x', hubUrl: 'https://me:hf_in_url@hub.example' }), (e: unknown) => e instanceof ConfigError && !e.message.includes('hf_in_url'));
    const port = await closedPort();
    await assert.rejects(publishExport(dir, { repo: 'me/x', hubUrl: `http://127.0.0.1:${port}` }), (e: unknown) => !(e instanceof ConfigError)
      && new RegExp(`Hub http://127\\.0\\.0\\.1:${port} \\(HF_ENDPOINT\\) unreachable while checking me/x: ECONNREFUSED`).test((e as Error).message));
  });

  it('takes the token only from HF_TOKEN and refuses a repo name that is not namespace/name', async () => {
    const { dir } = await fresh();
    const back = setEnv({ HF_TOKEN: '' });
    try {
      await assert.rejects(publishExport(dir, { repo: 'me/x' }), (e: unknown) => e instanceof ConfigError && /HF_TOKEN: expected/.test(e.message));
    } finally {
      back();
    }
    await assert.rejects(publishExport(dir, { repo: 'no-namespace' }), /--repo: expected <namespace>\/<name>, got "no-namespace"/);
  });

  it('a publish that failed mid-way, run again, uploads the rest and ends with the repo equal to the manifest', async () => {
    const { dir, manifest } = await fresh();
    hub.faults.commitsBeforeFailure = 1;
    hub.faults.failure = 'error';
    try {
      await assert.rejects(publishExport(dir, { repo: 'me/resumed', batchFiles: 2 }), /Hub http:\/\/127\.0\.0\.1:\d+: committing to me\/resumed: .*Internal Error/);
    } finally {
      delete hub.faults.commitsBeforeFailure;
    }
    const repo = hub.repos.get('dataset:me/resumed')!;
    assert.equal(Object.keys(repoContent(repo)).length, 2, 'the first batch landed');
    const again = await publishExport(dir, { repo: 'me/resumed', batchFiles: 2 });
    assert.deepEqual([again.created, again.skipped, again.uploaded], [false, 2, 4]);
    assert.deepEqual(repoContent(repo), manifestContent(manifest));
  });

  it('removes shards under data/ that the manifest does not list (an older export\'s), keeping other files', async () => {
    const { dir, manifest } = await fresh();
    await publishExport(dir, { repo: 'me/republished' });
    const repo = hub.repos.get('dataset:me/republished')!;
    const old = { size: 3, sha256: 'f'.repeat(64), lfs: false, content: Buffer.from('old') };
    repo.files.set('data/education/train-00002-of-00003.parquet', old);
    repo.files.set('notes/keep.md', old);
    const r = await publishExport(dir, { repo: 'me/republished' });
    assert.deepEqual([r.uploaded, r.deleted], [0, 1]);
    assert.deepEqual(repo.commits.at(-1)!.deleted, ['data/education/train-00002-of-00003.parquet']);
    assert.deepEqual(repoContent(repo), { ...manifestContent(manifest), 'notes/keep.md': old.sha256 });
  });
});
