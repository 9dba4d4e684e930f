import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { isVideoId } from '@finevideo/core';
import { ExplorerDb } from '../src/duckdb.js';
import { SCREENSHOTS, chromiumForSuite } from './chromium.js';
import type { ExplorerServer } from '../src/index.js';
import { VIDEO_IDS, serveFixture } from './fixture.js';

const [APPLE, BANANA, CHERRY] = VIDEO_IDS;
/** "Real video" titles, sorted by title descending: cherry, banana, apple. */
const LIST = '#/dataset?q=real+video&sort=title&dir=desc';

const playerTime = (page: Page) => page.locator('video.player').evaluate((v: HTMLVideoElement) => v.currentTime);

describe('explorer curation flow in headless Chromium: the list follows a video, keys, downloads and the flagged list', function () {
  this.timeout(85_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let server: ExplorerServer;
  const chrome = chromiumForSuite({ viewport: { width: 1280, height: 860 }, permissions: ['clipboard-read', 'clipboard-write'], acceptDownloads: true });
  let page: Page;

  before(async () => {
    ({ page } = chrome);
    served = await serveFixture('explore-curation-');
    server = served.server;
  });
  after(async () => served?.close());

  it('a video opened from a filtered list: previous/next and J/K walk that list, and the Dataset crumb returns to it', async () => {
    await page.goto(`${server.url}${LIST}`);
    await page.locator('#result-count').getByText('3 videos match').waitFor();
    await page.getByRole('link', { name: 'Real video 2 banana' }).click();
    await page.waitForURL(new RegExp(`#/video/${BANANA}\\?q=real\\+video&sort=title&dir=desc$`));
    await page.locator('#list-position').getByText('2 of 3 in the list').waitFor();
    await page.getByRole('link', { name: '‹ Previous' }).click();
    await page.getByRole('heading', { level: 1, name: 'Real video 3 cherry' }).waitFor();
    await page.locator('#list-position').getByText('1 of 3 in the list').waitFor();
    assert.equal(await page.getByRole('link', { name: '‹ Previous' }).count(), 0, 'the first of the list has no previous');
    await page.keyboard.press('j');
    await page.getByRole('heading', { level: 1, name: 'Real video 2 banana' }).waitFor();
    await page.keyboard.press('j');
    await page.getByRole('heading', { level: 1, name: 'Real video 1 apple' }).waitFor();
    await page.locator('#list-position').getByText('3 of 3 in the list').waitFor();
    await page.keyboard.press('k');
    await page.getByRole('heading', { level: 1, name: 'Real video 2 banana' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'curation-video-in-list.png'), fullPage: true });
    await page.getByRole('link', { name: '← Dataset' }).click();
    await page.waitForURL(new RegExp(`${LIST.replace(/[?+]/g, '\\$&')}$`));
    await page.locator('#result-count').getByText('3 videos match').waitFor();
    assert.equal(await page.getByLabel('Title').inputValue(), 'real video');
  });

  it('N/P choose the next and previous scene, space plays and pauses, ? shows the keys', async () => {
    await page.goto(`${server.url}#/video/${APPLE}${LIST.slice('#/dataset'.length)}`);
    await page.waitForFunction(() => ((document.querySelector('video.player') as HTMLVideoElement | null)?.readyState ?? 0) >= 1);
    await page.keyboard.press('n');
    await page.getByRole('heading', { level: 3, name: 'Scene 2: Fractal zoom' }).waitFor();
    await page.waitForFunction(() => Math.abs((document.querySelector('video.player') as HTMLVideoElement).currentTime - 4) < 0.05);
    await page.keyboard.press('n');
    await page.getByRole('heading', { level: 3, name: /^Scene 3/ }).waitFor();
    await page.keyboard.press('p');
    await page.getByRole('heading', { level: 3, name: 'Scene 2: Fractal zoom' }).waitFor();
    assert.ok(Math.abs((await playerTime(page)) - 4) < 0.05);
    await page.keyboard.press(' ');
    await page.waitForFunction(() => !(document.querySelector('video.player') as HTMLVideoElement).paused);
    await page.keyboard.press(' ');
    await page.waitForFunction(() => (document.querySelector('video.player') as HTMLVideoElement).paused);
    // Space on a focused button presses that button (flag), not the player.
    await page.getByRole('button', { name: 'Flag for review' }).focus();
    await page.keyboard.press(' ');
    await page.getByRole('button', { name: 'Flagged for review', pressed: true }).waitFor();
    assert.equal(await page.locator('video.player').evaluate((v: HTMLVideoElement) => v.paused), true);
    await page.keyboard.press('f');
    await page.getByRole('button', { name: 'Flag for review', pressed: false }).waitFor();
    await page.keyboard.press('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.getByText('next video in the list').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'curation-keys-help.png') });
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'hidden' });
  });

  it('"Copy ids" copies the filtered list\'s ids in its order; "Download CSV" is the same list, and DuckDB reads it', async () => {
    await page.goto(`${server.url}${LIST}`);
    await page.locator('#result-count').getByText('3 videos match').waitFor();
    await page.getByRole('button', { name: 'Copy ids' }).click();
    await page.getByRole('status').getByText('Copied 3 ids').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${CHERRY}\n${BANANA}\n${APPLE}\n`);

    await page.goto(`${server.url}#/dataset?status=dropped&sort=duration`);
    const counter = page.locator('#result-count');
    await counter.getByText(/videos match/).waitFor();
    const dropped = Number(/([\d,]+) videos match/.exec((await counter.textContent()) ?? '')?.[1]?.replace(/,/g, ''));
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
    const csv = join(served.dir, 'videos.csv');
    await download.saveAs(csv);
    const db = new ExplorerDb();
    try {
      const rows = await db.all(`SELECT count(*) AS n, count(*) FILTER (WHERE status <> 'dropped') AS other, bool_and(video_id IS NOT NULL) AS ids FROM read_csv($1, header = true)`, [csv]);
      assert.deepEqual(rows[0], { n: dropped, other: 0, ids: true });
    } finally {
      await db.close();
    }
    assert.match((await readFile(csv, 'utf8')).split('\r\n')[0]!, /^video_id,title,channel,duration,category,top_level,stage,status,reason,selected$/);
  });

  it('flag for review: kept in the browser across reloads, downloaded as a file of ids export\'s excludeIds reads, cleared', async () => {
    await page.goto(`${server.url}#/video/${BANANA}`);
    await page.getByRole('button', { name: 'Flag for review' }).click();
    await page.getByRole('button', { name: 'Flagged for review', pressed: true }).waitFor();
    await page.goto(`${server.url}#/video/${CHERRY}`);
    await page.getByRole('heading', { level: 1, name: 'Real video 3 cherry' }).waitFor();
    await page.keyboard.press('f');
    await page.getByRole('button', { name: 'Flagged for review', pressed: true }).waitFor();
    await page.goto(`${server.url}#/dataset`);
    await page.reload();
    await page.locator('#flag-count').getByText('2').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'curation-flagged.png'), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download ids file' }).click()]);
    assert.equal(download.suggestedFilename(), 'flagged-for-review.txt');
    const file = join(served.dir, 'flagged.txt');
    await download.saveAs(file);
    // export's excludeIds format: one id a line, # comments and blank lines ignored, anything else refused.
    const lines = (await readFile(file, 'utf8')).split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
    assert.deepEqual(lines, [BANANA, CHERRY]);
    assert.ok(lines.every(isVideoId));
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('#flag-count').getByText('0').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Download ids file' }).count(), 0);
  });
});
