// Sends are capped per user per hour: SMS, voice and email codes share the allowance.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser } from '../support/tokens.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const get = (url: string) => call(t.of.server, 'GET', url, { key: t.apiKey });

test('the 11th code in an hour is refused with the DoS message (default 10 per user per hour)', async () => {
  const id = await createUser(t, 'cap@example.com', '415-555-0141');
  for (let i = 0; i < 10; i++) {
    const r = await get(`/protected/json/${i % 2 ? 'sms' : 'call'}/${id}?force=true`);
    assert.equal(r.status, 200, `send ${i + 1}: ${r.text}`);
  }
  for (const path of [`sms/${id}`, `call/${id}`]) {
    const r = await get(`/protected/json/${path}?force=true`);
    assert.equal(r.status, 429);
    assert.equal(
      r.text,
      '{"message":"DoS protection: User has requested too many tokens in the last hour.","success":false,"errors":{"message":"DoS protection: User has requested too many tokens in the last hour."},"error_code":"60003"}',
    );
  }
  const email = await call(t.of.server, 'POST', `/protected/json/email/${id}`, { key: t.apiKey });
  assert.equal(email.status, 429);
  assert.equal((await t.of.services.outbox.recent({ limit: 100 })).length, 10, 'nothing more was queued');

  const other = await createUser(t, 'cap-other@example.com', '415-555-0142');
  assert.equal((await get(`/protected/json/sms/${other}`)).status, 200, 'other users are unaffected');
});

test('the cap is an application setting', async () => {
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 2 });
  const id = await createUser(t, 'cap2@example.com', '415-555-0143');
  assert.equal((await get(`/protected/json/sms/${id}`)).status, 200);
  assert.equal((await get(`/protected/json/sms/${id}`)).status, 200);
  assert.equal((await get(`/protected/json/sms/${id}`)).status, 429);
});
