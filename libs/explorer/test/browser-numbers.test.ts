import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SCREENSHOTS, chromiumForSuite } from './chromium.js';
import { webAssetsIn } from './fixture.js';
import { openExplorerSource, startExplorer, type ExplorerServer } from '../src/index.js';
import { COUNTED_DROPS, DONE_IDS, DONE_RUN, SOURCE_TEXT, UNREADABLE_SHARD, makeCompleteFixture } from './fixture-complete.js';

describe('explorer pages in headless Chromium: true numbers and no dead ends (a finished run shaped like the demo)', function () {
  this.timeout(85_000);
  let dir: string;
  let server: ExplorerServer;
  const chrome = chromiumForSuite({ viewport: { width: 1366, height: 900 } });
  let page: Page;

  before(async () => {
    ({ page } = chrome);
    dir = await mkdtemp(join(tmpdir(), 'explore-browser-numbers-'));
    await makeCompleteFixture(join(dir, 'store'));
    const assets = await webAssetsIn(dir);
    server = await startExplorer(await openExplorerSource(join(dir, 'store', 'runs', DONE_RUN)), { assets, cacheDir: join(dir, 'cache') });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('overview: headline cards agree with the funnel, export-card is run-level, the anomaly report says what was skipped and why, reasons never lead to an empty table', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { level: 1, name: `Run ${DONE_RUN}` }).waitFor();
    const seen = page.locator('[data-card="seen"]');
    assert.equal(await seen.locator('.big').textContent(), String(DONE_IDS.length + 2 + COUNTED_DROPS));
    await seen.getByText('and 1 error item(s) naming no video').waitFor();
    const end = page.locator('[data-card="end"]');
    assert.equal(await end.locator('.big').textContent(), String(DONE_IDS.length));
    await end.getByText('kept at the end (export)').waitFor();
    assert.equal(await page.locator('[data-card="hours"] .big').textContent(), '0.01 h');
    await page.getByRole('row', { name: /export-card/ }).getByText('run-level').waitFor();
    // The funnel's first row: in = kept + counted drops + errors.
    const ytcommons = page.getByRole('row', { name: /^ytcommons/ });
    assert.equal(await ytcommons.locator('td.num').first().textContent(), String(DONE_IDS.length + 2 + COUNTED_DROPS + 1));
    // A drop counted without rows is a sentence, not a link to an empty table; the error names its shard.
    await ytcommons.getByText('ytcommons counts these without writing a row per video').waitFor();
    assert.equal(await ytcommons.getByRole('link', { name: 'not-english-original' }).count(), 0);
    await ytcommons.getByText(UNREADABLE_SHARD).waitFor();
    // A reason with rows links to them.
    await page.getByRole('row', { name: /^select/ }).getByRole('link', { name: 'not-reached' }).waitFor();
    const anomaly = page.getByRole('table', { name: 'Anomaly rules' });
    await anomaly.locator('tr[data-rule="qa"]').getByText('skipped for 2 of 2 videos: annotated by the baseline annotator, which writes no Q&A').waitFor();
    await anomaly.locator('tr[data-rule="duration"]').getByText('disabled by the run\'s params').waitFor();
    await anomaly.locator('tr[data-rule="qa"]').getByText('minQaPairs=5').waitFor();
    await anomaly.locator('tr[data-rule="text"]').getByRole('link', { name: DONE_IDS[1] }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'numbers-overview.png'), fullPage: true });
  });

  it('dataset: fine categories with the selected count select reports; a filter value not among the options is a removable chip and the dropdown shows it', async () => {
    await page.goto(`${server.url}#/dataset`);
    const painting = page.getByRole('table', { name: 'Videos and hours per category' }).getByRole('row', { name: /Painting Tutorials/ });
    assert.equal(await painting.locator('td.num').nth(1).textContent(), '1');
    assert.equal(await page.getByText('art_creativity').count(), 0);
    await page.goto(`${server.url}#/dataset?category=${encodeURIComponent('Knitting Guides')}&status=kept`);
    await page.locator('#result-count').getByText('0 videos match').waitFor();
    assert.equal(await page.locator('select[name="category"]').inputValue(), 'Knitting Guides');
    const chips = page.getByRole('list', { name: 'Active filters' });
    await chips.getByText('Knitting Guides').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'numbers-chips.png'), fullPage: false });
    await page.getByRole('button', { name: 'Remove filter category: Knitting Guides' }).click();
    await page.locator('#result-count').getByText(/^\d+ videos? match/).waitFor();
    assert.equal(await chips.getByText('Knitting Guides').count(), 0);
    assert.match(page.url(), /status=kept/);
    assert.doesNotMatch(page.url(), /category=/);
  });

  it('video: a baseline annotation says so and hides what was not computed; without subtitles the YouTube-Commons transcript; export-card is run-level', async () => {
    await page.goto(`${server.url}#/video/${DONE_IDS[1]}`);
    await page.getByRole('note').getByText('Made by the baseline annotator (no model)').waitFor();
    await page.getByRole('heading', { level: 3, name: 'Scene 1' }).waitFor();
    for (const hidden of ['untitled', 'Climax', 'Questions and answers', 'Storyline', 'Scores', 'Mood']) assert.equal(await page.getByText(hidden, { exact: true }).count(), 0, hidden);
    await page.getByLabel('Transcript from YouTube-Commons').getByText(SOURCE_TEXT).waitFor();
    await page.locator('.verdict.run-level', { hasText: 'export-card' }).getByText(/run-level/).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'numbers-video-baseline.png'), fullPage: true });
  });

  it('query: the SQL box answers a SELECT as a table and shows a refusal as a sentence', async () => {
    await page.goto(`${server.url}#/sql`);
    await page.getByRole('heading', { level: 1, name: 'Query' }).waitFor();
    await page.getByLabel('SQL').fill("SELECT category, count(*) AS n FROM videos WHERE category IS NOT NULL GROUP BY ALL ORDER BY category");
    await page.getByRole('button', { name: /^Run/ }).click();
    const result = page.getByRole('table', { name: 'Query result' });
    await result.getByRole('cell', { name: 'Painting Tutorials' }).waitFor();
    assert.equal(await result.locator('tbody tr').count(), 3);
    await page.screenshot({ path: join(SCREENSHOTS, 'numbers-sql.png'), fullPage: true });
    await page.getByLabel('SQL').fill("SELECT * FROM read_csv('/etc/passwd')");
    await page.getByRole('button', { name: /^Run/ }).click();
    await page.getByRole('alert').getByText(/disabled|Permission/i).waitFor();
    // The refusal is the page's message, not a console error.
    chrome.pageErrors.splice(0, chrome.pageErrors.length, ...chrome.pageErrors.filter((e) => !/400 \(Bad Request\)/.test(e)));
  });
});
