import assert from 'node:assert/strict';
import { ConfigError, assertVideoId, parsePipelineConfig } from '@finevideo/core';

const errorOf = (yaml: string): ConfigError => {
  try {
    parsePipelineConfig(yaml, 'p.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  assert.fail('expected the config to be rejected');
};

describe('pipeline config', () => {
  it('parses a minimal config with defaults', () => {
    const c = parsePipelineConfig('name: demo\nstorage: .data/demo\nstages:\n  - stage: ytcommons\n    params: { source: x }\n');
    assert.equal(c.executor.kind, 'local');
    assert.equal(c.executor.kind === 'local' && c.executor.parallelism, 2);
    assert.deepEqual(c.stages[0]!.params, { source: 'x' });
  });

  it('names the field and says expected X, got Y', () => {
    const e = errorOf('name: demo\nstorage: 3\nstages:\n  - stage: ytcommons\n    chunks: -2\n');
    assert.match(e.message, /storage: expected string, got number 3/);
    assert.match(e.message, /stages\[0\]\.chunks: expected .*got number -2/);
  });

  it('rejects unknown keys, bad enums and duplicate stage names', () => {
    assert.match(errorOf('name: demo\nstorage: x\nstagez: []\nstages: [{stage: a}]').message, /expected no other keys, got unknown "stagez"/);
    assert.match(errorOf('name: demo\nstorage: x\nexecutor: { kind: slurm }\nstages: [{stage: a}]').message, /executor\.kind: expected one of "local", "kubernetes", got "slurm"/);
    assert.match(errorOf('name: demo\nstorage: x\nstages: [{stage: a}, {stage: a}]').message, /unique stage name, got "a" twice/);
    assert.match(errorOf('name: Demo Run\nstorage: x\nstages: [{stage: a}]').message, /name: expected .*got "Demo Run"/);
    assert.match(errorOf('name: [oops').message, /not valid YAML/);
  });
});

describe('video ids', () => {
  it('accepts YouTube ids and rejects anything that could escape a path or a command line', () => {
    assert.equal(assertVideoId('dQw4w9WgXcQ'), 'dQw4w9WgXcQ');
    for (const bad of ['../../etc/pa', 'short', 'dQw4w9WgXcQ1', 'dQw4w9WgXc;', 'a b c d e f', '', null, 42]) {
      assert.throws(() => assertVideoId(bad), /invalid video id: expected 11 characters/);
    }
  });
});
