import assert from 'node:assert/strict';
import { DEFAULT_ERROR_POLICY, SystemicError, errorClassOf, isRetryableReason, isSystemicError } from '@finevideo/core';

describe('failures: the error policy', () => {
  it('a SystemicError is named, keeps its class and cause, and is retryable unless told otherwise', () => {
    const cause = new Error('ECONNRESET');
    const retryable = new SystemicError('storage unreachable: s3://bucket', 'storage unreachable', undefined, { cause });
    assert.equal(retryable.name, 'SystemicError');
    assert.equal(retryable.message, 'storage unreachable: s3://bucket');
    assert.equal(retryable.errorClass, 'storage unreachable');
    assert.equal(retryable.retryable, true);
    assert.equal(retryable.cause, cause);
    assert.match(String(retryable), /^SystemicError: storage unreachable/);
    assert.equal(new SystemicError('llm unauthorized: 401', 'llm unauthorized', false).retryable, false);
  });

  it('isSystemicError tells a SystemicError from any other thrown value', () => {
    assert.equal(isSystemicError(new SystemicError('x', 'out of memory')), true);
    assert.equal(isSystemicError(new Error('x')), false);
    assert.equal(isSystemicError({ name: 'SystemicError', errorClass: 'x', retryable: true }), false);
    assert.equal(isSystemicError(undefined), false);
  });

  it('the default policy: 20 in a row, half a chunk after 40 items, a fifth of a stage', () => {
    assert.deepEqual(DEFAULT_ERROR_POLICY, { maxConsecutive: 20, maxChunkShare: 0.5, minItems: 40, maxStageShare: 0.2 });
  });

  it('errorClassOf is the trimmed text before the first colon, at most 80 characters', () => {
    assert.equal(errorClassOf('llm timeout: no answer in 120 s: retry later'), 'llm timeout');
    assert.equal(errorClassOf('  download private :video abc'), 'download private');
    assert.equal(errorClassOf('no colon here '), 'no colon here');
    assert.equal(errorClassOf(`${'x'.repeat(100)}: detail`), 'x'.repeat(80));
    assert.equal(errorClassOf(''), '');
  });

  it('storage failures are retryable (the store was briefly unreachable); a refused permission is not', () => {
    for (const reason of ['storage: reading aligned/abcdefghijk.json: ECONNRESET', 'Storage Unreachable: s3://bucket: 503 SlowDown']) assert.equal(isRetryableReason(reason), true, reason);
    for (const reason of ['storage permission denied: cannot write /data/runs (EACCES)', 'storage-ish: no']) assert.equal(isRetryableReason(reason), false, reason);
  });
});
