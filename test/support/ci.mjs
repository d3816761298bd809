// One rule for "in CI": CI=true (or 1). There, every tool and service a test needs is present
// (.ci/run installs or starts it) and a missing one fails the test; elsewhere it is skipped, with why.
// Plain JavaScript: test/run.mjs (not compiled) uses it too.

export const inCI = /^(true|1)$/i.test(process.env.CI ?? '');

/** For node:test's `skip`: `missing` (why it cannot run here) outside CI; in CI false, so the test runs and fails. */
export const skipOutsideCI = (missing) => (missing && !inCI ? missing : false);
