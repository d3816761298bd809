// authy-client (seegno) pointed at a real listening OpenFactor. It asserts exact messages and
// field types itself, so every call succeeding is part of what this test shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApp, type TestApp } from '../support/harness.ts';

const require = createRequire(import.meta.url);
const { Client, errors } = require('authy-client');

let t: TestApp;
let client: any;
before(async () => {
  t = await startApp();
  client = new Client({ key: t.apiKey }, { host: await t.listen() });
});
after(() => t.close());

test('getApplicationDetails', async () => {
  const r = await client.getApplicationDetails({ ip: '198.51.100.7' });
  assert.equal(r.message, 'Application information.');
  assert.equal(r.app.name, 'Test Bank');
  assert.equal(r.app.app_id, t.appId);
});

test('registerUser, getUserStatus, registerActivity, deleteUser', async () => {
  const r = await client.registerUser({ countryCode: 'PT', email: 'ana@example.com', phone: '912 345 678' });
  const authyId = r.user.id;
  const again = await client.registerUser({ countryCode: '351', email: 'ana2@example.com', phone: '912345678' });
  assert.equal(again.user.id, authyId);

  const status = await client.getUserStatus({ authyId }, { ip: '198.51.100.7' });
  assert.equal(status.status.country_code, 351);
  assert.equal(status.status.phone_number, 'XX-XXX-5678');
  assert.equal(status.status.registered, false);

  const activity = await client.registerActivity({ authyId, type: 'cookie_login', data: { browser: 'firefox' } }, { ip: '198.51.100.7' });
  assert.equal(activity.message, 'Activity was created.');

  const removed = await client.deleteUser({ authyId });
  assert.equal(removed.success, true);
  await assert.rejects(client.getUserStatus({ authyId }), (e: any) => {
    assert.ok(e instanceof errors.HttpError);
    assert.equal(e.code, 404);
    assert.equal(e.body.error_code, '60026');
    return true;
  });
});

test('getApplicationStatistics counts what was done', async () => {
  const r = await client.getApplicationStatistics({ ip: '198.51.100.7' });
  assert.equal(r.message, 'Monthly statistics.');
  assert.equal(r.app_id, t.appId);
  assert.equal(r.count, r.stats.length);
  const thisMonth = r.stats[r.stats.length - 1];
  assert.equal(thisMonth.users_count, 1);
  assert.ok(thisMonth.api_calls_count >= 6, `api calls: ${thisMonth.api_calls_count}`);
  assert.equal(r.total_users, 0);
});

test('an unknown user and a wrong key come back as HTTP errors with Authy bodies', async () => {
  await assert.rejects(client.getUserStatus({ authyId: 987654 }), (e: any) => e.code === 404 && e.body.message === 'User not found.');
  const wrong = new Client({ key: 'wrong-key' }, { host: client.host });
  await assert.rejects(wrong.getApplicationDetails(), (e: any) => e.code === 401 && e.body.error_code === '60001');
});
