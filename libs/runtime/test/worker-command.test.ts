import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledEntryPath, workerCommand, workspaceRoot } from '@finevideo/runtime';

const root = workspaceRoot();
const cacheModule = pathToFileURL(join(root, 'tools', 'build', 'cache.mjs')).href;

/** ensureBuilt in a process of its own (as parallel launchers and tests run it). */
function buildIn(workspace: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { ensureBuilt } from ${JSON.stringify(cacheModule)}; console.log(await ensureBuilt(${JSON.stringify(workspace)}, 'apps/hello'));`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`ensureBuilt exited ${code}: ${err}`))));
  });
}

describe('compiled workers (tools/build/cache.mjs)', function () {
  this.timeout(120_000);
  let workspace: string;
  before(async () => {
    // A workspace of its own: an app importing a library, as the stage apps do.
    workspace = await mkdtemp(join(tmpdir(), 'build-cache-'));
    await mkdir(join(workspace, 'apps', 'hello', 'src'), { recursive: true });
    await mkdir(join(workspace, 'libs', 'greet', 'src'), { recursive: true });
    await writeFile(join(workspace, 'tsconfig.base.json'), JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@x/greet': ['libs/greet/src/index.ts'] } } }));
    await writeFile(join(workspace, 'package-lock.json'), '{}');
    await writeFile(join(workspace, 'libs', 'greet', 'src', 'index.ts'), `export const greeting = (n: number): string => 'hello ' + n;\n`);
    await writeFile(join(workspace, 'apps', 'hello', 'src', 'main.ts'), `import { greeting } from '@x/greet';\nconsole.log(greeting(1));\n`);
  });
  after(() => rm(workspace, { recursive: true, force: true }));

  it('concurrent first builds give one whole entry; a changed library source builds a new one', async () => {
    const paths = await Promise.all([buildIn(workspace), buildIn(workspace), buildIn(workspace), buildIn(workspace)]);
    assert.equal(new Set(paths).size, 1, `one entry for one source hash, got ${paths.join(', ')}`);
    const run = (entry: string) => spawnSync(process.execPath, [entry], { encoding: 'utf8' });
    assert.equal(run(paths[0]!).stdout, 'hello 1\n');
    assert.ok(existsSync(join(paths[0]!, '..', 'bundle.mjs.map')));
    await writeFile(join(workspace, 'libs', 'greet', 'src', 'index.ts'), `export const greeting = (n: number): string => 'hi ' + (n + 1);\n`);
    const rebuilt = await buildIn(workspace);
    assert.notEqual(rebuilt, paths[0]);
    assert.equal(run(rebuilt).stdout, 'hi 2\n');
    assert.equal(await buildIn(workspace), rebuilt, 'unchanged sources reuse the build');
  });

  it('workers run compiled by default in a checkout, and through tsx only with FINEVIDEO_FROM_SOURCE=1', () => {
    const saved = { ...process.env };
    try {
      delete process.env.FINEVIDEO_BUNDLED;
      delete process.env.FINEVIDEO_FROM_SOURCE;
      const compiled = workerCommand('worddensity');
      assert.equal(compiled.command, process.execPath);
      assert.match(compiled.args.join(' '), /\.cache\/build\/stage-worddensity-[0-9a-f]{16}\/main\.mjs$/);
      assert.ok(existsSync(compiled.args[0]!));
      const fromTool = spawnSync(process.execPath, [join(root, 'tools', 'build', 'cache.mjs'), 'apps/stage-worddensity'], { encoding: 'utf8' }).stdout.trim();
      assert.equal(compiledEntryPath(root, 'apps/stage-worddensity'), fromTool, 'the in-process hash is the build tool\'s');
      // Run it: a worker without its environment loads and exits 42 (config), naming what is missing.
      const r = spawnSync(compiled.command, compiled.args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
      assert.equal(r.status, 42, r.stderr);
      assert.match(`${r.stdout}${r.stderr}`, /FINEVIDEO_STAGE/);
      process.env.FINEVIDEO_FROM_SOURCE = '1';
      assert.deepEqual(workerCommand('worddensity').args, ['--import', 'tsx', join(root, 'apps', 'stage-worddensity', 'src', 'main.ts')]);
    } finally {
      process.env = saved;
    }
  });

  it("a compiled worker's start-up bundle holds neither the AWS SDK (a chunk loaded on first s3:// use), zod's translations nor the YAML parser", () => {
    const entry = spawnSync(process.execPath, [join(root, 'tools', 'build', 'cache.mjs'), 'apps/stage-worddensity'], { encoding: 'utf8' }).stdout.trim();
    const dir = join(entry, '..');
    const bundle = readFileSync(join(dir, 'bundle.mjs'), 'utf8');
    for (const [what, marker] of [['the AWS SDK', 'S3Client'], ["zod's German messages", 'Ungültige Eingabe'], ['the YAML parser', 'YAMLParseError']] as const) {
      assert.ok(!bundle.includes(marker), `bundle.mjs should not hold ${what} (found ${JSON.stringify(marker)})`);
    }
    const chunks = readdirSync(dir).filter((f) => /^chunk-.*\.mjs$/.test(f));
    assert.ok(chunks.some((f) => readFileSync(join(dir, f), 'utf8').includes('S3Client')), `a lazily loaded chunk holds the AWS SDK (chunks: ${chunks.join(', ')})`);
  });
});
