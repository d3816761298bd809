// Phone numbers and email addresses at rest (issue 15): after users are created, codes sent by
// SMS, call and email, a phone verification and a device registration by phone started, neither
// the database file (SQLite: its bytes, WAL included) nor any column of any table (both dialects)
// holds a number in any format or an address. Lookups by phone keep working, through a
// master-key rotation and after the old key is gone; rows stored before 0020 and 0021 are converted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sql, Migrator, type Kysely } from 'kysely';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { createTestDatabase, dialect, testEnv, type TestApp, type TestDatabase } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';
import { codeIn, delivered, spokenCode } from '../support/tokens.ts';
import { loadConfig } from '../../src/config.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { migrationProvider } from '../../src/store/migrations.ts';
import { buildServer } from '../../src/app.ts';
import { resealAll, sealedByKey } from '../../src/admin/reseal.ts';
import { masterKeyFrom, seal } from '../../src/core/crypto.ts';
import { Contacts, destinationContext, INDEX_KEY_CONTEXT } from '../../src/store/contacts.ts';
import { Applications } from '../../src/features/applications/service.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';

const [A, B] = [0, 1].map(() => randomBytes(32).toString('hex'));

const running = new Set<() => Promise<void>>();
async function boot(db: TestDatabase, current: string, previous: string[] = [], migrated = false) {
  const config = loadConfig({ ...testEnv(db), OPENFACTOR_MASTER_KEY: current, OPENFACTOR_PREVIOUS_MASTER_KEYS: previous.join(',') });
  const store = openStore(config.databaseUrl);
  if (!migrated) await migrate(store);
  return start(config, store);
}
async function start(config: ReturnType<typeof loadConfig>, store: Store) {
  const of = await buildServer(config, store);
  const t = { of, store, config } as unknown as TestApp;
  const close = async () => {
    running.delete(close);
    await of.close();
    await store.close();
  };
  running.add(close);
  return { t, close };
}

/** Every way a number may be written: E.164 with and without +, national digits, formatted. */
function forms(e164: string): string[] {
  const p = parsePhoneNumberFromString(e164)!;
  return [e164, e164.slice(1), p.nationalNumber, p.formatNational(), p.formatInternational(), p.formatNational().replace(/\D+/g, '-')].filter((f) => f.replace(/\D/g, '').length >= 7);
}

/** What a thief gets: every table's rows as text (a dump), and on SQLite the files' bytes too. */
async function stolen(db: TestDatabase, store: Store): Promise<string> {
  const k = store.db as Kysely<any>;
  const parts: string[] = [];
  if (dialect === 'sqlite') {
    const file = db.url.slice('sqlite:'.length);
    for (const f of [file, `${file}-wal`]) if (existsSync(f)) parts.push(readFileSync(f).toString('latin1'));
    const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(k);
    for (const { name } of tables.rows) parts.push(JSON.stringify((await sql`SELECT * FROM ${sql.table(name)}`.execute(k)).rows));
  } else {
    const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`.execute(k);
    for (const { table_name } of tables.rows) parts.push(JSON.stringify((await sql`SELECT row_to_json(t)::text AS r FROM ${sql.table(table_name)} t`.execute(k)).rows));
  }
  return parts.join('\n');
}

function assertNoContacts(dump: string, phones: string[], emails: string[]) {
  for (const e164 of phones) for (const f of forms(e164)) assert.ok(!dump.includes(f), `the stored data shows ${e164} as "${f}"`);
  for (const e of emails) {
    assert.ok(!dump.includes(e), `the stored data shows ${e}`);
    assert.ok(!dump.includes(e.split('@')[0]), `the stored data shows the local part of ${e}`);
  }
}

const PHONE = '+14155550182';
const OTHER = '+351912345678';
const VERIFIED = '+14155550183';
const EMAILS = ['ana.sealed@example.com', 'ana.second@example.com', 'rui.sealed@example.com'];

test('no number or address at rest; lookups by phone work through a key rotation and without the old key', async () => {
  const db = await createTestDatabase();
  try {
    const first = await boot(db, A);
    const { t } = first;
    const app = await t.of.services.applications.create('Sealed Bank');
    const key = app.apiKey;
    const newUser = (email: string, phone: string, cc = '1') => call(t.of.server, 'POST', '/protected/json/users/new', { key, form: userForm(email, phone, cc) });
    const ana = (await newUser(EMAILS[0], '415-555-0182')).json.user.id as number;
    assert.equal((await newUser(EMAILS[1], '(415) 555 0182')).json.user.id, ana, 'the same phone: the same user (an extra address kept)');
    const rui = (await newUser(EMAILS[2], '912345678', '351')).json.user.id as number;

    assert.equal((await call(t.of.server, 'GET', `/protected/json/sms/${ana}?force=true`, { key })).status, 200);
    const sms = await delivered(t, PHONE);
    const verified = await call(t.of.server, 'GET', `/protected/json/verify/${codeIn(sms.text, 7)}/${ana}?force=true`, { key });
    assert.equal(verified.json.token, 'is valid', 'a code sent by SMS verifies (the number is opened for the prefix statistics)');
    assert.equal((await call(t.of.server, 'GET', `/protected/json/call/${rui}?force=true`, { key })).status, 200);
    spokenCode((await delivered(t, OTHER)).text, 7);
    const mail = await call(t.of.server, 'POST', `/protected/json/email/${ana}`, { key });
    assert.equal(mail.json.email, EMAILS[0], 'the answer names the address');
    await delivered(t, EMAILS[0]);
    assert.equal((await call(t.of.server, 'POST', `/protected/json/users/${ana}/secret`, { key })).json.label, `Sealed Bank(${EMAILS[0]})`);
    assert.equal((await call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key, form: 'via=sms&phone_number=415-555-0183&country_code=1' })).status, 200);
    await delivered(t, VERIFIED);
    const base = await t.of.server.listen({ port: 0, host: '127.0.0.1' });
    await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: '415-555-0182', via: 'sms' });
    await delivered(t, PHONE, sms.id);

    // What the APIs show is as before: the address in status, masked numbers.
    const status = (await call(t.of.server, 'GET', `/protected/json/users/${ana}/status`, { key })).json.status;
    assert.equal(status.email, EMAILS[0]);
    assert.match(status.phone_number, /82$/);
    const admin = { authorization: `Bearer ${t.config.adminToken}` };
    const listed = (await call(t.of.server, 'GET', `/admin/applications/${app.id}/users`, { headers: admin })).json.users;
    assert.deepEqual(listed.map((u: any) => u.email).sort(), [EMAILS[0], EMAILS[2]].sort());

    assertNoContacts(await stolen(db, t.store), [PHONE, OTHER, VERIFIED], EMAILS);
    await first.close();

    // B current, A previous; sealed again with B; then B alone.
    const second = await boot(db, B, [A]);
    const reports = await resealAll(second.t.store.db, second.t.config.masterKeys);
    assert.equal(reports.reduce((n, r) => n + r.failed, 0), 0);
    assert.deepEqual(Object.keys(await sealedByKey(second.t.store.db)), [masterKeyFrom(Buffer.from(B, 'hex')).id]);
    await second.close();

    const third = await boot(db, B);
    const t3 = third.t;
    const again = await call(t3.of.server, 'POST', '/protected/json/users/new', { key, form: userForm('other@example.com', '415.555.0182') });
    assert.equal(again.json.user.id, ana, 'the user is still found by phone');
    assert.equal((await call(t3.of.server, 'GET', `/protected/json/users/${ana}/status`, { key })).json.status.email, EMAILS[0]);
    const base3 = await t3.of.server.listen({ port: 0, host: '127.0.0.1' });
    // The code goes out after the answer: wait for a message newer than the last one to PHONE.
    const last = (await delivered(t3, PHONE)).id;
    const reg = await OpenFactorDevice.startPhoneRegistration(base3, { countryCode: '1', phoneNumber: '415-555-0182', via: 'sms' });
    const device = await OpenFactorDevice.confirmPhoneRegistration(base3, reg.registrationId, codeIn((await delivered(t3, PHONE, last)).text, 6));
    assert.deepEqual(device.accounts.map((a) => a.authy_id), [ana], 'the device registration finds the user by phone');
    assert.equal((await call(t3.of.server, 'POST', '/protected/json/phones/verification/start', { key, form: 'via=sms&phone_number=415-555-0183&country_code=1' })).status, 200);
    const code = codeIn((await delivered(t3, VERIFIED)).text, 4);
    const checked = await call(t3.of.server, 'GET', '/protected/json/phones/verification/check', { key, form: `phone_number=415-555-0183&country_code=1&verification_code=${code}` });
    assert.equal(checked.status, 200, checked.text);
    assertNoContacts(await stolen(db, t3.store), [PHONE, OTHER, VERIFIED], [...EMAILS, 'other@example.com']);
  } finally {
    for (const close of running) await close();
    await db.drop();
  }
});

test('numbers and addresses stored before 0020 are sealed at the next start, and found as before', async () => {
  const db = await createTestDatabase();
  try {
    const config = loadConfig({ ...testEnv(db), OPENFACTOR_MASTER_KEY: A });
    const store = openStore(config.databaseUrl);
    const migrations = await migrationProvider(store.dialect).getMigrations();
    const before = Object.keys(migrations).filter((n) => n < '0020');
    const { error } = await new Migrator({ db: store.db, provider: { getMigrations: async () => Object.fromEntries(before.map((n) => [n, migrations[n]])) } }).migrateToLatest();
    assert.equal(error, undefined);
    // Rows as the code before 0020 wrote them.
    const k = store.db as Kysely<any>;
    const app = await k.insertInto('applications').values({ name: 'Old', api_key_hash: 'h', api_key_sealed: 'x', created_at: 1 }).returning('id').executeTakeFirstOrThrow();
    const user = await k.insertInto('users').values({ app_id: app.id, country_code: 1, phone_e164: PHONE, email: EMAILS[0], confirmed: 1, created_at: 1 }).returning('id').executeTakeFirstOrThrow();
    await k.insertInto('user_emails').values({ user_id: user.id, email: EMAILS[1], created_at: 2 }).execute();
    await k.insertInto('outbox').values({ sid: 'SM0', app_id: app.id, user_id: user.id, channel: 'sms', destination: PHONE, text_sealed: 'x', locale: 'en', status: 'blocked', next_attempt_at: 1, created_at: 1, updated_at: 1 }).execute();
    // …and one already sealed, in either format: left as it is, not sealed a second time.
    for (const [sid, writes] of [['SM1', 'v1'], ['SM2', 'v2']] as const) {
      const destination = seal(masterKeyFrom(config.masterKeys[0].key, writes), OTHER, destinationContext(sid));
      await k.insertInto('outbox').values({ sid, app_id: app.id, user_id: user.id, channel: 'sms', destination, text_sealed: 'x', locale: 'en', status: 'blocked', next_attempt_at: 1, created_at: 1, updated_at: 1 }).execute();
    }
    await k.insertInto('phone_verifications').values({ uuid: 'u-1', app_id: app.id, phone_e164: VERIFIED, via: 'sms', code_sealed: null, locale: 'en', status: 'dead', created_at: 1, expires_at: 2 }).execute();
    await k.insertInto('phone_registrations').values({ id: 'r-1', phone_e164: PHONE, via: 'sms', code_hash: null, created_at: 1, expires_at: 2 }).execute();
    await k.insertInto('device_keys').values({ algorithm: 'Ed25519', os_type: 'ios', name: 'x', registration_method: 'sms', phone_e164: OTHER, created_at: 1 }).execute();
    await k.insertInto('authenticators').values({ user_id: user.id, app_id: app.id, secret_sealed: 'x', label: EMAILS[0], issuer: 'Old', qr_token: 'q', qr_size: 256, qr_expires_at: 1, created_at: 1 }).execute();
    await k.insertInto('rate_limits').values({ key: `number-hour:${app.id}:${PHONE}`, points: 3, expire: Date.now() + 3_600_000 }).execute();
    await migrate(store);
    const { t } = await start(config, store);

    assertNoContacts(await stolen(db, t.store), [PHONE, OTHER, VERIFIED], EMAILS.slice(0, 2));
    const contacts = t.of.services.contacts;
    const row = await t.store.db.selectFrom('users').selectAll().where('phone_index', '=', contacts.phoneIndex(PHONE)).executeTakeFirstOrThrow();
    assert.equal(row.id, user.id, 'found by the index of its number');
    const { emailOf, emailsOf, phoneOf } = await import('../../src/features/users/queries.ts');
    assert.equal(phoneOf(contacts, row), PHONE);
    assert.equal(emailOf(contacts, row), EMAILS[0]);
    assert.deepEqual((await emailsOf(t.store.db, contacts, user.id)).map((e) => e.email), [EMAILS[1]]);
    const recent = await t.of.services.outbox.recent({ appId: app.id });
    assert.deepEqual(['SM0', 'SM1', 'SM2'].map((sid) => recent.find((m) => m.id === sid)?.destination), [PHONE, OTHER, OTHER]);
    const counter = await k.selectFrom('rate_limits').select('points').where('key', '=', `number-hour:${app.id}:${contacts.phoneIndex(PHONE)}`).executeTakeFirst();
    assert.equal(counter?.points, 3, 'the per-number count carries over under the index');
  } finally {
    for (const close of running) await close();
    await db.drop();
  }
});

test('users sealed under 0020 (number and address apart) are sealed as one value by 0021: found, shown and reached as before', async () => {
  const db = await createTestDatabase();
  try {
    const config = loadConfig({ ...testEnv(db), OPENFACTOR_MASTER_KEY: A });
    const store = openStore(config.databaseUrl);
    const migrations = await migrationProvider(store.dialect).getMigrations();
    const before = Object.keys(migrations).filter((n) => n < '0021');
    const { error } = await new Migrator({ db: store.db, provider: { getMigrations: async () => Object.fromEntries(before.map((n) => [n, migrations[n]])) } }).migrateToLatest();
    assert.equal(error, undefined);
    // Rows as the code of 0020 wrote them: its index key in meta, each value sealed on its own.
    const mk = config.masterKeys[0];
    const k = store.db as Kysely<any>;
    const indexKey = randomBytes(32);
    await k.insertInto('meta').values([
      { key: 'contact_index_key', value: seal(mk, indexKey, INDEX_KEY_CONTEXT) },
      { key: 'contacts_sealed', value: '1' },
    ]).execute();
    const contacts = new Contacts(config.masterKeys, indexKey);
    const app = await new Applications(store.db, mk).create('Upgraded Bank');
    const ids: number[] = [];
    for (const [phone, email] of [[PHONE, EMAILS[0]], [OTHER, EMAILS[2]]]) {
      const index = contacts.phoneIndex(phone);
      const old = (what: string) => `users:${app.id}:${index}:${what}`;
      const row = { app_id: app.id, country_code: phone === PHONE ? 1 : 351, phone_index: index, phone_sealed: seal(mk, phone, old('phone')), email_sealed: seal(mk, email, old('email')), confirmed: 1, created_at: 1 };
      ids.push((await k.insertInto('users').values(row).returning('id').executeTakeFirstOrThrow()).id);
    }
    const stored = await k.selectFrom('users').select(['id', 'phone_sealed', 'email_sealed']).orderBy('id').execute();

    // Without the master key the migration refuses, and nothing has changed.
    await assert.rejects(migrate(store), /needs the master key/);
    assert.deepEqual(await k.selectFrom('users').select(['id', 'phone_sealed', 'email_sealed']).orderBy('id').execute(), stored, 'the 0020 rows are untouched');

    assert.ok((await migrate(store, config.masterKeys)).includes('0021_user_contact'));
    const row = await k.selectFrom('users').selectAll().where('id', '=', ids[0]).executeTakeFirstOrThrow();
    assert.ok(!('phone_sealed' in row) && !('email_sealed' in row), 'the separate columns are gone');
    assert.match(row.contact_sealed, /^v2\./);

    const { t } = await start(config, store);
    const key = app.apiKey;
    const status = (await call(t.of.server, 'GET', `/protected/json/users/${ids[0]}/status`, { key })).json.status;
    assert.equal(status.email, EMAILS[0]);
    assert.equal(status.phone_number, 'XXX-XXX-0182');
    assert.equal((await call(t.of.server, 'GET', `/protected/json/users/${ids[1]}/status`, { key })).json.status.email, EMAILS[2]);
    const again = await call(t.of.server, 'POST', '/protected/json/users/new', { key, form: userForm('new.address@example.com', '415-555-0182') });
    assert.equal(again.json.user.id, ids[0], 'found by its number');
    assert.equal((await call(t.of.server, 'GET', `/protected/json/sms/${ids[1]}?force=true`, { key })).status, 200);
    codeIn((await delivered(t, OTHER)).text, 7);
    // A changed address keeps the number sealed beside it.
    assert.equal((await call(t.of.server, 'POST', `/protected/json/users/${ids[0]}/update`, { key, form: 'email=changed.ana%40example.com' })).status, 200);
    const changed = (await call(t.of.server, 'GET', `/protected/json/users/${ids[0]}/status`, { key })).json.status;
    assert.deepEqual([changed.email, changed.phone_number], ['changed.ana@example.com', 'XXX-XXX-0182']);
    assertNoContacts(await stolen(db, t.store), [PHONE, OTHER], [...EMAILS, 'new.address@example.com', 'changed.ana@example.com']);
  } finally {
    for (const close of running) await close();
    await db.drop();
  }
});
