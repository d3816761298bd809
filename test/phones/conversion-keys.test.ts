// A right SMS or voice code counts a conversion for its number's prefix and country (the pumping
// defence trusts prefixes whose codes come back). The sent code keeps where to count it, the
// prefix only as a keyed index, so a verify counts it without opening the user's sealed number
// and no row ties a user to the digits of a prefix. Codes sent before the keys were kept count
// by the number, as before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered, spokenCode, verifyUrl } from '../support/tokens.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';
import { openStore, type Store } from '../../src/store/db.ts';

const WINDOW_MS = 600_000;

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

/** Every prefix_traffic row of the application: key, sends, conversions. */
const traffic = async (appId: number) =>
  (await t.store.db.selectFrom('prefix_traffic').select(['prefix', 'sends', 'conversions']).where('app_id', '=', appId).orderBy('prefix').execute()).map((r) => [r.prefix, Number(r.sends), Number(r.conversions)] as const);

async function sendAndVerify(appKey: string, id: number, e164: string, channel: 'sms' | 'call') {
  const sent = await call(t.of.server, 'GET', `/protected/json/${channel}/${id}?force=true`, { key: appKey });
  assert.equal(sent.status, 200, sent.text);
  const text = (await delivered(t, e164)).text;
  const code = channel === 'sms' ? codeIn(text, 7) : spokenCode(text, 7);
  const r = await call(t.of.server, 'GET', verifyUrl(code, id), { key: appKey });
  assert.equal(r.status, 200, r.text);
}

test('a right SMS code counts its conversion under the prefix\'s keyed index and the country; the sent code keeps no digits of the number', async () => {
  const app = await t.newApplication('Keys');
  const id = await createUser(t, 'keys@example.com', '415-555-0177', '1', app.apiKey);
  await sendAndVerify(app.apiKey, id, '+14155550177', 'sms');

  const [code] = await t.store.db.selectFrom('sent_codes').select(['conversion_prefix', 'conversion_country']).where('user_id', '=', id).execute();
  assert.match(code.conversion_prefix!, /^ix:[A-Za-z0-9_-]{43}$/);
  assert.doesNotMatch(code.conversion_prefix!, /415555/);
  assert.equal(code.conversion_country, 'cc:+1');
  // The send counted under the prefix, the conversion under its index (each once), the country both.
  assert.deepEqual(await traffic(app.id), [
    ['+1415555', 1, 0],
    ['cc:+1', 1, 1],
    [code.conversion_prefix!, 0, 1],
  ]);
});

test('a voice code counts the same way', async () => {
  const app = await t.newApplication('Voice keys');
  await t.of.services.applications.updateSettings(app.id, { smsFallbackToVoice: false });
  const id = await createUser(t, 'voice-keys@example.com', '415-555-0178', '1', app.apiKey);
  await sendAndVerify(app.apiKey, id, '+14155550178', 'call');
  const rows = await traffic(app.id);
  assert.equal(rows.filter(([k]) => k.startsWith('ix:')).map(([, s, c]) => [s, c]).join(), '0,1');
  assert.deepEqual(rows.find(([k]) => k === 'cc:+1'), ['cc:+1', 1, 1]);
});

test('a code sent before its keys were kept counts by the number, under the same keys', async () => {
  const app = await t.newApplication('Old codes');
  const id = await createUser(t, 'old-code@example.com', '415-555-0179', '1', app.apiKey);
  const sent = await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: app.apiKey });
  assert.equal(sent.status, 200, sent.text);
  // As a code written before migration 0044 is.
  await t.store.db.updateTable('sent_codes').set({ conversion_prefix: null, conversion_country: null }).where('user_id', '=', id).execute();
  const code = codeIn((await delivered(t, '+14155550179')).text, 7);
  assert.equal((await call(t.of.server, 'GET', verifyUrl(code, id), { key: app.apiKey })).status, 200);
  const rows = await traffic(app.id);
  assert.deepEqual(rows.filter(([k]) => k.startsWith('ix:')).map(([, s, c]) => [s, c]), [[0, 1]]);
  assert.deepEqual(rows.find(([k]) => k === 'cc:+1'), ['cc:+1', 1, 1]);
});

test('codes verified through the API raise their prefix\'s allowance in the next hour; a prefix without them stops at the window allowance', async () => {
  const app = await t.newApplication('Trusted by use');
  await t.of.services.applications.updateSettings(app.id, { sendsPerNumberHour: 100, sendsPerNumberDay: 100 });
  // Twelve codes to the prefix, ten of them verified, in this window…
  for (let i = 0; i < 12; i++) {
    const phone = `312-555-${String(2000 + i)}`;
    const id = await createUser(t, `trusted${i}@example.com`, phone, '1', app.apiKey);
    const sent = await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: app.apiKey });
    assert.equal(sent.status, 200, sent.text);
    if (i >= 10) continue;
    const code = codeIn((await delivered(t, `+1${phone.replace(/-/g, '')}`)).text, 7);
    assert.equal((await call(t.of.server, 'GET', verifyUrl(code, id), { key: app.apiKey })).status, 200);
  }
  // …and twelve to another prefix, none verified.
  for (let i = 0; i < 12; i++) {
    const id = await createUser(t, `silent${i}@example.com`, `646-555-${String(2000 + i)}`, '1', app.apiKey);
    assert.equal((await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: app.apiKey })).status, 200);
  }
  // A server whose window is the one after theirs: its last hour holds those sends and conversions.
  const { window_start: sentIn } = await t.store.db.selectFrom('prefix_traffic').select('window_start').where('app_id', '=', app.id).where('prefix', '=', '+1312555').executeTakeFirstOrThrow();
  const store: Store = openStore(t.config.databaseUrl, { pg: t.config.pg });
  let next: OpenFactor | undefined;
  try {
    next = await buildServer(t.config, store, { sendGuardClock: () => Number(sentIn) + WINDOW_MS + 1000 });
    const start = (phone: string) =>
      call(next!.server, 'POST', '/protected/json/phones/verification/start', { key: app.apiKey, form: `via=sms&phone_number=${phone}&country_code=1` });
    let trusted = 0;
    let untrusted = 0;
    for (let i = 0; i < 40; i++) {
      if ((await start(`312-555-${String(3000 + i)}`)).status === 200) trusted++;
      if ((await start(`646-555-${String(3000 + i)}`)).status === 200) untrusted++;
    }
    assert.equal(trusted, 40, 'ten of twelve codes verified: the prefix takes a burst of 40');
    assert.equal(untrusted, 20, 'no code verified: the burst stops at the window allowance');
  } finally {
    await next?.close();
    await store.close();
  }
});
