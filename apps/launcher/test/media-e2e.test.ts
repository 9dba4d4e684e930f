import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '@finevideo/core';
import { FileStore } from '@finevideo/storage';
import { stageRows } from '@finevideo/runtime';
import { generateVideo, generateYtCommonsShards, startVideoServer, type VideoServer } from '@finevideo/testing';
import { runCliAsync } from './helpers.js';

/**
 * ytcommons -> worddensity -> download -> dynamism -> classify -> select through the CLI, with real
 * yt-dlp fetching generated videos from a loopback server and real ffmpeg judging them.
 */
describe('finevideo CLI end to end with media (local data, real yt-dlp and ffmpeg)', function () {
  this.timeout(600_000);
  let dir: string;
  let server: VideoServer;
  after(async () => {
    await server?.close();
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
    const stages = Object.fromEntries((JSON.parse(r.stdout) as { stages: { stage: string; stats: { kept: number; errors: number; dropped: number; reasons: Record<string, number> } }[] }).stages.map((s) => [s.stage, s.stats]));
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
});
