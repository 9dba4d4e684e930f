import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIndexRanges, parsePipelineConfig, type KubernetesExecutorConfig, type Row } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { createLogger, createRun, runPipeline, runStatus, stageRows, stageTypeOfImage, workspaceRoot } from '@finevideo/runtime';
import { KubernetesExecutor } from '@finevideo/k8s';
import { startFakeKubernetes, type FakeKubernetes } from '@finevideo/testing';
import { resolveStreamingStage } from '../../runtime/test/fixtures/streaming-stages.js';

const worker = fileURLToPath(new URL('../../runtime/test/fixtures/streaming-worker.ts', import.meta.url));

async function rows(store: FileStore, runId: string, stage: string): Promise<Row[]> {
  const out: Row[] = [];
  for await (const r of stageRows(store, runId, stage)) out.push(r);
  return out;
}

describe('streaming on Kubernetes (fake API server, process runner): waves of Indexed Jobs', function () {
  this.timeout(300_000);
  let dir: string;
  let fake: FakeKubernetes;
  const previousKubeconfig = process.env.KUBECONFIG;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-k8s-streaming-'));
    // The test stages' worker, by image name (finevideo/stage-<type>).
    fake = await startFakeKubernetes({ podCommand: (image) => ({ command: process.execPath, args: ['--import', 'tsx', worker, stageTypeOfImage(image)], cwd: workspaceRoot() }) });
    process.env.KUBECONFIG = await fake.kubeconfigPath(dir);
  });
  after(async () => {
    if (previousKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = previousKubeconfig;
    await fake?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('submits ready downstream chunks in waves with a chunk map (never a Job per chunk), queues per pool, same tables as locally', async () => {
    const store = new FileStore(join(dir, 'store'));
    const yaml = (streaming: boolean, executor: string) => `name: s\nstorage: ${join(dir, 'store')}\nexecutor: ${executor}\n${streaming ? 'streaming: true\n' : ''}stages:\n  - stage: numbers\n    params: { upTo: 24 }\n  - stage: fetch\n    itemsPerChunk: 6\n`;
    const config = parsePipelineConfig(yaml(true, '{ kind: kubernetes, parallelism: 4, queues: { cpu: cpu-queue, network: net-queue }, waves: { minChunks: 2, maxWaitSeconds: 30 } }'));
    const manifest = await createRun(config, store, 'k');
    const log = createLogger({}, false);
    const executor = new KubernetesExecutor(config.executor as KubernetesExecutorConfig, log, undefined, store);
    // Kueue's part: admit (unsuspend) each queued Job, recording the queue it asked for.
    const admitted = new Set<string>();
    const admitter = setInterval(() => {
      for (const job of fake.jobs('finevideo')) {
        if (!job.spec.suspend || admitted.has(job.metadata.name)) continue;
        admitted.add(job.metadata.name);
        void fetch(`${fake.url}/apis/batch/v1/namespaces/finevideo/jobs/${job.metadata.name}`, {
          method: 'PATCH', headers: { authorization: 'Bearer fake-token', 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { suspend: false } }),
        });
      }
    }, 100);
    const outcomes = await runPipeline(manifest, { store, log, resolveStage: resolveStreamingStage, executor, workerEnv: {} }).finally(() => clearInterval(admitter));
    assert.ok(admitted.size >= 2, 'Jobs with a queue were created suspended, for Kueue to admit');
    assert.deepEqual(outcomes.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0]]);
    const jobs = fake.jobs('finevideo').filter((j) => j.metadata.labels?.['finevideo.dev/run'] === 'k');
    const fetchJobs = jobs.filter((j) => j.metadata.labels?.['finevideo.dev/stage'] === 'fetch');
    assert.ok(fetchJobs.length >= 1 && fetchJobs.length <= 2, `fetch: waves of at least 2 of its 4 chunks, got ${fetchJobs.length} Jobs`);
    assert.ok(fetchJobs.every((j) => (j.spec.completions ?? 0) >= 2), 'every wave holds at least minChunks chunks');
    // Each wave names its chunks in FINEVIDEO_CHUNK_MAP, one per completion; only a Job running the whole stage (0-3) may go without it.
    const chunksOfWave = (job: (typeof fetchJobs)[number]): number[] => {
      const map = job.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value;
      if (map === undefined) {
        assert.equal(job.spec.completions, 4, `${job.metadata.name} has no FINEVIDEO_CHUNK_MAP, so it must run all 4 chunks`);
        return [0, 1, 2, 3];
      }
      const chunks = parseIndexRanges(map);
      assert.equal(chunks.length, job.spec.completions, `${job.metadata.name}: map ${map} for ${job.spec.completions} completions`);
      return chunks;
    };
    assert.deepEqual([...new Set(fetchJobs.flatMap(chunksOfWave))].sort((a, b) => a - b), [0, 1, 2, 3], 'the waves together run every chunk');
    assert.equal(fetchJobs[0]!.metadata.labels?.['kueue.x-k8s.io/queue-name'], 'net-queue', 'the network pool\'s queue');
    assert.equal(jobs.find((j) => j.metadata.labels?.['finevideo.dev/stage'] === 'numbers')!.metadata.labels?.['kueue.x-k8s.io/queue-name'], 'cpu-queue');
    // The same tables as the same pipeline stage by stage (in this process's store, another run id).
    const local = parsePipelineConfig(yaml(false, '{ kind: local, parallelism: 2, retries: 0 }'));
    const reference = await createRun(local, store, 'ref');
    const { LocalExecutor } = await import('@finevideo/runtime');
    const refOutcomes = await runPipeline(reference, {
      store, log, resolveStage: resolveStreamingStage, workerEnv: {},
      executor: new LocalExecutor({ parallelism: 2, retries: 0, store, command: (type) => ({ command: process.execPath, args: ['--import', 'tsx', worker, type] }) }),
    });
    assert.deepEqual(refOutcomes.map((o) => o.failed.length), [0, 0]);
    for (const stage of ['numbers', 'fetch']) assert.deepEqual(await rows(store, 'k', stage), await rows(store, 'ref', stage), stage);
  });
  it('a streamed run killed during the first wave of the following stage (its Jobs deleted) resumes to every chunk done once and the same tables', async () => {
    const root = join(dir, 'killed');
    const store = new FileStore(root);
    const yaml = (executor: string, streaming: boolean) => `name: s\nstorage: ${root}\nexecutor: ${executor}\n${streaming ? 'streaming: true\n' : ''}stages:\n  - stage: numbers\n    params: { upTo: 24 }\n    itemsPerChunk: 6\n  - stage: fetch\n    itemsPerChunk: 6\n`;
    const kube = '{ kind: kubernetes, parallelism: 2, waves: { minChunks: 1, maxWaitSeconds: 5 } }';
    const log = createLogger({}, false);
    // Slow items (in the pods' environment), so fetch's first wave is still running when the launcher is stopped.
    const workerEnv = { STREAMING_TEST_DELAY_MS: '250' };
    {
      const manifest = await createRun(parsePipelineConfig(yaml(kube, true)), store, 'killed');
      const controller = new AbortController();
      const killer = setInterval(() => {
        if (fake.jobs('finevideo').some((j) => j.metadata.labels?.['finevideo.dev/run'] === 'killed' && j.metadata.labels?.['finevideo.dev/stage'] === 'fetch')) controller.abort();
      }, 50);
      const executor = () => new KubernetesExecutor(parsePipelineConfig(yaml(kube, true)).executor as KubernetesExecutorConfig, log, undefined, store);
      const killed = await runPipeline(manifest, { store, log, resolveStage: resolveStreamingStage, executor: executor(), workerEnv, signal: controller.signal }).finally(() => clearInterval(killer));
      assert.equal(killed.at(-1)?.cancelled, true, 'the launcher was stopped while fetch had chunks left');
      const before = await runStatus(store, 'killed');
      assert.equal(before.complete, false);
      console.log(`      killed with chunks done: ${before.stages.map((st) => `${st.stage} ${st.done}/${st.chunks}`).join(', ')}`);
      // Resume: the same run id, a new launcher.
      const resumedManifest = await createRun(parsePipelineConfig(yaml(kube, true)), store, 'killed');
      const resumed = await runPipeline(resumedManifest, { store, log, resolveStage: resolveStreamingStage, executor: executor(), workerEnv });
      assert.deepEqual(resumed.map((o) => [o.stage, o.failed.length, o.cancelled ?? false]), [['numbers', 0, false], ['fetch', 0, false]]);
      const after = await runStatus(store, 'killed');
      assert.equal(after.complete, true);
      assert.ok(after.stages.every((st) => st.done === st.chunks && st.failed === 0), JSON.stringify(after.stages.map((st) => [st.stage, st.done, st.chunks, st.failed])));
      // Every row once, as a run that was never killed (stage by stage, local executor) makes them.
      const reference = await createRun(parsePipelineConfig(yaml('{ kind: local, parallelism: 2, retries: 0 }', false)), store, 'never-killed');
      const { LocalExecutor } = await import('@finevideo/runtime');
      await runPipeline(reference, {
        store, log, resolveStage: resolveStreamingStage, workerEnv: {},
        executor: new LocalExecutor({ parallelism: 2, retries: 0, store, command: (type) => ({ command: process.execPath, args: ['--import', 'tsx', worker, type] }) }),
      });
      for (const stage of ['numbers', 'fetch']) {
        const got = await rows(store, 'killed', stage);
        assert.equal(new Set(got.map((r) => JSON.stringify(r))).size, got.length, `${stage}: no row twice`);
        assert.deepEqual(got, await rows(store, 'never-killed', stage), stage);
      }
    }
  });

  it('a failing chunk stops only the chunks that need its rows; resume completes the run with the tables of a run that never failed', async () => {
    const root = join(dir, 'failing');
    const store = new FileStore(root);
    const yaml = (executor: string, streaming: boolean) =>
      `name: s\nstorage: ${root}\nexecutor: ${executor}\n${streaming ? 'streaming: true\n' : ''}stages:\n  - stage: numbers\n    params: { upTo: 18 }\n  - stage: fetch\n    itemsPerChunk: 6\n`;
    const kube = '{ kind: kubernetes, parallelism: 2, backoffLimitPerIndex: 0, waves: { minChunks: 1, maxWaitSeconds: 5 } }';
    const log = createLogger({}, false);
    const go = async (runId: string, executor: string, streaming: boolean, workerEnv: Record<string, string>) => {
      const config = parsePipelineConfig(yaml(executor, streaming));
      const run = config.executor.kind === 'kubernetes'
        ? new KubernetesExecutor(config.executor, log, undefined, store)
        : new (await import('@finevideo/runtime')).LocalExecutor({ parallelism: 2, retries: 0, store, command: (type) => ({ command: process.execPath, args: ['--import', 'tsx', worker, type] }) });
      return runPipeline(await createRun(config, store, runId), { store, log, resolveStage: resolveStreamingStage, executor: run, workerEnv });
    };
    // numbers chunk 1 (items 7-12) fails whole in its pod; fetch's chunk 1 is listed from its rows.
    const failed = await go('failing', kube, true, { STREAMING_TEST_FAIL: 'numbers 8' });
    assert.deepEqual(failed.map((o) => [o.stage, o.failed.map((f) => f.index)]), [['numbers', [1]]], 'the run ends failed at numbers chunk 1');
    const status = Object.fromEntries((await runStatus(store, 'failing')).stages.map((st) => [st.stage, [st.done, st.failed, st.chunks, st.sealed]]));
    assert.deepEqual(status, { numbers: [2, 1, 3, false], fetch: [2, 0, 3, false] }, 'fetch finished the chunks of the numbers chunks that did not fail');
    const resumed = await go('failing', kube, true, {});
    assert.deepEqual(resumed.map((o) => [o.stage, o.failed.length]), [['numbers', 0], ['fetch', 0]]);
    assert.equal((await runStatus(store, 'failing')).complete, true);
    await go('never-failed', '{ kind: local, parallelism: 2, retries: 0 }', false, {});
    for (const stage of ['numbers', 'fetch']) assert.deepEqual(await rows(store, 'failing', stage), await rows(store, 'never-failed', stage), stage);
  });
});
