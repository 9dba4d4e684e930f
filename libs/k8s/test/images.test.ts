import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
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

/** The system tools a stage's code runs, read from its imports of @finevideo/media: any → ffmpeg; runYtDlp → yt-dlp too. */
function toolsOf(stage: string): { ffmpeg: boolean; ytdlp: boolean } {
  const dir = join(root, 'libs', 'stages', 'src', stage);
  const sources = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(dir, f), 'utf8'));
  const imported = sources.flatMap((s) => [...s.matchAll(/import\s+\{([^}]*)\}\s+from\s+'@finevideo\/media'/g)].flatMap((m) => m[1]!.split(',').map((x) => x.trim()).filter((x) => x && !x.startsWith('type '))));
  return { ffmpeg: imported.length > 0, ytdlp: imported.includes('runYtDlp') };
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

  it('pinned Node 22 bases; STAGE is a global build argument that picks the final base', () => {
    const globalArg = instructions.find((i) => i.getKeyword() === 'ARG' && i.getRange().start.line < froms[0]!.getRange().start.line);
    assert.equal(globalArg && args(globalArg), 'STAGE', 'ARG STAGE before the first FROM');
    for (const { from } of buildStages) {
      const image = from.getImage() ?? '';
      if (byName.has(image) || image === 'runtime-${STAGE}') continue;
      assert.equal(`${from.getImageName()}:${from.getImageTag()}`, 'node:22-slim', `FROM ${image}`);
    }
    assert.equal(froms.at(-1)!.getImage(), 'runtime-${STAGE}');
  });

  it('the build stage builds the stage app with Nx; the image copies only its bundle, runs non-root with an exec-form entrypoint', () => {
    const build = byName.get('build');
    assert.ok(build, 'a stage named build');
    assert.ok(build.body.some((i) => i.getKeyword() === 'ARG' && args(i) === 'STAGE'), 'the build stage declares ARG STAGE');
    assert.ok(build.body.some((i) => i.getKeyword() === 'RUN' && args(i).includes('nx build "stage-${STAGE}"')), 'builds stage-${STAGE} with Nx');
    const final = buildStages.at(-1)!;
    assert.ok(final.body.some((i) => i.getKeyword() === 'ARG' && args(i) === 'STAGE'), 'the final stage declares ARG STAGE');
    const copies = final.body.filter((i) => i.getKeyword() === 'COPY').map((i) => i.getTextContent().trim());
    assert.deepEqual(copies, ['COPY --from=build /src/dist/apps/stage-${STAGE}/ ./']);
    const user = final.body.filter((i) => i.getKeyword() === 'USER').at(-1);
    assert.ok(user, 'the final stage sets USER');
    assert.doesNotMatch(args(user), /^(root|0)(:|$)/);
    const entry = final.body.filter((i) => i.getKeyword() === 'ENTRYPOINT').at(-1);
    assert.ok(entry && /^\[/.test(args(entry)), 'ENTRYPOINT in exec form');
  });

  for (const name of stages) {
    it(`stage ${name}: its base has exactly the tools its code runs, and its Nx image target builds images/Dockerfile with STAGE=${name}`, () => {
      assert.ok(existsSync(join(root, 'apps', `stage-${name}`, 'src', 'main.ts')));
      const env = envChain(`runtime-${name}`);
      const tools = toolsOf(name);
      assert.equal(env.has('FFMPEG_PATH') && env.has('FFPROBE_PATH'), tools.ffmpeg, `ffmpeg in runtime-${name}: the stage ${tools.ffmpeg ? 'runs' : 'does not run'} it`);
      assert.equal(env.has('YTDLP_PATH'), tools.ytdlp, `yt-dlp in runtime-${name}: the stage ${tools.ytdlp ? 'runs' : 'does not run'} it`);
      const project = JSON.parse(readFileSync(join(root, 'apps', `stage-${name}`, 'project.json'), 'utf8')) as { targets: { image?: { options?: { command?: string } } } };
      const image = stageRegistry[name as keyof typeof stageRegistry]!.image;
      assert.equal(project.targets.image?.options?.command, `docker build -f ${relative(root, dockerfilePath)} --build-arg STAGE=${name} -t ${image}:dev .`);
    });
  }
});
