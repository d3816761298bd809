// The attempt caps under a burst: 200 wrong guesses at the same instant, at one server process or
// spread over three on one database, and the right code sent in the middle of the burst once the
// cap is reached. Exactly `cap` guesses are checked (answered "wrong"); every other one, and the
// right code, is refused unchecked. Verify (app token, SMS code, QR authenticator), phone
// verification checks and device-registration PINs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { spawnServers, type ServerProcess } from '../support/process.ts';
import { call } from '../support/http.ts';
import { appToken, codeIn, createUser, delivered, verifyUrl } from '../support/tokens.ts';
import { totp } from '../../src/core/otp.ts';
import { unseal } from '../../src/core/crypto.ts';
import { qrSecretContext } from '../../src/features/tokens/service.ts';

const BURST = 200;
const masterKey = randomBytes(32).toString('hex');
let t: TestApp;
let servers: ServerProcess[] = [];
let pools: Pool[] = [];

before(async () => {
  t = await startApp({ OPENFACTOR_MASTER_KEY: masterKey });
  // Three server processes on the test's database; this process only sets up and reads codes.
  servers = await spawnServers(3, { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: masterKey });
  pools = servers.map((s) => new Pool(s.url, { connections: BURST + 10 }));
});
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await Promise.all(servers.map((s) => s.stop()));
  await t?.close();
});

interface Answer {
  status: number;
  body: any;
}

async function send(pool: Pool, method: 'GET' | 'POST', path: string, body?: object): Promise<Answer> {
  const r = await pool.request({
    method,
    path,
    headers: { 'x-authy-api-key': t.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.body.text();
  return { status: r.statusCode, body: JSON.parse(text) };
}

type Request = { method: 'GET' | 'POST'; path: string; body?: object };

/**
 * Sends `BURST` wrong guesses at once, round-robin over the first `processes` servers; as soon as
 * the first refusal comes back (the cap is reached), sends the right one to the second server
 * (or the only one) while the burst is still being answered.
 */
async function burst(processes: number, wrong: (i: number) => Request, right: Request, refused: (a: Answer) => boolean) {
  let inFlight = BURST;
  let rightAnswer: Promise<Answer> | undefined;
  let sentWith = 0;
  const sendRight = () => {
    sentWith = inFlight;
    rightAnswer = send(pools[1 % processes], right.method, right.path, right.body);
  };
  const answers = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const w = wrong(i);
      const a = await send(pools[i % processes], w.method, w.path, w.body);
      inFlight--;
      if (!rightAnswer && refused(a)) sendRight();
      return a;
    }),
  );
  if (!rightAnswer) sendRight();
  return { answers, right: await rightAnswer!, sentWith };
}

const count = (answers: Answer[], code: string) => answers.filter((a) => a.body.error_code === code).length;
const lockoutLines = () => servers.map((s) => s.output().split('\n').filter((l) => l.includes('"verify_lockout"')).length).reduce((a, b) => a + b, 0);

/** `digits`-digit tokens that are none of `right`. */
function wrongTokens(digits: number, right: Set<string>): string[] {
  const out: string[] = [];
  for (let n = 10 ** (digits - 1); out.length < BURST; n++) if (!right.has(String(n))) out.push(String(n));
  return out;
}

const CAP = 10; // the default verify_max_failures
let phoneIndex = 0;
const nextPhone = () => `415555${String(150 + phoneIndex++).padStart(4, '0')}`;

type Factor = 'app' | 'sms' | 'qr';
/**
 * A new user and their right token of `factor`, made ready before the burst, with every token
 * that would be right near now (the wrong ones must be none of them).
 */
async function userWithRightToken(factor: Factor): Promise<{ id: number; right: () => Promise<string>; near: Set<string> }> {
  const phone = nextPhone();
  const id = await createUser(t, `burst-${factor}-${phone}@example.com`, phone);
  const appTokens = async () => new Set(await Promise.all([-2, -1, 0, 1, 2].map((o) => appToken(t, id, 7, o))));
  if (factor === 'app') return { id, right: () => appToken(t, id), near: await appTokens() };
  if (factor === 'sms') {
    const r = await call(t.of.server, 'GET', `/protected/json/sms/${id}?force=true`, { key: t.apiKey });
    assert.equal(r.status, 200, r.text);
    const code = codeIn((await delivered(t, `+1${phone}`)).text, 7);
    return { id, right: async () => code, near: new Set([...(await appTokens()), code]) };
  }
  const r = await call(t.of.server, 'POST', `/protected/json/users/${id}/secret`, { key: t.apiKey });
  assert.equal(r.status, 200, r.text);
  const row = await t.store.db.selectFrom('authenticators').select('secret_sealed').where('user_id', '=', id).executeTakeFirstOrThrow();
  const secret = unseal(t.config.masterKeys, row.secret_sealed, qrSecretContext(id));
  const at = (o: number) => totp(secret, Date.now() + o * 30_000, { digits: 6 });
  return { id, right: async () => at(0), near: new Set([-2, -1, 0, 1, 2].map(at)) };
}

for (const processes of [1, 3]) {
  for (const factor of ['app', 'sms', 'qr'] as Factor[]) {
    test(`verify (${factor} code), ${processes} process${processes > 1 ? 'es' : ''}: ${BURST} wrong tokens at once, exactly ${CAP} checked, the right one refused`, async (c) => {
      const { id, right, near } = await userWithRightToken(factor);
      const wrong = wrongTokens(factor === 'qr' ? 6 : 7, near);
      const rightNow = await right();
      const logged = lockoutLines();

      const r = await burst(
        processes,
        (i) => ({ method: 'GET', path: verifyUrl(wrong[i], id, '?force=true') }),
        { method: 'GET', path: verifyUrl(rightNow, id, '?force=true') },
        (a) => a.status === 429,
      );
      c.diagnostic(`the right token went out with ${r.sentWith} of ${BURST} wrong ones still unanswered`);
      assert.equal(count(r.answers, '60020') + count(r.answers, '60019'), CAP, 'answered as checked (wrong)');
      assert.equal(count(r.answers, '60003'), BURST - CAP, 'refused unchecked (429, DoS protection)');
      assert.equal(r.right.status, 429, `the right token after the cap: ${JSON.stringify(r.right.body)}`);
      assert.equal(r.right.body.error_code, '60003');
      // Still locked for any token afterwards, and the lockout was logged once for the burst.
      const again = await send(pools[0], 'GET', verifyUrl(await right(), id, '?force=true'));
      assert.equal(again.status, 429);
      await new Promise((res) => setTimeout(res, 200)); // log lines of the other processes
      assert.equal(lockoutLines() - logged, 1, 'one lockout, logged once');
    });
  }

  test(`verify, ${processes} process${processes > 1 ? 'es' : ''}: below the cap, ${CAP - 1} wrong tokens at once, then each right one verifies`, async () => {
    for (const factor of ['app', 'sms', 'qr'] as Factor[]) {
      const { id, right, near } = await userWithRightToken(factor);
      const wrong = wrongTokens(factor === 'qr' ? 6 : 7, near).slice(0, CAP - 1);
      const answers = await Promise.all(wrong.map((w, i) => send(pools[i % processes], 'GET', verifyUrl(w, id, '?force=true'))));
      assert.equal(count(answers, '60020'), CAP - 1, factor);
      const ok = await send(pools[1 % processes], 'GET', verifyUrl(await right(), id, '?force=true'));
      assert.equal(ok.status, 200, `${factor}: ${JSON.stringify(ok.body)}`);
      // The right token cleared the count: another cap - 1 wrong ones do not lock.
      const more = await Promise.all(wrong.map((w, i) => send(pools[i % processes], 'GET', verifyUrl(w, id, '?force=true'))));
      assert.equal(count(more, '60020'), CAP - 1, `${factor}: counted afresh after the right token`);
    }
  });

  test(`phone verification, ${processes} process${processes > 1 ? 'es' : ''}: ${BURST} wrong codes at once, exactly 5 checked, the right one refused`, async (c) => {
    const phone = nextPhone();
    const start = await call(t.of.server, 'POST', '/protected/json/phones/verification/start', {
      key: t.apiKey,
      form: `via=sms&country_code=1&phone_number=${phone}&code_length=6`,
    });
    assert.equal(start.status, 200, start.text);
    const code = codeIn((await delivered(t, `+1${phone}`)).text, 6);
    const wrong = wrongTokens(6, new Set([code]));
    const check = (v: string): Request => ({ method: 'GET', path: `/protected/json/phones/verification/check?country_code=1&phone_number=${phone}&verification_code=${v}` });
    const r = await burst(processes, (i) => check(wrong[i]), check(code), (a) => a.body.error_code === '60023');
    c.diagnostic(`the right code went out with ${r.sentWith} of ${BURST} wrong ones still unanswered`);
    assert.equal(count(r.answers, '60022'), 5, 'answered as checked (incorrect)');
    assert.equal(count(r.answers, '60023'), BURST - 5, 'refused unchecked (no pending verification)');
    assert.equal(r.right.body.error_code, '60023', `the right code after the cap: ${JSON.stringify(r.right.body)}`);
    const status = await call(t.of.server, 'GET', `/protected/json/phones/verification/status?country_code=1&phone_number=${phone}`, { key: t.apiKey });
    assert.notEqual(status.json.status, 'verified');
  });

  test(`device registration PIN, ${processes} process${processes > 1 ? 'es' : ''}: ${BURST} wrong PINs at once, exactly 5 checked, the right one refused`, async (c) => {
    const phone = nextPhone();
    await createUser(t, `burst-pin-${phone}@example.com`, phone);
    const started = await send(pools[0], 'POST', '/device/v1/phone_registrations', { country_code: '1', phone_number: phone, via: 'sms' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const pin = codeIn((await delivered(t, `+1${phone}`)).text, 6);
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64url');
    const confirm = (code: string): Request => ({
      method: 'POST',
      path: `/device/v1/phone_registrations/${started.body.registration_id}/confirm`,
      body: { code, public_key: publicKey, algorithm: 'ES256', os_type: 'android' },
    });
    const wrong = wrongTokens(6, new Set([pin]));
    const r = await burst(processes, (i) => confirm(wrong[i]), confirm(pin), (a) => a.body.error_code === '60035');
    c.diagnostic(`the right PIN went out with ${r.sentWith} of ${BURST} wrong ones still unanswered`);
    assert.equal(count(r.answers, '60036'), 5, 'answered as checked (invalid PIN)');
    assert.equal(count(r.answers, '60035'), BURST - 5, 'refused unchecked (registration not found)');
    assert.equal(r.right.body.error_code, '60035', `the right PIN after the cap: ${JSON.stringify(r.right.body)}`);
  });
}
