// Administrators' single sign-on (issue 22) through a local OpenID Connect provider the test
// starts (oidc-provider): the authorization code flow with PKCE; the provider's verified email
// names an existing administrator (no one is added by signing in); a disabled administrator, an
// unknown or unverified email, a forged state or a replayed callback gets no session; with two
// administrators, OpenFactor's own second factor is still asked after the provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { runCli } from '../support/process.ts';
import { CookieJar, freePort, startOidcProvider, walkSignIn, type LocalProvider } from '../support/oidc.ts';

process.env.OPENFACTOR_MASTER_KEY ??= randomBytes(32).toString('hex');

let t: TestApp;
let base: string;
let idp: LocalProvider;
type Json = Record<string, any>;

const people = {
  ana: { email: 'Ana@Example.com', email_verified: true },
  olly: { email: 'olly@example.com', email_verified: true },
  mallory: { email: 'mallory@example.com', email_verified: true },
  unverified: { email: 'olly@example.com', email_verified: false },
};

async function get(path: string, jar: CookieJar, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { headers: { cookie: jar.header(base), ...headers }, redirect: 'manual' });
  jar.take(base, res);
  const text = await res.text();
  return { status: res.status, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Json, location: res.headers.get('location') };
}
const addAdmin = (email: string, role: string, password?: string) => {
  const r = runCli(['admins', 'add', '--email', email, '--role', role, '--json', ...(password ? [] : ['--sso-only'])], testEnv(t.db), password ? `${password}\n` : '');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: number; otpauth_uri: string };
};

before(async () => {
  idp = await startOidcProvider();
  // The callback is configured before the server listens: its address is fixed first.
  const port = await freePort();
  t = await startApp({ OPENFACTOR_ADMIN_OIDC_ISSUER: idp.issuer, OPENFACTOR_ADMIN_OIDC_CLIENT_ID: idp.clientId, OPENFACTOR_ADMIN_OIDC_CLIENT_SECRET: idp.clientSecret, OPENFACTOR_ADMIN_OIDC_NAME: 'Example SSO', OPENFACTOR_PUBLIC_URL: `http://127.0.0.1:${port}` });
  base = await t.listen(port);
  idp.serve(`${base}/admin/sso/callback`, people);
});
after(async () => {
  try {
    await t?.close();
  } finally {
    await idp?.close();
  }
});

test('the console learns that single sign-on is there, and its name', async () => {
  const r = await get('/admin/sign_in_options', new CookieJar());
  assert.deepEqual([r.status, r.json.sso], [200, { name: 'Example SSO', url: '/admin/sso' }]);
});

let ana: { id: number; otpauth_uri: string };

test('an administrator without a password signs in through the provider: a session cookie and the CSRF token from it', async () => {
  ana = addAdmin('ana@example.com', 'owner');
  const start = await get('/admin/sso', new CookieJar());
  assert.equal(start.status, 303);
  const to = new URL(start.location!);
  assert.equal(to.origin, idp.issuer);
  assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(to.searchParams.get('state') && to.searchParams.get('nonce'));

  const { landed, jar } = await walkSignIn(`${base}/admin/sso`, 'ana');
  assert.equal(landed, `${base}/console/#/`);
  assert.ok(jar.get(base, 'openfactor_admin'), 'a session cookie');
  const session = await get('/admin/session', jar);
  assert.equal(session.status, 200, JSON.stringify(session.json));
  assert.deepEqual(session.json.principal, { kind: 'admin', name: `admin ${ana.id} (ana@example.com)`, role: 'owner', app_id: null });
  // The CSRF token it gives opens changes, as after a password.
  const res = await fetch(`${base}/admin/applications/${t.appId}/settings`, {
    method: 'POST',
    headers: { cookie: jar.header(base), 'x-csrf-token': session.json.csrf_token, 'content-type': 'application/json' },
    body: JSON.stringify({ codeTtlSeconds: 420 }),
  });
  assert.equal(res.status, 200);
  const password = await fetch(`${base}/admin/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ana@example.com', password: '' }) });
  assert.equal(password.status, 401, 'an account without a password signs in only through the provider');
  const [entry] = (await get(`/admin/audit?action=admin.sign_in&actor=${encodeURIComponent(`admin ${ana.id} (ana@example.com)`)}`, jar)).json.entries;
  assert.deepEqual([entry.actor, entry.detail], [`admin ${ana.id} (ana@example.com)`, { via: 'sso' }]);
});

test('no session for an email no administrator has, an unverified one, or a disabled administrator', async () => {
  const mallory = await walkSignIn(`${base}/admin/sso`, 'mallory');
  assert.equal(mallory.landed, `${base}/console/#/sign-in/sso-no-account`);
  assert.equal(mallory.jar.get(base, 'openfactor_admin'), undefined);
  assert.equal(await t.store.db.selectFrom('admin_accounts').select('id').where('email', '=', 'mallory@example.com').executeTakeFirst(), undefined, 'signing in adds no one');

  const olly = addAdmin('olly@example.com', 'support');
  const unverified = await walkSignIn(`${base}/admin/sso`, 'unverified');
  assert.equal(unverified.landed, `${base}/console/#/sign-in/sso-failed`);
  assert.equal(unverified.jar.get(base, 'openfactor_admin'), undefined);

  const disabled = runCli(['admins', 'disable', '--id', String(olly.id)], testEnv(t.db));
  assert.equal(disabled.status, 0, disabled.stderr);
  const off = await walkSignIn(`${base}/admin/sso`, 'olly');
  assert.equal(off.landed, `${base}/console/#/sign-in/sso-no-account`);
  assert.equal(off.jar.get(base, 'openfactor_admin'), undefined);
});

test('a callback with a forged state, without the flow cookie, or replayed, gets no session', async () => {
  const atCallback = (u: URL) => u.pathname === '/admin/sso/callback';
  const answer = async () => {
    const r = await walkSignIn(`${base}/admin/sso`, 'ana', new CookieJar(), atCallback);
    assert.equal(new URL(r.landed).pathname, '/admin/sso/callback', 'the provider sends the browser back with a code');
    return { callback: new URL(r.landed), jar: r.jar };
  };
  const sessions = async () => (await t.store.db.selectFrom('admin_sessions').select('id').execute()).length;
  const before = await sessions();

  const forged = await answer();
  forged.callback.searchParams.set('state', 'forged-state');
  const f = await get(forged.callback.pathname + forged.callback.search, forged.jar);
  assert.deepEqual([f.status, f.location], [303, '/console/#/sign-in/sso-failed']);

  const elsewhere = await answer();
  const e = await get(elsewhere.callback.pathname + elsewhere.callback.search, new CookieJar());
  assert.equal(e.location, '/console/#/sign-in/sso-failed', 'a code given to another browser (no flow cookie) opens nothing');

  const once = await answer();
  const flow = once.jar.header(base);
  const ok = await get(once.callback.pathname + once.callback.search, once.jar);
  assert.equal(ok.location, '/console/#/');
  const replay = await fetch(`${base}${once.callback.pathname}${once.callback.search}`, { headers: { cookie: flow }, redirect: 'manual' });
  assert.equal(replay.headers.get('location'), '/console/#/sign-in/sso-failed', 'the same code, with the flow cookie kept: refused by the provider');
  assert.equal(await sessions(), before + 1, 'one session from three answers and a replay');
  const failed = (await get('/admin/audit?action=admin.sign_in_failed', once.jar)).json.entries.filter((x: Json) => x.detail.via === 'sso');
  assert.ok(failed.length >= 3, 'each refused callback is in the trail');
});

test('with two administrators, the provider is not enough: OpenFactor’s own code is asked after it', async () => {
  addAdmin('bo@example.com', 'admin', 'correct horse battery staple');
  const { landed, jar } = await walkSignIn(`${base}/admin/sso`, 'ana');
  assert.equal(landed, `${base}/console/#/sign-in/second-factor`);
  assert.equal(jar.get(base, 'openfactor_admin'), undefined, 'no session yet');
  assert.equal((await get('/admin/session', jar)).status, 401);
  const code = new TOTP({ secret: Secret.fromBase32(new URL(ana.otpauth_uri).searchParams.get('secret')!), digits: 6, period: 30 }).generate();
  const res = await fetch(`${base}/admin/session/second_factor`, { method: 'POST', headers: { cookie: jar.header(base), 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  jar.take(base, res);
  assert.equal(res.status, 200);
  assert.equal((await get('/admin/session', jar)).json.principal.role, 'owner');
});

test('without single sign-on configured, its routes say so', async () => {
  const plain = await startApp();
  try {
    const addr = await plain.listen();
    const options = await (await fetch(`${addr}/admin/sign_in_options`)).json();
    assert.equal(options.sso, null);
    const r = await fetch(`${addr}/admin/sso`, { redirect: 'manual' });
    assert.equal(r.status, 404);
  } finally {
    await plain.close();
  }
});
