import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rememberS3Settings, rememberedS3Settings, s3SettingsAsFlags, s3SettingsForRun, s3SettingsMismatches } from '../src/s3-settings.js';

describe('S3 settings of a run: flags, environment, remembered per storage root', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fv-s3-settings-'));
    env = { FINEVIDEO_CONFIG_DIR: dir };
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('remembers by storage root (the longest root holding the URI), never secrets, and prints them as flags', async () => {
    rememberS3Settings('s3://b/fv/', { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true }, env);
    rememberS3Settings('s3://b/fv/deep', { endpoint: 'http://127.0.0.1:9001' }, env);
    assert.deepEqual(rememberedS3Settings('s3://b/fv/runs/r1', env), { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    assert.equal(rememberedS3Settings('s3://b/fv/deep/export/r1', env)?.endpoint, 'http://127.0.0.1:9001');
    assert.equal(rememberedS3Settings('s3://b/fvx/runs/r1', env), undefined, 'a sibling prefix is another storage');
    assert.deepEqual(Object.keys(JSON.parse(await readFile(join(dir, 'storage.json'), 'utf8'))), ['s3://b/fv', 's3://b/fv/deep']);
    assert.equal(s3SettingsAsFlags({ endpoint: 'http://h:1', region: 'eu-west-1', forcePathStyle: true }), ' --s3-endpoint http://h:1 --s3-region eu-west-1 --s3-path-style');
  });

  it('flags win over the environment, which wins over what was remembered, setting by setting', () => {
    rememberS3Settings('s3://b/fv', { endpoint: 'http://127.0.0.1:9000', region: 'r-old', forcePathStyle: true }, env);
    assert.deepEqual(s3SettingsForRun('s3://b/fv', {}, env), { endpoint: 'http://127.0.0.1:9000', region: 'r-old', forcePathStyle: true });
    assert.deepEqual(s3SettingsForRun('s3://b/fv', {}, { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9100' }).endpoint, 'http://127.0.0.1:9100');
    assert.deepEqual(s3SettingsForRun('s3://b/fv', { s3Endpoint: 'http://127.0.0.1:9200', s3Region: 'r-new' }, { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9100' }),
      { endpoint: 'http://127.0.0.1:9200', region: 'r-new', forcePathStyle: true });
    assert.deepEqual(s3SettingsForRun('/a/folder', { s3Endpoint: 'http://127.0.0.1:1' }, env), {}, 'a folder needs none');
    assert.throws(() => s3SettingsForRun('s3://b/fv', { s3Endpoint: 'minio:9000' }, env), /s3 flags:[\s\S]*endpoint: expected an http/);
  });

  it('says which recorded settings differ from those used; a damaged file is named', async () => {
    assert.deepEqual(s3SettingsMismatches({ endpoint: 'http://a:1', region: 'x' }, { endpoint: 'http://b:1', region: 'x' }), ['s3.endpoint: run.json records "http://a:1", this command used "http://b:1"']);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'storage.json'), '{not json');
    assert.throws(() => rememberedS3Settings('s3://b/fv', env), (e: Error) => e.message.includes(join(dir, 'storage.json')));
  });
});
