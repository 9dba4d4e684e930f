import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SCREENSHOTS, chromiumForSuite } from './chromium.js';
import type { ExplorerServer } from '../src/index.js';
import { ANNOTATED, EXTRA_ROWS, MODEL_ANNOTATED, RUN_ID, VIDEO_IDS, serveFixture } from './fixture.js';

describe('explorer pages in headless Chromium (a generated run)', function () {
  this.timeout(85_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let server: ExplorerServer;
  const chrome = chromiumForSuite({ viewport: { width: 1366, height: 860 } });
  let page: Page;
  const offsite: string[] = [];

  before(async () => {
    ({ page } = chrome);
    served = await serveFixture('explore-browser-');
    server = served.server;
    // Offline: any request leaving the server fails the test (no CDN, no fonts from elsewhere).
    await page.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(server.url) || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
      offsite.push(u);
      return route.abort();
    });
  });
  after(async () => served?.close());
  afterEach(() => assert.deepEqual(offsite, [], 'requests left the server'));

  it('overview: the funnel chart, chunk progress of a run still going, cost and the anomaly report', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { level: 1, name: `Run ${RUN_ID}` }).waitFor();
    await page.getByText(/running · \d+\/\d+ chunks/).waitFor();
    assert.equal(await page.locator('canvas[role="img"]').count(), 1);
    const annotateRow = page.getByRole('row', { name: /annotate/ });
    await annotateRow.getByText('1/2').waitFor();
    await annotateRow.getByText('cost_usd: $0.42').waitFor();
    await page.locator('tr[data-rule="qa"]').getByRole('link', { name: MODEL_ANNOTATED }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'overview.png'), fullPage: true });
  });

  it('dataset: category charts, then the table filtered by status and by title search (server-side paging)', async () => {
    await page.goto(`${server.url}#/dataset`);
    const counter = page.locator('#result-count');
    await counter.getByText(`${VIDEO_IDS.length + EXTRA_ROWS} videos`).waitFor();
    assert.equal(await page.locator('table.videos tbody tr').count(), 50);
    await page.getByLabel('Status').selectOption('dropped');
    await counter.getByText(/videos match/).waitFor();
    const dropped = Number(/([\d,]+) videos match/.exec((await counter.textContent()) ?? '')?.[1]?.replace(/,/g, ''));
    assert.ok(dropped >= EXTRA_ROWS / 4, `dropped count ${dropped}`);
    for (const status of await page.locator('table.videos tbody .status').allTextContents()) assert.match(status, /^dropped/);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Title').fill('cherry');
    await counter.getByText('1 video match').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'dataset.png'), fullPage: true });
    await page.getByLabel('Title').fill('apple');
    await counter.getByText('1 video match').waitFor();
    await page.getByRole('link', { name: 'Real video 1 apple' }).waitFor();
  });

  it('video: opened from the table; clicking a scene seeks the player there; the transcript follows; keyboard works too', async () => {
    await page.getByRole('link', { name: 'Real video 1 apple' }).click();
    await page.waitForURL(new RegExp(`#/video/${ANNOTATED}\\?q=apple$`));
    await page.getByRole('heading', { level: 1, name: 'Real video 1 apple' }).waitFor();
    const player = page.locator('video.player');
    await page.waitForFunction(() => ((document.querySelector('video.player') as HTMLVideoElement | null)?.readyState ?? 0) >= 1);
    await page.getByRole('button', { name: /^Scene 2: Fractal zoom/ }).click();
    await page.waitForFunction(() => Math.abs((document.querySelector('video.player') as HTMLVideoElement).currentTime - 4) < 0.05);
    assert.ok(Math.abs((await player.evaluate((v: HTMLVideoElement) => v.currentTime)) - 4) < 0.05);
    await page.getByRole('heading', { level: 3, name: 'Scene 2: Fractal zoom' }).waitFor();
    await page.locator('.transcript li.current', { hasText: 'Now the second scene begins.' }).waitFor();
    // Keyboard: focus scene 3 and press Enter.
    await page.getByRole('button', { name: /^Scene 3: Colour card/ }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => Math.abs((document.querySelector('video.player') as HTMLVideoElement).currentTime - 8) < 0.05);
    await page.locator('.transcript li.current', { hasText: 'And this is how it ends.' }).waitFor();
    await page.getByText('What follows?').waitFor();
    await page.getByRole('button', { name: /^Scene 2: Fractal zoom/ }).click();
    await page.screenshot({ path: join(SCREENSHOTS, 'video.png'), fullPage: true });
  });
});
