// Verify v2 verifications through the official twilio client, codes read back from the outbox:
// sms, call and email; resend of the same code under the same SID (five sends, then 60203);
// checks (five, then 60202 and max_attempts_reached; ended → 20404); cancel and approve; custom
// codes, PSD2, tags, locales; channels we cannot serve (60223); the send guard's refusals.
import { test, before, after } from 'node:test';
import { loggablePath } from '../../src/app.ts';
import assert from 'node:assert/strict';
import { codeIn, delivered, spokenCode } from '../support/tokens.ts';
import { raw, restError, verifyBed, type VerifyBed } from '../support/verify.ts';
import { smsText } from '../../src/core/i18n.ts';

let { t, base, acme, client, va, svc } = {} as VerifyBed;

before(async () => {
  ({ t, base, acme, client, va, svc } = await verifyBed({ friendlyName: 'Acme', customCodeEnabled: true, psd2Enabled: true }));
});
after(() => t?.close());

let n = 0;
/** A fresh US number per test (the send guard caps sends per number). */
const phone = () => `+1415555${String(1000 + n++).padStart(4, '0')}`;

test('sms: start (201), the code arrives, a wrong check is pending, the right one approves; then 404', async () => {
  const to = phone();
  const v = await svc.verifications.create({ to, channel: 'sms' });
  assert.match(v.sid, /^VE[0-9a-f]{32}$/);
  assert.equal(v.status, 'pending');
  assert.equal(v.valid, false);
  assert.equal(v.to, to);
  assert.equal(v.channel, 'sms');
  assert.equal(v.serviceSid, va);
  assert.equal(v.accountSid, acme.sid);
  assert.equal(v.sendCodeAttempts.length, 1);
  assert.match(v.sendCodeAttempts[0].attempt_sid, /^VL[0-9a-f]{32}$/);
  assert.equal(v.sendCodeAttempts[0].channel, 'SMS');
  assert.equal(v.url, `${base}/v2/Services/${va}/Verifications/${v.sid}`);
  const msg = await delivered(t, to);
  const code = codeIn(msg.text, 6);
  assert.equal(msg.text, smsText('en', { appName: 'Acme', code, minutes: 10 }));

  const wrong = await svc.verificationChecks.create({ to, code: code === '000000' ? '111111' : '000000' });
  assert.equal(wrong.status, 'pending');
  assert.equal(wrong.valid, false);
  assert.equal(wrong.sid, v.sid);
  const fetched = await svc.verifications(v.sid).fetch();
  assert.equal(fetched.status, 'pending');

  const right = await svc.verificationChecks.create({ verificationSid: v.sid, code });
  assert.equal(right.status, 'approved');
  assert.equal(right.valid, true);
  assert.equal(right.to, to);
  assert.equal(right.channel, 'sms');

  for (const again of [() => svc.verificationChecks.create({ to, code }), () => svc.verifications(v.sid).fetch()]) {
    const e = await restError(again());
    assert.equal(e.status, 404);
    assert.equal(e.code, 20404);
  }
});

test('a check by To written another way finds the verification and answers with the number as started', async () => {
  const to = phone();
  const spaced = `+1 ${to.slice(2, 5)}-${to.slice(5, 8)}-${to.slice(8)}`;
  const v = await svc.verifications.create({ to: spaced, channel: 'sms' });
  assert.equal(v.to, to);
  const dashed = spaced.replace(/ /g, '');
  const fetched = await svc.verifications(dashed).fetch();
  assert.deepEqual([fetched.sid, fetched.to], [v.sid, to]);
  const code = codeIn((await delivered(t, to)).text, 6);
  const wrong = await svc.verificationChecks.create({ to: spaced, code: code === '000000' ? '111111' : '000000' });
  assert.deepEqual([wrong.sid, wrong.status, wrong.to], [v.sid, 'pending', to]);
  const right = await svc.verificationChecks.create({ to: ` ${spaced} `, code });
  assert.deepEqual([right.sid, right.status, right.to], [v.sid, 'approved', to]);

  const mail = await svc.verifications.create({ to: 'Bea@Example.com', channel: 'email' });
  const mailCode = codeIn((await delivered(t, 'bea@example.com')).text, 6);
  const checked = await svc.verificationChecks.create({ to: 'BEA@example.COM', code: mailCode });
  assert.deepEqual([checked.sid, checked.status, checked.to], [mail.sid, 'approved', 'bea@example.com']);
});

test('a check by To in E.164 finds its verification; digits only but not E.164 are read as a start reads them', async () => {
  // +44 0…: the trunk 0 is dropped in E.164, though the digits-only form looks like one.
  const to = '+447400183875';
  const v = await svc.verifications.create({ to: '+4407400183875', channel: 'sms' });
  assert.equal(v.to, to);
  const code = codeIn((await delivered(t, to)).text, 6);
  const wrong = code === '000000' ? '111111' : '000000';
  for (const as of ['+4407400183875', to]) {
    const checked = await svc.verificationChecks.create({ to: as, code: wrong });
    assert.deepEqual([checked.sid, checked.status, checked.to], [v.sid, 'pending', to], as);
    const fetched = await svc.verifications(as).fetch();
    assert.deepEqual([fetched.sid, fetched.to], [v.sid, to], as);
  }
  // In E.164 but no verification to it: 20404; in E.164 form but no such number: 60200, as before.
  const none = await restError(svc.verificationChecks.create({ to: phone(), code }));
  assert.deepEqual([none.status, none.code], [404, 20404]);
  const invalid = await restError(svc.verificationChecks.create({ to: '+1555', code }));
  assert.deepEqual([invalid.status, invalid.code], [400, 60200]);
  const right = await svc.verificationChecks.create({ to, code });
  assert.deepEqual([right.sid, right.status, right.to], [v.sid, 'approved', to]);
});

test('a second start within the lifetime resends the same code under the same SID; the sixth send is 60203', async () => {
  const to = phone();
  const first = await svc.verifications.create({ to, channel: 'sms' });
  const code = codeIn((await delivered(t, to)).text, 6);
  let last = (await delivered(t, to)).id;
  for (let i = 2; i <= 5; i++) {
    const again = await svc.verifications.create({ to, channel: i === 3 ? 'call' : 'sms' });
    assert.equal(again.sid, first.sid);
    assert.equal(again.sendCodeAttempts.length, i);
    const m = await delivered(t, to, last);
    last = m.id;
    assert.equal(i === 3 ? spokenCode(m.text, 6) : codeIn(m.text, 6), code, 'the same code');
    if (i === 3) assert.equal(again.channel, 'call');
  }
  const sixth = await restError(svc.verifications.create({ to, channel: 'sms' }));
  assert.equal(sixth.status, 429);
  assert.equal(sixth.code, 60203);
  assert.equal((await svc.verificationChecks.create({ to, code })).status, 'approved', 'the code still checks');
  // A new verification once that one ended: a new SID, a new code.
  const next = await svc.verifications.create({ to, channel: 'sms' });
  assert.notEqual(next.sid, first.sid);
});

test('five checks: the fifth wrong one ends it (max_attempts_reached), then 60202 even for the right code', async () => {
  const to = phone();
  const v = await svc.verifications.create({ to, channel: 'sms' });
  const code = codeIn((await delivered(t, to)).text, 6);
  const wrong = code === '999999' ? '888888' : '999999';
  for (let i = 1; i <= 4; i++) assert.equal((await svc.verificationChecks.create({ to, code: wrong })).status, 'pending');
  assert.equal((await svc.verificationChecks.create({ to, code: wrong })).status, 'max_attempts_reached');
  const e = await restError(svc.verificationChecks.create({ verificationSid: v.sid, code }));
  assert.equal(e.status, 429);
  assert.equal(e.code, 60202);
  assert.equal(e.message, 'Max check attempts reached');
});

test('call and email channels; locales; custom friendly name', async () => {
  const to = phone();
  const call = await svc.verifications.create({ to, channel: 'call', locale: 'es' });
  assert.equal(call.sendCodeAttempts[0].channel, 'CALL');
  const spoken = await delivered(t, to);
  assert.equal(spoken.channel, 'voice');
  assert.equal((await svc.verificationChecks.create({ to, code: spokenCode(spoken.text, 6) })).status, 'approved');

  const to2 = phone();
  await svc.verifications.create({ to: to2, channel: 'sms', locale: 'es', customFriendlyName: 'Acme Inc' });
  const m = await delivered(t, to2);
  assert.equal(m.text, smsText('es', { appName: 'Acme Inc', code: codeIn(m.text, 6), minutes: 10 }));

  const email = await svc.verifications.create({ to: 'Ann@Example.com', channel: 'email' });
  assert.equal(email.to, 'ann@example.com');
  assert.equal(email.channel, 'email');
  const mail = await delivered(t, 'ann@example.com');
  assert.equal(mail.channel, 'email');
  assert.equal((await svc.verificationChecks.create({ to: 'ann@example.com', code: codeIn(mail.text, 6) })).status, 'approved');
});

test('custom code, PSD2 amount and payee in the text and in the check, tags in both forms, rate limits (their values as HMACs) and channel configuration stored', async () => {
  const to = phone();
  await svc.rateLimits.create({ uniqueName: 'my_limit_key' });
  const v = await svc.verifications.create({ to, channel: 'sms', customCode: '4711', amount: '€39.99', payee: 'Acme Shop', tags: JSON.stringify({ campaign: 'spring' }), rateLimits: { my_limit_key: 'user123' }, channelConfiguration: { template_sid: 'HJ' + 'c'.repeat(32), substitutions: { name: 'Ann' } } });
  assert.equal(v.amount, '€39.99');
  assert.equal(v.payee, 'Acme Shop');
  assert.deepEqual((v.toJSON() as any).tags ?? (await raw(base, 'GET', `/v2/Services/${va}/Verifications/${v.sid}`, { user: acme.sid, password: acme.authToken })).json.tags, { campaign: 'spring' });
  const text = (await delivered(t, to)).text;
  assert.match(text, /4711/);
  assert.match(text, /€39\.99/);
  assert.match(text, /Acme Shop/);
  const stored = await t.store.db.selectFrom('verify_verifications').select('details').where('sid', '=', v.sid).executeTakeFirstOrThrow();
  const details = JSON.parse(stored.details);
  assert.deepEqual(Object.keys(details.rate_limits), ['my_limit_key']);
  assert.ok(!stored.details.includes('user123'), 'the rate-limit value is kept only as an HMAC');
  assert.equal(details.channel_configuration.substitutions.name, 'Ann');
  // Without the amount and payee the right code does not approve.
  assert.equal((await svc.verificationChecks.create({ to, code: '4711' })).status, 'pending');
  assert.equal((await svc.verificationChecks.create({ to, code: '4711', amount: '€39.99', payee: 'Acme Shop' })).status, 'approved');

  // An object passed to the string-typed `tags` arrives as Tags[k]=v.
  const to2 = phone();
  const tagged = await svc.verifications.create({ to: to2, channel: 'sms', tags: { campaign: 'autumn' } as any });
  const r = await raw(base, 'GET', `/v2/Services/${va}/Verifications/${tagged.sid}`, { user: acme.sid, password: acme.authToken });
  assert.deepEqual(r.json.tags, { campaign: 'autumn' });

  // Custom codes only where the service enables them.
  const plain = await client.verify.v2.services.create({ friendlyName: 'Plain' });
  const e = await restError(client.verify.v2.services(plain.sid).verifications.create({ to: phone(), channel: 'sms', customCode: '1234' }));
  assert.equal(e.code, 60200);
  assert.match(e.message, /^Invalid parameter: CustomCode/);
});

test('update: canceled ends it (404 after), approved approves it', async () => {
  const to = phone();
  const v = await svc.verifications.create({ to, channel: 'sms' });
  const canceled = await svc.verifications(v.sid).update({ status: 'canceled' });
  assert.equal(canceled.status, 'canceled');
  assert.equal(canceled.valid, false);
  assert.equal((await restError(svc.verifications(v.sid).fetch())).code, 20404);
  assert.equal((await restError(svc.verifications(v.sid).update({ status: 'canceled' }))).code, 20404);
  const w = await svc.verifications.create({ to, channel: 'sms' });
  assert.notEqual(w.sid, v.sid, 'a canceled verification is not resent');
  const approved = await svc.verifications(w.sid).update({ status: 'approved' });
  assert.equal(approved.status, 'approved');
  assert.equal(approved.valid, true);
});

test('fetch and update by To (the number or address in place of the SID), as Twilio allows', async () => {
  const to = phone();
  const v = await svc.verifications.create({ to, channel: 'sms' });
  const fetched = await svc.verifications(to).fetch();
  assert.equal(fetched.sid, v.sid);
  assert.equal(fetched.status, 'pending');
  const mail = await svc.verifications.create({ to: 'Ana@Example.com', channel: 'email' });
  assert.equal((await svc.verifications('ana@example.com').fetch()).sid, mail.sid, 'an address, in any case');
  assert.equal((await svc.verifications(to).update({ status: 'canceled' })).sid, v.sid);
  assert.equal((await restError(svc.verifications(to).fetch())).code, 20404, 'ended: gone');
  assert.equal((await restError(svc.verifications(phone()).fetch())).code, 20404, 'no verification to this number');
  assert.equal((await restError(svc.verifications('not-a-number').fetch())).code, 20404);
  // The access log never holds the number or address given in the path.
  const path = (x: string) => `/v2/Services/${va}/Verifications/${x}`;
  assert.equal(loggablePath(path('+14155550123')), path('[to]'));
  assert.equal(loggablePath(path('ana%40example.com') + '?x=1'), path('[to]'));
  assert.equal(loggablePath(path(v.sid)), path(v.sid), 'a SID is kept');
});

test('channels without a provider: 60223; unknown channels and bad numbers: 60200', async () => {
  for (const channel of ['whatsapp', 'sna', 'auto']) {
    const e = await restError(svc.verifications.create({ to: phone(), channel }));
    assert.equal(e.status, 400);
    assert.equal(e.code, 60223, channel);
    assert.match(e.message, /^Delivery channel disabled/);
  }
  for (const [to, channel, name] of [['+14155550100', 'pigeon', 'Channel'], ['4155550100', 'sms', 'To'], ['+1', 'call', 'To'], ['not-an-email', 'email', 'To']]) {
    const e = await restError(svc.verifications.create({ to, channel }));
    assert.equal(e.status, 400);
    assert.equal(e.code, 60200);
    assert.equal(e.message, `Invalid parameter: ${name}`);
  }
});

test('the send guard: landline SMS 60205, premium-rate 60410, a country the application does not allow 60605; each audited', async () => {
  const landline = await restError(svc.verifications.create({ to: '+442079460018', channel: 'sms' }));
  assert.equal(landline.status, 403);
  assert.equal(landline.code, 60205);
  const landlineCall = await svc.verifications.create({ to: '+442079460018', channel: 'call' });
  assert.equal(landlineCall.status, 'pending', 'a landline can be called');
  const premium = await restError(svc.verifications.create({ to: '+19005550142', channel: 'call' }));
  assert.equal(premium.status, 403);
  assert.equal(premium.code, 60410);

  const app = (await t.of.services.applications.list()).find((a) => a.name === `Acme (${va})`)!;
  await t.of.services.applications.setAllowedCountries(app.id, ['PT']);
  try {
    const geo = await restError(svc.verifications.create({ to: phone(), channel: 'sms' }));
    assert.equal(geo.code, 60605);
    assert.equal(geo.status, 403);
  } finally {
    await t.of.services.applications.setAllowedCountries(app.id, null);
  }
  const blocked = (await t.of.services.outbox.recent({ limit: 50, appId: app.id })).filter((m) => m.status === 'blocked');
  assert.ok(blocked.length >= 3, 'every refusal is audited in the outbox');
});

const appOf = async (verificationSid: string) =>
  (await t.store.db.selectFrom('verify_verifications').select('app_id').where('sid', '=', verificationSid).executeTakeFirstOrThrow()).app_id;

test('eight starts at once for one number: one verification, at most five sends, the rest 60203 or 60212', async () => {
  const to = '+12125551000'; // a prefix of its own: the send guard's prefix allowance is not this test's subject
  const startedAt = Date.now();
  const answers = await Promise.all(Array.from({ length: 8 }, () => svc.verifications.create({ to, channel: 'sms' }).then((v) => v, (e) => e)));
  const made = answers.filter((a) => a.sid);
  const refused = answers.filter((a) => !a.sid);
  assert.equal(new Set(made.map((v) => v.sid)).size, 1, 'one SID');
  assert.ok(made.length >= 1 && made.length <= 5, `${made.length} sends`);
  assert.ok(refused.every((e) => e.status === 429 && (e.code === 60203 || e.code === 60212)), JSON.stringify(refused.map((e) => [e.status, e.code, e.message])));
  const rows = await t.store.db.selectFrom('verify_verifications').select(['sid', 'sends']).where('sid', '=', made[0].sid).execute();
  assert.deepEqual(rows, [{ sid: made[0].sid, sends: made.length }]);
  const pending = await t.store.db.selectFrom('verify_verifications').select('id').where('to_index', '=', t.of.services.contacts.phoneIndex(to)).execute();
  assert.equal(pending.length, 1, 'one verification for the number');
  // All or none: a start that lost wrote no attempt and queued no message (a refused one is kept as 'blocked').
  const attempts = await t.store.db.selectFrom('verify_attempts').select('message_sid').where('verification_id', '=', pending[0].id).execute();
  assert.equal(attempts.length, made.length, 'an attempt per send');
  const messages = await t.store.db.selectFrom('outbox').select('sid').where('app_id', '=', await appOf(made[0].sid)).where('created_at', '>=', startedAt).where('status', '!=', 'blocked').execute();
  assert.deepEqual(messages.map((m) => m.sid).sort(), attempts.map((a) => a.message_sid).sort(), 'a message per send, each the attempt\'s');
});

test('after a verification expires, a start makes a new one (the old one is marked expired)', async () => {
  const to = '+13125551000';
  const old = await svc.verifications.create({ to, channel: 'sms' });
  await t.store.db.updateTable('verify_verifications').set({ expires_at: Date.now() - 1 }).where('sid', '=', old.sid).execute();
  assert.equal((await restError(svc.verifications(old.sid).fetch())).code, 20404);
  const fresh = await svc.verifications.create({ to, channel: 'sms' });
  assert.notEqual(fresh.sid, old.sid);
  const row = await t.store.db.selectFrom('verify_verifications').select(['status', 'code_sealed']).where('sid', '=', old.sid).executeTakeFirstOrThrow();
  assert.deepEqual(row, { status: 'expired', code_sealed: null });
});
