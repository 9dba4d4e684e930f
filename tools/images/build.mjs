#!/usr/bin/env node
// Builds stage images from images/Dockerfile with podman or docker (whichever is present), writes an
// OCI archive per image for a registry push step, and prints each image's size against its budget.
//   node tools/images/build.mjs <stage>...   build these stages (the Nx `image` target of apps/stage-<stage>)
//   node tools/images/build.mjs --all        every apps/stage-* app
//   node tools/images/build.mjs --report     sizes of the built images against their budgets
// Environment: FINEVIDEO_IMAGE_ENGINE=podman|docker, FINEVIDEO_YTDLP_SOURCE=pip|debian (default: pip when
// PyPI answers, else Debian's package), FINEVIDEO_IMAGE_TAG (default dev), FINEVIDEO_IMAGE_ARCHIVES=0 (no archives).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BASE = 'docker.io/library/node:22-slim';
const MB = 1e6;
/** Goals from issue 14 (images/budgets.json, which the container test enforces): without ffmpeg <= 200 MB, with ffmpeg <= 400 MB. */
const budgets = JSON.parse(readFileSync(join(root, 'images', 'budgets.json'), 'utf8'));
export const BUDGET_MB = { node: budgets.nodeMB, ffmpeg: budgets.ffmpegMB };
const tag = process.env.FINEVIDEO_IMAGE_TAG ?? 'dev';

const log = (message) => console.log(`== images: ${message}`);
const fail = (message) => {
  console.error(`images: ${message}`);
  process.exit(2);
};

/** Every stage app (apps/stage-<name> with a main.ts): new stages are picked up without a list to edit. */
export function stageApps() {
  return readdirSync(join(root, 'apps'))
    .filter((d) => d.startsWith('stage-') && existsSync(join(root, 'apps', d, 'src', 'main.ts')))
    .map((d) => d.slice('stage-'.length))
    .sort();
}

export const imageName = (stage) => `finevideo/stage-${stage}`;

const works = (command, args) => spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;

/** podman, else docker with a reachable daemon; FINEVIDEO_IMAGE_ENGINE picks one. */
export function detectEngine() {
  const wanted = process.env.FINEVIDEO_IMAGE_ENGINE;
  if (wanted && !['podman', 'docker'].includes(wanted)) fail(`FINEVIDEO_IMAGE_ENGINE: expected podman or docker, got ${JSON.stringify(wanted)}`);
  if ((!wanted || wanted === 'podman') && works('podman', ['--version'])) return 'podman';
  if ((!wanted || wanted === 'docker') && works('docker', ['info'])) return 'docker';
  return undefined;
}

const run = (engine, args) => execFileSync(engine, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const exists = (engine, image) => works(engine, ['image', 'inspect', image]);

/** The base: the engine's copy, else a pull, else the registry-free stand-in of tools/images/base-image.sh. */
function ensureBase(engine) {
  if (exists(engine, BASE)) return;
  log(`${BASE} is not in ${engine}'s store: pulling it`);
  if (spawnSync(engine, ['pull', BASE], { stdio: 'inherit', timeout: 120_000 }).status === 0) return;
  log(`${BASE} cannot be pulled here: building the local stand-in (tools/images/base-image.sh)`);
  const r = spawnSync('bash', [join(root, 'tools', 'images', 'base-image.sh')], { stdio: 'inherit' });
  if (r.status !== 0) fail(`tools/images/base-image.sh failed (exit ${r.status})`);
}

const npmConfig = (key) => {
  try {
    const value = execFileSync('npm', ['config', 'get', key], { encoding: 'utf8', cwd: root }).trim();
    return value && value !== 'null' && value !== 'undefined' && existsSync(value) ? value : undefined;
  } catch {
    return undefined;
  }
};

/** The host's npm configuration and CA bundle (npm's cafile, else NODE_EXTRA_CA_CERTS), for `npm ci` behind a TLS-intercepting proxy: build secrets, never layers. */
export function buildSecrets() {
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  return { npmrc: npmConfig('userconfig'), ca: npmConfig('cafile') ?? (extra && existsSync(extra) ? extra : undefined) };
}

/** pip when PyPI answers (trusting the npm CA too: the same proxy), else Debian's yt-dlp. */
async function ytdlpSource(ca) {
  const wanted = process.env.FINEVIDEO_YTDLP_SOURCE;
  if (wanted) {
    if (!['pip', 'debian'].includes(wanted)) fail(`FINEVIDEO_YTDLP_SOURCE: expected pip or debian, got ${JSON.stringify(wanted)}`);
    return wanted;
  }
  const reachable = await new Promise((resolve) => {
    const req = request('https://pypi.org/simple/yt-dlp/', { method: 'HEAD', timeout: 8000, ca: ca ? [...rootCertificates, readFileSync(ca, 'utf8')] : undefined }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
  log(`yt-dlp source: ${reachable ? 'pip (PyPI answers)' : "Debian's package (PyPI does not answer; FINEVIDEO_YTDLP_SOURCE=pip forces pip)"}`);
  return reachable ? 'pip' : 'debian';
}

function inspect(engine, image) {
  const [info] = JSON.parse(run(engine, ['image', 'inspect', image]));
  const env = info.Config?.Env ?? info.config?.Env ?? [];
  return { bytes: Number(info.Size ?? info.size), ffmpeg: env.some((e) => e.startsWith('FFMPEG_PATH=')) };
}

export function budgetLine(stage, { bytes, ffmpeg }) {
  const budget = ffmpeg ? BUDGET_MB.ffmpeg : BUDGET_MB.node;
  const size = bytes / MB;
  return `${imageName(stage).padEnd(28)} ${size.toFixed(0).padStart(5)} MB  budget ${budget} MB (${ffmpeg ? 'with ffmpeg' : 'Node only'})  ${size <= budget ? 'ok' : `OVER by ${(size - budget).toFixed(0)} MB`}`;
}

function spawnLogged(engine, args) {
  return new Promise((resolve) => {
    // Docker needs BuildKit for RUN --mount=type=secret (the default since Docker 23; older daemons need the switch).
    const child = spawn(engine, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: engine === 'docker' ? { ...process.env, DOCKER_BUILDKIT: '1' } : process.env });
    let output = '';
    const keep = (c) => {
      output += c.toString();
      if (output.length > 400_000) output = output.slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function build(engine, stages) {
  ensureBase(engine);
  const secrets = buildSecrets();
  const empty = mkdtempSync(join(tmpdir(), 'fv-image-secrets-'));
  try {
    // Both secrets are always passed (an empty file when the host has none): the Dockerfile mounts them unconditionally.
    const npmrc = secrets.npmrc ?? join(empty, 'npmrc');
    const ca = secrets.ca ?? join(empty, 'npm-ca');
    for (const f of [npmrc, ca]) if (!existsSync(f)) writeFileSync(f, '');
    log(`npm config ${secrets.npmrc ?? '(none)'} and CA ${secrets.ca ?? '(none)'} as build secrets`);
    const source = await ytdlpSource(secrets.ca);
    const archives = process.env.FINEVIDEO_IMAGE_ARCHIVES !== '0';
    if (archives) mkdirSync(join(root, 'dist', 'images'), { recursive: true });
    for (const stage of stages) {
      if (!stageApps().includes(stage)) fail(`stage: expected one of ${stageApps().join(', ')}, got ${JSON.stringify(stage)}`);
      const image = `${imageName(stage)}:${tag}`;
      const started = Date.now();
      const { code, output } = await spawnLogged(engine, [
        'build', ...(engine === 'podman' ? ['--pull=never'] : []), '-f', 'images/Dockerfile',
        '--build-arg', `STAGE=${stage}`, '--build-arg', `YTDLP_SOURCE=${source}`,
        '--secret', `id=npmrc,src=${npmrc}`, '--secret', `id=npm-ca,src=${ca}`, '-t', image, '.',
      ]);
      if (code !== 0) {
        console.error(output.slice(-20_000));
        fail(`${engine} build of ${image} failed (exit ${code})`);
      }
      const built = (Date.now() - started) / 1000;
      let saved = '';
      if (archives) {
        const t = Date.now();
        const file = join('dist', 'images', `stage-${stage}.oci.tar`);
        rmSync(join(root, file), { force: true });
        run(engine, engine === 'podman' ? ['save', '--format', 'oci-archive', '-o', join(root, file), image] : ['save', '-o', join(root, file), image]);
        saved = `, archive ${file} in ${((Date.now() - t) / 1000).toFixed(0)} s`;
      }
      log(`${image} built in ${built.toFixed(0)} s${saved}`);
      log(budgetLine(stage, inspect(engine, image)));
    }
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

function report(engine) {
  console.log(`Stage image sizes (${engine}, tag ${tag}) against their budgets:`);
  for (const stage of stageApps()) {
    const image = `${imageName(stage)}:${tag}`;
    console.log(exists(engine, image) ? budgetLine(stage, inspect(engine, image)) : `${imageName(stage).padEnd(28)} not built`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.length === 0) fail('usage: build.mjs <stage>... | --all | --report');
  const engine = detectEngine();
  if (!engine) fail('neither podman nor docker (with a running daemon) is available: install podman (apt-get install podman buildah skopeo runc)');
  if (args.includes('--report')) report(engine);
  else await build(engine, args.includes('--all') ? stageApps() : args);
}
