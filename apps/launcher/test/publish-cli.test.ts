import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, truncate, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setEnv, startFakeHub, startS3rver, type FakeHub, type S3rverHandle } from '@finevideo/testing';
import { openStore } from '@finevideo/storage';
import { publishExport } from '../src/publish.js';
import { cli, root, runCliAsync } from './helpers.js';
import { SHARDS, exportFolder, filesUnder, manifestContent, plantProbes, repoContent } from './publish-fixture.js';

const TOKEN = 'hf_cli_token_never_printed';

describe('finevideo publish, the CLI as a process and an S3 export source', function () {
  this.timeout(300_000);
  let hub: FakeHub;
  const folders: string[] = [];
  const fresh = async () => {
    const made = await exportFolder();
    folders.push(dirname(dirname(made.dir)));
    return made;
  };
  const env = () => ({ HF_TOKEN: TOKEN, HF_ENDPOINT: hub.url });
  before(async () => {
    hub = await startFakeHub({ token: TOKEN });
  });
  after(async () => {
    await hub.close();
    for (const f of folders) await rm(f, { recursive: true, force: true });
  });

  it('publishes a folder (exit 0, the repo URL and its visibility printed, the token never), and refuses with exit 2 or 1 what it must', async () => {
    const { dir, manifest } = await fresh();
    await plantProbes(dir);
    const ok = await runCliAsync(['publish', dir, '--repo', 'me/cli-set', '--batch-files', '3'], env());
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`published .* to ${hub.url}/datasets/me/cli-set \\(private, new repo\\): 6 file\\(s\\) uploaded .* in 2 commit\\(s\\)`));
    assert.ok(!`${ok.stdout}${ok.stderr}`.includes(TOKEN), 'the token is never printed');
    assert.deepEqual(repoContent(hub.repos.get('dataset:me/cli-set')!), manifestContent(manifest));
    assert.ok((await filesUnder(dir)).includes('.git/config'), 'the probe was there and stayed home');

    const requests = hub.stats.requests.length;
    const manifestText = await readFile(join(dir, 'export.json'), 'utf8');
    await unlink(join(dir, 'export.json'));
    const noManifest = await runCliAsync(['publish', dir, '--repo', 'me/cli-other'], env());
    assert.equal(noManifest.code, 2, noManifest.stderr);
    assert.match(noManifest.stderr, /expected export\.json \(the manifest export-card writes last\), got none/);
    const { dir: damaged } = await fresh();
    await truncate(join(damaged, SHARDS[0][0]), 1024);
    const truncated = await runCliAsync(['publish', damaged, '--repo', 'me/cli-other'], env());
    assert.equal(truncated.code, 1, truncated.stderr);
    assert.match(truncated.stderr, new RegExp(`${SHARDS[0][0]} \\(1024 bytes, the manifest says 300000\\)`));
    const malformed = await runCliAsync(['publish', damaged, '--repo', 'me/cli-other'], { ...env(), HF_ENDPOINT: 'hub.internal:8080' });
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /HF_ENDPOINT: expected the Hub's http\(s\) URL .*got "hub\.internal:8080"/);
    const both = await runCliAsync(['publish', damaged, '--repo', 'me/cli-other', '--public', '--private'], env());
    assert.equal(both.code, 2, both.stderr);
    assert.equal(hub.stats.requests.length, requests, 'none of the refused runs called the Hub');
    assert.ok(manifestText.length > 0);
  });

  it('a publish killed mid-way (kill -9 while a commit is in flight), run again, uploads the rest: the repo equals the manifest', async () => {
    const { dir, manifest } = await fresh();
    hub.faults.commitsBeforeFailure = 1;
    hub.faults.failure = 'hang';
    const child = spawn(process.execPath, [cli, 'publish', dir, '--repo', 'me/killed', '--batch-files', '2'], { cwd: root, env: { ...process.env, ...env() }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // The second commit is the one that hangs: wait until it is in flight, then kill.
      const commitsSeen = () => hub.stats.requests.filter((r) => r === 'POST /api/datasets/me/killed/commit/main').length;
      while (commitsSeen() < 2) await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGKILL');
      await exited;
    } finally {
      delete hub.faults.commitsBeforeFailure;
    }
    const repo = hub.repos.get('dataset:me/killed')!;
    assert.equal(Object.keys(repoContent(repo)).length, 2, 'one batch of two landed before the kill');
    const again = await runCliAsync(['publish', dir, '--repo', 'me/killed', '--batch-files', '2'], env());
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /\(private, existing repo\): 4 file\(s\) uploaded .* 2 already there with the same content/);
    assert.deepEqual(repoContent(repo), manifestContent(manifest));
  });

  describe('an export on S3 (s3rver)', () => {
    let s3: S3rverHandle;
    let restore: () => void;
    before(async () => {
      s3 = await startS3rver({ buckets: ['exports'] });
      restore = setEnv({ ...s3.env, ...env() });
    });
    after(async () => {
      restore();
      await s3.stop();
    });

    it('publishes exactly the manifest\'s objects, and refuses a truncated one before any upload', async () => {
      const { dir, manifest } = await fresh();
      await plantProbes(dir);
      const store = openStore('s3://exports/export/run1');
      for (const path of await filesUnder(dir)) await store.upload(path, join(dir, path));
      const r = await publishExport('s3://exports/export/run1', { repo: 'me/from-s3', batchFiles: 4 });
      assert.deepEqual([r.created, r.uploaded, r.visibility], [true, 6, 'private']);
      assert.deepEqual(repoContent(hub.repos.get('dataset:me/from-s3')!), manifestContent(manifest));

      const requests = hub.stats.requests.length;
      await store.put(SHARDS[1][0], (await readFile(join(dir, SHARDS[1][0]))).subarray(0, 1024));
      await store.delete(SHARDS[2][0]);
      await assert.rejects(publishExport('s3://exports/export/run1', { repo: 'me/from-s3-again' }),
        new RegExp(`2 of 6 file\\(s\\) differ from export\\.json, nothing uploaded: ${SHARDS[1][0]} \\(1024 bytes, the manifest says 200000\\), ${SHARDS[2][0]} \\(missing\\)`));
      assert.equal(hub.stats.requests.length, requests, 'no call reached the Hub');
    });
  });
});
