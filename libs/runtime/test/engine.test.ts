import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePipelineConfig, runLayout, type MapStage, type Outcome } from '@finevideo/core';
import { FileStore, readParquetRows, writeParquetRows } from '@finevideo/storage';
import { readFile } from 'node:fs/promises';
import { chunkItems, createRun, createLogger, pendingIndexes, planStage, runChunk, sealStage, stageRows } from '@finevideo/runtime';

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
    for await (const i of chunkItems(store, 'run-1', 'squares', 3)) items.push(i);
    assert.deepEqual(items, [{ n: 12 }, { n: 13 }, { n: 14 }]);
    const again = await planStage(manifest, { ...stageCfg, params: { upTo: 100 } }, undefined, { store, log, resolveStage: () => squares });
    assert.deepEqual(again, plan);
  });

  it('writes rows in item order, error rows with their item, stats per reason, marker last; a done chunk is skipped', async () => {
    await setup(14);
    const result = await runChunk(squares, { store, runId: 'run-1', stageName: 'squares', chunkIndex: 3, attempt: 1, log });
    assert.equal(result.skipped, false);
    const rows = [];
    if (result.skipped) return;
    assert.deepEqual(result.marker.parts, [runLayout('run-1').stage('squares').part(3, 0)], 'one part: the rows came one by one');
    for (const key of result.marker.parts) for await (const r of readParquetRows(store, key)) rows.push(r);
    assert.deepEqual(rows, [
      { n: 12, square: 144, status: 'kept', reason: null, item_key: null },
      { n: null, square: null, status: 'error', reason: 'unlucky: thirteen', item_key: 'n=13' },
      { n: 14, square: 196, status: 'kept', reason: null, item_key: null },
    ]);
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
    for await (const { key } of store.list(layout.outPrefix)) assert.fail(`expected no output part, got ${key}`);
    assert.equal(await store.exists(layout.done(last)), false);
    assert.deepEqual(await pendingIndexes(store, 'run-1', 'squares', plan), Array.from({ length: plan.chunkCount }, (_, i) => i));
  });

  it('seals the stage: its table lists the chunk parts in index order, dropped rows included', async () => {
    const { plan } = await setup(10);
    for (const r of plan.ranges) await runChunk(squares, { store, runId: 'run-1', stageName: 'squares', chunkIndex: r.index, attempt: 1, log });
    const stats = await sealStage(store, 'run-1', 'squares', plan);
    assert.equal(stats.items, 10);
    assert.equal(stats.kept, 5);
    assert.equal(stats.dropped, 5);
    const rows = [];
    for await (const r of stageRows(store, 'run-1', 'squares')) rows.push(r);
    assert.deepEqual(rows.map((r) => r.n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(rows.filter((r) => r.status === 'kept').map((r) => r.square), [4, 16, 36, 64, 100]);
  });

  it('a stage\'s own parquet of kept rows becomes an output part as it is when it has the status columns, rewritten otherwise', async () => {
    let written: Buffer | undefined;
    const bulk: MapStage<{ upTo: number }, { n: number }, { n: number }> = {
      ...squares, name: 'squares', itemConcurrency: () => 1, defaultItemsPerChunk: 3,
      async *processItem(item, ctx) {
        if (item.n === 2) {
          yield { status: 'error', reason: 'bad shard: two', row: { n: 2 } };
          return;
        }
        const withStatus = item.n === 1;
        const rows = [item.n * 10, item.n * 10 + 1].map((n) => (withStatus ? { n, status: 'kept', reason: null } : { n }));
        await writeParquetRows(new FileStore(ctx.tmpDir), `kept-${item.n}.parquet`, rows);
        if (withStatus) written = await readFile(join(ctx.tmpDir, `kept-${item.n}.parquet`));
        yield { status: 'kept-parquet', path: join(ctx.tmpDir, `kept-${item.n}.parquet`), count: 2 };
      },
    };
    const { plan } = await setup(3);
    const layout = runLayout('run-1').stage('squares');
    await store.put(layout.part(0, 7), 'left by a broken attempt');
    const result = await runChunk(bulk, { store, runId: 'run-1', stageName: 'squares', chunkIndex: 0, attempt: 1, log });
    if (result.skipped) return assert.fail('expected the chunk to run');
    assert.equal(await store.exists(layout.part(0, 7)), false, 'a stale part is removed');
    assert.deepEqual(result.marker.parts, [0, 1, 2].map((k) => layout.part(0, k)));
    assert.deepEqual(result.marker.stats.kept, 4);
    assert.ok(written && (await readFile(join(dir, layout.part(0, 0)))).equals(written), 'the stage\'s file is uploaded byte for byte');
    await sealStage(store, 'run-1', 'squares', plan);
    const rows = [];
    for await (const r of stageRows(store, 'run-1', 'squares', { columns: ['n', 'status', 'reason'] })) rows.push(r);
    assert.deepEqual(rows, [
      { n: 10, status: 'kept', reason: null }, { n: 11, status: 'kept', reason: null },
      { n: 2, status: 'error', reason: 'bad shard: two' },
      { n: 30, status: 'kept', reason: null }, { n: 31, status: 'kept', reason: null },
    ]);
  });

  it('refuses a worker of another stage type and bad params as not retryable config errors', async () => {
    await setup(3);
    await assert.rejects(runChunk({ ...squares, name: 'other' }, { store, runId: 'run-1', stageName: 'squares', chunkIndex: 0, attempt: 1, log }), (e: Error) => e.name === 'ConfigError' && /expected a worker of type squares, got other/.test(e.message));
  });
});
