// node-authy and authy-client create and poll approval requests against a real listening
// OpenFactor while a device built on the device SDK approves or denies them; authy-client also
// checks the callback signature, as a customer's server would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { createUser } from '../support/tokens.ts';
import { Receiver, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import type { OpenFactorDevice } from '../../sdk/device/src/index.ts';

const require = createRequire(import.meta.url);
const authyFactory = require('authy') as (key: string, url: string) => any;
const { Client } = require('authy-client') as { Client: new (o: { key: string }, p: { host: string }) => any };

let t: TestApp;
let base: string;
let receiver: Receiver;
let userId: number;
let device: OpenFactorDevice;
before(async () => {
  t = await startApp({ OPENFACTOR_APPROVAL_SWEEP_MS: '50' });
  base = await t.listen();
  receiver = await new Receiver().start();
  await t.of.services.applications.setCallback(t.appId, receiver.url, 'POST', t.of.services.destinations);
  userId = await createUser(t, 'compat@example.com', PHONES.us[0]);
  device = await registerDevice(t, base, userId);
});
after(async () => {
  await t.close();
  await receiver.close();
});

const cb = <T = any>(fn: (done: (err: any, res: T) => void) => void) =>
  new Promise<{ err: any; res: T }>((resolve) => fn((err, res) => resolve({ err, res })));

/** The device answers the request with this uuid once it sees it. */
async function answer(uuid: string, how: 'approve' | 'deny') {
  const shown = await until('the device sees the request', async () => (await device.pendingApprovals(5)).find((a) => a.uuid === uuid));
  return how === 'approve' ? device.approve(shown) : device.deny(shown);
}

test('node-authy: send_approval_request (form, indexed logos) and check_approval_status until approved', async () => {
  const authy = authyFactory(t.apiKey, base);
  const created = await cb((done) =>
    authy.send_approval_request(
      userId,
      { message: 'Login requested', details: { Username: 'compat', Location: 'Lisbon' }, seconds_to_expire: 300 },
      { ip: '203.0.113.5' },
      [{ res: 'default', url: 'https://bank.example/logo.png' }],
      done,
    ),
  );
  assert.equal(created.err, null);
  const uuid = created.res.approval_request.uuid;
  const first = await cb((done) => authy.check_approval_status(uuid, done));
  assert.equal(first.err, null);
  assert.equal(first.res.approval_request.status, 'pending');

  const shown = (await device.pendingApprovals()).find((a) => a.uuid === uuid)!;
  assert.deepEqual(shown.details, { Username: 'compat', Location: 'Lisbon' });
  assert.deepEqual(shown.logos, [{ res: 'default', url: 'https://bank.example/logo.png' }]);
  await answer(uuid, 'approve');
  const done = await cb((d) => authy.check_approval_status(uuid, d));
  assert.equal(done.res.approval_request.status, 'approved');
  assert.equal(done.res.approval_request._authy_id, userId);

  const missing = await cb((d) => authy.check_approval_status('8d031630-d15b-0134-b0a8-0a77bbe8093e', d));
  assert.equal(missing.err.error_code, '60049');
});

test('authy-client: createApprovalRequest and getApprovalRequest pass its own response assertions; deny and expiry', async () => {
  const client = new Client({ key: t.apiKey }, { host: base });
  const created = await client.createApprovalRequest(
    {
      authyId: userId,
      details: { hidden: { ip: '203.0.113.5' }, visible: { Amount: '10 EUR' } },
      logos: [{ res: 'default', url: 'https://bank.example/logo.png' }, { res: 'low', url: 'https://bank.example/logo-low.png' }],
      message: 'Pay 10 EUR',
    },
    { ttl: 120 },
  );
  const uuid = created.approval_request.uuid;
  const pending = await client.getApprovalRequest({ id: uuid });
  assert.equal(pending.approval_request.status, 'pending');
  await answer(uuid, 'deny');
  const denied = await client.getApprovalRequest({ id: uuid });
  assert.equal(denied.approval_request.status, 'denied');
  assert.ok(denied.approval_request.processed_at);

  // The customer's callback endpoint checks the signature with authy-client.
  const hook = await until('the callback', () => receiver.requests.find((r) => JSON.parse(r.body).uuid === uuid));
  const url = new URL(receiver.url);
  const verified = await client.verifyCallback({ body: JSON.parse(hook.body), headers: { ...hook.headers, host: url.host }, method: 'POST', protocol: 'http', url: hook.url });
  assert.equal(verified.body.status, 'denied');

  const short = await client.createApprovalRequest({ authyId: userId, message: 'Expires soon' }, { ttl: 1 });
  await until('expired', async () => (await client.getApprovalRequest({ id: short.approval_request.uuid })).approval_request.status === 'expired');

  await assert.rejects(client.getApprovalRequest({ id: '8d031630-d15b-0134-b0a8-0a77bbe8093e' }), (e: any) => e.name === 'HttpError' && e.code === 404 && e.body.error_code === '60049');
});
