import path from 'node:path';
import { Browser, chromium } from 'playwright-core';

/**
 * Debian's headless Chromium (test/setup.d/chromium.sh installs it) driven by playwright-core,
 * which never downloads a browser. playwright gives each launch a fresh temporary profile
 * (it refuses --user-data-dir in args; launchPersistentContext is the other way).
 */
export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium-headless-shell';

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  return { browser, close: () => browser.close().catch(() => undefined) };
}

/** Screenshots for docs/console.md, written only when SLUICE_UPDATE_SCREENSHOTS=1. */
export const screenshotsWanted = process.env.SLUICE_UPDATE_SCREENSHOTS === '1';
export const screenshotDir = path.resolve(__dirname, '..', '..', '..', 'docs', 'console');
