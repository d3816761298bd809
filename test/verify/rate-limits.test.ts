// Verify v2 service rate limits through the official twilio client: rate limits (RK…, unique
// names: 60208, 60209) and their buckets (BL…, one per interval: 60211) created, fetched, updated,
// listed page by page and deleted; applied to verification starts (`rateLimits: {name: value}`):
// a full bucket refuses with 429/20429 and sends nothing, an unknown name is 60200, several rate
// limits count all or none, the window slides; the values are kept only as HMACs; deleting a rate
// limit or a service takes everything with it; 100 starts at once over two server processes with
// one key value against a bucket of five: exactly five go through.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { testEnv, } from '../support/harness.ts';
import { spawnServers, type ServerProcess } from '../support/process.ts';
import { newAccount, raw, restError, verifyClient, verifyBed, type VerifyBed } from '../support/verify.ts';
import { quietLog } from '../support/wait.ts';
import { Retention } from '../../src/store/retention.ts';

const DAY = 86_400_000;

const masterKey = randomBytes(32).toString('hex');
let { t, base, acme, client, va, svc } = {} as VerifyBed;

before(async () => {
  ({ t, base, acme, client, va, svc } = await verifyBed({ friendlyName: 'Limits' }, { OPENFACTOR_MASTER_KEY: masterKey }));
});
after(() => t?.close());

let n = 0;
/** A fresh US number per start (the send guard caps sends per number). */
const phone = () => `+1415556${String(1000 + n++).padStart(4, '0')}`;

const appIdOf = async (serviceSid: string) => (await t.store.db.selectFrom('verify_services').select('app_id').where('sid', '=', serviceSid).executeTakeFirstOrThrow()).app_id;
const outboxCount = async (appId: number) => (await t.store.db.selectFrom('outbox').select('id').where('app_id', '=', appId).execute()).length;

test('rate limits: create (201), 60208 for a taken name, 60209 for a bad one, fetch, update, list in pages, delete (then 404)', async () => {
  const made = await svc.rateLimits.create({ uniqueName: 'end_user_ip', description: 'per IP' });
  assert.match(made.sid, /^RK[0-9a-f]{32}$/);
  assert.equal(made.serviceSid, va);
  assert.equal(made.accountSid, acme.sid);
  assert.equal(made.uniqueName, 'end_user_ip');
  assert.equal(made.description, 'per IP');
  assert.ok(made.dateCreated instanceof Date && !Number.isNaN(made.dateCreated.getTime()));
  assert.equal(made.url, `${base}/v2/Services/${va}/RateLimits/${made.sid}`);
  assert.deepEqual(made.links, { buckets: `${made.url}/Buckets` });

  const taken = await restError(svc.rateLimits.create({ uniqueName: 'end_user_ip' }));
  assert.equal(taken.status, 400);
  assert.equal(taken.code, 60208);
  const badName = await restError(svc.rateLimits.create({ uniqueName: 'has spaces!' }));
  assert.equal(badName.status, 400);
  assert.equal(badName.code, 60209);

  const fetched = await svc.rateLimits(made.sid).fetch();
  assert.equal(fetched.uniqueName, 'end_user_ip');
  assert.equal(fetched.description, 'per IP');
  const updated = await svc.rateLimits(made.sid).update({ description: 'per end-user IP' });
  assert.equal(updated.description, 'per end-user IP');
  assert.equal(updated.uniqueName, 'end_user_ip');
  assert.equal((await svc.rateLimits(made.sid).fetch()).description, 'per end-user IP');

  const more = [await svc.rateLimits.create({ uniqueName: 'session.id' }), await svc.rateLimits.create({ uniqueName: 'user-id' })];
  assert.equal(more[0].description, null);
  const all = await svc.rateLimits.list({ pageSize: 2 });
  assert.deepEqual(all.map((r) => r.uniqueName), ['end_user_ip', 'session.id', 'user-id']);
  const page = await raw(base, 'GET', `/v2/Services/${va}/RateLimits?PageSize=2`, { user: acme.sid, password: acme.authToken });
  assert.equal(page.json.meta.key, 'rate_limits');
  assert.equal(page.json.rate_limits.length, 2);
  assert.match(page.json.meta.next_page_url, new RegExp(`^${base}/v2/Services/${va}/RateLimits\\?PageSize=2&Page=1&PageToken=PT\\d+$`));

  for (const r of more) assert.equal(await svc.rateLimits(r.sid).remove(), true);
  assert.equal(await svc.rateLimits(made.sid).remove(), true);
  for (const again of [() => svc.rateLimits(made.sid).fetch(), () => svc.rateLimits(made.sid).update({ description: 'x' }), () => svc.rateLimits(made.sid).remove()]) {
    const e = await restError(again());
    assert.equal(e.status, 404);
    assert.equal(e.code, 20404);
  }
  assert.deepEqual(await svc.rateLimits.list(), []);
});

test('buckets: create (201), 60211 for a taken interval, fetch, update Max and Interval, list, delete', async () => {
  const rk = (await svc.rateLimits.create({ uniqueName: 'bucketed' })).sid;
  const buckets = svc.rateLimits(rk).buckets;
  const b = await buckets.create({ max: 5, interval: 60 });
  assert.match(b.sid, /^BL[0-9a-f]{32}$/);
  assert.equal(b.rateLimitSid, rk);
  assert.equal(b.serviceSid, va);
  assert.equal(b.accountSid, acme.sid);
  assert.equal(b.max, 5);
  assert.equal(b.interval, 60);
  assert.equal(b.url, `${base}/v2/Services/${va}/RateLimits/${rk}/Buckets/${b.sid}`);
  const taken = await restError(buckets.create({ max: 9, interval: 60 }));
  assert.equal(taken.status, 400);
  assert.equal(taken.code, 60211);

  const hourly = await buckets.create({ max: 20, interval: 3600 });
  const fetched = await svc.rateLimits(rk).buckets(b.sid).fetch();
  assert.deepEqual([fetched.max, fetched.interval], [5, 60]);
  const updated = await svc.rateLimits(rk).buckets(b.sid).update({ max: 7 });
  assert.deepEqual([updated.max, updated.interval], [7, 60]);
  const clash = await restError(svc.rateLimits(rk).buckets(b.sid).update({ interval: 3600 }));
  assert.equal(clash.code, 60211);
  const moved = await svc.rateLimits(rk).buckets(b.sid).update({ interval: 120 });
  assert.deepEqual([moved.max, moved.interval], [7, 120]);
  assert.deepEqual((await buckets.list({ pageSize: 1 })).map((x) => [x.sid, x.max, x.interval]), [[b.sid, 7, 120], [hourly.sid, 20, 3600]]);

  assert.equal(await svc.rateLimits(rk).buckets(b.sid).remove(), true);
  const gone = await restError(svc.rateLimits(rk).buckets(b.sid).fetch());
  assert.equal(gone.code, 20404);
  assert.deepEqual((await buckets.list()).map((x) => x.sid), [hourly.sid]);
  // A bucket under another rate limit's SID is not found.
  const other = (await svc.rateLimits.create({ uniqueName: 'other' })).sid;
  assert.equal((await restError(svc.rateLimits(other).buckets(hourly.sid).fetch())).code, 20404);
});

test('applied to starts: a full bucket refuses (429, 20429) and sends nothing; other values, no RateLimits, bucketless limits go through', async () => {
  const rk = (await svc.rateLimits.create({ uniqueName: 'ip' })).sid;
  await svc.rateLimits(rk).buckets.create({ max: 2, interval: 600 });
  await svc.rateLimits.create({ uniqueName: 'unbucketed' });
  const appId = await appIdOf(va);

  const first = phone();
  assert.equal((await svc.verifications.create({ to: first, channel: 'sms', rateLimits: { ip: '203.0.113.7' } })).status, 'pending');
  assert.equal((await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { ip: '203.0.113.7' } })).status, 'pending');
  const sent = await outboxCount(appId);
  const full = await restError(svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { ip: '203.0.113.7' } }));
  assert.equal(full.status, 429);
  assert.equal(full.code, 20429);
  assert.equal(full.moreInfo, 'https://www.twilio.com/docs/errors/20429');
  assert.equal(await outboxCount(appId), sent, 'nothing sent for a refused start');
  // A resend to a number already pending is a start too.
  assert.equal((await restError(svc.verifications.create({ to: first, channel: 'call', rateLimits: { ip: '203.0.113.7' } }))).code, 20429);
  assert.equal((await svc.verifications.create({ to: first, channel: 'call' })).sendCodeAttempts.length, 2, 'without RateLimits the resend goes');

  assert.equal((await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { ip: '198.51.100.1' } })).status, 'pending', 'another value has its own count');
  assert.equal((await svc.verifications.create({ to: phone(), channel: 'sms' })).status, 'pending', 'no RateLimits, no limit');
  for (let i = 0; i < 4; i++) assert.equal((await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { unbucketed: 'same' } })).status, 'pending', 'a rate limit without buckets limits nothing');
  // Numbers as values count as their text.
  assert.equal((await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { ip: 42 } as any })).status, 'pending');

  const unknown = await restError(svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { nope: 'x' } }));
  assert.equal(unknown.status, 400);
  assert.equal(unknown.code, 60200);
  assert.match(unknown.message, /RateLimits/);
  // Another service's rate limit of the same name is not this one's.
  const other = (await client.verify.v2.services.create({ friendlyName: 'Other' })).sid;
  assert.equal((await client.verify.v2.services(other).verifications.create({ to: phone(), channel: 'sms', rateLimits: { ip: '203.0.113.7' } }).catch((e) => e)).code, 60200);
});

test('several rate limits in one start count all or none; the window slides', async () => {
  const a = (await svc.rateLimits.create({ uniqueName: 'per_user' })).sid;
  const b = (await svc.rateLimits.create({ uniqueName: 'per_session' })).sid;
  await svc.rateLimits(a).buckets.create({ max: 3, interval: 600 });
  await svc.rateLimits(b).buckets.create({ max: 1, interval: 600 });
  const both = { per_user: 'u-1', per_session: 's-1' };
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: both });
  assert.equal((await restError(svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: both }))).code, 20429, 'per_session is full');
  // per_user counted once only (the refused start counted nowhere): two more, then full.
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { per_user: 'u-1' } });
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { per_user: 'u-1' } });
  assert.equal((await restError(svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { per_user: 'u-1' } }))).code, 20429);

  // Two buckets on one rate limit: the tighter one decides; one second later it has room again.
  const c = (await svc.rateLimits.create({ uniqueName: 'burst' })).sid;
  await svc.rateLimits(c).buckets.create({ max: 1, interval: 1 });
  await svc.rateLimits(c).buckets.create({ max: 2, interval: 600 });
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { burst: 'k' } });
  assert.equal((await restError(svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { burst: 'k' } }))).code, 20429);
  await new Promise((r) => setTimeout(r, 1100));
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { burst: 'k' } });
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await restError(svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { burst: 'k' } }))).code, 20429, 'the ten-minute bucket holds two');
  // Raising the bucket's Max makes room at once.
  const tenMinutes = (await svc.rateLimits(c).buckets.list()).find((x) => x.interval === 600)!;
  await svc.rateLimits(c).buckets(tenMinutes.sid).update({ max: 3 });
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { burst: 'k' } });
});

test('key values are kept only as HMACs; deleting a rate limit deletes its buckets and counts, deleting the service everything', async () => {
  const value = 'user-4f1c9e-secret-id@example.com';
  const va2 = (await client.verify.v2.services.create({ friendlyName: 'Gone' })).sid;
  const s2 = client.verify.v2.services(va2);
  const rk = (await s2.rateLimits.create({ uniqueName: 'uid' })).sid;
  await s2.rateLimits(rk).buckets.create({ max: 10, interval: 60 });
  await s2.rateLimits(rk).buckets.create({ max: 20, interval: 3600 });
  await s2.verifications.create({ to: phone(), channel: 'sms', rateLimits: { uid: value } });
  await s2.verifications.create({ to: 'ann@example.com', channel: 'email', rateLimits: { uid: value } });
  const appId = await appIdOf(va2);
  const db = t.store.db;
  const rows = {
    verifications: await db.selectFrom('verify_verifications').selectAll().where('app_id', '=', appId).execute(),
    keys: await db.selectFrom('verify_rate_limit_keys').selectAll().where('app_id', '=', appId).execute(),
    hits: await db.selectFrom('verify_rate_limit_hits').selectAll().where('app_id', '=', appId).execute(),
  };
  assert.equal(rows.verifications.length, 2);
  assert.equal(rows.keys.length, 1);
  assert.equal(rows.hits.length, 2);
  const dump = JSON.stringify(rows);
  for (const part of [value, 'user-4f1c9e', '4f1c9e']) assert.ok(!dump.includes(part), `no row holds ${part}`);
  assert.equal(JSON.parse(rows.verifications[0].details).rate_limits.uid, rows.keys[0].key_hash, 'the verification keeps the HMAC');

  const rkId = (await db.selectFrom('verify_rate_limits').select('id').where('sid', '=', rk).executeTakeFirstOrThrow()).id;
  const countOf = async (table: 'verify_rate_limit_buckets' | 'verify_rate_limit_keys' | 'verify_rate_limit_hits') =>
    (await db.selectFrom(table).select('rate_limit_id').where('rate_limit_id', '=', rkId).execute()).length;
  assert.deepEqual([await countOf('verify_rate_limit_buckets'), await countOf('verify_rate_limit_keys'), await countOf('verify_rate_limit_hits')], [2, 1, 2]);
  assert.equal(await s2.rateLimits(rk).remove(), true);
  assert.deepEqual([await countOf('verify_rate_limit_buckets'), await countOf('verify_rate_limit_keys'), await countOf('verify_rate_limit_hits')], [0, 0, 0]);
  // The name is free again, and nothing is counted under the new one.
  const again = (await s2.rateLimits.create({ uniqueName: 'uid' })).sid;
  await s2.rateLimits(again).buckets.create({ max: 1, interval: 60 });
  await s2.verifications.create({ to: phone(), channel: 'sms', rateLimits: { uid: value } });

  assert.equal(await s2.remove(), true);
  for (const table of ['verify_rate_limits', 'verify_rate_limit_buckets', 'verify_rate_limit_keys', 'verify_rate_limit_hits'] as const) {
    assert.equal((await db.selectFrom(table).select('app_id').where('app_id', '=', appId).execute()).length, 0, `${table} emptied with the service`);
  }
  assert.equal((await restError(s2.rateLimits(again).fetch())).code, 20404);
});

test('retention drops counts and key rows older than the longest possible bucket (30 days), not younger ones', async () => {
  const rk = (await svc.rateLimits.create({ uniqueName: 'kept' })).sid;
  await svc.rateLimits(rk).buckets.create({ max: 9, interval: 2_592_000 });
  await svc.verifications.create({ to: phone(), channel: 'sms', rateLimits: { kept: 'v' } });
  const rkId = (await t.store.db.selectFrom('verify_rate_limits').select('id').where('sid', '=', rk).executeTakeFirstOrThrow()).id;
  const rows = async () => [
    (await t.store.db.selectFrom('verify_rate_limit_hits').select('id').where('rate_limit_id', '=', rkId).execute()).length,
    (await t.store.db.selectFrom('verify_rate_limit_keys').select('key_hash').where('rate_limit_id', '=', rkId).execute()).length,
  ];
  const retention = new Retention(t.store.db, quietLog, { deliveryDays: 90, auditDays: 365 });
  await retention.sweep(Date.now() + 29 * DAY);
  assert.deepEqual(await rows(), [1, 1]);
  await retention.sweep(Date.now() + 32 * DAY);
  assert.deepEqual(await rows(), [0, 0]);
});

test("another account's service, rate limit or bucket is not found (404, 20404)", async () => {
  const rk = (await svc.rateLimits.create({ uniqueName: 'mine' })).sid;
  const bl = (await svc.rateLimits(rk).buckets.create({ max: 1, interval: 10 })).sid;
  const rival = await newAccount(t, 'Rival');
  const theirs = verifyClient(base, rival.sid, rival.authToken).verify.v2.services(va);
  for (const call of [
    () => theirs.rateLimits.list(),
    () => theirs.rateLimits.create({ uniqueName: 'x' }),
    () => theirs.rateLimits(rk).fetch(),
    () => theirs.rateLimits(rk).update({ description: 'x' }),
    () => theirs.rateLimits(rk).remove(),
    () => theirs.rateLimits(rk).buckets.create({ max: 1, interval: 1 }),
    () => theirs.rateLimits(rk).buckets.list(),
    () => theirs.rateLimits(rk).buckets(bl).fetch(),
    () => theirs.rateLimits(rk).buckets(bl).update({ max: 9 }),
    () => theirs.rateLimits(rk).buckets(bl).remove(),
  ]) {
    const e = await restError(call());
    assert.equal(e.status, 404);
    assert.equal(e.code, 20404);
  }
  assert.equal((await svc.rateLimits(rk).buckets(bl).fetch()).max, 1, 'untouched');
});

test('/openapi.json lists the rate-limit and bucket routes under verify-v2', async () => {
  const spec = (await t.of.server.inject('/openapi.json')).json();
  const want: [string, string[]][] = [
    ['/v2/Services/{ServiceSid}/RateLimits', ['get', 'post']],
    ['/v2/Services/{ServiceSid}/RateLimits/{Sid}', ['delete', 'get', 'post']],
    ['/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets', ['get', 'post']],
    ['/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{Sid}', ['delete', 'get', 'post']],
  ];
  for (const [path, methods] of want) {
    const ops = spec.paths[path];
    assert.ok(ops, path);
    assert.deepEqual(Object.keys(ops).sort(), methods, path);
    for (const op of Object.values(ops) as { tags: string[] }[]) assert.deepEqual(op.tags, ['verify-v2']);
  }
});

test('100 starts at once over two processes, one key value, a bucket of five: exactly five go through', async () => {
  const BURST = 100;
  const servers: ServerProcess[] = await spawnServers(2, { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: masterKey });
  const pools = servers.map((s) => new Pool(s.url, { connections: BURST + 10 }));
  try {
    const s3 = verifyClient(servers[0].url, acme.sid, acme.authToken).verify.v2.services;
    const va3 = (await s3.create({ friendlyName: 'Burst' })).sid;
    const rk = (await s3(va3).rateLimits.create({ uniqueName: 'end_user_ip' })).sid;
    await s3(va3).rateLimits(rk).buckets.create({ max: 5, interval: 600 });
    const ip = '192.0.2.77';
    const start = async (i: number) => {
      const r = await pools[i % pools.length].request({
        method: 'POST',
        path: `/v2/Services/${va3}/Verifications`,
        headers: { authorization: `Basic ${Buffer.from(`${acme.sid}:${acme.authToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: `+1415557${String(1000 + i).padStart(4, '0')}`, Channel: 'sms', RateLimits: JSON.stringify({ end_user_ip: ip }) }).toString(),
      });
      return { status: r.statusCode, body: JSON.parse(await r.body.text()) };
    };
    const answers = await Promise.all(Array.from({ length: BURST }, (_, i) => start(i)));
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 5, `five started: ${JSON.stringify([...new Set(statuses)])}`);
    const refused = answers.filter((a) => a.status === 429);
    assert.equal(refused.length, BURST - 5);
    assert.ok(refused.every((a) => a.body.code === 20429));
    const appId = await appIdOf(va3);
    assert.equal((await t.store.db.selectFrom('verify_rate_limit_hits').select('id').where('app_id', '=', appId).execute()).length, 5, 'five counted');
    assert.equal((await t.store.db.selectFrom('verify_verifications').select('id').where('app_id', '=', appId).execute()).length, 5, 'five verifications');
    await new Promise((r) => setTimeout(r, 200));
    const logs = servers.map((s) => s.output()).join('\n');
    assert.ok(!logs.includes(ip), 'no log line holds the key value');
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.stop()));
  }
});
