import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliAsync, type CliResult } from './helpers.js';

/** Every file under a folder, recursively (the run folder a refused config must not have written). */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('finevideo CLI: exit codes and messages for bad config, paths and usage', function () {
  // Each case starts the real CLI; on a busy machine a start takes seconds.
  this.timeout(900_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-config-errors-'));
    await mkdir(join(dir, 'source'));
    // The first start compiles the launcher (cached by source hash); the parallel cases then reuse it.
    await runCliAsync(['--help']);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const pipeline = async (name: string, yaml: string): Promise<string> => {
    const path = join(dir, `${name}.yaml`);
    await writeFile(path, yaml);
    return path;
  };

  it('usage errors exit 2 (commander alone would exit 1); help exits 0', async () => {
    const good = await pipeline('good', `name: good\nstorage: ${join(dir, 'unused')}\nstages:\n  - stage: ytcommons\n    params: { source: ${join(dir, 'source')} }\n`);
    const cases: [string[], number, RegExp][] = [
      [['run'], 2, /missing required argument 'pipeline\.yaml'/],
      [['nosuch'], 2, /unknown command 'nosuch'/],
      [['run', good, '--bogus'], 2, /unknown option '--bogus'/],
      [['run', good, '--parallelism', '0'], 2, /parallelism: expected a positive integer, got "0"/],
      [['status'], 2, /missing required argument 'run'/],
      [[], 2, /Usage: finevideo/],
      [['--help'], 0, /Usage: finevideo/],
      [['run', '--help'], 0, /Usage: finevideo run/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCliAsync(args)));
    for (const [i, [args, code, message]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, code, `finevideo ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, message, `finevideo ${args.join(' ')}`);
    }
    assert.ok(!existsSync(join(dir, 'unused')), 'a usage error runs nothing');
  });

  it('reports every error of a pipeline file at once, in plain words, with the closest valid name, exit 2', async () => {
    const storage = join(dir, 'bad-storage');
    const path = await pipeline('bad', [
      'name: bad', `storage: ${storage}`, 'executor: { kind: local, paralelism: 2 }', 'stages:',
      `  - stage: ytcommons`, `    params: { source: ${join(dir, 'source')}, sufix: .pq }`,
      '  - stage: worddensity', '    params: { threshold: -1 }',
      '  - stage: worddensity', '    name: wd2', '    itemPerChunk: 10', '    params: { treshold: 1 }',
    ].join('\n'));
    const r = await runCliAsync(['run', path]);
    assert.equal(r.code, 2, r.stderr);
    for (const line of [
      'executor.paralelism: unknown field; did you mean parallelism?',
      'stages[2].itemPerChunk: unknown field; did you mean itemsPerChunk?',
      'stages[0].params.sufix: unknown param; did you mean suffix?',
      'stages[1].params.threshold: expected a number >= 0, got number -1',
      'stages[2].params.treshold: unknown param; did you mean threshold?',
    ]) assert.ok(r.stderr.includes(`  - ${line}\n`), `missing "${line}" in:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /Too small|Unrecognized key/);
    assert.deepEqual(await filesUnder(storage), [], 'nothing is written for a refused config');
  });

  it('a storage or source path that is a file is a sentence naming it, exit 2', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    const source = join(dir, 'source');
    const cases: [string, string, string][] = [
      [file, source, `storage: expected a folder, got a file at ${file}\n`],
      [join(file, 'sub'), source, `storage: expected a folder, got a file at ${file} (a parent of ${join(file, 'sub')})\n`],
      [`file://${file}`, source, `storage: expected a folder, got a file at ${file}\n`],
      [join(dir, 'ok-storage'), file, `source: expected a folder, got a file at ${file}\n`],
      ['s3://', source, 'storage: expected s3://<bucket>[/prefix], got "s3://"\n'],
      ['https://example.com/data', source, 'storage: expected a folder, file:// or s3:// URI, got "https://example.com/data"\n'],
    ];
    const results: CliResult[] = await Promise.all(cases.map(async ([storage, src], i) =>
      runCliAsync(['run', await pipeline(`paths-${i}`, `name: paths\nstorage: ${storage}\nstages:\n  - stage: ytcommons\n    params: { source: ${src} }\n`)])));
    for (const [i, [, , message]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.endsWith(`finevideo: ${message}`), `expected "${message.trim()}", got:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /ENOTDIR|EEXIST|at .*\.js:\d+/);
    }
  });

  it('credentials in any URL param are a config error that never repeats the password, exit 2', async () => {
    const storage = join(dir, 'secret-storage');
    const source = join(dir, 'source');
    const head = `name: secrets\nstorage: ${storage}\n`;
    const ytcommons = `  - stage: ytcommons\n    params: { source: ${source} }\n`;
    const cases: [string, string, RegExp][] = [
      ['pw-s3-endpoint', `${head}s3: { endpoint: "http://minio:pw-s3-endpoint@minio:9000" }\nstages:\n${ytcommons}`, /s3\.endpoint: expected a URL without user:password .*got a URL with credentials \(not shown\)/],
      ['pw-storage', `name: secrets\nstorage: "s3://AKIAX:pw-storage@bucket/x"\nstages:\n${ytcommons}`, /storage: expected a location without user:password .*got a URL with credentials \(not shown\)/],
      ['pw-source', `${head}stages:\n  - stage: ytcommons\n    params: { source: "s3://AKIAX:pw-source@bucket/yt" }\n`, /stages\[0\]\.params\.source: expected a location without user:password .*got a URL with credentials \(not shown\)/],
      ['pw-proxy', `${head}stages:\n${ytcommons}  - stage: download\n    params: { proxy: "http://fv:pw-proxy@proxy:3128" }\n`, /stages\[1\]\.params\.proxy: expected a proxy URL without user:password .*name it in proxyEnv, got a URL with credentials \(not shown\)/],
      ['pw-proxy-bare', `${head}stages:\n${ytcommons}  - stage: download\n    params: { proxy: "fv:pw-proxy-bare@proxy:3128" }\n`, /stages\[1\]\.params\.proxy: expected a proxy URL without user:password/],
      ['pw-template', `${head}stages:\n${ytcommons}  - stage: download\n    params: { sourceUrlTemplate: "https://u:pw-template@videos.example/{id}" }\n`, /stages\[1\]\.params\.sourceUrlTemplate: expected a URL without user:password/],
    ];
    const results = await Promise.all(cases.map(async ([, yaml], i) => runCliAsync(['run', await pipeline(`secrets-${i}`, yaml), '--json'])));
    for (const [i, [password, , message]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.code, 2, `${password}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!(r.stdout + r.stderr).includes(password), `${password} was printed:\n${r.stdout}${r.stderr}`);
    }
    // No run.json (or anything else) records the refused values.
    assert.deepEqual(await filesUnder(storage), []);
  });

  it('a URL param without a scheme is refused when the config is read, exit 2', async () => {
    const path = await pipeline('scheme', `name: scheme\nstorage: ${join(dir, 'scheme-storage')}\ns3: { endpoint: "minio:9000" }\nstages:\n  - stage: ytcommons\n    params: { source: ${join(dir, 'source')} }\n  - stage: download\n    params: { proxy: "proxy:3128" }\n`);
    const r = await runCliAsync(['run', path]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /s3\.endpoint: expected an http:\/\/ or https:\/\/ URL with a host, got "minio:9000"/);
    assert.match(r.stderr, /stages\[1\]\.params\.proxy: expected an http:\/\/, https:\/\/, .*socks5h:\/\/ URL with a host, got "proxy:3128"/);
  });
});
