import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyStats, parsePipelineConfig, pipelineStages, runLayout, type Row, type StageTable } from '@finevideo/core';
import { createRun, planStage, runChunk } from '@finevideo/runtime';
import { FileStore, readParquetRows, writeParquetRows } from '@finevideo/storage';
import { stageByType } from '@finevideo/stages';
import { INPUT_ROW, densityVerdict, parseDuration, videoIdOf, wordDensity, worddensityStage } from '@finevideo/stages/worddensity';

describe('stage worddensity', () => {
  it('parses h:m:s, m:s and s; missing is 0; garbage is unparseable', () => {
    const cases: [unknown, number | undefined][] = [
      ['1:02:03', 3723], ['2:03', 123], ['45', 45], [' 3:04 ', 184], ['0:00', 0], ['1:75', 135],
      ['', 0], [null, 0], [undefined, 0],
      ['abc', undefined], ['1:xx', undefined], ['-5', undefined], ['1.5', undefined], ['1:2:3:4', undefined], ['PT4M13S', undefined], [{}, undefined],
    ];
    for (const [input, expected] of cases) assert.equal(parseDuration(input), expected, `parseDuration(${JSON.stringify(input)})`);
  });

  it('computes word density with 0 for a zero duration', () => {
    assert.equal(wordDensity(120, 60), 2);
    assert.equal(wordDensity(120, 0), 0);
  });

  it('keeps strictly above the threshold and names the reason otherwise', () => {
    assert.deepEqual(densityVerdict({ duration_string: '1:00', word_count: 31 }, 0.5), { keep: true, durationSeconds: 60, density: 31 / 60 });
    assert.equal(densityVerdict({ duration_string: '1:00', word_count: 30 }, 0.5).keep, false, '0.5 is not above 0.5');
    assert.deepEqual(densityVerdict({ duration_string: '', word_count: 300 }, 0.5), { keep: false, reason: 'low-word-density', durationSeconds: 0, density: 0 });
    assert.deepEqual(densityVerdict({ duration_string: 'abc', word_count: 300 }, 0.5), { keep: false, reason: 'unparseable-duration' });
    assert.equal(densityVerdict({ duration_string: '1:00', word_count: 31 }, 0.6).keep, false, 'the threshold is a parameter');
  });
});

describe('stage worddensity: video ids', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'worddensity-ids-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('ids are strings; integers become their digits; NULL, blank and unsafe ids are refused', () => {
    assert.equal(videoIdOf('dQw4w9WgXcQ'), 'dQw4w9WgXcQ');
    assert.equal(videoIdOf(12345), '12345');
    assert.equal(videoIdOf(12345n), '12345');
    for (const bad of [null, undefined, '', ' ', 'a b', '../etc', 'a\\b', 'x\u0000y', 'x'.repeat(65), 1.5, {}, true]) assert.equal(videoIdOf(bad), undefined, JSON.stringify(String(bad)));
  });

  it('a row with a NULL or invalid id becomes an error row with its position: no row vanishes between stages', async () => {
    const store = new FileStore(dir);
    const config = parsePipelineConfig(`name: t\nstorage: ${dir}\nstages:\n  - stage: ytcommons\n    params: { source: ${dir} }\n  - stage: worddensity\n    itemsPerChunk: 3\n`);
    const manifest = await createRun(config, store, 'ids');
    // The previous stage's table: integer ids (a BIGINT column) with NULLs among them, and a dropped row that is not input.
    const input: Row[] = [
      { video_id: 101, duration_string: '1:00', word_count: 120, status: 'kept', reason: null },
      { video_id: null, duration_string: '1:00', word_count: 120, status: 'kept', reason: null },
      { video_id: 103, duration_string: '1:00', word_count: 1, status: 'kept', reason: null },
      { video_id: 104, duration_string: '1:00', word_count: 120, status: 'dropped', reason: 'too-few-words' },
      { video_id: null, duration_string: '2:00', word_count: 500, status: 'kept', reason: null },
      { video_id: 106, duration_string: 'abc', word_count: 120, status: 'kept', reason: null },
    ];
    const layout = runLayout('ids');
    await writeParquetRows(store, layout.stage('ytcommons').part(0, 0), input);
    const table: StageTable = { stage: 'ytcommons', sealedAt: new Date().toISOString(), stats: emptyStats(), parts: [layout.stage('ytcommons').part(0, 0)] };
    await store.put(layout.stage('ytcommons').table, JSON.stringify(table));
    const [ytcommons, worddensity] = pipelineStages(config);
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const plan = await planStage(manifest, worddensity!, ytcommons, { store, log, resolveStage: stageByType });
    assert.equal(plan.itemCount, 5, 'every kept input row is an item, ids or not');
    for (let index = 0; index < plan.chunkCount; index++) await runChunk(worddensityStage, { store, runId: 'ids', stageName: 'worddensity', chunkIndex: index, attempt: 1, log });
    const rows: Row[] = [];
    for (let index = 0; index < plan.chunkCount; index++) {
      const marker = JSON.parse((await store.getText(layout.stage('worddensity').done(index)))!) as { parts: string[] };
      for (const part of marker.parts) for await (const row of readParquetRows(store, part)) rows.push(row);
    }
    const summary = rows.map((r) => [r.video_id, r.status, r.reason === null ? null : String(r.reason).split(':')[0], r[INPUT_ROW] ?? null]);
    assert.deepEqual(summary, [
      ['101', 'kept', null, null],
      [null, 'error', 'invalid-id', 1],
      ['103', 'dropped', 'low-word-density', null],
      [null, 'error', 'invalid-id', 3],
      ['106', 'dropped', 'unparseable-duration', null],
    ]);
    assert.equal(rows.find((r) => r[INPUT_ROW] === 3)?.reason, 'invalid-id: input row 3: expected a video id (1 to 64 characters without spaces or slashes), got NULL');
    assert.ok(rows.every((r) => r.video_id === null || typeof r.video_id === 'string'), 'ids are strings in the output table');
  });
});
