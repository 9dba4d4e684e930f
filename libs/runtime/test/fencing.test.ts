import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig, pipelineStages, runLayout, type Logger, type ObjectStore } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { numberedStage } from '@finevideo/testing';
import {
  FencedStore, SUPERSEDED_CLASS, acquireRunLease, createRun, epochFence, planStage, readJsonObject, runChunk, type ChunkMarker, type RunLease,
} from '@finevideo/runtime';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Before item n is processed, the test may act (take the run over, write a rival marker). */
let beforeItem: (n: number, store: ObjectStore) => Promise<void> = async () => undefined;

/** A stage that stores a per-video output (as annotate stores annotations/<id>.json) and keeps a row per item. */
const annotating = numberedStage<{ n: number; by: string }>({
  name: 'annotating', description: 'test stage', items: 3, itemsPerChunk: 3,
  async processItem(item, ctx) {
    await beforeItem(item.n, ctx.store);
    const by = process.env.TEST_WRITER ?? 'unknown';
    await ctx.store.put(`annotations/v${item.n}.json`, JSON.stringify({ by }));
    return { status: 'kept', row: { n: item.n, by } };
  },
});

describe('fencing: a superseded launcher\'s workers write nothing', () => {
  let dir: string;
  let store: FileStore;
  const leases: RunLease[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-fence-'));
    store = new FileStore(dir);
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: annotating\n    params: {}\n`);
    const manifest = await createRun(config, store, 'run-1');
    await planStage(manifest, pipelineStages(config)[0]!, undefined, { store, log: quiet, resolveStage: () => annotating });
  });
  afterEach(async () => {
    beforeItem = async () => undefined;
    delete process.env.TEST_WRITER;
    for (const lease of leases.splice(0)) await lease.release();
    await rm(dir, { recursive: true, force: true });
  });
  const chunk = (epoch: number) =>
    runChunk(annotating, { store: new FencedStore(store, epochFence(store, 'run-1', epoch)), runId: 'run-1', stageName: 'annotating', chunkIndex: 0, attempt: 1, epoch, log: quiet });
  const layout = runLayout('run-1').stage('annotating');

  it('each take-over of the lease is a new epoch', async () => {
    const first = await acquireRunLease(store, 'run-1');
    await first.release();
    const second = await acquireRunLease(store, 'run-1');
    leases.push(await acquireRunLease(store, 'run-1', { breakLease: true }));
    assert.deepEqual([first.holder.epoch, second.holder.epoch, leases[0]!.holder.epoch], [1, 2, 3]);
    assert.match((await store.getText('runs/run-1/lease.json'))!, /"epoch": 3/);
  });

  it('a worker of the old epoch stops at its next write once the run is taken over: no marker, no per-video output replaced', async () => {
    const old = await acquireRunLease(store, 'run-1');
    leases.push(old);
    process.env.TEST_WRITER = 'old';
    beforeItem = async (n) => {
      if (n !== 1) return;
      // The launcher "died"; a resumed one takes the run over and its worker stores item 1 first.
      leases.push(await acquireRunLease(store, 'run-1', { breakLease: true }));
      await store.put('annotations/v1.json', JSON.stringify({ by: 'new' }));
    };
    await assert.rejects(chunk(old.holder.epoch), (e: Error & { errorClass?: string; retryable?: boolean }) => {
      assert.equal(e.errorClass, SUPERSEDED_CLASS);
      assert.equal(e.retryable, false);
      assert.match(e.message, /expected its lease to carry this worker's epoch 1, got it held by epoch 2/);
      return true;
    });
    assert.equal(await store.getText('annotations/v1.json'), JSON.stringify({ by: 'new' }), 'the new epoch\'s annotation is not replaced');
    assert.equal(await store.exists('annotations/v2.json'), false, 'nothing more of the old worker lands');
    assert.equal(await store.exists(layout.done(0)), false);
    const parts: string[] = [];
    for await (const { key } of store.list(layout.outPrefix)) parts.push(key);
    assert.deepEqual(parts, [], 'no part of the old worker is stored');
  });

  it('reads a byte range as its store does (a chunk reads only its range of the stage\'s work list)', async () => {
    await store.put('work-list.jsonl', '{"n":0}\n{"n":1}\n{"n":2}\n');
    const fenced = new FencedStore(store, () => Promise.reject(new Error('reads are not fenced')));
    const chunks: Buffer[] = [];
    for await (const b of await fenced.getStream('work-list.jsonl', { start: 8, end: 16 })) chunks.push(b as Buffer);
    assert.equal(Buffer.concat(chunks).toString('utf8'), '{"n":1}\n');
  });

  it('the current epoch commits, its marker records the epoch; a worker with no launcher holding the run writes nothing', async () => {
    const lease = await acquireRunLease(store, 'run-1');
    process.env.TEST_WRITER = 'current';
    const result = await chunk(lease.holder.epoch);
    assert.equal(result.skipped, false);
    assert.equal((await readJsonObject<ChunkMarker>(store, layout.done(0)))?.epoch, lease.holder.epoch);
    await lease.release();
    await store.delete(layout.done(0));
    await assert.rejects(chunk(lease.holder.epoch), /got it held by no launcher/);
  });

  it('a marker is written only once: a worker that finds one written meanwhile keeps it and drops its own parts', async () => {
    const lease = await acquireRunLease(store, 'run-1');
    leases.push(lease);
    const rival = { stage: 'annotating', index: 0, attempt: 9, parts: [], stats: { items: 0 } };
    beforeItem = async (n, s) => {
      if (n === 2) await s.put(layout.done(0), JSON.stringify(rival));
    };
    const result = await chunk(lease.holder.epoch);
    assert.equal(result.skipped, true);
    assert.deepEqual(await readJsonObject(store, layout.done(0)), rival, 'the first marker stays');
    const parts: string[] = [];
    for await (const { key } of store.list(layout.outPrefix)) parts.push(key);
    assert.deepEqual(parts, [], 'the losing attempt\'s parts are removed');
  });
});
