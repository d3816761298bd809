// The bench measures a scenario and its hello-world in turns (bench/load.ts). What its figures rest
// on: each prepared path is sent once across the slices (a token replayed would be measured as a
// refusal), the two servers really alternate, and the slices' latencies merge into the right
// percentiles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureAmongTurns, measureInTurns, merged, type Measured } from '../../bench/load.ts';
import { dialect } from '../support/harness.ts';

// No database: once, in the SQLite half.
const skip = dialect !== 'sqlite' && 'no database here: run in the SQLite half';

/**
 * A server that notes each request's path and when it came. It answers after a millisecond, so
 * ten connections stay under 10,000 requests a second however fast the machine: the subject's
 * 150,000 paths then last the whole run (a fast hour once had them wrap, told as ran out).
 */
async function recorder(): Promise<{ server: Server; url: string; seen: { path: string; at: number }[] }> {
  const seen: { path: string; at: number }[] = [];
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', at: performance.now() });
    setTimeout(() => res.end('ok'), 1);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, url: `http://127.0.0.1:${address.port}`, seen };
}

test('in turns: the scenario and its baseline alternate, and no path is sent twice across the slices', { skip }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'openfactor-bench-'));
  const subject = await recorder();
  const baseline = await recorder();
  try {
    const paths = Array.from({ length: 150_000 }, (_, i) => `/token/${i}`);
    const run = { connections: 10, warmupSeconds: 1, seconds: 3, pids: () => [process.pid], tmp };
    const r = await measureInTurns({ ...run, url: subject.url, paths }, { ...run, url: baseline.url, paths: ['/'] }, 3);

    const counts = new Map<string, number>();
    for (const { path } of subject.seen) counts.set(path, (counts.get(path) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'a path was sent more than once');
    assert.ok(subject.seen.every(({ path }) => path.startsWith('/token/')));
    assert.equal(r.subject.ranOut, false);
    assert.equal(r.subject.statusCodes['200'], r.subject.requests);
    assert.ok(r.subject.requests > 0 && r.subject.requests <= subject.seen.length, `${r.subject.requests} measured of ${subject.seen.length} served`);

    // Baseline, subject, baseline, subject, baseline, subject, baseline: the servers' requests in
    // time order change hands at least six times (the baseline's warm-up comes first).
    const all = [...subject.seen.map((s) => ({ at: s.at, who: 'subject' })), ...baseline.seen.map((s) => ({ at: s.at, who: 'baseline' }))].sort((a, b) => a.at - b.at);
    let changes = 0;
    for (let i = 1; i < all.length; i++) if (all[i].who !== all[i - 1].who) changes++;
    assert.ok(changes >= 6, `the servers changed hands ${changes} times`);
    assert.equal(r.baselineSlices.length, 4);
    assert.equal(r.baseline.requests, r.baselineSlices.reduce((t, m) => t + m.requests, 0));
  } finally {
    subject.server.close();
    baseline.server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('among turns: several subjects (one path at several sizes) share the baseline\'s rounds, their order rotated each round', { skip }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'openfactor-bench-'));
  const servers = { A: await recorder(), B: await recorder(), C: await recorder(), hello: await recorder() };
  try {
    const run = { connections: 10, warmupSeconds: 0, seconds: 2, pids: () => [process.pid], tmp };
    const subjects = (['A', 'B', 'C'] as const).map((k) => ({ ...run, url: servers[k].url, paths: Array.from({ length: 60_000 }, (_, i) => `/${k}/${i}`) }));
    const r = await measureAmongTurns(subjects, { ...run, url: servers.hello.url, paths: ['/'] }, 2);

    // Who was served, in time order, runs of one server counted once: the baseline's warm-up and
    // first slice, then a round of all three, the baseline, the next round starting one further on.
    const all = Object.entries(servers).flatMap(([who, s]) => s.seen.map((x) => ({ at: x.at, who }))).sort((a, b) => a.at - b.at);
    const order = all.map((x) => x.who).filter((who, i, a) => i === 0 || who !== a[i - 1]);
    assert.deepEqual(order, ['hello', 'A', 'B', 'C', 'hello', 'B', 'C', 'A', 'hello']);
    for (const [k, i] of [['A', 0], ['B', 1], ['C', 2]] as const) {
      const paths = servers[k].seen.map((x) => x.path);
      assert.equal(new Set(paths).size, paths.length, `a path of ${k} was sent twice`);
      assert.ok(paths.every((p) => p.startsWith(`/${k}/`)), `${k} was sent another subject's paths`);
      assert.ok(r.subjects[i].requests > 0 && r.subjects[i].requests <= paths.length);
      assert.ok(Math.abs(r.subjects[i].seconds - 2) < 0.2, `two slices of a second each, ${r.subjects[i].seconds} s`);
    }
    assert.equal(r.baselineSlices.length, 3);
    assert.equal(r.baseline.requests, r.baselineSlices.reduce((t, m) => t + m.requests, 0));
  } finally {
    for (const s of Object.values(servers)) s.server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('merged slices: requests and CPU add up, latency percentiles are those of all the requests together', { skip }, () => {
  const slice = (requests: number, ms: number, cpuUs: number): Measured => ({
    requests,
    seconds: 2,
    p50Ms: ms,
    p99Ms: ms,
    statusCodes: { 200: requests },
    errors: 0,
    serverCpu: (cpuUs * requests) / 1e6 / 2,
    serverCpuUsPerRequest: cpuUs,
    openfactorCpuUsPerRequest: cpuUs,
    loaderCpu: 0.5,
    otherCpu: 0,
    softirqCpu: 0.1,
    ranOut: false,
    sent: requests,
    quantilesMs: Array.from({ length: 1000 }, () => ms),
  });
  // 98% of the requests at 1 ms, 2% at 10 ms: the median is 1 ms, the 99th percentile 10 ms.
  const m = merged([slice(980, 1, 40), slice(20, 10, 90)]);
  assert.equal(m.requests, 1000);
  assert.equal(m.seconds, 4);
  assert.equal(m.statusCodes['200'], 1000);
  assert.equal(m.p50Ms, 1);
  assert.equal(m.p99Ms, 10);
  assert.equal(m.serverCpuUsPerRequest, (980 * 40 + 20 * 90) / 1000);
  // 99.5% at 1 ms: the 99th percentile stays 1 ms.
  assert.equal(merged([slice(995, 1, 40), slice(5, 10, 40)]).p99Ms, 1);
});
