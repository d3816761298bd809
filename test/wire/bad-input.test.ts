// Every route, sent malformed, oversized, missing and wrongly typed input: always a 4xx Authy
// error body (never a 5xx or a stack trace), and nothing already stored changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, PHONES, type TestApp } from '../support/harness.ts';
import { call, userForm } from '../support/http.ts';
import { assertAuthyError, badBodies, NASTY } from '../support/bad-input.ts';

let t: TestApp;
let userId: number;
before(async () => {
  t = await startApp();
  userId = (await call(t.of.server, 'POST', '/protected/json/users/new', { key: t.apiKey, form: userForm('keep@example.com', PHONES.us[0]) })).json.user.id;
  await call(t.of.server, 'POST', `/protected/json/users/${userId}/register_activity`, { key: t.apiKey, form: 'type=banned' });
});
after(() => t.close());

const ROUTES = (id: number | string): [string, string][] => [
  ['GET', '/protected/{f}/app/details'],
  ['GET', '/protected/{f}/app/stats'],
  ['POST', '/protected/{f}/users/new'],
  ['GET', `/protected/{f}/users/${id}/status`],
  ['POST', `/protected/{f}/users/${id}/register_activity`],
  ['POST', `/protected/{f}/users/${id}/remove`],
  ['POST', `/protected/{f}/users/${id}/delete`],
  ['POST', `/protected/{f}/users/delete/${id}`],
  ['POST', `/protected/{f}/users/${id}/update`],
  ['GET', `/protected/{f}/sms/${id}`],
  ['GET', `/protected/{f}/call/${id}`],
  ['GET', `/protected/{f}/verify/1234567/${id}`],
  ['POST', `/protected/{f}/users/${id}/secret`],
  ['POST', `/protected/{f}/email/${id}`],
  ['POST', '/protected/{f}/phones/verification/start'],
  ['GET', '/protected/{f}/phones/verification/check'],
  ['GET', '/protected/{f}/phones/verification/status'],
  ['GET', '/protected/{f}/phones/info'],
];

async function snapshot() {
  const db = t.store.db;
  return JSON.stringify({
    apps: await db.selectFrom('applications').select(['id', 'name', 'api_key_hash']).orderBy('id').execute(),
    users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
    emails: await db.selectFrom('user_emails').selectAll().orderBy('user_id').execute(),
    activities: await db.selectFrom('activities').select(['user_id', 'type', 'data']).orderBy('id').execute(),
    codes: await db.selectFrom('sent_codes').selectAll().orderBy('id').execute(),
    outbox: await db.selectFrom('outbox').select(['sid', 'status']).orderBy('id').execute(),
    verifications: await db.selectFrom('phone_verifications').select(['uuid', 'status', 'checks']).orderBy('id').execute(),
    traffic: await db.selectFrom('prefix_traffic').selectAll().orderBy('prefix').execute(),
    authenticators: await db.selectFrom('authenticators').selectAll().orderBy('user_id').execute(),
  });
}

const READS_NO_PARAMETER = /\/(details|stats|status|remove|delete)$|\/delete\/\d+$/;

test('malformed, oversized, wrongly typed bodies on every route, JSON and XML', async () => {
  const before = await snapshot();
  let n = 0;
  for (const f of ['json', 'xml']) {
    for (const b of badBodies()) {
      // A well-formed hostile body is a valid request for a route that reads no parameter:
      // remove routes then get an id that does not exist, so nothing stored may change.
      for (const [method, path] of ROUTES(b.wellFormed ? 987654 : userId)) {
        const url = path.replace('{f}', f);
        const r = await call(t.of.server, method, url, { key: t.apiKey, rawBody: b.body, contentType: b.contentType });
        if (b.wellFormed && r.status === 200 && READS_NO_PARAMETER.test(url)) continue;
        assertAuthyError(r, `${method} ${url} ${b.name}`);
        n++;
      }
    }
  }
  assert.ok(n > 500, `${n} bad requests checked`);
  assert.equal(await snapshot(), before, 'stored data unchanged');
});

test('hostile parameters on the token routes for a real user: 4xx, or the request done with safe defaults', async () => {
  // A wrong token is a failed attempt whatever else the request carries: it counts towards the
  // attempt cap (default 10), which then locks verification. That is the only change allowed.
  const withoutAttempts = async () => JSON.stringify({ ...JSON.parse(await snapshot()), users: undefined, attemptFree: (await t.store.db.selectFrom('users').selectAll().orderBy('id').execute()).map(({ verify_failures, verify_window_start, verify_locked_until, ...u }) => u) });
  const before = await withoutAttempts();
  let wrongGuesses = 0;
  let lockedAnswers = 0;
  for (const v of NASTY) {
    const q = encodeURIComponent(v);
    for (const url of [`/protected/json/sms/${userId}?force=${q}`, `/protected/json/call/${userId}?action=${encodeURIComponent(v.repeat(300).slice(0, 300))}`, `/protected/json/verify/${q}/${userId}?force=true`, `/protected/json/verify/1234567/${userId}?force=${q}`, `/protected/json/verify/1234567/${userId}?force=true&user_ip=${q}`]) {
      const r = await call(t.of.server, 'GET', url, { key: t.apiKey });
      assertAuthyError(r, `GET ${url.slice(0, 80)}`);
      if (r.json.error_code === '60020') wrongGuesses++;
      if (r.json.error_code === '60003') lockedAnswers++;
    }
    const secret = await call(t.of.server, 'POST', `/protected/json/users/${userId}/secret`, { key: t.apiKey, form: `qr_size=${q}` });
    assertAuthyError(secret, `secret qr_size=${v.slice(0, 12)}`);
    const update = await call(t.of.server, 'POST', `/protected/json/users/${userId}/update`, { key: t.apiKey, form: `email=${q}` });
    assertAuthyError(update, `update email=${v.slice(0, 12)}`);
    for (const form of [`phone_number=${q}&country_code=1`, `phone_number=415-555-0142&country_code=${q}`, `phone_number=415-555-0142&country_code=1&via=${q}`, `phone_number=415-555-0142&country_code=1&code_length=${q}`, `phone_number=415-555-0142&country_code=1&custom_code=${q}`, `phone_number=415-555-0142&country_code=1&custom_message=${q}`]) {
      const r = await call(t.of.server, 'POST', '/protected/json/phones/verification/start', { key: t.apiKey, form });
      assertAuthyError(r, `phones/verification/start ${form.slice(0, 60)}`);
    }
    const check = await call(t.of.server, 'GET', `/protected/json/phones/verification/check?phone_number=415-555-0142&country_code=1&verification_code=${q}`, { key: t.apiKey });
    assertAuthyError(check, `check ${v.slice(0, 12)}`);
  }
  assert.equal(await withoutAttempts(), before, 'nothing sent, nothing changed');
  const [user] = await t.store.db.selectFrom('users').select(['verify_failures', 'verify_locked_until']).where('id', '=', userId).execute();
  assert.equal(wrongGuesses, 10, 'ten wrong tokens answered 60020, then the cap');
  assert.ok(lockedAnswers > 0 && Number(user.verify_locked_until) > Date.now(), 'the cap locked verification');
  await t.store.db.updateTable('users').set({ verify_failures: 0, verify_window_start: null, verify_locked_until: null }).where('id', '=', userId).execute();
});

test('bad query strings, paths and ids', async () => {
  const before = await snapshot();
  const urls = [
    `/protected/json/users/${userId}/status?a=1&a[b]=2`,
    `/protected/json/users/${userId}/status?x=%E0%A4%A`,
    `/protected/json/users/new?user[email]=${encodeURIComponent("' OR 1=1 --")}&user[cellphone]=%00&user[country_code]=%F0%9F%99%82`,
    `/protected/json/users/${encodeURIComponent("1 OR 1=1")}/status`,
    `/protected/json/users/${encodeURIComponent('<script>')}/remove`,
    '/protected/json/users/1%00/status',
    '/protected/json/users/99999999999999999999999/status',
    '/protected/html/users/1/status',
    '/protected/json/users/' + 'x'.repeat(5000) + '/status',
  ];
  for (const url of urls) {
    for (const method of ['GET', 'POST']) {
      const r = await call(t.of.server, method, url, { key: t.apiKey });
      assertAuthyError(r, `${method} ${url.slice(0, 80)}`);
    }
  }
  assert.equal(await snapshot(), before);
});

test('a request line over 16 KiB gets 414 with Authy\'s body (authy-php sends every parameter in the query string); long headers get 431', async () => {
  const base = await t.listen();
  const authyError = async (res: Response | Error, status: number, what: string) => {
    assert.ok(!(res instanceof Error), `${what}: ${res}`);
    assert.equal(res.status, status, what);
    const body = await res.json();
    assert.equal(body.success, false, what);
    assert.equal(body.error_code, '60002', what);
    return body;
  };
  const padded = (n: number) => `${base}/protected/json/app/details?api_key=${t.apiKey}&pad=${'a'.repeat(n)}`;
  const under = await fetch(padded(15_000));
  assert.equal(under.status, 200, 'a 15 KB request line is served');
  assert.match((await authyError(await fetch(padded(20_000)).catch((e) => e), 414, '20 KB URL')).message, /request line is too long/);
  await authyError(await fetch(padded(1_000_000)).catch((e) => e), 414, '1 MB URL');
  await authyError(await fetch(`${base}/protected/json/users/new?api_key=${t.apiKey}&user[email]=a@b.co&user[cellphone]=4155550100&user[country_code]=1&pad=${'b'.repeat(30_000)}`, { method: 'POST' }).catch((e) => e), 414, 'POST with a long query');
  const xml = await fetch(`${base}/protected/xml/app/details?api_key=${t.apiKey}&pad=${'a'.repeat(20_000)}`);
  assert.equal(xml.status, 414);
  assert.match(await xml.text(), /<errors>[\s\S]*<error-code>60002<\/error-code>/, 'an XML request gets an XML error');
  for (const n of [20_000, 100_000]) {
    const res = await fetch(`${base}/protected/json/app/details`, { headers: { 'X-Authy-API-Key': t.apiKey, cookie: 'c='.padEnd(n, 'x') } }).catch((e) => e);
    assert.match((await authyError(res, 431, `${n} B of headers`)).message, /headers are too large/);
  }
});
