import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, lstatSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubernetesExecutorSchema, type Row } from '@finevideo/core';
import { stageRows } from '@finevideo/runtime';
import { openStore } from '@finevideo/storage';
import { stageRegistry } from '@finevideo/stages';
import { generateVideo, startVideoServer, type VideoServer } from '@finevideo/demo';
import { containerEngineAvailable, generateYtCommonsShards, memoryBytes, podmanRunArgs, startFakeKubernetes, startS3rver, type FakeKubernetes, type FakePod } from '@finevideo/testing';
import { buildStageJobs } from '../src/index.js';
import { runCli } from './cli.js';

const podman = containerEngineAvailable('podman');
/** CI builds the images before the tests (tools/bootstrap.sh test) and sets this: a missing image fails there. */
const requireImages = process.env.FINEVIDEO_REQUIRE_IMAGES === '1';
const TAG = process.env.FINEVIDEO_IMAGE_TAG ?? 'dev';
const imageOf = (stage: string) => `localhost/finevideo/stage-${stage}:${TAG}`;
const hasImage = (image: string) => spawnSync('podman', ['image', 'exists', image]).status === 0;

/**
 * Says loudly why a container test does not run, and whether it may return (mocha forbids pending
 * tests). With FINEVIDEO_REQUIRE_IMAGES=1 nothing may be missing, podman included: the test fails.
 */
function cannotRun(images: string[]): boolean {
  if (!podman) {
    const message = 'podman is not installed, so no container runs here. CI installs it (tools/bootstrap.sh test): apt-get install podman buildah skopeo runc';
    if (requireImages) assert.fail(`FINEVIDEO_REQUIRE_IMAGES=1: expected podman and the images, got no podman: ${message}`);
    console.log(`\n  !!! SKIPPED: ${message}\n`);
    return true;
  }
  const missing = images.filter((i) => !hasImage(i));
  if (!missing.length) return false;
  const message = `images not built: ${missing.join(', ')} (npm run images builds them)`;
  if (requireImages) assert.fail(`FINEVIDEO_REQUIRE_IMAGES=1: expected the images, got ${message}`);
  console.log(`\n  !!! SKIPPED: ${message}\n`);
  return true;
}

function podmanJson<T>(args: string[]): T {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

describe('container pod runner: the pod spec as podman run arguments', () => {
  const config = kubernetesExecutorSchema.parse({ kind: 'kubernetes', registry: 'localhost/finevideo', tag: 'dev', secretEnv: [{ env: 'AWS_SECRET_ACCESS_KEY', secret: 's3', key: 'secret' }] });
  const job = buildStageJobs({ runId: 'r1', storage: 's3://b/p', stageName: 'worddensity', stageType: 'worddensity', image: 'finevideo/stage-worddensity', resources: { cpu: '500m', memory: '512Mi' }, chunkCount: 2, indexes: [0, 1], attempt: 1, env: {} } as Parameters<typeof buildStageJobs>[0], config)[0]!;
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p-0-abcde', namespace: 'finevideo' }, spec: (job as unknown as { spec: { template: { spec: unknown } } }).spec.template.spec, status: { phase: 'Pending' } } as unknown as FakePod;
  const mapped = podmanRunArgs(pod, 'fv-pod-p', ['FINEVIDEO_STORAGE', 'AWS_SECRET_ACCESS_KEY', 'TMPDIR'], () => '1000:1000');

  it('the Job builder\'s pod: non-root user, read-only root without extra tmpfs, /tmp emptyDir as tmpfs, limits, no privileges, host network', () => {
    assert.ok(!('error' in mapped));
    const args = mapped.args.join(' ');
    assert.match(args, /--user 1000:1000/);
    assert.match(args, /--group-add 1000/);
    assert.match(args, /--read-only --read-only-tmpfs=false/);
    assert.match(args, /--tmpfs \/tmp:rw,mode=1777/);
    assert.match(args, new RegExp(`--memory ${memoryBytes('512Mi')} --memory-swap ${512 * 2 ** 20}`));
    assert.match(args, /--cpus 0\.5/);
    assert.match(args, /--cap-drop ALL/);
    assert.match(args, /--security-opt no-new-privileges/);
    assert.match(args, /--network=host/);
    assert.match(args, /--pull=never/);
    assert.equal(mapped.args.at(-1), 'localhost/finevideo/stage-worddensity:dev', 'no command or args: the image\'s entrypoint runs');
    // Values come from the engine's environment: a Secret's value is never on a command line.
    assert.match(args, /--env FINEVIDEO_STORAGE --env AWS_SECRET_ACCESS_KEY/);
    assert.deepEqual(mapped.inline, ['TMPDIR'], 'a name the engine itself reads goes inline');
  });

  it('command replaces the entrypoint, args follow the image; runAsNonRoot refuses a root image; other volume kinds are refused', () => {
    const withCommand = structuredClone(pod);
    Object.assign(withCommand.spec.containers[0]!, { command: ['node', '-e'], args: ['process.exit(3)'] });
    const r = podmanRunArgs(withCommand, 'n', [], () => '1000');
    assert.ok(!('error' in r));
    assert.deepEqual(r.args.slice(r.args.indexOf('--entrypoint'), r.args.indexOf('--entrypoint') + 2), ['--entrypoint', '["node","-e"]']);
    assert.deepEqual(r.args.slice(-2), ['localhost/finevideo/stage-worddensity:dev', 'process.exit(3)']);
    const rootImage = structuredClone(pod);
    delete (rootImage.spec as { securityContext?: unknown }).securityContext;
    (rootImage.spec.containers[0] as { securityContext?: unknown }).securityContext = { runAsNonRoot: true };
    assert.deepEqual(podmanRunArgs(rootImage, 'n', [], () => ''), { error: 'container has runAsNonRoot and image will run as root' });
    assert.deepEqual(podmanRunArgs(rootImage, 'n', [], () => 'node'), { error: 'container has runAsNonRoot and image has non-numeric user (node), cannot verify user is non-root' });
    const hostPath = structuredClone(pod);
    hostPath.spec.volumes = [{ name: 'scratch', hostPath: { path: '/' } }];
    assert.match((podmanRunArgs(hostPath, 'n', [], () => '1000') as { error: string }).error, /emptyDir volumes only, got hostPath/);
  });

  it('memory quantities in bytes, as the kubelet reads them', () => {
    assert.equal(memoryBytes('512Mi'), 536870912);
    assert.equal(memoryBytes('1G'), 1e9);
    assert.equal(memoryBytes('1.5Gi'), 1610612736);
    assert.throws(() => memoryBytes('lots'), /expected a number with an optional unit .*got "lots"/);
  });
});

/** Every file under dir (no symlinks followed). */
function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) yield* files(path);
    else if (st.isFile()) yield path;
  }
}

/** The PEM bodies of the machine's own CA certificates (what a TLS-intercepting proxy adds; Debian's bundle has none of them). */
function localCaMarkers(): string[] {
  const dir = '/usr/local/share/ca-certificates';
  if (!existsSync(dir)) return [];
  return [...files(dir)].flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END/g)].map((m) => m[1]!.replace(/\s+/g, '').slice(64, 128)));
}

describe('stage images: security posture (podman)', function () {
  this.timeout(600_000);
  const stages = Object.keys(stageRegistry).sort();

  it('every stage image runs as a non-root uid, starts on a read-only root filesystem, has node (no shell) as its entrypoint, and carries no npm configuration or CA from the build', async () => {
    if (cannotRun(stages.map(imageOf))) return;
    const npmCa = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].filter((f): f is string => !!f && existsSync(f));
    const caHashes = new Set(npmCa.map((f) => createHash('sha256').update(readFileSync(f)).digest('hex')));
    const caSizes = new Set(npmCa.map((f) => readFileSync(f).length));
    const markers = localCaMarkers();
    for (const stage of stages) {
      const image = imageOf(stage);
      const [info] = podmanJson<{ Config: { User?: string; Entrypoint?: string[]; Cmd?: string[] } }[]>(['image', 'inspect', image]);
      assert.match(info!.Config.User ?? '', /^[1-9]\d*(:\d+)?$/, `${image}: USER is a non-zero uid by number`);
      assert.deepEqual(info!.Config.Entrypoint, ['node', 'main.js'], `${image}: the entrypoint is node itself`);
      // Started as Kubernetes would start it: read-only root, nothing else writable, no environment.
      const run = spawnSync('podman', ['run', '--rm', '--pull=never', '--read-only', '--read-only-tmpfs=false', '--network=none', image], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(run.status, 42, `${image}: the worker starts and refuses the missing environment (exit 42): ${run.stdout}${run.stderr}`);
      assert.match(run.stdout + run.stderr, /invalid worker environment/);
      const uid = spawnSync('podman', ['run', '--rm', '--pull=never', '--read-only', '--read-only-tmpfs=false', '--network=none', '--entrypoint', '["node","-p","process.getuid()"]', image], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(uid.stdout.trim(), info!.Config.User!.split(':')[0], `${image}: runs as its USER`);
      const shell = spawnSync('podman', ['run', '--rm', '--pull=never', '--network=none', '--entrypoint', '["/bin/sh","-c","true"]', image], { encoding: 'utf8', timeout: 120_000 });
      assert.notEqual(shell.status, 0, `${image}: has no /bin/sh`);
      // The files: no npm configuration, cache or credentials, no CA file of the build, no certificate of the machine's own CAs.
      const mounted = spawnSync('podman', ['image', 'mount', image], { encoding: 'utf8' });
      assert.equal(mounted.status, 0, `podman image mount ${image} (needs root): ${mounted.stderr}`);
      const dir = mounted.stdout.trim();
      try {
        for (const file of files(dir)) {
          const rel = file.slice(dir.length);
          assert.doesNotMatch(rel, /(^|\/)(\.?npmrc|_cacache|\.npm)(\/|$)/, `${image}: ${rel}`);
          assert.doesNotMatch(rel, /^\/run\/secrets\//, `${image}: ${rel}`);
          const size = lstatSync(file).size;
          if (caSizes.has(size)) assert.ok(!caHashes.has(createHash('sha256').update(readFileSync(file)).digest('hex')), `${image}: ${rel} is the build's CA bundle`);
        }
        if (markers.length) {
          const grep = spawnSync('grep', ['-rlF', ...markers.flatMap((m) => ['-e', m]), dir], { encoding: 'utf8' });
          assert.equal(grep.stdout.trim(), '', `${image}: files holding a certificate of the machine's own CAs`);
        }
      } finally {
        spawnSync('podman', ['image', 'unmount', image]);
      }
    }
  });

  it('every stage image is within its size budget (images/budgets.json: Node only, or with ffmpeg)', () => {
    if (cannotRun(stages.map(imageOf))) return;
    const budgets = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'images', 'budgets.json'), 'utf8')) as { nodeMB: number; ffmpegMB: number };
    const over: string[] = [];
    for (const stage of stages) {
      const image = imageOf(stage);
      const [info] = podmanJson<{ Size: number; Config: { Env?: string[] } }[]>(['image', 'inspect', image]);
      const ffmpeg = (info!.Config.Env ?? []).some((e) => e.startsWith('FFMPEG_PATH='));
      const budget = ffmpeg ? budgets.ffmpegMB : budgets.nodeMB;
      const mb = info!.Size / 1e6;
      if (mb > budget) over.push(`${image}: ${mb.toFixed(0)} MB, budget ${budget} MB (${ffmpeg ? 'with ffmpeg' : 'Node only'})`);
    }
    assert.deepEqual(over, [], 'expected every image within its budget, got these over it');
  });
});

async function tableRows(store: ReturnType<typeof openStore>, run: string, stage: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of stageRows(store, run, stage)) rows.push(r);
  return rows;
}

describe('finevideo --executor kubernetes with pods as real containers (podman, s3rver on loopback)', function () {
  this.timeout(1_800_000);
  const demoStages = ['ytcommons', 'worddensity', 'download', 'dynamism', 'classify', 'select'];
  let skip = false;
  let dir: string;
  let fake: FakeKubernetes;
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let videos: VideoServer;
  let kubeEnv: NodeJS.ProcessEnv;
  let s3Env: NodeJS.ProcessEnv;
  const s3Options = () => ({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
  const store = (prefix: string) => openStore(`s3://fv-containers/${prefix}`, s3Options());

  /** The demo pipeline from ytcommons through select, on s3rver, with the given executor. */
  const pipeline = async (name: string, prefix: string, stages: string[], executor: string) => {
    const path = join(dir, `${name}.yaml`);
    const params: Record<string, string> = {
      ytcommons: `{ source: "s3://fv-containers/shards" }`,
      worddensity: '{ threshold: 0.5 }',
      download: `{ sourceUrlTemplate: "${videos.template}", retries: 1, retryBaseDelayMs: 200, concurrency: 2 }`,
      dynamism: '{ mode: full }',
      classify: '{ method: lexical-baseline }',
      select: '{ targetHours: 0.5, maxDurationSeconds: 600, seed: 42 }',
    };
    await writeFile(path, [
      `name: ${name}`,
      `storage: s3://fv-containers/${prefix}`,
      `s3: { endpoint: "${s3.endpoint}", region: us-east-1, forcePathStyle: true }`,
      executor,
      'stages:',
      ...stages.flatMap((s) => [`  - stage: ${s}`, `    params: ${params[s]}`, ...(s === 'ytcommons' ? ['    errorPolicy: { maxStageShare: 0.5 }', '    chunks: 3'] : s === 'worddensity' ? ['    chunks: 2'] : ['    itemsPerChunk: 4'])]),
    ].join('\n'));
    return path;
  };
  const kubernetes = [
    'executor:',
    '  kind: kubernetes',
    '  namespace: fvc',
    '  registry: localhost/finevideo',
    `  tag: ${TAG}`,
    '  parallelism: 2',
    '  backoffLimitPerIndex: 1',
    '  secretEnv:',
    '    - { env: AWS_ACCESS_KEY_ID, secret: s3-creds, key: id }',
    '    - { env: AWS_SECRET_ACCESS_KEY, secret: s3-creds, key: secret }',
  ].join('\n');

  before(async () => {
    skip = cannotRun(demoStages.map(imageOf));
    if (skip) return;
    dir = await mkdtemp(join(tmpdir(), 'fv-containers-'));
    s3 = await startS3rver({ buckets: ['fv-containers'] });
    s3Env = { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY };
    Object.assign(process.env, s3Env);
    // The sample on s3rver (a container sees no host folder): 3 shards of 5 rows and one unreadable shard.
    const shards = join(dir, 'shards');
    const sample = await generateYtCommonsShards(shards, { shards: 3, rowsPerShard: 5, seed: 2024, averageTextBytes: 3000, corruptShard: true });
    const source = store('shards');
    for (const f of await readdir(shards)) await source.put(f, await readFile(join(shards, f)));
    videos = await startVideoServer();
    for (const [k, id] of sample.english.entries()) {
      const file = join(dir, `${id}.mp4`);
      await generateVideo(file, k % 3 === 0 ? { sections: [{ kind: 'motion', seconds: 2 }, { kind: 'still', seconds: 10 }], fps: 4, audio: true } : { sections: [{ kind: 'motion', seconds: 8 + k }], fps: 4, audio: true });
      videos.addVideo(id, file);
    }
    fake = await startFakeKubernetes({ containers: true });
    fake.setSecret('fvc', 's3-creds', { id: s3.env.AWS_ACCESS_KEY_ID!, secret: s3.env.AWS_SECRET_ACCESS_KEY! });
    kubeEnv = { KUBECONFIG: await fake.kubeconfigPath(dir) };
    const local = await runCli(['run', await pipeline('local', 'local', demoStages, 'executor: { kind: local, parallelism: 2, retries: 1 }'), '--run-id', 'local-1'], s3Env);
    assert.equal(local.code, 0, local.stderr + local.stdout);
  });
  after(async () => {
    await fake?.stop();
    await videos?.close();
    await s3?.stop();
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) delete process.env[k];
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the demo pipeline (ytcommons through select) gives exactly the local executor\'s tables', async () => {
    if (skip) return;
    // The launcher has no storage credentials of its own to give: the pods get them from the Secret.
    const r = await runCli(['run', await pipeline('k8s', 'k8s', demoStages, kubernetes), '--run-id', 'k8s-1'], { ...kubeEnv, ...s3Env });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const stage of demoStages) {
      const a = await tableRows(store('local'), 'local-1', stage);
      const b = await tableRows(store('k8s'), 'k8s-1', stage);
      assert.ok(a.length > 0, `${stage}: the local run has rows`);
      assert.deepEqual(b, a, `${stage}: identical rows in identical order`);
    }
    const pods = fake.podHistory.filter((p) => p.metadata.labels?.['finevideo.dev/run'] === 'k8s-1');
    assert.ok(pods.length >= demoStages.length && pods.every((p) => p.status.phase === 'Succeeded'), 'every pod ran to success as a container');
    assert.ok(pods.every((p) => fake.podEnv('fvc', p.metadata.name)?.PATH === undefined), 'a container gets its image\'s PATH, not the host\'s');
  });

  it('a container killed mid-chunk (podman kill) is retried: the run succeeds with the same tables', async () => {
    if (skip) return;
    const stages = ['ytcommons', 'worddensity'];
    const running = runCli(['run', await pipeline('kill', 'kill', stages, kubernetes), '--run-id', 'k8s-kill'], { ...kubeEnv, ...s3Env });
    let killed: FakePod | undefined;
    for (let i = 0; i < 2400 && !killed; i++) {
      const pod = fake.pods('fvc', 'finevideo.dev/run=k8s-kill').find((p) => p.status.phase === 'Running');
      if (pod && spawnSync('podman', ['kill', '--signal', 'KILL', `fv-pod-${pod.metadata.name}`]).status === 0) killed = pod;
      else await sleep(25);
    }
    assert.ok(killed, 'a running container was killed');
    const r = await running;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const ended = fake.podHistory.find((p) => p.metadata.name === killed!.metadata.name)!;
    assert.equal(ended.status.phase, 'Failed');
    assert.equal(ended.status.containerStatuses?.[0]?.state.terminated?.exitCode, 137, 'SIGKILL: exit code 137');
    const index = killed.metadata.labels?.['batch.kubernetes.io/job-completion-index'];
    const job = killed.metadata.labels?.['job-name'];
    const retried = fake.podHistory.filter((p) => p.metadata.labels?.['job-name'] === job && p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] === index);
    assert.deepEqual(retried.map((p) => p.status.phase).sort(), ['Failed', 'Succeeded'], 'the killed index ran again and succeeded');
    for (const stage of stages) assert.deepEqual(await tableRows(store('kill'), 'k8s-kill', stage), await tableRows(store('local'), 'local-1', stage), `${stage}: same table`);
  });

  it('a container over its memory limit is OOMKilled, and the launcher\'s failure summary says so', async () => {
    if (skip) return;
    // A LimitRange-like fault: every ytcommons pod of this run gets 24 MiB, less than Node needs to start.
    fake.faults.memoryLimit({ job: (j) => j.metadata.labels?.['finevideo.dev/run'] === 'k8s-oom', memory: '24Mi' });
    const r = await runCli(['run', await pipeline('oom', 'oom', ['ytcommons'], kubernetes), '--run-id', 'k8s-oom'], { ...kubeEnv, ...s3Env });
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /ytcommons: \d+ chunk\(s\) failed/);
    assert.match(r.stdout, /index \d+ of job \S+ failed \(last pod: OOMKilled, exit code 137\)/);
    const pods = fake.podHistory.filter((p) => p.metadata.labels?.['finevideo.dev/run'] === 'k8s-oom');
    assert.ok(pods.length > 0 && pods.every((p) => p.status.containerStatuses?.[0]?.state.terminated?.reason === 'OOMKilled'), 'every pod ended OOMKilled');
  });
});
