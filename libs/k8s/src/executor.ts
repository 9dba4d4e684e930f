import { parseIndexRanges, runLayout, type KubernetesExecutorConfig, type Logger, type ObjectStore } from '@finevideo/core';
import type { Executor, StageRunRequest, StageRunResult } from '@finevideo/runtime';
import { KubeClient, type V1Job, type V1Pod } from './client.js';
import { LABELS, MAX_COMPLETIONS_PER_JOB, WORKER_CONTAINER, buildStageJobs, type Job } from './jobs.js';

const LOG_TAIL_LINES = 20;
/** A chunk log kept in the run folder is cut at this size per pod (the cluster's logging has the rest). */
const CHUNK_LOG_LIMIT_BYTES = 4 * 1024 * 1024;
const LOG_COPY_CONCURRENCY = 8;
const INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
/** How long a resumed launcher waits for the pods of an earlier launcher's deleted Jobs to stop (their grace period). */
const STALE_POD_WAIT_MS = 120_000;

/** One submitted Job and what its status said last. */
interface Tracked {
  job: Job;
  /** Chunk of each Job index: index i runs chunks[i]. */
  chunks: number[];
  completed: Set<number>;
  /** The largest completed Job index so far (kept as indexes arrive, not rescanned per event). */
  lastCompleted: number;
  failed: Set<number>;
  active: number;
  suspended: boolean;
  finished?: { type: 'Complete' | 'Failed'; reason: string; message: string };
}

const condition = (job: V1Job, type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/**
 * Runs a stage as Indexed Jobs of its image: one Job per 100,000 chunks, index i of a resumed
 * attempt running the i-th pending chunk (FINEVIDEO_CHUNK_MAP). Progress comes from the Jobs'
 * completedIndexes/failedIndexes; failures carry the tail of the failed pods' logs; an abort
 * deletes the Jobs (background propagation). A Job held suspended (Kueue) simply waits.
 */
export class KubernetesExecutor implements Executor {
  readonly kind = 'kubernetes';
  private clientInstance?: KubeClient;
  private supersededChecked = false;

  constructor(private readonly config: KubernetesExecutorConfig, private readonly log: Logger, client?: KubeClient, private readonly store?: ObjectStore) {
    this.clientInstance = client;
  }

  /** Loaded on first use, so a missing kubeconfig fails the run, not the construction. */
  private get client(): KubeClient {
    return (this.clientInstance ??= new KubeClient(this.config.context ? { context: this.config.context } : {}));
  }

  async runStage(request: StageRunRequest): Promise<StageRunResult> {
    const chunkMap = [...request.indexes].sort((a, b) => a - b);
    const jobs = buildStageJobs({ ...request, indexes: chunkMap }, this.config, { chunkMap });
    const tracked: Tracked[] = jobs.map((job) => {
      const part = Number(job.metadata.labels[LABELS.part] ?? 0);
      return { job, chunks: chunkMap.slice(part * MAX_COMPLETIONS_PER_JOB, (part + 1) * MAX_COMPLETIONS_PER_JOB), completed: new Set(), lastCompleted: -1, failed: new Set(), active: 0, suspended: false };
    });
    const signal = request.signal;
    let lastSucceeded: number | undefined;
    const report = (message?: string) =>
      request.onProgress?.({
        total: chunkMap.length,
        succeeded: tracked.reduce((n, t) => n + t.completed.size, 0),
        failed: tracked.reduce((n, t) => n + t.failed.size, 0),
        running: tracked.reduce((n, t) => n + t.active, 0),
        ...(lastSucceeded !== undefined ? { lastSucceeded } : {}),
        ...(message ? { message } : {}),
      });

    await this.deleteJobsOfEarlierLaunchers(jobs[0]!, request);
    await this.refuseWhileEarlierAttemptsLive(jobs[0]!, request);
    for (const t of tracked) {
      if (signal?.aborted) break;
      const { adopted } = await this.client.createJob(t.job);
      this.log.info(`${adopted ? 'adopted existing' : 'created'} job ${t.job.metadata.namespace}/${t.job.metadata.name} (${t.chunks.length} chunks, ${request.stageName} attempt ${request.attempt})`);
    }
    const onAbort = () => void this.deleteAll(tracked);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!signal?.aborted) {
        await Promise.all(tracked.map((t) =>
          this.client.watchJob(t.job.metadata.namespace, t.job.metadata.name, (job) => {
            const before = t.completed.size;
            this.absorb(t, job);
            if (t.completed.size > before) lastSucceeded = t.chunks[t.lastCompleted];
            report(t.suspended ? `job ${t.job.metadata.name} suspended: waiting for admission` : undefined);
            return t.finished !== undefined;
          }, signal ? { signal } : {})));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) await this.deleteAll(tracked);
    else if (this.store) await this.copyChunkLogs(request, tracked, this.store);
    return this.result(tracked, signal?.aborted ?? false);
  }

  /**
   * A launcher that takes a run over (a resume after a crash or kill -9) deletes the live Jobs that
   * earlier launchers of the run submitted (another epoch label), of every stage, and waits until
   * their pods are gone, so no index runs twice at once. Their workers are fenced anyway: their
   * epoch is no longer the lease's, so nothing they would still write lands. Once per executor.
   */
  private async deleteJobsOfEarlierLaunchers(first: Job, request: StageRunRequest): Promise<void> {
    const epoch = first.metadata.labels[LABELS.epoch];
    if (epoch === undefined || this.supersededChecked) return;
    this.supersededChecked = true;
    const { namespace } = first.metadata;
    const stale = (await this.client.listJobs(namespace, `${LABELS.run}=${first.metadata.labels[LABELS.run]},${LABELS.epoch}`)).filter((job) =>
      job.metadata?.labels?.[LABELS.epoch] !== epoch && !job.metadata?.deletionTimestamp && !condition(job, 'Complete') && !condition(job, 'Failed'));
    for (const job of stale) {
      const name = job.metadata!.name!;
      this.log.warn(`run ${request.runId}: deleting job ${namespace}/${name} of an earlier launcher (epoch ${job.metadata?.labels?.[LABELS.epoch]}; this one is epoch ${epoch})`);
      await this.client.deleteJob(namespace, name);
    }
    for (const job of stale) {
      const name = job.metadata!.name!;
      for (const start = Date.now(); ; ) {
        const left = (await this.client.listPods(namespace, name)).filter((pod) => pod.status?.phase === 'Running' || pod.status?.phase === 'Pending');
        if (!left.length) break;
        if (Date.now() - start > STALE_POD_WAIT_MS) {
          throw new Error(`run ${request.runId}: expected the pods of job ${namespace}/${name} (an earlier launcher's) gone after its deletion, got ${left.length} still running after ${STALE_POD_WAIT_MS / 1000} s; check them with kubectl -n ${namespace} get pods -l job-name=${name}, then resume`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /**
   * A Job of an earlier attempt that is still live (running, or suspended in a queue) would run
   * the same chunks as the new attempt: the output stays whole, but the work is done twice.
   */
  private async refuseWhileEarlierAttemptsLive(first: Job, request: StageRunRequest): Promise<void> {
    const { namespace, labels } = first.metadata;
    const selector = `${LABELS.run}=${labels[LABELS.run]},${LABELS.stage}=${labels[LABELS.stage]}`;
    const live = (await this.client.listJobs(namespace, selector)).filter((job) =>
      job.metadata?.labels?.[LABELS.attempt] !== labels[LABELS.attempt] &&
      (request.concurrentSince === undefined || Number(job.metadata?.labels?.[LABELS.attempt]) < request.concurrentSince) && !job.metadata?.deletionTimestamp && !condition(job, 'Complete') && !condition(job, 'Failed'));
    if (!live.length) return;
    const names = live.map((job) => `${job.metadata?.name} (attempt ${job.metadata?.labels?.[LABELS.attempt]}, ${job.spec?.suspend ? 'suspended' : `${job.status?.active ?? 0} pods active`})`);
    throw new Error(
      `stage ${request.stageName}, attempt ${request.attempt}: expected no live Job of an earlier attempt, got ${names.join(', ')}; ` +
      `wait for it (kubectl -n ${namespace} wait --for=condition=complete job/${live[0]!.metadata?.name}) or delete it (kubectl -n ${namespace} delete job ${live[0]!.metadata?.name}), then resume`,
    );
  }

  /** Reads a Job's status into its tracker. */
  private absorb(t: Tracked, job: V1Job): void {
    const within = (i: number) => i < t.chunks.length;
    for (const i of parseIndexRanges(job.status?.completedIndexes)) {
      if (!within(i) || t.completed.has(i)) continue;
      t.completed.add(i);
      if (i > t.lastCompleted) t.lastCompleted = i;
    }
    for (const i of parseIndexRanges(job.status?.failedIndexes)) if (within(i)) t.failed.add(i);
    t.active = job.status?.active ?? 0;
    t.suspended = job.spec?.suspend === true;
    for (const type of ['Complete', 'Failed'] as const) {
      const c = condition(job, type);
      if (c) t.finished = { type, reason: c.reason ?? type, message: c.message ?? '' };
    }
  }

  private async result(tracked: Tracked[], cancelled: boolean): Promise<StageRunResult> {
    const result: StageRunResult = { succeeded: [], failed: [] };
    for (const t of tracked) {
      for (const i of t.completed) result.succeeded.push(t.chunks[i]!);
      const unfinished = t.chunks.flatMap((chunk, i) => (t.completed.has(i) ? [] : [i]));
      if (!unfinished.length) continue;
      const tails = cancelled ? new Map<number, { tail?: string; ended?: string }>() : await this.failedLogTails(t, unfinished);
      for (const i of unfinished) {
        const reason = cancelled ? 'cancelled'
          : t.failed.has(i) ? `index ${i} of job ${t.job.metadata.name} failed${tails.get(i)?.ended ? ` (last pod: ${tails.get(i)!.ended})` : ''}`
          : `job ${t.job.metadata.name} ${t.finished?.type === 'Failed' ? `failed (${t.finished.reason}: ${t.finished.message})` : 'ended'} before index ${i} completed`;
        const logTail = tails.get(i)?.tail;
        result.failed.push({ index: t.chunks[i]!, reason, ...(logTail !== undefined ? { logTail } : {}) });
      }
    }
    result.succeeded.sort((a, b) => a - b);
    result.failed.sort((a, b) => a.index - b.index);
    return result;
  }

  /** The Job's pods by completion index, oldest first; undefined (with a warning) when they cannot be listed. */
  private async podsByIndex(t: Tracked, purpose: string): Promise<Map<number, V1Pod[]> | undefined> {
    const { namespace, name } = t.job.metadata;
    let pods: V1Pod[];
    try {
      pods = await this.client.listPods(namespace, name);
    } catch (err) {
      this.log.warn(`job ${namespace}/${name}: could not list pods for ${purpose}`, { error: String(err) });
      return undefined;
    }
    const created = (pod: V1Pod) => String(pod.metadata?.creationTimestamp ?? '');
    const byIndex = new Map<number, V1Pod[]>();
    for (const pod of [...pods].sort((a, b) => created(a).localeCompare(created(b)))) {
      const index = Number(pod.metadata?.labels?.[INDEX_LABEL] ?? pod.metadata?.annotations?.[INDEX_LABEL]);
      if (!Number.isInteger(index) || index < 0 || index >= t.chunks.length) continue;
      byIndex.set(index, [...(byIndex.get(index) ?? []), pod]);
    }
    return byIndex;
  }

  /**
   * The log tail of the last failed pod of each unfinished index, and how its container ended
   * ("OOMKilled, exit code 137": an out-of-memory kill leaves no log line of its own). Best effort: pods may be gone.
   */
  private async failedLogTails(t: Tracked, indexes: number[]): Promise<Map<number, { tail?: string; ended?: string }>> {
    const tails = new Map<number, { tail?: string; ended?: string }>();
    const byIndex = await this.podsByIndex(t, 'failure logs');
    if (!byIndex) return tails;
    const { namespace } = t.job.metadata;
    await Promise.all(indexes.map(async (index) => {
      const pod = byIndex.get(index)?.filter((p) => p.status?.phase === 'Failed').at(-1);
      if (!pod) return;
      const terminated = pod.status?.containerStatuses?.find((c) => c.name === WORKER_CONTAINER)?.state?.terminated;
      const ended = terminated ? `${terminated.reason ?? 'terminated'}, exit code ${terminated.exitCode}` : undefined;
      tails.set(index, { ended });
      try {
        tails.set(index, { ended, tail: await this.client.readPodLog(namespace, pod.metadata!.name!, { tailLines: LOG_TAIL_LINES, container: WORKER_CONTAINER }) });
      } catch (err) {
        this.log.warn(`pod ${namespace}/${pod.metadata?.name}: could not read its log`, { error: String(err) });
      }
    }));
    return tails;
  }

  /**
   * Keeps each chunk's log in the run folder, as the local executor does: every pod of the index
   * (retries included), oldest first. Best effort: a pod already gone only costs its log.
   */
  private async copyChunkLogs(request: StageRunRequest, tracked: Tracked[], store: ObjectStore): Promise<void> {
    const layout = runLayout(request.runId).stage(request.stageName);
    for (const t of tracked) {
      const { namespace, name } = t.job.metadata;
      const byIndex = await this.podsByIndex(t, 'their logs');
      if (!byIndex) continue;
      const queue = [...byIndex];
      const copyNext = async (): Promise<void> => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [index, indexPods] = next;
          try {
            const parts: string[] = [];
            for (const pod of indexPods) {
              const text = await this.client.readPodLog(namespace, pod.metadata!.name!, { limitBytes: CHUNK_LOG_LIMIT_BYTES, container: WORKER_CONTAINER });
              parts.push(`--- pod ${pod.metadata?.name} (${pod.status?.phase ?? 'unknown'}) job ${name} index ${index}\n${text}${text.endsWith('\n') || !text ? '' : '\n'}`);
            }
            await store.put(layout.logs(t.chunks[index]!), parts.join(''), { contentType: 'text/plain' });
          } catch (err) {
            this.log.warn(`job ${namespace}/${name} index ${index}: could not keep its log`, { error: String(err) });
          }
        }
      };
      await Promise.all(Array.from({ length: LOG_COPY_CONCURRENCY }, copyNext));
    }
  }

  private async deleteAll(tracked: Tracked[]): Promise<void> {
    await Promise.all(tracked.map(async (t) => {
      try {
        await this.client.deleteJob(t.job.metadata.namespace, t.job.metadata.name);
        this.log.info(`deleted job ${t.job.metadata.namespace}/${t.job.metadata.name} (cancelled)`);
      } catch (err) {
        this.log.warn(`job ${t.job.metadata.namespace}/${t.job.metadata.name}: could not delete it`, { error: String(err) });
      }
    }));
  }
}

/** `store`, when given, receives each chunk's pod logs under the run folder (runs/<id>/<stage>/logs/). */
export function createKubernetesExecutor(config: KubernetesExecutorConfig, log: Logger, client?: KubeClient, store?: ObjectStore): KubernetesExecutor {
  return new KubernetesExecutor(config, log, client, store);
}
