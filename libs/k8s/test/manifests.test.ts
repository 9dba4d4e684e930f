import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { objectProblems } from '@finevideo/k8s';
import { stageRegistry } from '@finevideo/stages';
import { jobTemplates } from '../../../tools/ci/job-templates.js';

const root = join(import.meta.dirname, '..', '..', '..');
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const hasKubectl = kubectl.status === 0;

/** Skips a test that needs kubectl, saying why (with mocha's forbid-pending, CI fails it instead: bootstrap installs kubectl). */
function needKubectl(ctx: Mocha.Context, what: string): void {
  if (hasKubectl) return;
  console.log(`    (skipped: kubectl is not installed here, so "${what}" cannot run; bash tools/bootstrap.sh test installs it)`);
  ctx.skip();
}

describe('manifests (kustomize, validated like the launcher validates its Jobs)', function () {
  this.timeout(60_000);
  it('the Job templates are what the launcher builder produces today', () => {
    for (const [name, text] of jobTemplates()) {
      assert.equal(readFileSync(join(root, 'manifests', 'jobs', `${name}.yaml`), 'utf8'), text, `manifests/jobs/${name}.yaml is stale: run node --import tsx tools/ci/job-templates.ts`);
    }
  });

  it('secret templates: valid Secrets without values, one for every Secret the manifests and docs reference', () => {
    const dir = join(root, 'manifests', 'secrets');
    const secrets = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8'))[0]!.toJS() as { kind: string; metadata: { name: string }; data?: unknown; stringData?: Record<string, string> });
    for (const secret of secrets) {
      assert.equal(secret.kind, 'Secret');
      assert.deepEqual(objectProblems(secret as unknown as Parameters<typeof objectProblems>[0]), [], secret.metadata.name);
      assert.equal(secret.data, undefined, `${secret.metadata.name}: no encoded data`);
      assert.ok(Object.values(secret.stringData ?? {}).every((v) => v === ''), `${secret.metadata.name}: keys only, no values`);
    }
    const referenced = new Set<string>();
    for (const file of ['base/tgi.yaml', 'base/pipeline-config.yaml', 'secrets/README.md']) {
      const text = readFileSync(join(root, 'manifests', file), 'utf8');
      for (const m of text.matchAll(/secretKeyRef: \{ name: ([\w-]+)|secretEnvFrom: \[([\w-]+)\]|create secret generic ([\w-]+)/g)) referenced.add(m[1] ?? m[2] ?? m[3]!);
    }
    assert.ok(referenced.size >= 3, [...referenced].join());
    assert.deepEqual(secrets.map((x) => x.metadata.name).sort(), [...referenced].sort());
  });

  for (const overlay of ['local-cpu', 'gke-gpu', 'eks-gpu']) {
    it(`overlays/${overlay} builds with kubectl kustomize and every object validates`, function () {
      needKubectl(this, `kubectl kustomize manifests/overlays/${overlay}`);
      const r = spawnSync('kubectl', ['kustomize', join(root, 'manifests', 'overlays', overlay)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } });
      const kinds = objects.map((o) => o.kind);
      for (const k of ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment', 'Service']) assert.ok(kinds.includes(k), `${overlay} has a ${k}`);
      assert.ok(!kinds.includes('Job'), 'applying an overlay starts no Job');
      assert.ok(!kinds.includes('Secret'), 'no Secret objects: they are created by hand, never shipped with values');
      for (const o of objects) {
        assert.deepEqual(objectProblems(o), [], `${o.kind}/${o.metadata.name}`);
        if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'finevideo');
      }
      const role = objects.find((o) => o.kind === 'Role') as unknown as { rules: { resources: string[] }[] };
      assert.deepEqual(role.rules.flatMap((x) => x.resources).sort(), ['jobs', 'pods', 'pods/log']);
      const tgi = objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { replicas: number; template: { spec: { nodeSelector?: Record<string, string> } } } };
      if (overlay === 'local-cpu') assert.equal(tgi.spec.replicas, 0);
      else assert.ok(Object.keys(tgi.spec.template.spec.nodeSelector ?? {}).length > 0, 'TGI is pinned to the GPU pool');
    });
  }

  it('the Job templates build with kubectl kustomize and validate', function () {
    needKubectl(this, 'kubectl kustomize manifests/jobs');
    const r = spawnSync('kubectl', ['kustomize', join(root, 'manifests', 'jobs')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const jobs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; labels: Record<string, string> } });
    const jobNames = jobs.filter((j) => j.kind === 'Job').map((j) => j.metadata.labels['app.kubernetes.io/component']).sort();
    assert.deepEqual(jobNames, Object.keys(stageRegistry).map((type) => `stage-${type}`).sort(), 'one Job template per registered stage');
    for (const j of jobs) assert.deepEqual(objectProblems(j), [], j.metadata.name);
  });

  it('catches an unknown field in a manifest', () => {
    assert.match(objectProblems({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selectr: {} } } as never).join(), /unknown field "selectr"/);
  });
});

describe('the vision model Deployment (vLLM, manifests/base/vision-model.yaml)', function () {
  this.timeout(60_000);
  interface Probe { httpGet?: { path: string; port: string | number }; periodSeconds?: number; failureThreshold?: number }
  interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }
  interface Container {
    name: string; image: string; command?: string[]; args?: string[]; env?: EnvVar[]; ports?: { name?: string; containerPort: number }[];
    startupProbe?: Probe; readinessProbe?: Probe; livenessProbe?: Probe;
    resources: { requests?: Record<string, string>; limits?: Record<string, string> };
    volumeMounts?: { name: string; mountPath: string }[];
  }
  interface Rendered { kind: string; metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string>; spec?: Record<string, unknown> }

  function render(overlay: string): Rendered[] {
    const r = spawnSync('kubectl', ['kustomize', join(root, 'manifests', 'overlays', overlay)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return parseAllDocuments(r.stdout).map((d) => d.toJS() as Rendered);
  }
  const find = (objects: Rendered[], kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(found, `expected ${kind}/${name} in the render, got ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
    return found;
  };

  for (const overlay of ['local-cpu', 'gke-gpu', 'eks-gpu']) {
    it(`overlays/${overlay}: renders it with /health probes, the model from its ConfigMap and HF_TOKEN from the Secret by reference`, function () {
      needKubectl(this, `kubectl kustomize manifests/overlays/${overlay}`);
      const objects = render(overlay);
      const deployment = find(objects, 'Deployment', 'vision-model');
      const config = find(objects, 'ConfigMap', 'finevideo-vision-model');
      const service = find(objects, 'Service', 'vision-model');
      find(objects, 'PersistentVolumeClaim', 'vision-model-cache');
      assert.equal(config.data?.['model-id'], 'Qwen/Qwen2-VL-7B-Instruct', 'the default model');

      const spec = deployment.spec as { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { nodeSelector?: Record<string, string>; tolerations?: unknown[]; containers: Container[]; volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] } } };
      const pod = spec.template.spec;
      const [vllm] = pod.containers;
      assert.ok(vllm && pod.containers.length === 1);
      assert.match(vllm.image, /^vllm\/vllm-openai:v\d+\.\d+/, 'a pinned vLLM OpenAI-server image');
      assert.deepEqual(vllm.command, ['vllm', 'serve']);

      // Probes: all on /health of the named port vLLM listens on; the startup probe covers a slow weight download.
      const port = vllm.ports?.find((p) => p.name === 'http');
      assert.ok(port, 'a port named http');
      assert.ok(vllm.args?.includes(`--port=${port.containerPort}`), `vLLM listens on the probed port ${port.containerPort}: ${vllm.args?.join(' ')}`);
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
        assert.deepEqual(vllm[kind]?.httpGet, { path: '/health', port: 'http' }, kind);
      }
      const startupBudget = (vllm.startupProbe!.periodSeconds ?? 10) * (vllm.startupProbe!.failureThreshold ?? 3);
      assert.ok(startupBudget >= 20 * 60, `startup probe allows ${startupBudget} s; loading weights needs >= 20 min`);
      const livenessBudget = (vllm.livenessProbe!.periodSeconds ?? 10) * (vllm.livenessProbe!.failureThreshold ?? 3);
      assert.ok(livenessBudget >= 60, `liveness tolerates ${livenessBudget} s of a busy server`);

      // Environment: every $(VAR) the args use is defined; config keys exist; the token only by reference.
      const env = new Map((vllm.env ?? []).map((e) => [e.name, e]));
      for (const arg of vllm.args ?? []) {
        for (const m of arg.matchAll(/\$\((\w+)\)/g)) assert.ok(env.has(m[1]!), `${arg}: ${m[1]} is not in env`);
      }
      assert.equal(vllm.args?.[0], '$(MODEL_ID)');
      for (const e of env.values()) {
        const ref = e.valueFrom?.configMapKeyRef;
        if (ref) assert.ok(ref.name === config.metadata.name && config.data?.[ref.key] !== undefined, `${e.name}: ${ref.name}/${ref.key} exists`);
      }
      assert.deepEqual(env.get('HF_TOKEN'), { name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'finevideo-hf', key: 'token' } } });
      assert.ok(!(vllm.env ?? []).some((e) => /token|key|secret/i.test(e.name) && e.value !== undefined), 'no credential as a literal value');

      // GPUs: requested = limited = tensor-parallel size; the cache is the rendered PVC; shared memory for NCCL.
      assert.equal(vllm.resources.requests?.['nvidia.com/gpu'], vllm.resources.limits?.['nvidia.com/gpu']);
      assert.equal(vllm.resources.limits?.['nvidia.com/gpu'], config.data?.['tensor-parallel-size']);
      assert.ok(pod.volumes.some((v) => v.persistentVolumeClaim?.claimName === 'vision-model-cache'));
      assert.ok(vllm.volumeMounts?.some((m) => m.mountPath === '/dev/shm'));

      // The Service reaches these pods on that port.
      const serviceSpec = service.spec as { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
      for (const [k, v] of Object.entries(serviceSpec.selector)) assert.equal(spec.template.metadata.labels[k], v, `selector ${k}`);
      assert.deepEqual(serviceSpec.ports.map((p) => [p.port, p.targetPort]), [[80, 'http']]);

      if (overlay === 'local-cpu') {
        assert.equal(spec.replicas, 0, 'no GPU locally: scaled to zero');
        assert.equal(pod.nodeSelector, undefined);
      } else {
        assert.ok(spec.replicas >= 1);
        const selector = pod.nodeSelector ?? {};
        assert.ok(Object.keys(selector).length > 0 && !('finevideo.dev/pool' in selector), `pinned to the ${overlay} GPU nodes: ${JSON.stringify(selector)}`);
        assert.ok(pod.tolerations?.length, 'tolerates the GPU taint');
      }
    });
  }

  it('references only Secrets that have a template in manifests/secrets', () => {
    const text = readFileSync(join(root, 'manifests', 'base', 'vision-model.yaml'), 'utf8');
    const referenced = [...text.matchAll(/secretKeyRef: \{ name: ([\w-]+)/g)].map((m) => m[1]!);
    assert.deepEqual(referenced, ['finevideo-hf']);
    const templates = readdirSync(join(root, 'manifests', 'secrets')).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));
    for (const name of referenced) assert.ok(templates.includes(name), `${name} has a template`);
  });
});
