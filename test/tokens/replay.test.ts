// Replay: a code accepted once is refused afterwards (401 / 60019), for every factor, and
// across server processes, because the record lives in the database.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUserOver, outboxLines, runCli, spawnServer } from '../support/process.ts';
import { appToken, codeIn, createUser, delivered, spokenCode, verifyUrl } from '../support/tokens.ts';
import { qrSecretOf } from '../support/qr.ts';
import { totp } from '../../src/core/otp.ts';
import { sentCodeHash, sentCodeKey } from '../../src/features/tokens/service.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, { sendsPerHour: 1000, verifyMaxFailures: 1000 });
});
after(() => t.close());

const get = (url: string) => call(t.of.server, 'GET', url, { key: t.apiKey });
const REUSED = '{"message":"Token is invalid. Token was used recently.","token":"is invalid","success":false,"errors":{"message":"Token is invalid. Token was used recently."},"error_code":"60019"}';

async function onceThenReused(id: number, token: string, query = '?force=true') {
  const first = await get(verifyUrl(token, id, query));
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.token, 'is valid');
  const again = await get(verifyUrl(token, id, query));
  assert.equal(again.status, 401);
  assert.equal(again.text, REUSED);
}

test('app TOTP: accepted once, then refused as reused', async () => {
  const id = await createUser(t, 'r-app@example.com', '415-555-0121');
  await onceThenReused(id, await appToken(t, id));
  // An older step that is still inside the window is refused too.
  assert.equal((await get(verifyUrl(await appToken(t, id, 7, -1), id, '?force=true'))).json.error_code, '60019');
});

test('SMS code: accepted once, then refused as reused', async () => {
  const id = await createUser(t, 'r-sms@example.com', '415-555-0122');
  await get(`/protected/json/sms/${id}`);
  await onceThenReused(id, codeIn((await delivered(t, '+14155550122')).text, 7));
});

test('voice code: accepted once, then refused as reused', async () => {
  const id = await createUser(t, 'r-voice@example.com', '415-555-0123');
  await get(`/protected/json/call/${id}`);
  await onceThenReused(id, spokenCode((await delivered(t, '+14155550123')).text, 7));
});

test('QR authenticator: accepted once, then refused as reused', async () => {
  const id = await createUser(t, 'r-qr@example.com', '415-555-0124');
  const secret = await qrSecretOf(t, id);
  await onceThenReused(id, totp(secret, Date.now(), { digits: 6 }));
});

test('a token that is both an SMS code sent to the user and their app token: accepted once, as the code', async () => {
  const id = await createUser(t, 'r-both@example.com', '415-555-0126');
  await get(`/protected/json/sms/${id}`);
  await delivered(t, '+14155550126');
  // The one-in-ten-million coincidence, made: the code sent is the app token of this moment.
  const token = await appToken(t, id);
  await t.store.db.updateTable('sent_codes').set({ code_hash: sentCodeHash(sentCodeKey(t.config.masterKeys[0]), id, token) }).where('user_id', '=', id).execute();
  const first = await get(verifyUrl(token, id, '?force=true'));
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.device.os_type, 'sms', 'the sent code is looked at first');
  const again = await get(verifyUrl(token, id, '?force=true'));
  assert.equal(again.text, REUSED, 'a used code is not accepted again as the app token');
});

test('concurrent verifies of one code: exactly one succeeds', async () => {
  const id = await createUser(t, 'r-race@example.com', '415-555-0125');
  const token = await appToken(t, id);
  const results = await Promise.all(Array.from({ length: 8 }, () => get(verifyUrl(token, id, '?force=true'))));
  assert.equal(results.filter((r) => r.status === 200).length, 1);
  assert.ok(results.filter((r) => r.status !== 200).every((r) => r.json.error_code === '60019'));
});

test('across server processes: a code used on one server is refused by another on the same database', async () => {
  const db = await createTestDatabase();
  const env = testEnv(db);
  try {
    const { api_key: key } = JSON.parse(runCli(['apps', 'create', '--name', 'Two Nodes', '--json'], env).stdout);
    const [a, b] = [await spawnServer(env), await spawnServer(env)];
    try {
      const headers = { 'x-authy-api-key': key };
      const id = await createUserOver(a.url, key, '4155550126');
      await fetch(`${a.url}/protected/json/sms/${id}`, { headers });
      let code: string | undefined;
      for (let i = 0; i < 100 && !code; i++) {
        const [m] = outboxLines(env);
        if (m?.text) code = codeIn(m.text, 7);
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(code, 'the SMS reached the outbox');
      const onA = await fetch(`${a.url}/protected/json/verify/${code}/${id}?force=true`, { headers });
      assert.equal(onA.status, 200);
      const onB = await fetch(`${b.url}/protected/json/verify/${code}/${id}?force=true`, { headers });
      assert.equal(onB.status, 401);
      assert.equal((await onB.json()).error_code, '60019');
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    await db.drop();
  }
});

// PostgreSQL answers a turn's verifies in one statement per kind (QR steps, sent codes, phone
// checks): copies of one code in the same turn must still meet the first one's write.
const atOnce = (n: number, url: string) => Promise.all(Array.from({ length: n }, () => get(url)));

test('concurrent verifies of one QR code and of one SMS code: exactly one of each succeeds', async () => {
  const qrId = await createUser(t, 'r-qr-race@example.com', '415-555-0126');
  const secret = await qrSecretOf(t, qrId);
  const smsId = await createUser(t, 'r-sms-race@example.com', '415-555-0127');
  await get(`/protected/json/sms/${smsId}?force=true`);
  const code = codeIn((await delivered(t, '+14155550127')).text, 7);
  const [qr, sms] = await Promise.all([atOnce(8, verifyUrl(totp(secret, Date.now(), { digits: 6 }), qrId, '?force=true')), atOnce(8, verifyUrl(code, smsId, '?force=true'))]);
  for (const results of [qr, sms]) {
    assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.text).join('\n'));
    assert.ok(results.filter((r) => r.status !== 200).every((r) => r.json.error_code === '60019'));
  }
});

test('the right phone-verification code checked eight times at once verifies once', async () => {
  const start = await call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key: t.apiKey, form: 'via=sms&phone_number=415-555-0128&country_code=1' });
  assert.equal(start.status, 200, start.text);
  const code = codeIn((await delivered(t, '+14155550128')).text, 4);
  const results = await atOnce(8, `/protected/json/phones/verification/check?phone_number=415-555-0128&country_code=1&verification_code=${code}`);
  assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.text).join('\n'));
  assert.ok(results.filter((r) => r.status !== 200).every((r) => r.status === 404 && r.json.error_code === '60023'), results.map((r) => r.text).join('\n'));
});
