// Users: enrolment, status, removal, activity — as an application sees them on the wire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, PHONES, type TestApp } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';
import { emailsOf, findUser, phoneOf } from '../../src/features/users/queries.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const create = (email: string, phone: string, cc = '1') =>
  call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, form: userForm(email, phone, cc) });

test('users/new answers the exact body with an integer id and nothing else numeric', async () => {
  const r = await create('jane@example.com', PHONES.us[0]);
  assert.equal(r.status, 200);
  assert.equal(r.text, `{"message":"User created successfully.","user":{"id":${r.json.user.id}},"success":true}`);
  assert.ok(Number.isInteger(r.json.user.id) && r.json.user.id > 0);
  assert.doesNotMatch(r.text, /cellphone|email/);
});

test('same country code + phone in one app gives the same id; the extra email is stored', async () => {
  const a = await create('first@example.com', '415.555.0143');
  const b = await create('second@example.com', '(415) 555 0143');
  assert.equal(a.json.user.id, b.json.user.id);
  const emails = await emailsOf(t.store.db, t.of.services.contacts, a.json.user.id);
  assert.deepEqual(emails.map((e) => e.email), ['second@example.com']);
  const status = await call(t.of.server, 'GET', `/protected/json/users/${a.json.user.id}/status`, { key: t.apiKey });
  assert.equal(status.json.status.email, 'first@example.com');
});

test('phones are stored as E.164', async () => {
  const r = await create('pt@example.com', PHONES.pt, '351');
  const stored = async (id: number) => {
    const row = (await findUser(t.store.db, t.appId, id))!;
    return { e164: phoneOf(t.of.services.contacts, row), country_code: row.country_code };
  };
  assert.deepEqual(await stored(r.json.user.id), { e164: '+351912345678', country_code: 351 });
  const uk = await create('uk@example.com', PHONES.uk, '44');
  assert.equal((await stored(uk.json.user.id)).e164, '+447400123456', 'the national trunk prefix is dropped');
});

test('invalid email, phone or country code → 400 / 60027 with per-field string messages twice', async () => {
  const r = await create('not-an-email', '415-555-0142');
  assert.equal(r.status, 400);
  assert.equal(r.text, '{"message":"User was not valid","success":false,"errors":{"message":"User was not valid","email":"is invalid"},"email":"is invalid","error_code":"60027"}');
  const phone = await create('ok@example.com', '555');
  assert.deepEqual([phone.status, phone.json.cellphone, phone.json.errors.cellphone, phone.json.error_code], [400, 'is invalid', 'is invalid', '60027']);
  const cc = await create('ok@example.com', '415-555-0142', '999');
  assert.deepEqual([cc.status, cc.json.country_code], [400, 'is not supported']);
  const blank = await call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, form: '' });
  assert.equal(blank.status, 400);
  for (const f of ['email', 'cellphone', 'country_code']) assert.equal(blank.json[f], "is invalid and can't be blank");
  for (const v of Object.values(blank.json.errors)) assert.equal(typeof v, 'string', 'every value in errors is a string (go)');
});

// Authy's shape, plus `last_account_recovery_at` (OpenFactor's account recovery, issue 17).
test('user status: exact shape, types and the last-four mask', async () => {
  const r = await create('status@example.com', '212-555-0199');
  const id = r.json.user.id;
  const s = await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey });
  assert.equal(s.status, 200);
  assert.equal(
    s.text,
    `{"status":{"authy_id":${id},"confirmed":false,"registered":false,"country_code":1,"phone_number":"XXX-XXX-0199","email":"status@example.com","devices":[],"has_hard_token":false,"account_disabled":false,"last_account_recovery_at":null,"detailed_devices":[],"deleted_devices":[]},"message":"User status.","success":true}`,
  );
  const pt = await create('pt2@example.com', '912 345 679', '351');
  const ps = await call(t.of.server, 'GET', `/protected/json/users/${pt.json.user.id}/status`, { key: t.apiKey });
  assert.equal(ps.json.status.phone_number, 'XX-XXX-5679');
  assert.equal(ps.json.status.country_code, 351);
});

test('unknown or non-numeric ids → 404 / 60026', async () => {
  const body = '{"message":"User not found.","success":false,"errors":{"message":"User not found."},"error_code":"60026"}';
  for (const id of ['424242', 'tony', '0', '-1', '1.5', '99999999999999999999']) {
    const s = await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey });
    assert.equal(s.status, 404, id);
    assert.equal(s.text, body);
  }
});

test('all three remove routes remove the user', async () => {
  const paths = (id: number) => [`/protected/json/users/${id}/remove`, `/protected/json/users/${id}/delete`, `/protected/json/users/delete/${id}`];
  for (let i = 0; i < 3; i++) {
    const r = await create(`rm${i}@example.com`, PHONES.us[3 + i]);
    const id = r.json.user.id;
    const del = await call(t.of.server, 'POST', paths(id)[i], { key: t.apiKey });
    assert.equal(del.status, 200, paths(id)[i]);
    assert.equal(del.text, '{"message":"User was added to remove.","success":true}');
    const s = await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey });
    assert.equal(s.status, 404);
    const again = await call(t.of.server, 'POST', paths(id)[i], { key: t.apiKey });
    assert.equal(again.status, 404);
    assert.equal(again.json.error_code, '60026');
  }
});

test('register_activity stores the activity; a bad type is 400 / 60029', async () => {
  const r = await create('act@example.com', '202-555-0112');
  const id = r.json.user.id;
  const ok = await call(t.of.server, 'POST', `/protected/json/users/${id}/register_activity`, {
    key: t.apiKey,
    json: { type: 'password_reset', data: { reason: 'forgot', nested: { a: 1 } }, user_ip: '203.0.113.5' },
  });
  assert.equal(ok.text, '{"message":"Activity was created.","success":true}');
  const form = await call(t.of.server, 'POST', `/protected/json/users/${id}/register_activity`, { key: t.apiKey, form: 'type=banned&data[by]=admin' });
  assert.equal(form.status, 200);
  // The operator reads them back, newest first, through the admin API (the console shows them).
  const admin = (path: string) => t.of.server.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${t.config.adminToken}` } });
  const seen = (await admin(`/admin/applications/${t.appId}/users/${id}`)).json();
  assert.deepEqual(seen.activities.map(({ created_at, ...x }: { created_at: string }) => (assert.match(created_at, /^\d{4}-\d\d-\d\dT/), x)), [
    { type: 'banned', data: { by: 'admin' }, user_ip: null },
    { type: 'password_reset', data: { reason: 'forgot', nested: { a: 1 } }, user_ip: '203.0.113.5' },
  ]);
  assert.equal(seen.user.email, 'act@example.com');
  assert.equal((await admin(`/admin/applications/${t.appId}/users/${id}?limit=1`)).json().activities.length, 1);
  // Another application's user is not found through this one.
  const other = await t.newApplication('Other Act');
  assert.equal((await admin(`/admin/applications/${other.id}/users/${id}`)).statusCode, 404);
  const bad = await call(t.of.server, 'POST', `/protected/json/users/${id}/register_activity`, { key: t.apiKey, form: 'type=hacked' });
  assert.equal(bad.status, 400);
  assert.equal(bad.text, '{"message":"You can only create the following activities: password_reset, banned, unbanned, cookie_login.","success":false,"errors":{"message":"You can only create the following activities: password_reset, banned, unbanned, cookie_login."},"error_code":"60029"}');
  const badIp = await call(t.of.server, 'POST', `/protected/json/users/${id}/register_activity`, { key: t.apiKey, form: 'type=banned&user_ip=not-an-ip' });
  assert.deepEqual([badIp.status, badIp.json.error_code], [400, '60004']);
  const unknown = await call(t.of.server, 'POST', `/protected/json/users/777777/register_activity`, { key: t.apiKey, form: 'type=banned' });
  assert.equal(unknown.status, 404);
});

test('XML answers the same routes in Rails style', async () => {
  const r = await call(t.of.server, 'POST', '/protected/xml/users/new', { key: t.apiKey, form: userForm('xml@example.com', '312-555-0120') });
  assert.equal(r.status, 200);
  assert.match(r.contentType, /^application\/xml/);
  const id = /<id type="integer">(\d+)<\/id>/.exec(r.text)?.[1];
  assert.ok(id, r.text);
  assert.equal(r.text, `<?xml version="1.0" encoding="UTF-8"?>\n<hash>\n  <message>User created successfully.</message>\n  <user>\n    <id type="integer">${id}</id>\n  </user>\n  <success type="boolean">true</success>\n</hash>\n`);
  const bad = await call(t.of.server, 'POST', '/protected/xml/users/new', { key: t.apiKey, form: userForm('bad', '312-555-0120') });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /<errors>\n {2}<message>User was not valid<\/message>\n {2}<success type="boolean">false<\/success>\n {2}<email>is invalid<\/email>\n {2}<error-code>60027<\/error-code>\n<\/errors>/);
  const s = await call(t.of.server, 'GET', `/protected/xml/users/${id}/status`, { key: t.apiKey });
  assert.match(s.text, /<authy-id type="integer">\d+<\/authy-id>[\s\S]*<phone-number>XXX-XXX-0120<\/phone-number>[\s\S]*<devices type="array"\/>/);
  const nf = await call(t.of.server, 'GET', `/protected/xml/users/4242424/status`, { key: t.apiKey });
  assert.equal(nf.status, 404);
  assert.match(nf.text, /<errors>[\s\S]*<error-code>60026<\/error-code>/);
  const rm = await call(t.of.server, 'POST', `/protected/xml/users/${id}/remove`, { key: t.apiKey });
  assert.match(rm.text, /<message>User was added to remove.<\/message>/);
});
