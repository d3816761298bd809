// Verify v2 credentials and services through the official twilio client: accounts and API keys,
// 401/20003, services created, read, changed, paged and deleted, each account seeing only its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { newAccount, raw, restError, verifyClient, type VerifyAccountMade, type Twilio } from '../support/verify.ts';
import { unseal } from '../../src/core/crypto.ts';
import { authTokenContext } from '../../src/features/verify/credentials.ts';

let t: TestApp;
let base: string;
let acme: VerifyAccountMade;
let client: Twilio;

before(async () => {
  t = await startApp();
  base = await t.listen();
  acme = await newAccount(t);
  client = verifyClient(base, acme.sid, acme.authToken);
});
after(() => t?.close());

test('an account and its API keys authenticate; the auth token is sealed at rest, the key secret only hashed', async () => {
  assert.match(acme.sid, /^AC[0-9a-f]{32}$/);
  assert.match(acme.authToken, /^[0-9a-f]{32}$/);
  const key = (await t.of.services.verifyCredentials.createKey(acme.sid, 'backend'))!;
  assert.match(key.sid, /^SK[0-9a-f]{32}$/);
  const byKey = verifyClient(base, key.sid, key.secret, acme.sid);
  const made = await byKey.verify.v2.services.create({ friendlyName: 'By key' });
  assert.equal(made.accountSid, acme.sid);

  const row = await t.store.db.selectFrom('verify_accounts').selectAll().where('sid', '=', acme.sid).executeTakeFirstOrThrow();
  assert.ok(!JSON.stringify(row).includes(acme.authToken), 'no plain auth token in the row');
  assert.equal(unseal(t.config.masterKeys, row.auth_token_sealed, authTokenContext(acme.sid)).toString(), acme.authToken);
  assert.equal(await t.of.services.verifyCredentials.authToken(acme.sid), acme.authToken);
  const keyRow = await t.store.db.selectFrom('verify_keys').selectAll().where('sid', '=', key.sid).executeTakeFirstOrThrow();
  assert.ok(!JSON.stringify(keyRow).includes(key.secret));
});

test('wrong or missing credentials: 401, 20003, Basic realm', async () => {
  for (const auth of [undefined, { user: acme.sid, password: 'f'.repeat(32) }, { user: 'AC' + '0'.repeat(32), password: acme.authToken }, { user: 'SK' + '0'.repeat(32), password: 'x' }]) {
    const r = await raw(base, 'GET', '/v2/Services', auth);
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="Twilio API"');
  }
  const e = await restError(verifyClient(base, acme.sid, 'wrong').verify.v2.services.list());
  assert.equal(e.status, 401);
  assert.equal(e.code, 20003);
  assert.equal(e.moreInfo, 'https://www.twilio.com/docs/errors/20003');
});

test('a service: create (201) with every setting, fetch, update, and its application', async () => {
  const s = await client.verify.v2.services.create({
    friendlyName: 'My App',
    codeLength: 8,
    lookupEnabled: true,
    skipSmsToLandlines: true,
    dtmfInputRequired: true,
    ttsName: 'Acme voice',
    doNotShareWarningEnabled: true,
    customCodeEnabled: true,
    psd2Enabled: true,
    defaultTemplateSid: 'HJ' + 'a'.repeat(32),
    'push.includeDate': true,
    'totp.issuer': 'Acme',
    'totp.timeStep': 60,
    'totp.codeLength': 8,
    'totp.skew': 2,
  });
  assert.match(s.sid, /^VA[0-9a-f]{32}$/);
  assert.equal(s.friendlyName, 'My App');
  assert.equal(s.codeLength, 8);
  assert.equal(s.lookupEnabled, true);
  assert.equal(s.skipSmsToLandlines, true);
  assert.equal(s.dtmfInputRequired, true);
  assert.equal(s.ttsName, 'Acme voice');
  assert.equal(s.doNotShareWarningEnabled, true);
  assert.equal(s.customCodeEnabled, true);
  assert.equal(s.psd2Enabled, true);
  assert.equal(s.defaultTemplateSid, 'HJ' + 'a'.repeat(32));
  assert.deepEqual(s.push, { include_date: true, apn_credential_sid: null, fcm_credential_sid: null });
  assert.deepEqual(s.totp, { issuer: 'Acme', time_step: 60, code_length: 8, skew: 2 });
  assert.equal(s.url, `${base}/v2/Services/${s.sid}`);
  assert.equal(s.links.verifications, `${base}/v2/Services/${s.sid}/Verifications`);
  assert.ok(s.dateCreated instanceof Date && !Number.isNaN(s.dateCreated.getTime()));

  // The application behind it, named after it.
  const apps = await t.of.services.applications.list();
  assert.ok(apps.some((a) => a.name === `My App (${s.sid})`));

  const fetched = await client.verify.v2.services(s.sid).fetch();
  assert.deepEqual(fetched.toJSON(), s.toJSON());

  const changed = await client.verify.v2.services(s.sid).update({ friendlyName: 'Renamed', codeLength: 4, 'totp.skew': 0, lookupEnabled: false });
  assert.equal(changed.friendlyName, 'Renamed');
  assert.equal(changed.codeLength, 4);
  assert.equal(changed.totp.skew, 0);
  assert.equal(changed.totp.issuer, 'Acme');
  assert.equal(changed.lookupEnabled, false);
  assert.equal(changed.customCodeEnabled, true, 'what is not given stays');
  assert.ok((await t.of.services.applications.list()).some((a) => a.name === `Renamed (${s.sid})`));
});

test('bad service parameters: 400, 60200, nothing stored', async () => {
  const before = (await client.verify.v2.services.list()).length;
  for (const opts of [{ friendlyName: '' }, { friendlyName: 'x'.repeat(33) }, { friendlyName: 'ok', codeLength: 3 }, { friendlyName: 'ok', codeLength: 11 }, { friendlyName: 'ok', 'totp.timeStep': 10 }, { friendlyName: 'ok', 'totp.skew': 3 }, { friendlyName: 'ok', defaultTemplateSid: 'nope' }]) {
    const e = await restError(client.verify.v2.services.create(opts as any));
    assert.equal(e.status, 400, JSON.stringify(opts));
    assert.equal(e.code, 60200);
    assert.match(e.message, /^Invalid parameter: \w/);
  }
  assert.equal((await client.verify.v2.services.list()).length, before);
});

test('lists page with PageSize and follow next_page_url (our own host)', async () => {
  const other = await newAccount(t, 'Pager');
  const c = verifyClient(base, other.sid, other.authToken);
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await c.verify.v2.services.create({ friendlyName: `S${i}` })).sid);
  const page = await c.verify.v2.services.page({ pageSize: 2 });
  assert.equal(page.instances.length, 2);
  assert.match(page.nextPageUrl!, new RegExp(`^${base}/v2/Services\\?PageSize=2&Page=1&PageToken=PT\\d+$`));
  const all = await c.verify.v2.services.list({ pageSize: 2 });
  assert.deepEqual(all.map((s) => s.sid), made);
  const limited = await c.verify.v2.services.list({ limit: 3 });
  assert.equal(limited.length, 3);
  const r = await raw(base, 'GET', '/v2/Services?PageSize=2', { user: other.sid, password: other.authToken });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json.meta).sort(), ['first_page_url', 'key', 'next_page_url', 'page', 'page_size', 'previous_page_url', 'url']);
  assert.equal(r.json.meta.key, 'services');
});

test("accounts are isolated: another account's service is unknown everywhere", async () => {
  const mine = await client.verify.v2.services.create({ friendlyName: 'Mine' });
  const eve = await newAccount(t, 'Eve');
  const evil = verifyClient(base, eve.sid, eve.authToken);
  assert.equal((await evil.verify.v2.services.list()).length, 0);
  for (const call of [
    () => evil.verify.v2.services(mine.sid).fetch(),
    () => evil.verify.v2.services(mine.sid).update({ friendlyName: 'pwned' }),
    () => evil.verify.v2.services(mine.sid).remove(),
    () => evil.verify.v2.services(mine.sid).verifications.create({ to: '+14155550142', channel: 'sms' }),
    () => evil.verify.v2.services(mine.sid).verificationChecks.create({ to: '+14155550142', code: '123456' }),
  ]) {
    const e = await restError(call());
    assert.equal(e.status, 404);
    assert.equal(e.code, 20404);
  }
  assert.equal((await client.verify.v2.services(mine.sid).fetch()).friendlyName, 'Mine');
});

test('delete: 204, then 404; its application and data are gone', async () => {
  const s = await client.verify.v2.services.create({ friendlyName: 'Doomed' });
  await client.verify.v2.services(s.sid).verifications.create({ to: '+14155550143', channel: 'sms' });
  const checked = await client.verify.v2.services(s.sid).verificationChecks.create({ to: '+14155550143', code: '0000000' }).catch((e) => e);
  assert.equal(checked.status, 'pending', 'a check before (the server now knows the service)');
  const appName = `Doomed (${s.sid})`;
  assert.ok((await t.of.services.applications.list()).some((a) => a.name === appName));
  assert.equal(await client.verify.v2.services(s.sid).remove(), true);
  const e = await restError(client.verify.v2.services(s.sid).fetch());
  assert.equal(e.code, 20404);
  assert.equal(e.message, `The requested resource /Services/${s.sid} was not found`);
  const after = await restError(client.verify.v2.services(s.sid).verificationChecks.create({ to: '+14155550143', code: '0000000' }));
  assert.equal(after.status, 404, 'a check after: the service and its verifications are gone');
  assert.equal(after.code, 20404);
  assert.ok(!(await t.of.services.applications.list()).some((a) => a.name === appName));
  const left = await t.store.db.selectFrom('verify_verifications').select('id').where('service_id', 'in', t.store.db.selectFrom('verify_services').select('id').where('sid', '=', s.sid)).execute();
  assert.equal(left.length, 0);
  const raw204 = await raw(base, 'DELETE', `/v2/Services/${(await client.verify.v2.services.create({ friendlyName: 'D2' })).sid}`, { user: acme.sid, password: acme.authToken });
  assert.equal(raw204.status, 204);
  assert.equal(raw204.text, '');
});

test('/openapi.json describes the Verify routes under the verify-v2 tag', async () => {
  const spec = (await t.of.server.inject('/openapi.json')).json();
  const ops = Object.entries(spec.paths as Record<string, Record<string, { tags?: string[] }>>).filter(([p]) => p.startsWith('/v2/'));
  assert.ok(ops.length >= 8);
  for (const [, methods] of ops) for (const op of Object.values(methods)) assert.deepEqual(op.tags, ['verify-v2']);
});
