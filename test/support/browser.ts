// Tests in a real browser: Debian's Chromium through playwright-core. In CI the browser must be
// there (.ci/run installs it); elsewhere a missing one skips the test.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { skipOutsideCI } from './ci.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `skip` for node:test: false, or why these tests cannot run here. */
export const noBrowser: string | false = skipOutsideCI(!existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`);

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
