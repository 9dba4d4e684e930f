import assert from 'node:assert/strict';
import type { Histogram } from '../src/range-fields.js';
import { raw } from './http.js';
import { EXTRA_ROWS, VIDEO_IDS, serveFixture, wordDensityAt } from './fixture.js';

const json = <T>(r: { status: number; body: Buffer }): T => JSON.parse(r.body.toString('utf8')) as T;

describe('explorer range filters: histograms over the filtered list and min/max bounds (a generated run on a folder store)', function () {
  this.timeout(80_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let url: string;
  const total = async (query: string) => json<{ total: number }>(await raw(url, `/api/videos?${query}`)).total;
  const histograms = async (query: string) => {
    const r = await raw(url, `/api/histograms?${query}`);
    assert.equal(r.status, 200, r.body.toString());
    return new Map(json<{ histograms: Histogram[] }>(r).histograms.map((h) => [h.field, h]));
  };
  const counted = (h: Histogram) => h.bins.reduce((a, b) => a + b.videos, 0) + h.missing;

  before(async () => {
    served = await serveFixture('explore-ranges-');
    url = served.server.url;
  });
  after(async () => served?.close());

  it('GET /api/histograms: every range field, bins spanning its values over every video, counts adding up to the list', async () => {
    const all = await histograms('');
    assert.deepEqual([...all.keys()], ['duration', 'dynamism', 'wordDensity', 'score', 'scenes', 'qa']);
    const n = VIDEO_IDS.length + EXTRA_ROWS;
    for (const h of all.values()) assert.equal(counted(h), n, `${h.field}: bins + missing = every video`);
    const density = all.get('wordDensity')!;
    assert.deepEqual([density.min, density.max, density.missing], [0, 3, 0]);
    // Rows 0..n-1 have density (i % 7) / 2: the first bin holds the zeros.
    const zeros = Array.from({ length: n }, (_, i) => wordDensityAt(i)).filter((d) => d === 0).length;
    assert.equal(density.bins[0]!.videos, zeros);
    // Integer fields with few values: one bin per value (annotated videos have 3 or 4 scenes, 0..2 Q&A pairs).
    assert.deepEqual(all.get('scenes')!.bins.map((b) => [b.from, b.videos]), [[3, 2], [4, 1]]);
    assert.deepEqual(all.get('qa')!.bins.map((b) => [b.from, b.to, b.videos]), [[0, 0, 1], [1, 1, 1], [2, 2, 1]]);
    assert.equal(all.get('qa')!.missing, n - 3);
    // dynamism = 1 - frozen_share (download rows here: 0, 0.1, ... 0.4).
    assert.deepEqual([all.get('dynamism')!.min, all.get('dynamism')!.max], [0.6, 1]);
  });

  it('each histogram follows the other filters, not its own bounds; the list follows all of them', async () => {
    const filtered = await histograms('category=Recipe%20Videos&minWordDensity=1&maxWordDensity=2.5');
    const listed = await total('category=Recipe%20Videos&minWordDensity=1&maxWordDensity=2.5');
    assert.ok(listed > 0 && listed < (await total('category=Recipe%20Videos')));
    for (const [field, h] of filtered) {
      if (field === 'wordDensity') assert.equal(counted(h), await total('category=Recipe%20Videos'), 'its own bounds omitted');
      else assert.equal(counted(h), listed, `${field} counts the filtered list`);
    }
    // The domain stays that of every video (the slider does not jump as filters narrow the list).
    assert.deepEqual([filtered.get('duration')!.min, filtered.get('duration')!.max], [(await histograms('')).get('duration')!.min, (await histograms('')).get('duration')!.max]);
  });

  it('GET /api/videos filters by each range (min and max inclusive) and refuses a bound that is not a number', async () => {
    const n = VIDEO_IDS.length + EXTRA_ROWS;
    const expected = Array.from({ length: n }, (_, i) => wordDensityAt(i)).filter((d) => d >= 1 && d <= 2.5).length;
    assert.equal(await total('minWordDensity=1&maxWordDensity=2.5'), expected);
    assert.equal(await total('minScenes=4'), 1);
    assert.equal(await total('minQa=1&maxQa=1'), 1);
    assert.equal(await total('minScore=0.999'), 2, 'select scores 1 - i/1000: two at least 0.999');
    assert.equal(await total('maxDynamism=0.6'), await total('minDynamism=0.6&maxDynamism=0.6'));
    for (const bad of ['minScore=abc', 'maxQa=-1', 'minDynamism=Infinity']) {
      const r = await raw(url, `/api/histograms?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(json<{ error: string }>(r).error, new RegExp(`${bad.split('=')[0]}: expected a non-negative number, got`));
    }
  });
});
