// `openfactor users import`: a migration off Authy. Users keep their Authy ids (the customer's
// database holds them), Authy's phone-number export is read as it comes, an authenticator app's
// secret keeps working, every bad line is told by number, and nothing half-done is left. What was
// imported is checked through the Authy API, as the customer's application will use it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { runCli } from '../support/process.ts';
import { appToken, codeIn, createUser, delivered, verifyUrl } from '../support/tokens.ts';
import { fromBase32, toBase32, totp } from '../../src/core/otp.ts';
import { importUsers, type ImportOutcome } from '../../src/features/users/import.ts';

const MASTER_KEY = randomBytes(32).toString('hex');
let t: TestApp;
let env: NodeJS.ProcessEnv;
before(async () => {
  t = await startApp({ OPENFACTOR_MASTER_KEY: MASTER_KEY });
  env = { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: MASTER_KEY };
});
after(() => t.close());

/** Runs the CLI on these lines; answers its exit status, each line's outcome and its stderr. */
function cliImport(name: string, lines: string[], ...flags: string[]) {
  const file = join(t.db.dataDir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  const r = runCli(['users', 'import', '--app', String(t.appId), '--file', file, '--json', ...flags], env);
  const outcomes = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as ImportOutcome);
  return { status: r.status, outcomes, stderr: r.stderr, byLine: (n: number) => outcomes.find((o) => o.line === n) };
}

const status = (id: number, key = t.apiKey) => call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key });
const SECRET = 'JBSWY3DPEHPK3PXP';

test('kept Authy ids, Authy export lines and authenticator secrets work on the Authy API; bad lines are told by number', async () => {
  const other = await t.newApplication('Other Co');
  const othersUser = await createUser(t, 'zoe@other.example', '646-555-0133', '1', other.apiKey);
  const lines = [
    JSON.stringify({ authy_id: 50000123, email: 'ana@example.com', cellphone: '415-555-0142', country_code: '1' }),
    // As Authy's phone-number export gives it, with the email added.
    JSON.stringify({ authy_id: '50000124', email: 'rui@example.com', phone_number: '912 345 678', country_code: '351', e164: '+351912345678', updated_at: '2024-01-01T12:00:00Z' }),
    JSON.stringify({ authy_id: 50000125, email: 'eva@example.com', e164: '+12125550199', authenticator_secret: SECRET }),
    JSON.stringify({ email: 'new@example.com', cellphone: '202-555-0111', country_code: 1 }),
    'not json',
    JSON.stringify({ authy_id: 50000126, email: 'bad', cellphone: '415-555-0143', country_code: '1' }),
    JSON.stringify({ authy_id: othersUser, email: 'taken@example.com', cellphone: '312-555-0120', country_code: '1' }),
    JSON.stringify({ authy_id: 50000127, email: 'twin@example.com', cellphone: '415-555-0142', country_code: '1' }),
    JSON.stringify({ authy_id: 0, email: 'zero@example.com', cellphone: '415-555-0144', country_code: '1' }),
    JSON.stringify({ authy_id: 50000128, email: 'short@example.com', cellphone: '12', country_code: '1' }),
    JSON.stringify({ authy_id: 50000129, email: 'sec@example.com', e164: '+14155550145', authenticator_secret: 'not base32!' }),
    '',
  ];
  const r = cliImport('users.jsonl', lines);
  assert.equal(r.status, 1, 'failures make the exit status 1');
  const statuses = [...r.outcomes].sort((a, b) => a.line - b.line).map((o) => o.status);
  assert.deepEqual(statuses, ['created', 'created', 'created', 'created', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed']);
  const reason = (n: number) => (r.byLine(n) as { reason: string }).reason;
  assert.deepEqual([1, 2, 3].map((n) => r.byLine(n)), [1, 2, 3].map((n) => ({ line: n, status: 'created', authy_id: 50000122 + n })));
  assert.match(reason(5), /not a JSON object/);
  assert.match(reason(6), /email is invalid/);
  assert.match(reason(7), new RegExp(`authy_id ${othersUser} is another user's`));
  assert.match(reason(8), /this phone is already user 50000123/);
  assert.match(reason(9), /authy_id must be an integer/);
  assert.match(reason(10), /cellphone is invalid/);
  assert.match(reason(11), /authenticator_secret must be base32/);
  assert.equal(r.outcomes.length, 11, 'the blank line is no row');
  assert.match(r.stderr, /11 users: 4 created, 0 already there, 7 failed/);

  // The kept ids answer on the Authy API.
  const ana = await status(50000123);
  assert.equal(ana.status, 200);
  assert.equal(ana.json.status.country_code, 1);
  assert.match(ana.json.status.phone_number, /42$/);
  assert.equal((await status(50000124)).json.status.country_code, 351);
  assert.equal((await status(50000125, other.apiKey)).status, 404, 'imported into this application only');
  assert.equal((await status(othersUser, other.apiKey)).json.status.email, 'zoe@other.example', 'the other application\'s user is untouched');

  // A code by SMS to a kept id reaches its phone and verifies; the app token of its new seed too.
  assert.equal((await call(t.of.server, 'GET', '/protected/json/sms/50000123?force=true', { key: t.apiKey })).status, 200);
  const sms = codeIn((await delivered(t, '+14155550142')).text, 7);
  assert.equal((await call(t.of.server, 'GET', verifyUrl(sms, 50000123), { key: t.apiKey })).status, 200);
  assert.equal((await call(t.of.server, 'GET', verifyUrl(await appToken(t, 50000124), 50000124, '?force=true'), { key: t.apiKey })).status, 200);
  // The authenticator app the user already has keeps working (6 digits, 30 s).
  const fromApp = totp(fromBase32(SECRET), Date.now(), { digits: 6 });
  const v = await call(t.of.server, 'GET', verifyUrl(fromApp, 50000125, '?force=true'), { key: t.apiKey });
  assert.equal(v.status, 200, v.text);
  const sealed = await t.store.db.selectFrom('authenticators').select('secret_sealed').where('user_id', '=', 50000125).executeTakeFirstOrThrow();
  assert.ok(!sealed.secret_sealed.includes(SECRET) && !sealed.secret_sealed.includes(fromBase32(SECRET).toString('hex')), 'the secret is sealed at rest');
  // The app holds the secret already: no QR link shows it again.
  const { qr_token: qrToken } = await t.store.db.selectFrom('authenticators').select('qr_token').where('user_id', '=', 50000125).executeTakeFirstOrThrow();
  assert.ok(qrToken.length >= 32, 'a link as hard to guess as any');
  assert.equal((await call(t.of.server, 'GET', `/qr/${qrToken}.png`)).status, 404);

  // Users made later never get a kept id.
  const fresh = (r.byLine(4) as { authy_id: number }).authy_id;
  assert.ok(fresh > 50000125, `the id given to a line without one (${fresh}) is past the kept ones`);
  const later = await createUser(t, 'later@example.com', '415-555-0146');
  assert.ok(later > fresh, `a user created afterwards got ${later}`);
});

test('run again, the same file changes nothing; a dry run writes nothing', async () => {
  const again = cliImport('again.jsonl', [
    JSON.stringify({ authy_id: 50000123, email: 'ana@example.com', cellphone: '415-555-0142', country_code: '1' }),
    JSON.stringify({ email: 'new@example.com', cellphone: '202-555-0111', country_code: 1 }),
  ]);
  assert.equal(again.status, 0);
  assert.deepEqual(again.outcomes.map((o) => o.status), ['existing', 'existing']);
  assert.equal(again.outcomes[0].status === 'existing' && again.outcomes[0].authy_id, 50000123);

  const dry = cliImport('dry.jsonl', [
    JSON.stringify({ authy_id: 60000001, email: 'dry1@example.com', cellphone: '415-555-0147', country_code: '1' }),
    JSON.stringify({ authy_id: 60000002, email: 'dry2@example.com', cellphone: '415-555-0148', country_code: '1' }),
  ], '--dry-run');
  assert.equal(dry.status, 0);
  assert.deepEqual(dry.outcomes.map((o) => o.status), ['created', 'created']);
  assert.match(dry.stderr, /Dry run: nothing was written/);
  assert.equal((await status(60000001)).status, 404);
  assert.equal((await status(60000002)).status, 404);
});

test('thousands of lines go in batches; users created through the API meanwhile never take a kept id', async () => {
  const n = 2000;
  const made: number[] = [];
  async function* lines() {
    for (let i = 0; i < n; i++) {
      // The first batch of 500 is in; before the second, the API makes users (which, without the
      // reservation, would get 70000501… and take the second batch's ids).
      if (i === 600) for (let k = 0; k < 5; k++) made.push(await createUser(t, `api${k}@example.com`, `312-555-${1000 + k}`));
      yield JSON.stringify({ authy_id: 70000001 + i, email: `bulk${i}@example.com`, e164: `+1415555${String(2000 + i).padStart(4, '0')}` });
    }
  }
  const app = (await t.of.services.applications.find(t.appId))!;
  const deps = { db: t.store.db, dialect: t.store.dialect, key: t.config.masterKeys[0], contacts: t.of.services.contacts };
  const summary = await importUsers(deps, app, lines(), { reserveUpTo: 70000000 + n });
  assert.deepEqual(summary, { lines: n, created: n, existing: 0, failed: 0 });
  for (const id of made) assert.ok(id > 70000000 + n, `an API user got ${id}, inside the kept range`);
  assert.equal((await status(70000001 + n - 1)).status, 200);
  const count = await t.store.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', t.appId).where('id', '>=', 70000001).where('id', '<=', 70000000 + n).executeTakeFirstOrThrow();
  assert.equal(Number(count.n), n);
});

test('lines that collide in one batch or across batches are decided as one by one would, with the worker thread and without', async () => {
  const app = (await t.of.services.applications.find(t.appId))!;
  const deps = { db: t.store.db, dialect: t.store.dialect, key: t.config.masterKeys[0], contacts: t.of.services.contacts };
  const run = async (how: 'cli' | 'inline', base: number, area: string) => {
    const phone = (n: number) => `+1${area}555${String(n).padStart(4, '0')}`;
    const secrets = [toBase32(randomBytes(20)), toBase32(randomBytes(20))];
    const fillers = Array.from({ length: 520 }, (_, i) => JSON.stringify({ authy_id: base + 1000 + i, email: `f${i}@example.com`, e164: phone(5000 + i) }));
    const lines = [
      JSON.stringify({ authy_id: base + 1, email: 'one@example.com', e164: phone(1), authenticator_secret: secrets[0] }),
      JSON.stringify({ email: 'two@example.com', e164: phone(2) }),
      JSON.stringify({ email: 'two-again@example.com', e164: phone(2) }), // the phone of line 2: already there
      JSON.stringify({ authy_id: base + 1, email: 'x@example.com', e164: phone(3) }), // line 1's id, another phone
      JSON.stringify({ authy_id: base + 4, email: 'y@example.com', e164: phone(1) }), // line 1's phone, another id
      JSON.stringify({ email: 'z@example.com', e164: phone(1) }), // line 1's phone, no id: already there
      JSON.stringify({ authy_id: base + 1, email: 'one@example.com', e164: phone(1) }), // line 1 again
      JSON.stringify({ email: 'eight@example.com', e164: phone(8), authenticator_secret: secrets[1] }),
      ...fillers,
      // In the next batch, while (with the worker) it was read and sealed before the first was written.
      JSON.stringify({ authy_id: base + 1001, email: 'late@example.com', e164: phone(9) }), // a filler's id
      JSON.stringify({ email: 'late@example.com', e164: phone(2) }), // line 2's phone
    ];
    const outcomes =
      how === 'cli'
        ? cliImport(`collide-${base}.jsonl`, lines).outcomes
        : await (async () => {
            const all: ImportOutcome[] = [];
            await importUsers(deps, app, lines, { reserveUpTo: base + 1519, onOutcome: (o) => all.push(o) });
            return all;
          })();
    const byLine = (n: number) => outcomes.find((o) => o.line === n)!;
    const idOf = (n: number) => (byLine(n) as { authy_id: number }).authy_id;
    const reasonOf = (n: number) => (byLine(n) as { reason: string }).reason;
    assert.equal(outcomes.length, lines.length);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => byLine(n).status), ['created', 'created', 'existing', 'failed', 'failed', 'existing', 'existing', 'created']);
    assert.equal(idOf(1), base + 1);
    assert.ok(idOf(2) > base + 1519 && idOf(8) > base + 1519 && idOf(2) !== idOf(8), 'lines without an id get new ones past the kept ids');
    assert.equal(idOf(3), idOf(2));
    assert.match(reasonOf(4), new RegExp(`authy_id ${base + 1} is another user's`));
    assert.match(reasonOf(5), new RegExp(`this phone is already user ${base + 1}`));
    assert.equal(idOf(6), base + 1);
    assert.equal(idOf(7), base + 1);
    assert.ok(outcomes.slice(8, 8 + fillers.length).every((o) => o.status === 'created'));
    assert.match(reasonOf(lines.length - 1), new RegExp(`authy_id ${base + 1001} is another user's`));
    assert.equal(byLine(lines.length).status, 'existing');
    assert.equal(idOf(lines.length), idOf(2));
    // The first line of a phone is the one kept; both authenticator apps verify, on their own users.
    assert.equal((await status(idOf(2))).json.status.email, 'two@example.com');
    for (const [line, secret] of [[1, secrets[0]], [8, secrets[1]]] as const) {
      const code = totp(fromBase32(secret), Date.now(), { digits: 6 });
      const v = await call(t.of.server, 'GET', verifyUrl(code, idOf(line), '?force=true'), { key: t.apiKey });
      assert.equal(v.status, 200, `line ${line}: ${v.text}`);
    }
  };
  await run('cli', 81000000, '646');
  await run('inline', 82000000, '917');
});
