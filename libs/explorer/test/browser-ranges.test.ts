import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DuckDBInstance } from '@duckdb/node-api';
import { SCREENSHOTS, launchChromium, watchedPage } from './chromium.js';
import { raw } from './http.js';
import { EXTRA_ROWS, VIDEO_IDS, serveFixture } from './fixture.js';

describe('explorer range filters and "copy as DuckDB query" in headless Chromium: histograms, two-handle ranges, chips, the URL, the query', function () {
  this.timeout(85_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];
  const total = async (query: string) => (JSON.parse((await raw(served.server.url, `/api/videos?${query}`)).body.toString()) as { total: number }).total;
  const resultCount = (n: number, filtered: boolean) => page.locator('#result-count').getByText(`${n.toLocaleString('en-US')} video${n === 1 ? '' : 's'}${filtered ? ' match' : ''} ·`);

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    served = await serveFixture('explore-ranges-browser-');
    browser = await launchChromium();
    ({ page, errors: pageErrors } = await watchedPage(browser, { viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] }));
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });
  afterEach(() => assert.deepEqual(pageErrors, [], 'errors on the page'));

  it('a histogram per measured field; moving a handle filters the list, shows a chip, lands in the URL and greys the bins left out', async () => {
    await page.goto(`${served.server.url}#/dataset`);
    const density = page.locator('fieldset[data-field="wordDensity"]');
    await density.locator('svg.histogram rect').first().waitFor();
    for (const field of ['duration', 'dynamism', 'wordDensity', 'score', 'scenes', 'qa']) assert.equal(await page.locator(`fieldset[data-field="${field}"]`).count(), 1, field);
    await resultCount(VIDEO_IDS.length + EXTRA_ROWS, false).waitFor();
    assert.equal(await density.locator('rect.out').count(), 0, 'nothing left out before a bound');

    await page.getByRole('slider', { name: 'word density at least' }).fill('1');
    await page.waitForURL(/minWordDensity=1(&|$)/);
    const expected = await total('minWordDensity=1');
    await resultCount(expected, true).waitFor();
    await page.getByRole('button', { name: 'Remove filter word density ≥ (words/s): 1' }).waitFor();
    assert.ok((await density.locator('rect.out').count()) > 0, 'bins below the bound greyed');
    // The other histograms count the filtered list; this one still shows what widening would bring back.
    await page.locator('fieldset[data-field="duration"] .range-count').getByText(new RegExp(`^${expected.toLocaleString('en-US')} videos`)).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'ranges-word-density.png'), fullPage: true });

    await page.getByRole('slider', { name: 'Q&A pairs at most' }).fill('1');
    await page.waitForURL(/maxQa=1(&|$)/);
    await resultCount(await total('minWordDensity=1&maxQa=1'), true).waitFor();

    await page.getByRole('button', { name: 'Remove filter word density ≥ (words/s): 1' }).click();
    await page.waitForURL((u) => !u.hash.includes('minWordDensity') && u.hash.includes('maxQa=1'));
    await resultCount(await total('maxQa=1'), true).waitFor();
    assert.equal(await density.locator('rect.out').count(), 0);
  });

  it('a range in the URL (a shared link) sets the handles and the chip', async () => {
    await page.goto(`${served.server.url}#/dataset?minScenes=4`);
    await resultCount(await total('minScenes=4'), true).waitFor();
    assert.equal(await page.getByRole('slider', { name: 'scenes at least' }).inputValue(), '4');
    await page.getByRole('button', { name: 'Remove filter scenes ≥: 4' }).waitFor();
    await page.locator('fieldset[data-field="scenes"]').screenshot({ path: join(SCREENSHOTS, 'ranges-scenes.png') });
  });

  it('"Copy as DuckDB query" of a filtered, sorted view: the clipboard\'s SQL, run by DuckDB on the files, gives the table\'s rows in its order', async () => {
    const view = 'minWordDensity=0.5&maxDuration=400&status=dropped&sort=duration&dir=desc';
    await page.goto(`${served.server.url}#/dataset?${view}`);
    const expected = await total(view);
    await resultCount(expected, true).waitFor();
    await page.getByRole('button', { name: 'Copy as DuckDB query' }).click();
    await page.getByRole('status').getByText(/^Copied: run it with the duckdb CLI/).waitFor();
    const sql = await page.evaluate(() => navigator.clipboard.readText());
    await page.locator('.copied-query summary').click();
    await page.screenshot({ path: join(SCREENSHOTS, 'ranges-copied-query.png'), fullPage: true });
    const shown = await page.locator('table.videos tbody tr .title-cell .mono').allTextContents();
    const db = await DuckDBInstance.create(':memory:');
    try {
      const rows = (await (await db.connect()).runAndReadAll(sql)).getRowObjectsJS();
      assert.equal(rows.length, expected);
      assert.ok(shown.length > 1);
      assert.deepEqual(rows.slice(0, shown.length).map((r) => r.video_id), shown, 'the first page, in order');
    } finally {
      db.closeSync();
    }
  });
});
