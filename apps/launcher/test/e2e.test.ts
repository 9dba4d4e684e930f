import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileStore, openStore, writeParquetRows } from '@finevideo/storage';
import { startS3rver } from '@finevideo/testing';
import { stageRows } from '@finevideo/runtime';
import type { Row } from '@finevideo/core';
import { spawnSync } from 'node:child_process';
import { root, runCli, runCliAsync, startCli } from './helpers.js';

/* A small, fully known YouTube-Commons-like input: the expectation is computed here, not by the stages. */
const LANGS = ['en', 'en', 'en', 'fr', 'de'];
function makeRow(shard: number, i: number): Row {
  const n = shard * 1000 + i;
  const id = `v${String(n).padStart(10, '0')}`;
  const durations = ['1:02:03', '4:05', '59', '', 'abc', '0:30', '12:00'];
  return {
    video_id: id,
    video_link: `https://www.youtube.com/watch?v=${id}`,
    title: `video ${n}`,
    channel: `channel ${n % 7}`,
    channel_id: `UC${n % 7}`,
    channel_follower_count: n * 3,
    original_language: LANGS[n % 5],
    transcription_language: LANGS[(n * 3) % 5],
    word_count: (n * 37) % 400,
    character_count: ((n * 37) % 400) * 6,
    duration_string: durations[n % durations.length],
    text: `words `.repeat((n * 37) % 400).trim(),
    acodec: 'opus', vcodec: 'vp9', age_limit: 0, categories: ['Education'], comment_count: n, date: '2024-01-01',
    description: 'd', language: 'en', license: 'CC-BY', like_count: n * 2, resolution: '1280x720', tags: ['a', 'b'],
    upload_date: '20240101', view_count: n * 10,
    ...(shard % 2 === 0 ? { source_language: 'en' } : { language_id_method: 'en' }),
  };
}

function seconds(d: string): number | undefined {
  if (d === '') return 0;
  if (!/^\d+(:\d+){0,2}$/.test(d)) return undefined;
  return d.split(':').reduce((acc, p) => acc * 60 + Number(p), 0);
}

function expected(rows: Row[]) {
  const english = rows.filter((r) => r.original_language === 'en' && r.transcription_language === 'en' && (r.word_count as number) > 50);
  const dense = english.filter((r) => {
    const s = seconds(r.duration_string as string);
    return s !== undefined && s > 0 && (r.word_count as number) / s > 0.5;
  });
  const unparseable = english.filter((r) => seconds(r.duration_string as string) === undefined);
  return { english: english.map((r) => r.video_id).sort(), dense: dense.map((r) => r.video_id).sort(), unparseable: unparseable.length };
}

async function tableRows(storage: string, run: string, stage: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of stageRows(new FileStore(storage), run, stage)) rows.push(r);
  return rows;
}

describe('finevideo CLI end to end (ytcommons -> worddensity, local executor)', function () {
  this.timeout(300_000);
  let dir: string;
  const allRows: Row[] = [];
  const SHARDS = 6;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-e2e-'));
    const shards = new FileStore(join(dir, 'shards'));
    for (let s = 0; s < SHARDS; s++) {
      const rows = Array.from({ length: 60 }, (_, i) => makeRow(s, i));
      allRows.push(...rows);
      await writeParquetRows(shards, `part-${s}.parquet`, rows);
    }
    await writeFile(join(dir, 'shards', 'part-9-corrupt.parquet'), Buffer.from('PAR1 this is not a parquet file'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const pipeline = async (name: string, chunks: number) => {
    const path = join(dir, `${name}.yaml`);
    await writeFile(path, [
      `name: ${name}`,
      `storage: ${join(dir, 'store')}`,
      'executor: { kind: local, parallelism: 2, retries: 1 }',
      'stages:',
      `  - stage: ytcommons`,
      `    params: { source: ${join(dir, 'shards')} }`,
      `    chunks: ${chunks}`,
      `  - stage: worddensity`,
      `    params: { threshold: 0.5 }`,
      `    chunks: 3`,
    ].join('\n'));
    return path;
  };

  it('runs both stages and matches the independently computed funnel', async () => {
    const exp = expected(allRows);
    const r = runCli(['run', await pipeline('full', 7), '--run-id', 'full-1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { stages: { stage: string; stats: { items: number; kept: number; errors: number; dropped: number; reasons: Record<string, number> } }[] };
    const [yt, wd] = out.stages;
    assert.equal(yt!.stats.items, SHARDS + 1, 'one item per shard, the corrupt one included');
    assert.equal(yt!.stats.errors, 1, 'the corrupt shard is an error row');
    assert.equal(yt!.stats.kept, exp.english.length);
    assert.equal(yt!.stats.dropped, allRows.length - exp.english.length);
    assert.equal(wd!.stats.kept, exp.dense.length);
    assert.equal(wd!.stats.items, exp.english.length);
    assert.equal(Object.entries(wd!.stats.reasons).filter(([k]) => k.includes('unparseable')).reduce((a, [, v]) => a + v, 0), exp.unparseable);

    const ytRows = await tableRows(join(dir, 'store'), 'full-1', 'ytcommons');
    const kept = ytRows.filter((x) => x.status === 'kept');
    assert.deepEqual(kept.map((x) => x.video_id).sort(), exp.english);
    assert.ok(kept.every((x) => x.source_language === 'en'), 'source_language falls back to language_id_method');
    const err = ytRows.filter((x) => x.status === 'error');
    assert.equal(err.length, 1);
    assert.match(String(err[0]!.reason), /corrupt|parquet|read/i);
    assert.match(String(err[0]!.item_key), /part-9-corrupt/);

    const wdRows = await tableRows(join(dir, 'store'), 'full-1', 'worddensity');
    assert.deepEqual(wdRows.filter((x) => x.status === 'kept').map((x) => x.video_id).sort(), exp.dense);

    const st = runCli(['status', join(dir, 'store', 'runs', 'full-1')]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /complete/);
    assert.match(st.stdout, /ytcommons\s+7\/7 table ready/);
    assert.match(st.stdout, /worddensity\s+3\/3 table ready/);
  });

  it('run with an existing run id keeps the recorded plan and says so', async () => {
    const r = runCli(['run', await pipeline('other', 2), '--run-id', 'full-1', '--parallelism', '1']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /run full-1 already exists: its recorded stages and settings are used, not those of .*other\.yaml/);
    assert.match(r.stderr, /stage ytcommons: all 7 chunks already done/);
  });

  it('a run killed midway and resumed gives exactly the uninterrupted output', async () => {
    const path = await pipeline('killed', 7);
    const running = startCli(['run', path, '--run-id', 'killed-1', '--parallelism', '1']);
    const doneDir = join(dir, 'store', 'runs', 'killed-1', 'ytcommons', 'done');
    for (let i = 0; i < 600; i++) {
      if (existsSync(doneDir) && (await readdir(doneDir)).length >= 2) break;
      await sleep(50);
    }
    running.killGroup();
    const doneBefore = existsSync(doneDir) ? (await readdir(doneDir)).length : 0;
    assert.ok(doneBefore >= 2 && doneBefore < 7, `expected a partial run, got ${doneBefore} of 7 chunks done`);
    assert.ok(!existsSync(join(dir, 'store', 'runs', 'killed-1', 'worddensity', 'table.json')));

    const resumed = runCli(['resume', join(dir, 'store', 'runs', 'killed-1')]);
    assert.equal(resumed.code, 0, resumed.stderr + resumed.stdout);
    for (const stage of ['ytcommons', 'worddensity']) {
      const a = await tableRows(join(dir, 'store'), 'full-1', stage);
      const b = await tableRows(join(dir, 'store'), 'killed-1', stage);
      assert.equal(b.length, a.length, `${stage}: same number of rows`);
      assert.deepEqual(b, a, `${stage}: identical rows in identical order`);
    }
  });

  it('the bundled CLI and workers (the images\' payloads) give exactly the tables of the sources', async () => {
    for (const app of ['apps/launcher', 'apps/stage-ytcommons', 'apps/stage-worddensity']) {
      const built = spawnSync(process.execPath, ['tools/build/bundle.mjs', app], { cwd: root, encoding: 'utf8' });
      assert.equal(built.status, 0, built.stderr);
    }
    const r = runCli(['run', await pipeline('bundled', 7), '--run-id', 'bundled-1'], { FINEVIDEO_BUNDLED: '1' });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    for (const stage of ['ytcommons', 'worddensity']) {
      assert.deepEqual(await tableRows(join(dir, 'store'), 'bundled-1', stage), await tableRows(join(dir, 'store'), 'full-1', stage), `${stage}: identical rows`);
    }
  });

  it('shards and storage on an S3-compatible store named only in the config (s3.endpoint): same tables', async () => {
    const s3 = await startS3rver({ buckets: ['ytc', 'runs'] });
    // Only credentials in the environment (as from a Secret); the endpoint, region and path style come from the config.
    const { AWS_ENDPOINT_URL_S3: _endpoint, FINEVIDEO_S3_FORCE_PATH_STYLE: _style, AWS_REGION: _region, ...credentials } = s3.env;
    const saved = { ...process.env };
    try {
      Object.assign(process.env, s3.env);
      const remote = openStore('s3://ytc/commons');
      for (const f of (await readdir(join(dir, 'shards'))).sort()) await remote.upload(f, join(dir, 'shards', f));
      process.env = saved;
      const path = join(dir, 's3.yaml');
      await writeFile(path, [
        'name: s3', 'storage: s3://runs/fv', `s3: { endpoint: "${s3.endpoint}", region: us-east-1, forcePathStyle: true }`,
        'executor: { kind: local, parallelism: 2, retries: 1 }', 'stages:',
        '  - stage: ytcommons', '    params: { source: s3://ytc/commons }', '    chunks: 7',
        '  - stage: worddensity', '    params: { threshold: 0.5 }', '    chunks: 3',
      ].join('\n'));
      const env: NodeJS.ProcessEnv = { ...credentials, AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: undefined, FINEVIDEO_S3_FORCE_PATH_STYLE: undefined };
      const r = await runCliAsync(['run', path, '--run-id', 's3-1'], env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      Object.assign(process.env, s3.env);
      const runs = openStore('s3://runs/fv');
      for (const stage of ['ytcommons', 'worddensity']) {
        const rows: Row[] = [];
        for await (const row of stageRows(runs, 's3-1', stage)) rows.push(row);
        const local = await tableRows(join(dir, 'store'), 'full-1', stage);
        assert.ok(local.length > 0);
        // Error rows name their shard by key; the keys are the same under both sources. The transcript
        // references name their source (s3:// or file://) and its version (ETag or modification time).
        const unsourced = (list: Row[]) => list.map(({ source_uri: _u, source_version: _v, ...rest }) => rest);
        assert.deepEqual(unsourced(rows), unsourced(local), `${stage}: identical rows`);
        if (stage === 'ytcommons') assert.ok(rows.every((r) => r.status !== 'kept' || r.source_uri === 's3://ytc/commons'), 'kept rows refer to the S3 shards');
      }
    } finally {
      process.env = saved;
      await s3.stop();
    }
  });

  it('rejects a bad pipeline config with the field and the value, exit code 2', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, `name: bad\nstorage: ${dir}\nstages:\n  - stage: worddensity\n    params: { threshold: "high" }\n  - stage: nosuchstage\n`);
    const r = runCli(['run', path]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /stages\[0\]\.params\.threshold: expected a number, got "high"/);
    assert.match(r.stderr, /stages\[1\]\.stage: expected one of .*got "nosuchstage"/);
  });
});
