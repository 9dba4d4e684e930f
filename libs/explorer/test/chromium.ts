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

/** Records a page's uncaught exceptions and console errors in `errors` (tests assert it stays empty). */
function recordErrors(page: Page, errors: string[]): void {
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
}

/** A page whose uncaught exceptions and console errors are recorded in `errors` (tests assert it stays empty). */
export async function watchedPage(browser: Browser, options: BrowserContextOptions = {}): Promise<{ page: Page; errors: string[] }> {
  const errors: string[] = [];
  const page = await (await browser.newContext(options)).newPage();
  recordErrors(page, errors);
  return { page, errors };
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
    recordErrors(suite.page, pageErrors);
  });
  after(async () => suite.browser?.close());
  afterEach(() => assert.deepEqual(pageErrors, [], 'errors on the page'));
  return suite;
}
