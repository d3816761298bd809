// Administrators as people (issue 22): accounts added with the CLI (the password on standard
// input, argon2id at rest) and over the admin API; console sessions in an HttpOnly SameSite
// cookie whose changes need the session's CSRF token; the second factor (OpenFactor's own TOTP,
// each code once) asked once there is more than one administrator; sign-out, expiry, disabling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { runCli } from '../support/process.ts';
import { adminHttp, type Json } from '../support/admin-http.ts';

process.env.OPENFACTOR_MASTER_KEY ??= randomBytes(32).toString('hex');

let t: TestApp;
let base: string;
const PASSWORD = 'correct horse battery staple';

const http = adminHttp(() => base);
const codeOf = (otpauth: string, at = Date.now()) => new TOTP({ secret: Secret.fromBase32(new URL(otpauth).searchParams.get('secret')!), digits: 6, period: 30 }).generate({ timestamp: at });
async function signIn(email: string, password = PASSWORD, code?: string) {
  const r = await http('POST', '/admin/session', { body: { email, password, ...(code ? { code } : {}) } });
  const cookie = /^(openfactor_admin=[^;]+)/.exec(r.setCookie)?.[1];
  return { ...r, cookie, csrf: r.json.csrf_token as string | undefined };
}

let owner: { id: number; otpauth: string };

before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(async () => {
  await t.close();
});

test('the first administrator, added with the CLI: the password from standard input, kept as argon2id; signs in with it alone', async () => {
  const r = runCli(['admins', 'add', '--email', ' Ana@Example.com ', '--name', 'Ana', '--role', 'owner', '--json'], testEnv(t.db), `${PASSWORD}\n`);
  assert.equal(r.status, 0, r.stderr);
  const made = JSON.parse(r.stdout);
  owner = { id: made.id, otpauth: made.otpauth_uri };
  assert.match(made.otpauth_uri, /^otpauth:\/\/totp\/OpenFactor%20console%3Aana%40example\.com\?secret=[A-Z2-7]+/);
  const row = await t.store.db.selectFrom('admin_accounts').selectAll().where('id', '=', owner.id).executeTakeFirstOrThrow();
  assert.match(row.password_hash!, /^\$argon2id\$/);
  assert.ok(!JSON.stringify(row).includes(PASSWORD));
  const none = runCli(['admins', 'add', '--email', 'x@example.com', '--role', 'owner'], testEnv(t.db), '');
  assert.equal(none.status, 2, 'a usage error');
  assert.match(none.stderr, /reads the password from standard input/);
  assert.equal(await t.store.db.selectFrom('admin_accounts').select('id').where('email', '=', 'x@example.com').executeTakeFirst(), undefined, 'no password, no account');

  const wrong = await signIn('ana@example.com', 'not the password');
  assert.deepEqual([wrong.status, wrong.json.error_code, wrong.cookie], [401, '60001', undefined]);
  const unknown = await signIn('nobody@example.com');
  assert.equal(unknown.status, 401);
  assert.equal((await signIn('ana@example.com', 'x'.repeat(5000))).status, 401, 'a password past 1,024 characters: refused, not hashed');
  const ok = await signIn('ANA@example.com');
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.deepEqual(ok.json.principal, { kind: 'admin', name: `admin ${owner.id} (ana@example.com)`, role: 'owner', app_id: null });
  assert.match(ok.setCookie, /HttpOnly/i);
  assert.match(ok.setCookie, /SameSite=Strict/i);
  assert.match(ok.setCookie, /Path=\/admin/);
  const failures = (await http('GET', '/admin/audit?action=admin.sign_in', { cookie: ok.cookie })).json.entries.map((e: Json) => [e.action, e.actor]);
  assert.deepEqual(failures, [
    ['admin.sign_in', `admin ${owner.id} (ana@example.com)`],
    ['admin.sign_in_failed', 'ana@example.com'],
    ['admin.sign_in_failed', 'nobody@example.com'],
    ['admin.sign_in_failed', 'ana@example.com'],
  ]);
});

test('a session: reads with the cookie; a change needs its CSRF token; sign-out ends it', async () => {
  const s = await signIn('ana@example.com');
  assert.equal((await http('GET', '/admin/me', { cookie: s.cookie })).json.principal.kind, 'admin');
  const noCsrf = await http('POST', `/admin/applications/${t.appId}/settings`, { cookie: s.cookie, body: { codeTtlSeconds: 420 } });
  assert.deepEqual([noCsrf.status, noCsrf.json.error_code], [403, '60001']);
  const wrongCsrf = await http('POST', `/admin/applications/${t.appId}/settings`, { cookie: s.cookie, csrf: 'x'.repeat(43), body: { codeTtlSeconds: 420 } });
  assert.equal(wrongCsrf.status, 403);
  assert.notEqual((await t.of.services.applications.find(t.appId))!.settings.codeTtlSeconds, 420, 'nothing changed without the token');
  const changed = await http('POST', `/admin/applications/${t.appId}/settings`, { cookie: s.cookie, csrf: s.csrf, body: { codeTtlSeconds: 420 } });
  assert.equal(changed.status, 200);
  const [entry] = (await http('GET', '/admin/audit?action=application.settings', { cookie: s.cookie })).json.entries;
  assert.deepEqual([entry.actor, entry.actor_kind], [`admin ${owner.id} (ana@example.com)`, 'admin']);

  const out = await http('DELETE', '/admin/session', { cookie: s.cookie, csrf: s.csrf });
  assert.equal(out.status, 200);
  assert.match(out.setCookie, /openfactor_admin=;/);
  assert.equal((await http('GET', '/admin/me', { cookie: s.cookie })).status, 401, 'the session ended on the server');
});

test('a session past its idle time or its lifetime is refused', async () => {
  const idle = await signIn('ana@example.com');
  await t.store.db.updateTable('admin_sessions').set({ idle_until: Date.now() - 1 }).where('account_id', '=', owner.id).execute();
  assert.equal((await http('GET', '/admin/me', { cookie: idle.cookie })).status, 401);
  const old = await signIn('ana@example.com');
  await t.store.db.updateTable('admin_sessions').set({ expires_at: Date.now() - 1 }).where('account_id', '=', owner.id).execute();
  assert.equal((await http('GET', '/admin/me', { cookie: old.cookie })).status, 401);
});

test('a second administrator: now everyone gives a code; a code works once; a support role sees and may not change', async () => {
  const s = await signIn('ana@example.com');
  const added = await http('POST', '/admin/accounts', { cookie: s.cookie, csrf: s.csrf, body: { email: 'sam@example.com', name: 'Sam', password: PASSWORD, role: 'support' } });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  assert.ok(!JSON.stringify((await http('GET', '/admin/audit?action=admin.account_create', { cookie: s.cookie })).json).includes(PASSWORD), 'the password is never in the trail');
  const sam = added.json.otpauth_uri as string;

  const needsCode = await signIn('sam@example.com');
  assert.equal(needsCode.status, 401);
  assert.match(needsCode.json.message, /code your authenticator/);
  assert.equal((await signIn('sam@example.com', PASSWORD, '000000' === codeOf(sam) ? '111111' : '000000')).status, 401);
  const code = codeOf(sam);
  const ok = await signIn('sam@example.com', PASSWORD, code);
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal((await signIn('sam@example.com', PASSWORD, code)).status, 401, 'the same code again: refused');
  assert.equal((await signIn('ana@example.com')).status, 401, 'the owner too gives a code now');
  assert.equal((await signIn('ana@example.com', PASSWORD, codeOf(owner.otpauth))).status, 200);

  assert.equal((await http('GET', `/admin/applications/${t.appId}/users`, { cookie: ok.cookie })).status, 200);
  const refused = await http('POST', `/admin/applications/${t.appId}/settings`, { cookie: ok.cookie, csrf: ok.csrf, body: { codeTtlSeconds: 480 } });
  assert.deepEqual([refused.status, refused.json.message], [403, 'Your role (support) may not do this']);
});

test('a disabled administrator: sessions end at once, no sign-in; bad input to add one is refused', async () => {
  const s = await signIn('ana@example.com', PASSWORD, codeOf(owner.otpauth, Date.now() + 30_000));
  assert.equal(s.status, 200);
  const list = await http('GET', '/admin/accounts', { cookie: s.cookie });
  const sam = list.json.accounts.find((a: Json) => a.email === 'sam@example.com');
  assert.ok(!JSON.stringify(list.json).includes('argon2'), 'no hash shown');
  const samSession = await t.store.db.selectFrom('admin_sessions').select('id').where('account_id', '=', sam.id).execute();
  assert.ok(samSession.length > 0);
  assert.equal((await http('POST', `/admin/accounts/${sam.id}/disable`, { cookie: s.cookie, csrf: s.csrf })).status, 200);
  assert.deepEqual(await t.store.db.selectFrom('admin_sessions').select('id').where('account_id', '=', sam.id).execute(), []);
  assert.equal((await http('POST', `/admin/accounts/${sam.id}/disable`, { cookie: s.cookie, csrf: s.csrf })).status, 404, 'twice: none left to disable');
  for (const [body, field] of [
    [{ email: 'not an email', password: PASSWORD, role: 'admin' }, 'email'],
    [{ email: 'sam@example.com', password: PASSWORD, role: 'admin' }, 'email'],
    [{ email: 'new@example.com', password: 'short', role: 'admin' }, 'password'],
    [{ email: 'new@example.com', password: PASSWORD, role: 'god' }, 'role'],
    [{ email: 'new@example.com', password: PASSWORD, role: 'owner', app_id: t.appId }, 'app_id'],
  ] as const) {
    const r = await http('POST', '/admin/accounts', { cookie: s.cookie, csrf: s.csrf, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.json.message, new RegExp(field));
  }
});
