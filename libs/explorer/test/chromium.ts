import { existsSync } from 'node:fs';
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


/** A page whose uncaught exceptions and console errors are recorded in `errors` (tests assert it stays empty). */
export async function watchedPage(browser: Browser, options: BrowserContextOptions = {}): Promise<{ page: Page; errors: string[] }> {
  const errors: string[] = [];
  const page = await (await browser.newContext(options)).newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return { page, errors };
}
