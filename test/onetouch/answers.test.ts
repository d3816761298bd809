// Devices answering approval requests: heard of within a second (event stream, long-poll),
// answers signed and kept (non-repudiation), exactly one answer counts, number matching,
// signed callbacks to the customer (checked with authy-client's own validator), retries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createPublicKey, verify } from 'node:crypto';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { createUser } from '../support/tokens.ts';
import { approvalStatus, createApproval, Receiver, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { parseUrlEncoded } from '../../src/core/params.ts';
import { verifyAuthySignature } from '../../src/core/authy-signature.ts';
import { transactionHash, type DeviceApproval, type OpenFactorDevice } from '../../sdk/device/src/index.ts';

const require = createRequire(import.meta.url);
const { Client } = require('authy-client') as { Client: new (o: { key: string }) => { verifyCallback(r: unknown): Promise<unknown> } };

let t: TestApp;
let base: string;
let receiver: Receiver;
let alice: number;
let phone: OpenFactorDevice;
let tablet: OpenFactorDevice;
before(async () => {
  t = await startApp({ OPENFACTOR_APPROVAL_SWEEP_MS: '50', OPENFACTOR_HOOK_RETRY_BASE_MS: '50' });
  base = await t.listen();
  receiver = await new Receiver().start();
  await t.of.services.applications.setCallback(t.appId, receiver.url, 'POST', t.of.services.destinations);
  alice = await createUser(t, 'alice@example.com', PHONES.us[0]);
  phone = await registerDevice(t, base, alice, { algorithm: 'ES256', osType: 'android' });
  tablet = await registerDevice(t, base, alice, { algorithm: 'Ed25519', osType: 'ipad' });
});
after(async () => {
  await t.close();
  await receiver.close();
});

const callbacksFor = (uuid: string) => receiver.requests.filter((r) => (r.method === 'POST' ? JSON.parse(r.body).uuid === uuid : r.url.includes(uuid)));

/** Checks a POST callback the way a customer using authy-client does; throws if it is not genuine. */
async function verifiedByAuthyClient(r: (typeof receiver.requests)[number]) {
  const url = new URL(receiver.url);
  await new Client({ key: t.apiKey }).verifyCallback({
    body: JSON.parse(r.body),
    headers: { ...r.headers, host: url.host },
    method: r.method,
    protocol: 'http',
    url: r.url,
  });
}

test('a device listening on the event stream hears of a new request at once, approves, and the customer gets a signed callback', async () => {
  const heard: DeviceApproval[] = [];
  const stop = new AbortController();
  const listening = phone.listen((a) => heard.push(a), { signal: stop.signal });
  await new Promise((r) => setTimeout(r, 100));
  const r = await createApproval(t, alice, { message: 'Login requested', details: { Location: 'Lisbon' }, hidden_details: { ip: '203.0.113.5' }, logos: [{ res: 'default', url: 'https://bank.example/logo.png' }] });
  const uuid = r.json.approval_request.uuid;
  const started = Date.now();
  const shown = await until('the device hears of the request', () => heard.find((a) => a.uuid === uuid));
  assert.ok(Date.now() - started < 1000, 'within a second');
  assert.equal(shown.app_name, 'Test Bank');
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.notified, true);

  const answer = await phone.approve(shown);
  assert.equal(answer.approval_request.status, 'approved');
  stop.abort();
  await listening;

  const s = (await approvalStatus(t, uuid)).json.approval_request;
  assert.equal(s.status, 'approved');
  assert.ok(s.processed_at);

  const [cb] = await until('the callback arrives', () => callbacksFor(uuid).length > 0 && callbacksFor(uuid));
  assert.equal(cb.method, 'POST');
  assert.equal(cb.headers['content-type'], 'application/json');
  assert.match(String(cb.headers['x-authy-signature-nonce']), /^\d{10}$/);
  await verifiedByAuthyClient(cb); // authy-client's validator accepts it…
  const body = JSON.parse(cb.body);
  assert.equal(
    verifyAuthySignature(t.apiKey, String(cb.headers['x-authy-signature-nonce']), 'POST', receiver.url, body, String(cb.headers['x-authy-signature'])),
    true,
  );
  await assert.rejects(verifiedByAuthyClient({ ...cb, body: cb.body.replace('Lisbon', 'Porto') })); // …and refuses a forged one
  assert.equal(body.callback_action, 'approval_request_status');
  assert.equal(body.status, 'approved');
  assert.equal(body.authy_id, alice);
  assert.equal(body.device_uuid, String(phone.id));
  assert.deepEqual(body.approval_request.transaction.details, { Location: 'Lisbon' });
  assert.deepEqual(body.approval_request.transaction.hidden_details, { ip: '203.0.113.5' });
  assert.deepEqual(body.approval_request.logos, [{ res: 'default', url: 'https://bank.example/logo.png' }]);

  // Non-repudiation: the stored signature is the device's, over what it was shown.
  const row = await t.store.db.selectFrom('approval_requests').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
  const hash = await transactionHash({ message: 'Login requested', details: { Location: 'Lisbon' }, logos: [{ res: 'default', url: 'https://bank.example/logo.png' }] });
  assert.equal(row.transaction_hash, hash);
  const key = createPublicKey({ key: Buffer.from(phone.publicKey, 'base64url'), format: 'der', type: 'spki' });
  assert.equal(verify('sha256', Buffer.from(`${uuid}|approved|${hash}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(row.device_signature!, 'base64url')), true);
  assert.equal(Buffer.from(body.signature, 'base64').toString('base64url'), row.device_signature);
});

test('long-poll: a waiting device is answered as soon as a request exists; deny is reported too', async () => {
  const waiting = tablet.pendingApprovals(20);
  await new Promise((r) => setTimeout(r, 150));
  const r = await createApproval(t, alice, { message: 'Wire 500 EUR' });
  const uuid = r.json.approval_request.uuid;
  const list = await waiting;
  const shown = list.find((a) => a.uuid === uuid);
  assert.ok(shown, 'the long-poll returns the new request');
  const answer = await tablet.deny(shown);
  assert.equal(answer.approval_request.status, 'denied');
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'denied');
  const [cb] = await until('the deny callback', () => callbacksFor(uuid).length > 0 && callbacksFor(uuid));
  assert.equal(JSON.parse(cb.body).status, 'denied');
  await verifiedByAuthyClient(cb);
});

test('two devices answering at once: exactly one answer counts, the other gets 60079', async () => {
  for (let round = 0; round < 5; round++) {
    const r = await createApproval(t, alice, { message: `race ${round}` });
    const uuid = r.json.approval_request.uuid;
    const [a] = (await phone.pendingApprovals()).filter((x) => x.uuid === uuid);
    const [b] = (await tablet.pendingApprovals()).filter((x) => x.uuid === uuid);
    const results = await Promise.allSettled([phone.approve(a), tablet.deny(b)]);
    const won = results.filter((x) => x.status === 'fulfilled');
    const lost = results.filter((x) => x.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(won.length, 1, `round ${round}`);
    assert.equal(lost[0].reason.code, '60079');
    const final = (await approvalStatus(t, uuid)).json.approval_request.status;
    assert.equal(final, (won[0] as PromiseFulfilledResult<{ approval_request: { status: string } }>).value.approval_request.status);
    await until('one callback', () => callbacksFor(uuid).length === 1);
  }
});

test('an answer signed over other details than the stored ones is refused (401/60087) and changes nothing', async () => {
  const r = await createApproval(t, alice, { message: 'Pay 10 EUR', details: { Amount: '10 EUR' } });
  const uuid = r.json.approval_request.uuid;
  const [shown] = (await phone.pendingApprovals()).filter((x) => x.uuid === uuid);
  await assert.rejects(phone.approve({ ...shown, details: { Amount: '10000 EUR' } }), (e: { status: number; code: string }) => e.status === 401 && e.code === '60087');
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'pending');
  await phone.approve(shown);
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'approved');
});

test('number matching: the create response carries the number; the wrong pick denies, the right one approves', async () => {
  const wrong = await createApproval(t, alice, { message: 'Sign in', number_matching: true });
  const number = wrong.json.approval_request.number;
  assert.ok(number >= 10 && number <= 99);
  const [w] = (await phone.pendingApprovals()).filter((x) => x.uuid === wrong.json.approval_request.uuid);
  assert.equal(w.number_choices?.length, 3);
  assert.ok(w.number_choices!.includes(number));
  const other = w.number_choices!.find((n) => n !== number)!;
  await assert.rejects(phone.approve(w, { number: other }), (e: { code: string }) => e.code === '60080');
  assert.equal((await approvalStatus(t, w.uuid)).json.approval_request.status, 'denied');

  const right = await createApproval(t, alice, { message: 'Sign in', number_matching: true });
  const [ok] = (await phone.pendingApprovals()).filter((x) => x.uuid === right.json.approval_request.uuid);
  await phone.approve(ok, { number: right.json.approval_request.number });
  assert.equal((await approvalStatus(t, ok.uuid)).json.approval_request.status, 'approved');
});

test('expiry is reported by callback too, and an expired request cannot be answered', async () => {
  const r = await createApproval(t, alice, { message: 'soon gone', seconds_to_expire: 1 });
  const uuid = r.json.approval_request.uuid;
  const [shown] = (await phone.pendingApprovals()).filter((x) => x.uuid === uuid);
  const [cb] = await until('the expiry callback', () => callbacksFor(uuid).length > 0 && callbacksFor(uuid), 5000);
  const body = JSON.parse(cb.body);
  assert.equal(body.status, 'expired');
  assert.equal(verifyAuthySignature(t.apiKey, String(cb.headers['x-authy-signature-nonce']), 'POST', receiver.url, body, String(cb.headers['x-authy-signature'])), true);
  await assert.rejects(phone.approve(shown), (e: { code: string }) => e.code === '60079');
});

test('a failing callback endpoint is retried with backoff; every attempt is recorded', async () => {
  let failures = 2;
  receiver.answer = () => (failures-- > 0 ? 500 : 200);
  try {
    const r = await createApproval(t, alice, { message: 'retry me' });
    const uuid = r.json.approval_request.uuid;
    const [shown] = (await phone.pendingApprovals()).filter((x) => x.uuid === uuid);
    await phone.approve(shown);
    await until('three deliveries', () => callbacksFor(uuid).length === 3, 5000);
    const [delivery] = (await t.of.services.hooks.list(t.appId)).filter((d) => d.target === uuid);
    await until('delivered', async () => (await t.of.services.hooks.list(t.appId)).find((d) => d.target === uuid)?.status === 'delivered');
    const after = (await t.of.services.hooks.list(t.appId)).find((d) => d.id === delivery.id)!;
    assert.deepEqual(after.tries.map((a) => a.http_status), [500, 500, 200]);
    // Each retry is signed afresh and verifies.
    for (const cb of callbacksFor(uuid)) await verifiedByAuthyClient(cb);
  } finally {
    receiver.answer = () => 200;
  }
});

test('GET callbacks: the payload flattened into the query string, signed the same way', async () => {
  await t.of.services.applications.setCallback(t.appId, receiver.url, 'GET', t.of.services.destinations);
  try {
    const r = await createApproval(t, alice, { message: 'GET me', details: { 'Account Number': '23527922' } });
    const uuid = r.json.approval_request.uuid;
    const [shown] = (await phone.pendingApprovals()).filter((x) => x.uuid === uuid);
    await phone.approve(shown);
    const [cb] = await until('the GET callback', () => callbacksFor(uuid).length > 0 && callbacksFor(uuid));
    assert.equal(cb.method, 'GET');
    const params = parseUrlEncoded(cb.url.split('?')[1]);
    assert.equal((params.approval_request as any).transaction.details['Account Number'], '23527922');
    assert.equal(verifyAuthySignature(t.apiKey, String(cb.headers['x-authy-signature-nonce']), 'GET', receiver.url, params, String(cb.headers['x-authy-signature'])), true);
  } finally {
    await t.of.services.applications.setCallback(t.appId, receiver.url, 'POST', t.of.services.destinations);
  }
});
