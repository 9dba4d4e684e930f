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

  it('keeps secrets out of the plain worker environment, whose values are recorded in run.json', () => {
    const k8s = (env: string) => `name: demo\nstorage: x\nexecutor: { kind: kubernetes, env: { ${env} } }\nstages: [{stage: a}]`;
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'HF_TOKEN', 'OPENAI_API_KEY', 'DB_PASSWORD', 'AWS_ACCESS_KEY_ID']) {
      const message = errorOf(k8s(`${name}: s3cr3t-value`)).message;
      assert.match(message, new RegExp(`executor\\.env: expected .*pass secrets with secretEnv or secretEnvFrom, got key "${name}"`));
      assert.doesNotMatch(message, /s3cr3t-value/, "the error never shows the value");
    }
    const ok = parsePipelineConfig(k8s('AWS_REGION: eu-west-1, TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1"'));
    assert.deepEqual(ok.executor.kind === 'kubernetes' && Object.keys(ok.executor.env), ['AWS_REGION', 'TOKENIZERS_PARALLELISM', 'HF_HUB_OFFLINE']);
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
