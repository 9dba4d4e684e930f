import { ApiException, BatchV1Api, CoreV1Api, KubeConfig, Watch, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { WORKER_ENV } from '@finevideo/core';
import type { Job } from './jobs.js';
import { LABELS } from './jobs.js';

export type { V1Job, V1Pod };

export interface KubeClientOptions {
  /** Kubeconfig context to use instead of the current one. */
  context?: string;
  /** An already loaded config (tests); default: KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeConfig?: KubeConfig;
}

export interface WatchJobOptions {
  signal?: AbortSignal;
  /**
   * Consecutive failed (re)connects before giving up: errors, and streams the server ends at once
   * (within `healthyStreamMs`, no event). Default 10: about 2.5 minutes of backoff.
   */
  maxFailures?: number;
  /** First pause between reconnects; doubles per failure, jittered, up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A stream that lasted this long, or delivered an event, was healthy (resets the failures). */
  healthyStreamMs?: number;
}

/** Status code of a client-node failure: ApiException.code, or statusCode on Watch errors. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The Job being watched disappeared (deleted by someone, or never existed). */
export class JobGoneError extends Error {}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Loads kubeconfig the standard way (KUBECONFIG, ~/.kube/config, in-cluster service account). */
export function loadKubeConfig(context?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  if (context) {
    if (!kc.getContextObject(context)) throw new Error(`kubeconfig context: expected one of ${kc.getContexts().map((c) => c.name).join(', ') || '(none)'}, got ${JSON.stringify(context)}`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new Error('kubeconfig: expected a current cluster (KUBECONFIG, ~/.kube/config or in-cluster), got none');
  return kc;
}

/**
 * The launcher's only door to the Kubernetes API: create (adopting a Job of the same run
 * and attempt on 409), watch with resourceVersion and reconnects, pods and log tails, delete.
 */
export class KubeClient {
  readonly config: KubeConfig;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(options: KubeClientOptions = {}) {
    this.config = options.kubeConfig ?? loadKubeConfig(options.context);
    this.batch = this.config.makeApiClient(BatchV1Api);
    this.core = this.config.makeApiClient(CoreV1Api);
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /**
   * Creates a Job; if one of that name exists (a launcher restarted mid-submit), adopts it
   * when it belongs to the same run, stage and attempt, and refuses otherwise.
   */
  async createJob(job: Job): Promise<{ job: V1Job; adopted: boolean }> {
    const { namespace, name } = job.metadata;
    try {
      // Strict: a field this API server does not know (backoffLimitPerIndex before 1.29) is a 400 naming it, never silently dropped.
      return { job: await this.batch.createNamespacedJob({ namespace, body: job as unknown as V1Job, fieldValidation: 'Strict' }), adopted: false };
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw err;
    }
    const existing = await this.batch.readNamespacedJob({ namespace, name });
    const mismatched = [LABELS.run, LABELS.stage, LABELS.attempt, LABELS.part].filter((l) => existing.metadata?.labels?.[l] !== job.metadata.labels[l]);
    if (mismatched.length) {
      throw new Error(`job ${namespace}/${name}: expected an existing Job of the same run/stage/attempt to adopt, got one whose labels differ (${mismatched.map((l) => `${l}=${existing.metadata?.labels?.[l] ?? '(none)'}`).join(', ')})`);
    }
    // Same name, other chunks (a re-render after failures, say): its indexes would mean other chunks.
    const chunksOf = (j: V1Job) => `${j.spec?.completions} completions, chunk map "${j.spec?.template?.spec?.containers?.[0]?.env?.find((e) => e.name === WORKER_ENV.chunkMap)?.value ?? ''}"`;
    const wanted = chunksOf(job as unknown as V1Job);
    if (chunksOf(existing) !== wanted) {
      throw new Error(`job ${namespace}/${name}: expected an existing Job running the same chunks to adopt (${wanted}), got one with ${chunksOf(existing)}; delete it, then resume`);
    }
    return { job: existing, adopted: true };
  }

  async listJobs(namespace: string, labelSelector: string): Promise<V1Job[]> {
    return (await this.batch.listNamespacedJob({ namespace, labelSelector })).items;
  }

  async readJob(namespace: string, name: string): Promise<V1Job> {
    return this.batch.readNamespacedJob({ namespace, name });
  }

  /**
   * Follows one Job until `onUpdate` returns true, the Job is deleted (throws) or the signal
   * aborts (returns the last seen state). Lists first to get the object and a resourceVersion,
   * then watches from there; a dropped stream resumes from the last resourceVersion seen, a 410
   * Gone (expired resourceVersion) lists again. Every list result is delivered too, so nothing
   * that happened while disconnected is missed. Reconnects back off (also when the server ends
   * streams at once) and give up after `maxFailures` with an error naming the Job.
   */
  async watchJob(namespace: string, name: string, onUpdate: (job: V1Job) => boolean | void, options: WatchJobOptions = {}): Promise<V1Job | undefined> {
    const { signal, maxFailures = 10, retryDelayMs = 500, maxRetryDelayMs = 30_000, healthyStreamMs = 5_000 } = options;
    const fieldSelector = `metadata.name=${name}`;
    let last: V1Job | undefined;
    let resourceVersion: string | undefined;
    let failures = 0;
    let failingSince = 0;
    while (!signal?.aborted) {
      // What went wrong with this connect, if anything: decided inside, acted on (backoff, give up) outside the try.
      let problem: string | undefined;
      let cause: unknown;
      try {
        if (!resourceVersion) {
          const list = await this.batch.listNamespacedJob({ namespace, fieldSelector });
          const job = list.items[0];
          if (!job) throw new JobGoneError(`job ${namespace}/${name}: expected it to exist while watching, got none (deleted?)`);
          last = job;
          resourceVersion = list.metadata?.resourceVersion ?? job.metadata?.resourceVersion;
          if (onUpdate(job)) return job;
        }
        if (signal?.aborted) break;
        const openedAt = Date.now();
        let events = 0;
        const outcome = await this.watchOnce(namespace, fieldSelector, resourceVersion!, signal, (job) => {
          events++;
          last = job;
          resourceVersion = job.metadata?.resourceVersion ?? resourceVersion;
          failures = 0;
          return onUpdate(job) === true;
        });
        if (outcome === 'done') return last;
        // Deleted after a cancel is what the canceller asked for.
        if (outcome === 'deleted' && signal?.aborted) return last;
        if (outcome === 'deleted') throw new JobGoneError(`job ${namespace}/${name}: expected it to run to the end, got it deleted`);
        if (outcome === 'gone') resourceVersion = undefined; // list again for a fresh resourceVersion
        // 'closed': the stream ended (server timeout, dropped connection): resume from resourceVersion.
        // A server that ends every stream at once must not make this a hot loop: count it as a failure.
        if (signal?.aborted) break;
        if (events === 0 && Date.now() - openedAt < healthyStreamMs) {
          problem = outcome === 'gone' ? 'every watch answered 410 Gone at once' : 'the API server closed the watch stream at once, with no event';
        } else {
          failures = 0;
        }
      } catch (err) {
        if (err instanceof JobGoneError) throw err;
        const status = statusCodeOf(err);
        if (status === 410) resourceVersion = undefined;
        problem = `${(err as Error).message ?? String(err)}${status ? ` (HTTP ${status})` : ''}`;
        cause = err;
      }
      if (problem === undefined) continue;
      if (failures === 0) failingSince = Date.now();
      if (++failures > maxFailures) {
        throw new Error(`job ${namespace}/${name}: gave up watching after ${failures} failed connects in ${Math.round((Date.now() - failingSince) / 1000)} s ` +
          `(last: ${problem}); the Job may still be running: check "kubectl -n ${namespace} get job ${name}", then resume`, { cause });
      }
      // Exponential backoff, half of it jittered, capped (default 30 s).
      const full = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (failures - 1));
      await sleep(full / 2 + Math.random() * (full / 2), signal);
    }
    return last;
  }

  private async watchOnce(namespace: string, fieldSelector: string, resourceVersion: string, signal: AbortSignal | undefined, onJob: (job: V1Job) => boolean): Promise<'done' | 'deleted' | 'gone' | 'closed'> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        controller?.abort();
        fn();
      };
      const onAbort = () => finish(() => resolve('closed'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      new Watch(this.config)
        .watch(
          `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`,
          { fieldSelector, resourceVersion, allowWatchBookmarks: true },
          (type: string, object: unknown) => {
            if (settled) return;
            if (type === 'ERROR') {
              const code = (object as { code?: number }).code;
              finish(() => (code === 410 ? resolve('gone') : reject(Object.assign(new Error(`watch: ${(object as { message?: string }).message ?? 'error event'}`), { statusCode: code }))));
            } else if (type === 'BOOKMARK') {
              // Only a newer resourceVersion to resume from.
            } else if (type === 'DELETED') finish(() => resolve('deleted'));
            else if (onJob(object as V1Job)) finish(() => resolve('done'));
          },
          (err: unknown) => finish(() => (err ? reject(err) : resolve('closed'))),
        )
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        }, (err: unknown) => finish(() => reject(err)));
    });
  }

  /** The pods of a Job (label job-name=<name>, set by the job controller). */
  async listPods(namespace: string, jobName: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector: `job-name=${jobName}` })).items;
  }

  /** A pod's log, its last `tailLines` and/or first `limitBytes` ('' when it cannot be read: the pod may be gone). */
  async readPodLog(namespace: string, pod: string, options: { tailLines?: number; limitBytes?: number; container?: string } = {}): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({ namespace, name: pod, ...options });
    } catch (err) {
      if (statusCodeOf(err) === 404) return '';
      throw err;
    }
  }

  /** Deletes a Job and (in the background) its pods. A Job already gone is fine. */
  async deleteJob(namespace: string, name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ namespace, name, propagationPolicy: 'Background' });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
    }
  }
}
