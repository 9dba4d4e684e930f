import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { orderedPool } from '@finevideo/runtime';

describe('orderedPool', () => {
  it('keeps input order whatever the completion order, with bounded concurrency', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const seen: number[] = [];
    const items = Array.from({ length: 40 }, (_, i) => i);
    await orderedPool(items, 5, async (i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep((i * 7919) % 13);
      inFlight--;
      return i * 2;
    }, (r, i) => {
      assert.equal(r, i * 2);
      seen.push(i);
    });
    assert.deepEqual(seen, items);
    assert.equal(maxInFlight, 5);
  });

  it('propagates the first failure after settling the rest', async () => {
    let settled = 0;
    await assert.rejects(
      orderedPool([1, 2, 3, 4], 4, async (i) => {
        await sleep(i);
        settled++;
        if (i === 2) throw new Error('boom 2');
        return i;
      }, () => undefined),
      /boom 2/,
    );
    assert.equal(settled, 4);
  });
});
