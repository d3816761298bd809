// Delivery through OpenFactor with real provider protocols behind it: priority order and
// failover, the circuit breaker, a hanging provider, receipts (signed callbacks and deliver_sm),
// SMS→voice fallback, email by SMTP, per-application providers, stats and /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { codeIn, createUser, spokenCode, verifyUrl } from '../support/tokens.ts';
import { runCli } from '../support/process.ts';
import { testEnv } from '../support/harness.ts';
import { startFakeTwilio, type FakeTwilio } from '../support/fakes/twilio.ts';
import { startFakeSmsc, type FakeSmsc } from '../support/fakes/smsc.ts';
import { startFakeSmtp, type FakeSmtp } from '../support/fakes/smtp.ts';
import { startFakeGateway, type FakeGateway } from '../support/fakes/gateway.ts';
import { loadConfig } from '../../src/config.ts';
import { Routing, writeAppProviders } from '../../src/delivery/routing.ts';
import { DeliveryMetrics } from '../../src/delivery/metrics.ts';
import { until } from '../support/wait.ts';

let t: TestApp;
let tw: FakeTwilio;
let smsc: FakeSmsc;
let smtp: FakeSmtp;
let gw: FakeGateway;
let base: string;
const COOL_DOWN_MS = 1500;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  [tw, smsc, smtp, gw] = await Promise.all([startFakeTwilio(), startFakeSmsc(), startFakeSmtp(), startFakeGateway()]);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  t = await startApp({
    OPENFACTOR_SMS_PROVIDERS: `${tw.url}&timeout=500, ${smsc.url}`,
    OPENFACTOR_VOICE_PROVIDERS: `${gw.url}&timeout=500`,
    OPENFACTOR_EMAIL_PROVIDERS: smtp.url,
    OPENFACTOR_PUBLIC_URL: base,
    OPENFACTOR_PROVIDER_FAILURES: '3',
    OPENFACTOR_PROVIDER_COOLDOWN_MS: String(COOL_DOWN_MS),
  });
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000 });
  await t.of.server.listen({ port, host: '127.0.0.1' });
});
after(async () => {
  await t.close();
  await Promise.all([tw.close(), smsc.close(), smtp.close(), gw.close()]);
});

let phoneNo = 100;
const newUser = async (key = t.apiKey) => {
  const phone = `415-555-0${phoneNo++}`;
  const id = await createUser(t, `d${phoneNo}@example.com`, phone, '1', key);
  return { id, e164: `+1415555${'0' + (phoneNo - 1)}` };
};

const sms = (id: number, key = t.apiKey) => call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key });
const message = async (destination: string) => (await t.of.services.outbox.recent({ limit: 500 })).find((m) => m.destination === destination)!;

test('an SMS goes to the first provider; its signed status callback marks it delivered; app stats count it', async () => {
  const u = await newUser();
  assert.equal((await sms(u.id)).status, 200);
  const req = await until('twilio got it', () => tw.requests.find((r) => r.form.get('To') === u.e164 && r.sid));
  assert.match(req.form.get('Body')!, /Test Bank/);
  assert.equal(req.form.get('StatusCallback'), `${base}/delivery/receipts/${(await message(u.e164)).id}`);
  const sent = await until('sent', async () => ((await message(u.e164)).status === 'sent' ? message(u.e164) : undefined));
  assert.equal(sent.provider, `twilio:${tw.accountSid}`);
  assert.equal(sent.provider_message_id, req.sid);

  // A forged callback changes nothing; the genuine one does.
  assert.equal(await tw.callback(req.sid!, 'undelivered', 'forged-token'), 403);
  assert.equal((await message(u.e164)).status, 'sent');
  assert.equal(await tw.callback(req.sid!, 'delivered'), 200);
  assert.equal((await message(u.e164)).status, 'delivered');

  const stats = await call(t.of.server, 'GET', '/protected/json/app/stats', { key: t.apiKey });
  assert.ok(stats.json.stats.at(-1).sms_count >= 1);
});

test('failover: Twilio failing, SMPP delivers; after 3 failures Twilio cools down, then one probe brings it back', async () => {
  tw.mode = 'fail';
  try {
    const askedBefore = tw.requests.length;
    const users = [await newUser(), await newUser(), await newUser(), await newUser(), await newUser()];
    for (const u of users.slice(0, 3)) {
      assert.equal((await sms(u.id)).status, 200);
      await until('smsc got it', () => smsc.messages.find((m) => '+' + m.destination === u.e164));
    }
    assert.equal(tw.requests.length - askedBefore, 3, 'Twilio asked once per message');
    const m = await until('receipt', async () => ((await message(users[0].e164)).status === 'delivered' ? message(users[0].e164) : undefined));
    assert.equal(m.provider, new URL(smsc.url).protocol.replace(':', '') + ':127.0.0.1:' + new URL(smsc.url).port);
    assert.equal(m.attempts, 2, 'two provider calls: Twilio, then SMPP');
    const attempts = await t.of.services.outbox.attempts(m.id);
    assert.deepEqual(attempts.map((a) => a.outcome), ['error', 'accepted']);
    assert.match(attempts[0].error!, /twilio 500/);

    // The circuit is open: the next messages go straight to SMPP.
    for (const u of users.slice(3)) {
      await sms(u.id);
      await until('smsc got it', () => smsc.messages.find((x) => '+' + x.destination === u.e164));
    }
    assert.equal(tw.requests.length - askedBefore, 3, 'Twilio not asked while cooling down');
    const metrics = await call(t.of.server, 'GET', '/metrics', { headers: { authorization: `Bearer ${t.config.adminToken}` } });
    assert.match(metrics.text, new RegExp(`openfactor_delivery_circuit_opened_total\\{provider="twilio:${tw.accountSid}",channel="sms"\\} 1`));
  } finally {
    tw.mode = 'ok';
  }
  await new Promise((r) => setTimeout(r, COOL_DOWN_MS + 100));
  const u = await newUser();
  await sms(u.id);
  await until('probe went to Twilio', () => tw.requests.find((r) => r.form.get('To') === u.e164 && r.sid));
});

test('a hanging voice provider holds up nothing else: SMS keep flowing while the call is still out', async () => {
  // An application whose voice gateway waits up to 4 s for an answer that never comes.
  const slow = await t.newApplication('Slow Voice App');
  await t.of.services.applications.updateSettings(slow.id, { sendsPerHour: 1000 });
  await writeAppProviders(t.store.db, t.config.masterKeys, slow.id, 'voice', `${gw.url}&timeout=4000`, t.of.server.log);
  gw.mode = 'hang';
  try {
    const u = await newUser(slow.apiKey);
    assert.equal((await call(t.of.server, 'GET', `/protected/json/call/${u.id}?force=true`, { key: slow.apiKey })).status, 200);
    const callId = (await message(u.e164)).id;
    await until('the call is out at the gateway', async () => (await t.of.services.outbox.attempts(callId)).length === 1);
    for (let i = 0; i < 5; i++) {
      const other = await newUser(slow.apiKey);
      await sms(other.id, slow.apiKey);
      await until('sms while the call hangs', () => tw.requests.find((r) => r.form.get('To') === other.e164 && r.sid));
    }
    const [attempt] = await t.of.services.outbox.attempts(callId);
    assert.equal(attempt.outcome, null, 'five SMS went out while the call was still waiting for the gateway');
    const failed = await until('call attempt timed out', async () => (await t.of.services.outbox.attempts(callId)).find((a) => a.outcome === 'timeout'));
    assert.match(failed.error!, /no answer within 4000 ms/);
  } finally {
    gw.mode = 'ok';
  }
});

test('SMS → voice fallback (application setting): refused everywhere by SMS, the code is read out by a call and verifies', async () => {
  await t.of.services.applications.updateSettings(t.appId, { smsFallbackToVoice: true });
  try {
    const u = await newUser();
    tw.invalidNumbers.add(u.e164);
    assert.equal((await sms(u.id)).status, 200);
    const callMsg = await until('fallback call', () => gw.delivered.find((m) => m.to === u.e164 && m.channel === 'voice'));
    const smsRow = await message(u.e164).then(async () => (await t.of.services.outbox.recent({ limit: 500 })).find((m) => m.destination === u.e164 && m.channel === 'sms')!);
    assert.equal(smsRow.status, 'failed');
    assert.equal(smsRow.fallback_id, callMsg.id);
    const code = spokenCode(callMsg.text, 7);
    assert.equal((await call(t.of.server, 'GET', verifyUrl(code, u.id, '?force=true'), { key: t.apiKey })).json.success, 'true');

    // An SMPP receipt saying "undelivered" also falls back.
    tw.mode = 'fail';
    await new Promise((r) => setTimeout(r, COOL_DOWN_MS + 100)); // let any open circuit close
    const v = await newUser();
    smsc.receiptStat.set(v.e164.slice(1), 'UNDELIV');
    await sms(v.id);
    await until('fallback call after undelivered receipt', () => gw.delivered.find((m) => m.to === v.e164 && m.channel === 'voice'));
    const row = (await t.of.services.outbox.recent({ limit: 500 })).find((m) => m.destination === v.e164 && m.channel === 'sms')!;
    assert.equal(row.status, 'undelivered');
  } finally {
    tw.mode = 'ok';
    await t.of.services.applications.updateSettings(t.appId, { smsFallbackToVoice: false });
  }
});

test('email codes go out by SMTP (STARTTLS, AUTH) with a text and an HTML part in the user\'s language', async () => {
  const id = await createUser(t, 'mail.user@example.com', '912345670', '351');
  const r = await call(t.of.server, 'POST', `/protected/json/email/${id}`, { key: t.apiKey });
  assert.equal(r.status, 200);
  const mail = await until('mail', () => smtp.mails.find((m) => m.envelopeTo.includes('mail.user@example.com')));
  assert.equal(mail.secured, true, 'STARTTLS was used');
  assert.match(String(mail.from?.text), /codes@openfactor\.test/);
  assert.match(mail.subject ?? '', /Test Bank/);
  const code = codeIn(String(mail.text), 7);
  assert.match(String(mail.html), new RegExp(code));
  assert.match(String(mail.html), /<html lang="pt"/);
  assert.equal(mail.headers.get('content-language'), 'pt');
  assert.equal((await call(t.of.server, 'GET', verifyUrl(code, id, '?force=true'), { key: t.apiKey })).json.success, 'true');
});

test('per-application providers (CLI): one application\'s SMS goes to its own gateway, credentials never printed', async () => {
  const other = await t.newApplication('Gateway App');
  const env = { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: undefined } as NodeJS.ProcessEnv;
  env.OPENFACTOR_MASTER_KEY = process.env.OPENFACTOR_MASTER_KEY ?? t.config.masterKeys[0].key.toString('hex');
  const set = runCli(['apps', 'providers', '--app', String(other.id), '--sms', gw.url, '--json'], env);
  assert.equal(set.status, 0, set.stderr);
  const shown = JSON.parse(set.stdout);
  assert.equal(shown.sms.length, 1);
  assert.ok(!set.stdout.includes(gw.secret), 'the gateway secret is not printed');
  assert.equal(shown.voice, null);
  const bad = runCli(['apps', 'providers', '--app', String(other.id), '--sms', 'smtp://u:hunter2@mail.example?from=a@b.c'], env);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /cannot send sms/);
  assert.ok(!bad.stderr.includes('hunter2'));

  const u = await newUser(other.apiKey);
  await sms(u.id, other.apiKey);
  const got = await until('gateway got it', () => gw.delivered.find((m) => m.to === u.e164 && m.channel === 'sms'));
  assert.match(got.text, /Gateway App/);
  assert.ok(!tw.requests.some((r) => r.form.get('To') === u.e164), 'the service providers were not used');
  // The gateway's signed receipt marks it delivered.
  const row = await until('sent', async () => ((await message(u.e164)).status === 'sent' ? message(u.e164) : undefined));
  assert.equal(await gw.receipt(got.gatewayId, 'delivered'), 200);
  assert.equal((await message(u.e164)).status, 'delivered');
  assert.equal(row.provider_message_id, got.gatewayId);
});

test('/metrics counts sends, failures, timeouts and receipts per provider, channel and status', async () => {
  const r = await call(t.of.server, 'GET', '/metrics', { headers: { authorization: `Bearer ${t.config.adminToken}` } });
  assert.equal(r.status, 200);
  const line = (provider: string, channel: string, status: string) => new RegExp(`openfactor_delivery_messages_total\\{provider="${provider.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}",channel="${channel}",status="${status}"\\} [1-9]`);
  assert.match(r.text, line(`twilio:${tw.accountSid}`, 'sms', 'sent'));
  assert.match(r.text, line(`twilio:${tw.accountSid}`, 'sms', 'error'));
  assert.match(r.text, line(`twilio:${tw.accountSid}`, 'sms', 'delivered'));
  assert.match(r.text, line(`smpp:127.0.0.1:${new URL(smsc.url).port}`, 'sms', 'delivered'));
  assert.match(r.text, line(`http:127.0.0.1:${new URL(gw.url).port}/send`, 'voice', 'timeout'));
  assert.match(r.text, line(`smtp:127.0.0.1:${new URL(smtp.url).port}`, 'email', 'sent'));
});

test('a provider URL that cannot work stops the start with its reason, never its secret', async () => {
  const build = (sms: string) => () => new Routing(t.store.db, t.config.masterKeys, { sms, voice: 'console:', email: 'console:' }, new DeliveryMetrics(), t.of.server.log);
  assert.throws(build('twilio://ACx:s3cr3t-token@api.twilio.com'), (e: Error) => /from=/.test(e.message) && !e.message.includes('s3cr3t'));
  assert.throws(build('smtp://u:s3cr3t@mail.example?from=a@b.c'), /cannot send sms/);
  assert.throws(build('https://gw.example/send'), /secret/);
  assert.throws(build('carrier-pigeon://coop'), /unknown provider scheme/);
  assert.throws(() => loadConfig({ ...testEnv(t.db), OPENFACTOR_OUTBOX_CONCURRENCY: 'lots' }), /OPENFACTOR_OUTBOX_CONCURRENCY/);
});
