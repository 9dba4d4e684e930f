import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { stageRows } from '@finevideo/runtime';
import { generateVideo, generateYtCommonsShards, startFakeTgi, startVideoServer, type FakeTgi, type VideoServer } from '@finevideo/testing';
import { runCliAsync } from './helpers.js';

/**
 * ytcommons -> worddensity -> download -> dynamism -> classify -> select through the CLI, with real
 * yt-dlp fetching generated videos from a loopback server and real ffmpeg judging them.
 */
interface StageStatsJson { kept: number; dropped: number; errors: number; reasons: Record<string, number> }

/** Each stage's stats from `finevideo run --json`, by stage name. */
function stageStats(stdout: string): Record<string, StageStatsJson> {
  return Object.fromEntries((JSON.parse(stdout) as { stages: { stage: string; stats: StageStatsJson }[] }).stages.map((s) => [s.stage, s.stats]));
}

describe('finevideo CLI end to end with media (local data, real yt-dlp and ffmpeg)', function () {
  this.timeout(600_000);
  let dir: string;
  let server: VideoServer;
  let tgi: FakeTgi | undefined;
  after(async () => {
    await server?.close();
    await tgi?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('downloads what the filters kept, drops the static videos, classifies and selects', async () => {
    dir = await mkdtemp(join(tmpdir(), 'finevideo-media-e2e-'));
    const expectation = await generateYtCommonsShards(join(dir, 'shards'), { shards: 1, rowsPerShard: 14, seed: 99, averageTextBytes: 1500 });
    const ids = expectation.dense;
    assert.ok(ids.length >= 4, `enough videos survive the filters: ${ids.length}`);
    server = await startVideoServer();
    const staticIds = new Set(ids.slice(0, 2));
    for (const id of ids) {
      const file = join(dir, `${id}.mp4`);
      await generateVideo(file, staticIds.has(id)
        ? { sections: [{ kind: 'motion', seconds: 3 }, { kind: 'still', seconds: 57 }], fps: 2 }
        : { sections: [{ kind: 'motion', seconds: 12 }], fps: 2 });
      server.addVideo(id, file);
    }
    const missing = ids[2]!;
    server.setBehaviour(missing, 404);
    const pipeline = join(dir, 'p.yaml');
    await writeFile(pipeline, [
      'name: media', `storage: ${join(dir, 'store')}`, 'executor: { kind: local, parallelism: 2, retries: 1 }', 'stages:',
      `  - { stage: ytcommons, params: { source: ${join(dir, 'shards')} } }`,
      '  - { stage: worddensity }',
      `  - { stage: download, params: { sourceUrlTemplate: "${server.template}", retries: 1, retryBaseDelayMs: 50 }, itemsPerChunk: 3 }`,
      '  - { stage: dynamism, itemsPerChunk: 3 }',
      '  - { stage: classify, params: { method: lexical-baseline } }',
      '  - { stage: select, params: { targetHours: 1000 } }',
    ].join('\n'));
    const r = await runCliAsync(['run', pipeline, '--run-id', 'm1', '--json']);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const stages = stageStats(r.stdout);
    assert.equal(stages.worddensity!.kept, ids.length);
    assert.equal(stages.download!.kept, ids.length - 1);
    assert.equal(stages.download!.errors, 1, 'the 404 is an error row');
    assert.equal(stages.dynamism!.kept, ids.length - 1 - staticIds.size);
    assert.equal(stages.dynamism!.reasons['dropped:static'], staticIds.size);
    assert.equal(stages.classify!.kept + stages.classify!.dropped, stages.dynamism!.kept);
    assert.equal(stages.select!.kept + stages.select!.dropped, stages.classify!.kept);

    const store = new FileStore(join(dir, 'store'));
    const rows: Row[] = [];
    for await (const row of stageRows(store, 'm1', 'download')) rows.push(row);
    const failed = rows.find((x) => x.status === 'error')!;
    assert.equal(failed.video_id, missing);
    assert.match(String(failed.reason), /^download unavailable: /);
    assert.match((await store.getText(`media/failed/${missing}.txt`)) ?? '', /unavailable/);
    for (const id of ids.filter((i) => i !== missing)) assert.ok(await store.exists(`media/${id}/${id}.mp4`), `media of ${id} stored`);
    const dyn: Row[] = [];
    for await (const row of stageRows(store, 'm1', 'dynamism')) dyn.push(row);
    assert.deepEqual(dyn.filter((x) => x.static === true).map((x) => x.video_id).sort(), [...staticIds].sort());
    assert.ok(await store.exists('runs/m1/select/artifacts/report.json'));
  });
  it('resume --retry-errors runs a rate-limited download again, not the 404; says before the reset that classify re-plans and pays only for the new video', async () => {
    const base = join(dir, 'retry');
    const expectation = await generateYtCommonsShards(join(base, 'shards'), { shards: 1, rowsPerShard: 14, seed: 123, averageTextBytes: 1500 });
    const ids = expectation.dense;
    tgi = await startFakeTgi({ capacity: 4, latencyMs: 1 });
    const limited = ids[0]!;
    const missing = ids[1]!;
    for (const id of ids) {
      const file = join(base, `${id}.mp4`);
      await generateVideo(file, { sections: [{ kind: 'motion', seconds: 6 }], fps: 2 });
      server.addVideo(id, file);
    }
    server.setBehaviour(limited, 429);
    server.setBehaviour(missing, 404);
    const pipeline = join(base, 'p.yaml');
    await writeFile(pipeline, [
      'name: retry', `storage: ${join(base, 'store')}`, 'executor: { kind: local, parallelism: 2, retries: 0 }', 'stages:',
      `  - { stage: ytcommons, params: { source: ${join(base, 'shards')} } }`,
      '  - { stage: worddensity }',
      `  - { stage: download, params: { sourceUrlTemplate: "${server.template}", retries: 0, retryBaseDelayMs: 10 }, itemsPerChunk: 3 }`,
      '  - { stage: dynamism, itemsPerChunk: 3 }',
      `  - { stage: classify, params: { endpoint: "${tgi.baseURL}", waitForHealthSeconds: 5, healthIntervalSeconds: 0.05 } }`,
    ].join('\n'));
    const first = await runCliAsync(['run', pipeline, '--run-id', 'r1', '--json']);
    const firstStages = stageStats(first.stdout);
    assert.equal(firstStages.download!.errors, 2, first.stderr.slice(-2000));
    assert.equal(firstStages.classify!.kept, ids.length - 2);
    const paidBefore = tgi.stats.served;
    assert.equal(paidBefore, ids.length - 2);

    server.setBehaviour(limited, 'ok'); // the rate limit is over; the 404 stays
    const again = await runCliAsync(['resume', join(base, 'store', 'runs', 'r1'), '--retry-errors']);
    assert.equal(again.code, 0, again.stderr.slice(-3000));
    assert.match(again.stderr, /retry-errors: 1 error row\(s\) kept as they are \(download unavailable: 1\)/);
    assert.match(again.stderr, /retry-errors: stage download: 1 item\(s\) with error rows of a reason a retry can change/);
    const paidLine = `retry-errors: paid items at most ${ids.length - 1} (classify ${ids.length - 2} last time + up to 1 from the retried items)`;
    assert.ok(again.stderr.includes(paidLine), `expected "${paidLine}" in:\n${again.stderr.slice(0, 3000)}`);
    const firstRun = again.stderr.search(/stage download: \d+ items in \d+ chunks/);
    assert.ok(firstRun > again.stderr.indexOf(paidLine), 'the figures are printed before the retried stage runs');
    assert.equal(tgi.stats.served, paidBefore + 1, 'only the newly downloaded video is asked; stored answers are reused');
    const store = new FileStore(join(base, 'store'));
    const classified: Row[] = [];
    for await (const row of stageRows(store, 'r1', 'classify')) classified.push(row);
    assert.equal(classified.filter((r) => r.status === 'kept' || r.status === 'dropped').length, ids.length - 1);
    assert.equal(classified.filter((r) => r.answer_reused === true).length, ids.length - 2);
  });
});
