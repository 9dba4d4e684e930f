import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

/** Debian's chromium (tools/bootstrap.sh test installs it), or FINEVIDEO_CHROMIUM. */
const CHROMIUM = process.env.FINEVIDEO_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of each page: CI keeps this folder as an artifact. */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-output', 'explorer');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`browser tests: expected Chromium at ${CHROMIUM}, got none; install it with "bash tools/bootstrap.sh test" (apt-get install chromium) or set FINEVIDEO_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The suite's browser, its page (in a context made with the suite's options) and what went wrong on that page. */
export interface SuiteChromium {
  browser: Browser;
  page: Page;
  /** Uncaught errors and console errors of the page since the last test; a test may remove those it expects. */
  pageErrors: string[];
}

/**
 * Mocha hooks giving one describe block a headless Chromium with one page: launched before its tests
 * (the screenshot folder made), closed after them; each test ends asserting the page had no uncaught
 * error and logged none. The fields are set once the `before` hook has run.
 */
export function chromiumForSuite(options: BrowserContextOptions): SuiteChromium {
  const pageErrors: string[] = [];
  const suite = { pageErrors } as SuiteChromium;
  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    suite.browser = await launchChromium();
    suite.page = await (await suite.browser.newContext(options)).newPage();
    suite.page.on('pageerror', (e) => pageErrors.push(e.message));
    suite.page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });
  after(async () => suite.browser?.close());
  afterEach(() => assert.deepEqual(pageErrors, [], 'errors on the page'));
  return suite;
}
