import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { mediaLayout } from '@finevideo/core';
import { DEFAULT_POSTER_OPTIONS, jpegDimensions, makePosterAndStrip } from '@finevideo/media';
import { FileStore } from '@finevideo/storage';
import { SCREENSHOTS, launchChromium, watchedPage } from './chromium.js';
import { raw } from './http.js';
import { VIDEO_IDS, serveFixture } from './fixture.js';

const [APPLE, BANANA, CHERRY] = VIDEO_IDS;
const LIST = '#/dataset?q=real+video&sort=title&dir=desc';

/** What dynamism leaves beside a video it judged (media/<id>/poster.jpg, strip.jpg), for the fixture's real videos. */
async function makePosters(storeRoot: string): Promise<void> {
  const store = new FileStore(storeRoot);
  for (const id of VIDEO_IDS) {
    const keys = mediaLayout(id);
    const images = await makePosterAndStrip(store.localPath(keys.video)!, DEFAULT_POSTER_OPTIONS);
    await store.put(keys.poster, images.poster.jpeg);
    await store.put(keys.strip, images.strip.jpeg);
  }
}

/**
 * Puts the pointer on the tile's left edge until its strip shows. The histograms and the category table arrive
 * after the grid and push it down, on a loaded machine below the window: so bring the tile into view and
 * measure it afresh before each try (Chromium sends mouseenter only when the pointer moves).
 */
async function pointAtUntilStrip(page: Page, posterFrame: Locator, strip: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  await page.waitForLoadState('networkidle');
  const deadline = Date.now() + 20_000;
  for (let nudge = 0; ; nudge = 1 - nudge) {
    await posterFrame.scrollIntoViewIfNeeded();
    const box = (await posterFrame.boundingBox())!;
    await page.mouse.move(box.x + 2 + nudge, box.y + box.height / 2);
    try {
      await strip.waitFor({ timeout: 1_000 });
      return box;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

describe('explorer posters: grid view with hover-scrub, the video page\'s poster (headless Chromium)', function () {
  this.timeout(120_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    served = await serveFixture('explore-posters-');
    await makePosters(join(served.dir, 'store'));
    browser = await launchChromium();
    ({ page, errors } = await watchedPage(browser, { viewport: { width: 1280, height: 900 } }));
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });
  afterEach(() => assert.deepEqual(errors, [], 'errors on the page'));

  it('serves a video\'s poster and strip as they were made (never transcoded); refuses other names; a missing one is 404 or, asked so, a placeholder', async () => {
    const url = served.server.url;
    const poster = await raw(url, `/posters/${APPLE}.jpg`);
    assert.equal(poster.status, 200);
    assert.equal(poster.headers['content-type'], 'image/jpeg');
    assert.deepEqual(poster.body, await new FileStore(join(served.dir, 'store')).get(mediaLayout(APPLE).poster), 'the stored bytes');
    assert.deepEqual(jpegDimensions(poster.body), { width: 160, height: 120 });
    assert.deepEqual(jpegDimensions((await raw(url, `/posters/${APPLE}.strip.jpg`)).body), { width: 8 * 160, height: 120 });
    assert.equal((await raw(url, `/posters/${APPLE}.jpg`, { method: 'HEAD' })).status, 200);
    const bad = await raw(url, '/posters/..%2F..%2Frun.json.jpg');
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /posters: expected <video id>\.jpg or <video id>\.strip\.jpg/);
    const missing = await raw(url, '/posters/genAAAAA001.jpg');
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /video genAAAAA001: no poster in /);
    const placeholder = await raw(url, '/posters/genAAAAA001.jpg?placeholder');
    assert.equal(placeholder.status, 200);
    assert.equal(placeholder.headers['x-poster'], 'none');
    assert.match(String(placeholder.headers['content-type']), /^image\/svg\+xml/);
  });

  it('the grid shows the filtered list as posters (the toggle keeps the filters and the order), and a pointer across a tile scrubs its strip', async () => {
    await page.goto(`${served.server.url}${LIST}`);
    await page.locator('#result-count').getByText('3 videos match').waitFor();
    await page.getByRole('button', { name: 'Grid' }).click();
    await page.waitForURL(/view=grid/);
    assert.match(page.url(), /q=real\+video&sort=title&dir=desc/, 'filters and order kept');
    const tiles = page.locator('.poster-tile');
    await tiles.nth(2).waitFor();
    assert.deepEqual(await tiles.evaluateAll((els) => els.map((e) => e.getAttribute('data-video-id'))), [CHERRY, BANANA, APPLE]);
    // Every poster decoded by the browser at its stored size.
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('.poster-tile img')).every((i) => i.complete && i.naturalWidth > 0));
    assert.deepEqual(await page.locator('.poster-tile img').evaluateAll((els) => els.map((i) => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).naturalHeight])), [[160, 120], [160, 120], [160, 120]]);
    await page.screenshot({ path: join(SCREENSHOTS, 'posters-grid.png'), fullPage: false });

    const frame = tiles.first().locator('.strip-frame');
    const box = await pointAtUntilStrip(page, tiles.first().locator('.poster-frame'), frame);
    // Moving right walks the strip's 8 frames: the first at the left edge, the last at the right.
    await page.mouse.move(box.x + 3, box.y + box.height / 2);
    assert.equal(await frame.getAttribute('data-frame'), '0');
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2);
    assert.equal(await frame.getAttribute('data-frame'), '4');
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    assert.equal(await frame.getAttribute('data-frame'), '7');
    assert.match(await frame.evaluate((e) => getComputedStyle(e).backgroundImage), new RegExp(`/posters/${CHERRY}\\.strip\\.jpg`));
    assert.equal(await frame.evaluate((e) => getComputedStyle(e).backgroundPosition), '100% 0px');
    await page.screenshot({ path: join(SCREENSHOTS, 'posters-grid-scrub.png'), clip: { x: box.x - 10, y: box.y - 10, width: box.width * 3 + 60, height: box.height + 70 } });
    await page.mouse.move(5, 5);
    await frame.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Table' }).click();
    await page.locator('table.videos').waitFor();
    assert.doesNotMatch(page.url(), /view=grid/);
    assert.match(page.url(), /q=real\+video/);
  });

  it('a grid page is 60 videos; those without a poster show a plain tile, with no failed load', async () => {
    await page.goto(`${served.server.url}#/dataset?view=grid`);
    await page.locator('.poster-tile').nth(59).waitFor();
    assert.equal(await page.locator('.poster-tile').count(), 60);
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('.poster-tile img')).slice(0, 12).every((i) => i.complete && i.naturalWidth > 0));
    await page.screenshot({ path: join(SCREENSHOTS, 'posters-grid-page.png') });
  });

  it('the video page shows the poster before the video plays', async () => {
    await page.goto(`${served.server.url}#/video/${BANANA}`);
    const video = page.locator('video.player');
    await video.waitFor();
    assert.equal(await video.getAttribute('poster'), `/posters/${BANANA}.jpg`);
    assert.equal(await video.evaluate((v: HTMLVideoElement) => v.paused && v.currentTime === 0), true);
    await page.screenshot({ path: join(SCREENSHOTS, 'posters-video-page.png') });
  });
});
