import assert from 'node:assert/strict';
import { readWorkerEnv } from '@finevideo/runtime';

const base = { FINEVIDEO_STORAGE: '/tmp/s', FINEVIDEO_RUN_ID: 'r1', FINEVIDEO_STAGE: 'dynamism', JOB_COMPLETION_INDEX: '2' };

describe('readWorkerEnv', () => {
  it('reads the worker contract', () => {
    assert.deepEqual(readWorkerEnv(base), { storage: '/tmp/s', runId: 'r1', stageName: 'dynamism', chunkIndex: 2, completionIndex: 2, attempt: 1 });
  });
  it('maps a resumed Job index onto the i-th missing chunk', () => {
    assert.equal(readWorkerEnv({ ...base, FINEVIDEO_CHUNK_MAP: '3,7-9' }).chunkIndex, 8);
    assert.throws(() => readWorkerEnv({ ...base, JOB_COMPLETION_INDEX: '4', FINEVIDEO_CHUNK_MAP: '3,7-9' }), /expected below 4 .* got 4/);
  });
  it('names every missing or bad variable', () => {
    assert.throws(() => readWorkerEnv({ FINEVIDEO_RUN_ID: '../x', JOB_COMPLETION_INDEX: '-1' }), (e: Error) => {
      assert.match(e.message, /FINEVIDEO_STORAGE: expected a value, got nothing/);
      assert.match(e.message, /FINEVIDEO_RUN_ID: expected a safe name, got "\.\.\/x"/);
      assert.match(e.message, /JOB_COMPLETION_INDEX: expected a non-negative integer, got "-1"/);
      return true;
    });
  });
});
