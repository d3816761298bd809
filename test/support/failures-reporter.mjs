// A second test reporter: one short entry per failed test, so `npm test` can repeat every failure
// after both halves. CI shows only the tail of the output, where the TAP of a failure is long gone.
// Each entry names the suites around the test: a conformance test runs once per implementation.
import { sourceOf } from './compile.mjs';

export default async function* failures(source) {
  // Per file, the names of the tests and suites now running, by nesting level (a file's own tests
  // run one at a time; files interleave).
  const running = new Map();
  for await (const { type, data } of source) {
    if (type === 'test:start') {
      const path = running.get(data.file) ?? [];
      path.length = data.nesting;
      path.push(data.name);
      running.set(data.file, path);
      continue;
    }
    if (type !== 'test:fail') continue;
    const error = data.details?.error;
    if (error?.failureType === 'subtestsFailed') continue; // the failing subtest has its own entry
    const cause = error?.cause ?? error;
    const message = String(cause?.stack ?? cause?.message ?? cause ?? 'failed').split('\n').slice(0, 12).join('\n    ');
    const where = data.file ? sourceOf(data.file) : '?';
    const suites = (running.get(data.file) ?? []).slice(0, data.nesting).filter((n) => !/\.test\.[jt]s$/.test(n)) // not the file's own entry;
    yield `not ok: ${where} › ${[...suites, data.name].join(' › ')} (${error?.failureType ?? 'failed'})\n    ${message}\n`;
  }
}
