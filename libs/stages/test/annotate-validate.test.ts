import assert from 'node:assert/strict';
import { sampleAnnotation } from '@finevideo/testing';
import { validateAnswer } from '@finevideo/stages/annotate';

const annotation = sampleAnnotation({ durationSeconds: 20, seed: 7 });
const json = JSON.stringify(annotation);

function problemsOf(raw: string, maxChars = 1_000_000): { kind: string; problems: string } {
  const result = validateAnswer(raw, maxChars);
  assert.ok(!result.ok, `expected a refusal, got ${JSON.stringify(result).slice(0, 200)}`);
  return result;
}

describe('annotate validateAnswer: edges', () => {
  it('an answer of exactly maxChars is read; one character more is refused, naming both sizes', () => {
    const read = validateAnswer(json, json.length);
    assert.ok(read.ok);
    assert.deepEqual(read.annotation, annotation);
    const big = problemsOf(json, json.length - 1);
    assert.equal(big.kind, 'too-large');
    assert.equal(big.problems, `answer of ${json.length} characters, above maxAnswerChars ${json.length - 1}`);
  });

  it('reads bare JSON with surrounding whitespace and a fence without a newline before its end', () => {
    const bare = validateAnswer(`\n  ${json}  \n`, 1_000_000);
    assert.ok(bare.ok);
    assert.deepEqual(bare.annotation, annotation);
    const tight = validateAnswer(`\`\`\`json\n${json}\`\`\``, 1_000_000);
    assert.ok(tight.ok, JSON.stringify(tight).slice(0, 300));
    assert.deepEqual(tight.annotation, annotation);
  });

  it('a fence that is not the whole answer is not unwrapped: text around it makes the answer not JSON', () => {
    const wrapped = problemsOf(`Here it is:\n\`\`\`json\n${json}\n\`\`\``);
    assert.equal(wrapped.kind, 'not-json');
    const trailing = problemsOf(`\`\`\`json\n${json}\n\`\`\`\nhope this helps`);
    assert.equal(trailing.kind, 'not-json');
  });

  it('a cut-off answer is not JSON, with the parser message and a hint that it may be cut off', () => {
    const cut = problemsOf(json.slice(0, 50));
    assert.equal(cut.kind, 'not-json');
    assert.match(cut.problems, /^not JSON \(.+\); the answer may be cut off$/);
    assert.ok(cut.problems.length <= 'not JSON (); the answer may be cut off'.length + 200, cut.problems);
  });

  it('schema problems name each path (dotted) or (root), one per line', () => {
    const notObject = problemsOf('[1, 2]');
    assert.equal(notObject.kind, 'schema');
    assert.match(notObject.problems, /^- \(root\): /);
    const nested = { ...annotation, scenes: [{ ...annotation.scenes[0]!, sceneId: 'one' }] };
    const deep = problemsOf(JSON.stringify(nested));
    assert.equal(deep.kind, 'schema');
    assert.match(deep.problems, /^- scenes\.0\.sceneId: /m, deep.problems);
  });

  it('lists at most 20 problems and counts the rest', () => {
    const many = { ...annotation, scenes: Array.from({ length: 24 }, (_, i) => i), unknown_field: 1 };
    const result = problemsOf(JSON.stringify(many));
    const lines = result.problems.split('\n');
    assert.equal(result.kind, 'schema');
    assert.equal(lines.length, 21, result.problems);
    assert.deepEqual(lines.slice(0, 20).map((line) => line.split(':')[0]), Array.from({ length: 20 }, (_, i) => `- scenes.${i}`));
    assert.equal(lines[20], '- ... and 5 more');
  });

  it('cuts each problem message at 200 characters', () => {
    const extras: Record<string, unknown> = { ...annotation };
    for (let i = 0; i < 40; i++) extras[`extra_field_${i}`] = i;
    const result = problemsOf(JSON.stringify(extras));
    assert.match(result.problems, /^- \(root\): Unrecognized keys: "extra_field_0"/);
    assert.equal(result.problems.length, '- (root): '.length + 200, result.problems);
  });
});
