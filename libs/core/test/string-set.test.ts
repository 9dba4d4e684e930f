import assert from 'node:assert/strict';
import { CompactStringSet, seededRandom } from '@finevideo/core';

describe('CompactStringSet', () => {
  it('agrees with a Set<string> on 200,000 adds with repeats, unicode, empty and long strings', () => {
    const random = seededRandom(9);
    const compact = new CompactStringSet();
    const reference = new Set<string>();
    const specials = ['', 'é', '日本語', '😀 emoji', 'x'.repeat(3_000_000), 'x'.repeat(2_999_999)];
    for (let i = 0; i < 200_000; i++) {
      const value = i < specials.length ? specials[i]! : `id${Math.floor(random() * 150_000).toString(36)}`;
      assert.equal(compact.add(value), !reference.has(value), `add ${value.slice(0, 20)}`);
      reference.add(value);
    }
    assert.equal(compact.size, reference.size);
    for (const value of specials) assert.ok(compact.has(value));
    assert.ok(!compact.has('x'.repeat(2_999_998)));
    assert.ok(!compact.has('never added'));
  });
});
