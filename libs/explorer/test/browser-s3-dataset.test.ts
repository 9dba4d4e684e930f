import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openStore } from '@finevideo/storage';
import { setEnv, startS3rver, type S3rverHandle } from '@finevideo/testing';
import { SCREENSHOTS, launchChromium, watchedPage } from './chromium.js';
import { uploadFolder } from './upload.js';
import { buildWebAssets, ffmpegCoreDir } from '../src/build-web.js';
import { openExplorerTarget, startDatasetExplorer, type DatasetFolder, type ExplorerServer } from '../src/index.js';
import { BASELINE, DONE_IDS, DONE_RUN, makeCompleteFixture } from './fixture-complete.js';

describe('explorer pages in headless Chromium: a dataset on S3 (s3rver), its range filters and a video out of its parquet', function () {
  this.timeout(85_000);
  let dir: string;
  let s3: S3rverHandle;
  let restore: () => void;
  let folder: DatasetFolder;
  let server: ExplorerServer | undefined;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'explore-browser-s3-dataset-'));
    await makeCompleteFixture(join(dir, 'store'));
    s3 = await startS3rver({ buckets: ['datasets'] });
    restore = setEnv(s3.env);
    await uploadFolder(openStore('s3://datasets/received/finevideo-test'), join(dir, 'store', 'export', DONE_RUN));
    const assets = { dir: join(dir, 'web'), ffmpegCoreDir: ffmpegCoreDir() };
    await buildWebAssets(join(import.meta.dirname, '..', 'web'), assets.dir);
    const target = await openExplorerTarget('s3://datasets/received/finevideo-test');
    assert.ok(target.kind === 'dataset');
    folder = target.folder;
    server = await startDatasetExplorer(folder, { assets, cacheDir: join(dir, 'cache') });
    browser = await launchChromium();
    ({ page, errors: pageErrors } = await watchedPage(browser, { viewport: { width: 1280, height: 860 } }));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    restore?.();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => assert.deepEqual(pageErrors, [], 'errors on the page'));

  it('the overview names the S3 prefix; the table, its histograms and a range filter; a video plays and seeks', async () => {
    await page.goto(server!.url);
    await page.getByRole('heading', { level: 1, name: 'Dataset finevideo-test' }).waitFor();
    await page.getByText('s3://datasets/received/finevideo-test', { exact: false }).first().waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 's3-dataset-overview.png'), fullPage: true });
    await page.goto(`${server!.url}#/dataset`);
    await page.locator('#result-count').getByText('2 videos').waitFor();
    await page.locator('fieldset[data-field="scenes"] svg.histogram rect').first().waitFor();
    await page.getByText('No video has a value for select score').waitFor();
    await page.locator('fieldset[data-field="scenes"]').getByText(`every video: ${BASELINE.scenes.length}`).waitFor();
    await page.goto(`${server!.url}#/dataset?minScenes=${BASELINE.scenes.length + 1}`);
    await page.locator('#result-count').getByText('0 videos match').waitFor();
    await page.getByRole('button', { name: `Remove filter scenes ≥: ${BASELINE.scenes.length + 1}` }).click();
    await page.locator('#result-count').getByText('2 videos').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 's3-dataset-table.png'), fullPage: true });
    await page.getByRole('link', { name: 'Exported Science Explainers' }).click();
    await page.waitForURL(new RegExp(`#/video/${DONE_IDS[1]}`));
    await page.waitForFunction(() => ((document.querySelector('video.player') as HTMLVideoElement | null)?.readyState ?? 0) >= 1);
    await page.getByRole('button', { name: /^Scene 2/ }).click();
    await page.waitForFunction(() => Math.abs((document.querySelector('video.player') as HTMLVideoElement).currentTime - 4) < 0.05);
    await page.screenshot({ path: join(SCREENSHOTS, 's3-dataset-video.png'), fullPage: true });
  });

  it('stopping the server removes the temporary copy of the dataset', async () => {
    assert.ok(existsSync(join(folder.root, 'index.parquet')));
    await server!.close();
    server = undefined;
    assert.ok(!existsSync(folder.root), `${folder.root} removed`);
  });
});
