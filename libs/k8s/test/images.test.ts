import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { stageRegistry } from '@finevideo/stages';

const root = join(import.meta.dirname, '..', '..', '..');
const images = readdirSync(join(root, 'images'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe('stage images (Dockerfiles parsed with dockerfile-ast)', () => {
  it('every registered stage has an image, and every image a stage', () => {
    assert.deepEqual([...images].sort(), Object.keys(stageRegistry).sort());
    for (const stage of Object.values(stageRegistry)) assert.equal(stage.image, `finevideo/stage-${stage.name}`);
  });

  for (const name of images) {
    it(`images/${name}/Dockerfile: pinned Node 22 base, builds its app, non-root, exec-form entrypoint`, () => {
      const text = readFileSync(join(root, 'images', name, 'Dockerfile'), 'utf8');
      const dockerfile = DockerfileParser.parse(text);
      const instructions = dockerfile.getInstructions();
      const froms = dockerfile.getFROMs();
      assert.ok(froms.length >= 2, 'a build stage and a runtime stage');
      for (const from of froms) assert.match(from.getImageName() + ':' + from.getImageTag(), /^node:22(-slim)?$/);
      const runs = instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getRawArgumentsContent() ?? '');
      assert.ok(runs.some((r) => r.includes(`nx build stage-${name}`)), 'builds the stage app with Nx');
      const afterRuntime = instructions.filter((i) => i.getRange().start.line > froms.at(-1)!.getRange().start.line);
      const user = afterRuntime.filter((i) => i.getKeyword() === 'USER').at(-1);
      assert.ok(user, 'the runtime stage sets USER');
      assert.doesNotMatch(user!.getRawArgumentsContent() ?? '', /^(root|0)(:|$)/);
      const entry = afterRuntime.filter((i) => i.getKeyword() === 'ENTRYPOINT').at(-1);
      assert.ok(entry && /^\[/.test((entry.getRawArgumentsContent() ?? '').trim()), 'ENTRYPOINT in exec form');
      const copies = afterRuntime.filter((i) => i.getKeyword() === 'COPY').map((i) => i.getRawArgumentsContent() ?? '');
      assert.ok(copies.every((c) => c.includes(`dist/apps/stage-${name}`)), 'the runtime stage copies only the bundle');
      assert.ok(existsSync(join(root, 'apps', `stage-${name}`, 'src', 'main.ts')));
    });
  }
});
