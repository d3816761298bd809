// Master-key rotation without downtime: secrets sealed with key A keep working once B is the
// current key and A a previous one; `keys reseal` seals every one of them again with B (the
// server running); then A can go, and everything still works with B alone. Checked through the
// APIs a customer and a device use, and by reading which key seals each stored value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOTP, Secret } from 'otpauth';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, testEnv, type TestDatabase } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { until } from '../support/wait.ts';
import { runCli } from '../support/process.ts';
import { appToken, codeIn, delivered, verifyUrl } from '../support/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { masterKeyFrom, unseal } from '../../src/core/crypto.ts';
import { adminSeedContext } from '../../src/admin/accounts.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { buildServer } from '../../src/app.ts';
import { verifyClient } from '../support/verify.ts';
import { resealAll, sealedByFormat, sealedByKey, SEALED_COLUMNS } from '../../src/admin/reseal.ts';
import { writeAppProviders } from '../../src/delivery/routing.ts';
import { MemoryStorage, OpenFactorDevice } from '../../sdk/device/src/index.ts';
import type { Kysely } from 'kysely';
import type { TestApp } from '../support/harness.ts';

const [A, B, C] = [0, 1, 2].map(() => randomBytes(32).toString('hex'));
const idOf = (hex: string) => masterKeyFrom(Buffer.from(hex, 'hex')).id;

/** OpenFactor on `db` with these keys, shaped like the harness's test app for its helpers. */
async function boot(db: TestDatabase, current: string, previous: string[] = [], more: Record<string, string> = {}) {
  const env = { ...testEnv(db), OPENFACTOR_MASTER_KEY: current, OPENFACTOR_PREVIOUS_MASTER_KEYS: previous.join(','), ...more };
  const config = loadConfig(env);
  const store = openStore(config.databaseUrl);
  await migrate(store);
  const of = await buildServer(config, store);
  const t = { of, store, config, db } as unknown as TestApp;
  const close = async () => {
    running.delete(close);
    await of.close();
    await store.close();
  };
  running.add(close);
  return { t, env, close };
}
/** Servers still open when an assertion fails: closed so that the test ends. */
const running = new Set<() => Promise<void>>();

/**
 * One of every kind of sealed secret, written through the APIs by the server of `t`; checks that
 * every sealed column but a browser's push subscription holds a value and that the list is whole.
 */
async function sealOneOfEach(t: TestApp) {
  const app = await t.of.services.applications.create('Bank');
  const key = app.apiKey;
  await t.of.services.applications.rotateDashboardKeys(app.id);
  await t.of.services.applications.updateSettings(app.id, { smsFallbackToVoice: true }); // a fallback text is sealed too
  const user = (await call(t.of.server, 'POST', '/protected/json/users/new', { key, form: 'user[email]=ana@example.com&user[cellphone]=415-555-0142&user[country_code]=1' })).json.user.id as number;
  // The same phone with another address: kept as an extra address (sealed too).
  assert.equal((await call(t.of.server, 'POST', '/protected/json/users/new', { key, form: 'user[email]=ana2@example.com&user[cellphone]=415-555-0142&user[country_code]=1' })).json.user.id, user);
  assert.equal((await call(t.of.server, 'GET', `/protected/json/sms/${user}?force=true`, { key })).status, 200);
  const firstSms = await delivered(t, '+14155550142');
  assert.equal((await call(t.of.server, 'POST', `/protected/json/users/${user}/secret`, { key })).status, 200);
  assert.equal((await call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key, form: 'via=sms&phone_number=415-555-0143&country_code=1' })).status, 200);
  const webhook = await t.of.services.webhooks.create((await t.of.services.applications.find(app.id))!, { name: 'audit', url: 'http://127.0.0.1:9/hook', events: ['user_added'] });
  assert.equal(webhook.ok, true);
  await writeAppProviders(t.store.db, t.config.masterKeys, app.id, 'sms', 'console:', t.of.server.log);
  const base = await t.of.server.listen({ port: 0, host: '127.0.0.1' });
  await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: '415-555-0142', via: 'sms' }); // its number, sealed
  await delivered(t, '+14155550142', firstSms.id);
  const token = (await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key, form: `authy_id=${user}` })).json.registration_token;
  const storage = new MemoryStorage();
  const device = await OpenFactorDevice.registerWithToken(base, token, { osType: 'android', storage });
  await device.requestPhoneChange({ countryCode: '1', phoneNumber: '415-555-0144', via: 'sms' }); // the new number, sealed
  // A phone change without any device: both numbers sealed, after the answer.
  await OpenFactorDevice.startAccountRecovery(base, { countryCode: '1', phoneNumber: '415-555-0142', via: 'sms', newNumber: { countryCode: '1', phoneNumber: '415-555-0145' } });
  await until('the account recovery stored', async () => (await t.store.db.selectFrom('account_recoveries').select('id').execute()).length === 1, 5000);
  // Twilio Verify v2: an account's auth token, a verification's code and its destination.
  const verifyAccount = await t.of.services.verifyCredentials.createAccount('Rotated');
  const twilioClient = verifyClient(base, verifyAccount.sid, verifyAccount.authToken);
  const va = (await twilioClient.verify.v2.services.create({ friendlyName: 'Rotated' })).sid;
  await twilioClient.verify.v2.services(va).verifications.create({ to: '+14155550146', channel: 'sms' });
  // …and a TOTP factor's secret (0033).
  const totpFactor = await twilioClient.verify.v2.services(va).entities('rotated-user').newFactors.create({ friendlyName: 'Phone', factorType: 'totp' });
  const totpSecret = (totpFactor.binding as { secret: string }).secret;
  // …and an administrator's authenticator (0037).
  const administrator = await t.of.services.adminAccounts.add({ email: 'rot@example.com', password: 'a long enough password', role: 'owner' });
  assert.equal(administrator.ok, true);
  const adminSeed = administrator.ok ? new URL(administrator.otpauth).searchParams.get('secret')! : '';
  // Every sealed column but the device's push subscription (a browser's) now holds a value.
  const empty: string[] = [];
  for (const c of SEALED_COLUMNS) {
    const rows = await (t.store.db as Kysely<any>).selectFrom(c.table).select(c.column).where(c.column, 'is not', null).execute();
    if (rows.length === 0) empty.push(`${c.table}.${c.column}`);
  }
  assert.deepEqual(empty, ['device_keys.push_subscription_sealed']);
  // …and the list is whole: every `*_sealed` column of the schema is on it.
  const inSchema = (await t.store.db.introspection.getTables()).flatMap((tb) => tb.columns.filter((c) => c.name.endsWith('_sealed')).map((c) => `${tb.name}.${c.name}`));
  const listed = SEALED_COLUMNS.map((c) => `${c.table}.${c.column}`);
  assert.deepEqual(inSchema.filter((c) => !listed.includes(c)), [], 'sealed columns rotation would leave behind');
  return { app, key, user, storage, verifyAccount, va, totpFactor, totpSecret, adminSeed };
}

test('sealed with A, opened with B current and A previous, sealed again with B, then A dropped', async () => {
  const db = await createTestDatabase();
  try {
    // Key A: one of every kind of sealed secret.
    const first = await boot(db, A);
    const { t } = first;
    const { app, key, user, storage, verifyAccount, va, totpFactor, totpSecret, adminSeed } = await sealOneOfEach(t);
    const sealedWithA = await sealedByKey(t.store.db);
    await first.close();
    assert.deepEqual(Object.keys(sealedWithA), [idOf(A)]);

    // Key B current, A previous: every secret sealed with A still opens.
    const second = await boot(db, B, [A]);
    const t2 = second.t;
    assert.equal((await call(t2.of.server, 'GET', '/protected/json/app/details', { key })).status, 200, 'the API key (looked up by hash) and the app');
    const v = await call(t2.of.server, 'GET', verifyUrl(await appToken(t2, user), user, '?force=true'), { key });
    assert.equal(v.status, 200, `the TOTP seed: ${v.text}`);
    // The device's key checks its signed call; the account it gets carries the seed.
    const base2 = await t2.of.server.listen({ port: 0, host: '127.0.0.1' });
    await storage.save({ ...(await storage.load())!, baseUrl: base2 });
    const accounts = await (await OpenFactorDevice.restore(storage))!.refreshAccounts();
    assert.deepEqual(accounts.map((a) => a.authy_id), [user]);
    const code = codeIn((await delivered(t2, '+14155550143')).text, 4);
    const checked = await call(t2.of.server, 'GET', '/protected/json/phones/verification/check', { key, form: `phone_number=415-555-0143&country_code=1&verification_code=${code}` });
    assert.equal(checked.status, 200, `the phone verification's code: ${checked.text}`);
    assert.equal(await t2.of.services.verifyCredentials.authToken(verifyAccount.sid), verifyAccount.authToken, 'the Verify auth token');
    const verifyCode = codeIn((await delivered(t2, '+14155550146')).text, 6);
    const verifyCheck = await verifyClient(base2, verifyAccount.sid, verifyAccount.authToken).verify.v2.services(va).verificationChecks.create({ to: '+14155550146', code: verifyCode });
    assert.equal(verifyCheck.status, 'approved', 'the Verify code and destination');
    const totpNow = HOTP.generate({ secret: Secret.fromBase32(totpSecret), counter: Math.floor(Date.now() / 30_000) });
    const verifiedFactor = await verifyClient(base2, verifyAccount.sid, verifyAccount.authToken).verify.v2.services(va).entities('rotated-user').factors(totpFactor.sid).update({ authPayload: totpNow });
    assert.equal(verifiedFactor.status, 'verified', 'the Verify TOTP factor secret');

    // Sealed again with B while this server runs.
    // (The verified code is gone: its value was cleared, not sealed again.)
    const before = await sealedByKey(t2.store.db);
    const reports = await resealAll(t2.store.db, t2.config.masterKeys);
    assert.equal(reports.reduce((n, r) => n + r.failed, 0), 0);
    assert.equal(reports.reduce((n, r) => n + r.resealed, 0), before[idOf(A)]);
    const after = await sealedByKey(t2.store.db);
    assert.deepEqual(Object.keys(after), [idOf(B)], 'no value is sealed with A any more');
    assert.equal(after[idOf(B)], before[idOf(A)] + (before[idOf(B)] ?? 0));
    await second.close();

    // B alone.
    const third = await boot(db, B);
    const t3 = third.t;
    try {
      assert.equal((await call(t3.of.server, 'GET', '/protected/json/app/details', { key })).status, 200);
      const v3 = await call(t3.of.server, 'GET', verifyUrl(await appToken(t3, user, 7, 1), user, '?force=true'), { key });
      assert.equal(v3.status, 200, v3.text);
      const list = await t3.of.services.webhooks.list((await t3.of.services.applications.find(app.id))!);
      assert.equal(list.ok, true, 'the webhook signing key opens');
      assert.equal((await t3.of.services.applications.apiKeyOf(app.id)), key);
      // Numbers and addresses: the user is found by phone, its address opens.
      const same = await call(t3.of.server, 'POST', '/protected/json/users/new', { key, form: 'user[email]=ana3@example.com&user[cellphone]=415.555.0142&user[country_code]=1' });
      assert.equal(same.json.user.id, user, 'found by the blind index of its phone');
      assert.equal((await call(t3.of.server, 'GET', `/protected/json/users/${user}/status`, { key })).json.status.email, 'ana@example.com');
      assert.deepEqual((await resealAll(t3.store.db, t3.config.masterKeys)).filter((r) => r.resealed || r.failed), []);
      // The administrator's authenticator opens with B alone: their codes still sign in.
      const row = await t3.store.db.selectFrom('admin_accounts').select('totp_seed_sealed').where('email', '=', 'rot@example.com').executeTakeFirstOrThrow();
      assert.equal(Secret.fromBase32(adminSeed).base32, new Secret({ buffer: new Uint8Array(unseal(t3.config.masterKeys, row.totp_seed_sealed, adminSeedContext('rot@example.com'))).buffer }).base32);
    } finally {
      await third.close();
    }

    // Without the key that sealed them, nothing opens: the CLI says so and exits 1.
    const cli = runCli(['keys', 'reseal', '--json'], { ...testEnv(db), OPENFACTOR_MASTER_KEY: C });
    assert.equal(cli.status, 1);
    const summary = JSON.parse(cli.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.key, idOf(C));
    assert.ok(summary.failed > 0);
    assert.deepEqual(Object.keys(summary.others), [idOf(B)]);
  } finally {
    for (const close of running) await close();
    await db.drop();
  }
});

test('a rolling upgrade of the sealed format: v1 values open where v2 is written, and keys reseal moves them to v2 under the same key', async () => {
  const db = await createTestDatabase();
  try {
    // A node of the release before v2 (or one told OPENFACTOR_SEAL_FORMAT=v1 during the upgrade).
    const old = await boot(db, A, [], { OPENFACTOR_SEAL_FORMAT: 'v1' });
    const { app, key, user, storage, verifyAccount, va, totpFactor, totpSecret, adminSeed } = await sealOneOfEach(old.t);
    assert.deepEqual(Object.keys(await sealedByFormat(old.t.store.db)), ['v1'], 'every value written as v1');
    await old.close();

    // The new release with the same key: what v1 sealed opens, and what it writes now is v2.
    const upgraded = await boot(db, A);
    const t = upgraded.t;
    const base = await t.of.server.listen({ port: 0, host: '127.0.0.1' });
    const opensEverything = async (when: string, step: number) => {
      assert.equal((await call(t.of.server, 'GET', '/protected/json/app/details', { key })).status, 200, `${when}: the API key`);
      assert.equal(await t.of.services.applications.apiKeyOf(app.id), key, `${when}: the sealed API key`);
      const v = await call(t.of.server, 'GET', verifyUrl(await appToken(t, user, 7, step), user, '?force=true'), { key });
      assert.equal(v.status, 200, `${when}: the TOTP seed: ${v.text}`);
      assert.equal((await call(t.of.server, 'GET', `/protected/json/users/${user}/status`, { key })).json.status.email, 'ana@example.com', `${when}: the contact`);
      assert.equal((await t.of.services.webhooks.list((await t.of.services.applications.find(app.id))!)).ok, true, `${when}: the webhook signing key`);
      assert.equal(await t.of.services.verifyCredentials.authToken(verifyAccount.sid), verifyAccount.authToken, `${when}: the Verify auth token`);
      const row = await t.store.db.selectFrom('admin_accounts').select('totp_seed_sealed').where('email', '=', 'rot@example.com').executeTakeFirstOrThrow();
      assert.equal(new Secret({ buffer: new Uint8Array(unseal(t.config.masterKeys, row.totp_seed_sealed, adminSeedContext('rot@example.com'))).buffer }).base32, Secret.fromBase32(adminSeed).base32, `${when}: the administrator's seed`);
      await storage.save({ ...(await storage.load())!, baseUrl: base });
      assert.deepEqual((await (await OpenFactorDevice.restore(storage))!.refreshAccounts()).map((a) => a.authy_id), [user], `${when}: the device key`);
      const totpNow = HOTP.generate({ secret: Secret.fromBase32(totpSecret), counter: Math.floor(Date.now() / 30_000) });
      const factor = await verifyClient(base, verifyAccount.sid, verifyAccount.authToken).verify.v2.services(va).entities('rotated-user').factors(totpFactor.sid).update({ authPayload: totpNow });
      assert.equal(factor.status, 'verified', `${when}: the Verify TOTP factor secret`);
    };
    await opensEverything('v1 values on the new release', 0);
    const code = codeIn((await delivered(t, '+14155550143')).text, 4);
    const checked = await call(t.of.server, 'GET', '/protected/json/phones/verification/check', { key, form: `phone_number=415-555-0143&country_code=1&verification_code=${code}` });
    assert.equal(checked.status, 200, `the phone verification's code, sealed as v1: ${checked.text}`);
    const verifyCode = codeIn((await delivered(t, '+14155550146')).text, 6);
    const verifyCheck = await verifyClient(base, verifyAccount.sid, verifyAccount.authToken).verify.v2.services(va).verificationChecks.create({ to: '+14155550146', code: verifyCode });
    assert.equal(verifyCheck.status, 'approved', 'the Verify code and destination, sealed as v1');
    const bob = await call(t.of.server, 'POST', '/protected/json/users/new', { key, form: 'user[email]=bob@example.com&user[cellphone]=415-555-0150&user[country_code]=1' });
    assert.equal(bob.status, 200);
    const stored = await t.store.db.selectFrom('users').select('contact_sealed').where('id', '=', bob.json.user.id).executeTakeFirstOrThrow();
    assert.match(stored.contact_sealed, new RegExp(`^v2\\.${idOf(A)}\\.`), 'a new value is sealed as v2');

    // keys reseal, server running: every v1 value sealed again as v2, with the same key.
    const before = await sealedByFormat(t.store.db);
    assert.ok(before.v1 > 0 && before.v2 > 0, JSON.stringify(before));
    const reports = await resealAll(t.store.db, t.config.masterKeys);
    assert.equal(reports.reduce((n, r) => n + r.failed, 0), 0);
    assert.equal(reports.reduce((n, r) => n + r.resealed, 0), before.v1);
    assert.deepEqual(await sealedByFormat(t.store.db), { v2: before.v1 + before.v2 });
    assert.deepEqual(Object.keys(await sealedByKey(t.store.db)), [idOf(A)], 'the key is unchanged');
    await opensEverything('after keys reseal', 1);
    assert.deepEqual((await resealAll(t.store.db, t.config.masterKeys)).filter((r) => r.resealed || r.failed), [], 'nothing left to reseal');
  } finally {
    for (const close of running) await close();
    await db.drop();
  }
});

test('the sealed format: v2 unless OPENFACTOR_SEAL_FORMAT says v1; anything else stops the start', () => {
  const env = { OPENFACTOR_DATA_DIR: '/nonexistent', OPENFACTOR_MASTER_KEY: A, OPENFACTOR_ADMIN_TOKEN: 'x'.repeat(32), DATABASE_URL: 'sqlite::memory:' };
  assert.equal(loadConfig(env).masterKeys[0].writes, 'v2');
  assert.equal(loadConfig({ ...env, OPENFACTOR_SEAL_FORMAT: 'v1' }).masterKeys[0].writes, 'v1');
  assert.equal(loadConfig({ ...env, OPENFACTOR_SEAL_FORMAT: ' v2 ' }).masterKeys[0].writes, 'v2');
  assert.throws(() => loadConfig({ ...env, OPENFACTOR_SEAL_FORMAT: 'aes' }), /OPENFACTOR_SEAL_FORMAT must be v2 or v1, not aes/);
});

test('previous keys: a bad one stops the start with its place in the list; duplicates and the current key are dropped', async () => {
  const db = await createTestDatabase();
  try {
    const env = { ...testEnv(db), OPENFACTOR_MASTER_KEY: B };
    assert.throws(() => loadConfig({ ...env, OPENFACTOR_PREVIOUS_MASTER_KEYS: `${A},nope` }), /OPENFACTOR_PREVIOUS_MASTER_KEYS: key 2 must be 32 bytes/);
    const keys = loadConfig({ ...env, OPENFACTOR_PREVIOUS_MASTER_KEYS: ` ${A}, ${B},${A},` }).masterKeys.map((k) => k.id);
    assert.deepEqual(keys, [idOf(B), idOf(A)]);
  } finally {
    await db.drop();
  }
});
