// A device names itself (issue 20): PUT /device/v1/device {"name"}, signed like every device
// call. The name is kept on the server and listed wherever devices are (the person's devices, the
// user status); a bad name is refused with Authy's error body, never a 500.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OpenFactorError } from '../../sdk/device/src/index.ts';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { registerDevice } from '../support/onetouch.ts';
import { createUser } from '../support/tokens.ts';

let t: TestApp;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
});
after(() => t.close());

const row = (id: number) => t.store.db.selectFrom('device_keys').select('name').where('id', '=', id).executeTakeFirstOrThrow();
const status = async (id: number) => (await call(t.of.server, 'GET', `/protected/json/users/${id}/status`, { key: t.apiKey })).json.status;

test('renamed: kept on the server, answered back, listed by the person\'s other devices and in the user status', async () => {
  const user = await createUser(t, 'name@example.com', '415-555-0231');
  const laptop = await registerDevice(t, base, user, { osType: 'web' });
  const phone = await registerDevice(t, base, user, { osType: 'ios' });
  assert.equal(laptop.name, 'test phone', 'the name it registered with');

  // Trimmed and kept as given otherwise (an apostrophe, accents, an emoji).
  assert.equal(await laptop.rename("  Anna's laptop — café 💻 "), "Anna's laptop — café 💻");
  assert.equal(laptop.name, "Anna's laptop — café 💻");
  assert.equal((await row(laptop.id)).name, "Anna's laptop — café 💻");
  const listed = (await phone.devices()).devices.find((d) => d.id === laptop.id);
  assert.equal(listed?.name, "Anna's laptop — café 💻");
  assert.equal(listed?.this_device, false);
  const detailed = (await status(user)).detailed_devices as { os_type: string; device_name: string }[];
  assert.deepEqual(detailed.map((d) => [d.os_type, d.device_name]).sort(), [['ios', 'test phone'], ['web', "Anna's laptop — café 💻"]]);

  // Exactly 64 characters (code points, not UTF-16 units) is allowed.
  const longest = '🔑'.repeat(64);
  assert.equal(await laptop.rename(longest), longest);
  assert.equal((await row(laptop.id)).name, longest);
});

test('a bad name is refused with 400 / 60004 and says why; the name stays', async () => {
  const user = await createUser(t, 'badname@example.com', '415-555-0232');
  const device = await registerDevice(t, base, user);
  await device.rename('Kitchen tablet');
  const cases: [unknown, RegExp][] = [
    ['', /name - is empty/],
    ['   ', /name - is empty/],
    ['x'.repeat(65), /name - is longer than 64 characters/],
    ['🔑'.repeat(65), /name - is longer than 64 characters/],
    ['two\nlines', /name - must not contain control characters/],
    ['tab\there', /name - must not contain control characters/],
    ['nul\u0000', /name - must not contain control characters/],
    ['bell\u0007', /name - must not contain control characters/],
    ['\u202eevil', /name - must not contain control characters/], // a right-to-left override
    [{ a: 1 }, /name - is not a valid String/],
    [null, /name - is missing/], // JSON null reads as no value, as everywhere in the API
    [undefined, /name - is missing/],
  ];
  for (const [name, why] of cases) {
    await assert.rejects(device.rename(name as string), (e: unknown) => {
      assert.ok(e instanceof OpenFactorError, String(e));
      assert.equal(e.status, 400, JSON.stringify(name));
      assert.equal(e.code, '60004');
      assert.match(e.message, why);
      // Authy's error body, as every other refusal.
      assert.deepEqual(e.body, { message: e.message, success: false, errors: { message: e.message }, error_code: '60004' });
      return true;
    });
  }
  assert.equal((await row(device.id)).name, 'Kitchen tablet');
  assert.equal(device.name, 'Kitchen tablet');
});

test('only the device itself, signed: an unsigned or wrongly signed rename is refused (401) and changes nothing', async () => {
  const user = await createUser(t, 'signed@example.com', '415-555-0233');
  const device = await registerDevice(t, base, user);
  const unsigned = await fetch(`${base}/device/v1/device`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"name":"Stolen"}' });
  assert.equal(unsigned.status, 401);
  assert.equal(((await unsigned.json()) as { error_code: string }).error_code, '60087');
  const forged = await fetch(`${base}/device/v1/device`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      'x-openfactor-device': String(device.id),
      'x-openfactor-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-openfactor-nonce': 'AAAAAAAAAAAAAAAAAAAAAA',
      'x-openfactor-signature': 'AAAA',
    },
    body: '{"name":"Stolen"}',
  });
  assert.equal(forged.status, 401);
  assert.equal((await row(device.id)).name, 'test phone');
});
