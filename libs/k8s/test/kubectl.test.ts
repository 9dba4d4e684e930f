import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kubernetesExecutorSchema } from '@finevideo/core';
import { localWorkerForImage } from '@finevideo/runtime';
import { generateYtCommonsShards, startFakeKubernetes, type FakeKubernetes } from '@finevideo/testing';
import { runCli } from './cli.js';
import { buildStageJobs, toYaml } from '../src/index.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const run = promisify(execFile);

describe('kubectl against the fake API server', function () {
  this.timeout(240_000);
  let fake: FakeKubernetes;
  let home: string;
  let kubectlRun: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  let kubectl: (...args: string[]) => Promise<string>;

  before(function () {
    if (!hasKubectl) {
      console.log('    (kubectl is not on PATH: kubectl smoke tests skipped)');
      this.skip();
    }
  });
  beforeEach(async () => {
    fake = await startFakeKubernetes({ podCommand: localWorkerForImage });
    home = await mkdtemp(join(tmpdir(), 'fv-kubectl-home-')); // fresh HOME: no cached discovery, no ~/.kube
    const config = await fake.kubeconfigPath(home);
    kubectlRun = (...args) => run('kubectl', ['--kubeconfig', config, ...args], { env: { PATH: process.env.PATH ?? '', HOME: home }, timeout: 30_000 });
    kubectl = async (...args) => (await kubectlRun(...args)).stdout;
  });
  afterEach(async () => {
    await fake?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('get, apply -f (the launcher\'s own Job), get -l, logs', async () => {
    assert.match(await kubectl('get', 'jobs', '-n', 'finevideo'), /^$/);
    const config = kubernetesExecutorSchema.parse({ kind: 'kubernetes', parallelism: 2 });
    const jobs = buildStageJobs({
      runId: 'smoke', storage: '/tmp/x', stageName: 'worddensity', stageType: 'worddensity', image: 'finevideo/stage-worddensity',
      resources: { cpu: '1', memory: '1Gi', pool: 'cpu' }, chunkCount: 2, indexes: [0, 1], attempt: 1, env: {},
    } as Parameters<typeof buildStageJobs>[0], config);
    const file = join(home, 'jobs.yaml');
    await writeFile(file, toYaml(jobs));
    fake.faults.exitCode({ index: 0, code: 0 });
    fake.faults.exitCode({ index: 1, code: 0 });
    // Validation on (kubectl's default): kubectl reads the fake's OpenAPI v3 and lets the server check fields.
    assert.match(await kubectl('apply', '-f', file), /job.batch\/fv-worddensity-smoke\S* created/);
    const name = jobs[0]!.metadata.name;
    assert.match(await kubectl('wait', '--for=condition=complete', '--timeout=30s', '-n', 'finevideo', `job/${name}`), new RegExp(`job.batch/${name} condition met`));
    assert.match(await kubectl('apply', '-f', file), new RegExp(`job.batch/${name} unchanged`));
    assert.match(await kubectl('get', 'jobs', '-n', 'finevideo', '-l', 'finevideo.dev/run=smoke', '-o', 'name'), new RegExp(`job.batch/${name}`));
    const pods = (await kubectl('get', 'pods', '-n', 'finevideo', '-l', `job-name=${name}`, '-o', 'name')).trim().split('\n');
    assert.equal(pods.length, 2);
    assert.match(await kubectl('logs', '-n', 'finevideo', pods[0]!), /fault injected: exit 0/);
    assert.equal(fake.jobs('finevideo')[0]!.status.completedIndexes, '0-1');
  });

  it('the README\'s kubectl flow: plan, render | apply, wait, a failed chunk rendered again under a new Job, status', async () => {
    await generateYtCommonsShards(join(home, 'shards'), { shards: 3, rowsPerShard: 20, seed: 3, averageTextBytes: 500, corruptShard: false });
    const pipeline = join(home, 'pipeline.yaml');
    await writeFile(pipeline, [
      'name: flow', `storage: ${join(home, 'store')}`, 'executor: { kind: kubernetes, parallelism: 2, backoffLimitPerIndex: 0 }', 'stages:',
      '  - stage: ytcommons', `    params: { source: ${join(home, 'shards')} }`, '    chunks: 3',
      '  - stage: worddensity', '    chunks: 2',
    ].join('\n'));
    const env = { KUBECONFIG: await fake.kubeconfigPath(home) };
    const runDir = join(home, 'store', 'runs', 'kf');
    const ok = async (what: string, args: string[]) => {
      const r = await runCli(args, env);
      assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const applyRendered = async (name: string) => {
      const file = join(home, `${name}.yaml`);
      await writeFile(file, await ok(`render ${name}`, ['render', runDir]));
      const jobName = /^\s+name: (fv-\S+)$/m.exec(await readFile(file, 'utf8'))?.[1];
      assert.ok(jobName, 'render prints a Job');
      return { file, jobName, applied: await kubectl('apply', '-f', file) };
    };
    // Chunk 1 of ytcommons fails for good in the first Job.
    fake.faults.exitCode({ job: (j) => j.metadata.labels?.['finevideo.dev/attempt'] === '1' && j.metadata.labels?.['finevideo.dev/stage'] === 'ytcommons', index: 1, code: 42 });
    await ok('plan', ['plan', pipeline, '--run-id', 'kf']);
    const before = await ok('render', ['render', runDir]);
    const first = await applyRendered('first');
    assert.equal(await readFile(first.file, 'utf8'), before, 'the same pending chunks render the same Jobs (re-apply: unchanged)');
    assert.match(first.applied, /created/);
    assert.match(await kubectl('wait', '--for=condition=failed', '--timeout=60s', '-n', 'finevideo', `job/${first.jobName}`), /condition met/);
    // Chunk 1 is still missing: it renders under a new Job name, never as a change to the finished Job.
    const second = await applyRendered('second');
    assert.notEqual(second.jobName, first.jobName);
    assert.match(second.applied, /created/);
    const secondJob = fake.jobs('finevideo').find((j) => j.metadata.name === second.jobName)!;
    assert.equal(secondJob.spec.completions, 1);
    assert.equal(secondJob.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value, '1');
    assert.match(await kubectl('wait', '--for=condition=complete', '--timeout=60s', '-n', 'finevideo', `job/${second.jobName}`), /condition met/);
    // plan again seals ytcommons and plans worddensity; then its Jobs.
    await ok('plan again', ['plan', pipeline, '--run-id', 'kf']);
    const third = await applyRendered('third');
    assert.match(await kubectl('wait', '--for=condition=complete', '--timeout=60s', '-n', 'finevideo', `job/${third.jobName}`), /condition met/);
    await ok('plan to seal', ['plan', pipeline, '--run-id', 'kf']);
    const { complete, stages: status } = JSON.parse(await ok('status', ['status', runDir, '--json'])) as { complete: boolean; stages: { stage: string; chunks: number; done: number; failed: number; sealed: boolean; stats: { kept: number; dropped: number; errors: number } }[] };
    assert.equal(complete, true);
    assert.deepEqual(status.map((s) => [s.stage, s.done, s.chunks, s.failed, s.sealed]), [['ytcommons', 3, 3, 0, true], ['worddensity', 2, 2, 0, true]]);
    assert.equal(status[0]!.stats.kept + status[0]!.stats.dropped, 60, 'every generated row accounted for once');
    assert.equal(status[1]!.stats.kept + status[1]!.stats.dropped, status[0]!.stats.kept);
  });

  it('apply rejects a misspelt field (server-side strict validation), and only warns with --validate=warn', async () => {
    const config = kubernetesExecutorSchema.parse({ kind: 'kubernetes' });
    const [job] = buildStageJobs({
      runId: 'typo', storage: '/tmp/x', stageName: 'worddensity', stageType: 'worddensity', image: 'finevideo/stage-worddensity',
      resources: { cpu: '1', memory: '1Gi', pool: 'cpu' }, chunkCount: 1, indexes: [0], attempt: 1, env: {},
    } as Parameters<typeof buildStageJobs>[0], config);
    const typo = { ...job!, spec: { ...job!.spec, paralelism: 3 } };
    const file = join(home, 'typo.json');
    await writeFile(file, JSON.stringify(typo));
    await assert.rejects(kubectl('apply', '-f', file), (e: { stderr: string }) => /strict decoding error: unknown field "spec\.paralelism"/.test(e.stderr));
    assert.equal(fake.jobs('finevideo').length, 0);
    fake.faults.exitCode({ index: 0, code: 0 });
    const warned = await kubectlRun('apply', '--validate=warn', '-f', file);
    assert.match(warned.stderr, /Warning: unknown field "spec\.paralelism"/);
    assert.equal(fake.jobs('finevideo').length, 1);
  });
});
