import assert from 'node:assert/strict';
import { chunkOfItem, formatIndexRanges, parseIndexRanges, planChunks } from '@finevideo/core';

describe('planChunks', () => {
  it('covers every item exactly once with sizes differing by at most one', () => {
    for (const n of [0, 1, 7, 100, 101, 9999]) {
      for (const opts of [{ chunks: 3 }, { chunks: 1 }, { itemsPerChunk: 10 }, { itemsPerChunk: 1 }]) {
        const ranges = planChunks(n, opts);
        assert.equal(ranges[0]!.start, 0);
        assert.equal(ranges.at(-1)!.end, n);
        for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i]!.start, ranges[i - 1]!.end);
        const sizes = ranges.map((r) => r.end - r.start);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes} for n=${n}`);
        ranges.forEach((r, i) => assert.equal(r.index, i));
        if (n > 0) assert.ok(sizes.every((s) => s > 0));
      }
    }
  });

  it('is deterministic and honours the options', () => {
    assert.deepEqual(planChunks(10, { chunks: 3 }), [
      { index: 0, start: 0, end: 4 },
      { index: 1, start: 4, end: 7 },
      { index: 2, start: 7, end: 10 },
    ]);
    assert.equal(planChunks(95, { itemsPerChunk: 10 }).length, 10);
    assert.equal(planChunks(3, { chunks: 8 }).length, 3, 'never more chunks than items');
    assert.equal(planChunks(0, { chunks: 4 }).length, 1, 'an empty list still has chunk 0');
    assert.deepEqual(planChunks(10, { chunks: 3, itemsPerChunk: 1 }), planChunks(10, { chunks: 3 }), 'chunks wins');
  });

  it('rejects bad options with expected/got messages', () => {
    assert.throws(() => planChunks(10, { chunks: 0 }), /chunks: expected a positive integer, got 0/);
    assert.throws(() => planChunks(-1, {}), /item count: expected a non-negative integer, got -1/);
    assert.throws(() => planChunks(10, { itemsPerChunk: 2.5 }), /itemsPerChunk: expected a positive integer, got 2.5/);
  });

  it('finds the chunk of an item', () => {
    const ranges = planChunks(10, { chunks: 3 });
    assert.deepEqual([0, 3, 4, 6, 7, 9].map((i) => chunkOfItem(ranges, i)), [0, 0, 1, 1, 2, 2]);
    assert.throws(() => chunkOfItem(ranges, 10));
  });
});

describe('index ranges', () => {
  it('parses and formats Kubernetes index strings', () => {
    assert.deepEqual(parseIndexRanges('1,3-5,7'), [1, 3, 4, 5, 7]);
    assert.deepEqual(parseIndexRanges(''), []);
    assert.deepEqual(parseIndexRanges(undefined), []);
    assert.equal(formatIndexRanges([7, 1, 3, 4, 5]), '1,3-5,7');
    assert.equal(formatIndexRanges([]), '');
    assert.throws(() => parseIndexRanges('1,x'), /expected "n" or "n-m" parts, got "x"/);
    assert.throws(() => parseIndexRanges('5-3'), /ascending/);
  });
});
