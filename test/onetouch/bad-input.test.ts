// The OneTouch, device and webhooks routes, sent malformed, oversized, wrongly typed and hostile
// input: always a 4xx Authy error body, never a 5xx, and nothing stored changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { createUser } from '../support/tokens.ts';
import { createApproval, registerDevice } from '../support/onetouch.ts';
import { assertAuthyError, badBodies, NASTY } from '../support/bad-input.ts';
import { OpenFactorDevice } from '../../sdk/device/src/index.ts';

let t: TestApp;
let userId: number;
let uuid: string;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
  userId = await createUser(t, 'keep@example.com', PHONES.us[0]);
  await registerDevice(t, base, userId);
  uuid = (await createApproval(t, userId, { message: 'keep me' })).json.approval_request.uuid;
  await t.of.services.applications.rotateDashboardKeys(t.appId);
});
after(() => t.close());

async function snapshot() {
  const db = t.store.db;
  return JSON.stringify({
    approvals: await db.selectFrom('approval_requests').selectAll().orderBy('id').execute(),
    keys: await db.selectFrom('device_keys').select(['id', 'public_key_sealed', 'push_subscription_sealed', 'deleted_at']).orderBy('id').execute(),
    devices: await db.selectFrom('devices').select(['id', 'user_id', 'deleted_at', 'device_key_id']).orderBy('id').execute(),
    tokens: await db.selectFrom('registration_tokens').select(['token_hash', 'used_at']).orderBy('token_hash').execute(),
    webhooks: await db.selectFrom('webhooks').select(['id', 'url']).orderBy('id').execute(),
    hooks: await db.selectFrom('hook_deliveries').select(['id', 'status']).orderBy('id').execute(),
    outbox: await db.selectFrom('outbox').select(['sid']).orderBy('id').execute(),
  });
}

const ROUTES = (id: number | string, u: string): [string, string][] => [
  ['POST', `/onetouch/{f}/users/${id}/approval_requests`],
  ['GET', `/onetouch/{f}/approval_requests/${u}`],
  ['POST', '/protected/{f}/sdk/registrations'],
  ['GET', '/protected/{f}/registrations/status'],
  ['POST', '/device/v1/registrations'],
  ['POST', '/device/v1/phone_registrations'],
  ['POST', '/device/v1/phone_registrations/8d031630-d15b-0134-b0a8-0a77bbe8093e/confirm'],
  ['GET', '/device/v1/accounts'],
  ['GET', '/device/v1/approval_requests?wait=1'],
  ['POST', `/device/v1/approval_requests/${u}`],
  ['PUT', '/device/v1/push_subscription'],
  ['DELETE', '/device/v1/device'],
  ['GET', '/device/v1/events'],
  ['POST', '/device/v1/verify_factors'],
  ['POST', '/dashboard/json/application/webhooks'],
  ['GET', '/dashboard/json/application/webhooks'],
  ['DELETE', '/dashboard/json/application/webhooks/WH_8d031630-d15b-0134-b0a8-0a77bbe8093e'],
];

test('malformed, oversized, wrongly typed bodies on every OneTouch, device and webhooks route', async () => {
  const before = await snapshot();
  let n = 0;
  for (const f of ['json', 'xml']) {
    for (const b of badBodies()) {
      for (const [method, path] of ROUTES(b.wellFormed ? 987654 : userId, b.wellFormed ? '8d031630-d15b-0134-b0a8-0a77bbe8093e' : uuid)) {
        if (f === 'xml' && !path.includes('{f}')) continue;
        const url = path.replace('{f}', f);
        const r = await call(t.of.server, method, url, { key: t.apiKey, rawBody: b.body, contentType: b.contentType });
        assertAuthyError(r, `${method} ${url} ${b.name}`);
        n++;
      }
    }
  }
  assert.ok(n > 500, `${n} bad requests checked`);
  assert.equal(await snapshot(), before, 'stored data unchanged');
});

test('hostile values in well-formed requests: 4xx with a clear message, or done safely', async () => {
  const before = await snapshot();
  for (const v of NASTY) {
    for (const body of [
      { message: 'm', details: { [v.slice(0, 21) + 'x'.repeat(21)]: 'x' } },
      { message: 'm', details: { k: { nested: v } } },
      { message: 'm', logos: [{ res: v, url: v }] },
      { message: 'm', logos: v },
      { message: 'm', seconds_to_expire: v },
      { message: 'm', number_matching: v },
      { message: `a${v.slice(0, 10)}\u0000b` },
      { message: 'm', hidden_details: { k: `x\u0000${v.slice(0, 10)}` } },
      { message: v + 'x'.repeat(201) },
    ]) {
      const r = await createApproval(t, userId, body);
      assertAuthyError(r, `create ${JSON.stringify(body).slice(0, 60)}`);
      assert.equal(r.json.error_code, '60004', JSON.stringify(body).slice(0, 60));
    }
    for (const [url, body] of [
      ['/device/v1/registrations', { registration_token: v, public_key: v, algorithm: v }],
      ['/device/v1/phone_registrations', { country_code: v, phone_number: v, via: v }],
      ['/device/v1/phone_registrations/' + encodeURIComponent(v.slice(0, 40)) + '/confirm', { code: v, public_key: v }],
    ] as const) {
      const r = await call(t.of.server, 'POST', url, { json: body });
      assertAuthyError(r, `${url.slice(0, 50)} ${v.slice(0, 12)}`);
    }
    const status = await call(t.of.server, 'GET', `/onetouch/json/approval_requests/${encodeURIComponent(v)}`, { key: t.apiKey });
    assertAuthyError(status, `status ${v.slice(0, 12)}`);
    const signed = await call(t.of.server, 'GET', '/device/v1/accounts', { headers: { 'x-openfactor-device': v.slice(0, 100), 'x-openfactor-timestamp': '1', 'x-openfactor-nonce': 'n'.repeat(20), 'x-openfactor-signature': v.slice(0, 100) } });
    assert.equal(signed.status, 401);
  }
  assert.equal(await snapshot(), before, 'nothing stored changed');

  // A device name is shown in lists: hostile names register with control characters dropped.
  for (const v of NASTY) {
    const tk = (await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: t.apiKey, form: `authy_id=${userId}` })).json.registration_token;
    const d = await OpenFactorDevice.registerWithToken(base, tk, { name: v });
    const row = await t.store.db.selectFrom('device_keys').select('name').where('id', '=', d.id).executeTakeFirstOrThrow();
    assert.doesNotMatch(row.name, /[\u0000-\u001f\u007f]/);
    assert.ok(row.name.length > 0 && row.name.length <= 100);
  }

  // Short hostile detail keys and values are data: stored and shown verbatim.
  for (const v of [NASTY[0], NASTY[2], NASTY[3], NASTY[4]]) {
    const r = await createApproval(t, userId, { message: v, details: { [v.slice(0, 20)]: v } });
    assert.equal(r.status, 200, v);
    const row = await t.store.db.selectFrom('approval_requests').select(['message', 'details']).where('uuid', '=', r.json.approval_request.uuid).executeTakeFirstOrThrow();
    assert.equal(row.message, v.trim());
    assert.deepEqual(JSON.parse(row.details), { [v.slice(0, 20)]: v });
  }
});
