import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { kubernetesExecutorSchema, type KubernetesExecutorConfig, type Logger } from '@finevideo/core';
import { localWorkerForImage, type StageProgress, type StageRunRequest } from '@finevideo/runtime';
import { startFakeKubernetes, type FakeKubernetes } from '@finevideo/testing';
import { KubeClient, LABELS, buildStageJobs, createKubernetesExecutor, loadKubeConfig, type V1Job } from '../src/index.js';

const quietLog: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const NS = 'fv';

function executorConfig(extra: Partial<KubernetesExecutorConfig> = {}): KubernetesExecutorConfig {
  return { ...kubernetesExecutorSchema.parse({ kind: 'kubernetes', namespace: NS, parallelism: 2, backoffLimitPerIndex: 2 }), ...extra };
}

function request(extra: Partial<StageRunRequest> = {}): StageRunRequest {
  return {
    runId: 'r1', storage: '/tmp/nowhere', stageName: 'worddensity', stageType: 'worddensity', image: 'finevideo/stage-worddensity',
    resources: { cpu: '1', memory: '1Gi', pool: 'cpu' }, chunkCount: 4, indexes: [0, 1, 2, 3], attempt: 1, env: {}, ...extra,
  } as StageRunRequest;
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  for (const start = Date.now(); Date.now() - start < ms; ) {
    if (check()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Unsuspends a Job the way Kueue admits one: a merge patch on spec.suspend. */
async function admit(fake: FakeKubernetes, name: string): Promise<void> {
  const r = await fetch(`${fake.url}/apis/batch/v1/namespaces/${NS}/jobs/${name}`, {
    method: 'PATCH', headers: { authorization: 'Bearer fake-token', 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { suspend: false } }),
  });
  assert.equal(r.status, 200, await r.text());
}

describe('Kubernetes client against the fake API server', function () {
  this.timeout(60_000);
  let fake: FakeKubernetes;
  let dir: string;
  let client: KubeClient;

  beforeEach(async () => {
    fake = await startFakeKubernetes({ podCommand: localWorkerForImage });
    dir = await mkdtemp(join(tmpdir(), 'fv-k8s-'));
    const kc = new KubeConfig();
    kc.loadFromFile(await fake.kubeconfigPath(dir));
    client = new KubeClient({ kubeConfig: kc });
  });
  afterEach(async () => {
    await fake.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the kubeconfig named by KUBECONFIG and checks the context', async () => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = await fake.kubeconfigPath(dir);
    try {
      assert.equal(loadKubeConfig().getCurrentCluster()?.server, fake.url);
      assert.equal(loadKubeConfig('fake').getCurrentContext(), 'fake');
      assert.throws(() => loadKubeConfig('prod'), /kubeconfig context: expected one of fake, got "prod"/);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('creates a Job, adopts it on 409 for the same run and attempt, refuses a foreign one', async () => {
    const config = executorConfig({ queue: 'lq' }); // suspended: nothing runs
    const [job] = buildStageJobs(request(), config);
    const first = await client.createJob(job!);
    assert.equal(first.adopted, false);
    assert.equal(first.job.metadata?.uid !== undefined, true);
    const again = await client.createJob(job!);
    assert.equal(again.adopted, true);
    assert.equal(again.job.metadata?.uid, first.job.metadata?.uid);
    assert.equal(fake.jobs(NS).length, 1);
    const foreign = structuredClone(job!);
    foreign.metadata.labels[LABELS.attempt] = '7';
    await assert.rejects(client.createJob(foreign), /expected an existing Job of the same run\/stage\/attempt to adopt.*finevideo.dev\/attempt=1/);
  });

  it('a watch survives 410 Gone and dropped streams and sees the Job complete', async () => {
    const [job] = buildStageJobs(request(), executorConfig({ queue: 'lq' }));
    const name = job!.metadata.name;
    for (let i = 0; i < 4; i++) fake.faults.exitCode({ index: i, code: 0 });
    await client.createJob(job!);
    fake.faults.goneOnNextWatch();
    const seen: V1Job[] = [];
    const watching = client.watchJob(NS, name, (j) => {
      seen.push(j);
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
    }, { retryDelayMs: 20 });
    await until('the watch after 410 Gone', () => fake.watchesOpened >= 2);
    const listsBefore = fake.requests.get(`GET /apis/batch/v1/namespaces/${NS}/jobs`) ?? 0;
    assert.ok(fake.faults.dropWatches() >= 1, 'a watch stream was open');
    await until('the watch after the dropped stream', () => fake.watchesOpened >= 3);
    await admit(fake, name);
    const final = await watching;
    assert.ok(final?.status?.conditions?.some((c) => c.type === 'Complete'), 'watch ends on Complete');
    assert.equal(final?.status?.completedIndexes, '0-3');
    assert.ok(seen.some((j) => j.spec?.suspend === true), 'saw the suspended Job first');
    assert.ok(listsBefore >= 2, `expected a re-list after 410 Gone, got ${listsBefore} list requests`);
    const pods = await client.listPods(NS, name);
    assert.equal(pods.length, 4);
    assert.ok(pods.every((p) => p.status?.phase === 'Succeeded'));
  });

  it('a watch backs off when the server ends every stream at once, and gives up after its bound naming the Job', async () => {
    const [job] = buildStageJobs(request(), executorConfig({ queue: 'lq' }));
    const name = job!.metadata.name;
    await client.createJob(job!);
    fake.faults.closeWatchesAtOnce();
    const started = Date.now();
    await assert.rejects(client.watchJob(NS, name, () => false, { retryDelayMs: 20, maxRetryDelayMs: 80, maxFailures: 4 }), (e: Error) => {
      assert.match(e.message, new RegExp(`^job ${NS}/${name}: gave up watching after 5 failed connects in \\d+ s \\(last: the API server closed the watch stream at once, with no event\\)`));
      assert.match(e.message, new RegExp(`kubectl -n ${NS} get job ${name}`));
      return true;
    });
    assert.equal(fake.watchesOpened, 5, 'one watch per connect, no hot loop');
    // Pauses of at least half of 20, 40, 80, 80 ms (the other half is jitter).
    assert.ok(Date.now() - started >= 110, `the reconnects backed off, took ${Date.now() - started} ms`);
  });

  it('a watch whose first streams end at once recovers and sees the Job complete', async () => {
    const [job] = buildStageJobs(request({ chunkCount: 2, indexes: [0, 1] }), executorConfig({ queue: 'lq' }));
    for (let i = 0; i < 2; i++) fake.faults.exitCode({ index: i, code: 0 });
    fake.faults.closeWatchesAtOnce(3);
    await client.createJob(job!);
    const watching = client.watchJob(NS, job!.metadata.name, (j) => j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True'), { retryDelayMs: 10, maxFailures: 5 });
    await until('a watch stream that stays open', () => fake.watchesOpened >= 4);
    await admit(fake, job!.metadata.name);
    const final = await watching;
    assert.equal(final?.status?.completedIndexes, '0-1');
  });

  it('runs a resumed attempt through a chunk map and reports chunk indexes, retries and log tails', async () => {
    const exec = createKubernetesExecutor(executorConfig(), quietLog, client);
    // Job index 1 (chunk 3) is not retryable; index 2 (chunk 4) fails once then succeeds.
    fake.faults.exitCode({ index: 1, code: 42 });
    fake.faults.exitCode({ index: 2, attempt: 1, code: 1 });
    for (let i = 0; i < 4; i++) fake.faults.exitCode({ index: i, code: 0 });
    const progress: StageProgress[] = [];
    const result = await exec.runStage(request({ chunkCount: 8, indexes: [1, 3, 4, 6], attempt: 2, onProgress: (p) => progress.push(p) }));
    assert.deepEqual(result.succeeded, [1, 4, 6]);
    assert.equal(result.failed.length, 1);
    assert.equal(result.failed[0]!.index, 3);
    assert.match(result.failed[0]!.logTail ?? '', /fault injected: exit 42/);
    const [job] = fake.jobs(NS);
    assert.equal(job!.spec.completions, 4);
    const env = job!.spec.template.spec.containers[0]!.env ?? [];
    assert.equal(env.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value, '1,3-4,6');
    assert.equal(job!.status.failedIndexes, '1');
    assert.ok(job!.status.conditions?.some((c) => c.type === 'Failed' && c.reason === 'FailedIndexes'));
    const podsOfIndex2 = fake.podHistory.filter((p) => p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] === '2');
    assert.equal(podsOfIndex2.length, 2, 'one retry for index 2');
    const podsOfIndex1 = fake.podHistory.filter((p) => p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] === '1');
    assert.equal(podsOfIndex1.length, 1, 'exit 42 fails the index at once (podFailurePolicy FailIndex)');
    assert.deepEqual(progress.at(-1), { ...progress.at(-1), total: 4, succeeded: 3, failed: 1, running: 0 });
  });

  it('waits on a suspended (queued) Job and deletes it when cancelled', async () => {
    const exec = createKubernetesExecutor(executorConfig({ queue: 'lq' }), quietLog, client);
    const abort = new AbortController();
    const messages: string[] = [];
    const running = exec.runStage(request({ signal: abort.signal, onProgress: (p) => p.message && messages.push(p.message) }));
    await until('the Job to be created', () => fake.jobs(NS).length === 1);
    await until('a progress report', () => messages.length > 0);
    assert.match(messages[0]!, /suspended: waiting for admission/);
    abort.abort();
    const result = await running;
    assert.deepEqual(result.succeeded, []);
    assert.deepEqual(result.failed.map((f) => [f.index, f.reason]), [[0, 'cancelled'], [1, 'cancelled'], [2, 'cancelled'], [3, 'cancelled']]);
    await until('the Job to be deleted', () => fake.jobs(NS).length === 0);
    assert.ok((fake.requests.get(`DELETE /apis/batch/v1/namespaces/${NS}/jobs/${buildStageJobs(request(), executorConfig())[0]!.metadata.name}`) ?? 0) >= 1);
  });

  it('refuses to start an attempt while a Job of an earlier attempt is still live', async () => {
    const exec = createKubernetesExecutor(executorConfig({ queue: 'lq' }), quietLog, client);
    const [earlier] = buildStageJobs(request({ attempt: 1 }), executorConfig({ queue: 'lq' }));
    await client.createJob(earlier!);
    await assert.rejects(exec.runStage(request({ attempt: 2, indexes: [1, 3] })),
      new RegExp(`expected no live Job of an earlier attempt, got ${earlier!.metadata.name} \\(attempt 1, suspended\\); wait for it .* or delete it`));
    assert.equal(fake.jobs(NS).length, 1, 'nothing submitted');
    // Another stage of the run, or the same attempt (a launcher restarted mid-submit), is not held up.
    const abort = new AbortController();
    const other = exec.runStage(request({ attempt: 1, signal: abort.signal }));
    await until('a second watch on the adopted Job', () => (fake.requests.get(`GET /apis/batch/v1/namespaces/${NS}/jobs`) ?? 0) >= 2);
    abort.abort();
    assert.deepEqual((await other).succeeded, []);
    await until('the Job to be deleted', () => fake.jobs(NS).length === 0);
    const resumed = new AbortController();
    const next = exec.runStage(request({ attempt: 2, indexes: [1, 3], signal: resumed.signal }));
    await until('the new attempt to be created', () => fake.jobs(NS).length === 1);
    resumed.abort();
    await next;
  });

  it('a launcher that took the run over deletes the live Jobs of earlier launchers (older epoch) and waits for their pods before submitting', async () => {
    // Pods that run until stopped, as a slow annotate would.
    const slow = await startFakeKubernetes({ podCommand: () => ({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], cwd: dir }) });
    try {
      const kc = new KubeConfig();
      kc.loadFromFile(await slow.kubeconfigPath(dir));
      const slowClient = new KubeClient({ kubeConfig: kc });
      const [earlier] = buildStageJobs(request({ attempt: 1, env: { FINEVIDEO_EPOCH: '1' } }), executorConfig());
      assert.equal(earlier!.metadata.labels[LABELS.epoch], '1');
      await slowClient.createJob(earlier!);
      await until('the earlier launcher\'s pods to run', () => slow.pods(NS).filter((p) => p.status.phase === 'Running').length === 2);
      const abort = new AbortController();
      const resumed = createKubernetesExecutor(executorConfig(), quietLog, slowClient).runStage(request({ attempt: 2, indexes: [1, 3], env: { FINEVIDEO_EPOCH: '2' }, signal: abort.signal }));
      await until('the resumed launcher\'s Job', () => slow.jobs(NS).some((j) => j.metadata.labels?.[LABELS.epoch] === '2'));
      assert.deepEqual(slow.jobs(NS).map((j) => j.metadata.labels?.[LABELS.epoch]), ['2'], 'the earlier launcher\'s Job is deleted');
      const earlierPods = slow.pods(NS, `job-name=${earlier!.metadata.name}`).filter((p) => p.status.phase === 'Running');
      assert.deepEqual(earlierPods, [], 'none of its pods runs beside the new ones');
      abort.abort();
      assert.deepEqual((await resumed).succeeded, []);
    } finally {
      await slow.stop();
    }
  });

  it('an evicted pod (disruption) is retried without using up the index\'s backoff; a plain kill fails the index', async () => {
    await fake.stop();
    // Pods that run for a while, so they can be killed mid-run.
    fake = await startFakeKubernetes({ podCommand: () => ({ command: process.execPath, args: ['-e', 'setTimeout(() => {}, 700)'] }) });
    const kc = new KubeConfig();
    kc.loadFromFile(await fake.kubeconfigPath(dir));
    client = new KubeClient({ kubeConfig: kc });
    const exec = createKubernetesExecutor(executorConfig({ backoffLimitPerIndex: 0 }), quietLog, client);
    const running = exec.runStage(request({ chunkCount: 2, indexes: [0, 1] }));
    const podOf = (index: string) => fake.pods(NS).find((p) => p.status.phase === 'Running' && p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] === index);
    await until('both pods to run', () => Boolean(podOf('0') && podOf('1')));
    assert.ok(fake.faults.killPod(podOf('0')!.metadata.name, { disruption: true }));
    assert.ok(fake.faults.killPod(podOf('1')!.metadata.name));
    const result = await running;
    assert.deepEqual(result.succeeded, [0], 'the evicted index ran again and succeeded');
    assert.deepEqual(result.failed.map((f) => f.index), [1], 'a plain failure with backoffLimitPerIndex 0 fails its index');
    const podsOf = (index: string) => fake.podHistory.filter((p) => p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] === index);
    assert.equal(podsOf('0').length, 2);
    assert.equal(podsOf('1').length, 1);
  });

  it('resolves secretKeyRef from Secrets and gives each pod its completion index', async () => {
    fake.setSecret(NS, 'creds', { token: 's3cr3t' });
    const config = executorConfig({ secretEnv: [{ env: 'API_TOKEN', secret: 'creds', key: 'token' }] });
    const [job] = buildStageJobs(request({ chunkCount: 2, indexes: [0, 1] }), config);
    fake.faults.exitCode({ index: 0, code: 0 });
    fake.faults.exitCode({ index: 1, code: 0 });
    await client.createJob(job!);
    await client.watchJob(NS, job!.metadata.name, (j) => j.status?.conditions?.some((c) => c.type === 'Complete'));
    const pods = await client.listPods(NS, job!.metadata.name);
    assert.deepEqual(pods.map((p) => p.metadata?.labels?.['batch.kubernetes.io/job-completion-index']).sort(), ['0', '1']);
    for (const pod of pods) {
      const env = fake.podEnv(NS, pod.metadata!.name!);
      assert.equal(env?.API_TOKEN, 's3cr3t');
      assert.equal(env?.JOB_COMPLETION_INDEX, pod.metadata?.labels?.['batch.kubernetes.io/job-completion-index']);
      assert.equal(env?.FINEVIDEO_STAGE, 'worddensity');
    }
    const tail = await client.readPodLog(NS, pods[0]!.metadata!.name!, { tailLines: 5 });
    assert.match(tail, /fault injected: exit 0/);
    assert.equal(await client.readPodLog(NS, 'no-such-pod', { tailLines: 5 }), '');
  });
});
