import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore, openStore, writeParquetRows } from '@finevideo/storage';
import { startS3rver, type S3rverHandle } from '@finevideo/testing';
import { keptYtCommonsRow, runCliAsync } from './helpers.js';

/**
 * A run on an S3-compatible store is resumed, inspected and explored with the commands it printed,
 * with no endpoint in the environment: the launcher records the storage settings in run.json, keeps
 * them for that storage on this machine, and prints them as flags for another machine. Every host
 * name the launcher and its workers look up is logged (a preloaded dns.lookup hook): none is AWS's.
 */
describe('run storage settings: the printed commands reach the run (s3rver, no AWS_ENDPOINT_URL_S3)', function () {
  this.timeout(300_000);
  let dir: string;
  let s3: S3rverHandle;
  let credentials: NodeJS.ProcessEnv;
  const lookups = () => (existsSync(join(dir, 'lookups.log')) ? readFileSync(join(dir, 'lookups.log'), 'utf8') : '');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-run-storage-'));
    s3 = await startS3rver({ buckets: ['runs'] });
    const shards = new FileStore(join(dir, 'shards'));
    await writeParquetRows(shards, 'part-0.parquet', Array.from({ length: 12 }, (_, i) => keptYtCommonsRow(0, i)));
    await writeFile(join(dir, 'lookups.mjs'), [
      "import dns from 'node:dns';",
      "import { appendFileSync } from 'node:fs';",
      'const lookup = dns.lookup;',
      `dns.lookup = function (host, ...rest) { appendFileSync(${JSON.stringify(join(dir, 'lookups.log'))}, host + '\\n'); return lookup.call(this, host, ...rest); };`,
    ].join('\n'));
    const { AWS_ENDPOINT_URL_S3: _e, FINEVIDEO_S3_FORCE_PATH_STYLE: _p, AWS_REGION: _r, ...secrets } = s3.env;
    credentials = {
      ...secrets, AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined, AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined, FINEVIDEO_S3_FORCE_PATH_STYLE: undefined, NODE_OPTIONS: `--import ${join(dir, 'lookups.mjs')}`,
    };
  });
  after(async () => {
    await s3.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const machine = (name: string): NodeJS.ProcessEnv => ({ ...credentials, FINEVIDEO_CONFIG_DIR: join(dir, `config-${name}`) });

  it('run with the endpoint only in the environment: status, resume and render as printed, here and on another machine', async () => {
    const path = join(dir, 'p.yaml');
    await writeFile(path, [
      'name: st', 'storage: s3://runs/fv', 'executor: { kind: local, parallelism: 1, retries: 0 }', 'stages:',
      `  - stage: ytcommons`, `    params: { source: ${join(dir, 'shards')} }`, '    chunks: 2',
      '  - stage: worddensity', '    params: { threshold: 0.5 }', '    chunks: 1',
    ].join('\n'));
    // Created with the endpoint in the environment only (as a user with AWS_ENDPOINT_URL_S3 set would).
    const created = await runCliAsync(['run', path, '--run-id', 'st-1', '--until', 'ytcommons'],
      { ...machine('a'), AWS_ENDPOINT_URL_S3: s3.endpoint, FINEVIDEO_S3_FORCE_PATH_STYLE: '1', AWS_REGION: 'us-east-1' });
    assert.equal(created.code, 0, created.stderr + created.stdout);
    const printed = /^status: finevideo (status .*)$/m.exec(created.stdout)?.[1];
    assert.equal(printed, `status s3://runs/fv/runs/st-1 --s3-endpoint ${s3.endpoint} --s3-region us-east-1 --s3-path-style`, created.stdout);

    // run.json records where the store is, never the credentials.
    const runJson = await withEnv({ ...s3.env }, () => openStore('s3://runs/fv').getText('runs/st-1/run.json'));
    assert.deepEqual(JSON.parse(runJson!).config.s3, { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    assert.doesNotMatch(runJson!, /S3RVER/);

    // Another machine (nothing remembered, nothing in the environment): the printed command as printed.
    const elsewhere = await runCliAsync(printed!.split(' '), machine('b'));
    assert.equal(elsewhere.code, 0, elsewhere.stderr + elsewhere.stdout);
    assert.match(elsewhere.stdout, /run st-1 .*: incomplete/);
    const resumed = await runCliAsync(['resume', ...printed!.split(' ').slice(1)], machine('b'));
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);

    // The first machine remembered the storage: the bare run URI is enough for status and render.
    const here = await runCliAsync(['status', 's3://runs/fv/runs/st-1'], machine('a'));
    assert.equal(here.code, 0, here.stderr + here.stdout);
    assert.match(here.stdout, /run st-1 .*: complete/);
    const render = await runCliAsync(['render', 's3://runs/fv/runs/st-1'], machine('a'));
    assert.equal(render.code, 0, render.stderr + render.stdout);
    assert.doesNotMatch(lookups(), /amazonaws/, 'no host name of AWS was looked up');
  });

  it('a wrong endpoint given as a flag fails naming nothing of AWS; run.json settings that differ are said', async () => {
    const wrong = await runCliAsync(['status', 's3://runs/fv/runs/st-1', '--s3-endpoint', 'not a url'], machine('c'));
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /s3\.endpoint|endpoint/);
    const other = s3.endpoint.replace('127.0.0.1', 'localhost');
    const r = await runCliAsync(['status', 's3://runs/fv/runs/st-1', '--s3-endpoint', other, '--s3-path-style'], machine('c'));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, new RegExp(`s3\\.endpoint: run\\.json records "${s3.endpoint}", this command used "${other}"`));
    assert.doesNotMatch(lookups(), /amazonaws/);
  });
});

async function withEnv<T>(env: NodeJS.ProcessEnv, body: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await body();
  } finally {
    process.env = saved;
  }
}
