// The wire rules of the Authy envelope, independent of any one feature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, PHONES, type TestApp } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const INVALID_KEY = '{"message":"Invalid API key","success":false,"errors":{"message":"Invalid API key"},"error_code":"60001"}';

test('the API key is accepted from the header, the query string and the form body', async () => {
  for (const keyIn of ['header', 'query', 'form'] as const) {
    const r = await call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, keyIn, form: userForm('k@x.io', PHONES.us[0]) });
    assert.equal(r.status, 200, `${keyIn}: ${r.text}`);
  }
  const r = await call(t.of.server, 'GET', '/protected/json/app/details', { key: t.apiKey, keyIn: 'form', form: '' });
  assert.equal(r.status, 200, 'a GET with the key in its form body');
});

test('a missing or wrong key is 401 / 60001 with the exact body', async () => {
  for (const o of [{}, { key: 'wrong' }, { key: '' }, { key: t.apiKey + 'x' }]) {
    const r = await call(t.of.server, 'GET', '/protected/json/app/details', o);
    assert.equal(r.status, 401);
    assert.equal(r.text, INVALID_KEY);
  }
  const xml = await call(t.of.server, 'GET', '/protected/xml/app/details', { key: 'wrong' });
  assert.equal(xml.status, 401);
  assert.match(xml.text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<errors>\n {2}<message>Invalid API key<\/message>\n {2}<success type="boolean">false<\/success>\n {2}<error-code>60001<\/error-code>\n<\/errors>/);
});

test('the header wins over a wrong key in the query', async () => {
  const r = await call(t.of.server, 'GET', '/protected/json/app/details?api_key=wrong', { key: t.apiKey });
  assert.equal(r.status, 200);
});

test('parameters merge from query, form, JSON and XML bodies, on GET and POST', async () => {
  const email = 'merge@x.io';
  // php: everything in the query string of a POST with no body
  let r = await call(t.of.server, 'POST', `/protected/json/users/new?${userForm(email, PHONES.us[1])}`, { key: t.apiKey });
  assert.equal(r.status, 200, r.text);
  const id = r.json.user.id;
  // split between query and body
  r = await call(t.of.server, 'POST', `/protected/json/users/new?user[email]=${email}`, { key: t.apiKey, form: `user[cellphone]=${PHONES.us[1]}&user[country_code]=1` });
  assert.equal(r.json.user.id, id);
  // JSON with a numeric country code
  r = await call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, json: { user: { email, cellphone: PHONES.us[1], country_code: 1 }, send_install_link_via_sms: false } });
  assert.equal(r.json.user.id, id);
  // XML body
  r = await call(t.of.server, 'POST', '/protected/json/users/new', {
    key: t.apiKey,
    rawBody: `<user><cellphone>${PHONES.us[1]}</cellphone><country_code>1</country_code><email>${email}</email></user>`,
    contentType: 'application/xml',
  });
  assert.equal(r.json.user.id, id, r.text);
  // GET with a JSON body (authy-client's getUserStatus) and with a form body (node-authy)
  r = await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey, json: { user_ip: '10.0.0.1' } });
  assert.equal(r.status, 200);
  r = await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey, keyIn: 'form', form: 'user_ip=10.0.0.1' });
  assert.equal(r.status, 200);
});

test('an XML body carries the API key like any parameter: in the root element, dashed or not', async () => {
  const email = 'xml-key@x.io';
  const created = await call(t.of.server, 'POST', '/protected/xml/users/new', {
    rawBody: `<?xml version="1.0" encoding="UTF-8"?><user><api_key>${t.apiKey}</api_key><cellphone>${PHONES.us[4]}</cellphone><country_code>1</country_code><email>${email}</email></user>`,
    contentType: 'application/xml',
  });
  assert.equal(created.status, 200, created.text);
  const id = /<id type="integer">(\d+)<\/id>/.exec(created.text)?.[1];
  assert.ok(id, created.text);
  const update = await call(t.of.server, 'POST', `/protected/json/users/${id}/update`, { rawBody: `<hash><api-key>${t.apiKey}</api-key><email>xml-changed@x.io</email></hash>`, contentType: 'application/xml' });
  assert.equal(update.status, 200, update.text);
  assert.equal((await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey })).json.status.email, 'xml-changed@x.io', 'the email read from the same root element');
  const wrong = await call(t.of.server, 'POST', `/protected/json/users/${id}/update`, { rawBody: '<hash><api_key>not-a-key</api_key><email>x@x.io</email></hash>', contentType: 'application/xml' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error_code, '60001');
});

test('an empty body with a JSON content type is fine (java deleteUser, python delete)', async () => {
  const created = await call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, form: userForm('e@x.io', PHONES.us[2]) });
  const id = created.json.user.id;
  const status = await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey, rawBody: '', contentType: 'application/json' });
  assert.equal(status.status, 200);
  const del = await call(t.of.server, 'POST', `/protected/json/users/delete/${id}`, { key: t.apiKey, rawBody: '', contentType: 'application/json' });
  assert.equal(del.status, 200, del.text);
  const del2 = await call(t.of.server, 'POST', `/protected/json/users/new`, { key: t.apiKey, json: {} });
  assert.equal(del2.status, 400);
  assert.equal(del2.json.error_code, '60027');
});

test('JSON null is absent', async () => {
  const r = await call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, json: { user: { email: null, cellphone: PHONES.us[3], country_code: '1' } } });
  assert.equal(r.status, 400);
  assert.equal(r.json.email, "is invalid and can't be blank");
});

test('repeated slashes collapse (a base URL with a trailing slash)', async () => {
  const r = await call(t.of.server, 'GET', '//protected//json/app/details', { key: t.apiKey });
  assert.equal(r.status, 200, r.text);
});

test('responses are compact JSON with a message on every body and error_code a string', async () => {
  const r = await call(t.of.server, 'GET', '/protected/json/app/details', { key: t.apiKey });
  assert.match(r.contentType, /^application\/json/);
  assert.equal(r.text, JSON.stringify(r.json), 'no whitespace');
  for (const url of ['/protected/json/users/999999/status', '/protected/json/nope', '/protected/json/users/abc/status']) {
    const e = await call(t.of.server, 'GET', url, { key: t.apiKey });
    assert.equal(e.status, 404);
    assert.equal(typeof e.json.message, 'string');
    assert.equal(typeof e.json.error_code, 'string');
    assert.equal(e.json.success, false);
  }
});

test('GET / answers 200 (authy-ssh probes it) and /openapi.json describes every route', async () => {
  const health = await call(t.of.server, 'GET', '/');
  assert.equal(health.status, 200);
  const doc = (await call(t.of.server, 'GET', '/openapi.json')).json;
  assert.equal(doc.openapi.startsWith('3.'), true);
  const paths = Object.keys(doc.paths);
  for (const p of [
    '/protected/{format}/app/details',
    '/protected/{format}/app/stats',
    '/protected/{format}/users/new',
    '/protected/{format}/users/{authy_id}/status',
    '/protected/{format}/users/{authy_id}/remove',
    '/protected/{format}/users/{authy_id}/delete',
    '/protected/{format}/users/delete/{authy_id}',
    '/protected/{format}/users/{authy_id}/register_activity',
    '/protected/{format}/sdk/registrations',
    '/onetouch/{format}/users/{authy_id}/approval_requests',
    '/onetouch/{format}/approval_requests/{uuid}',
    '/device/v1/registrations',
    '/device/v1/phone_registrations',
    '/device/v1/phone_registrations/{id}/confirm',
    '/device/v1/accounts',
    '/device/v1/approval_requests',
    '/device/v1/approval_requests/{uuid}',
    '/device/v1/events',
    '/device/v1/push_subscription',
    '/device/v1/device',
    '/dashboard/json/application/webhooks',
    '/dashboard/json/application/webhooks/{id}',
  ]) {
    assert.ok(paths.includes(p), `${p} is described`);
  }
  const create = doc.paths['/protected/{format}/users/new'].post;
  assert.ok(create.requestBody, 'users/new documents its parameters');
  assert.ok(create.responses['200'] && create.responses['4XX'], 'and its responses');
});
