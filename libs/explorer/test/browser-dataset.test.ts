import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SCREENSHOTS, chromiumForSuite } from './chromium.js';
import { webAssetsIn } from './fixture.js';
import { detectDatasetFolder, startDatasetExplorer, type ExplorerServer } from '../src/index.js';
import { DONE_IDS, DONE_RUN, makeCompleteFixture } from './fixture-complete.js';

describe('explorer pages in headless Chromium: an export copied away from its run, at desktop and phone width', function () {
  this.timeout(85_000);
  let dir: string;
  let server: ExplorerServer;
  const chrome = chromiumForSuite({ viewport: { width: 1280, height: 860 } });
  let browser: Browser;
  let page: Page;

  before(async () => {
    ({ browser, page } = chrome);
    dir = await mkdtemp(join(tmpdir(), 'explore-browser-dataset-'));
    await makeCompleteFixture(join(dir, 'store'));
    const copy = join(dir, 'received', 'finevideo-test');
    cpSync(join(dir, 'store', 'export', DONE_RUN), copy, { recursive: true });
    await rm(join(dir, 'store'), { recursive: true, force: true });
    const assets = await webAssetsIn(dir);
    server = await startDatasetExplorer(detectDatasetFolder(copy)!, { assets, cacheDir: join(dir, 'cache') });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('overview and table of the dataset alone (its run deleted); a video plays out of its parquet cell and a scene click seeks it', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { level: 1, name: 'Dataset finevideo-test' }).waitFor();
    await page.getByText('an export folder on its own').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'dataset-alone-overview.png'), fullPage: true });
    await page.goto(`${server.url}#/dataset`);
    await page.locator('#result-count').getByText('2 videos').waitFor();
    await page.getByRole('link', { name: 'Exported Science Explainers' }).click();
    await page.waitForURL(new RegExp(`#/video/${DONE_IDS[1]}$`));
    await page.waitForFunction(() => ((document.querySelector('video.player') as HTMLVideoElement | null)?.readyState ?? 0) >= 1);
    await page.getByRole('button', { name: /^Scene 2/ }).click();
    await page.waitForFunction(() => Math.abs((document.querySelector('video.player') as HTMLVideoElement).currentTime - 4) < 0.05);
    await page.getByText('Hello from the YouTube-Commons transcript').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'dataset-alone-video.png'), fullPage: true });
  });

  it('phone width: the video table is stacked rows with their column names, and nothing scrolls sideways', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    try {
      await phone.goto(`${server.url}#/dataset`);
      await phone.locator('#result-count').getByText('2 videos').waitFor();
      const cell = phone.locator('table.videos tbody tr').first().locator('td[data-label="category"]');
      assert.equal(await cell.evaluate((td) => getComputedStyle(td).display), 'block');
      assert.equal(await cell.evaluate((td) => getComputedStyle(td, '::before').content), '"category"');
      const [scroll, width] = await phone.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scroll! <= width!, `page ${scroll} px wide in a ${width} px screen`);
      await phone.screenshot({ path: join(SCREENSHOTS, 'dataset-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
  });
});
