import assert from 'node:assert/strict';
import { retrySelection, type RetryErrorsResult } from '@finevideo/runtime';
import { retryErrorsFlag, retryErrorsLines, retryErrorsWarnings } from '../src/retry-errors.js';

const plan = (over: Partial<RetryErrorsResult>): RetryErrorsResult => ({ chunks: [], wholeChunks: [], items: 0, replanned: [], replannedStages: [], leftAlone: {}, ...over });

describe('resume --retry-errors: what is printed before anything is reset', () => {
  it('counts the paid items of the retried stage and of every paid stage planned again', () => {
    const p = plan({
      stage: 'download', paid: false, chunks: [0, 3], items: 40, replanned: ['dynamism', 'classify', 'annotate'],
      replannedStages: [{ stage: 'dynamism', previousItems: 900, paid: false }, { stage: 'classify', previousItems: 1602, paid: true }, { stage: 'annotate', previousItems: 300, paid: true }],
      leftAlone: { 'download unavailable': 12, 'invalid video id': 1 },
    });
    const lines = retryErrorsLines(p, retrySelection(true));
    assert.deepEqual(lines, [
      'retry-errors: 13 error row(s) kept as they are (download unavailable: 12, invalid video id: 1): a retry would repeat their verdict; to run them again anyway: --retry-errors "download unavailable,invalid video id" (or all)',
      'retry-errors: stage download: 40 item(s) with error rows of a reason a retry can change (connection, server error, rate limit, timeout, bad response, storage) in 2 chunk(s) run again; the other rows of those chunks are kept',
      'retry-errors: paid items at most 1,982 (classify 1,602 last time + up to 40 from the retried items; annotate 300 last time + up to 40 from the retried items); answers already stored for the same model, prompt and schema are reused, so only items without one are paid',
    ]);
    assert.deepEqual(retryErrorsWarnings(p), ['retry-errors: dynamism (900 item(s) last time), classify (1,602 item(s) last time), annotate (300 item(s) last time) read the old table of download, so they are planned and run again in full (per-video outputs stored outside the run are reused)']);
  });

  it('a paid stage retried itself counts its own items; "all" does not list rows left alone', () => {
    const lines = retryErrorsLines(plan({ stage: 'annotate', paid: true, chunks: [1], items: 3, leftAlone: { x: 1 } }), retrySelection(['all']));
    assert.deepEqual(lines, [
      'retry-errors: stage annotate: 3 item(s) with error rows of any reason in 1 chunk(s) run again; the other rows of those chunks are kept',
      'retry-errors: paid items at most 3 (annotate 3); answers already stored for the same model, prompt and schema are reused, so only items without one are paid',
    ]);
    assert.deepEqual(retryErrorsWarnings(plan({ stage: 'annotate', items: 3 })), []);
  });

  it('the suggested flag names the classes when some are verdicts a retry repeats', () => {
    assert.equal(retryErrorsFlag({ 'error:llm timeout': 3, 'error:download network': 1, 'dropped:static': 9 }), '--retry-errors');
    assert.equal(retryErrorsFlag({ 'error:llm timeout': 3, 'error:video-corrupt': 1 }), '--retry-errors "llm timeout,video-corrupt"');
  });
});
