// The admin console's tables (issue 20), as an operator sees them over the admin API: every list
// pages newest first with a cursor (each row exactly once), filters narrow it, `total` counts what
// matches, searches find only this application's rows, and bad parameters are 400s naming the
// parameter. Applications are renamed (names unique, ignoring case) and deleted with all their
// data. Everything goes through the real server and database; the database is only read, except
// where time must pass (an expiry) or an older database is imitated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { sql, type Kysely } from 'kysely';
import { dialect, startApp, testEnv, type TestApp } from '../support/harness.ts';
import { createUser } from '../support/tokens.ts';
import { createApproval, Receiver, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { indexUserEmails } from '../../src/store/contacts.ts';
import { EMITTED_WEBHOOK_EVENTS, WEBHOOK_EVENTS } from '../../src/features/webhooks/service.ts';

let t: TestApp;
let base: string;
let receiver: Receiver;
before(async () => {
  t = await startApp();
  base = await t.listen();
  receiver = await new Receiver().start();
});
after(async () => {
  await t.close();
  await receiver.close();
});

type Json = Record<string, any>;
async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.config.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Json, text };
}
const get = async (path: string) => {
  const r = await admin('GET', path);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
};
const authy = (key: string, method: string, path: string, form?: string) =>
  fetch(`${base}${path}`, { method, headers: { 'x-authy-api-key': key, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, body: form });

/** Walks a list page by page (`limit` per page) and returns each page's keys, checking `total` on every page. */
async function walk(path: string, list: string, key: string, limit: number): Promise<unknown[][]> {
  const pages: unknown[][] = [];
  let cursor: string | null = null;
  let total: number | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Json = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    total ??= page.total;
    assert.equal(page.total, total, 'the same total on every page');
    pages.push(page[list].map((r: Json) => r[key]));
    cursor = page.next_cursor;
    assert.ok(pages.length < 50, 'the walk ends');
  } while (cursor !== null);
  assert.equal(pages.flat().length, total, 'total is the number of rows walked');
  return pages;
}

/** A 400 that names the parameter, in the Authy error shape. */
async function refused(path: string, parameter: string) {
  const r = await admin('GET', path);
  assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
  assert.equal(r.json.error_code, '60004', path);
  assert.match(r.json.message, new RegExp(`^Invalid parameter: ${parameter} - `), path);
}

const phone = (i: number) => `415-555-${String(110 + i).padStart(4, '0')}`;
const e164 = (i: number) => `+1415555${String(110 + i).padStart(4, '0')}`;

test('users: pages of 3 walk 7 users exactly once, newest first; the older before_id still pages', async () => {
  const app = await t.newApplication('Paged Users');
  const ids: number[] = [];
  for (let i = 0; i < 7; i++) ids.push(await createUser(t, `paged${i}@example.com`, phone(i), '1', app.apiKey));
  const pages = await walk(`/admin/applications/${app.id}/users`, 'users', 'id', 3);
  assert.deepEqual(pages, [[ids[6], ids[5], ids[4]], [ids[3], ids[2], ids[1]], [ids[0]]]);

  const first = await get(`/admin/applications/${app.id}/users?limit=3`);
  assert.equal(first.next_before_id, ids[4]);
  const older = await get(`/admin/applications/${app.id}/users?limit=4&before_id=${first.next_before_id}`);
  assert.deepEqual(older.users.map((u: Json) => u.id), [ids[3], ids[2], ids[1], ids[0]]);
  assert.equal(older.next_before_id, null, 'nothing after the last user');
  assert.equal(older.next_cursor, null);
  // Exactly `limit` rows left: the page says there is no next one.
  assert.equal((await get(`/admin/applications/${app.id}/users?limit=7`)).next_cursor, null);
});

test('users: found by Authy id, email (any case, extra addresses too) and phone (E.164 or national); never another application\'s', async () => {
  const mine = await t.newApplication('Search Mine');
  const theirs = await t.newApplication('Search Theirs');
  const ana = await createUser(t, 'Ana.Silva@Example.com', phone(20), '1', mine.apiKey);
  const bob = await createUser(t, 'bob@example.com', phone(21), '1', mine.apiKey);
  // The same person at another application: same number, same address.
  const anaThere = await createUser(t, 'ana.silva@example.com', phone(20), '1', theirs.apiKey);
  // Registered again with another address: kept as an extra one (user_emails).
  assert.equal(await createUser(t, 'ana.work@Example.org', phone(20), '1', mine.apiKey), ana);

  const found = async (appId: number, query: string) => (await get(`/admin/applications/${appId}/users?${query}`)).users.map((u: Json) => u.id);
  assert.deepEqual(await found(mine.id, `q=${ana}`), [ana]);
  assert.deepEqual(await found(mine.id, 'q=ana.silva%40example.com'), [ana], 'case ignored');
  assert.deepEqual(await found(mine.id, 'q=%20ANA.SILVA%40EXAMPLE.COM%20'), [ana], 'trimmed too');
  assert.deepEqual(await found(mine.id, 'q=ana.work%40Example.org'), [ana], 'an extra address, as given');
  assert.deepEqual(await found(mine.id, `q=${encodeURIComponent(e164(20))}`), [ana]);
  assert.deepEqual(await found(mine.id, `q=${encodeURIComponent('+1 (415) 555-0130')}`), [ana], 'E.164 with separators');
  assert.deepEqual(await found(mine.id, `q=${phone(20)}&country_code=1`), [ana], 'national with country_code');
  assert.deepEqual(await found(mine.id, `q=bob%40example.com`), [bob]);
  assert.deepEqual(await found(mine.id, 'q=nobody%40example.com'), []);
  const none = await get(`/admin/applications/${mine.id}/users?q=nobody%40example.com`);
  assert.deepEqual([none.total, none.next_cursor], [0, null]);

  // Isolation: the other application's user is never found here, nor this one's there.
  assert.deepEqual(await found(theirs.id, `q=${ana}`), [], "an id of another application's user");
  assert.deepEqual(await found(mine.id, `q=${anaThere}`), []);
  assert.deepEqual(await found(theirs.id, 'q=ana.silva%40example.com'), [anaThere]);
  assert.deepEqual(await found(theirs.id, `q=${encodeURIComponent(e164(20))}`), [anaThere]);
  assert.deepEqual(await found(theirs.id, 'q=ana.work%40Example.org'), [], "the extra address is the other application's");

  await refused(`/admin/applications/${mine.id}/users?q=hello`, 'q');
  await refused(`/admin/applications/${mine.id}/users?q=%2B1999`, 'q');
  await refused(`/admin/applications/${mine.id}/users?q=a%40b%40c`, 'q');
  await refused(`/admin/applications/${mine.id}/users?q=4155550130`, 'q'); // not an id (too big), and no country_code
  await refused(`/admin/applications/${mine.id}/users?q=4155550130&country_code=abc`, 'country_code');
});

test('users: an address stored before the email index (migration 0029) is found once the background fill has run', async () => {
  const app = await t.newApplication('Older Users');
  const id = await createUser(t, 'Old.Timer@example.com', phone(30), '1', app.apiKey);
  // As a database upgraded from before 0029: no index on the row, the fill not done yet.
  await t.store.db.updateTable('users').set({ email_index: null }).where('id', '=', id).execute();
  await t.store.db.deleteFrom('meta').where('key', '=', 'user_emails_indexed').execute();
  const search = `/admin/applications/${app.id}/users?q=old.timer%40example.com`;
  assert.deepEqual((await get(search)).users, [], 'not indexed yet');
  assert.ok((await indexUserEmails(t.store.db, t.of.services.contacts, () => false)) >= 1);
  assert.deepEqual((await get(search)).users.map((u: Json) => u.id), [id]);
  assert.equal(await indexUserEmails(t.store.db, t.of.services.contacts, () => false), 0, 'done once');
});

test('users: locked=true lists only users locked out now; locked=false the others', async () => {
  const app = await t.newApplication('Locked Users');
  const a = await createUser(t, 'l1@example.com', phone(40), '1', app.apiKey);
  const b = await createUser(t, 'l2@example.com', phone(41), '1', app.apiKey);
  const c = await createUser(t, 'l3@example.com', phone(42), '1', app.apiKey);
  for (let i = 0; i < 10; i++) assert.equal((await authy(app.apiKey, 'GET', `/protected/json/verify/${1000000 + i}/${b}?force=true`)).status, 401);
  const locked = await get(`/admin/applications/${app.id}/users?locked=true`);
  assert.deepEqual(locked.users.map((u: Json) => u.id), [b]);
  assert.equal(locked.total, 1);
  assert.ok(Date.parse(locked.users[0].locked_until) > Date.now());
  assert.deepEqual((await get(`/admin/applications/${app.id}/users?locked=false`)).users.map((u: Json) => u.id), [c, a]);
  await refused(`/admin/applications/${app.id}/users?locked=yes`, 'locked');
});

test('every table refuses a bad limit or cursor with a 400 naming it, never a 500', async () => {
  const { id } = await t.newApplication('Bad Params');
  const forged = Buffer.from('c1:abc').toString('base64url');
  for (const table of ['users', 'messages', 'verifications', 'deliveries', 'approvals', 'devices']) {
    for (const limit of ['0', '501', 'abc', '-1', '1.5']) await refused(`/admin/applications/${id}/${table}?limit=${limit}`, 'limit');
    for (const cursor of ['not-a-cursor!', 'abc', forged, Buffer.from('c1:0').toString('base64url'), 'x'.repeat(100)]) {
      await refused(`/admin/applications/${id}/${table}?cursor=${encodeURIComponent(cursor)}`, 'cursor');
    }
    await refused(`/admin/applications/${id}/${table}?cursor=a&cursor=b`, 'cursor');
    assert.equal((await admin('GET', `/admin/applications/999999/${table}`)).status, 404);
  }
  await refused(`/admin/applications/${id}/users?before_id=x`, 'before_id');
});

test('messages: paged newest first, filtered by channel and status; unknown values refused', async () => {
  const app = await t.newApplication('Messages App');
  const users: number[] = [];
  for (let i = 0; i < 6; i++) users.push(await createUser(t, `m${i}@example.com`, phone(50 + i), '1', app.apiKey));
  for (const u of users) assert.equal((await authy(app.apiKey, 'GET', `/protected/json/sms/${u}?force=true`)).status, 200);
  assert.equal((await authy(app.apiKey, 'GET', `/protected/json/call/${users[0]}?force=true`)).status, 200);
  await until('all sent', async () => (await t.store.db.selectFrom('outbox').select('status').where('app_id', '=', app.id).where('status', '=', 'sent').execute()).length === 7);

  const path = `/admin/applications/${app.id}/messages`;
  const pages = await walk(path, 'messages', 'id', 3);
  assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
  const ids = pages.flat();
  assert.equal(new Set(ids).size, 7, 'no message twice');
  const all = (await get(`${path}?limit=7`)).messages;
  assert.deepEqual(all.map((m: Json) => m.id), ids, 'the walk is the list, in order');
  assert.deepEqual(all.map((m: Json) => m.channel), ['voice', 'sms', 'sms', 'sms', 'sms', 'sms', 'sms'], 'newest first');
  assert.equal(all[0].to, '+1-XXX-XXX-XX60');

  const voice = await get(`${path}?channel=voice`);
  assert.deepEqual([voice.total, voice.messages.map((m: Json) => m.channel)], [1, ['voice']]);
  assert.deepEqual((await walk(`${path}?channel=sms&status=sent`, 'messages', 'id', 4)).map((p) => p.length), [4, 2]);
  const failed = await get(`${path}?status=failed`);
  assert.deepEqual([failed.total, failed.messages, failed.next_cursor], [0, [], null]);
  assert.equal((await get(`/admin/applications/${t.appId}/messages?channel=voice`)).messages.some((m: Json) => ids.includes(m.id)), false, 'only this application');
  await refused(`${path}?status=bogus`, 'status');
  await refused(`${path}?channel=fax`, 'channel');

  // Searched by the user's Authy id (with the channel filter too) or by a message id.
  assert.equal(all[0].authy_id, users[0]);
  const toFirst = await get(`${path}?q=${users[0]}`);
  assert.deepEqual([toFirst.total, toFirst.messages.map((m: Json) => [m.authy_id, m.channel])], [2, [[users[0], 'voice'], [users[0], 'sms']]]);
  assert.deepEqual((await get(`${path}?q=${users[0]}&channel=sms`)).messages.map((m: Json) => m.channel), ['sms']);
  const one = await get(`${path}?q=${all[3].id}`);
  assert.deepEqual([one.total, one.messages.map((m: Json) => m.id)], [1, [all[3].id]]);
  // Another application's user or message finds nothing here.
  const elsewhere = await createUser(t, 'm-elsewhere@example.com', phone(59));
  assert.equal((await authy(t.apiKey, 'GET', `/protected/json/sms/${elsewhere}?force=true`)).status, 200);
  assert.equal((await get(`${path}?q=${elsewhere}`)).total, 0);
  const theirs = (await get(`/admin/applications/${t.appId}/messages?q=${elsewhere}`)).messages[0].id;
  assert.equal((await get(`${path}?q=${theirs}`)).total, 0);
  await refused(`${path}?q=someone@example.com`, 'q');
  await refused(`${path}?q=SM123`, 'q');
});

test('phone verifications: filtered by status (expired as shown), via and number; paged', async () => {
  const app = await t.newApplication('Verifications App');
  const start = (n: number, via: string) =>
    authy(app.apiKey, 'POST', '/protected/json/phones/verification/start', `via=${via}&country_code=1&phone_number=202-555-01${n}`).then((r) => r.status);
  for (const [n, via] of [[71, 'sms'], [72, 'call'], [73, 'sms'], [74, 'sms']] as const) assert.equal(await start(n, via), 200);
  const rows = await t.store.db.selectFrom('phone_verifications').select(['id', 'uuid']).where('app_id', '=', app.id).orderBy('id').execute();
  // Time passes for the first: pending past its expiry reads as expired. The last is used up.
  await t.store.db.updateTable('phone_verifications').set({ expires_at: Date.now() - 1000 }).where('id', '=', rows[0].id).execute();
  await t.store.db.updateTable('phone_verifications').set({ status: 'dead', code_sealed: null }).where('id', '=', rows[3].id).execute();

  const path = `/admin/applications/${app.id}/verifications`;
  assert.deepEqual(await walk(path, 'verifications', 'uuid', 3), [[rows[3].uuid, rows[2].uuid, rows[1].uuid], [rows[0].uuid]]);
  const by = async (query: string) => (await get(`${path}?${query}`)).verifications.map((v: Json) => [v.uuid, v.status]);
  assert.deepEqual(await by('status=expired'), [[rows[0].uuid, 'expired']]);
  assert.deepEqual(await by('status=pending'), [[rows[2].uuid, 'pending'], [rows[1].uuid, 'pending']], 'not the expired one');
  assert.deepEqual(await by('status=dead'), [[rows[3].uuid, 'dead']]);
  assert.deepEqual(await by('via=call'), [[rows[1].uuid, 'pending']]);
  assert.deepEqual(await by(`q=${encodeURIComponent('+12025550173')}`), [[rows[2].uuid, 'pending']]);
  assert.deepEqual(await by('q=202-555-0171&country_code=1&status=expired'), [[rows[0].uuid, 'expired']]);
  assert.deepEqual(await by('q=202-555-0171&country_code=1&status=pending'), []);
  assert.equal((await get(`${path}?status=pending`)).total, 2);
  await refused(`${path}?status=bogus`, 'status');
  await refused(`${path}?via=email`, 'via');
  await refused(`${path}?q=202-555-0171`, 'country_code');
  await refused(`${path}?q=abc&country_code=1`, 'q');

  // Traffic per day: phone verifications by status as shown, today.
  const today = (await get(`/admin/applications/${app.id}/traffic?days=2`)).days[1];
  assert.deepEqual(today.verifications, { expired: 1, pending: 2, dead: 1 });
});

test('deliveries: paged, filtered by kind, status and event', async () => {
  const app = await t.newApplication('Deliveries App');
  const hookUrl = `${receiver.url.replace(/\/authy\/callback$/, '')}/tables-hook`;
  assert.equal((await admin('POST', `/admin/applications/${app.id}/webhooks`, { name: 'audit', url: hookUrl, events: ['user_added', 'user_removed'] })).status, 201);
  await t.of.services.applications.setCallback(app.id, receiver.url, 'POST', t.of.services.destinations);
  const users: number[] = [];
  for (let i = 0; i < 4; i++) users.push(await createUser(t, `d${i}@example.com`, phone(60 + i), '1', app.apiKey));
  assert.equal((await authy(app.apiKey, 'POST', `/protected/json/users/${users[3]}/remove`)).status, 200);
  const device = await registerDevice({ ...t, apiKey: app.apiKey } as TestApp, base, users[0]);
  assert.equal((await createApproval(t, users[0], { message: 'Pay?' }, app.apiKey)).status, 200);
  const [pending] = await device.pendingApprovals();
  await device.approve(pending);
  const path = `/admin/applications/${app.id}/deliveries`;
  // 4 user_added, 1 user_removed, 1 callback.
  await until('6 deliveries done', async () => (await get(`${path}?status=delivered`)).total === 6, 10_000);

  const pages = await walk(path, 'deliveries', 'id', 4);
  assert.deepEqual(pages.map((p) => p.length), [4, 2]);
  const ids = pages.flat() as number[];
  assert.deepEqual([...ids].sort((a, b) => b - a), ids, 'newest first');
  const callbacks = await get(`${path}?kind=callback`);
  assert.deepEqual(callbacks.deliveries.map((d: Json) => [d.kind, d.event, d.status]), [['callback', 'approval_request_status', 'delivered']]);
  assert.equal(callbacks.deliveries[0].attempts[0].http_status, 200);
  assert.deepEqual((await get(`${path}?event=user_added`)).deliveries.map((d: Json) => d.event), ['user_added', 'user_added', 'user_added', 'user_added']);
  assert.equal((await get(`${path}?kind=webhook&event=user_removed`)).total, 1);
  assert.equal((await get(`${path}?kind=callback&event=user_added`)).total, 0);
  assert.equal((await get(`${path}?status=failed`)).total, 0);
  await refused(`${path}?kind=email`, 'kind');
  await refused(`${path}?status=bogus`, 'status');
  await refused(`${path}?event=user_exploded`, 'event');
});

test('approvals: the OneTouch log, paged; status as the Authy API shows it; who answered; never hidden details', async () => {
  const app = await t.newApplication('Approvals App');
  const as = { ...t, apiKey: app.apiKey, appId: app.id } as TestApp;
  const alice = await createUser(t, 'alice@example.com', phone(70), '1', app.apiKey);
  const carol = await createUser(t, 'carol@example.com', phone(71), '1', app.apiKey);
  const device = await registerDevice(as, base, alice, { osType: 'ios' });
  await registerDevice(as, base, carol);
  const uuids: string[] = [];
  for (const [who, message] of [[alice, 'First'], [alice, 'Second'], [alice, 'Third'], [alice, 'Fourth'], [carol, 'Carol']] as const) {
    const r = await createApproval(as, who, { message, hidden_details: { secret_note: 'n0t-f0r-0perators' }, seconds_to_expire: 600 }, app.apiKey);
    assert.equal(r.status, 200, r.text);
    uuids.push(r.json.approval_request.uuid);
  }
  const shown = await device.pendingApprovals();
  await device.approve(shown.find((a) => a.uuid === uuids[0])!);
  await device.deny(shown.find((a) => a.uuid === uuids[1])!);
  // Time passes for the third: still `pending` in its row, past its expiry.
  await t.store.db.updateTable('approval_requests').set({ expires_at: Date.now() - 1000 }).where('uuid', '=', uuids[2]).execute();

  const path = `/admin/applications/${app.id}/approvals`;
  assert.deepEqual(await walk(path, 'approvals', 'uuid', 2), [[uuids[4], uuids[3]], [uuids[2], uuids[1]], [uuids[0]]]);
  const all = await get(`${path}?limit=5`);
  assert.ok(!JSON.stringify(all).includes('n0t-f0r-0perators'), 'hidden details never shown');
  const byUuid = Object.fromEntries(all.approvals.map((a: Json) => [a.uuid, a]));
  const approved = byUuid[uuids[0]];
  assert.equal(approved.status, 'approved');
  assert.equal(approved.authy_id, alice);
  assert.equal(approved.message, 'First');
  assert.ok(Date.parse(approved.answered_at) >= Date.parse(approved.created_at));
  assert.equal(approved.device.name, 'test phone');
  assert.equal(approved.device.os_type, 'ios');
  const [listedDevice] = (await get(`/admin/applications/${app.id}/devices?q=${alice}`)).devices;
  assert.equal(approved.device.id, listedDevice.id, 'the device as the devices table shows it');
  assert.equal(byUuid[uuids[1]].status, 'denied');
  assert.deepEqual([byUuid[uuids[2]].status, byUuid[uuids[2]].answered_at, byUuid[uuids[2]].device], ['expired', null, null]);
  assert.deepEqual([byUuid[uuids[3]].status, byUuid[uuids[3]].device], ['pending', null]);

  const by = async (query: string) => (await get(`${path}?${query}`)).approvals.map((a: Json) => a.uuid);
  assert.deepEqual(await by('status=expired'), [uuids[2]]);
  assert.deepEqual(await by('status=pending'), [uuids[4], uuids[3]], 'not the one past its expiry');
  assert.deepEqual(await by('status=approved'), [uuids[0]]);
  assert.deepEqual(await by(`q=${carol}`), [uuids[4]]);
  assert.deepEqual(await by(`q=${carol}&status=approved`), []);
  assert.equal((await get(`${path}?q=${alice}`)).total, 4);
  assert.deepEqual(await by(`q=${alice}`).then((l) => l.length), 4);
  assert.deepEqual((await get(`/admin/applications/${t.appId}/approvals?q=${alice}`)).approvals, [], 'only this application');
  await refused(`${path}?status=maybe`, 'status');
  await refused(`${path}?q=alice`, 'q');
});

test('devices: live ones by default, removed ones with include_deleted (and deleted_at); never keys', async () => {
  const app = await t.newApplication('Devices App');
  const as = { ...t, apiKey: app.apiKey, appId: app.id } as TestApp;
  const users: number[] = [];
  for (let i = 0; i < 3; i++) users.push(await createUser(t, `dev${i}@example.com`, phone(80 + i), '1', app.apiKey));
  for (const u of users) await registerDevice(as, base, u, { osType: u === users[1] ? 'ios' : 'android' });
  await registerDevice(as, base, users[0], { osType: 'android' });
  const rows = await t.store.db.selectFrom('devices').select(['id', 'user_id']).where('app_id', '=', app.id).orderBy('id').execute();
  assert.equal(rows.length, 4);
  await t.store.db.updateTable('devices').set({ deleted_at: Date.now() }).where('id', '=', rows[1].id).execute();

  const path = `/admin/applications/${app.id}/devices`;
  assert.deepEqual(await walk(path, 'devices', 'id', 2), [[rows[3].id, rows[2].id], [rows[0].id]]);
  const live = await get(path);
  assert.deepEqual(Object.keys(live.devices[0]).sort(), ['authy_id', 'id', 'last_seen_at', 'name', 'os_type', 'pending_approval', 'registered_at', 'registration_method']);
  assert.deepEqual([live.devices[0].authy_id, live.devices[0].name, live.devices[0].registration_method], [users[0], 'test phone', 'sdk']);
  assert.ok(!/public_key|BEGIN|signing/i.test(JSON.stringify(live)), 'no key material');
  const withDeleted = await walk(`${path}?include_deleted=true`, 'devices', 'id', 3);
  assert.deepEqual(withDeleted, [[rows[3].id, rows[2].id, rows[1].id], [rows[0].id]]);
  const removed = (await get(`${path}?include_deleted=true`)).devices.find((d: Json) => d.id === rows[1].id);
  assert.ok(Date.parse(removed.deleted_at) > 0);
  assert.equal((await get(`${path}?include_deleted=true`)).devices.find((d: Json) => d.id === rows[0].id).deleted_at, null);
  assert.deepEqual((await get(`${path}?q=${users[0]}`)).devices.map((d: Json) => d.id), [rows[3].id, rows[0].id]);
  assert.equal((await get(`${path}?q=${users[1]}`)).total, 0, 'its only device was removed');
  assert.equal((await get(`${path}?q=${users[1]}&include_deleted=true`)).total, 1);
  assert.deepEqual((await get(`/admin/applications/${t.appId}/devices?q=${users[0]}`)).devices, [], 'only this application');
  await refused(`${path}?include_deleted=1`, 'include_deleted');
  await refused(`${path}?q=-3`, 'q');
});

test('applications: searched by name or id and paged oldest first with a cursor, each exactly once; bad paging refused', async () => {
  const made = [];
  for (let i = 0; i < 5; i++) made.push((await t.newApplication(`Paging Shop ${i}`)).id);
  const seen: number[] = [];
  let cursor = '';
  for (let pages = 0; pages < 4; pages++) {
    const r = await admin('GET', `/admin/applications?q=paging%20SHOP&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 5);
    seen.push(...r.json.applications.map((a: Json) => a.id));
    if (r.json.next_cursor === null) break;
    cursor = r.json.next_cursor;
  }
  assert.deepEqual(seen, made, 'every match once, oldest first, over three pages');
  const byId = await admin('GET', `/admin/applications?q=${made[3]}`);
  assert.deepEqual(byId.json.applications.map((a: Json) => a.name), ['Paging Shop 3']);
  // Without limit every application comes in one answer, as before.
  const all = await admin('GET', '/admin/applications');
  assert.equal(all.json.applications.length, all.json.total);
  assert.equal(all.json.next_cursor, null);
  for (const bad of ['limit=0', 'limit=501', 'limit=x', 'cursor=%3Cscript%3E', `q=${'a'.repeat(65)}`]) {
    const r = await admin('GET', `/admin/applications?${bad}`);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.error_code, '60004', bad);
  }
});

test('rename: the Authy API shows the new name; names are unique trimmed and ignoring case (409), on create too', async () => {
  const app = await t.newApplication('Old Name');
  const other = await t.newApplication('Taken Name');
  const r = await admin('POST', `/admin/applications/${app.id}/name`, { name: '  New Name ' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.application.name, r.json.message], ['New Name', 'Application renamed.']);
  const details = async (key: string) => ((await (await authy(key, 'GET', '/protected/json/app/details')).json()) as Json).app.name;
  assert.equal(await details(app.apiKey), 'New Name');

  for (const name of ['Taken Name', ' taken name ', 'TAKEN NAME']) {
    const taken = await admin('POST', `/admin/applications/${app.id}/name`, { name });
    assert.equal(taken.status, 409, name);
    assert.equal(taken.json.success, false);
    assert.match(taken.json.message, /already named/);
    const made = await admin('POST', '/admin/applications', { name });
    assert.equal(made.status, 409, `create ${name}`);
  }
  assert.equal(await details(app.apiKey), 'New Name', 'unchanged by the refusals');
  assert.equal((await admin('GET', '/admin/applications?q=taken')).json.applications.length, 1, 'no second one made');
  // Its own name in another case is no conflict.
  assert.equal((await admin('POST', `/admin/applications/${app.id}/name`, { name: 'NEW name' })).json.application.name, 'NEW name');
  for (const name of ['', '   ', 'x'.repeat(65), 'tab\there', 7, null]) {
    const bad = await admin('POST', `/admin/applications/${app.id}/name`, { name });
    assert.equal(bad.status, 400, JSON.stringify(name));
    assert.match(bad.json.message, /^Invalid parameter: name - /);
  }
  assert.equal((await admin('POST', '/admin/applications/999999/name', { name: 'Nobody' })).status, 404);

  // A database from before unique names may hold two alike: both stay listed and usable, and one is renamed away.
  const { id: dup } = await t.store.db.insertInto('applications').values({ name: 'taken name', api_key_hash: 'old-dup-hash', api_key_sealed: '', created_at: Date.now() }).returning('id').executeTakeFirstOrThrow();
  const listed = (await admin('GET', '/admin/applications?q=TAKEN')).json.applications.map((a: Json) => a.id);
  assert.deepEqual(listed, [other.id, dup]);
  assert.equal((await admin('GET', `/admin/applications/${dup}`)).status, 200);
  assert.equal((await admin('POST', `/admin/applications/${dup}/name`, { name: 'Taken Name 2' })).status, 200);
  assert.deepEqual((await admin('GET', '/admin/applications?q=no%20such%20app')).json.applications, []);
  assert.equal((await admin('GET', `/admin/applications?q=${'x'.repeat(65)}`)).status, 400);
});

/** Every table with an `app_id` column, read from the database itself (so a new table is counted too). */
async function tablesWithAppId(db: Kysely<any>): Promise<string[]> {
  if (dialect === 'postgres') {
    const r = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.columns WHERE column_name = 'app_id' AND table_schema = current_schema()`.execute(db);
    return r.rows.map((x) => x.table_name).sort();
  }
  const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(db);
  const out: string[] = [];
  for (const { name } of tables.rows) {
    const cols = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${name})`.execute(db);
    if (cols.rows.some((c) => c.name === 'app_id')) out.push(name);
  }
  return out.sort();
}

async function rowsOf(db: Kysely<any>, appId: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await tablesWithAppId(db)) {
    counts[table] = Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow()).n);
  }
  counts.applications = Number((await db.selectFrom('applications').select((eb) => eb.fn.countAll().as('n')).where('id', '=', appId).executeTakeFirstOrThrow()).n);
  return counts;
}

/** Makes data of every kind for an application, through its APIs. */
async function populate(app: { id: number; apiKey: string }, n: number) {
  const as = { ...t, apiKey: app.apiKey, appId: app.id } as TestApp;
  const hookUrl = `${receiver.url.replace(/\/authy\/callback$/, '')}/populate-hook`;
  assert.equal((await admin('POST', `/admin/applications/${app.id}/webhooks`, { name: 'all', url: hookUrl, events: ['user_added', 'token_invalid'] })).status, 201);
  const providers = await admin('POST', `/admin/applications/${app.id}/providers`, { sms: `${receiver.url.replace(/\/authy\/callback$/, '')}/sms?secret=abcdefabcdefabcdef12` });
  assert.equal(providers.status, 200, providers.text);
  assert.equal((await admin('POST', `/admin/applications/${app.id}/dashboard_keys`)).status, 200);
  await t.of.services.applications.setCallback(app.id, receiver.url, 'POST', t.of.services.destinations);
  const user = await createUser(t, `pop${n}@example.com`, phone(90 + n), '1', app.apiKey);
  await createUser(t, `pop${n}.other@example.com`, phone(90 + n), '1', app.apiKey); // an extra address
  assert.equal((await authy(app.apiKey, 'GET', `/protected/json/sms/${user}?force=true`)).status, 200);
  assert.equal((await authy(app.apiKey, 'GET', `/protected/json/verify/1234567/${user}?force=true`)).status, 401);
  assert.equal((await authy(app.apiKey, 'POST', `/protected/json/users/${user}/secret`)).status, 200);
  assert.equal((await authy(app.apiKey, 'POST', `/protected/json/users/${user}/register_activity`, 'type=cookie_login&data[ip]=1.2.3.4')).status, 200);
  assert.equal((await authy(app.apiKey, 'POST', '/protected/json/phones/verification/start', `via=sms&country_code=1&phone_number=202-555-01${80 + n}`)).status, 200);
  const device = await registerDevice(as, base, user);
  assert.equal((await createApproval(as, user, { message: 'Delete me' }, app.apiKey)).status, 200);
  const [pending] = await device.pendingApprovals();
  await device.approve(pending);
  await t.of.services.usage.flush();
  await until('sent and delivered', async () => {
    const sent = await t.store.db.selectFrom('outbox').select('id').where('app_id', '=', app.id).where('status', 'not in', ['queued', 'sending']).execute();
    const hooks = await t.store.db.selectFrom('hook_deliveries').select('id').where('app_id', '=', app.id).where('status', '=', 'delivered').execute();
    return sent.length >= 2 && hooks.length >= 3;
  }, 10_000);
  return user;
}

test('delete: a wrong or missing confirm deletes nothing; the name deletes every row of the application, its key stops, others untouched', async () => {
  const doomed = await t.newApplication('Doomed App');
  const kept = await t.newApplication('Kept App');
  const doomedUser = await populate(doomed, 1);
  await populate(kept, 2);
  const before = await rowsOf(t.store.db, doomed.id);
  for (const table of ['users', 'devices', 'approval_requests', 'outbox', 'hook_deliveries', 'webhooks', 'phone_verifications', 'authenticators', 'activities', 'app_providers', 'usage_monthly', 'sent_codes']) {
    assert.ok(before[table] > 0, `the test made ${table} rows`);
  }
  const keptBefore = await rowsOf(t.store.db, kept.id);
  const childrenOf = async (appId: number) => ({
    user_emails: (await t.store.db.selectFrom('user_emails').innerJoin('users', 'users.id', 'user_emails.user_id').select('users.id').where('users.app_id', '=', appId).execute()).length,
    hook_attempts: (await t.store.db.selectFrom('hook_attempts').innerJoin('hook_deliveries', 'hook_deliveries.id', 'hook_attempts.delivery_id').select('hook_attempts.id').where('hook_deliveries.app_id', '=', appId).execute()).length,
    delivery_attempts: (await t.store.db.selectFrom('delivery_attempts').innerJoin('outbox', 'outbox.id', 'delivery_attempts.outbox_id').select('delivery_attempts.id').where('outbox.app_id', '=', appId).execute()).length,
  });
  const doomedChildren = await childrenOf(doomed.id);
  assert.ok(doomedChildren.user_emails > 0 && doomedChildren.hook_attempts > 0 && doomedChildren.delivery_attempts > 0);
  const keptChildren = await childrenOf(kept.id);

  for (const [path, body] of [
    [`/admin/applications/${doomed.id}`, undefined],
    [`/admin/applications/${doomed.id}?confirm=`, undefined],
    [`/admin/applications/${doomed.id}?confirm=doomed%20app`, undefined],
    [`/admin/applications/${doomed.id}?confirm=Kept%20App`, undefined],
    [`/admin/applications/${doomed.id}`, { confirm: 'Doomed' }],
    [`/admin/applications/${doomed.id}`, { confirm: ['Doomed App'] }],
  ] as const) {
    const r = await admin('DELETE', path, body);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.message, "Invalid parameter: confirm - type the application's name to delete it");
  }
  assert.deepEqual(await rowsOf(t.store.db, doomed.id), before, 'nothing lost');
  assert.equal((await authy(doomed.apiKey, 'GET', '/protected/json/app/details')).status, 200);

  const done = await admin('DELETE', `/admin/applications/${doomed.id}`, { confirm: 'Doomed App' });
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.json, { message: 'Application deleted.', success: true });
  assert.equal((await authy(doomed.apiKey, 'GET', '/protected/json/app/details')).status, 401, 'the key stops at once');
  assert.equal((await authy(doomed.apiKey, 'GET', `/protected/json/users/${doomedUser}/status`)).status, 401);
  const { audit_log: told, ...after } = await rowsOf(t.store.db, doomed.id);
  assert.deepEqual(Object.entries(after).filter(([, n]) => n > 0), [], 'no row of the application left in any table with app_id');
  // The audit trail alone keeps telling of it: who changed and deleted it stays on record.
  assert.ok(told > 0);
  const trail = await admin('GET', `/admin/audit?app_id=${doomed.id}&action=application.delete`);
  assert.deepEqual(trail.json.entries.map((e: Json) => e.detail.changed), [{ application: ['Doomed App', null] }]);
  assert.deepEqual(await childrenOf(doomed.id), { user_emails: 0, hook_attempts: 0, delivery_attempts: 0 });
  assert.equal((await t.store.db.selectFrom('user_emails').select('user_id').where('user_id', '=', doomedUser).execute()).length, 0, 'extra addresses of its users gone');

  assert.deepEqual(await rowsOf(t.store.db, kept.id), keptBefore, 'the other application untouched');
  assert.deepEqual(await childrenOf(kept.id), keptChildren);
  assert.equal((await authy(kept.apiKey, 'GET', '/protected/json/app/details')).status, 200);
  assert.equal((await admin('GET', `/admin/applications/${doomed.id}`)).status, 404);
  assert.equal((await admin('DELETE', `/admin/applications/${doomed.id}?confirm=Doomed%20App`)).status, 404, 'gone');
  // The name is free again; the query form of confirm works too.
  const again = await admin('POST', '/admin/applications', { name: 'Doomed App' });
  assert.equal(again.status, 201);
  assert.equal((await admin('DELETE', `/admin/applications/${again.json.application.id}?confirm=Doomed%20App`)).status, 200);
});

test('webhooks: the form offers the events OpenFactor sends; any of Authy\'s is still accepted', async () => {
  const app = await t.newApplication('Events App');
  const r = await get(`/admin/applications/${app.id}/webhooks`);
  assert.deepEqual(r.events, [...EMITTED_WEBHOOK_EVENTS]);
  assert.deepEqual(r.accepted_events, [...WEBHOOK_EVENTS]);
  assert.ok(r.events.length < r.accepted_events.length);
  for (const never of ['suspended_account', 'phone_verification_failed', 'phone_verification_not_found', 'too_many_phone_verifications']) assert.ok(!(r.events as string[]).includes(never), never);
  const made = await admin('POST', `/admin/applications/${app.id}/webhooks`, { name: 'compat', url: `${receiver.url}/compat`, events: ['suspended_account'] });
  assert.equal(made.status, 201, made.text);
});

test('the CLI: apps create refuses a name taken (ignoring case); apps rename; apps delete wants the name', async () => {
  const env = { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: t.config.masterKeys[0].key.toString('hex') };
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: new URL('../..', import.meta.url).pathname, env, encoding: 'utf8' });
  const made = cli('apps', 'create', '--name', 'Cli App', '--json');
  assert.equal(made.status, 0, made.stderr);
  const { id, api_key } = JSON.parse(made.stdout);
  const dup = cli('apps', 'create', '--name', ' cli app ');
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /already named/);
  assert.equal(cli('apps', 'rename', '--app', String(id), '--name', 'Test Bank').status, 1, "the harness's application has that name");
  const renamed = cli('apps', 'rename', '--app', String(id), '--name', 'Cli Renamed', '--json');
  assert.equal(renamed.status, 0, renamed.stderr);
  assert.deepEqual(JSON.parse(renamed.stdout), { id, name: 'Cli Renamed' });
  assert.equal(cli('apps', 'rename', '--app', '999999', '--name', 'X').status, 1);
  const wrong = cli('apps', 'delete', '--app', String(id), '--confirm', 'Cli App');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /nothing was deleted/);
  assert.equal((await authy(api_key, 'GET', '/protected/json/app/details')).status, 200);
  assert.equal(cli('apps', 'delete', '--app', String(id)).status, 2, 'usage error without --confirm');
  const deleted = cli('apps', 'delete', '--app', String(id), '--confirm', 'Cli Renamed');
  assert.equal(deleted.status, 0, deleted.stderr);
  assert.match(deleted.stdout, /Deleted application \d+ "Cli Renamed"/);
  // Another process wrote: this server hears of it (SQLite: at once; PostgreSQL: by notification).
  await until('the key is refused', async () => (await authy(api_key, 'GET', '/protected/json/app/details')).status === 401, 5000);
});
