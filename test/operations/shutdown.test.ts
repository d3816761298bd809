// SIGTERM (systemd, Kubernetes, `docker stop`): the server stops accepting connections at once,
// lets a request in flight and a message at its provider finish, tells event streams to come back
// in a second, and exits 0. Past its grace period, messages still at the provider are left to the
// other nodes at once (their leases ended), not after the lease runs out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createTestDatabase, testEnv } from '../support/harness.ts';
import { createUserOver, outboxLines, runCli, spawnServer, type ServerProcess } from '../support/process.ts';
import { startFakeGateway } from '../support/fakes/gateway.ts';
import { openStore } from '../../src/store/db.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';
import { until } from '../support/wait.ts';

const exitOf = (s: ServerProcess) => new Promise<number | null>((resolve) => (s.proc.exitCode !== null ? resolve(s.proc.exitCode) : s.proc.once('exit', (code) => resolve(code))));
const refused = (url: string) => fetch(`${url}/healthz`).then(() => false, () => true);

function appWithUser(env: NodeJS.ProcessEnv) {
  const { id, api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Shutdown Bank', '--json'], env).stdout);
  runCli(['apps', 'settings', '--app', String(id), '--sends-per-hour', '100', '--sends-per-number-hour', '100'], env);
  return key as string;
}

/** A POST whose body is only half sent: in flight until `finish()` sends the rest. */
function halfSentPost(url: string, path: string, key: string, body: string) {
  const u = new URL(path, url);
  const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'x-authy-api-key': key, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } });
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { answered, finish: () => req.end(body.slice(half)) };
}

test('SIGTERM: no new connections; the request in flight, the message at the provider and the event stream end well; exit 0', async () => {
  const db = await createTestDatabase();
  const gw = await startFakeGateway();
  const env = { ...testEnv(db), OPENFACTOR_SMS_PROVIDERS: gw.url };
  try {
    const key = appWithUser(env);
    const server = await spawnServer(env);
    try {
      const id = await createUserOver(server.url, key, '4155550181');
      // A phone that registered with the code texted to it, listening for approval requests.
      const start = await OpenFactorDevice.startPhoneRegistration(server.url, { countryCode: '1', phoneNumber: '4155550181', via: 'sms' });
      const text = await until('the registration code', () => gw.delivered.at(-1)?.text);
      const device = await OpenFactorDevice.confirmPhoneRegistration(server.url, start.registrationId, /\d{6}/.exec(text)![0]);
      let opened!: () => void;
      const open = new Promise<void>((r) => (opened = r));
      const listening = device.listen(() => {}, { onOpen: () => opened() });
      await open;

      gw.delayMs = 2500; // the next message stays at the provider for a while
      assert.equal((await fetch(`${server.url}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': key } })).status, 200);
      await until('the SMS at the provider', () => gw.requests >= 2);
      const inFlight = halfSentPost(server.url, '/protected/json/users/new', key, 'user[email]=late@example.com&user[cellphone]=4155550182&user[country_code]=1');
      await new Promise((r) => setTimeout(r, 200)); // the request has reached the server

      const signalled = Date.now();
      server.proc.kill('SIGTERM');
      // The event stream is ended with a hint to reconnect in a second (to another node, or this one restarted).
      assert.deepEqual(await listening, { retryMs: 1000 });
      await until('new connections refused', () => refused(server.url), 5000);
      assert.equal(server.proc.exitCode, null, 'still finishing what is in flight');
      inFlight.finish();
      const late = await inFlight.answered;
      assert.equal(late.status, 200, late.body);
      assert.equal(JSON.parse(late.body).success, true);

      assert.equal(await exitOf(server), 0, server.output());
      assert.ok(Date.now() - signalled >= 1500, 'waited for the provider to answer');
      assert.match(server.output(), /"event":"stopped"/);
      // The message is recorded as sent, once; the late user is stored.
      assert.equal(gw.delivered.length, 2);
      const [sms] = outboxLines(env);
      assert.equal(sms.status, 'sent');
      const store = openStore(db.url);
      try {
        assert.equal((await store.db.selectFrom('users').select('id').execute()).length, 2);
      } finally {
        await store.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await gw.close();
    await db.drop();
  }
});

test('past the grace period, a message still at its provider is left to another node at once', async () => {
  const db = await createTestDatabase();
  const gw = await startFakeGateway();
  // The gateway's own timeout is long, the outbox lease (5 minutes) far longer than the test may take.
  const env = { ...testEnv(db), OPENFACTOR_SMS_PROVIDERS: `${gw.url}&timeout=30000`, OPENFACTOR_SHUTDOWN_GRACE_MS: '1000', OPENFACTOR_OUTBOX_LEASE_MS: '300000' };
  try {
    const key = appWithUser(env);
    const first = await spawnServer(env);
    let second: ServerProcess | undefined;
    try {
      const id = await createUserOver(first.url, key, '4155550183');
      gw.mode = 'hang';
      assert.equal((await fetch(`${first.url}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': key } })).status, 200);
      await until('the SMS at the provider', () => gw.requests >= 1);
      const signalled = Date.now();
      first.proc.kill('SIGTERM');
      assert.equal(await exitOf(first), 0, first.output());
      assert.ok(Date.now() - signalled < 8000, `stopped within its grace (took ${Date.now() - signalled} ms)`);
      assert.match(first.output(), /"event":"outbox_leases_released".*"released":1/);
      const [left] = outboxLines(env);
      assert.equal(left.status, 'sending');

      // Another node takes it now, not in a minute: the gateway deduplicates by our message id.
      gw.mode = 'ok';
      const taken = Date.now();
      second = await spawnServer(env);
      await until('sent by the other node', () => outboxLines(env)[0]?.status === 'sent', 120_000);
      assert.ok(Date.now() - taken < 150_000, 'well before the lease would have run out');
      assert.equal(gw.delivered.length, 1, 'delivered once');
    } finally {
      await first.stop();
      await second?.stop();
    }
  } finally {
    await gw.close();
    await db.drop();
  }
});
