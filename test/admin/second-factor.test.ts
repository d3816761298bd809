// The administrators' second factor, from OpenFactor itself (issue 22): after the password, a
// sign-in waits in an HttpOnly cookie for the authenticator's code or a OneTouch approval on the
// administrator's own registered device (signed by the device, as customers' approvals are). The
// waiting sign-in is spent once, whatever number of requests race for it; a wrong code, a denial
// or an expiry ends it; the console can ask for its CSRF token again with the cookie alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { PHONES, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { runCli } from '../support/process.ts';
import { adminHttp, type Json } from '../support/admin-http.ts';
import { createUser } from '../support/tokens.ts';
import { registerDevice } from '../support/onetouch.ts';
import type { OpenFactorDevice } from '../../sdk/device/src/index.ts';

process.env.OPENFACTOR_MASTER_KEY ??= randomBytes(32).toString('hex');

let t: TestApp;
let base: string;
const PASSWORD = 'correct horse battery staple';
const cookieIn = (setCookie: string, name: string) => new RegExp(`(?:^|, )(${name}=[^;]*)`).exec(setCookie)?.[1];

const http = adminHttp(() => base);
const codeOf = (otpauth: string, at = Date.now()) => new TOTP({ secret: Secret.fromBase32(new URL(otpauth).searchParams.get('secret')!), digits: 6, period: 30 }).generate({ timestamp: at });

/** The password: with two administrators a second factor is asked, and the sign-in waits in a cookie. */
async function firstFactor(email: string) {
  const r = await http('POST', '/admin/session', { body: { email, password: PASSWORD } });
  assert.equal(r.status, 401, JSON.stringify(r.json));
  const pending = cookieIn(r.setCookie, 'openfactor_admin_pending');
  assert.ok(pending, 'the waiting sign-in is a cookie');
  assert.match(r.setCookie, /openfactor_admin_pending=[^;]+;[^,]*HttpOnly/i);
  assert.match(r.setCookie, /openfactor_admin_pending=[^;]+;[^,]*SameSite=Strict/i);
  return { pending: pending!, secondFactor: r.json.second_factor as string };
}
const secondFactor = (pending: string, body: Json) => http('POST', '/admin/session/second_factor', { cookie: pending, body });

let owner: { id: number; otpauth: string };
let olly: { id: number; otpauth: string };
let ownerSession: { cookie: string; csrf: string };
let phone: OpenFactorDevice;
let authyId: number;

before(async () => {
  t = await startApp({ OPENFACTOR_APPROVAL_SWEEP_MS: '50' });
  base = await t.listen();
  for (const [email, role] of [
    ['ana@example.com', 'owner'],
    ['olly@example.com', 'admin'],
  ]) {
    const r = runCli(['admins', 'add', '--email', email, '--role', role, '--json'], testEnv(t.db), `${PASSWORD}\n`);
    assert.equal(r.status, 0, r.stderr);
    const made = JSON.parse(r.stdout);
    if (role === 'owner') owner = { id: made.id, otpauth: made.otpauth_uri };
    else olly = { id: made.id, otpauth: made.otpauth_uri };
  }
  const r = await http('POST', '/admin/session', { body: { email: 'ana@example.com', password: PASSWORD, code: codeOf(owner.otpauth) } });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  ownerSession = { cookie: cookieIn(r.setCookie, 'openfactor_admin')!, csrf: r.json.csrf_token };
  // Olly's own user, with the authenticator on a phone, in one of the service's applications.
  authyId = await createUser(t, 'olly@example.com', PHONES.us[0]);
  phone = await registerDevice(t, base, authyId, { algorithm: 'ES256' });
});
after(async () => {
  await t.close();
});

test('the code, given after the password in the waiting sign-in: a session; a wrong code ends the wait', async () => {
  const first = await firstFactor('olly@example.com');
  assert.equal(first.secondFactor, 'code', 'no OneTouch device linked yet');
  const ok = await secondFactor(first.pending, { code: codeOf(olly.otpauth) });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const session = cookieIn(ok.setCookie, 'openfactor_admin')!;
  assert.equal((await http('GET', '/admin/me', { cookie: session })).json.principal.name, `admin ${olly.id} (olly@example.com)`);
  assert.equal((await secondFactor(first.pending, { code: codeOf(olly.otpauth, Date.now() + 30_000) })).json.message, 'This sign-in has ended or expired: sign in again', 'a waiting sign-in is spent once');

  const again = await firstFactor('olly@example.com');
  const wrong = await secondFactor(again.pending, { code: '12345' });
  assert.deepEqual([wrong.status, wrong.json.error_code], [401, '60001']);
  assert.equal((await secondFactor(again.pending, { code: codeOf(olly.otpauth, Date.now() + 30_000) })).status, 401, 'after a wrong code, the right one needs the password again');
  assert.equal((await secondFactor('openfactor_admin_pending=forged', { code: codeOf(olly.otpauth) })).status, 401);
  assert.equal((await http('POST', '/admin/session/second_factor', { body: { code: '123456' } })).status, 401, 'no waiting sign-in at all');
});

test('the console, opened again, gets its CSRF token with the session cookie alone; a token has none', async () => {
  const now = await http('GET', '/admin/session', { cookie: ownerSession.cookie });
  assert.equal(now.status, 200);
  assert.equal(now.json.csrf_token, ownerSession.csrf, 'the same token the sign-in gave');
  assert.equal(now.json.principal.role, 'owner');
  const made = await http('POST', '/admin/tokens', { cookie: ownerSession.cookie, csrf: now.json.csrf_token, body: { name: 'robot', role: 'read_only' } });
  assert.equal(made.status, 201);
  assert.equal((await http('GET', '/admin/session', { bearer: made.json.token })).json.csrf_token, null);
  assert.equal((await http('GET', '/admin/session')).status, 401);
});

test('an owner links the administrator’s own user; only a user with a registered device in an application with OneTouch on', async () => {
  const link = (id: number, body: Json) => http('POST', `/admin/accounts/${id}/onetouch`, { cookie: ownerSession.cookie, csrf: ownerSession.csrf, body });
  const noDevice = await createUser(t, 'nodevice@example.com', PHONES.us[1]);
  assert.equal((await link(olly.id, { app_id: t.appId, authy_id: noDevice })).status, 400);
  assert.equal((await link(olly.id, { app_id: t.appId, authy_id: 999_999 })).status, 400);
  assert.equal((await link(olly.id, { app_id: t.appId })).status, 400, 'both or neither');
  assert.equal((await link(999_999, { app_id: t.appId, authy_id: authyId })).status, 404);
  const ok = await link(olly.id, { app_id: t.appId, authy_id: authyId });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.deepEqual(ok.json.account.onetouch, { app_id: t.appId, authy_id: authyId, devices: [phone.id] }, 'the phone registered now is pinned');
  const [entry] = (await http('GET', '/admin/audit?action=admin.account_onetouch', { cookie: ownerSession.cookie })).json.entries;
  assert.equal(entry.actor, `admin ${owner.id} (ana@example.com)`);
});

test('a OneTouch approval: the request reaches the device with who and from where; approved and signed there, it is the session', async () => {
  const first = await firstFactor('olly@example.com');
  assert.equal(first.secondFactor, 'code,onetouch');
  const asked = await secondFactor(first.pending, { method: 'onetouch' });
  assert.equal(asked.status, 202, JSON.stringify(asked.json));
  const uuid = asked.json.approval_request.uuid as string;
  const number = asked.json.approval_request.number as number;
  assert.ok(number >= 10 && number <= 99, 'number matching, always: the console shows the number to pick');
  const still = await secondFactor(first.pending, { method: 'onetouch' });
  assert.deepEqual([still.status, still.json.approval_request.uuid], [202, uuid], 'asked again before an answer: still waiting, the same request');

  const [shown] = (await phone.pendingApprovals()).filter((a) => a.uuid === uuid);
  assert.ok(shown, 'the device has the request');
  assert.equal(shown.message, 'Sign in to the OpenFactor console');
  assert.equal(shown.details.Administrator, 'olly@example.com');
  assert.equal(shown.details['From address'], '127.0.0.1');
  await phone.approve(shown, { number });

  // Many requests with the same waiting sign-in at once: exactly one session.
  const raced = await Promise.all(Array.from({ length: 20 }, () => secondFactor(first.pending, { method: 'onetouch' })));
  assert.deepEqual(raced.map((r) => r.status).sort(), [200, ...Array(19).fill(401)]);
  const won = raced.find((r) => r.status === 200)!;
  const session = cookieIn(won.setCookie, 'openfactor_admin')!;
  const me = await http('GET', '/admin/session', { cookie: session });
  assert.deepEqual([me.json.principal.role, me.json.csrf_token], ['admin', won.json.csrf_token]);
  const row = await t.store.db.selectFrom('approval_requests').select(['status', 'device_signature']).where('uuid', '=', uuid).executeTakeFirstOrThrow();
  assert.equal(row.status, 'approved');
  assert.ok(row.device_signature, 'the approval is signed by the device');
  const [entry] = (await http('GET', `/admin/audit?action=admin.sign_in&actor=${encodeURIComponent(`admin ${olly.id} (olly@example.com)`)}`, { cookie: ownerSession.cookie })).json.entries;
  assert.deepEqual(entry.detail, { via: 'second_factor' });
});

test('a OneTouch denial, or no answer in time, ends the sign-in and is in the audit trail', async () => {
  const denied = await firstFactor('olly@example.com');
  const asked = await secondFactor(denied.pending, { method: 'onetouch' });
  const [shown] = (await phone.pendingApprovals()).filter((a) => a.uuid === asked.json.approval_request.uuid);
  await phone.deny(shown);
  const r = await secondFactor(denied.pending, { method: 'onetouch' });
  assert.deepEqual([r.status, r.json.message], [401, 'The sign-in was denied on your device']);
  assert.equal((await secondFactor(denied.pending, { code: codeOf(olly.otpauth, Date.now() + 60_000) })).status, 401, 'and it is over: no code rescues it');

  const late = await firstFactor('olly@example.com');
  const lateUuid = (await secondFactor(late.pending, { method: 'onetouch' })).json.approval_request.uuid;
  await t.store.db.updateTable('approval_requests').set({ expires_at: Date.now() - 1 }).where('uuid', '=', lateUuid).execute();
  const expired = await secondFactor(late.pending, { method: 'onetouch' });
  assert.deepEqual([expired.status, expired.json.message], [401, 'The approval expired: sign in again']);
  const reasons = (await http('GET', '/admin/audit?action=admin.sign_in_failed', { cookie: ownerSession.cookie })).json.entries.slice(0, 2).map((e: Json) => e.detail.reason);
  assert.deepEqual(reasons, ['expired', 'denied']);
});

test('a device registered for the same user after the link (by whoever holds the application’s API key) cannot approve', async () => {
  const intruder = await registerDevice(t, base, authyId, { algorithm: 'Ed25519' });
  const first = await firstFactor('olly@example.com');
  const asked = await secondFactor(first.pending, { method: 'onetouch' });
  const uuid = asked.json.approval_request.uuid as string;
  const [shown] = (await intruder.pendingApprovals()).filter((a) => a.uuid === uuid);
  assert.ok(shown, 'the request reaches every device of the user');
  await intruder.approve(shown, { number: asked.json.approval_request.number });
  const r = await secondFactor(first.pending, { method: 'onetouch' });
  assert.deepEqual([r.status, r.json.message, cookieIn(r.setCookie, 'openfactor_admin')], [401, 'Approved on a device not linked to your account: sign in again', undefined]);
  const [entry] = (await http('GET', '/admin/audit?action=admin.sign_in_failed', { cookie: ownerSession.cookie })).json.entries;
  assert.equal(entry.detail.reason, 'unlinked_device');
});

test('a wrong code after OneTouch was asked withdraws the request from the device', async () => {
  const first = await firstFactor('olly@example.com');
  const uuid = (await secondFactor(first.pending, { method: 'onetouch' })).json.approval_request.uuid as string;
  assert.equal((await secondFactor(first.pending, { code: '12345' })).status, 401);
  const row = await t.store.db.selectFrom('approval_requests').select('status').where('uuid', '=', uuid).executeTakeFirstOrThrow();
  assert.notEqual(row.status, 'pending');
  assert.equal((await phone.pendingApprovals()).filter((a) => a.uuid === uuid).length, 0);
});

test('without a linked device, OneTouch is refused and the code still works', async () => {
  const unlink = await http('POST', `/admin/accounts/${olly.id}/onetouch`, { cookie: ownerSession.cookie, csrf: ownerSession.csrf, body: {} });
  assert.deepEqual([unlink.status, unlink.json.account.onetouch], [200, null]);
  const first = await firstFactor('olly@example.com');
  assert.equal(first.secondFactor, 'code');
  const r = await secondFactor(first.pending, { method: 'onetouch' });
  assert.deepEqual([r.status, r.json.error_code], [409, '60001']);
  assert.equal((await secondFactor(first.pending, { code: codeOf(olly.otpauth, Date.now() + 30_000) })).status, 200);
});
