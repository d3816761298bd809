// Retention: records of finished work go once they are old (delivery records after
// OPENFACTOR_RETENTION_DAYS, the audit trail after OPENFACTOR_AUDIT_RETENTION_DAYS); work in
// progress stays however old; fresh records are never touched. Records are made through the API.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser, delivered } from '../support/tokens.ts';
import { createApproval, Receiver, registerDevice } from '../support/onetouch.ts';
import { quietLog, until } from '../support/wait.ts';
import { loadConfig } from '../../src/config.ts';
import { Retention } from '../../src/store/retention.ts';
import type { DB } from '../../src/store/schema.ts';

const DAY = 86_400_000;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const TABLES = ['outbox', 'delivery_attempts', 'sent_codes', 'hook_deliveries', 'hook_attempts', 'phone_verifications', 'prefix_traffic', 'approval_requests', 'activities', 'registration_tokens'] as const;

async function counts(t: TestApp): Promise<Record<(typeof TABLES)[number], number>> {
  const out = {} as Record<(typeof TABLES)[number], number>;
  for (const table of TABLES) {
    const row = await t.store.db.selectFrom(table as keyof DB).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/** A user with an SMS, a call, an activity, a phone verification, an approved and a pending approval request. */
async function makeHistory(t: TestApp, base: string, phone: string, receiver: Receiver) {
  await t.of.services.applications.setCallback(t.appId, receiver.url, 'POST', t.of.services.destinations);
  const id = await createUser(t, `${phone}@example.com`, phone);
  assert.equal((await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey })).status, 200);
  assert.equal((await call(t.of.server, 'GET', `/protected/json/call/${id}?force=true`, { key: t.apiKey })).status, 200);
  assert.equal((await call(t.of.server, 'POST', `/protected/json/users/${id}/register_activity`, { key: t.apiKey, form: 'type=cookie_login&user_ip=203.0.113.9' })).status, 200);
  assert.equal((await call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key: t.apiKey, form: `via=sms&phone_number=${phone}&country_code=1` })).status, 200);
  const device = await registerDevice(t, base, id);
  assert.equal((await createApproval(t, id, { message: 'Login' })).status, 200);
  const [shown] = await device.pendingApprovals();
  await device.approve(shown);
  assert.equal((await createApproval(t, id, { message: 'Still waiting', seconds_to_expire: 0 })).status, 200);
  return id;
}

test('finished records go after their retention, in batches; fresh ones and work in progress stay', async () => {
  const t = await startApp();
  const receiver = await new Receiver().start();
  cleanups.push(async () => (await t.close(), await receiver.close()));
  const base = await t.listen();
  const start = Date.now();
  await makeHistory(t, base, PHONES.us[0], receiver);
  await delivered(t, '+14155550142');
  await until('the callback was delivered', async () => (await t.of.services.hooks.list(t.appId)).some((d) => d.status === 'delivered'));
  await until('both messages were sent', async () => (await t.store.db.selectFrom('outbox').select('status').execute()).every((r) => r.status === 'sent'));

  const made = await counts(t);
  for (const table of TABLES) assert.ok(made[table] > 0, `${table} has rows`);
  assert.equal(made.approval_requests, 2);

  // Two rows per statement, so every table takes several batches.
  const retention = new Retention(t.store.db, quietLog, { deliveryDays: 90, auditDays: 365, batch: 2 });

  // Now: nothing is old.
  await retention.sweep(Date.now());
  assert.deepEqual(await counts(t), made);

  // A day later: spent codes and registration tokens are gone, nothing else.
  await retention.sweep(start + DAY + 15 * 60_000);
  assert.deepEqual(await counts(t), { ...made, sent_codes: 0, registration_tokens: 0 });

  // 89 days: the send guard's prefix windows are long gone; delivery records still here.
  await retention.sweep(start + 89 * DAY);
  const at89 = { ...made, sent_codes: 0, registration_tokens: 0, prefix_traffic: 0 };
  assert.deepEqual(await counts(t), at89);

  // 91 days: messages (with their attempts), callback deliveries (with theirs) and phone
  // verifications are gone; approval requests and activity, the audit trail, are kept.
  const dropped = await retention.sweep(start + 91 * DAY);
  assert.deepEqual(await counts(t), { ...at89, outbox: 0, delivery_attempts: 0, hook_deliveries: 0, hook_attempts: 0, phone_verifications: 0 });
  assert.equal(dropped.outbox, made.outbox);
  assert.equal(dropped.hook_deliveries, made.hook_deliveries);

  // 366 days: the answered request and the activity are gone; the request still pending stays.
  await retention.sweep(start + 366 * DAY);
  const left = await t.store.db.selectFrom('approval_requests').select(['message', 'status']).execute();
  assert.deepEqual(left, [{ message: 'Still waiting', status: 'pending' }]);
  assert.equal((await counts(t)).activities, 0);
});

test('messages and callbacks not yet sent stay however old; 0 days keeps everything', async () => {
  // No outbox worker: the messages stay queued. The customer's endpoint fails: the callback
  // stays pending, to be retried.
  const t = await startApp({ OPENFACTOR_OUTBOX_WORKER: 'off', OPENFACTOR_HOOK_RETRY_BASE_MS: '600000' });
  const receiver = await new Receiver().start();
  receiver.answer = () => 500;
  cleanups.push(async () => (await t.close(), await receiver.close()));
  const base = await t.listen();
  const start = Date.now();
  await makeHistory(t, base, PHONES.us[1], receiver);
  await until('the callback was tried', () => receiver.requests.length > 0);
  const made = await counts(t);
  assert.equal(made.delivery_attempts, 0);

  const forever = new Retention(t.store.db, quietLog, { deliveryDays: 0, auditDays: 0 });
  await forever.sweep(start + 1000 * DAY);
  assert.deepEqual(await counts(t), { ...made, sent_codes: 0, registration_tokens: 0, prefix_traffic: 0 });

  const retention = new Retention(t.store.db, quietLog, { deliveryDays: 90, auditDays: 365, batch: 2 });
  await retention.sweep(start + 1000 * DAY);
  const outbox = await t.store.db.selectFrom('outbox').select('status').execute();
  assert.equal(outbox.length, made.outbox);
  assert.ok(outbox.every((r) => r.status === 'queued'));
  assert.deepEqual((await t.store.db.selectFrom('hook_deliveries').select('status').execute()).map((r) => r.status), ['pending']);
  assert.equal((await counts(t)).hook_attempts, made.hook_attempts, 'with its attempts');
  assert.deepEqual((await t.store.db.selectFrom('approval_requests').select('status').execute()).map((r) => r.status), ['pending']);
  assert.equal((await counts(t)).phone_verifications, 0, 'a verification is a record, not work: it goes');
});

test('retention settings: 0 or 2 days and more', () => {
  const env = { ...testEnv({ url: 'sqlite::memory:', dataDir: '/tmp/openfactor-retention-config', drop: async () => {} }) };
  assert.equal(loadConfig(env).retentionDays, 90);
  assert.equal(loadConfig(env).auditRetentionDays, 365);
  assert.equal(loadConfig({ ...env, OPENFACTOR_RETENTION_DAYS: '0' }).retentionDays, 0);
  assert.throws(() => loadConfig({ ...env, OPENFACTOR_RETENTION_DAYS: '1' }), /OPENFACTOR_RETENTION_DAYS must be 0 \(keep forever\) or a number of days from 2 to 36500/);
  assert.throws(() => loadConfig({ ...env, OPENFACTOR_AUDIT_RETENTION_DAYS: 'a year' }), /OPENFACTOR_AUDIT_RETENTION_DAYS/);
});
