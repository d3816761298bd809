// The audit trail (issue 22): every change through the admin API or the CLI is recorded with who,
// when, from where and what changed (before and after), secrets never; failed sign-ins too. It is
// searched and exported over the admin API, and `openfactor audit verify` finds an entry edited
// (even with its hash recomputed without the key), deleted, or cut from the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { runCli } from '../support/process.ts';

process.env.OPENFACTOR_MASTER_KEY ??= randomBytes(32).toString('hex');

let t: TestApp;
let base: string;
type Json = Record<string, any>;

async function admin(method: string, path: string, body?: unknown, bearer = t.config.adminToken) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: ((res.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) : {}) as Json };
}
const cli = (...args: string[]) => runCli(args, testEnv(t.db));
const verifyTrail = () => {
  const r = cli('audit', 'verify', '--json');
  return { status: r.status, report: JSON.parse(r.stdout.trim() || '{}') as { entries: number; problems: { id: number | null; problem: string }[] }, stderr: r.stderr };
};

before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(async () => {
  await t.close();
});

test('a settings change: who, when, from where, before and after; a replaced key: never the key', async () => {
  const was = (await t.of.services.applications.find(t.appId))!.settings.codeTtlSeconds;
  assert.equal((await admin('POST', `/admin/applications/${t.appId}/settings`, { codeTtlSeconds: was + 120 })).status, 200);
  const [entry] = (await admin('GET', `/admin/audit?action=application.settings&app_id=${t.appId}`)).json.entries;
  assert.equal(entry.actor, 'break-glass admin token');
  assert.equal(entry.actor_kind, 'break_glass');
  assert.equal(entry.ip, '127.0.0.1');
  assert.ok(Math.abs(Date.parse(entry.at) - Date.now()) < 60_000);
  assert.deepEqual(entry.detail.changed, { 'settings.codeTtlSeconds': [was, was + 120] });
  assert.equal(entry.detail.break_glass, true, 'the break-glass token is logged as such');

  const rotated = await admin('POST', `/admin/applications/${t.appId}/api_key`);
  const key = rotated.json.api_key as string;
  const dash = await admin('POST', `/admin/applications/${t.appId}/dashboard_keys`);
  const providers = await admin('POST', `/admin/applications/${t.appId}/providers`, { sms: 'twilio://ACxx:s3cr3tpass@api.twilio.com' });
  const all = await admin('GET', '/admin/audit?format=jsonl');
  assert.match(all.text, /"action":"application\.api_key_replaced"/);
  assert.match(all.text, /"action":"application\.dashboard_keys_replaced"/);
  for (const secret of [key, dash.json.access_key, dash.json.signing_key, 's3cr3tpass']) assert.ok(secret && !all.text.includes(secret), `never ${String(secret).slice(0, 4)}…`);
  assert.ok(providers.status < 500);
});

test('failed sign-ins and refused changes are recorded; the trail is searched, paged and exported as JSON lines', async () => {
  assert.equal((await admin('GET', '/admin/applications', undefined, 'not-the-token')).status, 401);
  const failed = (await admin('GET', '/admin/audit?action=admin.sign_in_failed')).json.entries;
  assert.equal(failed.length, 1);
  assert.equal(failed[0].ip, '127.0.0.1');
  assert.ok(!JSON.stringify(failed[0]).includes('not-the-token'), 'the wrong token is not kept');

  const { id } = await t.newApplication('Audit Shop');
  for (let i = 0; i < 5; i++) await admin('POST', `/admin/applications/${id}/name`, { name: `Audit Shop ${i}` });
  const first = await admin('GET', `/admin/audit?app_id=${id}&limit=2`);
  assert.equal(first.json.total, 5);
  assert.deepEqual(first.json.entries.map((e: Json) => e.detail.changed.name[1]), ['Audit Shop 4', 'Audit Shop 3'], 'newest first');
  const second = await admin('GET', `/admin/audit?app_id=${id}&limit=2&cursor=${first.json.next_cursor}`);
  assert.deepEqual(second.json.entries.map((e: Json) => e.detail.changed.name[1]), ['Audit Shop 2', 'Audit Shop 1']);
  const lines = (await admin('GET', `/admin/audit?app_id=${id}&format=jsonl`)).text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 5);
  for (const [bad, name] of [['limit=0', 'limit'], ['since=yesterday', 'since'], ['app_id=x', 'app_id'], ['cursor=%3C%3E', 'cursor']]) {
    const r = await admin('GET', `/admin/audit?${bad}`);
    assert.equal(r.status, 400, bad);
    assert.match(r.json.message, new RegExp(name));
  }
});

test('changes made with the CLI are in the same trail, named as the CLI', async () => {
  const r = cli('apps', 'settings', '--app', String(t.appId), '--code-ttl', '900', '--json');
  assert.equal(r.status, 0, r.stderr);
  const made = cli('tokens', 'create', '--name', 'nightly', '--role', 'read_only', '--json');
  assert.equal(made.status, 0, made.stderr);
  const token = JSON.parse(made.stdout).token as string;
  assert.equal((await admin('GET', '/admin/me', undefined, token)).json.principal.role, 'read_only');
  const entries = (await admin('GET', '/admin/audit?limit=5')).json.entries as Json[];
  const settings = entries.find((e) => e.action === 'application.settings')!;
  assert.equal(settings.actor_kind, 'cli');
  assert.match(settings.actor, /^cli \(.+@.+\)$/);
  assert.deepEqual(settings.detail.changed['settings.codeTtlSeconds'][1], 900);
  assert.ok(entries.some((e) => e.action === 'token.create' && e.actor_kind === 'cli'));
  assert.ok(!JSON.stringify(entries).includes(token));
});

test('audit verify: whole, then an edited entry, one edited with its hash recomputed, a deleted one and one cut from the end are found', async () => {
  for (let i = 0; i < 4; i++) await admin('POST', `/admin/applications/${t.appId}/settings`, { codeTtlSeconds: 300 + i * 60 });
  const whole = verifyTrail();
  assert.equal(whole.status, 0, whole.stderr);
  assert.deepEqual(whole.report.problems, []);
  const ids = (await t.store.db.selectFrom('audit_log').select(['id', 'detail', 'hash']).orderBy('id').execute()).map((r) => ({ ...r, id: Number(r.id) }));
  assert.equal(whole.report.entries, ids.length);
  const [a, b, c] = ids.slice(-4, -1);

  // Edited: the record of what changed is altered.
  await t.store.db.updateTable('audit_log').set({ detail: a.detail.replace(/\d{3}/, '999') }).where('id', '=', a.id).execute();
  assert.deepEqual(verifyTrail().report.problems, [{ id: a.id, problem: 'edited' }]);
  // Edited again with a plain SHA-256 in place of the hash: without the master key the chain cannot be made again.
  await t.store.db.updateTable('audit_log').set({ hash: createHash('sha256').update('forged').digest('hex') }).where('id', '=', a.id).execute();
  const forged = verifyTrail();
  assert.equal(forged.status, 1);
  assert.deepEqual(forged.report.problems.map((p) => p.id), [a.id, b.id]);
  await t.store.db.updateTable('audit_log').set({ detail: a.detail, hash: a.hash }).where('id', '=', a.id).execute();
  assert.equal(verifyTrail().status, 0, 'put back, whole again');

  // Deleted from the middle: the entry after it no longer follows.
  await t.store.db.deleteFrom('audit_log').where('id', '=', b.id).execute();
  assert.deepEqual(verifyTrail().report.problems, [{ id: c.id, problem: 'entries_missing_before' }]);

  // Cut from the end: the head still names the newest entry.
  const last = ids[ids.length - 1];
  await t.store.db.deleteFrom('audit_log').where('id', '=', last.id).execute();
  const cut = verifyTrail();
  assert.equal(cut.status, 1);
  assert.deepEqual(cut.report.problems, [{ id: c.id, problem: 'entries_missing_before' }, { id: last.id, problem: 'entries_missing_at_end' }]);
  const text = cli('audit', 'verify');
  assert.match(text.stdout, /entry \d+: entries missing before/);
});

test('retention drops old entries and anchors the chain: what is kept still verifies, and the anchor cannot be removed unseen', async () => {
  const own = await startApp();
  const ownBase = await own.listen();
  try {
    const post = (ttl: number) =>
      fetch(`${ownBase}/admin/applications/${own.appId}/settings`, { method: 'POST', headers: { authorization: `Bearer ${own.config.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ codeTtlSeconds: ttl }) });
    const check = () => JSON.parse(runCli(['audit', 'verify', '--json'], testEnv(own.db)).stdout) as { entries: number; first_id: number; problems: { id: number; problem: string }[] };
    for (const ttl of [240, 300, 360]) assert.equal((await post(ttl)).status, 200);
    const swept = await own.of.services.retention.sweep(Date.now() + 400 * 86_400_000);
    assert.equal(swept.audit_log, 3, 'entries older than the retention went');
    assert.deepEqual(check().problems, [], 'an emptied trail is whole');
    for (const ttl of [420, 480]) assert.equal((await post(ttl)).status, 200);
    const kept = check();
    assert.deepEqual([kept.entries, kept.problems], [2, []], 'the kept entries follow the anchor');
    await own.store.db.deleteFrom('audit_head').where('name', '=', 'anchor').execute();
    assert.deepEqual(check().problems, [{ id: kept.first_id, problem: 'entries_missing_before' }]);
  } finally {
    await own.close();
  }
});

test('after a master-key rotation, keys reseal chains the trail again under the new key, so the old one can go; a broken trail is left as it is', async () => {
  const own = await startApp();
  const ownBase = await own.listen();
  try {
    const post = (ttl: number) =>
      fetch(`${ownBase}/admin/applications/${own.appId}/settings`, { method: 'POST', headers: { authorization: `Bearer ${own.config.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ codeTtlSeconds: ttl }) });
    for (const ttl of [240, 300, 360, 420]) assert.equal((await post(ttl)).status, 200);
    const swept = await own.of.services.retention.sweep(Date.now() + 400 * 86_400_000);
    assert.equal(swept.audit_log, 4);
    for (const ttl of [480, 540]) assert.equal((await post(ttl)).status, 200);
    const old = process.env.OPENFACTOR_MASTER_KEY!;
    const fresh = randomBytes(32).toString('hex');
    const rotated = { ...testEnv(own.db), OPENFACTOR_MASTER_KEY: fresh, OPENFACTOR_PREVIOUS_MASTER_KEYS: old };
    const onlyNew = { ...testEnv(own.db), OPENFACTOR_MASTER_KEY: fresh, OPENFACTOR_PREVIOUS_MASTER_KEYS: '' };
    const verifyWith = (env: NodeJS.ProcessEnv) => JSON.parse(runCli(['audit', 'verify', '--json'], env).stdout) as { entries: number; problems: { problem: string }[] };
    assert.deepEqual(new Set(verifyWith(onlyNew).problems.map((p) => p.problem)), new Set(['unknown_key', 'anchor_edited', 'head_edited', 'entries_missing_before']), 'before: the new key alone cannot check the old entries');

    const resealed = runCli(['keys', 'reseal'], rotated);
    assert.equal(resealed.status, 0, resealed.stderr);
    assert.match(resealed.stdout, /audit_log: 2 entries chained again/);
    const after = verifyWith(onlyNew);
    // The two kept entries, and the reseal itself, recorded after the chain was made again.
    assert.deepEqual([after.entries, after.problems], [3, []], 'the old key can be dropped');
    assert.equal(verifyWith(testEnv(own.db)).problems[0].problem, 'unknown_key', 'the old key alone no longer checks the trail');

    // Edited, then a rotation: the trail is not chained again (that would hide the edit).
    const [entry] = await own.store.db.selectFrom('audit_log').select(['id', 'detail']).orderBy('id').limit(1).execute();
    const chainBefore = await own.store.db.selectFrom('audit_log').select(['id', 'key_id', 'hash']).orderBy('id').execute();
    await own.store.db.updateTable('audit_log').set({ detail: entry.detail.replace(/\d{3}/, '999') }).where('id', '=', entry.id).execute();
    const newest = randomBytes(32).toString('hex');
    const refused = runCli(['keys', 'reseal'], { ...testEnv(own.db), OPENFACTOR_MASTER_KEY: newest, OPENFACTOR_PREVIOUS_MASTER_KEYS: fresh });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /The audit trail does not verify/);
    const chainAfter = await own.store.db.selectFrom('audit_log').select(['id', 'key_id', 'hash']).orderBy('id').limit(chainBefore.length).execute();
    assert.deepEqual(chainAfter, chainBefore, 'no entry chained again');
    assert.deepEqual(verifyWith(onlyNew).problems.map((p) => p.problem).slice(0, 1), ['edited'], 'still found with the key that wrote it');
  } finally {
    await own.close();
  }
});
