import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Container, FakePod } from './objects.js';

/** How a container ended, as the kubelet reports it in containerStatuses[].state.terminated. */
export interface ContainerExit {
  exitCode: number;
  reason: 'Completed' | 'Error' | 'OOMKilled';
}

export interface ContainerRunnerOptions {
  /** The container engine's command (default podman). */
  engine?: string;
  /** Network mode (default host: storage such as s3rver listens on the test's loopback). */
  network?: string;
  /** More `podman run` arguments, before the image. */
  extraArgs?: string[];
}

export interface RunningContainer {
  /** The engine's name for the container: `podman kill <name>` kills the pod. */
  name: string;
  kill(): void;
}

/** The engine when it answers `--version` (the container tests print why they return without it). */
export function containerEngineAvailable(engine = 'podman'): boolean {
  return spawnSync(engine, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Kubernetes memory quantity ("512Mi", "1G", "1e9", "128974848") in bytes. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E|m)?$/.exec(quantity.trim());
  if (!m) throw new Error(`memory quantity: expected a number with an optional unit (Mi, Gi, M, G, ...), got ${JSON.stringify(quantity)}`);
  const unit = m[2] ?? '';
  const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  const decimal: Record<string, number> = { '': 1, m: 1e-3, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return Math.ceil(Number(m[1]) * (binary[unit] ?? decimal[unit]!));
}

/** Kubernetes CPU quantity ("500m", "2", "0.5") in cores. */
export function cpuCores(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity.trim());
  if (!m) throw new Error(`cpu quantity: expected cores ("2", "0.5") or millicores ("500m"), got ${JSON.stringify(quantity)}`);
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

/** Variables the engine's own process needs: pod variables of these names go on the command line instead. */
const ENGINE_ENV = new Set(['PATH', 'HOME', 'TMPDIR', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'CONTAINERS_CONF', 'CONTAINERS_STORAGE_CONF', 'CONTAINER_HOST', 'DOCKER_HOST']);

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  fsGroup?: number;
  supplementalGroups?: number[];
}

interface Volume { name: string; emptyDir?: { medium?: string; sizeLimit?: string }; [key: string]: unknown }
interface VolumeMount { name: string; mountPath: string; readOnly?: boolean; subPath?: string }

/** The image's USER, which runAsNonRoot checks when the pod does not set runAsUser. */
export type ImageUser = (image: string) => string | undefined;

/**
 * `podman run` arguments for a pod's (first) container, its spec mapped as the kubelet would:
 * command -> entrypoint, args -> the image's arguments, env by name (values from the engine's
 * environment, so Secret values are not on a command line), runAsUser/runAsGroup/fsGroup,
 * runAsNonRoot checked against the user the container would run as, readOnlyRootFilesystem (no
 * tmpfs the kubelet would not add), emptyDir volumes as tmpfs, capabilities, no-new-privileges,
 * CPU and memory limits (no swap beyond the memory limit, as on a node without swap).
 * A spec the kubelet would refuse returns { error } (the pod's CreateContainerConfigError message).
 */
export function podmanRunArgs(pod: FakePod, name: string, envNames: string[], imageUser: ImageUser, options: ContainerRunnerOptions = {}): { args: string[]; inline: string[] } | { error: string } {
  const container = pod.spec.containers[0]! as Container & {
    command?: string[]; args?: string[]; workingDir?: string; securityContext?: SecurityContext;
    resources?: { limits?: Record<string, string> }; volumeMounts?: VolumeMount[];
  };
  const podContext = (pod.spec.securityContext ?? {}) as SecurityContext;
  const ctx: SecurityContext = { ...podContext, ...container.securityContext };
  const args = ['run', '--name', name, '--pull=never', `--network=${options.network ?? 'host'}`, '--hostname', pod.metadata.name.slice(0, 63)];
  const inline: string[] = [];
  for (const env of envNames) {
    if (ENGINE_ENV.has(env)) inline.push(env);
    else args.push('--env', env);
  }

  // The user: runAsUser/runAsGroup, else the image's USER; runAsNonRoot needs it to be a non-zero number.
  if (ctx.runAsUser !== undefined) args.push('--user', ctx.runAsGroup !== undefined ? `${ctx.runAsUser}:${ctx.runAsGroup}` : String(ctx.runAsUser));
  if (ctx.runAsNonRoot) {
    if (ctx.runAsUser === 0) return { error: 'container\'s runAsUser breaks non-root policy' };
    if (ctx.runAsUser === undefined) {
      const user = (imageUser(container.image) ?? '').split(':')[0]!;
      if (user === '' || user === '0' || user === 'root') return { error: 'container has runAsNonRoot and image will run as root' };
      if (!/^\d+$/.test(user)) return { error: `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root` };
    }
  }
  for (const gid of [...(podContext.fsGroup !== undefined ? [podContext.fsGroup] : []), ...(podContext.supplementalGroups ?? [])]) args.push('--group-add', String(gid));

  if (ctx.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  if (ctx.privileged) args.push('--privileged');
  if (ctx.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  for (const cap of ctx.capabilities?.drop ?? []) args.push('--cap-drop', cap);
  for (const cap of ctx.capabilities?.add ?? []) args.push('--cap-add', cap);

  const volumes = new Map(((pod.spec.volumes ?? []) as Volume[]).map((v) => [v.name, v]));
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) return { error: `volume "${mount.name}" not found in the pod's volumes` };
    if (!volume.emptyDir) return { error: `volume "${mount.name}": the fake kubelet mounts emptyDir volumes only, got ${Object.keys(volume).filter((k) => k !== 'name').join(', ')}` };
    if (mount.subPath) return { error: `volume mount "${mount.name}": subPath is not supported by the fake kubelet` };
    const size = volume.emptyDir.sizeLimit ? `,size=${memoryBytes(volume.emptyDir.sizeLimit)}` : '';
    // An emptyDir is writable by every user of the pod (mode 0777), as the kubelet makes it.
    args.push('--tmpfs', `${mount.mountPath}:${mount.readOnly ? 'ro' : 'rw'},mode=1777${size}`);
  }

  const limits = container.resources?.limits ?? {};
  if (limits.memory) {
    const bytes = memoryBytes(limits.memory);
    args.push('--memory', String(bytes), '--memory-swap', String(bytes));
  }
  if (limits.cpu) args.push('--cpus', String(cpuCores(limits.cpu)));
  if (container.workingDir) args.push('--workdir', container.workingDir);
  // command replaces the image's ENTRYPOINT (and with it its CMD); args replace CMD.
  if (container.command?.length) args.push('--entrypoint', JSON.stringify(container.command));
  args.push(...(options.extraArgs ?? []), container.image, ...(container.args ?? []));
  return { args, inline };
}

/**
 * Runs pods as containers of their images with podman: the container pod runner of the fake
 * job controller (the process runner plays a container with a local process instead).
 */
export class PodmanPodRunner {
  private readonly engine: string;
  private readonly users = new Map<string, string | undefined>();
  private readonly pending = new Set<Promise<void>>();
  private readonly live = new Set<string>();

  constructor(private readonly options: ContainerRunnerOptions = {}) {
    this.engine = options.engine ?? 'podman';
  }

  /** The image's configured USER (cached: one inspect per image). */
  private readonly imageUser: ImageUser = (image) => {
    if (!this.users.has(image)) {
      const r = spawnSync(this.engine, ['image', 'inspect', '--format', '{{.Config.User}}', image], { encoding: 'utf8', timeout: 30_000 });
      this.users.set(image, r.status === 0 ? r.stdout.trim() : undefined);
    }
    return this.users.get(image);
  };

  /** Starts the pod's container; a spec the kubelet would refuse returns its message instead. */
  start(pod: FakePod, env: NodeJS.ProcessEnv, onOutput: (chunk: Buffer) => void, onExit: (exit: ContainerExit) => void): RunningContainer | string {
    const name = `fv-pod-${pod.metadata.name}`;
    const envNames = Object.keys(env).filter((k) => env[k] !== undefined);
    const mapped = podmanRunArgs(pod, name, envNames, this.imageUser, this.options);
    if ('error' in mapped) return mapped.error;
    const args = [...mapped.args];
    // Inline values go right after "run" (before the image); they are never Secret-sized names like PATH.
    for (const k of mapped.inline) args.splice(1, 0, '--env', `${k}=${env[k]}`);
    const engineEnv: NodeJS.ProcessEnv = { ...env };
    for (const k of ENGINE_ENV) {
      if (process.env[k] !== undefined) engineEnv[k] = process.env[k];
      else delete engineEnv[k];
    }
    this.live.add(name);
    const child: ChildProcess = spawn(this.engine, args, { env: engineEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    child.on('error', (err) => onOutput(Buffer.from(`${this.engine} run failed: ${err.message}\n`)));
    child.on('close', (code) => {
      const done = this.finish(name, code ?? 125).then(onExit);
      this.track(done);
    });
    return { name, kill: () => this.track(this.quiet(['kill', '--signal', 'KILL', name])) };
  }

  /** Exit code and OOM kill from the engine's record of the container, then the container is removed. */
  private async finish(name: string, clientCode: number): Promise<ContainerExit> {
    const inspected = await this.output(['container', 'inspect', '--format', '{{.Id}} {{.State.ExitCode}} {{.State.OOMKilled}}', name]);
    await this.quiet(['rm', '--force', name]);
    this.live.delete(name);
    const m = /^([0-9a-f]+) (-?\d+) (true|false)$/.exec(inspected.trim());
    // No record: the container never ran (no such image, a refused option); the client's code says why.
    const exitCode = m ? Number(m[2]) : clientCode;
    const oom = m?.[3] === 'true' || (exitCode === 137 && m !== null && (await this.kernelOomKilled(m[1]!)));
    return { exitCode: oom && exitCode === 0 ? 137 : exitCode, reason: oom ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error' };
  }

  /**
   * Whether the kernel's OOM killer killed in this container's memory cgroup, from the kernel log, as the
   * kubelet's cAdvisor reads it. Podman's own OOMKilled stays false where conmon cannot watch the
   * cgroup (cgroup v1 hybrid hosts such as this project's CI); an unreadable log means no.
   */
  private async kernelOomKilled(id: string): Promise<boolean> {
    const log = await this.output([], 'dmesg');
    const killedHere = new RegExp(`oom-kill:.*oom_memcg=[^,]*libpod-${id}`);
    return log.split('\n').some((line) => killedHere.test(line));
  }

  private output(args: string[], command = this.engine): Promise<string> {
    return new Promise((resolve) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', () => resolve(''));
      child.on('close', () => resolve(out));
    });
  }

  private quiet(args: string[]): Promise<void> {
    return this.output(args).then(() => undefined);
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.then(() => undefined, () => undefined);
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Kills every container still running and waits until each is removed. */
  async stop(): Promise<void> {
    for (const name of this.live) this.track(this.quiet(['kill', '--signal', 'KILL', name]));
    // A killed container's client exits, then its record is read and removed: wait for all of it (bounded).
    for (let waited = 0; (this.pending.size || this.live.size) && waited < 60_000; waited += 50) {
      await Promise.race([Promise.all([...this.pending]), new Promise((r) => setTimeout(r, 50))]);
    }
  }
}
