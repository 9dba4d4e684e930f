import assert from 'node:assert/strict';
import { kubernetesExecutorSchema } from '@finevideo/core';
import type { StageRunRequest } from '@finevideo/runtime';
import { MAX_COMPLETIONS_PER_JOB, buildStageJobs, cpuCores, jobName, jobProblems } from '@finevideo/k8s';

const config = kubernetesExecutorSchema.parse({ kind: 'kubernetes', parallelism: 4, secretEnv: [{ env: 'OPENAI_API_KEY', secret: 'llm', key: 'api-key' }], queue: 'gpu-queue' });
const request = (over: Partial<StageRunRequest> = {}): StageRunRequest => ({
  runId: 'demo-20261124-101010', storage: 's3://bucket/fv', stageName: 'dynamism', stageType: 'dynamism', image: 'finevideo/stage-dynamism',
  resources: { pool: 'cpu', cpu: '2', memory: '2Gi' }, chunkCount: 10, indexes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], attempt: 1, env: { AWS_REGION: 'eu-west-1' }, ...over,
});

describe('Indexed Job builder', () => {
  it('builds a valid, locked-down Indexed Job with the worker contract', () => {
    const [job, ...rest] = buildStageJobs(request(), config);
    assert.equal(rest.length, 0);
    assert.deepEqual(jobProblems(job!), []);
    const spec = job!.spec as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(spec.completionMode, 'Indexed');
    assert.equal(spec.completions, 10);
    assert.equal(spec.parallelism, 4);
    assert.equal(spec.backoffLimitPerIndex, 3);
    assert.equal(spec.suspend, true, 'a Kueue queue admits the Job');
    assert.deepEqual(spec.podFailurePolicy.rules[1].onExitCodes, { containerName: 'worker', operator: 'In', values: [42] });
    const pod = spec.template.spec;
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    const c = pod.containers[0];
    assert.equal(c.image, 'ghcr.io/finevideo/stage-dynamism:latest');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    const env = Object.fromEntries(c.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.FINEVIDEO_STORAGE, 's3://bucket/fv');
    assert.equal(env.FINEVIDEO_STAGE, 'dynamism');
    assert.equal(env.FINEVIDEO_CHUNK_MAP, undefined, 'all chunks: index i is chunk i');
    assert.equal(env.FINEVIDEO_DUCKDB_THREADS, String(Math.ceil(cpuCores(c.resources.requests.cpu))), 'DuckDB uses the CPU the pod asked for');
    assert.deepEqual(env.OPENAI_API_KEY, { secretKeyRef: { name: 'llm', key: 'api-key' } }, 'secrets by reference only');
    assert.equal(job!.metadata.labels['finevideo.dev/run'], 'demo-20261124-101010');
    assert.equal(job!.metadata.labels['kueue.x-k8s.io/queue-name'], 'gpu-queue');
  });

  it('gives a secret limited to some stages to those stages only', () => {
    const scoped = kubernetesExecutorSchema.parse({ kind: 'kubernetes', secretEnv: [{ env: 'FINEVIDEO_LLM_API_KEY', secret: 'llm', key: 'api-key', stages: ['classify'] }, { env: 'AWS_SECRET_ACCESS_KEY', secret: 's3', key: 'secret' }] });
    const envNames = (stageName: string) => {
      const [job] = buildStageJobs(request({ stageName }), scoped);
      return (job!.spec.template as { spec: { containers: { env: { name: string }[] }[] } }).spec.containers[0]!.env.map((e) => e.name);
    };
    assert.ok(envNames('classify').includes('FINEVIDEO_LLM_API_KEY'));
    assert.ok(!envNames('dynamism').includes('FINEVIDEO_LLM_API_KEY'), 'the LLM key stays out of other stages');
    assert.ok(envNames('dynamism').includes('AWS_SECRET_ACCESS_KEY'), 'an unscoped secret goes to every stage');
    assert.throws(() => kubernetesExecutorSchema.parse({ kind: 'kubernetes', secretEnv: [{ env: 'K', secret: 's', key: 'k', stages: [] }] }));
  });

  it('maps a resumed Job index onto the missing chunks', () => {
    const [job] = buildStageJobs(request({ indexes: [3, 7, 8, 9], attempt: 2 }), config);
    const env = (job!.spec.template as { spec: { containers: { env: { name: string; value?: string }[] }[] } }).spec.containers[0]!.env;
    assert.equal(job!.spec.completions, 4);
    assert.equal(env.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value, '3,7-9');
    assert.notEqual(job!.metadata.name, buildStageJobs(request(), config)[0]!.metadata.name, 'each attempt has its own Job');
  });

  it('puts GPU stages on the GPU pool', () => {
    const [job] = buildStageJobs(request({ resources: { pool: 'gpu', cpu: '4', memory: '16Gi', gpu: 1 } }), config);
    const pod = (job!.spec.template as { spec: Record<string, any> }).spec; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(pod.containers[0].resources.limits['nvidia.com/gpu'], '1');
    assert.deepEqual(pod.nodeSelector, { 'finevideo.dev/pool': 'gpu' });
    assert.equal(pod.tolerations[0].key, 'nvidia.com/gpu');
  });

  it('splits a stage larger than one Job allows', () => {
    const n = MAX_COMPLETIONS_PER_JOB * 2 + 5;
    const jobs = buildStageJobs(request({ chunkCount: n, indexes: Array.from({ length: n }, (_, i) => i) }), config);
    assert.deepEqual(jobs.map((j) => j.spec.completions), [MAX_COMPLETIONS_PER_JOB, MAX_COMPLETIONS_PER_JOB, 5]);
    assert.equal(new Set(jobs.map((j) => j.metadata.name)).size, 3);
    const env = (jobs[2]!.spec.template as { spec: { containers: { env: { name: string; value?: string }[] }[] } }).spec.containers[0]!.env;
    assert.equal(env.find((e) => e.name === 'FINEVIDEO_CHUNK_MAP')?.value, `${2 * MAX_COMPLETIONS_PER_JOB}-${n - 1}`);
  });

  it('rejects unknown fields, schema errors and the API limits before anything is sent', () => {
    const [job] = buildStageJobs(request(), config);
    const typo = structuredClone(job!) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    typo.spec.template.spec.containers[0].imagePullPolcy = 'Always';
    assert.match(jobProblems(typo).join('\n'), /containers\[0\]\.imagePullPolcy: expected a field of V1Container, got unknown field/);
    const bad = structuredClone(job!) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    bad.spec.completions = 'ten';
    assert.match(jobProblems(bad).join('\n'), /schema: .*completions must be integer/);
    const huge = { ...job!, spec: { ...job!.spec, completions: 200_000, parallelism: 20_000 } };
    const problems = jobProblems(huge).join('\n');
    assert.match(problems, /maxFailedIndexes: expected a value when completions exceed 100000/);
    assert.match(problems, /parallelism: expected at most 10000/);
  });

  it('reads CPU quantities in cores and rejects what is not one', () => {
    assert.equal(cpuCores('2'), 2);
    assert.equal(cpuCores('1.5'), 1.5);
    assert.equal(cpuCores('500m'), 0.5);
    assert.throws(() => cpuCores('two'), /cpu: expected a quantity like "2", "1.5" or "500m", got "two"/);
  });

  it('names Jobs as DNS labels of at most 63 characters', () => {
    const name = jobName('a-very-long-run-id-that-goes-on-and-on-and-on-and-on-forever', 'worddensity', 12, 3);
    assert.ok(name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name), name);
  });
});
