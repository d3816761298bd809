// A third test reporter: after each half, the files that took longest (the sum of their top-level
// tests; files run three at a time), so a suite that grows slow shows where.
import { sourceOf } from './compile.mjs';

export default async function* timings(source) {
  const byFile = new Map();
  for await (const { type, data } of source) {
    if ((type !== 'test:pass' && type !== 'test:fail') || data.nesting !== 0 || !data.file) continue;
    byFile.set(data.file, (byFile.get(data.file) ?? 0) + (data.details?.duration_ms ?? 0));
  }
  const slowest = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const total = [...byFile.values()].reduce((a, b) => a + b, 0);
  yield `\nSlowest files (of ${byFile.size}, ${(total / 1000).toFixed(0)} s of tests in all):\n`;
  for (const [file, ms] of slowest) yield `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${sourceOf(file)}\n`;
}
