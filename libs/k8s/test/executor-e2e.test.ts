import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseIndexRanges, type Row } from '@finevideo/core';
import { localWorkerForImage, stageRows } from '@finevideo/runtime';
import { FileStore, openStore } from '@finevideo/storage';
import { runCli } from './cli.js';
import { generateYtCommonsShards, startFakeKubernetes, startS3rver, type FakeKubernetes, type FakePod } from '@finevideo/testing';

async function tableRows(storage: string, run: string, stage: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of stageRows(new FileStore(storage), run, stage)) rows.push(r);
  return rows;
}

/** Chunk a succeeded pod ran: its completion index through the Job's chunk map, if any. */
function chunkOf(pod: FakePod): number {
  const index = Number(pod.metadata.labels?.['batch.kubernetes.io/job-completion-index']);
  const map = pod.spec.containers[0]!.env?.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value;
  return map ? parseIndexRanges(map)[index]! : index;
}

describe('finevideo --executor kubernetes against the fake API server (ytcommons -> worddensity)', function () {
  this.timeout(600_000);
  let dir: string;
  let fake: FakeKubernetes;
  let kubeEnv: NodeJS.ProcessEnv;
  let pipeline: string;
  const store = () => join(dir, 'store');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-k8s-e2e-'));
    await generateYtCommonsShards(join(dir, 'shards'), { shards: 5, rowsPerShard: 40, seed: 11, averageTextBytes: 1500, corruptShard: true });
    fake = await startFakeKubernetes({ podCommand: localWorkerForImage });
    kubeEnv = { KUBECONFIG: await fake.kubeconfigPath(dir) };
    pipeline = join(dir, 'pipeline.yaml');
    await writeFile(pipeline, [
      'name: k8s-e2e',
      `storage: ${store()}`,
      'executor: { kind: local, parallelism: 3, retries: 1 }',
      'stages:',
      '  - stage: ytcommons',
      `    params: { source: ${join(dir, 'shards')} }`,
      '    chunks: 6',
      '  - stage: worddensity',
      '    params: { threshold: 0.5 }',
      '    chunks: 3',
    ].join('\n'));
    const local = await runCli(['run', pipeline, '--run-id', 'local-1'], {});
    assert.equal(local.code, 0, local.stderr + local.stdout);
  });
  after(async () => {
    await fake?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('produces exactly the local executor\'s tables', async () => {
    const r = await runCli(['run', pipeline, '--run-id', 'k8s-1', '--executor', 'kubernetes', '--parallelism', '3'], kubeEnv);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const stage of ['ytcommons', 'worddensity']) {
      const a = await tableRows(store(), 'local-1', stage);
      const b = await tableRows(store(), 'k8s-1', stage);
      assert.ok(a.length > 0, `${stage}: the local run has rows`);
      assert.deepEqual(b, a, `${stage}: identical rows in identical order`);
    }
    for (const [stage, chunks] of [['ytcommons', 6], ['worddensity', 3]] as const) {
      const logs = (await readdir(join(store(), 'runs', 'k8s-1', stage, 'logs'))).sort();
      assert.deepEqual(logs, (await readdir(join(store(), 'runs', 'local-1', stage, 'logs'))).sort(), `${stage}: one log per chunk, as locally`);
      assert.equal(logs.length, chunks);
      for (const log of logs) assert.match(await readFile(join(store(), 'runs', 'k8s-1', stage, 'logs', log), 'utf8'), /^--- pod \S+ \(Succeeded\) job /);
    }
    const jobs = fake.jobs('finevideo').filter((j) => j.metadata.labels?.['finevideo.dev/run'] === 'k8s-1');
    assert.deepEqual(jobs.map((j) => j.metadata.labels?.['finevideo.dev/stage']).sort(), ['worddensity', 'ytcommons']);
    assert.ok(jobs.every((j) => j.status.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')));
  });

  it('killed and failed indexes, then "finevideo resume": every chunk done once, same tables', async () => {
    const ofRun = (attempt: string) => (job: { metadata: { labels?: Record<string, string> } }) =>
      job.metadata.labels?.['finevideo.dev/run'] === 'k8s-2' && job.metadata.labels?.['finevideo.dev/stage'] === 'ytcommons' && job.metadata.labels?.['finevideo.dev/attempt'] === attempt;
    // Chunks 1 and 3 fail for good in the first attempt ("not retryable" exit code).
    fake.faults.exitCode({ job: ofRun('1'), index: 1, code: 42 });
    fake.faults.exitCode({ job: ofRun('1'), index: 3, code: 42 });
    const running = runCli(['run', pipeline, '--run-id', 'k8s-2', '--executor', 'kubernetes', '--parallelism', '2'], kubeEnv);
    // Kill the first worker pod that runs: its index is retried (per-index backoff) and must still run once.
    let killed: string | undefined;
    for (let i = 0; i < 1200 && !killed; i++) {
      const pod = fake.pods('finevideo', 'finevideo.dev/run=k8s-2').find((p) => p.status.phase === 'Running' && !['1', '3'].includes(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] ?? ''));
      if (pod && fake.faults.killPod(pod.metadata.name)) killed = pod.metadata.name;
      else await sleep(25);
    }
    assert.ok(killed, 'a running pod was killed');
    const first = await running;
    assert.equal(first.code, 1, first.stderr + first.stdout);
    assert.match(first.stdout, /ytcommons: 2 chunk\(s\) failed/);
    assert.match(first.stdout, /chunk 1: index 1 of job .* failed/);
    const doneDir = join(store(), 'runs', 'k8s-2', 'ytcommons', 'done');
    assert.equal((await readdir(doneDir)).length, 4, 'four of six chunks done');
    assert.ok(!existsSync(join(store(), 'runs', 'k8s-2', 'worddensity')) || !existsSync(join(store(), 'runs', 'k8s-2', 'worddensity', 'table.json')));
    const killedChunk = chunkOf(fake.podHistory.find((p) => p.metadata.name === killed)!);
    const killedLog = await readFile(join(store(), 'runs', 'k8s-2', 'ytcommons', 'logs', (await readdir(join(store(), 'runs', 'k8s-2', 'ytcommons', 'logs'))).find((f) => Number.parseInt(f, 10) === killedChunk)!), 'utf8');
    assert.deepEqual([...killedLog.matchAll(/^--- pod \S+ \((\w+)\)/gm)].map((m) => m[1]), ['Failed', 'Succeeded'], 'the chunk log keeps the killed pod and its retry');
    assert.match(await readFile(join(store(), 'runs', 'k8s-2', 'ytcommons', 'logs', (await readdir(join(store(), 'runs', 'k8s-2', 'ytcommons', 'logs'))).find((f) => Number.parseInt(f, 10) === 1)!), 'utf8'), /fault injected: exit 42/);

    const resumed = await runCli(['resume', join(store(), 'runs', 'k8s-2'), '--executor', 'kubernetes'], kubeEnv);
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
    const second = fake.jobs('finevideo').find(ofRun('2'));
    assert.equal(second?.spec.completions, 2, 'the resumed attempt runs only the two missing chunks');
    assert.equal(second?.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value, '1,3');

    for (const [stage, chunks] of [['ytcommons', 6], ['worddensity', 3]] as const) {
      const succeeded = fake.podHistory.filter((p) => p.metadata.labels?.['finevideo.dev/run'] === 'k8s-2' && p.metadata.labels?.['finevideo.dev/stage'] === stage && p.status.phase === 'Succeeded');
      const counts = new Map<number, number>();
      for (const p of succeeded) counts.set(chunkOf(p), (counts.get(chunkOf(p)) ?? 0) + 1);
      assert.deepEqual([...counts].sort((a, b) => a[0] - b[0]), Array.from({ length: chunks }, (_, i) => [i, 1]), `${stage}: each chunk succeeded exactly once`);
      assert.deepEqual(await tableRows(store(), 'k8s-2', stage), await tableRows(store(), 'local-1', stage), `${stage}: same table as the local run`);
    }
    const killedPod = fake.podHistory.find((p) => p.metadata.name === killed);
    assert.equal(killedPod?.status.phase, 'Failed');
  });

  it('storage on s3rver, credentials only through Secret references: same tables', async () => {
    const s3 = await startS3rver({ buckets: ['fv-e2e'] });
    const saved = { ...process.env };
    try {
      fake.setSecret('s3ns', 's3-creds', { id: s3.env.AWS_ACCESS_KEY_ID!, secret: s3.env.AWS_SECRET_ACCESS_KEY! });
      const path = join(dir, 'pipeline-s3.yaml');
      await writeFile(path, [
        'name: k8s-s3',
        'storage: s3://fv-e2e/data',
        `s3: { endpoint: "${s3.endpoint}", region: us-east-1, forcePathStyle: true }`,
        'executor:',
        '  kind: kubernetes',
        '  namespace: s3ns',
        '  parallelism: 3',
        '  secretEnv:',
        '    - { env: AWS_ACCESS_KEY_ID, secret: s3-creds, key: id }',
        '    - { env: AWS_SECRET_ACCESS_KEY, secret: s3-creds, key: secret }',
        'stages:',
        '  - stage: ytcommons',
        `    params: { source: ${join(dir, 'shards')} }`,
        '    chunks: 6',
        '  - stage: worddensity',
        '    params: { threshold: 0.5 }',
        '    chunks: 3',
      ].join('\n'));
      // The launcher has the credentials in its environment; the pods get them from the Secret only.
      const r = await runCli(['run', path, '--run-id', 'k8s-s3'], { ...kubeEnv, AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const pod = fake.podHistory.find((p) => p.metadata.namespace === 's3ns');
      assert.ok(pod && fake.podEnv('s3ns', pod.metadata.name)?.AWS_SECRET_ACCESS_KEY === s3.env.AWS_SECRET_ACCESS_KEY, 'pods got the secret by reference');
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY });
      const remote = openStore('s3://fv-e2e/data', { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
      for (const stage of ['ytcommons', 'worddensity']) {
        const rows: Row[] = [];
        for await (const row of stageRows(remote, 'k8s-s3', stage)) rows.push(row);
        assert.deepEqual(rows, await tableRows(store(), 'local-1', stage), `${stage}: same table as the local run`);
      }
    } finally {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await s3.stop();
    }
  });
});
