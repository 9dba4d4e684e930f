import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  ConfigError, EXIT_NOT_RETRYABLE, EXIT_RETRYABLE, SystemicError, WORKER_ENV, isRetryableReason, parsePipelineConfig, pipelineStages, runLayout,
  type MapStage, type Outcome, type Row,
} from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import {
  applyRetryErrors, createRun, exitCodeFor, thrownClassOf, failedKey, pendingIndexes, planRetryErrors, planStage, prepareRetryErrors, retrySelection, readDoneMarkers, readPlan, runChunk, runPipeline,
  runStatus, stageRows, type Executor, type StageRunRequest, type StageRunResult,
} from '@finevideo/runtime';

/*
 * An inline stage whose failures the test controls: items listed in `timeouts` fail with
 * "llm timeout: ...", those in `missing` with "not found: ...", the others are kept. A later
 * stage of the same type reads the previous stage's kept rows.
 */
const timeouts = new Set<number>();
const missing = new Set<number>();
let processed: number[] = [];
type Params = { upTo: number; pattern?: string };
const flaky: MapStage<Params, { n: number }, { n: number; stage: string }> = {
  name: 'flaky', kind: 'map', description: 'test stage', image: 'finevideo/stage-flaky',
  resources: { pool: 'cpu', cpu: '1', memory: '1Gi' },
  params: z.strictObject({ upTo: z.number().int(), pattern: z.string().optional() }),
  defaultItemsPerChunk: 4,
  itemConcurrency: () => 2,
  async *listItems(ctx) {
    if (ctx.hasPrevious) {
      for await (const row of ctx.previousRows()) yield { n: Number(row.n) };
      return;
    }
    for (let n = 1; n <= ctx.params.upTo; n++) yield { n };
  },
  itemKey: (item) => `n=${item.n}`,
  async processItem(item, ctx): Promise<Outcome<{ n: number; stage: string }>> {
    processed.push(item.n);
    const pattern = ctx.params.pattern;
    if (pattern) {
      // Alternating classes and shares: "A" and "B" fail with classes a and b, "k" is kept.
      const c = pattern[(item.n - 1) % pattern.length]!;
      if (c !== 'k') return { status: 'error', reason: `class ${c}: item ${item.n} at http://user:secret@example.test/v1` };
    }
    if (timeouts.has(item.n)) return { status: 'error', reason: `llm timeout: item ${item.n} after 3 tries` };
    if (missing.has(item.n)) return { status: 'error', reason: `not found: item ${item.n}` };
    return { status: 'kept', row: { n: item.n, stage: ctx.stageName } };
  },
};

/** Runs chunks in this process, as a worker would (the exit-code contract is tested with a real process below). */
class InProcessExecutor implements Executor {
  readonly kind = 'in-process';
  constructor(private readonly store: FileStore) {}
  async runStage(request: StageRunRequest): Promise<StageRunResult> {
    const result: StageRunResult = { succeeded: [], failed: [] };
    for (const index of request.indexes) {
      try {
        await runChunk(flaky, { store: this.store, runId: request.runId, stageName: request.stageName, chunkIndex: index, attempt: request.attempt, log: quiet });
        result.succeeded.push(index);
      } catch (error) {
        result.failed.push({ index, reason: `exit code ${exitCodeFor(error)}: ${(error as Error).message}` });
      }
    }
    return result;
  }
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('error policy: circuit breaker, retry-errors, status', () => {
  let dir: string;
  let store: FileStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-errors-'));
    store = new FileStore(dir);
    timeouts.clear();
    missing.clear();
    processed = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const setup = async (yaml: string) => {
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n${yaml}`);
    const manifest = await createRun(config, store, 'run-1');
    return { config, manifest, stages: pipelineStages(config) };
  };
  const planFirst = async (yaml: string) => {
    const s = await setup(yaml);
    const plan = await planStage(s.manifest, s.stages[0]!, undefined, { store, log: quiet, resolveStage: () => flaky });
    return { ...s, plan };
  };
  const rowsOf = async (stage: string): Promise<Row[]> => {
    const rows: Row[] = [];
    for await (const r of stageRows(store, 'run-1', stage, { columns: ['n', 'status', 'reason', 'item_key'] })) rows.push(r);
    return rows;
  };
  const chunk = (stageName: string, chunkIndex: number) => runChunk(flaky, { store, runId: 'run-1', stageName, chunkIndex, attempt: 1, log: quiet });

  describe('circuit breaker', () => {
    it('fails the chunk when the same error class hits maxConsecutive items in a row: a SystemicError naming the class, the count and the last reason; nothing written', async () => {
      await planFirst(`  - stage: flaky\n    params: { upTo: 12, pattern: "kAAAAAA" }\n    chunks: 1\n    errorPolicy: { maxConsecutive: 5 }\n`);
      await assert.rejects(chunk('flaky', 0), (e: unknown) => {
        assert.ok(e instanceof SystemicError, `expected a SystemicError, got ${String(e)}`);
        assert.equal(e.errorClass, 'class A');
        assert.equal(e.retryable, true);
        assert.match(e.message, /stage flaky chunk 0: 5 items in a row failed with the same error class "class A" \(errorPolicy\.maxConsecutive is 5\)/);
        assert.match(e.message, /last reason: class A: item 6 at http:\/\/\*\*\*@example\.test\/v1/);
        assert.doesNotMatch(e.message, /secret/, 'URL credentials are never repeated');
        return true;
      });
      assert.deepEqual(processed.slice(0, 6), [1, 2, 3, 4, 5, 6]);
      const layout = runLayout('run-1').stage('flaky');
      for await (const { key } of store.list(layout.outPrefix)) assert.fail(`expected no output part, got ${key}`);
      assert.equal(await store.exists(layout.done(0)), false);
    });

    it('alternating error classes never trip maxConsecutive; the chunk is written with its error rows', async () => {
      await planFirst(`  - stage: flaky\n    params: { upTo: 12, pattern: "AB" }\n    chunks: 1\n    errorPolicy: { maxConsecutive: 3, maxChunkShare: 0.9, minItems: 4 }\n`);
      const result = await chunk('flaky', 0);
      assert.equal(result.skipped, false);
      if (result.skipped) return;
      assert.deepEqual(result.marker.stats.reasons, { 'error:class A': 6, 'error:class B': 6 });
      assert.equal(result.marker.errorItems?.length, 12);
    });

    it('fails the chunk when one class passes maxChunkShare once minItems items are processed, and not below it', async () => {
      // Pattern "AAk": two thirds of the items fail with class A, never three in a row.
      await planFirst(`  - stage: flaky\n    params: { upTo: 12, pattern: "AkA" }\n    chunks: 2\n    errorPolicy: { maxConsecutive: 3, maxChunkShare: 0.6, minItems: 5 }\n`);
      await assert.rejects(chunk('flaky', 0), (e: unknown) => {
        assert.ok(e instanceof SystemicError);
        assert.equal(e.errorClass, 'class A');
        // Items 1..6: A k A A k A; after item 6, 4 of 6 (> 0.6) are class A (item 5 was 3 of 5 = 0.6, not more).
        assert.match(e.message, /4 of 6 items failed with the error class "class A" \(more than errorPolicy\.maxChunkShare 0\.6 once 5 items are processed\)/);
        return true;
      });
      // The same share with a looser policy passes.
      const loose = await mkdtemp(join(tmpdir(), 'finevideo-errors-loose-'));
      try {
        const looseStore = new FileStore(loose);
        const config = parsePipelineConfig(`name: t\nstorage: ${loose}\nstages:\n  - stage: flaky\n    params: { upTo: 12, pattern: "AkA" }\n    chunks: 2\n    errorPolicy: { maxConsecutive: 3, maxChunkShare: 0.7, minItems: 5 }\n`);
        const manifest = await createRun(config, looseStore, 'run-1');
        await planStage(manifest, pipelineStages(config)[0]!, undefined, { store: looseStore, log: quiet, resolveStage: () => flaky });
        const result = await runChunk(flaky, { store: looseStore, runId: 'run-1', stageName: 'flaky', chunkIndex: 0, attempt: 1, log: quiet });
        assert.equal(result.skipped, false);
        if (!result.skipped) assert.equal(result.marker.stats.errors, 4);
      } finally {
        await rm(loose, { recursive: true, force: true });
      }
    });
  });

  describe('worker exit codes', () => {
    it('maps a not-retryable SystemicError and a ConfigError to 42, anything else to 1', () => {
      assert.equal(exitCodeFor(new SystemicError('llm unauthorized: 401 from http://tgi/v1', 'llm unauthorized', false)), EXIT_NOT_RETRYABLE);
      assert.equal(exitCodeFor(new ConfigError('bad')), EXIT_NOT_RETRYABLE);
      assert.equal(exitCodeFor(new SystemicError('storage unreachable', 'storage unreachable')), EXIT_RETRYABLE);
      assert.equal(exitCodeFor(new Error('boom')), EXIT_RETRYABLE);
      assert.equal(exitCodeFor('a string'), EXIT_RETRYABLE);
    });

    it('a permission refusal wrapped by a stage as "storage unreachable" stays permanent: exit 42, logged as its own class', () => {
      const denied = new SystemicError('storage permission denied: cannot write /data/runs (EACCES)', 'storage permission denied', false);
      const wrapped = new SystemicError(`storage download: shard a.parquet from file:///data: ${denied.message}`, 'storage unreachable', true, { cause: denied });
      assert.equal(exitCodeFor(wrapped), EXIT_NOT_RETRYABLE);
      assert.equal(thrownClassOf(wrapped), 'storage permission denied');
      assert.equal(thrownClassOf(new SystemicError('x', 'storage unreachable', true, { cause: new Error('ECONNRESET') })), 'storage unreachable');
    });

    it('a real worker process exits 42 for a not-retryable SystemicError and 1 for a retryable one, logs the class, never the secret, and marks nothing done', async function () {
      this.timeout(240_000); // four worker processes through tsx on a shared machine
      const worker = fileURLToPath(new URL('./fixtures/throwing-worker.ts', import.meta.url));
      const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: throwing\n    params: {}\n    chunks: 1\n`);
      const manifest = await createRun(config, store, 'run-1');
      const { throwing } = await import('./fixtures/throwing-stage.js');
      await planStage(manifest, pipelineStages(config)[0]!, undefined, { store, log: quiet, resolveStage: () => throwing });
      const run = (mode: string) => spawnSync(process.execPath, ['--import', 'tsx', worker], {
        encoding: 'utf8',
        env: { ...process.env, THROWING_MODE: mode, [WORKER_ENV.storage]: store.uri, [WORKER_ENV.runId]: 'run-1', [WORKER_ENV.stage]: 'throwing', [WORKER_ENV.index]: '0', FINEVIDEO_LOG_JSON: '' },
      });
      const fatal = run('unauthorized');
      assert.equal(fatal.status, 42, fatal.stderr);
      assert.match(fatal.stderr, /chunk failed \(llm unauthorized, not retryable\): llm unauthorized: 401 from http:\/\/\*\*\*@tgi\.test\/v1/);
      assert.doesNotMatch(fatal.stderr, /hunter2/);
      const transient = run('unreachable');
      assert.equal(transient.status, 1, transient.stderr);
      assert.match(transient.stderr, /chunk failed \(storage unreachable, retryable\)/);
      const crash = run('crash');
      assert.equal(crash.status, 1, crash.stderr);
      assert.match(crash.stderr, /chunk failed \(TypeError, retryable\)/);
      assert.equal(await store.exists(runLayout('run-1').stage('throwing').done(0)), false, 'nothing is marked done');
      const ok = run('ok');
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(await store.exists(runLayout('run-1').stage('throwing').done(0)), true);
    });
  });

  describe('resume --retry-errors', () => {
    const twoStages = `  - stage: flaky\n    params: { upTo: 12 }\n    chunks: 3\n  - stage: flaky\n    name: again\n    params: { upTo: 0 }\n    chunks: 2\n`;
    const runAll = async (manifest: Awaited<ReturnType<typeof setup>>['manifest'], untilStage?: string) =>
      runPipeline(manifest, { store, log: quiet, resolveStage: () => flaky, executor: new InProcessExecutor(store), workerEnv: {}, ...(untilStage ? { untilStage } : {}) });

    it('re-runs only the error items of the affected chunks, keeps the other rows and chunks, updates the funnel, re-plans later stages, and is idempotent', async () => {
      timeouts.add(6).add(11);
      missing.add(7);
      const { manifest } = await setup(twoStages);
      let outcomes = await runAll(manifest);
      assert.deepEqual(outcomes.map((o) => [o.stage, o.stats.kept, o.stats.errors]), [['flaky', 9, 3], ['again', 9, 0]]);
      assert.equal(outcomes[0]!.failedItems, 3);
      const layout = runLayout('run-1').stage('flaky');
      const untouched = await readFile(join(dir, layout.done(0)), 'utf8');
      const untouchedPart = await readFile(join(dir, layout.part(0, 0)));

      timeouts.clear(); // the endpoint is back
      processed = [];
      const retry = await prepareRetryErrors(store, manifest, ['llm timeout']);
      assert.deepEqual(retry, {
        stage: 'flaky', paid: false, chunks: [1, 2], wholeChunks: [], items: 2, replanned: ['again'],
        replannedStages: [{ stage: 'again', previousItems: 9, paid: false }], leftAlone: { 'not found': 1 },
      });
      assert.equal(await store.exists(layout.table), false, 'the stage is unsealed');
      assert.equal(await readPlan(store, 'run-1', 'again'), undefined, 'the later stage is reset');
      assert.deepEqual(await pendingIndexes(store, 'run-1', 'flaky', (await readPlan(store, 'run-1', 'flaky'))!), [1, 2]);

      outcomes = await runAll(manifest);
      assert.deepEqual(processed.sort((a, b) => a - b), [6, 11, ...Array.from({ length: 12 }, (_, i) => i + 1).filter((n) => n !== 7)].sort((a, b) => a - b),
        'flaky runs only items 6 and 11 again; "again" runs its 11 new input rows');
      assert.deepEqual(outcomes.map((o) => [o.stage, o.stats.items, o.stats.kept, o.stats.errors]), [['flaky', 12, 11, 1], ['again', 11, 11, 0]]);
      assert.deepEqual(outcomes[0]!.stats.reasons, { 'error:not found': 1 });
      assert.equal(await readFile(join(dir, layout.done(0)), 'utf8'), untouched, 'a chunk without matching errors keeps its marker');
      assert.ok((await readFile(join(dir, layout.part(0, 0)))).equals(untouchedPart), '... and its part, byte for byte');
      const markers = await readDoneMarkers(store, 'run-1', 'flaky');
      assert.deepEqual(markers.get(1)!.parts, [layout.part(1, 1), layout.part(1, 2)], 'the affected chunk\'s rewritten part, then the new rows');
      assert.equal(await store.exists(layout.part(1, 0)), false, 'the replaced part is removed after the new marker');
      assert.equal(await store.exists(`${layout.root}/retry/000001.json`), false);
      assert.deepEqual(markers.get(1)!.errorItems, [{ key: 'n=7', reason: 'not found: item 7' }]);

      const rows = await rowsOf('flaky');
      assert.deepEqual(rows.map((r) => r.n).filter((n) => n !== null).sort((a, b) => Number(a) - Number(b)), [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
      assert.deepEqual(rows.filter((r) => r.status === 'error').map((r) => [r.item_key, r.reason]), [['n=7', 'not found: item 7']]);
      assert.deepEqual((await rowsOf('again')).map((r) => r.n).sort((a, b) => Number(a) - Number(b)), [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);

      // Again with the same reason: nothing matches any more, nothing runs.
      processed = [];
      assert.deepEqual(await prepareRetryErrors(store, manifest, ['llm timeout']), { chunks: [], wholeChunks: [], items: 0, replanned: [], replannedStages: [], leftAlone: { 'not found': 1 } });
      // Without reasons only retryable ones run: "not found" is a verdict a retry repeats, so nothing runs.
      assert.deepEqual(await prepareRetryErrors(store, manifest, []), { chunks: [], wholeChunks: [], items: 0, replanned: [], replannedStages: [], leftAlone: { 'not found': 1 } });
      // Every error again, asked for by "all" (item 7 still fails): one item runs, no row is duplicated.
      const all = await prepareRetryErrors(store, manifest, ['all']);
      assert.deepEqual([all.chunks, all.items], [[1], 1]);
      outcomes = await runAll(manifest, 'flaky');
      assert.deepEqual(processed, [7]);
      assert.deepEqual(outcomes.map((o) => [o.stage, o.stats.items, o.stats.kept, o.stats.errors]), [['flaky', 12, 11, 1]]);
      assert.equal((await rowsOf('flaky')).length, 12);
    });

    it('without reasons retries only what a retry can change; a verdict runs again only when named; the plan reads before anything is reset', async () => {
      timeouts.add(2);
      missing.add(3);
      const { manifest } = await setup(twoStages);
      await runAll(manifest);
      const listing = async () => {
        const keys: string[] = [];
        for await (const { key } of store.list('runs/')) keys.push(key);
        return keys.sort();
      };
      const before = await listing();
      // A paid later stage: what the launcher prints before the reset counts its items.
      const paidResolver = () => ({ ...flaky, paidItems: (p: Params) => p.upTo === 0 });
      const plan = await planRetryErrors(store, manifest, retrySelection(true), paidResolver);
      assert.deepEqual(await listing(), before, 'planning writes and removes nothing');
      assert.deepEqual([plan.stage, plan.paid, plan.chunks, plan.items, plan.leftAlone], ['flaky', false, [0], 1, { 'not found': 1 }]);
      assert.deepEqual(plan.replannedStages, [{ stage: 'again', previousItems: 10, paid: true }]);
      timeouts.clear();
      missing.clear();
      await applyRetryErrors(store, manifest, plan, retrySelection(true));
      processed = [];
      await runAll(manifest, 'flaky');
      assert.deepEqual(processed, [2], 'the timed-out item runs again, the not-found one does not');
      const named = await prepareRetryErrors(store, manifest, ['not found']);
      assert.deepEqual([named.stage, named.items, named.leftAlone], ['flaky', 1, {}]);
      processed = [];
      await runAll(manifest, 'flaky');
      assert.deepEqual(processed, [3], 'named, the verdict runs again');
    });

    it('classes a retry can change, from the reasons the stages write', () => {
      for (const reason of ['llm timeout: after 3 tries', 'llm connection: ECONNRESET', 'llm rate-limited: 429', 'llm server-error: 500', 'llm unavailable: 503', 'llm bad-response: not JSON',
        'download network: reset', 'download rate_limited: 429', 'rate-limited: gemini 429', 'server-error: 500', 'gemini-file-timeout: still PROCESSING']) {
        assert.equal(isRetryableReason(reason), true, reason);
      }
      for (const reason of ['video-corrupt: runs/x: 43 of 148 frames', 'unreadable-shard: a.parquet: bad magic', 'download unavailable: Private video', 'download signin: bot',
        'schema-invalid: scenes.0', 'llm bad-request: 400', 'llm unauthorized: 401', 'not found: item 7', 'invalid video id: expected 11 characters', 'timeout-ish verdict: no']) {
        assert.equal(isRetryableReason(reason), false, reason);
      }
      assert.deepEqual(retrySelection(['ALL']), { kind: 'all' });
      assert.deepEqual(retrySelection(['all', 'x']), { kind: 'named', reasons: ['all', 'x'] });
      assert.deepEqual(retrySelection([]), { kind: 'retryable' });
    });

    it('a part holding only retried error rows is dropped, not rewritten empty', async () => {
      timeouts.add(1).add(2);
      const { manifest } = await setup(`  - stage: flaky\n    params: { upTo: 2 }\n    chunks: 1\n`);
      await runAll(manifest);
      timeouts.clear();
      await prepareRetryErrors(store, manifest, ['llm timeout']);
      await runAll(manifest);
      const layout = runLayout('run-1').stage('flaky');
      assert.deepEqual((await readDoneMarkers(store, 'run-1', 'flaky')).get(0)!.parts, [layout.part(0, 1)]);
      assert.deepEqual((await rowsOf('flaky')).map((r) => [r.n, r.status]), [[1, 'kept'], [2, 'kept']]);
    });

    it('a retry cut short (its marker written, clean-up not done) is finished by the next run of the chunk', async () => {
      timeouts.add(2);
      const { manifest } = await setup(`  - stage: flaky\n    params: { upTo: 4 }\n    chunks: 1\n`);
      await runAll(manifest);
      timeouts.clear();
      await prepareRetryErrors(store, manifest, []);
      const layout = runLayout('run-1').stage('flaky');
      const request = await store.getText(`${layout.root}/retry/000000.json`);
      await runAll(manifest);
      // Put back what a crash between the marker and the clean-up would leave.
      await store.put(`${layout.root}/retry/000000.json`, request!);
      await store.put(layout.part(0, 0), 'old part');
      assert.deepEqual(await chunk('flaky', 0), { skipped: true });
      assert.equal(await store.exists(layout.part(0, 0)), false);
      assert.equal(await store.exists(`${layout.root}/retry/000000.json`), false);
      assert.equal((await rowsOf('flaky')).filter((r) => r.status === 'kept').length, 4);
    });
  });

  describe('pipeline checks and status', () => {
    it('--until with an unknown stage is a ConfigError naming the valid stages, before anything runs', async () => {
      const { manifest } = await setup(`  - stage: flaky\n    params: { upTo: 3 }\n  - stage: flaky\n    name: again\n    params: { upTo: 0 }\n`);
      await assert.rejects(
        runPipeline(manifest, { store, log: quiet, resolveStage: () => flaky, executor: new InProcessExecutor(store), workerEnv: {}, untilStage: 'nosuch' }),
        (e: Error) => e instanceof ConfigError && /--until: expected one of the stage names flaky, again, got "nosuch"/.test(e.message),
      );
      assert.deepEqual(processed, []);
      assert.equal(await readPlan(store, 'run-1', 'flaky'), undefined);
    });

    it('a first stage with no input is a ConfigError unless allowEmptyInput is set', async () => {
      const { manifest, stages } = await setup(`  - stage: flaky\n    params: { upTo: 0 }\n`);
      await assert.rejects(planStage(manifest, stages[0]!, undefined, { store, log: quiet, resolveStage: () => flaky }),
        (e: Error) => e instanceof ConfigError && /stage flaky: expected input items, got 0 .*allowEmptyInput: true/.test(e.message));
      assert.equal(await readPlan(store, 'run-1', 'flaky'), undefined, 'no plan is recorded');
      const plan = await planStage(manifest, { ...stages[0]!, allowEmptyInput: true }, undefined, { store, log: quiet, resolveStage: () => flaky });
      assert.equal(plan.itemCount, 0);
    });

    it('status: failed chunks are those the last finished attempt left failed; complete only when every stage is sealed; verify names missing parts', async () => {
      missing.add(3);
      timeouts.add(5).add(6).add(7).add(8);
      const { manifest } = await setup(`  - stage: flaky\n    params: { upTo: 8 }\n    chunks: 2\n    errorPolicy: { maxConsecutive: 2 }\n  - stage: flaky\n    name: again\n    params: { upTo: 0 }\n`);
      const go = () => runPipeline(manifest, { store, log: quiet, resolveStage: () => flaky, executor: new InProcessExecutor(store), workerEnv: {} });
      const outcomes = await go();
      assert.deepEqual(outcomes[0]!.failed.map((f) => f.index), [1]);
      assert.match(outcomes[0]!.failed[0]!.reason, /exit code 1: .*2 items in a row failed with the same error class "llm timeout"/);
      let status = await runStatus(store, 'run-1', { verify: true });
      assert.equal(status.complete, false);
      assert.deepEqual(status.stages.map((s) => [s.stage, s.planned, s.done, s.failed, s.pending, s.sealed]), [['flaky', true, 1, 1, 0, false], ['again', false, 0, 0, 0, false]]);
      assert.deepEqual(status.stages[0]!.stats.reasons, { 'error:not found': 1 });
      assert.deepEqual(status.stages[0]!.missingParts, []);

      // A new attempt of the stage has started: its chunk is pending (running), not failed.
      assert.ok(await store.getText(failedKey('run-1', 'flaky')));
      await store.delete(failedKey('run-1', 'flaky'));
      status = await runStatus(store, 'run-1');
      assert.deepEqual([status.stages[0]!.failed, status.stages[0]!.pending], [0, 1]);

      // The cause is fixed and the run finished: complete; a part deleted behind the run's back is named by verify.
      timeouts.clear();
      await go();
      status = await runStatus(store, 'run-1', { verify: true });
      assert.equal(status.complete, true);
      assert.deepEqual(status.stages.map((s) => [s.done, s.failed, s.pending, s.sealed]), [[2, 0, 0, true], [2, 0, 0, true]]);
      const gone = runLayout('run-1').stage('again').part(0, 0);
      await store.delete(gone);
      status = await runStatus(store, 'run-1', { verify: true });
      assert.deepEqual(status.stages.flatMap((s) => s.missingParts), [gone]);
    });
  });
});
