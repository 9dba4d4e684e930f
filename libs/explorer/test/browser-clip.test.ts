import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { ExplorerServer } from '../src/index.js';
import { launchChromium } from './chromium.js';
import { ANNOTATED, serveFixture } from './fixture.js';

describe('explorer scene clips in headless Chromium (ffmpeg.wasm)', function () {
  this.timeout(85_000);
  let served: Awaited<ReturnType<typeof serveFixture>>;
  let server: ExplorerServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    served = await serveFixture('explore-clip-');
    server = served.server;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
    await page.route('**/*', (route) => {
      const u = route.request().url();
      return u.startsWith(server.url) || u.startsWith('blob:') || u.startsWith('data:') ? route.continue() : route.abort();
    });
    await page.goto(`${server.url}#/video/${ANNOTATED}`);
    await page.getByRole('button', { name: /^Scene 2: Fractal zoom/ }).click();
    await page.getByRole('heading', { level: 3, name: 'Scene 2: Fractal zoom' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await served?.close();
  });

  it('clip: a scene is cut in the browser by ffmpeg.wasm, loaded from this server only when asked', async () => {
    const wasmLoads: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('ffmpeg-core.wasm')) wasmLoads.push(r.url());
    });
    await page.getByRole('button', { name: 'Save scene as clip' }).click();
    const link = page.getByRole('link', { name: 'Download clip' });
    await link.waitFor({ timeout: 70_000 });
    const clip = await link.evaluate(async (a: HTMLAnchorElement) => {
      const blob = await (await fetch(a.href)).blob();
      const url = URL.createObjectURL(blob);
      const v = document.createElement('video');
      v.src = url;
      await new Promise((resolve, reject) => {
        v.onloadedmetadata = resolve;
        v.onerror = () => reject(new Error('the clip does not play'));
      });
      return { size: blob.size, type: blob.type, duration: v.duration, name: a.download };
    });
    assert.equal(clip.type, 'video/mp4');
    assert.equal(clip.name, 'scene-2.mp4');
    assert.ok(clip.size > 1000, `clip of ${clip.size} bytes`);
    assert.ok(Math.abs(clip.duration - 4) < 0.5, `clip of ${clip.duration} s, expected the scene's 4 s`);
    assert.equal(wasmLoads.length, 1);
    assert.ok(wasmLoads[0]!.startsWith(server.url));
  });
});
