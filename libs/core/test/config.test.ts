import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, assertVideoId, closestName, editDistance, formatZodIssues, httpUrl, parseOrThrow, parsePipelineConfig, urlParam, type StageSchemaResolver } from '@finevideo/core';

const errorOf = (yaml: string, resolveStage?: StageSchemaResolver): ConfigError => {
  try {
    parsePipelineConfig(yaml, 'p.yaml', resolveStage);
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
    assert.match(e.message, /storage: expected a string, got number 3/);
    assert.match(e.message, /stages\[0\]\.chunks: expected an integer > 0, got number -2/);
  });

  it('rejects unknown keys, bad enums and duplicate stage names', () => {
    assert.match(errorOf('name: demo\nstorage: x\nstagez: []\nstages: [{stage: a}]').message, /stagez: unknown field; did you mean stages\?/);
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

describe('validation messages', () => {
  const params = z.strictObject({
    threshold: z.number().min(0).default(0.5),
    itemsPerChunk: z.number().int().positive().optional(),
    share: z.number().gt(0).max(1).optional(),
    step: z.number().multipleOf(5).optional(),
    name: z.string().min(1).optional(),
    tags: z.array(z.string()).min(1).max(3).optional(),
    code: z.string().max(3).optional(),
    env: z.string().regex(/^[A-Z_]+$/, 'an environment variable name').optional(),
    pattern: z.string().regex(/^\d+$/).optional(),
    size: z.union([z.number().int().positive(), z.string().regex(/^\d+[KMG]$/, 'a size like "500M"')]).optional(),
    mode: z.enum(['fast', 'full']).optional(),
    on: z.boolean().optional(),
    need: z.string(),
  });
  const messages = (input: Record<string, unknown>): string[] => {
    try {
      parseOrThrow(params, { need: 'x', ...input }, 'stages[1].params');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.issues;
    }
    assert.fail('expected the params to be rejected');
  };

  it('says what a check expects in plain words, with the value found', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ threshold: -1 }, 'threshold: expected a number >= 0, got number -1'],
      [{ threshold: 'high' }, 'threshold: expected a number, got "high"'],
      [{ itemsPerChunk: 0 }, 'itemsPerChunk: expected an integer > 0, got number 0'],
      [{ itemsPerChunk: 1.5 }, 'itemsPerChunk: expected an integer, got number 1.5'],
      [{ share: 0 }, 'share: expected a number > 0, got number 0'],
      [{ share: 2 }, 'share: expected a number <= 1, got number 2'],
      [{ step: 7 }, 'step: expected a multiple of 5, got number 7'],
      [{ name: '' }, 'name: expected a non-empty string, got ""'],
      [{ tags: [] }, 'tags: expected a non-empty list, got a list of 0'],
      [{ tags: ['a', 'b', 'c', 'd'] }, 'tags: expected a list of at most 3 items, got a list of 4'],
      [{ code: 'abcd' }, 'code: expected a string of at most 3 characters, got "abcd"'],
      [{ env: 'my var' }, 'env: expected an environment variable name, got "my var"'],
      [{ pattern: 'x' }, 'pattern: expected a string matching /^\\d+$/, got "x"'],
      [{ size: 'big' }, 'size: expected a size like "500M", got "big"'], // zod reports the branch of the value's type
      [{ size: true }, 'size: expected a number or a string, got boolean true'],
      [{ mode: 'slow' }, 'mode: expected one of "fast", "full", got "slow"'],
      [{ on: 'yes' }, 'on: expected true or false, got "yes"'],
      [{ need: undefined }, 'need: expected a string, got nothing (it is required)'],
      [{ tags: 'a' }, 'tags: expected a list, got "a"'],
    ];
    for (const [input, expected] of cases) assert.deepEqual(messages(input), [expected], JSON.stringify(input));
  });

  it('names an unknown param with the closest valid one, or lists the valid ones', () => {
    assert.deepEqual(messages({ treshold: 0.4 }), ['treshold: unknown param; did you mean threshold?']);
    assert.deepEqual(messages({ itemPerChunk: 3, Threshold: 1 }), ['itemPerChunk: unknown param; did you mean itemsPerChunk?', 'Threshold: unknown param; did you mean threshold?']);
    assert.match(messages({ zzz: 1 })[0]!, /^zzz: unknown param \(expected one of threshold, itemsPerChunk, share, .*need\)$/);
    assert.equal(closestName('paralelism', ['parallelism', 'retries']), 'parallelism');
    assert.equal(closestName('colour', ['threshold', 'mode']), undefined);
    assert.equal(editDistance('treshold', 'threshold'), 1);
    assert.equal(editDistance('hte', 'the'), 1);
  });

  it('follows nested objects, lists and the executor kind to name an unknown key', () => {
    const e = errorOf('name: demo\nstorage: x\nexecutor: { kind: kubernetes, namespce: a }\nstages: [{stage: a, chunk: 3}]');
    assert.match(e.message, /executor\.namespce: unknown field; did you mean namespace\?/);
    assert.match(e.message, /stages\[0\]\.chunk: unknown field; did you mean chunks\?/);
    const local = errorOf('name: demo\nstorage: x\nexecutor: { kind: local, paralelism: 2 }\nstages: [{stage: a}]');
    assert.match(local.message, /executor\.paralelism: unknown field; did you mean parallelism\?/);
  });

  it('reports every error of a file at once: top-level fields and stage params together', () => {
    const registry: StageSchemaResolver = (type) => {
      if (type === 'worddensity') return { kind: 'map', params: z.strictObject({ threshold: z.number().min(0).default(0.5) }) };
      if (type === 'select') return { kind: 'global', params: z.strictObject({}) };
      throw new Error(`stage type: expected one of select, worddensity, got ${JSON.stringify(type)}`);
    };
    const e = errorOf([
      'name: demo', 'storage: 3', 'stages:',
      '  - stage: worddensity', '    params: { treshold: 0.4 }',
      '  - stage: worddensity', '    params: { threshold: -1 }',
      '  - stage: nosuch',
    ].join('\n'), registry);
    assert.deepEqual(e.issues, [
      'storage: expected a string, got number 3',
      'stages[0].params.treshold: unknown param; did you mean threshold?',
      'stages[1].name: expected a unique stage name, got "worddensity" twice (set "name" on one of them)',
      'stages[1].params.threshold: expected a number >= 0, got number -1',
      'stages[2].stage: expected one of select, worddensity, got "nosuch"',
    ]);
    assert.deepEqual(errorOf('name: demo\nstorage: x\nstages: [{stage: wordensity}]', registry).issues, ['stages[0].stage: expected one of select, worddensity, got "wordensity"; did you mean worddensity?']);
    assert.deepEqual(errorOf('name: demo\nstorage: x\nstages: [{stage: select}]', registry).issues, ['stages[0]: expected a map stage first, got global stage select']);
    const ok = parsePipelineConfig('name: demo\nstorage: x\nstages: [{stage: worddensity, params: {threshold: 1}}]', 'p.yaml', registry);
    assert.deepEqual(ok.stages[0]!.params, { threshold: 1 }, 'params stay as written (each worker parses them)');
  });

  it('formats issues without a schema too (no key suggestions)', () => {
    const schema = z.strictObject({ a: z.number() });
    const result = schema.safeParse({ b: 1, a: 'x' });
    assert.ok(!result.success);
    assert.deepEqual(formatZodIssues(result.error, { b: 1, a: 'x' }), ['a: expected a number, got "x"', 'b: unknown field']);
  });
});

describe('URL params', () => {
  const reject = (schema: z.ZodType, value: string): string => {
    const result = z.strictObject({ url: schema }).safeParse({ url: value });
    assert.ok(!result.success, `expected ${value} to be refused`);
    return formatZodIssues(result.error, { url: value }).join('\n');
  };

  it('refuses credentials without repeating them, with or without a scheme', () => {
    for (const value of ['http://user:hunter2@host/v1', 'https://hunter2@host', 'user:hunter2@host:80/v1', 'socks5://u:hunter2@proxy:1080']) {
      const message = reject(urlParam('proxy', ['http', 'https', 'socks5']), value);
      assert.match(message, /^url: expected a URL without user:password .*got a URL with credentials \(not shown\)$/);
      assert.doesNotMatch(message, /hunter2/);
    }
  });

  it('refuses a URL without a scheme or with another scheme, and accepts a plain one', () => {
    assert.equal(reject(httpUrl('endpoint'), 'tgi:80/v1'), 'url: expected an http:// or https:// URL with a host, got "tgi:80/v1"');
    assert.equal(reject(httpUrl('endpoint'), 'localhost:8080'), 'url: expected an http:// or https:// URL with a host, got "localhost:8080"');
    assert.equal(reject(urlParam('proxy', ['http', 'https', 'socks5']), 'ftp://proxy'), 'url: expected an http://, https:// or socks5:// URL with a host, got "ftp://proxy"');
    assert.ok(httpUrl('endpoint').safeParse('http://tgi.finevideo.svc/v1').success);
    assert.ok(urlParam('proxy', ['socks5']).safeParse('socks5://proxy:1080').success);
  });

  it('refuses credentials in the storage location and the s3 endpoint of a pipeline', () => {
    const e = errorOf('name: demo\nstorage: s3://AKIA:wJalrXUtn@bucket/x\ns3: { endpoint: "http://minio:s3cr3t@minio:9000" }\nstages: [{stage: a}]');
    assert.match(e.message, /storage: expected a location without user:password .*got a URL with credentials \(not shown\)/);
    assert.match(e.message, /s3\.endpoint: expected a URL without user:password .*got a URL with credentials \(not shown\)/);
    assert.doesNotMatch(e.message, /wJalrXUtn|s3cr3t/);
  });
});
