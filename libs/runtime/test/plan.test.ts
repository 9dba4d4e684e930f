import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePipelineConfig, runLayout, type MapStage } from '@finevideo/core';
import { FileStore, readJsonl } from '@finevideo/storage';
import { createLogger, createRun, planStage } from '@finevideo/runtime';

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

describe('planStage: spooling and chunk work lists', () => {
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
      for await (const item of readJsonl(store, runLayout(`run-${count}`).stage('items').chunk(range.index))) {
        assert.deepEqual(item, { n: k, text: `line "${k}"\n\u00e9${'x'.repeat(k % 90)}` }, `chunk ${range.index} item ${k}`);
        seen.push(k++);
      }
      assert.equal(k, range.end, `chunk ${range.index} holds exactly its range`);
    }
    assert.equal(seen.length, count);
    return result;
  };

  it('writes every item once, in order, into many small chunks (more than the puts kept in flight)', async () => {
    const result = await plan(1000, '');
    assert.equal(result.chunkCount, Math.ceil(1000 / 7));
  });

  it('writes a work list past 8 MB through a file, whole and in order', async function () {
    this.timeout(60_000);
    const result = await plan(120_000, '    chunks: 1\n');
    assert.equal(result.chunkCount, 1);
    const size = (await new FileStore(dir).get(runLayout('run-120000').stage('items').chunk(0))).length;
    assert.ok(size > 8 * 1024 * 1024, `the work list is ${size} bytes`);
  });
});
