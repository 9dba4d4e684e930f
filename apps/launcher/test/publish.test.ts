import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@finevideo/core';
import { setEnv, startFakeHub, type FakeHub } from '@finevideo/testing';
import { publishExport } from '../src/publish.js';

/** An export folder as the export stages write it: a card, a plot, an index and shards of two categories. */
async function exportFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'publish-'));
  for (const [path, size] of [['data/education/train-00000-of-00002.parquet', 300_000], ['data/education/train-00001-of-00002.parquet', 200_000], ['data/music/train-00000-of-00001.parquet', 150_000], ['index.parquet', 5_000], ['categories.png', 3_000]] as const) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), Buffer.alloc(size, path.length));
  }
  await writeFile(join(dir, 'README.md'), '---\nlicense: cc-by-4.0\n---\n# set\n');
  return dir;
}

describe('finevideo publish (against the fake Hub, through @huggingface/hub)', function () {
  this.timeout(60_000);
  let hub: FakeHub;
  let dir: string;
  let restore: () => void;
  before(async () => {
    hub = await startFakeHub({ token: 'hf_publish_token' });
    dir = await exportFolder();
    restore = setEnv({ HF_TOKEN: 'hf_publish_token', HF_ENDPOINT: hub.url });
  });
  after(async () => {
    restore();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the repo, uploads every file in batches (one commit each, large files through LFS), and a re-run skips what is there', async () => {
    const first = await publishExport(dir, { repo: 'me/finevideo-demo', private: true, batchFiles: 2 });
    assert.equal(first.created, true);
    assert.equal(first.uploaded, 6);
    assert.equal(first.commits, 3, 'six files, two per commit');
    const repo = hub.repos.get('dataset:me/finevideo-demo')!;
    assert.equal(repo.private, true);
    assert.equal(repo.files.size, 6);
    assert.deepEqual(repo.commits.at(-1)!.paths.includes('README.md'), true, 'the card goes last');
    const shard = repo.files.get('data/music/train-00000-of-00001.parquet')!;
    assert.equal(shard.lfs, true);
    assert.equal(shard.sha256, createHash('sha256').update(Buffer.alloc(150_000, 'data/music/train-00000-of-00001.parquet'.length)).digest('hex'));
    const uploads = hub.stats.lfsUploads;

    // A re-run: nothing changed, nothing uploaded, no commit.
    const again = await publishExport(dir, { repo: 'me/finevideo-demo' });
    assert.deepEqual([again.created, again.uploaded, again.skipped, again.commits], [false, 0, 6, 0]);
    assert.equal(hub.stats.lfsUploads, uploads);

    // One changed file (the card) is the only upload.
    await writeFile(join(dir, 'README.md'), '---\nlicense: cc-by-4.0\n---\n# set, v2\n');
    const changed = await publishExport(dir, { repo: 'me/finevideo-demo' });
    assert.deepEqual([changed.uploaded, changed.skipped, changed.commits], [1, 5, 1]);
    assert.equal(repo.files.get('README.md')!.content.toString(), '---\nlicense: cc-by-4.0\n---\n# set, v2\n');
  });

  it('takes the token only from HF_TOKEN and refuses a repo name that is not namespace/name', async () => {
    const back = setEnv({ HF_TOKEN: '' });
    try {
      await assert.rejects(publishExport(dir, { repo: 'me/x' }), (e: unknown) => e instanceof ConfigError && /HF_TOKEN: expected/.test(e.message));
    } finally {
      back();
    }
    await assert.rejects(publishExport(dir, { repo: 'no-namespace' }), /--repo: expected <namespace>\/<name>, got "no-namespace"/);
  });
});
