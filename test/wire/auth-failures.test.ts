// Guessing credentials: past OPENFACTOR_AUTH_FAILURES wrong API keys (or admin tokens) from one
// client address within the window, that address gets 429 (60003) for every request, right key
// included, until the block ends. Other addresses are not affected. Counted in the database, so
// several nodes count together; the block is logged once, with the address, and counted in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { runCli, spawnServer, type ServerProcess } from '../support/process.ts';

const LIMIT = 5;
const LIMITS = { OPENFACTOR_AUTH_FAILURES: String(LIMIT), OPENFACTOR_AUTH_FAILURE_WINDOW_S: '300', OPENFACTOR_AUTH_BLOCK_S: '900' };
const THROTTLED = 'DoS protection: Too many failed authentication attempts from this address. Try again later.';

let t: TestApp;
before(async () => {
  t = await startApp(LIMITS);
});
after(async () => {
  await t.close();
});

/** The Authy API from `ip` with `key` (none: no key at all). */
const details = (ip: string, key?: string, format = 'json') =>
  t.of.server.inject({ method: 'GET', url: `/protected/${format}/app/details`, headers: key === undefined ? {} : { 'x-authy-api-key': key }, remoteAddress: ip });
const admin = (ip: string, token?: string, url = '/admin/applications') =>
  t.of.server.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, remoteAddress: ip });
const wrongKey = (i: number) => `wrong-key-${i}`.padEnd(32, 'x');

function assertThrottled(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, what: string) {
  assert.equal(res.statusCode, 429, what);
  assert.deepEqual(res.json(), { message: THROTTLED, success: false, errors: { message: THROTTLED }, error_code: '60003' }, what);
  const retry = Number(res.headers['retry-after']);
  assert.ok(retry >= 1 && retry <= 900, `${what}: retry-after ${res.headers['retry-after']}`);
}

async function metric(name: string, kind: string): Promise<number> {
  const text = (await admin('10.99.99.99', t.config.adminToken, '/metrics')).body;
  const m = new RegExp(`^${name}\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

test('wrong API keys from one address: 401 up to the limit, then 429 for everything from it; other addresses are not affected', async () => {
  const failuresBefore = await metric('openfactor_auth_failures_total', 'api_key');
  for (let i = 0; i < LIMIT; i++) {
    const r = await details('10.1.0.1', wrongKey(i));
    assert.equal(r.statusCode, 401, `attempt ${i + 1}`);
    assert.equal(r.json().error_code, '60001');
  }
  assertThrottled(await details('10.1.0.1', wrongKey(99)), 'the attempt past the limit');
  assertThrottled(await details('10.1.0.1', t.apiKey), 'the right key from the blocked address');
  const xml = await details('10.1.0.1', t.apiKey, 'xml');
  assert.equal(xml.statusCode, 429);
  assert.match(xml.body, /<error-code>60003<\/error-code>/);

  // Another address: its right key works, its wrong keys have their own count.
  assert.equal((await details('10.1.0.2', t.apiKey)).statusCode, 200);
  assert.equal((await details('10.1.0.2', wrongKey(1))).statusCode, 401);
  assert.equal((await details('10.1.0.2', t.apiKey)).statusCode, 200);
  // Requests without any key guess nothing and are not counted.
  for (let i = 0; i < LIMIT + 3; i++) assert.equal((await details('10.1.0.3')).statusCode, 401);
  assert.equal((await details('10.1.0.3', t.apiKey)).statusCode, 200);

  // IPv6: a /64 counts as one address (a subscriber has all of it).
  for (let i = 1; i <= LIMIT; i++) assert.equal((await details(`2001:db8:1:2::${i}`, wrongKey(i))).statusCode, 401);
  assertThrottled(await details('2001:db8:1:2::99', wrongKey(99)), 'the attempt past the limit');
  assertThrottled(await details('2001:db8:1:2:ffff::9', t.apiKey), 'another address of the same /64');
  assert.equal((await details('2001:db8:1:3::1', t.apiKey)).statusCode, 200, 'the next /64');

  // /metrics counts the failed checks (LIMIT + 1, 1, LIMIT + 1 here) and the two blocks.
  assert.equal((await metric('openfactor_auth_failures_total', 'api_key')) - failuresBefore, 2 * LIMIT + 3);
  assert.ok((await metric('openfactor_auth_blocks_total', 'api_key')) >= 2);
  assert.ok((await metric('openfactor_auth_throttled_total', 'api_key')) >= 4);
});

test('wrong admin tokens: the same, for the admin API and /metrics; the Authy API keeps its own count', async () => {
  for (let i = 0; i < LIMIT; i++) {
    const r = await admin('10.2.0.1', `not-the-token-${i}`);
    assert.equal(r.statusCode, 401, `attempt ${i + 1}`);
    assert.equal(r.json().error_code, '60001');
  }
  assertThrottled(await admin('10.2.0.1', 'not-the-token'), 'the attempt past the limit');
  assertThrottled(await admin('10.2.0.1', t.config.adminToken), 'the right token from the blocked address');
  assertThrottled(await admin('10.2.0.1', t.config.adminToken, '/metrics'), '/metrics from the blocked address');
  assert.equal((await admin('10.2.0.2', t.config.adminToken)).statusCode, 200, 'another address');
  assert.equal((await details('10.2.0.1', t.apiKey)).statusCode, 200, 'API keys are counted apart');
  for (let i = 0; i < LIMIT + 3; i++) assert.equal((await admin('10.2.0.3')).statusCode, 401, 'no token at all: not counted');
  assert.equal((await admin('10.2.0.3', t.config.adminToken)).statusCode, 200);
  assert.equal(await metric('openfactor_auth_failures_total', 'admin_token'), LIMIT + 1);
  assert.equal(await metric('openfactor_auth_blocks_total', 'admin_token'), 1);
});

test('the dashboard webhooks API counts wrong API keys and access keys too', async () => {
  const list = (ip: string, apiKey: string) =>
    t.of.server.inject({ method: 'GET', url: `/dashboard/json/application/webhooks?app_api_key=${apiKey}&access_key=guess`, remoteAddress: ip });
  for (let i = 0; i < LIMIT; i++) {
    const r = await list('10.3.0.1', i % 2 ? wrongKey(i) : t.apiKey); // a wrong app key, or a right one with a wrong access key
    assert.equal(r.statusCode, 401, `attempt ${i + 1}`);
  }
  assertThrottled(await list('10.3.0.1', wrongKey(9)), 'the attempt past the limit');
  assertThrottled(await details('10.3.0.1', t.apiKey), 'and the Authy API from it');
  assert.equal((await list('10.3.0.2', t.apiKey)).json().error_code, '60072', 'another address is only told its access key is wrong');
});

test('two servers on one database count together; the block is logged once, with the address', async () => {
  const db = await createTestDatabase();
  const env = { ...testEnv(db), ...LIMITS };
  const servers: ServerProcess[] = [];
  try {
    const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Nodes', '--json'], env).stdout);
    servers.push(await spawnServer(env), await spawnServer(env));
    const [a, b] = servers;
    const get = (s: ServerProcess, k: string) => fetch(`${s.url}/protected/json/app/details`, { headers: { 'x-authy-api-key': k } });
    for (let i = 0; i < LIMIT; i++) assert.equal((await get(servers[i % 2], wrongKey(i))).status, 401, `attempt ${i + 1}`);
    assert.equal((await get(b, wrongKey(9))).status, 429, 'the attempt past the limit, on either node');
    assert.equal((await get(a, wrongKey(10))).status, 429, 'the other node knows at the next failure');
    assert.equal((await get(a, key)).status, 429, 'and then refuses the right key too');
    assert.equal((await get(b, key)).status, 429);
    await new Promise((r) => setTimeout(r, 300)); // let the log lines reach us
    const blocked = servers
      .flatMap((s) => s.output().split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .filter((l) => l.event === 'auth_blocked');
    assert.equal(blocked.length, 1, 'one line for one block');
    assert.equal(blocked[0].address, '127.0.0.1');
    assert.equal(blocked[0].kind, 'api_key');
    assert.equal(blocked[0].level, 40);
  } finally {
    for (const s of servers) await s.stop();
    await db.drop();
  }
});

test('behind a trusted reverse proxy (OPENFACTOR_TRUST_PROXY) the client it names is counted, not the proxy', async () => {
  const proxied = await startApp({ ...LIMITS, OPENFACTOR_TRUST_PROXY: '10.50.0.1' });
  try {
    const via = (client: string, key: string) =>
      proxied.of.server.inject({ method: 'GET', url: '/protected/json/app/details', headers: { 'x-authy-api-key': key, 'x-forwarded-for': client }, remoteAddress: '10.50.0.1' });
    for (let i = 0; i < LIMIT; i++) assert.equal((await via('198.51.100.7', wrongKey(i))).statusCode, 401);
    assertThrottled(await via('198.51.100.7', wrongKey(9)), 'the guesser');
    assert.equal((await via('198.51.100.8', proxied.apiKey)).statusCode, 200, 'another client through the same proxy');
  } finally {
    await proxied.close();
  }
});
