// Attempt caps: after N wrong verifies within the window, verification answers 429 / 60003 for a
// while, even for a correct code; the event is logged; other users are not affected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { appToken, createUser, verifyUrl } from '../support/tokens.ts';

let t: TestApp;
const logLines: string[] = [];
before(async () => {
  t = await startApp();
  const warn = t.of.server.log.warn.bind(t.of.server.log);
  // Listen to what the server logs at warn level (the lockout event).
  t.of.server.log.warn = ((...args: unknown[]) => {
    logLines.push(JSON.stringify(args));
    return (warn as (...a: unknown[]) => void)(...args);
  }) as typeof warn;
});
after(() => t.close());

const get = (url: string, key = t.apiKey) => call(t.of.server, 'GET', url, { key });

test('the defaults: 10 wrong tokens lock verification, even for the right one', async () => {
  const id = await createUser(t, 'cap@example.com', '415-555-0131');
  for (let i = 0; i < 10; i++) {
    const r = await get(verifyUrl(String(1000000 + i), id, '?force=true'));
    assert.equal(r.status, 401, `attempt ${i + 1}`);
  }
  const right = await get(verifyUrl(await appToken(t, id), id, '?force=true'));
  assert.equal(right.status, 429);
  assert.equal(right.json.error_code, '60003');
  assert.match(right.json.message, /^DoS protection: /);
  assert.ok(logLines.some((l) => l.includes('verify_lockout') && l.includes(String(id))), 'the lockout is logged');
  assert.ok(!logLines.some((l) => l.includes('1000009')), 'tokens are not logged');
  // …and in the audit trail, once, for this application's administrators.
  const locked = (await t.of.services.audit.search({ appId: t.appId, action: 'user.locked' }, 10)).rows.filter((e) => JSON.parse(e.target).users?.includes(id));
  assert.deepEqual(locked.map((e) => [e.actor, e.actor_kind]), [['OpenFactor', 'service']]);
  assert.equal(JSON.parse(locked[0].detail).wrong_codes, 10);

  const other = await createUser(t, 'cap-other@example.com', '415-555-0132');
  assert.equal((await get(verifyUrl(await appToken(t, other), other, '?force=true'))).status, 200, 'other users are unaffected');
});

test('10 wrong tokens sent at once lock as surely as one after another', async () => {
  const id = await createUser(t, 'cap-burst@example.com', '415-555-0135');
  const right = await appToken(t, id);
  const wrong = Array.from({ length: 10 }, (_, i) => String(2000000 + i)).filter((w) => w !== right);
  while (wrong.length < 10) wrong.push('2999999');
  const answers = await Promise.all(wrong.map((w) => get(verifyUrl(w, id, '?force=true'))));
  assert.deepEqual(answers.map((r) => r.status), Array(10).fill(401));
  const after = await get(verifyUrl(right, id, '?force=true'));
  assert.equal(after.status, 429, 'every wrong token was counted');
  const locked = (await t.of.services.audit.search({ appId: t.appId, action: 'user.locked' }, 10)).rows.filter((e) => JSON.parse(e.target).users?.includes(id));
  assert.equal(locked.length, 1, 'one lockout, one entry, however many wrong tokens came at once');
  assert.equal(after.json.error_code, '60003');
});

test('the lockout ends after its time; a correct token then clears the count', async () => {
  const app = await t.newApplication('Short Lockout');
  await t.of.services.applications.updateSettings(app.id, { verifyMaxFailures: 3, verifyLockoutSeconds: 1 });
  const id = await createUser(t, 'cap2@example.com', '415-555-0133', '1', app.apiKey);
  for (let i = 0; i < 3; i++) await get(verifyUrl('1111111', id, '?force=true'), app.apiKey);
  assert.equal((await get(verifyUrl(await appToken(t, id), id, '?force=true'), app.apiKey)).status, 429);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await get(verifyUrl(await appToken(t, id), id, '?force=true'), app.apiKey)).status, 200);
  // Cleared: two more wrong tokens do not lock (the cap is three).
  for (let i = 0; i < 2; i++) await get(verifyUrl('1111111', id), app.apiKey);
  assert.equal((await get(verifyUrl(await appToken(t, id, 7, 1), id), app.apiKey)).status, 200);
});

test('wrong tokens below the cap within the window still verify the right one', async () => {
  const id = await createUser(t, 'cap3@example.com', '415-555-0134');
  for (let i = 0; i < 9; i++) await get(verifyUrl('2222222', id, '?force=true'));
  assert.equal((await get(verifyUrl(await appToken(t, id), id, '?force=true'))).status, 200);
});
