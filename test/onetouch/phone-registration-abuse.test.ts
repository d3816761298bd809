// Device registration by phone is unauthenticated: its answer must not tell whether a number
// belongs to a user (not by its body, not by its time), and a caller must not be able to make
// OpenFactor store rows or send codes at will.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import pg from 'pg';
import { dialect, startApp, type TestApp } from '../support/harness.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';

let t: TestApp;
before(async () => {
  t = await startApp({ OPENFACTOR_DEVICE_REGISTRATIONS_PER_ADDRESS: '5', OPENFACTOR_DEVICE_REGISTRATIONS_PER_HOUR: '40' });
});
after(() => t.close());

let nextAddress = 1;
/** A client address of its own for each caller (its allowance is per address). */
const freshAddress = () => `198.51.100.${nextAddress++}`;

const start = async (phoneNumber: string, remoteAddress = freshAddress(), via = 'sms') => {
  const res = await t.of.server.inject({
    method: 'POST',
    url: '/device/v1/phone_registrations',
    remoteAddress,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ country_code: '1', phone_number: phoneNumber, via }),
  });
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(res.body) };
};

const count = async (table: 'phone_registrations' | 'outbox') =>
  Number((await t.store.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

test('a registered and an unknown number get the same answer, given before the number is looked up', async () => {
  await createUser(t, 'known@example.com', '415-555-0101');
  const rows = await count('phone_registrations');
  const messages = await count('outbox');
  const devices = t.of.services.devices;
  const held: (() => void)[] = [];
  devices.defer = (go) => held.push(go);
  let known: Awaited<ReturnType<typeof start>>;
  let unknown: Awaited<ReturnType<typeof start>>;
  try {
    known = await start('415-555-0101');
    unknown = await start('415-555-0102');
    // Both answered while the work behind them had not started: nothing looked up, stored or sent.
    assert.equal(held.length, 2, 'the work of both requests is still waiting');
    assert.equal(await count('phone_registrations'), rows);
    assert.equal(await count('outbox'), messages);
  } finally {
    devices.defer = (go) => setImmediate(go);
    for (const go of held) go();
  }
  assert.equal(known.status, 200);
  assert.equal(unknown.status, known.status);
  const { date: _d1, ...knownHeaders } = known.headers;
  const { date: _d2, ...unknownHeaders } = unknown.headers;
  assert.deepEqual(unknownHeaders, knownHeaders);
  assert.deepEqual({ ...unknown.json, registration_id: 'x' }, { ...known.json, registration_id: 'x' });
  assert.match(unknown.json.registration_id, /^[0-9a-f-]{36}$/);
  assert.match(known.json.registration_id, /^[0-9a-f-]{36}$/);

  // Then the work: a code to the registered number only, one row (its registration).
  await devices.settled();
  assert.equal(codeIn((await delivered(t, '+14155550101')).text, 6).length, 6);
  assert.equal(await count('outbox'), messages + 1);
  assert.equal(await count('phone_registrations'), rows + 1);
});

test('PostgreSQL: the answer comes while the users table cannot be read at all', { skip: dialect !== 'postgres' && 'a table lock that blocks readers is PostgreSQL' }, async () => {
  await createUser(t, 'locked@example.com', '415-555-0103');
  const lock = new pg.Client({ connectionString: t.db.url });
  await lock.connect();
  let locked = true;
  const unlock = async () => {
    if (!locked) return;
    locked = false;
    await lock.query('COMMIT');
  };
  // A generous bound: without it a server that waits for the lookup would wait forever.
  const timer = setTimeout(() => void unlock(), 20_000);
  try {
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
    const r = await start('415-555-0103');
    const answeredWhileLocked = locked;
    assert.equal(r.status, 200);
    assert.ok(answeredWhileLocked, 'the answer waited for the lookup of the number');
  } finally {
    clearTimeout(timer);
    await unlock();
    await lock.end();
  }
  await t.of.services.devices.settled();
  await delivered(t, '+14155550103');
});

test('an unknown number makes OpenFactor store nothing; a registered one at most its hourly allowance', async () => {
  const rows = await count('phone_registrations');
  const messages = await count('outbox');
  for (let i = 0; i < 8; i++) assert.equal((await start(`415-555-02${10 + i}`)).status, 200);
  await t.of.services.devices.settled();
  assert.equal(await count('phone_registrations'), rows, 'no row for a number no application knows');
  assert.equal(await count('outbox'), messages);

  await createUser(t, 'often@example.com', '415-555-0104');
  for (let i = 0; i < 8; i++) assert.equal((await start('415-555-0104')).status, 200);
  await t.of.services.devices.settled();
  assert.equal(await count('phone_registrations'), rows + 5, 'five registrations an hour for one number, then none');
  assert.equal(await count('outbox'), messages + 5);
});

test('work that fails after the answer is logged, not thrown', async () => {
  await createUser(t, 'broken@example.com', '415-555-0105');
  const log = t.of.server.log;
  const errors: unknown[] = [];
  const original = log.error;
  log.error = ((obj: unknown) => void errors.push(obj)) as typeof log.error;
  await t.store.db.schema.alterTable('phone_registrations').renameTo('phone_registrations_away').execute();
  try {
    assert.equal((await start('415-555-0105')).status, 200);
    await t.of.services.devices.settled();
  } finally {
    await t.store.db.schema.alterTable('phone_registrations_away').renameTo('phone_registrations').execute();
    log.error = original;
  }
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as { event: string }).event, 'device_phone_registration_failed');
  assert.doesNotMatch(JSON.stringify(errors[0]), /5550105/, 'no phone number in the log line');
});

test('confirming tells nothing either: wrong codes for a registered and an unknown number get the same answers', async () => {
  await createUser(t, 'confirm@example.com', '415-555-0109');
  const known = (await start('415-555-0109')).json.registration_id;
  const unknown = (await start('415-555-0110')).json.registration_id;
  await t.of.services.devices.settled();
  const key = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' })).toString('base64url');
  const confirm = async (id: string, body: Record<string, string>) => {
    const res = await t.of.server.inject({ method: 'POST', url: `/device/v1/phone_registrations/${id}/confirm`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    return [res.statusCode, JSON.parse(res.body).error_code];
  };
  const wrong = { code: '000000', public_key: key, algorithm: 'Ed25519' };
  // A malformed key, six wrong codes, a malformed key again: each answer the same for both.
  for (const id of [known, unknown]) {
    const seen = [await confirm(id, { ...wrong, public_key: 'not a key' })];
    for (let i = 0; i < 6; i++) seen.push(await confirm(id, wrong));
    seen.push(await confirm(id, { ...wrong, public_key: 'not a key' }));
    assert.deepEqual(seen, [[400, '60034'], [401, '60036'], [401, '60036'], [401, '60036'], [401, '60036'], [401, '60036'], [404, '60035'], [404, '60035']], id === known ? 'registered' : 'unknown');
  }
  // An id OpenFactor never gave out: not found, and nothing stored for it.
  const limits = await t.store.db.selectFrom('rate_limits' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  const made = unknown.slice(0, -1) + (unknown.endsWith('0') ? '1' : '0');
  assert.deepEqual(await confirm(made, wrong), [404, '60035']);
  assert.deepEqual(await t.store.db.selectFrom('rate_limits' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow(), limits);
});

test('a flood from one address is refused with 429 past its allowance; other addresses are still served', async () => {
  const flooder = freshAddress();
  const statuses: number[] = [];
  let refused: Record<string, unknown> | undefined;
  for (let i = 0; i < 8; i++) {
    const r = await start('415-555-0106', flooder);
    statuses.push(r.status);
    if (r.status === 429) refused = r.json;
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  assert.deepEqual(refused, {
    message: 'DoS protection: Too many registration requests. Try again later.',
    success: false,
    errors: { message: 'DoS protection: Too many registration requests. Try again later.' },
    error_code: '60003',
  });
  assert.equal((await start('415-555-0106')).status, 200, 'another address');

  // IPv6: one subscriber's /64 is one client; another /64 is another.
  const v6 = [];
  for (let i = 1; i <= 6; i++) v6.push((await start('415-555-0107', `2001:db8:1:2::${i}`)).status);
  assert.deepEqual(v6, [200, 200, 200, 200, 200, 429]);
  assert.equal((await start('415-555-0107', '2001:db8:1:3::1')).status, 200);
});

test('past the allowance of all addresses together, every address is refused', async () => {
  // The file's other tests used part of the 40 an hour; use up the rest, one address each.
  let served = 0;
  for (let i = 0; i < 60 && (await start('415-555-0108')).status === 200; i++) served++;
  assert.ok(served < 40, `served ${served}`);
  const r = await start('415-555-0108', '192.0.2.77');
  assert.equal(r.status, 429);
  assert.equal(r.json.error_code, '60003');
});
