import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePipelineConfig, runLayout, type Row } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import {
  LocalExecutor, applyRetryErrors, createLogger, createRun, followPlan, followUnits, planRetryErrors, readPlan, readRunManifest, retrySelection, runChunk,
  runPipeline, runStatus, stageRows,
  type Executor, type StageRunRequest, type StageRunResult,
} from '@finevideo/runtime';
import { measureStage, resolveStreamingStage } from './fixtures/streaming-stages.js';

const log = createLogger({}, false);

/** `follow`: a stage's own follow setting (overriding the pipeline's streaming). */
const pipelineYaml = (dir: string, streaming: boolean, follow: Partial<Record<'fetch' | 'measure' | 'total', boolean>> = {}) => {
  const own = (stage: keyof typeof follow) => (follow[stage] === undefined ? '' : `\n    follow: ${follow[stage]}`);
  return `name: s
storage: ${dir}
executor: { kind: local, parallelism: 1, retries: 0, slots: { cpu: 1, network: 2 } }
${streaming ? 'streaming: true\n' : ''}stages:
  - stage: numbers
    params: { upTo: 60 }
  - stage: fetch${own('fetch')}
  - stage: measure${own('measure')}
  - stage: total${own('total')}
`;
};

interface Event { stage: string; index: number; at: 'start' | 'end'; pool: string }

/**
 * Runs chunks in this process (runChunk, as a worker does) and records when each starts and ends,
 * so the test sees which stages overlapped and how many chunks of each pool ran at once.
 * `stopAfter`: aborts the run once that many chunks finished (a launcher killed mid-run).
 */
class InProcessExecutor implements Executor {
  readonly kind = 'local';
  events: Event[] = [];
  finished = 0;
  /** Chunks that wait (at most 20 s) until a chunk of another stage started: overlap the test can rely on, not a timing. */
  gates: { stage: string; index: number; until: string }[] = [];
  /** The chunk killed in flight (stopAfter): its items ran, its worker died writing its first part. */
  killed?: { stage: string; index: number };
  constructor(private readonly store: FileStore, private readonly stopAfter?: { chunks: number; controller: AbortController }) {}
  /** The store as a worker sees it: the chunk after stopAfter.chunks finished ones dies at its first upload (the launcher is stopped). */
  private storeFor(stage: string, index: number): FileStore {
    const stop = this.stopAfter;
    if (!stop || this.killed || this.finished < stop.chunks) return this.store;
    this.killed = { stage, index };
    const dying = Object.create(this.store) as FileStore;
    dying.upload = async () => {
      stop.controller.abort();
      throw new Error(`killed: ${stage} chunk ${index} in flight`);
    };
    return dying;
  }
  private async passGate(stage: string, index: number): Promise<void> {
    const gate = this.gates.find((g) => g.stage === stage && g.index === index);
    for (const start = Date.now(); gate && Date.now() - start < 20_000; await new Promise((r) => setTimeout(r, 10))) {
      if (this.events.some((e) => e.stage === gate.until && e.at === 'start')) return;
    }
  }
  async runStage(request: StageRunRequest): Promise<StageRunResult> {
    const result: StageRunResult = { succeeded: [], failed: [] };
    const pool = request.resources.class ?? request.resources.pool;
    for (const index of request.indexes) {
      if (request.signal?.aborted) {
        result.failed.push({ index, reason: 'cancelled' });
        continue;
      }
      this.events.push({ stage: request.stageName, index, at: 'start', pool });
      await this.passGate(request.stageName, index);
      const store = this.storeFor(request.stageName, index);
      try {
        await runChunk(resolveStreamingStage(request.stageType), { store, runId: request.runId, stageName: request.stageName, chunkIndex: index, attempt: request.attempt, log });
      } catch (error) {
        if (store === this.store) throw error;
        this.events.push({ stage: request.stageName, index, at: 'end', pool });
        result.failed.push({ index, reason: (error as Error).message });
        continue;
      }
      this.events.push({ stage: request.stageName, index, at: 'end', pool });
      result.succeeded.push(index);
      this.finished++;
    }
    return result;
  }
}

/** Most chunks of each pool running at once. */
function peakByPool(events: Event[]): Record<string, number> {
  const now: Record<string, number> = {};
  const peak: Record<string, number> = {};
  for (const e of events) {
    now[e.pool] = (now[e.pool] ?? 0) + (e.at === 'start' ? 1 : -1);
    peak[e.pool] = Math.max(peak[e.pool] ?? 0, now[e.pool]!);
  }
  return peak;
}

async function allRows(store: FileStore, runId: string, stage: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of stageRows(store, runId, stage)) rows.push(row);
  return rows;
}

describe('streaming between map stages', function () {
  this.timeout(120_000);
  let dir: string;
  let trace: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-streaming-'));
    trace = join(dir, 'trace.txt');
    process.env.STREAMING_TEST_TRACE = trace;
    process.env.STREAMING_TEST_DELAY_MS = '2';
  });
  afterEach(async () => {
    delete process.env.STREAMING_TEST_TRACE;
    delete process.env.STREAMING_TEST_DELAY_MS;
    delete process.env.STREAMING_TEST_HEALED;
    delete process.env.STREAMING_TEST_PRIVATE;
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (root: string, streaming: boolean, executor: Executor, signal?: AbortSignal, follow?: Parameters<typeof pipelineYaml>[2]) => {
    const store = new FileStore(root);
    const config = parsePipelineConfig(pipelineYaml(root, streaming, follow), 'pipeline config', resolveStreamingStage);
    const manifest = await createRun(config, store, 'r');
    const outcomes = await runPipeline(manifest, { store, log, resolveStage: resolveStreamingStage, executor, workerEnv: {}, ...(signal ? { signal } : {}) });
    return { store, outcomes };
  };

  it('sizes a following plan from its upstream plan: groups of small chunks, shares of big ones', () => {
    const cfg = { stage: 'measure', name: 'measure', params: {}, errorPolicy: { maxConsecutive: 5, maxChunkShare: 0.5, minItems: 10, maxStageShare: 0.2 }, allowEmptyInput: false };
    const upstream = { stage: 'fetch', type: 'fetch', kind: 'map' as const, itemCount: 60, chunkCount: 5, ranges: [], plannedAt: '' };
    const shared = followPlan(cfg, measureStage, upstream);
    assert.deepEqual(shared.follows, { stage: 'fetch', group: 1, split: 3, itemsPerChunk: 4 });
    assert.equal(shared.chunkCount, 15);
    assert.deepEqual(followUnits(shared).upstreamOf(4), [4, 5]);
    assert.deepEqual(followUnits(shared).chunksOf(4), [12, 15]);
    const grouped = followPlan({ ...cfg, itemsPerChunk: 25 }, measureStage, upstream);
    assert.deepEqual(grouped.follows, { stage: 'fetch', group: 2, split: 1, itemsPerChunk: 24 });
    assert.equal(grouped.chunkCount, 3);
    assert.deepEqual(grouped.ranges.at(-1), { index: 2, start: 4, end: 5 });
  });

  it('overlaps stages within each pool budget and ends with the tables of a stage-by-stage run', async () => {
    const streamed = new InProcessExecutor(new FileStore(join(dir, 'a')));
    // Without streaming these would wait in vain (20 s) and the order checks below would fail.
    streamed.gates = [{ stage: 'numbers', index: 9, until: 'fetch' }, { stage: 'fetch', index: 4, until: 'measure' }];
    const a = await run(join(dir, 'a'), true, streamed);
    assert.deepEqual(a.outcomes.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0], ['measure', 0], ['total', 0]]);
    const b = await run(join(dir, 'b'), false, new InProcessExecutor(new FileStore(join(dir, 'b'))));
    for (const stage of ['numbers', 'fetch', 'measure', 'total']) {
      assert.deepEqual(await allRows(a.store, 'r', stage), await allRows(b.store, 'r', stage), `${stage}: the same rows in the same order`);
    }
    // Odd n of 1..60 without the multiples of 7 (dropped) and 11 (an error row).
    const kept = Array.from({ length: 60 }, (_, i) => i + 1).filter((n) => n % 2 && n % 7 && n !== 11);
    assert.deepEqual(await allRows(a.store, 'r', 'total'), [{ count: kept.length, sum: kept.reduce((t, n) => t + n * n, 0), status: 'kept', reason: null }]);
    const plan = await readPlan(a.store, 'r', 'measure');
    assert.equal(plan?.follows?.split, 3, 'measure streamed in shares of fetch chunks');
    assert.equal(plan?.itemCount, 51, 'a streamed plan counts its items when sealed');
    // Overlap: fetch (network pool) started before numbers finished; measure before fetch finished.
    const first = (stage: string, at: Event['at']) => streamed.events.findIndex((e) => e.stage === stage && e.at === at);
    if (process.env.STREAMING_TEST_DEBUG) console.log(streamed.events.map((e) => `${e.at === 'start' ? '+' : '-'}${e.stage}${e.index}`).join(' '));
    const last = (stage: string) => streamed.events.findLastIndex((e) => e.stage === stage && e.at === 'end');
    assert.ok(first('fetch', 'start') < last('numbers'), 'fetch ran while numbers was still running');
    assert.ok(first('measure', 'start') > last('numbers'), 'measure waited for the numbers table it reads whole');
    assert.ok(first('measure', 'start') < last('fetch'), 'measure ran while fetch was still running');
    assert.ok(first('total', 'start') > last('measure'), 'the global stage is a barrier');
    const peak = peakByPool(streamed.events);
    assert.ok(peak.cpu! <= 1 && peak.network! <= 2, `pool budget kept: ${JSON.stringify(peak)}`);
    let running = 0;
    let both = 0;
    for (const e of streamed.events) both = Math.max(both, (running += e.at === 'start' ? 1 : -1));
    assert.equal(both, 2, 'a CPU chunk and a network chunk ran at once');
    // Every item of every stage once.
    const lines = (await readFile(trace, 'utf8')).trim().split('\n');
    assert.equal(new Set(lines).size, lines.length / 2, 'each item processed once per run (two runs)');
  });

  it("a stage's own follow overrides the pipeline's streaming either way; a follow that cannot be honoured is refused", async () => {
    // Runs the pipeline with numbers chunk 9 held until fetch started (so fetch can only overlap numbers by streaming).
    const runWith = async (name: string, streaming: boolean, follow: Parameters<typeof pipelineYaml>[2]) => {
      const executor = new InProcessExecutor(new FileStore(join(dir, name)));
      executor.gates = [{ stage: 'numbers', index: 9, until: 'fetch' }];
      const { store, outcomes } = await run(join(dir, name), streaming, executor, undefined, follow);
      assert.deepEqual(outcomes.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0], ['measure', 0], ['total', 0]]);
      const first = (stage: string) => executor.events.findIndex((e) => e.stage === stage && e.at === 'start');
      const last = (stage: string) => executor.events.findLastIndex((e) => e.stage === stage && e.at === 'end');
      assert.ok(first('fetch') < last('numbers'), `${name}: fetch ran while numbers was still running`);
      assert.ok(first('measure') > last('fetch'), `${name}: measure started after every fetch chunk ended`);
      assert.equal((await readPlan(store, 'r', 'fetch'))?.follows?.stage, 'numbers', `${name}: fetch streams from numbers`);
      assert.equal((await readPlan(store, 'r', 'measure'))?.follows, undefined, `${name}: measure planned whole`);
      return store;
    };
    // A streamed pipeline whose measure opts out, and a stage-by-stage one whose fetch opts in: the same plans.
    const optOut = await runWith('out', true, { measure: false });
    const optIn = await runWith('in', false, { fetch: true });
    for (const stage of ['fetch', 'measure', 'total']) assert.deepEqual(await allRows(optOut, 'r', stage), await allRows(optIn, 'r', stage), `${stage}: the same rows`);
    // total is a global stage: it cannot stream, and saying it should is refused, not ignored.
    assert.throws(() => parsePipelineConfig(pipelineYaml(dir, true, { total: true }), 'pipeline config', resolveStreamingStage),
      (e: Error) => e.name === 'ConfigError' && /stages\[3\]\.follow: expected false or no follow \(stage total cannot stream from the stage before it: it is a global stage \(total\)\), got true/.test(e.message));
    const firstFollows = `name: s\nstorage: ${dir}\nstages:\n  - stage: numbers\n    follow: true\n`;
    assert.throws(() => parsePipelineConfig(firstFollows, 'pipeline config', resolveStreamingStage), (e: Error) => /stages\[0\]\.follow: .*it is the first stage\), got true/.test(e.message));
  });

  it('a run killed mid-stream (a chunk in flight: its items ran, its parts never landed) resumes to every chunk done once and the same tables', async () => {
    const root = join(dir, 'k');
    const controller = new AbortController();
    const killer = new InProcessExecutor(new FileStore(root), { chunks: 9, controller });
    const killed = await run(root, true, killer, controller.signal);
    assert.equal(killed.outcomes.at(-1)?.cancelled, true);
    const inFlight = killer.killed!;
    assert.ok(inFlight, 'a chunk was killed in flight');
    assert.equal(await killed.store.exists(runLayout('r').stage(inFlight.stage).done(inFlight.index)), false, 'the killed chunk is not marked done');
    const linesAtKill = (await readFile(trace, 'utf8')).trim().split('\n');
    const status = await runStatus(killed.store, 'r');
    const byStage = Object.fromEntries(status.stages.map((s) => [s.stage, s]));
    assert.equal(status.complete, false);
    assert.ok(byStage.numbers!.done < byStage.numbers!.chunks && byStage.fetch!.done > 0, `stages overlap when killed: ${JSON.stringify(status.stages.map((s) => [s.stage, s.done, s.chunks]))}`);
    const resumed = await run(root, true, new InProcessExecutor(new FileStore(root)));
    assert.deepEqual(resumed.outcomes.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0], ['measure', 0], ['total', 0]]);
    const lines = (await readFile(trace, 'utf8')).trim().split('\n');
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
    // The killed chunk's items ran before the kill and again on resume; every other item exactly once.
    const again = [...counts].filter(([, n]) => n !== 1);
    assert.ok(again.length > 0 && again.every(([line, n]) => n === 2 && line.startsWith(`${inFlight.stage} `) && linesAtKill.includes(line)), `only the killed ${inFlight.stage} chunk ${inFlight.index} ran twice: ${JSON.stringify(again)}`);
    assert.equal([...counts.keys()].filter((l) => l.startsWith('numbers ')).length, 60, 'every number listed');
    const reference = await run(join(dir, 'ref'), false, new InProcessExecutor(new FileStore(join(dir, 'ref'))));
    for (const stage of ['fetch', 'measure', 'total']) assert.deepEqual(await allRows(resumed.store, 'r', stage), await allRows(reference.store, 'r', stage), stage);
    const after = await runStatus(resumed.store, 'r');
    assert.equal(after.complete, true);
    assert.ok(after.stages.every((s) => s.done === s.chunks && s.failed === 0));
  });

  it('status, resume and resume --retry-errors answer for a streamed run as for the same run stage by stage', async () => {
    process.env.STREAMING_TEST_PRIVATE = '1'; // fetch: 11 a retryable error row, 13 a verdict
    const streamed = await run(join(dir, 's'), true, new InProcessExecutor(new FileStore(join(dir, 's'))));
    const staged = await run(join(dir, 'b'), false, new InProcessExecutor(new FileStore(join(dir, 'b'))));
    // Chunk counts differ (a following stage is chunked from its upstream chunks); the answers must not.
    const answers = async (store: FileStore) => {
      const status = await runStatus(store, 'r');
      return { complete: status.complete, stages: status.stages.map((s) => ({ stage: s.stage, sealed: s.sealed, failed: s.failed, pending: s.pending, failedItems: s.failedItems, stats: s.stats })) };
    };
    // Rows without their null cells: a column only some parts have (item_key of error rows) reads as null or is absent by part layout.
    const cells = (row: Row) => Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null && v !== undefined));
    const tables = async (store: FileStore) => Object.fromEntries(await Promise.all(['numbers', 'fetch', 'measure', 'total'].map(async (s) => [s, (await allRows(store, 'r', s)).map(cells)])));
    const before = await answers(streamed.store);
    assert.deepEqual(before, await answers(staged.store), 'status after the run');
    assert.deepEqual(before.stages.find((s) => s.stage === 'fetch')?.stats.reasons, { 'error:unavailable': 1, 'error:private': 1 });
    // resume of a finished run: nothing runs again, the same answers.
    const traced = (await readFile(trace, 'utf8')).length;
    for (const [root, streaming] of [[join(dir, 's'), true], [join(dir, 'b'), false]] as const) await run(root, streaming, new InProcessExecutor(new FileStore(root)));
    assert.equal((await readFile(trace, 'utf8')).length, traced, 'a resume of a complete run processes no item');
    assert.deepEqual(await answers(streamed.store), before, 'status after resuming a complete run');
    // resume --retry-errors without reasons: the retryable row only; later stages planned again.
    process.env.STREAMING_TEST_HEALED = '1';
    const retried = [];
    for (const [store, streaming] of [[streamed.store, true], [staged.store, false]] as const) {
      const manifest = await readRunManifest(store, 'r');
      const plan = await planRetryErrors(store, manifest, retrySelection(true), resolveStreamingStage);
      retried.push({ stage: plan.stage, chunks: plan.chunks.length, items: plan.items, replanned: plan.replanned, leftAlone: plan.leftAlone });
      await applyRetryErrors(store, manifest, plan, retrySelection(true));
      const outcomes = await run(store.root, streaming, new InProcessExecutor(store));
      assert.deepEqual(outcomes.outcomes.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0], ['measure', 0], ['total', 0]], `resumed ${streaming ? 'streamed' : 'stage by stage'}`);
    }
    assert.deepEqual(retried[0], { stage: 'fetch', chunks: 1, items: 1, replanned: ['measure', 'total'], leftAlone: { private: 1 } });
    assert.deepEqual(retried[0], retried[1], 'the same retry planned');
    const after = await answers(streamed.store);
    assert.deepEqual(after, await answers(staged.store), 'status after resume --retry-errors');
    assert.equal(after.complete, true);
    assert.deepEqual(after.stages.find((s) => s.stage === 'fetch')?.stats.reasons, { 'error:private': 1 });
    const items = (answers: typeof before, stage: string) => answers.stages.find((s) => s.stage === stage)?.stats.items;
    assert.equal(items(after, 'measure'), items(before, 'measure')! + 1, 'measure planned again: the retried row 11 reached it');
    assert.deepEqual(await tables(streamed.store), await tables(staged.store), 'tables after resume --retry-errors');
  });

  it('runs worker processes with the local executor: each pool within its slots', async () => {
    const root = join(dir, 'p');
    const store = new FileStore(root);
    const worker = fileURLToPath(new URL('./fixtures/streaming-worker.ts', import.meta.url));
    const executor = new LocalExecutor({ parallelism: 1, retries: 0, store, command: (type) => ({ command: process.execPath, args: ['--import', 'tsx', worker, type] }) });
    // Small: every chunk is a process started through tsx (seconds each on a busy machine).
    const config = parsePipelineConfig(`name: s\nstorage: ${root}\nexecutor: { kind: local, parallelism: 1, retries: 0 }\nstreaming: true\nstages:\n  - stage: numbers\n    params: { upTo: 18 }\n  - stage: fetch\n    itemsPerChunk: 6\n`);
    const manifest = await createRun(config, store, 'r');
    const running = new Map<string, number>();
    const overlapped = new Set<string>();
    const outcomes = await runPipeline(manifest, {
      store, log, resolveStage: resolveStreamingStage, executor, workerEnv: {},
      onProgress: (stage, p) => {
        running.set(stage, p.running);
        const busy = [...running].filter(([, n]) => n > 0).map(([s]) => s);
        if (busy.length > 1) overlapped.add(busy.join('+'));
      },
    });
    assert.deepEqual(outcomes.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0]]);
    assert.equal((await readPlan(store, 'r', 'fetch'))?.chunkCount, 3);
    assert.ok(overlapped.size > 0, 'two stages had chunks running at once');
    assert.ok(await store.exists(runLayout('r').stage('fetch').logs(0)), 'chunk logs kept');
  });

  it('a failing chunk stops only the chunks that need its rows; resume completes the run with the tables of a run that never failed (worker processes)', async () => {
    const root = join(dir, 'f');
    const store = new FileStore(root);
    const worker = fileURLToPath(new URL('./fixtures/streaming-worker.ts', import.meta.url));
    const executor = new LocalExecutor({ parallelism: 2, retries: 0, store, command: (type) => ({ command: process.execPath, args: ['--import', 'tsx', worker, type] }) });
    const yaml = (streaming: boolean) =>
      `name: s\nstorage: ${root}\nexecutor: { kind: local, parallelism: 2, retries: 0 }\n${streaming ? 'streaming: true\n' : ''}stages:\n  - stage: numbers\n    params: { upTo: 18 }\n  - stage: fetch\n    itemsPerChunk: 6\n`;
    const go = async (runId: string, streaming: boolean, workerEnv: Record<string, string>) =>
      runPipeline(await createRun(parsePipelineConfig(yaml(streaming)), store, runId), { store, log, resolveStage: resolveStreamingStage, executor, workerEnv });
    // numbers chunk 1 (items 7-12) fails whole; fetch's chunk 1 is listed from its rows.
    const failed = await go('r', true, { STREAMING_TEST_FAIL: 'numbers 8' });
    assert.deepEqual(failed.map((o) => [o.stage, o.failed.map((f) => f.index)]), [['numbers', [1]]], 'the run ends failed at numbers chunk 1');
    const status = Object.fromEntries((await runStatus(store, 'r')).stages.map((s) => [s.stage, [s.done, s.failed, s.chunks, s.sealed]]));
    assert.deepEqual(status, { numbers: [2, 1, 3, false], fetch: [2, 0, 3, false] }, 'fetch finished the chunks of the numbers chunks that did not fail');
    const resumed = await go('r', true, {});
    assert.deepEqual(resumed.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0]]);
    assert.equal((await runStatus(store, 'r')).complete, true);
    await go('ref', false, {});
    for (const stage of ['numbers', 'fetch']) assert.deepEqual(await allRows(store, 'r', stage), await allRows(store, 'ref', stage), stage);
  });
});
