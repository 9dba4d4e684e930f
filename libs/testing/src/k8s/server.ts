import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { JobController, type PodCommand } from './controller.js';
import { PodmanPodRunner, type ContainerRunnerOptions } from './containers.js';
import { batchV1OpenApi, dropFields, unknownFieldPaths, type OpenApiSchema } from './openapi.js';
import { clone, matchesFieldSelector, matchesLabelSelector, now, statusBody, type FakeJob, type FakeObject, type FakePod } from './objects.js';

type Resource = 'jobs' | 'pods';
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface StoredEvent {
  rv: number;
  resource: Resource;
  type: EventType;
  object: FakeObject;
}

interface ExitFault {
  job?: string | ((job: FakeJob) => boolean);
  index: number;
  /** 1 for the index's first pod; omitted: every attempt. */
  attempt?: number;
  code: number;
}

export interface FakeKubernetesOptions {
  /** Image -> local command for its pods (the caller knows its workers; this library does not): the process runner. */
  podCommand?: PodCommand;
  /**
   * The container runner instead: each pod runs as a podman container of its image, the pod spec
   * mapped (env and Secret references, securityContext, emptyDir as tmpfs, CPU/memory limits), on
   * the host network; the container's exit code and OOM kill go back to the controller.
   */
  containers?: ContainerRunnerOptions | true;
  /** Host variables passed into pod processes (a local process needs PATH and friends). */
  hostEnv?: string[];
  /** Watch events kept for resuming watches; older resourceVersions get 410 Gone. */
  history?: number;
  /** The bearer token the kubeconfig carries and the server requires. */
  token?: string;
  /**
   * Job fields this API server does not know (dotted paths, "spec.backoffLimitPerIndex"), as an older
   * Kubernetes: left out of its OpenAPI, refused under fieldValidation=Strict, dropped with a Warning otherwise.
   */
  jobFieldsNotServed?: string[];
}

interface MemoryFault {
  job?: string | ((job: FakeJob) => boolean);
  /** Omitted: every index. */
  index?: number;
  /** Omitted: every attempt. */
  attempt?: number;
  /** A Kubernetes quantity, e.g. "48Mi". */
  memory: string;
}

export interface FakeKubernetesFaults {
  /** Pods of (job, index, attempt) get this memory limit instead of the Job's (with the container runner: a real cgroup limit, so an OOM kill). */
  memoryLimit(fault: MemoryFault): void;
  /** Pod for (job, index, attempt) exits with this code instead of running the worker. */
  exitCode(fault: ExitFault): void;
  /** Kills a running pod (SIGKILL; `podman kill` with the container runner). `disruption`: marked DisruptionTarget, as an eviction would be. */
  killPod(name: string, options?: { disruption?: boolean }): boolean;
  /** The next watch request gets an ERROR event with 410 Gone (expired resourceVersion) and ends. */
  goneOnNextWatch(count?: number): void;
  /** Ends every open watch stream abruptly. */
  dropWatches(): number;
  /** The next `count` watch requests (default: all) get their headers and an immediate end, no event. */
  closeWatchesAtOnce(count?: number): void;
}

export interface FakeKubernetes {
  url: string;
  /** Writes a kubeconfig (context "fake") for this server into `dir` and returns its path. */
  kubeconfigPath(dir: string): Promise<string>;
  faults: FakeKubernetesFaults;
  /** Current objects (copies). */
  jobs(namespace?: string): FakeJob[];
  pods(namespace?: string, labelSelector?: string): FakePod[];
  podLog(namespace: string, name: string): string | undefined;
  /** The environment a pod's process got (values and resolved Secret references). */
  podEnv(namespace: string, name: string): NodeJS.ProcessEnv | undefined;
  /** Every pod ever run (kept after the Job is deleted), to count runs per chunk. */
  podHistory: FakePod[];
  /** Seeds a Secret the pods can reference. */
  setSecret(namespace: string, name: string, data: Record<string, string>): void;
  /** Requests served, by "METHOD path" (no query). */
  requests: Map<string, number>;
  watchesOpened: number;
  stop(): Promise<void>;
}

const DEFAULT_HOST_ENV = ['PATH', 'HOME', 'LANG', 'TZ', 'FINEVIDEO_BUNDLED', 'NODE_OPTIONS'];

const discovery = {
  version: { major: '1', minor: '31', gitVersion: 'v1.31.0-finevideo-fake', gitCommit: 'fake', gitTreeState: 'clean', buildDate: '2024-08-13T00:00:00Z', goVersion: 'go1.22', compiler: 'gc', platform: 'linux/amd64' },
  api: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] },
  apis: {
    kind: 'APIGroupList', apiVersion: 'v1',
    groups: [{ name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } }],
  },
  batch: { kind: 'APIGroup', apiVersion: 'v1', name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } },
  batchV1: {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'batch/v1',
    resources: [
      { name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], categories: ['all'] },
      { name: 'jobs/status', singularName: '', namespaced: true, kind: 'Job', verbs: ['get', 'patch', 'update'] },
    ],
  },
  coreV1: {
    kind: 'APIResourceList', groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get', 'list', 'watch'], shortNames: ['po'], categories: ['all'] },
      { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    ],
  },
};

class ApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * Server-side field validation, as kube-apiserver does it for the `fieldValidation` parameter
 * (Strict: 400 naming every unknown field; Warn, the default: a Warning header per field; Ignore:
 * nothing). Unknown fields not refused are dropped, as the API server drops them. Returns the warnings to send.
 */
function checkFields(body: unknown, directive: string | null, components: Record<string, OpenApiSchema>): string[] {
  const unknown = unknownFieldPaths(body, { $ref: '#/components/schemas/V1Job' }, components);
  const mode = directive ?? 'Warn';
  if (!['Strict', 'Warn', 'Ignore'].includes(mode)) throw new ApiError(400, 'BadRequest', `fieldValidation: expected Strict, Warn or Ignore, got ${JSON.stringify(mode)}`);
  if (unknown.length === 0) return [];
  const messages = unknown.map((f) => `unknown field ${JSON.stringify(f)}`);
  if (mode === 'Strict') throw new ApiError(400, 'BadRequest', `Job in version "v1" cannot be handled as a Job: strict decoding error: ${messages.join(', ')}`);
  dropFields(body, unknown);
  return mode === 'Ignore' ? [] : messages;
}

/**
 * A fake Kubernetes API server on 127.0.0.1: discovery, OpenAPI v3 for batch/v1 with
 * server-side field validation (what `kubectl apply` validates with), batch/v1 Jobs (create, get, list,
 * watch, patch, delete), core/v1 Pods (list, get, watch, log), resourceVersions with a
 * bounded watch history (410 Gone beyond it), and a job controller that runs each index as
 * a local worker process. Real clients (@kubernetes/client-node, kubectl get/apply/wait/logs) talk to it unchanged.
 */
export async function startFakeKubernetes(options: FakeKubernetesOptions): Promise<FakeKubernetes> {
  const token = options.token ?? 'fake-token';
  const openApi = batchV1OpenApi(options.jobFieldsNotServed);
  const openApiJson = JSON.stringify(openApi.document);
  const openApiHash = createHash('sha512').update(openApiJson).digest('hex').toUpperCase();
  const historyLimit = options.history ?? 10_000;
  let rv = 1;
  const objects: Record<Resource, Map<string, FakeObject>> = { jobs: new Map(), pods: new Map() };
  const history: StoredEvent[] = [];
  let oldestRv = 1;
  const listeners = new Set<(e: StoredEvent) => void>();
  const controllers = new Map<string, JobController>();
  const secrets = new Map<string, Record<string, string>>();
  const logs = new Map<string, string>();
  const envs = new Map<string, NodeJS.ProcessEnv>();
  const podHistory = new Map<string, FakePod>();
  const exitFaults: ExitFault[] = [];
  const memoryFaults: MemoryFault[] = [];
  const jobMatches = (f: { job?: string | ((job: FakeJob) => boolean) }, job: FakeJob) => f.job === undefined || (typeof f.job === 'string' ? f.job === job.metadata.name : f.job(job));
  const watchSockets = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const requests = new Map<string, number>();
  let goneBudget = 0;
  let closeAtOnceBudget = 0;
  let watchesOpened = 0;
  if (!options.podCommand && !options.containers) throw new Error('startFakeKubernetes: expected podCommand (process runner) or containers (container runner), got neither');
  const containers = options.containers ? new PodmanPodRunner(options.containers === true ? {} : options.containers) : undefined;
  const hostEnv: Record<string, string> = {};
  for (const name of [...DEFAULT_HOST_ENV, ...(options.hostEnv ?? [])]) if (process.env[name] !== undefined) hostEnv[name] = process.env[name]!;

  const record = (resource: Resource, type: EventType, object: FakeObject) => {
    const event: StoredEvent = { rv: Number(object.metadata.resourceVersion), resource, type, object: clone(object) };
    history.push(event);
    while (history.length > historyLimit) oldestRv = history.shift()!.rv;
    for (const l of listeners) l(event);
  };
  const put = (resource: Resource, object: FakeObject) => {
    const k = key(object.metadata.namespace, object.metadata.name);
    const type: EventType = objects[resource].has(k) ? 'MODIFIED' : 'ADDED';
    object.metadata.resourceVersion = String(++rv);
    objects[resource].set(k, clone(object));
    if (object.kind === 'Pod') podHistory.set(object.metadata.uid!, clone(object));
    record(resource, type, object);
  };
  const remove = (resource: Resource, namespace: string, name: string) => {
    const k = key(namespace, name);
    const object = objects[resource].get(k);
    if (!object) return;
    objects[resource].delete(k);
    object.metadata.resourceVersion = String(++rv);
    record(resource, 'DELETED', object);
  };

  const host = {
    putJob: (job: FakeJob) => {
      if (objects.jobs.has(key(job.metadata.namespace, job.metadata.name))) put('jobs', job);
    },
    putPod: (pod: FakePod) => {
      pod.metadata.uid ??= randomUUID();
      pod.metadata.creationTimestamp ??= now();
      put('pods', pod);
      // A pod of a deleted Job (background propagation) goes once it has stopped.
      if (!controllers.has(key(pod.metadata.namespace, pod.metadata.ownerReferences?.[0]?.name ?? '')) && pod.status.phase !== 'Running') remove('pods', pod.metadata.namespace, pod.metadata.name);
    },
    secret: (namespace: string, name: string) => secrets.get(key(namespace, name)),
    hostEnv,
    podCommand: options.podCommand,
    containers,
    forcedMemoryLimit: (job: FakeJob, index: number, attempt: number) =>
      memoryFaults.find((f) => (f.index === undefined || f.index === index) && (f.attempt === undefined || f.attempt === attempt) && jobMatches(f, job))?.memory,
    forcedExit: (job: FakeJob, index: number, attempt: number) => {
      const f = exitFaults.find((x) => x.index === index && (x.attempt === undefined || x.attempt === attempt) && (x.job === undefined || (typeof x.job === 'string' ? x.job === job.metadata.name : x.job(job))));
      return f?.code;
    },
    podLog: (namespace: string, pod: string, text: string) => void logs.set(key(namespace, pod), text),
    podEnv: (namespace: string, pod: string, env: NodeJS.ProcessEnv) => void envs.set(key(namespace, pod), env),
  };

  const createJob = (namespace: string, body: FakeJob): FakeJob => {
    if (body?.kind !== 'Job' || body.apiVersion !== 'batch/v1') throw new ApiError(400, 'BadRequest', `expected kind Job of batch/v1, got ${body?.kind} of ${body?.apiVersion}`);
    const name = body.metadata?.name;
    if (!name || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) throw new ApiError(422, 'Invalid', `Job.batch "${name}" is invalid: metadata.name: Invalid value`);
    if (body.metadata.namespace && body.metadata.namespace !== namespace) throw new ApiError(400, 'BadRequest', `the namespace of the provided object does not match the namespace sent on the request`);
    if (!body.spec?.template?.spec?.containers?.length) throw new ApiError(422, 'Invalid', `Job.batch "${name}" is invalid: spec.template.spec.containers: Required value`);
    if (objects.jobs.has(key(namespace, name))) throw new ApiError(409, 'AlreadyExists', `jobs.batch "${name}" already exists`, { name, group: 'batch', kind: 'jobs' });
    const uid = randomUUID();
    const job: FakeJob = clone(body);
    job.metadata = { ...job.metadata, namespace, uid, generation: 1, creationTimestamp: now() };
    job.spec.parallelism ??= 1;
    job.spec.completions ??= 1;
    job.spec.backoffLimit ??= job.spec.backoffLimitPerIndex !== undefined ? 2147483647 : 6;
    job.spec.suspend ??= false;
    job.spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
    job.spec.template.metadata = { ...job.spec.template.metadata, labels: { ...job.spec.template.metadata?.labels, 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name } };
    job.status = {};
    put('jobs', job);
    const controller = new JobController(job, host);
    controllers.set(key(namespace, name), controller);
    controller.update(job);
    return clone(objects.jobs.get(key(namespace, name)) as FakeJob);
  };

  const deleteJob = (namespace: string, name: string, propagation: string) => {
    const k = key(namespace, name);
    const job = objects.jobs.get(k);
    if (!job) throw new ApiError(404, 'NotFound', `jobs.batch "${name}" not found`, { name, group: 'batch', kind: 'jobs' });
    const controller = controllers.get(k);
    controllers.delete(k);
    remove('jobs', namespace, name);
    if (propagation !== 'Orphan') {
      controller?.stop();
      for (const [pk, pod] of objects.pods) {
        if (pod.metadata.ownerReferences?.[0]?.uid === job.metadata.uid && pod.kind === 'Pod' && pod.status.phase !== 'Running') remove('pods', pod.metadata.namespace, pk.split('/')[1]!);
      }
    }
    return statusBody(200, '', '', { name, group: 'batch', kind: 'jobs', uid: job.metadata.uid });
  };

  const patchJob = (namespace: string, name: string, patch: Partial<FakeJob>) => {
    const k = key(namespace, name);
    const job = objects.jobs.get(k) as FakeJob | undefined;
    if (!job) throw new ApiError(404, 'NotFound', `jobs.batch "${name}" not found`, { name, group: 'batch', kind: 'jobs' });
    const merged = clone(job);
    if (patch.metadata?.labels) merged.metadata.labels = { ...merged.metadata.labels, ...patch.metadata.labels };
    if (patch.metadata?.annotations) merged.metadata.annotations = { ...merged.metadata.annotations, ...patch.metadata.annotations };
    if (patch.spec) {
      for (const field of ['suspend', 'parallelism', 'activeDeadlineSeconds'] as const) if (patch.spec[field] !== undefined) (merged.spec as Record<string, unknown>)[field] = patch.spec[field];
    }
    put('jobs', merged);
    controllers.get(k)?.update(merged);
    return clone(objects.jobs.get(k));
  };

  const list = (resource: Resource, namespace: string | undefined, url: URL) => {
    const labelSelector = url.searchParams.get('labelSelector');
    const fieldSelector = url.searchParams.get('fieldSelector');
    return [...objects[resource].values()].filter((o) => (!namespace || o.metadata.namespace === namespace) && matchesLabelSelector(o.metadata.labels, labelSelector) && matchesFieldSelector(o, fieldSelector));
  };

  const watch = (resource: Resource, namespace: string | undefined, url: URL, res: ServerResponse) => {
    watchesOpened++;
    const labelSelector = url.searchParams.get('labelSelector');
    const fieldSelector = url.searchParams.get('fieldSelector');
    const from = url.searchParams.get('resourceVersion');
    const matches = (o: FakeObject) => (!namespace || o.metadata.namespace === namespace) && matchesLabelSelector(o.metadata.labels, labelSelector) && matchesFieldSelector(o, fieldSelector);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // Clients (client-go) wait for the headers before they read events: send them now, not with the first event.
    res.flushHeaders();
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    if (closeAtOnceBudget > 0) {
      closeAtOnceBudget--;
      res.end();
      return;
    }
    if (goneBudget > 0 || (from && from !== '0' && Number(from) < oldestRv)) {
      if (goneBudget > 0) goneBudget--;
      send('ERROR', statusBody(410, 'Expired', `too old resource version: ${from} (${rv})`));
      res.end();
      return;
    }
    watchSockets.add(res);
    if (!from || from === '0') for (const o of list(resource, namespace, url)) send('ADDED', o);
    else for (const e of history) if (e.rv > Number(from) && e.resource === resource && matches(e.object)) send(e.type, e.object);
    const listener = (e: StoredEvent) => {
      if (e.resource === resource && matches(e.object)) send(e.type, e.object);
    };
    listeners.add(listener);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      listeners.delete(listener);
      watchSockets.delete(res);
      if (timer) clearTimeout(timer);
    });
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(400, 'BadRequest', `expected a JSON body, got ${JSON.stringify(text.slice(0, 40))}`);
    }
  };

  const listBody = (resource: Resource, items: FakeObject[]) => ({
    kind: resource === 'jobs' ? 'JobList' : 'PodList', apiVersion: resource === 'jobs' ? 'batch/v1' : 'v1',
    metadata: { resourceVersion: String(rv) }, items,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const label = `${method} ${url.pathname}`;
    requests.set(label, (requests.get(label) ?? 0) + 1);
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    // kubectl sends no token over plain HTTP: anonymous requests are allowed, a wrong token is not.
    if (req.headers.authorization !== undefined && req.headers.authorization !== `Bearer ${token}`) return json(401, statusBody(401, 'Unauthorized', 'Unauthorized'));
    const path = url.pathname.replace(/\/$/, '');
    const isWatch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    if (method === 'GET' && path === '/version') return json(200, discovery.version);
    if (method === 'GET' && path === '/api') return json(200, discovery.api);
    if (method === 'GET' && path === '/apis') return json(200, discovery.apis);
    if (method === 'GET' && path === '/apis/batch') return json(200, discovery.batch);
    if (method === 'GET' && path === '/apis/batch/v1') return json(200, discovery.batchV1);
    if (method === 'GET' && path === '/api/v1') return json(200, discovery.coreV1);
    if (method === 'GET' && path === '/openapi/v3') return json(200, { paths: { 'apis/batch/v1': { serverRelativeURL: `/openapi/v3/apis/batch/v1?hash=${openApiHash}` } } });
    if (method === 'GET' && path === '/openapi/v3/apis/batch/v1') {
      res.writeHead(200, { 'Content-Type': 'application/json', Etag: `"${openApiHash}"` });
      return res.end(openApiJson);
    }

    let m = /^\/apis\/batch\/v1(?:\/namespaces\/([^/]+))?\/jobs(?:\/([^/]+))?(\/status)?$/.exec(path);
    if (m) {
      const [, namespace, name] = m;
      if (!name && method === 'GET') {
        if (isWatch) return watch('jobs', namespace, url, res);
        return json(200, listBody('jobs', list('jobs', namespace, url)));
      }
      const warn = (warnings: string[]) => {
        for (const w of warnings) res.appendHeader('Warning', `299 - ${JSON.stringify(w)}`);
      };
      if (!name && method === 'POST' && namespace) {
        const body = await readBody(req);
        warn(checkFields(body, url.searchParams.get('fieldValidation'), openApi.components));
        return json(201, createJob(namespace, body as FakeJob));
      }
      if (name && namespace && method === 'GET') {
        const job = objects.jobs.get(key(namespace, name));
        if (!job) throw new ApiError(404, 'NotFound', `jobs.batch "${name}" not found`, { name, group: 'batch', kind: 'jobs' });
        return json(200, job);
      }
      if (name && namespace && method === 'DELETE') {
        const body = (await readBody(req)) as { propagationPolicy?: string } | undefined;
        return json(200, deleteJob(namespace, name, url.searchParams.get('propagationPolicy') ?? body?.propagationPolicy ?? 'Orphan'));
      }
      if (name && namespace && method === 'PATCH') {
        const body = await readBody(req);
        warn(checkFields(body, url.searchParams.get('fieldValidation'), openApi.components));
        return json(200, patchJob(namespace, name, body as Partial<FakeJob>));
      }
    }
    m = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods(?:\/([^/]+))?(\/log)?$/.exec(path);
    if (m) {
      const [, namespace, name, log] = m;
      if (!name && method === 'GET') {
        if (isWatch) return watch('pods', namespace, url, res);
        return json(200, listBody('pods', list('pods', namespace, url)));
      }
      if (name && namespace && method === 'GET') {
        const pod = objects.pods.get(key(namespace, name));
        if (!pod) throw new ApiError(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
        if (!log) return json(200, pod);
        let text = logs.get(key(namespace, name)) ?? '';
        const tail = url.searchParams.get('tailLines');
        if (tail !== null) {
          const lines = text.split('\n');
          if (lines.at(-1) === '') lines.pop();
          text = lines.slice(-Number(tail)).map((l) => `${l}\n`).join('');
        }
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        return res.end(text);
      }
    }
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${method} ${url.pathname})`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', err instanceof Error ? err.message : String(err));
      if (res.headersSent) return res.destroy();
      res.writeHead(e.code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(statusBody(e.code, e.reason, e.message, e.details)));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    async kubeconfigPath(dir: string) {
      const path = join(dir, 'kubeconfig');
      const config = {
        apiVersion: 'v1', kind: 'Config', 'current-context': 'fake', preferences: {},
        // client-node refuses plain HTTP unless TLS verification is explicitly off (there is no TLS here).
        clusters: [{ name: 'fake', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: { token } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
      };
      await writeFile(path, JSON.stringify(config, null, 2));
      return path;
    },
    faults: {
      exitCode: (fault) => void exitFaults.push(fault),
      memoryLimit: (fault) => void memoryFaults.push(fault),
      killPod: (name, opts) => [...controllers.values()].some((c) => c.kill(name, opts)),
      goneOnNextWatch: (count = 1) => void (goneBudget += count),
      closeWatchesAtOnce: (count = Infinity) => void (closeAtOnceBudget = count),
      dropWatches: () => {
        const n = watchSockets.size;
        for (const res of watchSockets) res.destroy();
        return n;
      },
    },
    jobs: (namespace) => [...objects.jobs.values()].filter((o): o is FakeJob => o.kind === 'Job' && (!namespace || o.metadata.namespace === namespace)).map(clone),
    pods: (namespace, labelSelector) => [...objects.pods.values()].filter((o): o is FakePod => o.kind === 'Pod' && (!namespace || o.metadata.namespace === namespace) && matchesLabelSelector(o.metadata.labels, labelSelector ?? null)).map(clone),
    podLog: (namespace, name) => logs.get(key(namespace, name)),
    podEnv: (namespace, name) => envs.get(key(namespace, name)),
    get podHistory() {
      return [...podHistory.values()].map(clone);
    },
    setSecret: (namespace, name, data) => void secrets.set(key(namespace, name), { ...data }),
    requests,
    get watchesOpened() {
      return watchesOpened;
    },
    async stop() {
      for (const c of controllers.values()) c.stop();
      await containers?.stop();
      for (const res of watchSockets) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
