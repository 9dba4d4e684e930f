import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePipelineConfig, runLayout, type MapStage, type Outcome } from '@finevideo/core';
import { FileStore, readJsonl, readParquetRows } from '@finevideo/storage';
import { createRun, createLogger, mergeStage, pendingIndexes, planStage, runChunk } from '@finevideo/runtime';

/* An inline stage: squares numbers, drops odd results, fails on 13, breaks the chunk on 99. */
let processed = 0;
const squares: MapStage<{ upTo: number }, { n: number }, { n: number; square: number }> = {
  name: 'squares', kind: 'map', description: 'test stage', image: 'finevideo/stage-squares',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  params: z.strictObject({ upTo: z.number().int() }),
  defaultItemsPerChunk: 4,
  itemConcurrency: () => 3,
  async *listItems(ctx) {
    for (let n = 1; n <= ctx.params.upTo; n++) yield { n };
  },
  itemKey: (item) => `n=${item.n}`,
  async processItem(item, ctx): Promise<Outcome<{ n: number; square: number }>> {
    processed++;
    if (item.n === 99) throw new Error('storage went away');
    if (item.n === 13) return { status: 'error', reason: 'unlucky: thirteen' };
    ctx.count('squared');
    const row = { n: item.n, square: item.n * item.n };
    return row.square % 2 ? { status: 'dropped', reason: 'odd', row } : { status: 'kept', row };
  },
};

describe('run engine with an inline stage', () => {
  let dir: string;
  let store: FileStore;
  const log = createLogger({}, false);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-engine-'));
    store = new FileStore(dir);
    processed = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const setup = async (upTo: number) => {
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: squares\n    params: { upTo: ${upTo} }\n`);
    const manifest = await createRun(config, store, 'run-1');
    const stageCfg = { ...config.stages[0]!, name: 'squares' };
    const plan = await planStage(manifest, stageCfg, undefined, { store, log, resolveStage: () => squares });
    return { manifest, stageCfg, plan };
  };

  it('plans once: the chunk count and files never change on re-planning', async () => {
    const { manifest, stageCfg, plan } = await setup(14);
    assert.equal(plan.itemCount, 14);
    assert.equal(plan.chunkCount, 4);
    const items = [];
    for await (const i of readJsonl(store, runLayout('run-1').stage('squares').chunk(3))) items.push(i);
    assert.deepEqual(items, [{ n: 12 }, { n: 13 }, { n: 14 }]);
    const again = await planStage(manifest, { ...stageCfg, params: { upTo: 100 } }, undefined, { store, log, resolveStage: () => squares });
    assert.deepEqual(again, plan);
  });

  it('writes rows in item order, error rows with their item, stats per reason, marker last; a done chunk is skipped', async () => {
    await setup(14);
    const result = await runChunk(squares, { store, runId: 'run-1', stageName: 'squares', chunkIndex: 3, attempt: 1, log });
    assert.equal(result.skipped, false);
    const rows = [];
    for await (const r of readParquetRows(store, runLayout('run-1').stage('squares').out(3))) rows.push(r);
    assert.deepEqual(rows, [
      { n: 12, square: 144, status: 'kept', reason: null, item_key: null },
      { n: null, square: null, status: 'error', reason: 'unlucky: thirteen', item_key: 'n=13' },
      { n: 14, square: 196, status: 'kept', reason: null, item_key: null },
    ]);
    if (result.skipped) return;
    assert.deepEqual(result.marker.stats, { items: 3, kept: 2, dropped: 0, errors: 1, reasons: { 'error:unlucky': 1 }, counters: { squared: 2 } });
    processed = 0;
    assert.deepEqual(await runChunk(squares, { store, runId: 'run-1', stageName: 'squares', chunkIndex: 3, attempt: 2, log }), { skipped: true });
    assert.equal(processed, 0, 'a chunk with its marker is not processed again');
  });

  it('a throwing item breaks the chunk: no output, no marker, so the index is retried', async () => {
    const { plan } = await setup(99);
    const last = plan.chunkCount - 1;
    await assert.rejects(runChunk(squares, { store, runId: 'run-1', stageName: 'squares', chunkIndex: last, attempt: 1, log }), /storage went away/);
    const layout = runLayout('run-1').stage('squares');
    assert.equal(await store.exists(layout.out(last)), false);
    assert.equal(await store.exists(layout.done(last)), false);
    assert.deepEqual(await pendingIndexes(store, 'run-1', 'squares', plan), Array.from({ length: plan.chunkCount }, (_, i) => i));
  });

  it('merges chunk outputs in index order into the table, dropped rows included', async () => {
    const { plan } = await setup(10);
    for (const r of plan.ranges) await runChunk(squares, { store, runId: 'run-1', stageName: 'squares', chunkIndex: r.index, attempt: 1, log });
    const stats = await mergeStage(store, 'run-1', 'squares', plan);
    assert.equal(stats.items, 10);
    assert.equal(stats.kept, 5);
    assert.equal(stats.dropped, 5);
    const rows = [];
    for await (const r of readParquetRows(store, runLayout('run-1').stage('squares').table)) rows.push(r);
    assert.deepEqual(rows.map((r) => r.n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(rows.filter((r) => r.status === 'kept').map((r) => r.square), [4, 16, 36, 64, 100]);
  });

  it('refuses a worker of another stage type and bad params as not retryable config errors', async () => {
    await setup(3);
    await assert.rejects(runChunk({ ...squares, name: 'other' }, { store, runId: 'run-1', stageName: 'squares', chunkIndex: 0, attempt: 1, log }), (e: Error) => e.name === 'ConfigError' && /expected a worker of type squares, got other/.test(e.message));
  });
});
