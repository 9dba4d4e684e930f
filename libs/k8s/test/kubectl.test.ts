import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kubernetesExecutorSchema } from '@finevideo/core';
import { localWorkerForImage } from '@finevideo/runtime';
import { startFakeKubernetes, type FakeKubernetes } from '@finevideo/testing';
import { buildStageJobs, toYaml } from '../src/index.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const run = promisify(execFile);

describe('kubectl against the fake API server', function () {
  this.timeout(60_000);
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
