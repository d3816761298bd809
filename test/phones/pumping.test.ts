// The SMS-pumping defence: a simulated attack (thousands of codes to sequential numbers in one
// prefix) is stopped after a bounded number of sends while normal traffic elsewhere goes
// through; per-number caps, the daily budget, the country allow-list, non-personal numbers;
// conversions raise a prefix's allowance; every block names its rule in the audit.
import { unseal } from '../../src/core/crypto.ts';
import { destinationContext } from '../../src/store/contacts.ts';
import { conversionKeysOf } from '../../src/features/send-guard/service.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, delivered } from '../support/tokens.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
});
after(() => t.close());

const start = (phone: string, cc: string, key: string, via = 'sms') =>
  call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key, form: `via=${via}&phone_number=${phone}&country_code=${cc}` });

/** The audit: outbox rows the defence refused, with their rule (the number is sealed at rest). */
const blocked = async (appId: number) =>
  (await t.store.db.selectFrom('outbox').select(['sid', 'destination', 'provider_result']).where('app_id', '=', appId).where('status', '=', 'blocked').orderBy('id').execute()).map((r) => ({
    destination: unseal(t.config.masterKeys, r.destination, destinationContext(r.sid)).toString('utf8'),
    provider_result: r.provider_result,
  }));


test('a simulated attack on one prefix is stopped after a bounded number of sends; other prefixes and countries go on', async () => {
  const app = await t.newApplication('Attacked');
  const ATTACK = 3000;
  let passed = 0;
  const codes: Record<string, number> = {};
  // Sequential numbers +1 212-555-0000… interleaved with normal traffic every 50 attempts.
  let normalOk = 0;
  let normalTried = 0;
  for (let i = 0; i < ATTACK; i++) {
    const r = await start(`212-555-${String(i).padStart(4, '0')}`, '1', app.apiKey);
    if (r.status === 200) passed++;
    else codes[r.json.error_code] = (codes[r.json.error_code] ?? 0) + 1;
    if (i % 50 === 0) {
      const n = normalTried++;
      // Real users: different numbers in different blocks, in Portugal and the UK.
      const nn = String(n).padStart(3, '0');
      const normal = n % 2 === 0 ? await start(`91${nn}4567`, '351', app.apiKey) : await start(`7400${nn.slice(1)}3456`, '44', app.apiKey);
      if (normal.status === 200) normalOk++;
    }
  }
  console.log(`attack: ${passed} of ${ATTACK} sends to one prefix went out; normal traffic ${normalOk} of ${normalTried}`);
  assert.ok(passed <= 20, `at most the window's allowance went out (${passed})`);
  assert.ok(passed >= 1);
  assert.deepEqual(Object.keys(codes), ['60003']);
  assert.equal(normalOk, normalTried, 'normal traffic to other prefixes and countries went through');
  const audit = await blocked(app.id);
  assert.equal(audit.length, ATTACK - passed);
  assert.equal(audit.filter((a) => a.provider_result === 'blocked: prefix_velocity').length, 1, 'the send that crossed the line');
  assert.equal(audit.filter((a) => a.provider_result === 'blocked: prefix_quarantined').length, ATTACK - passed - 1);
  const q = await t.of.services.guard.quarantines(app.id);
  assert.deepEqual(q.map((x) => [x.prefix, x.rule]), [['+1212555', 'prefix_velocity']]);
});

test('codes that come back verified raise a prefix\'s allowance (conversion feeds the decision)', async () => {
  const app = await t.newApplication('Converting');
  // Last hour: 12 sends to the prefix, 10 verified (recorded as the history of earlier windows).
  const window = Math.floor(Date.now() / 600_000) * 600_000;
  await t.store.db.insertInto('prefix_traffic').values({ app_id: app.id, prefix: '+1312555', window_start: window - 600_000, sends: 12, conversions: 10 }).execute();
  await t.store.db.insertInto('prefix_traffic').values({ app_id: app.id, prefix: '+1646555', window_start: window - 600_000, sends: 12, conversions: 0 }).execute();
  let trusted = 0;
  let untrusted = 0;
  for (let i = 0; i < 40; i++) {
    if ((await start(`312-555-${String(1000 + i)}`, '1', app.apiKey)).status === 200) trusted++;
    if ((await start(`646-555-${String(1000 + i)}`, '1', app.apiKey)).status === 200) untrusted++;
  }
  assert.equal(trusted, 40, 'a prefix whose codes are verified takes a burst of 40');
  assert.equal(untrusted, 20, 'the same burst to a prefix without conversions stops at the window allowance');
});

test('a prefix whose codes never come back is quarantined (low conversion)', async () => {
  const app = await t.newApplication('Low conversion');
  const window = Math.floor(Date.now() / 600_000) * 600_000;
  for (let w = 1; w <= 3; w++) {
    await t.store.db.insertInto('prefix_traffic').values({ app_id: app.id, prefix: '+1202555', window_start: window - w * 600_000, sends: 12, conversions: 0 }).execute();
  }
  const r = await start('202-555-0111', '1', app.apiKey);
  assert.equal(r.status, 429);
  assert.equal(r.json.error_code, '60003');
  assert.deepEqual((await blocked(app.id)).map((b) => b.provider_result), ['blocked: prefix_low_conversion']);
});

test('per-number caps (hour), the daily budget, the country allow-list and non-personal numbers', async () => {
  const app = await t.newApplication('Limits');
  await t.of.services.applications.updateSettings(app.id, { sendsPerNumberHour: 3, dailySendBudget: 5 });
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    // Each start after the first resends the pending code: still a message, still counted.
    statuses.push((await start('415-555-0121', '1', app.apiKey)).status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  assert.equal((await start('415-555-0122', '1', app.apiKey)).status, 200);
  assert.equal((await start('415-555-0123', '1', app.apiKey)).status, 200);
  const over = await start('415-555-0124', '1', app.apiKey);
  assert.equal(over.status, 429);
  assert.equal(over.json.error_code, '60010', 'the daily SMS budget');

  const geo = await t.newApplication('Geo');
  assert.equal(typeof (await t.of.services.applications.setAllowedCountries(geo.id, ['PT', 'BR'])), 'object');
  assert.equal((await start('912345678', '351', geo.apiKey)).status, 200);
  const us = await start('415-555-0125', '1', geo.apiKey);
  assert.equal(us.status, 400);
  assert.equal(us.json.error_code, '60013');
  const premium = await start('900-555-0142', '1', app.apiKey, 'call');
  assert.equal(premium.json.error_code, '60083', 'no calls to premium-rate numbers either');

  const rules = (await blocked(app.id)).map((b) => b.provider_result);
  assert.deepEqual(rules, ['blocked: number_hourly_cap', 'blocked: app_daily_budget', 'blocked: non_personal_number']);
  assert.deepEqual((await blocked(geo.id)).map((b) => b.provider_result), ['blocked: country_not_allowed']);
});

test('the sms route passes the defence too; the block is in the outbox listing (what `openfactor outbox` prints)', async () => {
  const app = await t.newApplication('Users');
  await t.of.services.applications.updateSettings(app.id, { sendsPerNumberHour: 2, sendsPerHour: 100 });
  const id = await createUser(t, 'guarded@example.com', PHONES.us[0], '1', app.apiKey);
  const results = [];
  for (let i = 0; i < 3; i++) results.push((await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: app.apiKey })).json.error_code ?? 'sent');
  assert.deepEqual(results, ['sent', 'sent', '60003']);
  const rows = await t.of.services.outbox.recent({ appId: app.id, limit: 10 });
  const b = rows.find((m) => m.status === 'blocked')!;
  assert.equal(b.provider_result, 'blocked: number_hourly_cap');
  assert.equal(b.destination, '+14155550142');
});

test('a verified phone verification counts as a conversion for its prefix', async () => {
  const app = await t.newApplication('Counted');
  await start('415-555-0131', '1', app.apiKey);
  const code = codeIn((await delivered(t, '+14155550131')).text, 4);
  await call(t.of.server, 'GET', '/protected/json/phones/verification/check', { key: app.apiKey, form: `phone_number=415-555-0131&country_code=1&verification_code=${code}` });
  // The send under the prefix, the conversion under its keyed index (test/phones/conversion-keys.test.ts).
  const { prefix: converted } = conversionKeysOf(t.of.services.contacts, '+14155550131');
  const rows = await t.store.db.selectFrom('prefix_traffic').select(['prefix', 'sends', 'conversions']).where('app_id', '=', app.id).where('prefix', 'in', ['+1415555', converted]).orderBy('sends', 'desc').execute();
  assert.deepEqual(rows.map((r) => [r.prefix, Number(r.sends), Number(r.conversions)]), [['+1415555', 1, 0], [converted, 0, 1]]);
});

test('the daily per-number cap; device registration by phone passes the defence too', async () => {
  const app = await t.newApplication('Daily');
  await t.of.services.applications.updateSettings(app.id, { sendsPerNumberHour: 100, sendsPerNumberDay: 2 });
  const codes = [];
  for (let i = 0; i < 3; i++) codes.push((await start('415-555-0161', '1', app.apiKey, i % 2 ? 'call' : 'sms')).status);
  assert.deepEqual(codes, [200, 200, 429]);
  assert.deepEqual((await blocked(app.id)).map((b) => b.provider_result), ['blocked: number_daily_cap']);

  // A device registering by phone: the code goes through the same rules (here: the country list).
  const geo = await t.newApplication('Device geo');
  await t.of.services.applications.setAllowedCountries(geo.id, ['PT']);
  await createUser(t, 'device@example.com', '415-555-0162', '1', geo.apiKey);
  const base = await t.listen();
  const r = await fetch(`${base}/device/v1/phone_registrations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ country_code: '1', phone_number: '415-555-0162', via: 'sms' }) });
  assert.equal(r.status, 200, 'the same answer: the caller learns nothing');
  await t.of.services.devices.settled(); // the rules run after the answer
  assert.deepEqual((await blocked(geo.id)).map((b) => [b.destination, b.provider_result]), [['+14155550162', 'blocked: country_not_allowed']]);
  const sent = await t.store.db.selectFrom('outbox').select('id').where('app_id', '=', geo.id).where('status', '!=', 'blocked').execute();
  assert.equal(sent.length, 0, 'no code was sent');
});

test('an attack spread over many prefixes of one country is stopped by the country velocity; other countries go on', async () => {
  const app = await t.newApplication('Spread');
  await t.of.services.applications.updateSettings(app.id, { countrySendsPerWindow: 50 });
  let passed = 0;
  // UK mobiles, each in its own prefix (07400 000xxx … 07400 999xxx): no prefix sees more than one.
  for (let i = 0; i < 300; i++) {
    const r = await start(`74${String(i).padStart(4, '0')}1234`, '44', app.apiKey);
    if (r.status === 200) passed++;
    else assert.equal(r.json.error_code, '60003');
  }
  assert.equal(passed, 50, 'the country allowance, then nothing');
  const rules = (await blocked(app.id)).map((b) => b.provider_result);
  assert.equal(rules[0], 'blocked: country_velocity');
  assert.ok(rules.slice(1).every((r) => r === 'blocked: country_quarantined'));
  assert.equal((await start('912345678', '351', app.apiKey)).status, 200, 'Portugal is not affected');
});

test('sends asked at the same moment each meet their own application\'s quarantines', async () => {
  const closed = await t.newApplication('Closed prefix');
  const open = await t.newApplication('Same prefix, open');
  // Close +1 212-555 for one application, the way an attack does.
  for (let i = 0; !(await t.of.services.guard.quarantines(closed.id)).length; i++) {
    assert.ok(i < 100, 'the prefix is quarantined within its allowance');
    await start(`212-555-${String(i).padStart(4, '0')}`, '1', closed.apiKey);
  }
  // Then, all at once (on PostgreSQL one read answers them): the closed prefix, the same prefix
  // for the other application, and other prefixes for the first.
  const asked = [
    ...Array.from({ length: 20 }, (_, i) => ({ who: 'closed', r: start(`212-555-${String(5000 + i)}`, '1', closed.apiKey) })),
    ...Array.from({ length: 5 }, (_, i) => ({ who: 'open', r: start(`212-555-${String(6000 + i)}`, '1', open.apiKey) })),
    ...Array.from({ length: 20 }, (_, i) => ({ who: 'elsewhere', r: start(`91${String(100 + i)}4567`, '351', closed.apiKey) })),
  ];
  const answers = await Promise.all(asked.map(async (a) => ({ who: a.who, ...(await a.r) })));
  for (const a of answers) {
    if (a.who === 'closed') assert.equal(a.json.error_code, '60003', JSON.stringify(a.json));
    else assert.equal(a.status, 200, `${a.who}: ${JSON.stringify(a.json)}`);
  }
  const rules = (await blocked(closed.id)).map((b) => b.provider_result);
  assert.deepEqual(rules, ['blocked: prefix_velocity', ...Array(20).fill('blocked: prefix_quarantined')]);
  assert.equal((await blocked(open.id)).length, 0);
});
