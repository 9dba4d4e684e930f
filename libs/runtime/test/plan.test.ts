import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePipelineConfig, runLayout, type MapStage } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { FencedStore, chunkItems, createLogger, createRun, planStage, runChunk } from '@finevideo/runtime';

/* Items of about 100 bytes each, with text that JSON must escape. */
const items: MapStage<{ count: number }, { n: number; text: string }> = {
  name: 'items', kind: 'map', description: 'test stage', image: 'finevideo/stage-items',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  params: z.strictObject({ count: z.number().int() }),
  defaultItemsPerChunk: 7,
  itemConcurrency: () => 1,
  async *listItems(ctx) {
    for (let n = 0; n < ctx.params.count; n++) yield { n, text: `line "${n}"\n\u00e9${'x'.repeat(n % 90)}` };
  },
  itemKey: (item) => String(item.n),
  processItem: async () => ({ status: 'kept', row: {} }),
};

describe('planStage: one work list per stage, a byte range per chunk', () => {
  let dir: string;
  const log = createLogger({}, false);
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'finevideo-plan-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const plan = async (count: number, chunking: string) => {
    const store = new FileStore(dir);
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: items\n    params: { count: ${count} }\n${chunking}`);
    const manifest = await createRun(config, store, `run-${count}`);
    const result = await planStage(manifest, { ...config.stages[0]!, name: 'items' }, undefined, { store, log, resolveStage: () => items });
    const seen: number[] = [];
    for (const range of result.ranges) {
      let k = range.start;
      for await (const item of chunkItems(store, `run-${count}`, 'items', range.index)) {
        assert.deepEqual(item, { n: k, text: `line "${k}"\n\u00e9${'x'.repeat(k % 90)}` }, `chunk ${range.index} item ${k}`);
        seen.push(k++);
      }
      assert.equal(k, range.end, `chunk ${range.index} holds exactly its range`);
    }
    assert.equal(seen.length, count);
    return { result, store, manifest };
  };

  it('writes every item once, in order, into one object however many chunks (no file per chunk)', async () => {
    const { result, store } = await plan(1000, '');
    assert.equal(result.chunkCount, Math.ceil(1000 / 7));
    const keys = [];
    for await (const { key } of store.list(runLayout('run-1000').stage('items').chunksPrefix)) keys.push(key);
    assert.deepEqual(keys, [runLayout('run-1000').stage('items').workList]);
    assert.equal(result.workList?.offsets.length, result.chunkCount + 1);
  });

  it('plans an empty stage (allowed) as one chunk with an empty byte range', async () => {
    const { result } = await plan(0, '    allowEmptyInput: true\n');
    assert.deepEqual(result.workList?.offsets, [0, 0]);
  });

  it('reads a run planned before work lists (chunks/<i>.jsonl, no offsets in plan.json) chunk by chunk', async () => {
    const { result, store } = await plan(30, '');
    const layout = runLayout('run-30').stage('items');
    // Rewrite the plan as an old run has it: a file per chunk, no work list.
    let n = 0;
    for (const range of result.ranges) {
      const lines = [];
      for (let k = range.start; k < range.end; k++) lines.push(`${JSON.stringify({ n: 1000 + n++ })}\n`);
      await store.put(layout.chunk(range.index), lines.join(''));
    }
    await store.delete(layout.workList);
    const { workList: _dropped, ...old } = result;
    await store.put(layout.plan, JSON.stringify(old));
    const got = [];
    for await (const item of chunkItems(store, 'run-30', 'items', 2)) got.push(item);
    assert.deepEqual(got, [12, 13, 14, 15, 16, 17].map((k) => ({ n: 1000 + k })));
  });

  it('runs a chunk from its byte range of the work list', async () => {
    const { store } = await plan(30, '');
    const seen: unknown[] = [];
    const probe = { ...items, processItem: async (item: { n: number; text: string }) => (seen.push(item.n), { status: 'kept' as const, row: { n: item.n } }) };
    await runChunk(probe, { store, runId: 'run-30', stageName: 'items', chunkIndex: 3, attempt: 1, log });
    assert.deepEqual(seen, [18, 19, 20, 21, 22, 23], "chunk 3 of 5 (30 items, 6 each)");
    // Through the store a worker uses (fenced by its lease epoch), the range holds too.
    seen.length = 0;
    await runChunk(probe, { store: new FencedStore(store, async () => undefined), runId: 'run-30', stageName: 'items', chunkIndex: 2, attempt: 1, log });
    assert.deepEqual(seen, [12, 13, 14, 15, 16, 17], 'chunk 2 through a fenced store');
  });

  it('spools lines longer than its 1 MB write buffer, multi-byte text included, byte for byte', async () => {
    const store = new FileStore(dir);
    const text = (n: number) => (n % 4 === 1 ? '\u20ac\u00e9'.repeat(300_000 + n) : `short ${n} \u00e9`);
    const wide = { ...items, listItems: async function* () { for (let n = 0; n < 12; n++) yield { n, text: text(n) }; } };
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: items\n    params: { count: 12 }\n    itemsPerChunk: 5\n`);
    const manifest = await createRun(config, store, 'run-wide');
    const result = await planStage(manifest, { ...config.stages[0]!, name: 'items' }, undefined, { store, log, resolveStage: () => wide });
    const expected = Array.from({ length: 12 }, (_, n) => `${JSON.stringify({ n, text: text(n) })}\n`).join('');
    assert.equal((await store.get(runLayout('run-wide').stage('items').workList)).toString('utf8'), expected);
    assert.equal(result.workList?.offsets.at(-1), Buffer.byteLength(expected));
    const got = [];
    for await (const item of chunkItems(store, 'run-wide', 'items', 1)) got.push((item as { n: number }).n);
    const { start, end } = result.ranges[1]!;
    assert.deepEqual(got, Array.from({ length: end - start }, (_, k) => start + k));
  });

  it('writes a work list past 8 MB whole and in order', async function () {
    this.timeout(60_000);
    const { result, store } = await plan(120_000, '    chunks: 3\n');
    assert.equal(result.chunkCount, 3);
    const size = (await store.get(runLayout('run-120000').stage('items').workList)).length;
    assert.ok(size > 8 * 1024 * 1024, `the work list is ${size} bytes`);
    assert.equal(result.workList?.offsets.at(-1), size);
  });
});
