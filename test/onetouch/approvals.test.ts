// OneTouch approval requests on the Authy wire: creation in every encoding clients use, the
// status body, errors, isolation between applications, expiry without anyone polling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser } from '../support/tokens.ts';
import { approvalStatus, createApproval, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import type { OpenFactorDevice } from '../../sdk/device/src/index.ts';

let t: TestApp;
let base: string;
let alice: number;
let device: OpenFactorDevice;
before(async () => {
  t = await startApp({ OPENFACTOR_APPROVAL_SWEEP_MS: '50' });
  base = await t.listen();
  alice = await createUser(t, 'alice@example.com', PHONES.us[0]);
  device = await registerDevice(t, base, alice);
});
after(() => t.close());

const UUID = /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/;

test('create: the documented body; status: every field with the types clients check', async () => {
  const r = await createApproval(t, alice, { message: 'Login requested', details: { Username: 'alice', Location: 'Lisbon' }, hidden_details: { ip: '203.0.113.5' }, seconds_to_expire: 120 });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['approval_request', 'success', 'message']);
  assert.match(r.json.approval_request.uuid, UUID);
  assert.equal(r.json.message, 'Approval request created.');
  assert.match(r.text, /^\{"approval_request":\{"uuid":"[0-9a-f-]{36}"\},"success":true,"message":"Approval request created\."\}$/);

  const s = await approvalStatus(t, r.json.approval_request.uuid);
  assert.equal(s.status, 200);
  const a = s.json.approval_request;
  assert.deepEqual(Object.keys(a), ['_app_name', '_app_serial_id', '_authy_id', '_id', '_user_email', 'app_id', 'created_at', 'notified', 'processed_at', 'seconds_to_expire', 'status', 'updated_at', 'user_id', 'uuid']);
  assert.equal(a._app_name, 'Test Bank');
  assert.equal(a._app_serial_id, t.appId);
  assert.equal(a._authy_id, alice);
  assert.equal(a._user_email, 'alice@example.com');
  assert.match(a._id, /^[0-9a-f]{24}$/);
  assert.match(a.app_id, /^[0-9a-f]{24}$/);
  assert.match(a.user_id, /^[0-9a-f]{24}$/);
  assert.equal(a.status, 'pending');
  assert.equal(a.processed_at, null);
  assert.equal(a.seconds_to_expire, 120);
  assert.equal(typeof a.notified, 'boolean');
  assert.ok(!Number.isNaN(Date.parse(a.created_at)) && !Number.isNaN(Date.parse(a.updated_at)));
  assert.equal(s.json.success, true);

  // The device sees what the user is asked, not the hidden details.
  const [shown] = (await device.pendingApprovals()).filter((x) => x.uuid === a.uuid);
  assert.deepEqual(shown.details, { Username: 'alice', Location: 'Lisbon' });
  assert.equal(shown.message, 'Login requested');
  assert.equal('hidden_details' in shown, false);
});

test('every encoding clients send: JSON, indexed form, unindexed logos[][res], query string on POST, key in the form', async () => {
  const logos = [
    { res: 'default', url: 'https://example.com/a.png' },
    { res: 'low', url: 'https://example.com/b.png' },
  ];
  const forms: [string, Parameters<typeof call>[3] & {}, string][] = [
    ['json', { key: t.apiKey, json: { message: 'Pay 10 EUR', details: { Amount: '10 EUR' }, logos } }, ''],
    ['indexed form (node)', { key: t.apiKey, keyIn: 'query', form: 'message=Pay+10+EUR&details[Amount]=10+EUR&logos[0][res]=default&logos[0][url]=https%3A%2F%2Fexample.com%2Fa.png&logos[1][res]=low&logos[1][url]=https%3A%2F%2Fexample.com%2Fb.png' }, ''],
    ['unindexed form (ruby, rust)', { key: t.apiKey, form: 'message=Pay+10+EUR&details[Amount]=10+EUR&logos[][res]=default&logos[][url]=https%3A%2F%2Fexample.com%2Fa.png&logos[][res]=low&logos[][url]=https%3A%2F%2Fexample.com%2Fb.png' }, ''],
    ['query on POST (php)', { key: t.apiKey }, '?message=Pay+10+EUR&details[Amount]=10+EUR&logos[0][res]=default&logos[0][url]=https%3A%2F%2Fexample.com%2Fa.png&logos[1][res]=low&logos[1][url]=https%3A%2F%2Fexample.com%2Fb.png'],
    ['api_key in the form (go)', { key: t.apiKey, keyIn: 'form', form: 'message=Pay+10+EUR&details[Amount]=10+EUR&logos[][res]=default&logos[][url]=https%3A%2F%2Fexample.com%2Fa.png&logos[][res]=low&logos[][url]=https%3A%2F%2Fexample.com%2Fb.png' }, ''],
  ];
  for (const [what, opts, query] of forms) {
    const r = await call(t.of.server, 'POST', `/onetouch/json/users/${alice}/approval_requests${query}`, opts);
    assert.equal(r.status, 200, `${what}: ${r.text}`);
    const [shown] = (await device.pendingApprovals()).filter((x) => x.uuid === r.json.approval_request.uuid);
    assert.deepEqual(shown.logos, logos, what);
    assert.deepEqual(shown.details, { Amount: '10 EUR' }, what);
    assert.equal(shown.message, 'Pay 10 EUR', what);
  }
});

test('seconds_to_expire: default 86400, 0 never expires, null is absent (python)', async () => {
  for (const [given, expected] of [[undefined, 86400], [0, 0], [null, 86400], ['300', 300]] as const) {
    const r = await createApproval(t, alice, { message: 'm', seconds_to_expire: given });
    const s = await approvalStatus(t, r.json.approval_request.uuid);
    assert.equal(s.json.approval_request.seconds_to_expire, expected);
  }
  const never = await createApproval(t, alice, { message: 'forever', seconds_to_expire: 0 });
  const [shown] = (await device.pendingApprovals()).filter((x) => x.uuid === never.json.approval_request.uuid);
  assert.equal(shown.expires_at, null);
});

test('expiry flips the status to expired without anyone polling', async () => {
  const r = await createApproval(t, alice, { message: 'short', seconds_to_expire: 1 });
  const uuid = r.json.approval_request.uuid;
  await until('the sweeper expires the request', async () => {
    const row = await t.store.db.selectFrom('approval_requests').select('status').where('uuid', '=', uuid).executeTakeFirstOrThrow();
    return row.status === 'expired';
  });
  const s = await approvalStatus(t, uuid);
  assert.equal(s.json.approval_request.status, 'expired');
  assert.ok(s.json.approval_request.processed_at);
  assert.equal((await device.pendingApprovals()).some((x) => x.uuid === uuid), false);
});

test('errors: unknown uuid 404/60049 with empty errors; unknown user; no device; bad parameters', async () => {
  const missing = await approvalStatus(t, '8d031630-d15b-0134-b0a8-0a77bbe8093e');
  assert.equal(missing.status, 404);
  assert.equal(missing.text, '{"message":"Approval request not found: 8d031630-d15b-0134-b0a8-0a77bbe8093e","success":false,"errors":{},"error_code":"60049"}');

  const nobody = await createApproval(t, 999999);
  assert.equal(nobody.status, 404);
  assert.equal(nobody.json.error_code, '60026');

  const bob = await createUser(t, 'bob@example.com', PHONES.us[1]);
  const noDevice = await createApproval(t, bob);
  assert.equal(noDevice.status, 400);
  assert.equal(noDevice.json.error_code, '60050');

  for (const [body, name] of [
    [{}, 'message'],
    [{ message: 'x'.repeat(201) }, 'message'],
    [{ message: 'm', details: 'text' }, 'details'],
    [{ message: 'm', details: { 'a-key-longer-than-twenty': 'v' } }, 'details'],
    [{ message: 'm', logos: [{ res: 'huge', url: 'https://e.com/a.png' }] }, 'logos'],
    [{ message: 'm', logos: [{ res: 'low', url: 'javascript:alert(1)' }] }, 'logos'],
    [{ message: 'm', seconds_to_expire: -1 }, 'seconds_to_expire'],
    [{ message: 'm', seconds_to_expire: 'soon' }, 'seconds_to_expire'],
  ] as const) {
    const r = await createApproval(t, alice, body as Record<string, unknown>);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error_code, '60004');
    assert.match(r.json.message, new RegExp(`^Invalid parameter: ${name}`));
  }
});

test('application B can neither create requests for A\'s users nor read A\'s requests', async () => {
  const other = await t.newApplication('Other');
  const r = await createApproval(t, alice, { message: 'mine' });
  const uuid = r.json.approval_request.uuid;
  const read = await approvalStatus(t, uuid, other.apiKey);
  assert.equal(read.status, 404);
  assert.equal(read.json.error_code, '60049');
  const create = await createApproval(t, alice, { message: 'theirs' }, other.apiKey);
  assert.equal(create.status, 404);
  assert.equal(create.json.error_code, '60026');
});

test('XML format: /onetouch/xml/ answers in Rails XML', async () => {
  const r = await call(t.of.server, 'POST', `/onetouch/xml/users/${alice}/approval_requests`, { key: t.apiKey, form: 'message=xml' });
  assert.equal(r.status, 200);
  assert.match(r.contentType, /xml/);
  assert.match(r.text, /<uuid>[0-9a-f-]{36}<\/uuid>/);
});

const cancel = (uuid: string, key = t.apiKey) => call(t.of.server, 'POST', `/onetouch/json/approval_requests/${uuid}/cancel`, { key });

test('cancel (OpenFactor): a pending request ends now and reads as expired, gone from the device; an answered one keeps its answer; others\' and unknown are 404', async () => {
  const r = await createApproval(t, alice, { message: 'signed in with a code instead' });
  const uuid = r.json.approval_request.uuid;
  assert.equal((await device.pendingApprovals()).some((x) => x.uuid === uuid), true);

  const other = await t.newApplication('Not Theirs');
  const foreign = await cancel(uuid, other.apiKey);
  assert.equal(foreign.status, 404);
  assert.equal(foreign.json.error_code, '60049');
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'pending', 'another application cannot end it');

  const ended = await cancel(uuid);
  assert.equal(ended.status, 200);
  assert.equal(ended.json.approval_request.status, 'expired');
  assert.ok(ended.json.approval_request.processed_at);
  assert.equal((await approvalStatus(t, uuid)).json.approval_request.status, 'expired');
  assert.equal((await device.pendingApprovals()).some((x) => x.uuid === uuid), false, 'the device no longer has it');
  assert.equal((await cancel(uuid)).json.approval_request.status, 'expired', 'twice is the same');

  const answered = await createApproval(t, alice, { message: 'approved first' });
  const pending = (await device.pendingApprovals()).find((x) => x.uuid === answered.json.approval_request.uuid)!;
  await device.approve(pending);
  const late = await cancel(answered.json.approval_request.uuid);
  assert.equal(late.status, 200);
  assert.equal(late.json.approval_request.status, 'approved', 'an answer given first stands');

  const missing = await cancel('8d031630-d15b-0134-b0a8-0a77bbe8093e');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error_code, '60049');
  assert.equal((await cancel('not-a-uuid')).status, 404);
});
