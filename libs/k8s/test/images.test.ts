import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type From, type Instruction } from 'dockerfile-ast';
import { stageRegistry } from '@finevideo/stages';

const root = join(import.meta.dirname, '..', '..', '..');
const stages = Object.keys(stageRegistry).sort();
const dockerfilePath = join(root, 'images', 'Dockerfile');
const dockerfile = DockerfileParser.parse(readFileSync(dockerfilePath, 'utf8'));
const instructions = dockerfile.getInstructions();
const froms = dockerfile.getFROMs();
const args = (i: Instruction) => (i.getRawArgumentsContent() ?? '').trim();

/** The instructions of each build stage (by its name, or its base image when unnamed), in order. */
interface BuildStage { from: From; name: string | undefined; body: Instruction[] }
const buildStages: BuildStage[] = froms.map((from, k) => {
  const start = from.getRange().start.line;
  const end = froms[k + 1]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
  return { from, name: from.getBuildStage() ?? undefined, body: instructions.filter((i) => i.getRange().start.line > start && i.getRange().start.line < end) };
});
const byName = new Map(buildStages.filter((s) => s.name).map((s) => [s.name!, s]));

/** ENV names set along a stage's chain of bases, down to the Node image. */
function envChain(name: string): Set<string> {
  const names = new Set<string>();
  for (let stage = byName.get(name); stage; stage = byName.get(stage.from.getImage() ?? '')) {
    for (const env of stage.body.filter((i) => i.getKeyword() === 'ENV')) for (const m of args(env).matchAll(/(\w+)=/g)) names.add(m[1]!);
  }
  return names;
}

/** The stage names along a base's chain, down to scratch. */
function chain(name: string): string[] {
  const names: string[] = [];
  for (let stage = byName.get(name); stage; stage = byName.get(stage.from.getImage() ?? '')) names.push(stage.name!);
  return names;
}

/**
 * The system tools a stage's code runs, read from its imports of @finevideo/media: any → ffmpeg; runYtDlp → yt-dlp too;
 * and whether it loads resvg's native module (kept outside the bundle).
 */
function toolsOf(stage: string): { ffmpeg: boolean; ytdlp: boolean; resvg: boolean } {
  const read = (d: string) => readdirSync(join(root, 'libs', 'stages', 'src', d), { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(root, 'libs', 'stages', 'src', d, f), 'utf8'));
  const sources = read(stage);
  const imported = sources.flatMap((s) => [...s.matchAll(/import\s+\{([^}]*)\}\s+from\s+'@finevideo\/media'/g)].flatMap((m) => m[1]!.split(',').map((x) => x.trim()).filter((x) => x && !x.startsWith('type '))));
  // A stage made of another stage's folder (export-card: export { ... } from '../export/card.js') loads what that folder loads.
  const linked = new Set(sources.flatMap((s) => [...s.matchAll(/from '\.\.\/([\w-]+)\//g)].map((m) => m[1]!)));
  const resvg = [...sources, ...[...linked].flatMap(read)].some((s) => s.includes("'@resvg/resvg-js'"));
  return { ffmpeg: imported.length > 0, ytdlp: imported.includes('runYtDlp'), resvg };
}

describe('stage images (one Dockerfile with the stage as a build argument, parsed with dockerfile-ast)', () => {
  it('images/Dockerfile is the only Dockerfile: no per-stage copies', () => {
    const found = readdirSync(join(root, 'images'), { recursive: true }).map(String).filter((f) => /(^|\/)Dockerfile/.test(f));
    assert.deepEqual(found, ['Dockerfile']);
  });

  it('every registered stage has a runtime base, and every runtime base a stage', () => {
    const runtimes = [...byName.keys()].filter((n) => n.startsWith('runtime-')).map((n) => n.slice('runtime-'.length)).sort();
    assert.deepEqual(runtimes, stages);
    for (const stage of Object.values(stageRegistry)) assert.equal(stage.image, `finevideo/stage-${stage.name}`);
  });

  it('pinned Node 22 build bases; runtime bases FROM scratch (no shell); STAGE is a global build argument that picks the final base', () => {
    const globalArg = instructions.find((i) => i.getKeyword() === 'ARG' && i.getRange().start.line < froms[0]!.getRange().start.line);
    assert.equal(globalArg && args(globalArg), 'STAGE', 'ARG STAGE before the first FROM');
    for (const { from } of buildStages) {
      const image = from.getImage() ?? '';
      if (byName.has(image) || image === 'runtime-${STAGE}' || image === 'scratch') continue;
      assert.equal(`${from.getImageName()}:${from.getImageTag()}`, 'node:22-slim', `FROM ${image}`);
    }
    assert.equal(froms.at(-1)!.getImage(), 'runtime-${STAGE}');
    for (const name of [...byName.keys()].filter((n) => n.startsWith('runtime-'))) {
      let base = name;
      while (byName.has(byName.get(base)!.from.getImage() ?? '')) base = byName.get(base)!.from.getImage()!;
      assert.equal(byName.get(base)!.from.getImage(), 'scratch', `${name} descends from scratch (through ${base}): no shell, no package manager`);
    }
  });

  it('npm ci runs once for every stage (its stage has no STAGE), with the npm config and CA as build secrets only', () => {
    const deps = byName.get('deps');
    assert.ok(deps, 'a stage named deps');
    assert.ok(!deps.body.some((i) => i.getKeyword() === 'ARG'), 'the deps stage declares no ARG: its cache serves every stage');
    const ci = deps.body.find((i) => i.getKeyword() === 'RUN' && args(i).includes('npm ci'));
    assert.ok(ci, 'the deps stage runs npm ci');
    assert.match(ci.getTextContent(), /--mount=type=secret,id=npmrc,/);
    assert.match(ci.getTextContent(), /--mount=type=secret,id=npm-ca,/);
    for (const i of instructions.filter((x) => ['COPY', 'ADD'].includes(x.getKeyword()))) {
      assert.doesNotMatch(args(i), /npmrc|\.pem\b|\.crt\b|ca-certificates|\.npm\b/, `${i.getTextContent().trim()}: npm configuration and CA files reach the build as secrets, never by COPY`);
    }
    for (const i of instructions.filter((x) => x.getKeyword() === 'ENV')) assert.doesNotMatch(args(i), /NPM_CONFIG|_authToken|npm-ca|NODE_EXTRA_CA_CERTS/, 'no npm settings in an image ENV');
  });

  it('the bundle of a stage is built by its Nx build command; the image copies only that bundle, runs non-root with an exec-form node entrypoint', () => {
    const bundle = byName.get('bundle');
    assert.ok(bundle, 'a stage named bundle');
    assert.ok(bundle.body.some((i) => i.getKeyword() === 'ARG' && args(i) === 'STAGE'), 'the bundle stage declares ARG STAGE');
    const run = bundle.body.find((i) => i.getKeyword() === 'RUN');
    assert.equal(run && args(run), 'node tools/build/bundle.mjs "apps/stage-${STAGE}"');
    const final = buildStages.at(-1)!;
    assert.ok(final.body.some((i) => i.getKeyword() === 'ARG' && args(i) === 'STAGE'), 'the final stage declares ARG STAGE');
    const copies = final.body.filter((i) => i.getKeyword() === 'COPY').map((i) => i.getTextContent().trim());
    assert.deepEqual(copies, ['COPY --from=bundle /src/dist/apps/stage-${STAGE}/ ./']);
    const user = final.body.filter((i) => i.getKeyword() === 'USER').at(-1);
    assert.ok(user, 'the final stage sets USER');
    assert.match(args(user), /^[1-9]\d*:[1-9]\d*$/, 'a non-root uid:gid by number (runAsNonRoot verifies numbers only)');
    const entry = final.body.filter((i) => i.getKeyword() === 'ENTRYPOINT').at(-1);
    assert.ok(entry, 'ENTRYPOINT');
    assert.deepEqual(JSON.parse(args(entry)), ['node', 'main.js'], 'exec form, node itself: no shell between the pod and the worker');
  });

  it('every stage app has an Nx image target (npm run images builds them all)', () => {
    const apps = readdirSync(join(root, 'apps')).filter((d) => d.startsWith('stage-') && existsSync(join(root, 'apps', d, 'project.json'))).sort();
    assert.ok(apps.length >= stages.length, `an app per registered stage at least, got ${apps.join(', ')}`);
    for (const app of apps) {
      const project = JSON.parse(readFileSync(join(root, 'apps', app, 'project.json'), 'utf8')) as { targets: { image?: { options?: { command?: string } }; build?: { options?: { command?: string } } } };
      assert.equal(project.targets.image?.options?.command, `node tools/images/build.mjs ${app.slice('stage-'.length)}`, `${app}: image target`);
      assert.equal(project.targets.build?.options?.command, `node tools/build/bundle.mjs apps/${app}`, `${app}: the build target is the command the bundle stage runs`);
    }
  });

  for (const name of stages) {
    it(`stage ${name}: its base has exactly the tools its code runs, and its Nx image target builds it`, () => {
      assert.ok(existsSync(join(root, 'apps', `stage-${name}`, 'src', 'main.ts')));
      const env = envChain(`runtime-${name}`);
      const tools = toolsOf(name);
      assert.equal(env.has('FFMPEG_PATH') && env.has('FFPROBE_PATH'), tools.ffmpeg, `ffmpeg in runtime-${name}: the stage ${tools.ffmpeg ? 'runs' : 'does not run'} it`);
      assert.equal(env.has('YTDLP_PATH'), tools.ytdlp, `yt-dlp in runtime-${name}: the stage ${tools.ytdlp ? 'runs' : 'does not run'} it`);
      assert.equal(chain(`runtime-${name}`).includes('with-resvg'), tools.resvg, `resvg in runtime-${name}: the stage ${tools.resvg ? 'loads' : 'does not load'} it`);
      const project = JSON.parse(readFileSync(join(root, 'apps', `stage-${name}`, 'project.json'), 'utf8')) as { targets: { image?: { options?: { command?: string } } } };
      assert.equal(project.targets.image?.options?.command, `node tools/images/build.mjs ${name}`);
    });
  }
});
