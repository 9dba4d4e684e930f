import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { objectProblems } from '@finevideo/k8s';
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
    const jobs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    assert.equal(jobs.filter((j) => j.kind === 'Job').length, 6, 'one Job template per stage');
    for (const j of jobs) assert.deepEqual(objectProblems(j), [], j.metadata.name);
  });

  it('catches an unknown field in a manifest', () => {
    assert.match(objectProblems({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selectr: {} } } as never).join(), /unknown field "selectr"/);
  });
});
