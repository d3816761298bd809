// Where callbacks, webhooks and Web Push may go: public addresses only, unless the operator allows
// a private network (OPENFACTOR_ALLOW_PRIVATE_NETWORKS). Otherwise an API key could make the server
// call 127.0.0.1, the operator's 10.x network or the cloud metadata service (SSRF).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createTestDatabase, PHONES, startApp, testEnv, type TestApp, type TestDatabase } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';
import { Receiver, registerDevice } from '../support/onetouch.ts';
import { until, quietLog } from '../support/wait.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import { Destinations } from '../../src/delivery/destinations.ts';
import { readPushSubscription, WebPush } from '../../src/features/devices/push.ts';
import { authySignature } from '../../src/core/authy-signature.ts';
import webpush from 'web-push';
import { createECDH, randomBytes } from 'node:crypto';

const PRIVATE_URLS = [
  'http://127.0.0.1:8080/hook',
  'http://127.1.2.3/hook',
  'http://[::1]/hook',
  'http://[::ffff:127.0.0.1]/hook',
  'http://169.254.169.254/latest/meta-data/',
  'http://10.0.0.5/hook',
  'http://172.16.9.9/hook',
  'http://192.168.1.10/hook',
  'http://100.64.0.1/hook',
  'http://0.0.0.0/hook',
  'http://2130706433/hook', // 127.0.0.1 written as a number
  'http://0x7f.1/hook',
  'http://[fd00::1]/hook',
  'http://[fe80::1]/hook',
  'http://localhost:8080/hook', // a name that resolves to loopback
  // IPv6 addresses that carry a private IPv4 one are judged as that address.
  'http://[::127.0.0.1]/hook', // IPv4-compatible
  'http://[::10.0.0.5]/hook',
  'http://[::ffff:0:127.0.0.1]/hook', // IPv4-translated (RFC 6145)
  'http://[64:ff9b::169.254.169.254]/latest/meta-data/', // NAT64 (RFC 6052)
  'http://[2002:7f00:1::1]/hook', // 6to4 of 127.0.0.1
  'http://[2002:c0a8:10a::]/hook', // 6to4 of 192.168.1.10
];

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function app(env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const t = await startApp(env);
  cleanups.push(() => t.close());
  return t;
}

test('by default a webhook URL on a private, loopback or link-local address is refused with a clear 400, and nothing is stored', async () => {
  const t = await app({ OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '', OPENFACTOR_PUBLIC_URL: 'https://api.authy.example' });
  const application = (await t.of.services.applications.find(t.appId))!;
  for (const url of PRIVATE_URLS) {
    const r = await t.of.services.webhooks.create(application, { name: 'hook', url, events: 'user_added' });
    assert.equal(r.ok, false, url);
    if (r.ok) continue;
    assert.equal(r.error, 'WEBHOOK_NOT_CREATED', url);
    assert.match(String(r.message), /not a public one \(allow its network with OPENFACTOR_ALLOW_PRIVATE_NETWORKS\)/, url);
  }
  const listed = await t.of.services.webhooks.list(application);
  assert.ok(listed.ok);
  assert.deepEqual(listed.body.webhooks, []);

  // Over the wire: the dashboard API's 400 / 60098, with the reason.
  const keys = (await t.of.services.applications.rotateDashboardKeys(t.appId))!;
  const params = { app_api_key: t.apiKey, access_key: keys.accessKey, name: 'metadata', url: 'http://169.254.169.254/latest/meta-data/' };
  const nonce = `${Date.now() / 1000}`;
  const signature = authySignature(keys.signingKey, nonce, 'POST', 'https://api.authy.example/dashboard/json/application/webhooks', { ...params, events: ['user_added'] });
  const wire = await call(t.of.server, 'POST', '/dashboard/json/application/webhooks', {
    form: `${new URLSearchParams(params)}&events[]=user_added`,
    headers: { 'x-authy-signature-nonce': nonce, 'x-authy-signature': signature },
  });
  assert.equal(wire.status, 400, wire.text);
  assert.equal(wire.json.error_code, '60098');
  assert.equal(wire.json.message, 'Webhook could not be created: url cannot be called: the host is 169.254.169.254, a linkLocal address, not a public one (allow its network with OPENFACTOR_ALLOW_PRIVATE_NETWORKS)');

  // Public addresses and names are fine (nothing is sent at creation).
  for (const url of ['https://8.8.8.8/hook', 'https://[2606:4700:4700::1111]/hook', 'https://hooks.example.invalid/authy']) {
    const r = await t.of.services.webhooks.create(application, { name: 'hook', url, events: 'user_added' });
    assert.equal(r.ok, true, `${url}: ${JSON.stringify(r)}`);
  }
});

test('by default the OneTouch callback refuses private addresses; the CLI says why', async () => {
  const t = await app({ OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '' });
  const result = await t.of.services.applications.setCallback(t.appId, 'http://localhost:3000/authy', 'POST', t.of.services.destinations);
  assert.match(String(result), /^the callback URL cannot be called: localhost resolves to (127\.0\.0\.1|::1), a loopback address, not a public one \(allow its network with OPENFACTOR_ALLOW_PRIVATE_NETWORKS\)$/);
  assert.equal((await t.of.services.applications.find(t.appId))!.onetouchCallback, undefined);
  const ok = await t.of.services.applications.setCallback(t.appId, 'https://8.8.8.8/authy', 'POST', t.of.services.destinations);
  assert.equal(typeof ok, 'object');
});

test('an allowed network is reached; others stay refused', async () => {
  const t = await app({ OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8, ::1' });
  const application = (await t.of.services.applications.find(t.appId))!;
  assert.equal((await t.of.services.webhooks.create(application, { name: 'a', url: 'http://127.0.0.1:9/hook', events: 'user_added' })).ok, true);
  assert.equal((await t.of.services.webhooks.create(application, { name: 'b', url: 'http://[::1]:9/hook', events: 'user_added' })).ok, true);
  const refused = await t.of.services.webhooks.create(application, { name: 'c', url: 'http://10.0.0.5/hook', events: 'user_added' });
  assert.equal(refused.ok, false);
  assert.throws(() => loadConfig({ ...process.env, OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8,intranet' }), /OPENFACTOR_ALLOW_PRIVATE_NETWORKS: intranet is not an address or CIDR block/);
});

const masterKey = randomBytes(32).toString('hex');

/** One server on `db` with `env` (two of them share the database one after the other). */
async function serverOn(db: TestDatabase, env: NodeJS.ProcessEnv): Promise<{ of: OpenFactor; close(): Promise<void> }> {
  const config = loadConfig({ ...testEnv(db), OPENFACTOR_MASTER_KEY: masterKey, OPENFACTOR_HOOK_RETRY_BASE_MS: '60000', ...env });
  const store = openStore(config.databaseUrl);
  await migrate(store);
  const of = await buildServer(config, store);
  return { of, close: async () => (await of.close(), await store.close()) };
}

test('a hook registered while its network was allowed is not sent once it is not: the address is checked when connecting', async () => {
  const receiver = await new Receiver().start('/hooks');
  const db = await createTestDatabase();
  cleanups.push(async () => (await receiver.close(), await db.drop()));

  // The operator allowed loopback; the application registered a webhook and a callback there,
  // one by name and one by address.
  const open = await serverOn(db, { OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8,::1/128' });
  const { id: appId, apiKey } = await open.of.services.applications.create('Bank');
  const application = (await open.of.services.applications.find(appId))!;
  const port = new URL(receiver.url).port;
  assert.equal((await open.of.services.webhooks.create(application, { name: 'by name', url: `http://localhost:${port}/hooks`, events: 'user_added' })).ok, true);
  assert.equal(typeof (await open.of.services.applications.setCallback(appId, `http://127.0.0.1:${port}/hooks`, 'POST', open.of.services.destinations)), 'object');
  // While allowed, a webhook arrives (so the refusal below is the guard's doing).
  assert.equal((await call(open.of.server, 'POST', '/protected/json/users/new', { key: apiKey, form: userForm('first@example.com', PHONES.us[0]) })).status, 200);
  await until('the webhook arrives while allowed', () => receiver.requests.length === 1);
  await open.close();

  // Then the operator removed the allowance.
  const closed = await serverOn(db, { OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '' });
  cleanups.push(() => closed.close());
  const base = await closed.of.server.listen({ port: 0, host: '127.0.0.1' });
  const user = await call(closed.of.server, 'POST', '/protected/json/users/new', { key: apiKey, form: userForm('second@example.com', PHONES.us[1]) });
  assert.equal(user.status, 200);
  const device = await registerDevice({ of: closed.of, apiKey } as TestApp, base, user.json.user.id);
  const approval = await call(closed.of.server, 'POST', `/onetouch/json/users/${user.json.user.id}/approval_requests`, { key: apiKey, json: { message: 'Login' } });
  assert.equal(approval.status, 200);
  const [pending] = await device.pendingApprovals();
  await device.approve(pending);

  const tries = await until('both deliveries were tried', async () => {
    const rows = await closed.of.services.hooks.list(appId);
    const webhook = rows.find((d) => d.kind === 'webhook' && d.tries.some((x) => x.error));
    const callback = rows.find((d) => d.kind === 'callback' && d.tries.some((x) => x.error));
    return webhook && callback && { webhook, callback };
  });
  assert.match(tries.webhook.tries.at(-1)!.error!, /^localhost resolves to (127\.0\.0\.1|::1), a loopback address, not a public one/);
  assert.equal(tries.callback.tries.at(-1)!.error, 'the host is 127.0.0.1, a loopback address, not a public one (allow its network with OPENFACTOR_ALLOW_PRIVATE_NETWORKS)');
  assert.equal(receiver.requests.length, 1, 'nothing reached the receiver after the allowance went');
});

test('a Web Push endpoint on a private address is never connected to', async () => {
  let connections = 0;
  const server = createTcpServer((s) => (connections++, s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const vapid = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' };
  const browser = createECDH('prime256v1');
  const keys = { p256dh: browser.generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  const sub = (host: string) => ({ endpoint: `https://${host}:${port}/push/secret-token`, keys });

  const strict = new WebPush(vapid, quietLog, new Destinations([]));
  assert.equal(await strict.send(sub('localhost'), { uuid: 'x' }), 'failed');
  assert.equal(await strict.send(sub('127.0.0.1'), { uuid: 'x' }), 'failed');
  assert.equal(connections, 0);

  // Allowed, the same endpoint is connected to (and fails there: it is no push service).
  const open = new WebPush(vapid, quietLog, new Destinations(['127.0.0.0/8', '::1/128']));
  assert.equal(await open.send(sub('127.0.0.1'), { uuid: 'x' }), 'failed');
  assert.ok(connections >= 1);
});

test('the address classes: public ones pass, every special-purpose range is refused, allowances match by block', () => {
  const none = new Destinations([]);
  for (const ok of ['8.8.8.8', '1.1.1.1', '203.0.114.1', '2606:4700:4700::1111', '2a00:1450:4001::1']) assert.equal(none.refusal(ok), undefined, ok);
  for (const bad of ['127.0.0.1', '10.1.1.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1',
    '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '2001:db8::1']) {
    assert.ok(none.refusal(bad), `${bad} refused`);
  }
  // An IPv6 address that carries an IPv4 one counts as that IPv4 address, public or not.
  for (const bad of ['::7f00:1', '::a00:1', '::ffff:0:a9fe:a9fe', '64:ff9b::7f00:1', '64:ff9b::c0a8:101', '2002:7f00:1::', '2002:a9fe:a9fe:1::1', '64:ff9b:1::a00:1', '2001:0:4136:e378:8000:63bf:3fff:fdd2']) {
    assert.ok(none.refusal(bad), `${bad} refused`);
  }
  assert.match(none.refusal('::7f00:1')!, /^::7f00:1, a loopback address, not a public one/);
  for (const ok of ['64:ff9b::808:808', '2002:808:808::1', '::808:808']) assert.equal(none.refusal(ok), undefined, `${ok} is 8.8.8.8's`);
  assert.equal(new Destinations(['127.0.0.0/8']).refusal('::7f00:1'), undefined, 'an IPv4 allowance covers the IPv6 forms of its addresses');
  const some = new Destinations(['10.20.0.0/16', '::ffff:192.168.5.0/120', 'fd00::/8']);
  assert.equal(some.refusal('10.20.3.4'), undefined);
  assert.ok(some.refusal('10.21.3.4'));
  assert.equal(some.refusal('192.168.5.9'), undefined, 'a mapped allowance covers the IPv4 address');
  assert.equal(some.refusal('::ffff:10.20.0.1'), undefined, 'and a mapped address is judged as IPv4');
  assert.equal(some.refusal('fd00::9'), undefined);
  assert.ok(some.refusal('127.0.0.1'));
});

/** URLs with spaces or control characters: URL parsers drop CR, LF and tabs silently. */
const CONTROL_URLS = ['https://8.8.8.8/cb\r\nX-Injected: 1', 'https://8.8.8.8/c\nb', 'https://8.8.8.8/\tcb', 'https://8.8.8.8/c\u0000b', 'https://8.8.8.8/c b', 'https://8.8.8.8/c\u0085b', 'https://8.8.8.8/cb\u007f'];

test('a OneTouch callback with an IPv4-compatible loopback address or control characters is refused with a 400 over the admin API, and nothing is stored', async () => {
  const t = await app({ OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '' });
  const admin = async (url: string) => {
    const r = await t.of.server.inject({ method: 'POST', url: `/admin/applications/${t.appId}/callback`, headers: { authorization: `Bearer ${t.config.adminToken}` }, payload: { url } });
    return { status: r.statusCode, json: r.json() };
  };
  const compatible = await admin('http://[::127.0.0.1]/authy');
  assert.equal(compatible.status, 400);
  assert.deepEqual(Object.keys(compatible.json).sort(), ['error_code', 'errors', 'message', 'success']);
  assert.equal(compatible.json.error_code, '60004');
  assert.equal(compatible.json.message, 'Invalid parameter: url - the callback URL cannot be called: the host is ::7f00:1, a loopback address, not a public one (allow its network with OPENFACTOR_ALLOW_PRIVATE_NETWORKS)');
  for (const url of ['http://[64:ff9b::10.0.0.1]/authy', 'http://[2002:a9fe:a9fe::]/authy']) assert.equal((await admin(url)).status, 400, url);
  for (const url of CONTROL_URLS) {
    const r = await admin(url);
    assert.equal(r.status, 400, JSON.stringify(url));
    assert.equal(r.json.error_code, '60004');
    assert.equal(r.json.message, 'Invalid parameter: url - the callback URL cannot be called: the URL contains spaces or control characters', JSON.stringify(url));
  }
  assert.equal((await t.of.services.applications.find(t.appId))!.onetouchCallback, undefined);
  // The same service answers the CLI (`apps callback`).
  assert.equal(await t.of.services.applications.setCallback(t.appId, 'https://8.8.8.8/a\r\nb', 'POST', t.of.services.destinations), 'the callback URL cannot be called: the URL contains spaces or control characters');
  const fine = await admin('https://8.8.8.8/authy?x=1');
  assert.equal(fine.status, 200);
  // A webhook with such a URL is refused too (it always was: the dashboard API's own URL check).
  const application = (await t.of.services.applications.find(t.appId))!;
  for (const url of CONTROL_URLS) assert.equal((await t.of.services.webhooks.create(application, { name: 'hook', url, events: 'user_added' })).ok, false);
});

test('at delivery time a stored URL with control characters or an IPv4-compatible address is not called', async () => {
  const receiver = await new Receiver().start('/hooks');
  cleanups.push(() => receiver.close());
  const port = new URL(receiver.url).port;
  const open = new Destinations(['127.0.0.0/8']);
  cleanups.push(() => open.close());
  const req = (url: string) => ({ url, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(await open.send(req(`http://127.0.0.1:${port}/hooks`), 5000), 200, 'the receiver answers');
  await assert.rejects(open.send(req(`http://127.0.0.1:${port}/hooks\r\nX-Injected: 1`), 5000), /^Error: the URL contains spaces or control characters$/);
  await assert.rejects(open.send(req(`http://127.0.0.1:${port}/ho\toks`), 5000), /^Error: the URL contains spaces or control characters$/);
  const strict = new Destinations([]);
  cleanups.push(() => strict.close());
  await assert.rejects(strict.send(req(`http://[::127.0.0.1]:${port}/hooks`), 5000), /^Error: the host is ::7f00:1, a loopback address, not a public one/);
  assert.equal(receiver.requests.length, 1, 'only the first request arrived');

  // Web Push: such an endpoint is not accepted from a device, and not called if stored.
  const keys = { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  assert.equal(readPushSubscription({ endpoint: `https://127.0.0.1:${port}/push\r\nX: 1`, keys }), undefined);
  const push = new WebPush({ ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' }, quietLog, open);
  cleanups.push(async () => push.close());
  assert.equal(await push.send({ endpoint: `http://127.0.0.1:${port}/hooks\r\nX: 1`, keys }, { uuid: 'x' }), 'failed');
  assert.equal(receiver.requests.length, 1, 'nothing more arrived');
});
