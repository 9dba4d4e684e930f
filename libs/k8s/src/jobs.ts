import { createHash } from 'node:crypto';
import { EXIT_NOT_RETRYABLE, MAX_COMPLETIONS_PER_JOB, WORKER_ENV, formatIndexRanges, type KubernetesExecutorConfig, type ResourceClass } from '@finevideo/core';
import type { StageRunRequest } from '@finevideo/runtime';
import { validateJob } from './validate.js';

/** A batch/v1 Job as plain JSON (what kubectl and the API server read). */
export interface Job {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown> & { completions: number; parallelism: number };
}

export { MAX_COMPLETIONS_PER_JOB } from '@finevideo/core';
export const WORKER_CONTAINER = 'worker';

export const LABELS = {
  run: 'finevideo.dev/run',
  stage: 'finevideo.dev/stage',
  attempt: 'finevideo.dev/attempt',
  part: 'finevideo.dev/part',
  /** The lease epoch of the launcher that submitted the Job (a resumed launcher deletes those of older ones). */
  epoch: 'finevideo.dev/epoch',
  queue: 'kueue.x-k8s.io/queue-name',
} as const;

const labelValue = (v: string) => v.slice(0, 63).replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'x';

/** A DNS-label Job name for (run, stage, attempt, part), unique by a hash when the readable part is cut. */
export function jobName(runId: string, stage: string, attempt: number, part: number): string {
  const hash = createHash('sha256').update(`${runId}/${stage}/${attempt}/${part}`).digest('hex').slice(0, 6);
  const suffix = `-a${attempt}${part ? `-p${part}` : ''}-${hash}`;
  const readable = `fv-${stage}-${runId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63 - suffix.length).replace(/-+$/, '');
  return `${readable}${suffix}`;
}

/** A Kubernetes CPU quantity ("2", "1.5", "500m") in cores. */
export function cpuCores(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity);
  if (!m) throw new Error(`cpu: expected a quantity like "2", "1.5" or "500m", got ${JSON.stringify(quantity)}`);
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

function resourcesFor(resources: ResourceClass): Record<string, unknown> {
  const limits: Record<string, string> = { memory: resources.memory, cpu: resources.cpu };
  if (resources.gpu) limits['nvidia.com/gpu'] = String(resources.gpu);
  return { requests: { cpu: resources.cpu, memory: resources.memory }, limits };
}

/** The image reference for a stage: "<registry>/<name>:<tag>" from "finevideo/stage-x". */
export function imageFor(image: string, config: Pick<KubernetesExecutorConfig, 'registry' | 'tag'>): string {
  const name = image.split('/').pop()!;
  return `${config.registry.replace(/\/$/, '')}/${name}:${config.tag}`;
}

export interface BuildOptions {
  /** Chunk indexes to run; Job index i runs the i-th (resume). Default: request.indexes. */
  chunkMap?: number[];
}

/**
 * The Indexed Jobs for one stage attempt: pure function of typed props, validated before
 * it returns. Job index i of part p runs chunk chunks[p * MAX + i]; when those are not
 * simply 0..n-1, FINEVIDEO_CHUNK_MAP tells the worker which chunk an index means.
 */
export function buildStageJobs(request: StageRunRequest, config: KubernetesExecutorConfig, options: BuildOptions = {}): Job[] {
  const chunks = [...(options.chunkMap ?? request.indexes)];
  if (chunks.length === 0) return [];
  const jobs: Job[] = [];
  for (let part = 0, start = 0; start < chunks.length; part++, start += MAX_COMPLETIONS_PER_JOB) {
    const slice = chunks.slice(start, start + MAX_COMPLETIONS_PER_JOB);
    const identity = slice.every((c, i) => c === i) && slice.length === request.chunkCount;
    const epoch = request.env[WORKER_ENV.epoch];
    const labels: Record<string, string> = {
      'app.kubernetes.io/name': 'finevideo',
      'app.kubernetes.io/component': labelValue(`stage-${request.stageType}`),
      'app.kubernetes.io/part-of': 'finevideo',
      'app.kubernetes.io/managed-by': 'finevideo-launcher',
      'app.kubernetes.io/instance': labelValue(request.runId),
      [LABELS.run]: labelValue(request.runId),
      [LABELS.stage]: labelValue(request.stageName),
      [LABELS.attempt]: String(request.attempt),
      [LABELS.part]: String(part),
      ...(epoch ? { [LABELS.epoch]: labelValue(epoch) } : {}),
    };
    const queue = config.queues?.[request.resources.class === 'network' ? 'network' : request.resources.pool] ?? config.queue;
    if (queue) labels[LABELS.queue] = labelValue(queue);
    const env: Record<string, unknown>[] = [
      { name: WORKER_ENV.storage, value: request.storage },
      { name: WORKER_ENV.runId, value: request.runId },
      { name: WORKER_ENV.stage, value: request.stageName },
      { name: WORKER_ENV.attempt, value: String(request.attempt) },
      { name: 'TMPDIR', value: '/tmp' },
      // A container sees the node's cores; DuckDB should use the CPU the pod asked for.
      { name: 'FINEVIDEO_DUCKDB_THREADS', value: String(Math.max(1, Math.ceil(cpuCores(request.resources.cpu)))) },
      ...(identity ? [] : [{ name: WORKER_ENV.chunkMap, value: formatIndexRanges(slice) }]),
      ...Object.entries({ ...config.env, ...request.env }).map(([name, value]) => ({ name, value })),
      ...config.secretEnv.filter((s) => !s.stages || s.stages.includes(request.stageName)).map((s) => ({ name: s.env, valueFrom: { secretKeyRef: { name: s.secret, key: s.key } } })),
    ];
    if (!identity && slice.length > 1 && formatIndexRanges(slice).length > 100_000) {
      throw new Error(`stage ${request.stageName}: expected a chunk map that fits an environment variable, got ${slice.length} scattered chunks; resume in smaller parts`);
    }
    const gpu = request.resources.pool === 'gpu' || (request.resources.gpu ?? 0) > 0;
    const podSpec: Record<string, unknown> = {
      restartPolicy: 'Never',
      serviceAccountName: config.serviceAccount,
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: WORKER_CONTAINER,
        image: imageFor(request.image, config),
        imagePullPolicy: 'IfNotPresent',
        env,
        ...(config.secretEnvFrom.length ? { envFrom: config.secretEnvFrom.map((name) => ({ secretRef: { name } })) } : {}),
        resources: resourcesFor(request.resources),
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
        volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
      }],
      volumes: [{ name: 'scratch', emptyDir: {} }],
      ...(config.imagePullSecrets.length ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) } : {}),
      ...(config.priorityClass ? { priorityClassName: config.priorityClass } : {}),
      nodeSelector: gpu ? config.gpuNodeSelector : config.cpuNodeSelector,
      ...(gpu ? { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] } : {}),
    };
    const spec: Job['spec'] = {
      completionMode: 'Indexed',
      completions: slice.length,
      parallelism: Math.min(config.parallelism, slice.length),
      backoffLimitPerIndex: config.backoffLimitPerIndex,
      ...(config.maxFailedIndexes !== undefined ? { maxFailedIndexes: Math.min(config.maxFailedIndexes, slice.length) } : {}),
      podFailurePolicy: {
        rules: [
          // Evictions, preemption and node drains are not the chunk's fault: they do not count.
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          // The worker says retrying cannot help (bad config): fail the index at once.
          { action: 'FailIndex', onExitCodes: { containerName: WORKER_CONTAINER, operator: 'In', values: [EXIT_NOT_RETRYABLE] } },
        ],
      },
      ttlSecondsAfterFinished: config.ttlSecondsAfterFinished,
      ...(config.activeDeadlineSeconds ? { activeDeadlineSeconds: config.activeDeadlineSeconds } : {}),
      // A Kueue queue admits the Job by unsuspending it: until then it waits, which is normal.
      ...(queue ? { suspend: true } : {}),
      template: { metadata: { labels }, spec: podSpec },
    };
    const job: Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: jobName(request.runId, request.stageName, request.attempt, part), namespace: config.namespace, labels, annotations: { 'finevideo.dev/chunks': identity ? `0-${slice.length - 1}` : formatIndexRanges(slice).slice(0, 1000) } },
      spec,
    };
    validateJob(job);
    jobs.push(job);
  }
  return jobs;
}
