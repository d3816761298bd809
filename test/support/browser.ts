// Tests in a real browser: Debian's Chromium through playwright-core. In CI the browser must be
// there (.ci/run installs it); elsewhere a missing one skips the test.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { skipOutsideCI } from './ci.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `skip` for node:test: false, or why these tests cannot run here. They run in the SQLite half of
 * `npm test`: what a page shows does not depend on the database, and the APIs behind the pages
 * have their own tests on both (the PostgreSQL half would add minutes for nothing new).
 * OPENFACTOR_BROWSER_ON_POSTGRES=1 runs them there too.
 */
export const noBrowser: string | false =
  skipOutsideCI(!existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`) ||
  (process.env.OPENFACTOR_TEST_DB === 'postgres' && process.env.OPENFACTOR_BROWSER_ON_POSTGRES !== '1' && 'browser tests run in the SQLite half (the APIs behind the pages are tested on both databases)');

export const launchBrowser = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });

/** Every request of `page` answered 404 from now on (a missing favicon, say): their URLs. */
export function notFound(page: Page): () => string[] {
  const missing: string[] = [];
  page.on('response', (r) => {
    if (r.status() === 404) missing.push(r.url());
  });
  return () => missing;
}

const AXE_SOURCE = fileURLToPath(import.meta.resolve('axe-core/axe.min.js'));

/** What axe-core finds wrong on the page as it is now: the serious and critical violations, said as "rule: target (summary)". */
export async function seriousA11yProblems(page: Page): Promise<string[]> {
  // Evaluated over the debugging protocol, so the page's CSP (no inline scripts) does not stop it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE_SOURCE, 'utf8'));
  const results = (await page.evaluate(() => (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<unknown> } }).axe.run(document, { resultTypes: ['violations'] }))) as {
    violations: { id: string; impact: string | null; nodes: { target: string[]; failureSummary?: string }[] }[];
  };
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${(n.failureSummary ?? '').replace(/\s+/g, ' ').slice(0, 160)})`));
}

const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

/**
 * axe-core finds nothing serious or critical on the screen as it is now, and nothing is wider
 * than the screen, on a laptop (1280×800) and a phone (390×844); the page is left at 1280×800.
 */
export async function accessibleAtBothSizes(page: Page, screen: string): Promise<void> {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    const problems = await seriousA11yProblems(page);
    if (problems.length > 0) throw new Error(`${screen} at ${size.width}×${size.height}: ${problems.join('; ')}`);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    if (!fits) throw new Error(`${screen} is wider than ${size.width} px`);
  }
  await page.setViewportSize(SIZES[0]!);
}
