import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parsePipelineConfig, type MapStage, type Outcome } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { createRun, prepareRetryErrors, runChunk, runPipeline, type Executor, type StageRunRequest, type StageRunResult } from '@finevideo/runtime';

/*
 * A stage like export: each item is a shard of three videos and yields a row per video. Videos in
 * `failing` are error rows. With rowsAreItems the stage's items are its rows (videos).
 */
const failing = new Set<number>();
const shards: MapStage<{ shards: number }, { shard: number }, { video: number }> = {
  name: 'shards', kind: 'map', description: 'test stage: a shard of three videos per item', image: 'finevideo/stage-shards',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  params: z.strictObject({ shards: z.number().int() }),
  defaultItemsPerChunk: 1,
  itemConcurrency: () => 1,
  rowsAreItems: true,
  async *listItems(ctx) {
    for (let shard = 0; shard < ctx.params.shards; shard++) yield { shard };
  },
  itemKey: (item) => `shard-${item.shard}`,
  async processItem(item): Promise<Outcome<{ video: number }>[]> {
    return [0, 1, 2].map((i) => {
      const video = item.shard * 3 + i;
      return failing.has(video) ? { status: 'error', reason: `video-corrupt: video ${video}` } : { status: 'kept', row: { video } };
    });
  },
};

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Runs the stage's chunks in this process, one after the other, as workers would. */
const inProcess = (store: FileStore): Executor => ({
  kind: 'in-process',
  async runStage(request: StageRunRequest): Promise<StageRunResult> {
    for (const chunkIndex of request.indexes) {
      await runChunk(shards, { store, runId: request.runId, stageName: request.stageName, chunkIndex, attempt: request.attempt, log: quiet });
    }
    return { succeeded: [...request.indexes], failed: [] };
  },
});

describe('a stage whose items are many rows each (rowsAreItems): the error share counts rows', () => {
  let dir: string;
  let store: FileStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-rows-'));
    store = new FileStore(dir);
    failing.clear();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const run = async (manifest: Awaited<ReturnType<typeof createRun>>) =>
    (await runPipeline(manifest, { store, log: quiet, resolveStage: () => shards, executor: inProcess(store), workerEnv: {} }))[0]!;

  it('losing 2 of 6 videos in 2 shards is 2 failed of 6 items, not 0 of 2', async () => {
    failing.add(1).add(4);
    const manifest = await createRun(parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: shards\n    params: { shards: 2 }\n`), store, 'run-1');
    const outcome = await run(manifest);
    assert.deepEqual([outcome.stats.items, outcome.stats.kept, outcome.stats.errors, outcome.failedItems], [6, 4, 2, 2]);
  });

  it('retrying a shard whose every video failed keeps the rows as the items', async () => {
    failing.add(3).add(4).add(5);
    const manifest = await createRun(parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: shards\n    params: { shards: 2 }\n`), store, 'run-1');
    let outcome = await run(manifest);
    assert.deepEqual([outcome.stats.items, outcome.stats.errors, outcome.failedItems], [6, 3, 3]);
    failing.clear();
    assert.equal((await prepareRetryErrors(store, manifest, ['all'])).items, 1, 'the failed shard is run again');
    outcome = await run(manifest);
    assert.deepEqual([outcome.stats.items, outcome.stats.kept, outcome.stats.errors, outcome.failedItems], [6, 6, 0, 0]);
  });
});
