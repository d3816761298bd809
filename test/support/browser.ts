// Tests in a real browser: Debian's Chromium through playwright-core. In CI the browser must be
// there (.ci/run installs it); elsewhere a missing one skips the test.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { skipOutsideCI } from './ci.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `skip` for node:test: false, or why these tests cannot run here. */
export const noBrowser: string | false = skipOutsideCI(!existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`);

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

/** Every request of `page` answered 404 from now on (a missing favicon, say): their URLs. */
export function notFound(page: Page): () => string[] {
  const missing: string[] = [];
  page.on('response', (r) => {
    if (r.status() === 404) missing.push(r.url());
  });
  return () => missing;
}
