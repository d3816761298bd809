// Verify v2 TOTP factors through the official twilio client: entities (create, fetch, list,
// delete), a totp factor's binding (base32 secret, otpauth URI with the service's issuer) answered
// once and sealed at rest, verification with AuthPayload (codes computed with otpauth from the
// binding), challenges approved at creation or later, replay refused (a code once per factor and
// step), Twilio's attempt caps (60310, 60308) and the factor lockout over challenges.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HOTP, Secret } from 'otpauth';
import { newAccount, raw, restError, verifyClient, verifyBed, type VerifyBed } from '../support/verify.ts';
import { unseal } from '../../src/core/crypto.ts';
import { bindingContext } from '../../src/features/verify/factors.ts';

let { t, base, acme, client, va, svc } = {} as VerifyBed;

before(async () => {
  ({ t, base, acme, client, va, svc } = await verifyBed({ friendlyName: 'Acme Bank', 'totp.issuer': 'Acme' }));
});
after(() => t?.close());

let n = 0;
const identity = () => `user-${String(++n).padStart(4, '0')}-${Date.now().toString(36)}`;

/** The code of `secret` at `offset` steps from now. */
function code(secret: string, opts: { step?: number; digits?: number; alg?: string; offset?: number } = {}) {
  const step = opts.step ?? 30;
  const counter = Math.floor(Date.now() / 1000 / step) + (opts.offset ?? 0);
  return HOTP.generate({ secret: Secret.fromBase32(secret), counter, digits: opts.digits ?? 6, algorithm: (opts.alg ?? 'sha1').toUpperCase() });
}
const wrong = (c: string) => c.replace(/./g, (d, i) => (i === 0 ? String((Number(d) + 5) % 10) : d));

/** A verified TOTP factor: 60 s steps, skew 2 (so a test can use several steps of "now"). */
async function verifiedFactor(id = identity()) {
  const f = await svc.entities(id).newFactors.create({ friendlyName: "Ann's phone", factorType: 'totp', 'config.timeStep': 60, 'config.skew': 2 });
  const secret = (f.binding as { secret: string }).secret;
  const v = await svc.entities(id).factors(f.sid).update({ authPayload: code(secret, { step: 60, offset: -2 }) });
  assert.equal(v.status, 'verified');
  return { id, sid: f.sid, secret, entity: svc.entities(id) };
}

test('entities: create (201), fetch by identity, list, delete (204, then 404); bad identities refused', async () => {
  const id = identity();
  const e = await svc.entities.create({ identity: id });
  assert.match(e.sid, /^YE[0-9a-f]{32}$/);
  assert.equal(e.identity, id);
  assert.equal(e.serviceSid, va);
  assert.equal(e.accountSid, acme.sid);
  assert.equal(e.url, `${base}/v2/Services/${va}/Entities/${id}`);
  assert.equal(e.links.factors, `${base}/v2/Services/${va}/Entities/${id}/Factors`);
  assert.equal(e.links.challenges, `${base}/v2/Services/${va}/Entities/${id}/Challenges`);
  assert.deepEqual((await svc.entities(id).fetch()).toJSON(), e.toJSON());
  assert.ok((await svc.entities.list()).some((x) => x.sid === e.sid));
  const dup = await restError(svc.entities.create({ identity: id }));
  assert.equal(dup.code, 60200);
  for (const bad of ['short', 'has space in it', 'x'.repeat(65), 'ünïcode-name']) {
    const r = await restError(svc.entities.create({ identity: bad }));
    assert.equal(r.status, 400, bad);
    assert.equal(r.code, 60200);
  }
  assert.equal(await svc.entities(id).remove(), true);
  const gone = await restError(svc.entities(id).fetch());
  assert.equal(gone.status, 404);
  assert.equal(gone.code, 20404);
});

test('a totp factor: binding once (secret, otpauth URI with the issuer), sealed at rest, verified by a code', async () => {
  const id = identity();
  const f = await svc.entities(id).newFactors.create({ friendlyName: "Ann's phone", factorType: 'totp', 'config.timeStep': 30, 'config.skew': 1, 'config.codeLength': 6, 'config.alg': 'sha1' });
  assert.match(f.sid, /^YF[0-9a-f]{32}$/);
  assert.equal(f.status, 'unverified');
  assert.equal(f.factorType, 'totp');
  assert.equal(f.identity, id);
  assert.deepEqual(f.config, { alg: 'sha1', skew: 1, code_length: 6, time_step: 30 });
  const binding = f.binding as { secret: string; uri: string };
  assert.match(binding.secret, /^[A-Z2-7]{32}$/);
  assert.equal(binding.uri, `otpauth://totp/Acme:Ann's%20phone?secret=${binding.secret}&issuer=Acme&algorithm=SHA1&digits=6&period=30`);
  assert.equal(f.url, `${base}/v2/Services/${va}/Entities/${id}/Factors/${f.sid}`);
  // The entity was made with the factor.
  assert.equal((await svc.entities(id).fetch()).identity, id);

  // Never again: fetch and list have no binding; the row holds only the sealed secret.
  const fetched = await svc.entities(id).factors(f.sid).fetch();
  assert.equal(fetched.status, 'unverified');
  const wire = await raw(base, 'GET', `/v2/Services/${va}/Entities/${id}/Factors/${f.sid}`, { user: acme.sid, password: acme.authToken });
  assert.ok(!('binding' in wire.json));
  assert.ok(!wire.text.includes(binding.secret));
  const listed = await raw(base, 'GET', `/v2/Services/${va}/Entities/${id}/Factors`, { user: acme.sid, password: acme.authToken });
  assert.equal(listed.json.meta.key, 'factors');
  assert.ok(!listed.text.includes(binding.secret));
  const row = await t.store.db.selectFrom('verify_factors').selectAll().where('sid', '=', f.sid).executeTakeFirstOrThrow();
  assert.ok(!JSON.stringify(row).includes(binding.secret), 'no plain secret in the row');
  assert.equal(unseal(t.config.masterKeys, row.binding_sealed, bindingContext(f.sid)).toString(), binding.secret);

  // A wrong code leaves it unverified; the right one verifies it.
  const no = await svc.entities(id).factors(f.sid).update({ authPayload: wrong(code(binding.secret)) });
  assert.equal(no.status, 'unverified');
  const yes = await svc.entities(id).factors(f.sid).update({ authPayload: code(binding.secret) });
  assert.equal(yes.status, 'verified');
  assert.equal((await svc.entities(id).factors.list()).find((x) => x.sid === f.sid)?.status, 'verified');

  // Update and delete.
  const renamed = await svc.entities(id).factors(f.sid).update({ friendlyName: 'Work phone' });
  assert.equal(renamed.friendlyName, 'Work phone');
  assert.equal(await svc.entities(id).factors(f.sid).remove(), true);
  assert.equal((await restError(svc.entities(id).factors(f.sid).fetch())).code, 20404);
});

test('totp config: the issuer falls back to the friendly name; 8 digits, sha256; a given Binding.Secret', async () => {
  const other = (await client.verify.v2.services.create({ friendlyName: 'No Issuer', 'totp.codeLength': 8 })).sid;
  const id = identity();
  const f = await client.verify.v2.services(other).entities(id).newFactors.create({ friendlyName: 'Key', factorType: 'totp', 'config.alg': 'sha256', 'binding.secret': 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' });
  const b = f.binding as { secret: string; uri: string };
  assert.equal(b.secret, 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
  assert.match(b.uri, /^otpauth:\/\/totp\/No%20Issuer:Key\?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=No%20Issuer&algorithm=SHA256&digits=8&period=30$/);
  assert.deepEqual(f.config, { alg: 'sha256', skew: 1, code_length: 8, time_step: 30 });
  const v = await client.verify.v2.services(other).entities(id).factors(f.sid).update({ authPayload: code(b.secret, { digits: 8, alg: 'sha256' }) });
  assert.equal(v.status, 'verified');
});

test('bad factor parameters: 400/60200, nothing stored', async () => {
  const id = identity();
  for (const opts of [
    { friendlyName: 'x', factorType: 'sms' },
    { friendlyName: '', factorType: 'totp' },
    { friendlyName: 'x', factorType: 'totp', 'config.timeStep': 10 },
    { friendlyName: 'x', factorType: 'totp', 'config.skew': 3 },
    { friendlyName: 'x', factorType: 'totp', 'config.codeLength': 9 },
    { friendlyName: 'x', factorType: 'totp', 'config.alg': 'md5' },
    { friendlyName: 'x', factorType: 'totp', 'binding.secret': 'not base32!' },
  ]) {
    const e = await restError(svc.entities(id).newFactors.create(opts as any));
    assert.equal(e.status, 400, JSON.stringify(opts));
    assert.equal(e.code, 60200);
  }
  assert.equal((await restError(svc.entities(id).fetch())).code, 20404, 'no entity made by a refused factor');
});

test('five wrong codes while verifying a factor, then 429/60310 (even with the right code)', async () => {
  const id = identity();
  const f = await svc.entities(id).newFactors.create({ friendlyName: 'Phone', factorType: 'totp' });
  const secret = (f.binding as { secret: string }).secret;
  for (let i = 0; i < 5; i++) assert.equal((await svc.entities(id).factors(f.sid).update({ authPayload: wrong(code(secret)) })).status, 'unverified');
  const e = await restError(svc.entities(id).factors(f.sid).update({ authPayload: code(secret) }));
  assert.equal(e.status, 429);
  assert.equal(e.code, 60310);
  assert.equal((await svc.entities(id).factors(f.sid).fetch()).status, 'unverified');
});

test('totp challenges: approved at creation with a good code; pending, then approved; a replayed code refused', async () => {
  const { sid, secret, entity } = await verifiedFactor();
  const now1 = code(secret, { step: 60, offset: -1 });
  const c = await entity.challenges.create({ factorSid: sid, authPayload: now1 });
  assert.match(c.sid, /^YC[0-9a-f]{32}$/);
  assert.equal(c.status, 'approved');
  assert.equal(c.factorType, 'totp');
  assert.equal(c.factorSid, sid);
  assert.ok(c.dateResponded instanceof Date);
  assert.equal(c.respondedReason, 'none');

  // The same code again (same factor, same step): refused, the challenge stays pending.
  const replay = await entity.challenges.create({ factorSid: sid, authPayload: now1 });
  assert.equal(replay.status, 'pending');
  // A pending challenge, answered later with the next step's code.
  const later = await entity.challenges(replay.sid).update({ authPayload: code(secret, { step: 60, offset: 0 }) });
  assert.equal(later.status, 'approved');
  assert.equal((await entity.challenges(replay.sid).fetch()).status, 'approved');
  // An answered challenge takes no more answers.
  const again = await restError(entity.challenges(replay.sid).update({ authPayload: code(secret, { step: 60, offset: 1 }) }));
  assert.equal(again.status, 403);

  const listed = await entity.challenges.list({ factorSid: sid, status: 'approved' });
  assert.deepEqual(listed.map((x) => x.sid).sort(), [c.sid, replay.sid].sort());
  const desc = await entity.challenges.list({ factorSid: sid, order: 'desc', limit: 1 });
  assert.equal(desc[0].sid, replay.sid);
});

test('five wrong codes on a challenge, then 429/60308; ten in a row lock the factor (60308)', async () => {
  const { sid, secret, entity } = await verifiedFactor();
  const ch = await entity.challenges.create({ factorSid: sid });
  assert.equal(ch.status, 'pending');
  for (let i = 0; i < 5; i++) assert.equal((await entity.challenges(ch.sid).update({ authPayload: wrong(code(secret, { step: 60 })) })).status, 'pending');
  const capped = await restError(entity.challenges(ch.sid).update({ authPayload: code(secret, { step: 60 }) }));
  assert.equal(capped.status, 429);
  assert.equal(capped.code, 60308);
  // Five more wrong codes on new challenges: the factor's codes are locked, even the right one.
  for (let i = 0; i < 5; i++) assert.equal((await entity.challenges.create({ factorSid: sid, authPayload: wrong(code(secret, { step: 60 })) })).status, 'pending');
  const locked = await restError(entity.challenges.create({ factorSid: sid, authPayload: code(secret, { step: 60 }) }));
  assert.equal(locked.status, 429);
  assert.equal(locked.code, 60308);
});

test('a challenge for an unverified factor: 403/60318; an expired one: expired, then 403/60323', async () => {
  const id = identity();
  const f = await svc.entities(id).newFactors.create({ friendlyName: 'Phone', factorType: 'totp' });
  const e = await restError(svc.entities(id).challenges.create({ factorSid: f.sid }));
  assert.equal(e.status, 403);
  assert.equal(e.code, 60318);

  const { sid, secret, entity } = await verifiedFactor();
  const ch = await entity.challenges.create({ factorSid: sid, expirationDate: new Date(Date.now() + 60_000) });
  assert.equal(ch.status, 'pending');
  await t.store.db.updateTable('verify_challenges').set({ expires_at: Date.now() - 1000 }).where('sid', '=', ch.sid).execute();
  assert.equal((await entity.challenges(ch.sid).fetch()).status, 'expired');
  assert.ok((await entity.challenges.list({ status: 'expired' })).some((x) => x.sid === ch.sid));
  const late = await restError(entity.challenges(ch.sid).update({ authPayload: code(secret, { step: 60, offset: 1 }) }));
  assert.equal(late.status, 403);
  assert.equal(late.code, 60323);
  const far = await restError(entity.challenges.create({ factorSid: sid, expirationDate: new Date(Date.now() + 2 * 3600_000) }));
  assert.equal(far.code, 60200);
});

test("accounts and services are isolated: another account's entity and factor are unknown", async () => {
  const { id, sid } = await verifiedFactor();
  const eve = await newAccount(t, 'Eve');
  const evil = verifyClient(base, eve.sid, eve.authToken).verify.v2.services(va);
  for (const call of [() => evil.entities(id).fetch(), () => evil.entities(id).factors(sid).fetch(), () => evil.entities(id).challenges.create({ factorSid: sid, authPayload: '123456' }), () => evil.entities(id).remove()]) {
    const e = await restError(call());
    assert.equal(e.status, 404);
    assert.equal(e.code, 20404);
  }
  assert.equal((await svc.entities(id).factors(sid).fetch()).status, 'verified');
});

test('deleting an entity deletes its factors and challenges; deleting the service deletes all', async () => {
  const { id, sid, entity } = await verifiedFactor();
  await entity.challenges.create({ factorSid: sid });
  assert.equal(await entity.remove(), true);
  const left = await t.store.db.selectFrom('verify_factors').select('id').where('sid', '=', sid).execute();
  assert.equal(left.length, 0);
  assert.equal((await restError(svc.entities(id).factors(sid).fetch())).code, 20404);

  const s = (await client.verify.v2.services.create({ friendlyName: 'Doomed' })).sid;
  const f = await client.verify.v2.services(s).entities(identity()).newFactors.create({ friendlyName: 'x', factorType: 'totp' });
  await client.verify.v2.services(s).remove();
  assert.equal((await t.store.db.selectFrom('verify_factors').select('id').where('sid', '=', f.sid).execute()).length, 0);
});

test('the same code sent ten times at once: one challenge approved, nine pending (replay across concurrent requests)', async () => {
  const { sid, secret, entity } = await verifiedFactor();
  const same = code(secret, { step: 60, offset: -1 });
  const answers = await Promise.all(Array.from({ length: 10 }, () => entity.challenges.create({ factorSid: sid, authPayload: same })));
  assert.deepEqual(answers.map((a) => a.status).sort(), ['approved', ...Array(9).fill('pending')]);
});
