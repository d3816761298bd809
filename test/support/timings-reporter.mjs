// A third test reporter: after each half, the files that took longest (the sum of their top-level
// tests; files run three at a time), so a suite that grows slow shows where.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

export default async function* timings(source) {
  const byFile = new Map();
  for await (const { type, data } of source) {
    if ((type !== 'test:pass' && type !== 'test:fail') || data.nesting !== 0 || !data.file) continue;
    byFile.set(data.file, (byFile.get(data.file) ?? 0) + (data.details?.duration_ms ?? 0));
  }
  if (process.env.OPENFACTOR_TEST_RECORD_DURATIONS === '1') record(byFile);
  const slowest = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const total = [...byFile.values()].reduce((a, b) => a + b, 0);
  yield `\nSlowest files (of ${byFile.size}, ${(total / 1000).toFixed(0)} s of tests in all):\n`;
  for (const [file, ms] of slowest) yield `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${relative(root, file)}\n`;
}

/** Each file's longest duration over the halves of this run: the runner starts the longest first. */
function record(byFile) {
  const file = join(root, 'test/support/durations.json');
  const run = process.env.OPENFACTOR_TEST_RUN;
  let known = {};
  try {
    const before = JSON.parse(readFileSync(file, 'utf8'));
    if (before.run === run) known = before.seconds; // the other half of this run
  } catch { /* the first record */ }
  for (const [f, ms] of byFile) {
    const key = relative(root, f);
    known[key] = Math.max(known[key] ?? 0, Math.round(ms / 100) / 10);
  }
  const seconds = Object.fromEntries(Object.entries(known).sort());
  writeFileSync(file, JSON.stringify({ run, seconds }, null, 2) + '\n');
}
