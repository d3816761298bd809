// Who may call the admin API (issue 22): every route tried with no credential, a wrong one, and
// an API token of each role, unscoped and scoped to another application; the table ROUTE_ACCESS
// is the contract and every registered route must be in it. API tokens are shown once, list
// without their secret, note their last use and stop when revoked. Refusals change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startApp, type TestApp } from '../support/harness.ts';
import { ROLES, ROUTE_ACCESS, roleMay, type Role } from '../../src/admin/access.ts';

process.env.OPENFACTOR_MASTER_KEY ??= randomBytes(32).toString('hex');

let t: TestApp;
let base: string;
/** An application the scoped tokens belong to, and one whose routes every call below targets. */
let own: { id: number; apiKey: string };
const tokens = {} as Record<Role, string>;
const scoped = {} as Record<Exclude<Role, 'owner'>, string>;

type Json = Record<string, any>;
async function call(method: string, path: string, bearer?: string, body?: unknown) {
  const headers: Record<string, string> = bearer === undefined ? {} : { authorization: `Bearer ${bearer}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text };
}
const admin = (method: string, path: string, body?: unknown) => call(method, path, t.config.adminToken, body);

async function makeToken(role: Role, appId?: number, name = `${role}${appId ? `-app${appId}` : ''}`) {
  const r = await admin('POST', '/admin/tokens', { name, role, ...(appId ? { app_id: appId } : {}) });
  assert.equal(r.status, 201, r.text);
  return r.json.token as string;
}

before(async () => {
  // Every route is tried with wrong tokens: the per-address block (tested on its own) is raised here.
  t = await startApp({ OPENFACTOR_AUTH_FAILURES: '100000' });
  base = await t.listen();
  own = await t.newApplication('Scoped Shop');
  for (const role of ROLES) tokens[role] = await makeToken(role);
  for (const role of ['admin', 'support', 'read_only'] as const) scoped[role] = await makeToken(role, own.id);
});
after(async () => {
  await t.close();
});

/**
 * A harmless request for each route: what an allowed caller sends either changes nothing that
 * matters here or is refused by the route itself (400/404), never by the role check.
 */
function harmless(method: string, url: string, appId: number): { path: string; body?: unknown } {
  const path = url
    .replace(':id', String(appId))
    .replace(':user_id', '999999')
    .replace(':rid', 'nope')
    .replace(':webhook_id', '999999')
    .replace(':token_id', '999999')
    .replace(':account_id', '999999')
    .replace(':sid', `AC${'0'.repeat(32)}`);
  if (method === 'DELETE' && url === '/admin/applications/:id') return { path: `${path}?confirm=not-its-name` };
  if (method === 'GET') return { path };
  // Empty bodies: every change route refuses one (400), or finds nothing to change (404).
  return { path, body: {} };
}

test('the access table names only routes that exist (a route missing from it stops the server at start)', () => {
  for (const key of Object.keys(ROUTE_ACCESS)) {
    const [method, url] = key.split(' ');
    assert.ok(t.of.server.hasRoute({ method: method as 'GET', url }), `${key} is a route`);
  }
});

for (const [key, access] of Object.entries(ROUTE_ACCESS).filter(([, a]) => a.need !== 'public')) {
  const [method, url] = key.split(' ');
  test(`${key}: 401 without a credential or with a wrong one; each role as the table says (needs ${access.need})`, async () => {
    const target = (await t.newApplication(`Target ${key}`)).id;
    const { path, body } = harmless(method, url, target);
    for (const bearer of [undefined, 'wrong-token', `oft_${randomBytes(32).toString('base64url')}`]) {
      const r = await call(method, path, bearer, body);
      assert.equal(r.status, 401, `${key} with ${bearer ?? 'nothing'}: ${r.text}`);
      assert.equal(r.json.error_code, '60001');
    }
    for (const role of ROLES) {
      const r = await call(method, path, tokens[role], body);
      if (roleMay(role, access.need)) assert.ok(r.status !== 401 && r.status !== 403, `${role} may ${key}: ${r.status} ${r.text}`);
      else {
        assert.equal(r.status, 403, `${role} may not ${key}: ${r.text}`);
        assert.equal(r.json.error_code, '60001');
        assert.match(r.json.message, new RegExp(`\\(${role}\\)`));
      }
    }
    // A token of another application reaches nothing of this one's, not even to read.
    if (url.startsWith('/admin/applications/:id')) {
      for (const role of ['admin', 'support', 'read_only'] as const) assert.equal((await call(method, path, scoped[role], body)).status, 403, `${role} of another application: ${key}`);
    }
  });
}

test('signing in is the one route open without a credential: a wrong password is 401 there, not a role refusal', async () => {
  const r = await call('POST', '/admin/session', undefined, { email: 'nobody@example.com', password: 'wrong password' });
  assert.deepEqual([r.status, r.json.message], [401, 'Wrong email, password or code']);
});

test('a refused change changes nothing, and is in the audit trail as refused', async () => {
  const before = (await t.of.services.applications.find(t.appId))!.settings.codeTtlSeconds;
  for (const role of ['support', 'read_only'] as const) {
    const r = await call('POST', `/admin/applications/${t.appId}/settings`, tokens[role], { codeTtlSeconds: before + 60 });
    assert.equal(r.status, 403);
  }
  assert.equal((await t.of.services.applications.find(t.appId))!.settings.codeTtlSeconds, before);
  const trail = await admin('GET', `/admin/audit?action=application.settings.forbidden&app_id=${t.appId}`);
  assert.deepEqual(
    trail.json.entries.map((e: Json) => e.actor).sort(),
    ['token 3 (support)', 'token 4 (read_only)'].sort(),
  );
});

test('a token of one application: its application only, in the list, its routes and the audit trail', async () => {
  const list = await call('GET', '/admin/applications', scoped.admin);
  assert.deepEqual(list.json.applications.map((a: Json) => a.id), [own.id]);
  assert.equal((await call('GET', `/admin/applications/${own.id}/users`, scoped.read_only)).status, 200);
  assert.equal((await call('GET', `/admin/applications/${t.appId}`, scoped.admin)).status, 403);
  const changed = await call('POST', `/admin/applications/${own.id}/settings`, scoped.admin, { codeTtlSeconds: 420 });
  assert.equal(changed.status, 200, changed.text);
  assert.equal((await call('POST', `/admin/applications/${own.id}/settings`, scoped.support, { codeTtlSeconds: 480 })).status, 403);
  const me = await call('GET', '/admin/me', scoped.support);
  assert.deepEqual(me.json.principal, { kind: 'token', name: 'token 6 (support-app2)', role: 'support', app_id: own.id });
  const trail = await call('GET', '/admin/audit', scoped.read_only);
  assert.ok(trail.json.entries.length > 0);
  assert.ok(trail.json.entries.every((e: Json) => e.app_id === own.id), 'only its application’s entries');
  assert.equal((await call('GET', `/admin/audit?app_id=${t.appId}`, scoped.read_only)).json.total, 0);
});

test('API tokens: shown once, listed without the secret, last use noted, revoked at once; bad input refused', async () => {
  const made = await admin('POST', '/admin/tokens', { name: 'ci deploy', role: 'read_only' });
  assert.equal(made.status, 201);
  assert.match(made.json.token, /^oft_[A-Za-z0-9_-]{43}$/);
  const list = await admin('GET', '/admin/tokens');
  assert.ok(!list.text.includes(made.json.token), 'the list never shows a token');
  const id = made.json.api_token.id;
  assert.equal(list.json.tokens.find((x: Json) => x.id === id).last_used_at, null);
  assert.equal((await call('GET', '/admin/applications', made.json.token)).status, 200);
  assert.notEqual((await admin('GET', '/admin/tokens')).json.tokens.find((x: Json) => x.id === id).last_used_at, null, 'its use is noted');
  // Stored as a hash only.
  const row = await t.store.db.selectFrom('admin_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  assert.ok(!JSON.stringify(row).includes(made.json.token.slice(4)));
  const revoked = await admin('DELETE', `/admin/tokens/${id}`);
  assert.equal(revoked.status, 200);
  assert.notEqual(revoked.json.api_token.revoked_at, null);
  assert.equal((await call('GET', '/admin/applications', made.json.token)).status, 401, 'a revoked token stops at once');
  assert.equal((await admin('DELETE', `/admin/tokens/${id}`)).status, 404, 'twice: nothing left to revoke');
  for (const [bad, field] of [
    [{ name: '', role: 'admin' }, 'name'],
    [{ name: 'x', role: 'root' }, 'role'],
    [{ name: 'x', role: 'owner', app_id: own.id }, 'app_id'],
    [{ name: 'x', role: 'admin', app_id: 999999 }, 'app_id'],
    [{ name: 'x', role: 'admin', app_id: 'abc' }, 'app_id'],
  ] as const) {
    const r = await admin('POST', '/admin/tokens', bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.match(r.json.message, new RegExp(field));
  }
});
