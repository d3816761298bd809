// The admin API behind the console's Twilio Verify pages: an account's services with the
// applications that send their codes, and a service's verifications, paged, filtered, numbers
// masked, never codes; its TOTP and push factors, never their secrets; another account's
// services never mixed in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TOTP } from 'otpauth';
import { startApp, type TestApp } from '../support/harness.ts';

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(() => t.close());

const admin = async (path: string) => {
  const r = await fetch(`${base}/admin/${path}`, { headers: { authorization: `Bearer ${t.config.adminToken}` } });
  return { status: r.status, json: (await r.json()) as Record<string, any> };
};

/** A Verify account with a service, through the admin API and /v2 as an operator and an application would. */
async function accountWithService(name: string, service: string) {
  const account = await t.of.services.verifyCredentials.createAccount(name);
  const basic = `Basic ${Buffer.from(`${account.sid}:${account.authToken}`).toString('base64')}`;
  const v2 = async (path: string, body: string) => {
    const r = await fetch(`${base}/v2/${path}`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body });
    return { status: r.status, json: (await r.json()) as Record<string, any> };
  };
  const made = await v2('Services', `FriendlyName=${encodeURIComponent(service)}&CodeLength=8`);
  assert.equal(made.status, 201);
  return { account, serviceSid: made.json.sid as string, v2 };
}

test('an account\'s services, each with its application; the application says which service it backs', async () => {
  const { account, serviceSid } = await accountWithService('Tables One', 'Login');
  await accountWithService('Tables Other', 'Elsewhere');
  const r = await admin(`verify/accounts/${account.sid}/services`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.services.map((s: any) => [s.sid, s.friendly_name, s.code_length]), [[serviceSid, 'Login', 8]]);
  const app = await admin(`applications/${r.json.services[0].app_id}`);
  assert.deepEqual(app.json.verify_service, { sid: serviceSid, account_sid: account.sid });
  assert.equal((await admin(`applications/${t.appId}`)).json.verify_service, null, 'an Authy application backs none');
  const unknown = await admin(`verify/accounts/AC${'0'.repeat(32)}/services`);
  assert.equal(unknown.status, 404);
});

test('a service\'s verifications: newest first, a page at a time, by status and channel, numbers masked, no codes', async () => {
  const { account, serviceSid, v2 } = await accountWithService('Tables Paging', 'Paging');
  const sids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await v2(`Services/${serviceSid}/Verifications`, `To=%2B1415555${String(2100 + i)}&Channel=${i === 4 ? 'call' : 'sms'}`);
    assert.equal(r.status, 201);
    sids.push(r.json.sid);
  }
  assert.equal((await v2(`Services/${serviceSid}/Verifications/${sids[1]}`, 'Status=canceled')).status, 200);
  const appId = (await admin(`verify/accounts/${account.sid}/services`)).json.services[0].app_id;

  const seen: string[] = [];
  let cursor = '';
  for (;;) {
    const page = await admin(`applications/${appId}/verify_verifications?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200);
    assert.equal(page.json.total, 5);
    seen.push(...page.json.verifications.map((v: any) => v.sid));
    if (!page.json.next_cursor) break;
    cursor = page.json.next_cursor;
  }
  assert.deepEqual(seen, [...sids].reverse(), 'every one once, newest first');

  const all = (await admin(`applications/${appId}/verify_verifications`)).json.verifications;
  assert.equal(all[0].to, '+1-XXX-XXX-XX04');
  assert.equal(all[0].channel, 'call');
  const text = JSON.stringify(all);
  assert.ok(!text.includes('4155552100') && !/"code"/.test(text), 'no full number, no code');

  const canceled = await admin(`applications/${appId}/verify_verifications?status=canceled`);
  assert.deepEqual(canceled.json.verifications.map((v: any) => v.sid), [sids[1]]);
  const calls = await admin(`applications/${appId}/verify_verifications?channel=call`);
  assert.deepEqual(calls.json.verifications.map((v: any) => v.sid), [sids[4]]);
  const pending = await admin(`applications/${appId}/verify_verifications?status=pending&channel=sms`);
  assert.equal(pending.json.total, 3);

  // Another application (not a Verify one) has none of them.
  assert.equal((await admin(`applications/${t.appId}/verify_verifications`)).json.total, 0);
});

test('a service\'s factors: newest first, by type, status and entity, never a secret', async () => {
  const { account, serviceSid, v2 } = await accountWithService('Tables Factors', 'Factors');
  const made: { sid: string; secret: string }[] = [];
  for (const [identity, name] of [['ana-0001', 'Ana phone'], ['ana-0001', 'Ana laptop'], ['rui-0002', 'Rui phone']]) {
    const r = await v2(`Services/${serviceSid}/Entities/${identity}/Factors`, `FactorType=totp&FriendlyName=${encodeURIComponent(name)}`);
    assert.equal(r.status, 201);
    made.push({ sid: r.json.sid, secret: r.json.binding.secret });
  }
  // The first is verified with a code from its secret, as an authenticator app would show it.
  const code = new TOTP({ secret: made[0].secret, digits: 6, period: 30 }).generate();
  const verified = await v2(`Services/${serviceSid}/Entities/ana-0001/Factors/${made[0].sid}`, `AuthPayload=${code}`);
  assert.equal(verified.json.status, 'verified');
  const appId = (await admin(`verify/accounts/${account.sid}/services`)).json.services[0].app_id;

  const all = await admin(`applications/${appId}/verify_factors`);
  assert.equal(all.status, 200);
  assert.deepEqual(all.json.factors.map((f: any) => [f.identity, f.friendly_name, f.factor_type, f.status]), [
    ['rui-0002', 'Rui phone', 'totp', 'unverified'],
    ['ana-0001', 'Ana laptop', 'totp', 'unverified'],
    ['ana-0001', 'Ana phone', 'totp', 'verified'],
  ]);
  const text = JSON.stringify(all.json);
  for (const m of made) assert.ok(!text.includes(m.secret), 'no secret in the answer');
  assert.deepEqual((await admin(`applications/${appId}/verify_factors?status=verified`)).json.factors.map((f: any) => f.sid), [made[0].sid]);
  assert.equal((await admin(`applications/${appId}/verify_factors?identity=ana-0001`)).json.total, 2);
  assert.equal((await admin(`applications/${appId}/verify_factors?type=push`)).json.total, 0);
  const first = await admin(`applications/${appId}/verify_factors?limit=2`);
  const rest = await admin(`applications/${appId}/verify_factors?limit=2&cursor=${first.json.next_cursor}`);
  assert.deepEqual([...first.json.factors, ...rest.json.factors].map((f: any) => f.sid), made.map((m) => m.sid).reverse());
  assert.equal(rest.json.next_cursor, null);
  for (const q of ['type=sms', 'status=pending']) assert.equal((await admin(`applications/${appId}/verify_factors?${q}`)).status, 400, q);
});

test('bad parameters are refused with the parameter named, never a 500', async () => {
  for (const q of ['status=bogus', 'channel=whatsapp', 'limit=0', 'cursor=~~', 'cursor=bm90LW91cnM']) {
    const r = await admin(`applications/${t.appId}/verify_verifications?${q}`);
    assert.equal(r.status, 400, q);
    assert.match(r.json.message, new RegExp(q.split('=')[0]), q);
  }
  assert.equal((await admin('applications/999999/verify_verifications')).status, 404);
});
