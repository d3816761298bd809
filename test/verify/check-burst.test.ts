// VerificationCheck under a burst, over two server processes on one database: 200 wrong codes at
// once are checked exactly five times (the rest 429/60202, the right code after them too), and
// 200 right codes at once approve exactly once (the rest 404/20404). No log line of theirs names
// a full number.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { startApp, testEnv, type TestApp } from '../support/harness.ts';
import { spawnServers, type ServerProcess } from '../support/process.ts';
import { codeIn, delivered } from '../support/tokens.ts';
import { newAccount, verifyClient, type Twilio, type VerifyAccountMade } from '../support/verify.ts';

const BURST = 200;
const masterKey = randomBytes(32).toString('hex');
let t: TestApp;
let servers: ServerProcess[] = [];
let pools: Pool[] = [];
let acme: VerifyAccountMade;
let client: Twilio;
let va: string;

before(async () => {
  t = await startApp({ OPENFACTOR_MASTER_KEY: masterKey });
  acme = await newAccount(t);
  servers = await spawnServers(2, { ...testEnv(t.db), OPENFACTOR_MASTER_KEY: masterKey });
  pools = servers.map((s) => new Pool(s.url, { connections: BURST + 10 }));
  // Everything goes through the server processes; this one only reads codes and rows.
  client = verifyClient(servers[0].url, acme.sid, acme.authToken);
  va = (await client.verify.v2.services.create({ friendlyName: 'Burst' })).sid;
});
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await Promise.all(servers.map((s) => s.stop()));
  await t?.close();
});

async function check(i: number, form: Record<string, string>): Promise<{ status: number; body: any }> {
  const r = await pools[i % pools.length].request({
    method: 'POST',
    path: `/v2/Services/${va}/VerificationCheck`,
    headers: { authorization: `Basic ${Buffer.from(`${acme.sid}:${acme.authToken}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: r.statusCode, body: JSON.parse(await r.body.text()) };
}

const checksOf = async (sid: string) => (await t.store.db.selectFrom('verify_verifications').select(['checks', 'status']).where('sid', '=', sid).executeTakeFirstOrThrow());

test('200 wrong codes at once over two processes: exactly five checked; then even the right code is refused', async () => {
  const to = '+14155550190';
  const v = await client.verify.v2.services(va).verifications.create({ to, channel: 'sms' });
  const code = codeIn((await delivered(t, to)).text, 6);
  const wrong = code === '000000' ? '111111' : '000000';
  const answers = await Promise.all(Array.from({ length: BURST }, (_, i) => check(i, { To: to, Code: wrong })));
  const checked = answers.filter((a) => a.status === 200);
  assert.equal(checked.length, 5, 'five answered as checks');
  assert.ok(checked.every((a) => a.body.valid === false));
  assert.equal(checked.filter((a) => a.body.status === 'max_attempts_reached').length, 1, 'the fifth ends it');
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(refused.length, BURST - 5);
  assert.ok(refused.every((a) => a.body.code === 60202));
  assert.deepEqual(await checksOf(v.sid), { checks: 5, status: 'max_attempts_reached' });
  const right = await check(1, { VerificationSid: v.sid, Code: code });
  assert.equal(right.status, 429);
  assert.equal(right.body.code, 60202);
});

test('200 right codes at once over two processes: approved exactly once', async () => {
  const to = '+14155550191';
  const v = await client.verify.v2.services(va).verifications.create({ to, channel: 'sms' });
  const code = codeIn((await delivered(t, to)).text, 6);
  const answers = await Promise.all(Array.from({ length: BURST }, (_, i) => check(i, i % 2 ? { To: to, Code: code } : { VerificationSid: v.sid, Code: code })));
  const approved = answers.filter((a) => a.status === 200 && a.body.status === 'approved');
  assert.equal(approved.length, 1, 'one approval');
  assert.equal(answers.filter((a) => a.status === 404 && a.body.code === 20404).length, BURST - 1, 'every other one finds it gone');
  const row = await checksOf(v.sid);
  assert.equal(row.status, 'approved');
  assert.ok(row.checks >= 1 && row.checks <= 5, `${row.checks} checks counted`);
});

test('the server logs (info level, a send-guard refusal among them) never hold a full number', async () => {
  const landline = await client.verify.v2.services(va).verifications.create({ to: '+442079460018', channel: 'sms' }).catch((e) => e);
  assert.equal(landline.code, 60205);
  await new Promise((r) => setTimeout(r, 200));
  const logs = servers.map((s) => s.output()).join('\n');
  assert.match(logs, /send_blocked/, 'the refusal was logged');
  for (const digits of ['4155550190', '4155550191', '2079460018']) assert.ok(!logs.includes(digits), `no log line holds ${digits}`);
});
