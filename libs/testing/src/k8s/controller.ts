import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { formatIndexRanges } from '@finevideo/core';
import { clone, now, type FakeJob, type FakePod, type PodFailurePolicyRule } from './objects.js';
import type { ContainerExit, PodmanPodRunner, RunningContainer } from './containers.js';

/** What the controller needs from the API server's object store. */
/** Image -> the local command that stands in for its container (the fake runs pods as processes). */
export type PodCommand = (image: string) => { command: string; args: string[]; cwd?: string };

export interface ControllerHost {
  putJob(job: FakeJob): void;
  putPod(pod: FakePod): void;
  secret(namespace: string, name: string): Record<string, string> | undefined;
  /** Host variables a pod process gets (PATH and the like: a container has its own, a local process needs the host's). */
  hostEnv: Record<string, string>;
  /** The local process that plays a container of this image (the process runner). */
  podCommand?: PodCommand;
  /** The container runner: pods run as containers of their images (podman), their spec mapped. */
  containers?: PodmanPodRunner;
  /** A memory limit that replaces the pod's for this (job, index, attempt), if a test asked for one (as a LimitRange would). */
  forcedMemoryLimit?(job: FakeJob, index: number, attempt: number): string | undefined;
  /** A forced exit code for this (job, index, attempt), if a test asked for one. */
  forcedExit(job: FakeJob, index: number, attempt: number): number | undefined;
  podLog(namespace: string, pod: string, text: string): void;
  podEnv(namespace: string, pod: string, env: NodeJS.ProcessEnv): void;
}

interface IndexState {
  state: 'pending' | 'running' | 'succeeded' | 'failed';
  /** Pods started for this index (the attempt number of the next one is attempts + 1). */
  attempts: number;
  /** Failures that count against backoffLimitPerIndex. */
  failures: number;
}

interface RunningPod {
  pod: FakePod;
  index: number;
  child?: ChildProcess;
  container?: RunningContainer;
  /** Set by killPod({ disruption: true }): the pod gets a DisruptionTarget condition. */
  disrupted?: boolean;
}

const MAX_LOG = 256 * 1024;

/**
 * Plays the Kubernetes job controller for one Indexed Job: each index runs as a local
 * process of the stage worker the image names, with the pod's environment, honouring
 * parallelism, per-index backoff, maxFailedIndexes, the pod failure policy and the
 * activeDeadlineSeconds, and writing status the way the real controller does.
 */
export class JobController {
  private readonly indexes: IndexState[];
  private readonly running = new Map<string, RunningPod>();
  private podsSucceeded = 0;
  private podsFailed = 0;
  private globalFailures = 0;
  private finished = false;
  private deadline?: NodeJS.Timeout;

  constructor(private job: FakeJob, private readonly host: ControllerHost) {
    const completions = job.spec.completions ?? 1;
    this.indexes = Array.from({ length: completions }, () => ({ state: 'pending', attempts: 0, failures: 0 }));
  }

  get name() {
    return this.job.metadata.name;
  }

  runningPods(): FakePod[] {
    return [...this.running.values()].map((r) => r.pod);
  }

  /** Called when the Job is created or changed (unsuspended). */
  update(job: FakeJob): void {
    this.job = job;
    if (this.finished) return;
    if (job.spec.suspend) {
      this.setCondition('Suspended', 'JobSuspended', 'Job suspended');
      this.publish();
      return;
    }
    if (!job.status.startTime) {
      job.status.startTime = now();
      const suspended = job.status.conditions?.find((c) => c.type === 'Suspended');
      if (suspended) Object.assign(suspended, { status: 'False', reason: 'JobResumed', message: 'Job resumed', lastTransitionTime: now() });
      if (job.spec.activeDeadlineSeconds) {
        this.deadline = setTimeout(() => this.fail('DeadlineExceeded', 'Job was active longer than specified deadline'), job.spec.activeDeadlineSeconds * 1000);
        this.deadline.unref();
      }
    }
    this.tick();
  }

  /** Kills a running pod's process; a disruption (eviction, preemption) is what podFailurePolicy may ignore. */
  kill(podName: string, options: { disruption?: boolean } = {}): boolean {
    const r = this.running.get(podName);
    if (!r) return false;
    r.disrupted = options.disruption ?? false;
    r.child?.kill('SIGKILL');
    r.container?.kill();
    return true;
  }

  /** The Job was deleted: stop every pod (background propagation). */
  stop(): void {
    this.finished = true;
    if (this.deadline) clearTimeout(this.deadline);
    for (const r of this.running.values()) {
      r.child?.kill('SIGKILL');
      r.container?.kill();
    }
  }

  private tick(): void {
    if (this.finished || this.job.spec.suspend) return;
    const parallelism = this.job.spec.parallelism ?? 1;
    for (const [index, s] of this.indexes.entries()) {
      if (this.running.size >= parallelism) break;
      if (s.state === 'pending') this.startPod(index, s);
    }
    this.publish();
    if (this.indexes.every((s) => s.state === 'succeeded' || s.state === 'failed')) {
      const failed = this.indexes.filter((s) => s.state === 'failed').length;
      if (failed) this.fail('FailedIndexes', 'Job has failed indexes');
      else this.complete();
    }
  }

  private startPod(index: number, s: IndexState): void {
    s.state = 'running';
    s.attempts++;
    const job = this.job;
    const template = clone(job.spec.template);
    const name = `${job.metadata.name}-${index}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const indexLabel = String(index);
    const pod: FakePod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: job.metadata.namespace,
        labels: { ...template.metadata?.labels, 'job-name': job.metadata.name, 'batch.kubernetes.io/job-name': job.metadata.name, 'controller-uid': job.metadata.uid!, 'batch.kubernetes.io/controller-uid': job.metadata.uid!, 'batch.kubernetes.io/job-completion-index': indexLabel },
        annotations: { ...template.metadata?.annotations, 'batch.kubernetes.io/job-completion-index': indexLabel },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name, uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...template.spec, nodeName: 'fake-node' },
      status: { phase: 'Pending' },
    };
    const container = pod.spec.containers[0]!;
    const memory = this.host.forcedMemoryLimit?.(job, index, s.attempts);
    if (memory) {
      const resources = (container.resources ?? {}) as { limits?: Record<string, string>; requests?: Record<string, string> };
      container.resources = { ...resources, limits: { ...resources.limits, memory }, requests: { ...resources.requests, memory } };
    }
    const env = this.containerEnv(pod, index);
    const entry: RunningPod = { pod, index };
    this.running.set(name, entry);
    if (typeof env === 'string') {
      // A missing Secret keeps a real pod waiting (CreateContainerConfigError); so does this one.
      pod.status.containerStatuses = [{ name: container.name, image: container.image, ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: env } } }];
      this.host.putPod(pod);
      return;
    }
    this.host.podEnv(pod.metadata.namespace, name, env);
    const forced = this.host.forcedExit(job, index, s.attempts);
    const started = now();
    let log = '';
    const append = (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.length > MAX_LOG) log = log.slice(-MAX_LOG);
      this.host.podLog(pod.metadata.namespace, name, log);
    };
    if (this.host.containers && forced === undefined) {
      const running = this.host.containers.start(pod, env, append, (exit: ContainerExit) => this.podExited(entry, exit.exitCode, started, exit.reason));
      if (typeof running === 'string') {
        // What the kubelet refuses to start (runAsNonRoot and a root image, an unsupported volume) keeps the pod waiting.
        pod.status.containerStatuses = [{ name: container.name, image: container.image, ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: running } } }];
        this.host.putPod(pod);
        return;
      }
      entry.container = running;
    }
    pod.status = {
      phase: 'Running',
      startTime: started,
      containerStatuses: [{ name: container.name, image: container.image, ready: true, restartCount: 0, state: { running: { startedAt: started } } }],
    };
    this.host.putPod(pod);
    if (entry.container) return;
    if (forced === undefined && !this.host.podCommand) throw new Error('fake Kubernetes: expected a podCommand (process runner) or containers (container runner), got neither');
    const { command, args, cwd } = forced !== undefined
      ? { command: process.execPath, args: ['-e', `console.error("fault injected: exit ${forced}"); process.exit(${forced})`], cwd: undefined }
      : this.host.podCommand!(container.image);
    const child = spawn(command, args, { cwd, env: forced !== undefined ? { ...this.host.hostEnv, ...env } : env, stdio: ['ignore', 'pipe', 'pipe'] });
    entry.child = child;
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    child.on('error', (err) => append(Buffer.from(`spawn failed: ${err.message}\n`)));
    child.on('close', (code, signal) => this.podExited(entry, code ?? (signal ? 137 : 1), started));
  }

  /** The container's environment: values, Secret references resolved, and the Job's completion index. */
  private containerEnv(pod: FakePod, index: number): NodeJS.ProcessEnv | string {
    const container = pod.spec.containers[0]!;
    // A container has its image's PATH and HOME; a local process playing one needs the host's.
    const env: NodeJS.ProcessEnv = this.host.containers ? {} : { ...this.host.hostEnv };
    for (const from of container.envFrom ?? []) {
      if (!from.secretRef) continue;
      const data = this.host.secret(pod.metadata.namespace, from.secretRef.name);
      if (!data) {
        if (from.secretRef.optional) continue;
        return `secret "${from.secretRef.name}" not found`;
      }
      for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
    }
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const value = this.host.secret(pod.metadata.namespace, ref.name)?.[ref.key];
        if (value === undefined) {
          if (ref.optional) continue;
          return `couldn't find key ${ref.key} in Secret ${pod.metadata.namespace}/${ref.name}`;
        }
        env[e.name] = value;
      } else env[e.name] = '';
    }
    env.JOB_COMPLETION_INDEX = String(index);
    return env;
  }

  private podExited(entry: RunningPod, exitCode: number, startedAt: string, reason?: ContainerExit['reason']): void {
    const { pod, index } = entry;
    this.running.delete(pod.metadata.name);
    const s = this.indexes[index]!;
    const container = pod.spec.containers[0]!;
    const finishedAt = now();
    const succeeded = exitCode === 0 && !entry.disrupted;
    pod.status.phase = succeeded ? 'Succeeded' : 'Failed';
    pod.status.containerStatuses = [{
      name: container.name, image: container.image, ready: false, restartCount: 0,
      state: { terminated: { exitCode, reason: reason === 'OOMKilled' ? reason : succeeded ? 'Completed' : 'Error', startedAt, finishedAt } },
    }];
    if (entry.disrupted) pod.status.conditions = [{ type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message: 'pod evicted', lastTransitionTime: finishedAt }];
    this.host.putPod(pod);
    if (this.finished) return;
    if (succeeded) {
      this.podsSucceeded++;
      s.state = 'succeeded';
      this.tick();
      return;
    }
    const action = this.policyAction(pod, exitCode, container.name);
    if (action !== 'Ignore') this.podsFailed++;
    if (action === 'FailJob') {
      s.state = 'failed';
      this.fail('PodFailurePolicy', `Container ${container.name} for pod ${pod.metadata.namespace}/${pod.metadata.name} failed with exit code ${exitCode} matching FailJob rule`);
      return;
    }
    if (action === 'FailIndex') s.state = 'failed';
    else if (action === 'Ignore') s.state = 'pending';
    else {
      s.failures++;
      this.globalFailures++;
      const perIndex = this.job.spec.backoffLimitPerIndex;
      if (perIndex !== undefined) s.state = s.failures > perIndex ? 'failed' : 'pending';
      else if (this.globalFailures > (this.job.spec.backoffLimit ?? 6)) {
        s.state = 'failed';
        this.fail('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
        return;
      } else s.state = 'pending';
    }
    const maxFailed = this.job.spec.maxFailedIndexes;
    if (maxFailed !== undefined && this.indexes.filter((x) => x.state === 'failed').length > maxFailed) {
      this.fail('MaxFailedIndexesExceeded', 'Job has exceeded the specified maximal number of failed indexes');
      return;
    }
    this.tick();
  }

  private policyAction(pod: FakePod, exitCode: number, containerName: string): PodFailurePolicyRule['action'] {
    for (const rule of this.job.spec.podFailurePolicy?.rules ?? []) {
      if (rule.onExitCodes) {
        const { containerName: only, operator, values } = rule.onExitCodes;
        if (only && only !== containerName) continue;
        if (operator === 'In' ? values.includes(exitCode) : !values.includes(exitCode) && exitCode !== 0) return rule.action;
      }
      if (rule.onPodConditions?.some((c) => pod.status.conditions?.some((pc) => pc.type === c.type && pc.status === (c.status ?? 'True')))) return rule.action;
    }
    return 'Count';
  }

  private setCondition(type: string, reason: string, message: string): void {
    const conditions = (this.job.status.conditions ??= []);
    const t = now();
    const existing = conditions.find((c) => c.type === type);
    if (existing) Object.assign(existing, { status: 'True', reason, message, lastProbeTime: t, lastTransitionTime: t });
    else conditions.push({ type, status: 'True', reason, message, lastProbeTime: t, lastTransitionTime: t });
  }

  private complete(): void {
    this.finished = true;
    if (this.deadline) clearTimeout(this.deadline);
    this.setCondition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods');
    this.setCondition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
    this.job.status.completionTime = now();
    this.publish();
  }

  private fail(reason: string, message: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.deadline) clearTimeout(this.deadline);
    for (const r of this.running.values()) {
      r.child?.kill('SIGKILL');
      r.container?.kill();
    }
    this.setCondition('FailureTarget', reason, message);
    this.setCondition('Failed', reason, message);
    this.publish();
  }

  /** Writes status the way the real controller reports it. */
  private publish(): void {
    const st = this.job.status;
    st.active = this.running.size;
    st.ready = [...this.running.values()].filter((r) => r.pod.status.phase === 'Running').length;
    st.succeeded = this.podsSucceeded;
    st.failed = this.podsFailed;
    st.terminating = 0;
    st.uncountedTerminatedPods = {};
    const completed = formatIndexRanges(this.indexes.flatMap((s, i) => (s.state === 'succeeded' ? [i] : [])));
    if (completed) st.completedIndexes = completed;
    else delete st.completedIndexes;
    if (this.job.spec.backoffLimitPerIndex !== undefined) st.failedIndexes = formatIndexRanges(this.indexes.flatMap((s, i) => (s.state === 'failed' ? [i] : [])));
    this.host.putJob(this.job);
  }
}
