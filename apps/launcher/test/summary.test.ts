import assert from 'node:assert/strict';
import { emptyStats, parsePipelineConfig, type StageStats } from '@finevideo/core';
import type { RunManifest, StageOutcome, StagePlan } from '@finevideo/runtime';
import { summarize } from '../src/commands.js';

/* The run summary from stage outcomes as the engine returns them (the CLI tests drive it end to end). */
const config = parsePipelineConfig([
  'name: t', 'storage: /data', 'stages:',
  '  - stage: ytcommons', '    params: { source: /src }',
  '  - stage: classify', '    errorPolicy: { maxStageShare: 0.5 }',
].join('\n'));
const manifest: RunManifest = { runId: 'r1', createdAt: '2026-01-01T00:00:00Z', config, stages: [{ name: 'ytcommons', type: 'ytcommons' }, { name: 'classify', type: 'classify' }] };
const plan: StagePlan = { stage: 'x', type: 'x', kind: 'map', itemCount: 1, chunkCount: 1, ranges: [{ index: 0, start: 0, end: 1 }], plannedAt: '' };
const stats = (s: Partial<StageStats>): StageStats => ({ ...emptyStats(), ...s });
const done = (stage: string, s: Partial<StageStats>, failedItems?: number): StageOutcome => ({
  stage, plan, stats: stats(s), failed: [], tableKey: `runs/r1/${stage}/table.json`, ...(failedItems !== undefined ? { failedItems } : {}),
});
const store = { uri: 'file:///data' };

describe('run summary', () => {
  it('lists error rows by reason per stage, and exits 1 with a sentence when a stage passes its maxStageShare', () => {
    const r = summarize(manifest, store, [
      done('ytcommons', { items: 10, kept: 9, errors: 1, reasons: { 'error:schema': 1 } }, 1),
      done('classify', { items: 9, kept: 3, errors: 6, reasons: { 'error:llm timeout': 4, 'error:llm off-schema': 2 } }, 6),
    ], {});
    assert.equal(r.exitCode, 1);
    assert.match(r.output, /error rows by reason:\n {2}ytcommons: 1 error row\(s\), 10% of 10 items: schema=1\n {2}classify: 6 error row\(s\), 66\.7% of 9 items: llm timeout=4, llm off-schema=2/);
    assert.match(r.output, /stage classify: 66\.7% of its 9 items ended as error rows, more than its errorPolicy\.maxStageShare of 50%, so the run counts as failed/);
    assert.doesNotMatch(r.output, /stage ytcommons: 10%/, 'ytcommons is within its default share of 20%');
    assert.match(r.output, /output table: \/data\/runs\/r1\/classify\/table\.json/);
    assert.match(r.output, /read only kept rows: duckdb -c "SELECT \* FROM read_parquet\('\/data\/runs\/r1\/classify\/out\/\*\.parquet', union_by_name = true\) WHERE status = 'kept'"/);
  });

  it('within every share: exit 0 and no verdict sentence', () => {
    const r = summarize(manifest, store, [done('ytcommons', { items: 10, kept: 9, errors: 1, reasons: { 'error:schema': 1 } }, 1), done('classify', { items: 9, kept: 9 }, 0)], {});
    assert.equal(r.exitCode, 0, r.output);
    assert.doesNotMatch(r.output, /counts as failed/);
  });

  it('says plainly when classify used the lexical baseline instead of a model', () => {
    const r = summarize(manifest, store, [done('ytcommons', { items: 2, kept: 2 }, 0), done('classify', { items: 2, kept: 2, counters: { baseline_items: 2 } }, 0)], {});
    assert.match(r.output, /note: classify used the lexical baseline, not a model, for 2 videos/);
    const json = JSON.parse(summarize(manifest, store, [done('classify', { items: 1, kept: 1, counters: { baseline_items: 1 } }, 0)], { json: true }).output) as { notes: string[] };
    assert.deepEqual(json.notes, ['note: classify used the lexical baseline, not a model, for 1 video']);
  });

  // Either sign of a cancel is enough alone: the launcher's aborted signal, or a stage outcome marked cancelled.
  for (const [how, outcomeCancelled, aborted] of [['the aborted signal', false, true], ['a stage outcome marked cancelled', true, false]] as const) {
    it(`a cancelled run (${how}) says "cancelled" and how to continue, not "failed ... fix the cause"; exit 130`, () => {
      const abort = new AbortController();
      if (aborted) abort.abort();
      const r = summarize(manifest, store, [
        done('ytcommons', { items: 2, kept: 2 }, 0),
        { stage: 'classify', plan, stats: emptyStats(), failed: [{ index: 0, reason: 'cancelled' }], ...(outcomeCancelled ? { cancelled: true } : {}) },
      ], {}, abort.signal);
      assert.equal(r.exitCode, 130);
      assert.match(r.output, /cancelled during stage classify: chunks not finished have no marker; continue with: finevideo resume \/data\/runs\/r1/);
      assert.doesNotMatch(r.output, /failed|fix the cause/);
    });
  }

  it('a stop signal that lands after the last stage was sealed is not a cancel: exit 0, no resume line', () => {
    const abort = new AbortController();
    abort.abort('SIGINT');
    const r = summarize(manifest, store, [done('ytcommons', { items: 2, kept: 2 }, 0), done('classify', { items: 2, kept: 2 }, 0)], {}, abort.signal);
    assert.equal(r.exitCode, 0, r.output);
    assert.doesNotMatch(r.output, /cancelled|resume/);
    // --until: the stage asked for is the last one.
    assert.equal(summarize(manifest, store, [done('ytcommons', { items: 2, kept: 2 }, 0)], { until: 'ytcommons' }, abort.signal).exitCode, 0);
  });

  it('a stop signal between two stages is a cancel; SIGHUP (a closed terminal) exits 129 with the resume line', () => {
    const abort = new AbortController();
    abort.abort('SIGHUP');
    const r = summarize(manifest, store, [done('ytcommons', { items: 2, kept: 2 }, 0)], {}, abort.signal);
    assert.equal(r.exitCode, 129);
    assert.match(r.output, /cancelled after stage ytcommons: chunks not finished have no marker; continue with: finevideo resume \/data\/runs\/r1/);
  });

  it('a failed chunk: exit 1, the chunk and its reason, fix the cause and resume', () => {
    const r = summarize(manifest, store, [
      done('ytcommons', { items: 2, kept: 2 }, 0),
      { stage: 'classify', plan, stats: emptyStats(), failed: [{ index: 0, reason: 'exit code 42', logTail: 'chunk failed (llm unauthorized, not retryable): 401 from http://tgi/v1' }] },
    ], {});
    assert.equal(r.exitCode, 1);
    assert.match(r.output, /stage classify: 1 chunk\(s\) failed:\n {2}chunk 0: exit code 42\n {4}chunk failed \(llm unauthorized, not retryable\)/);
    assert.match(r.output, /fix the cause, then resume with: finevideo resume \/data\/runs\/r1/);
  });
});
