// node-authy (npm `authy`) pointed at a real listening OpenFactor, used as an application would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startApp, type TestApp } from '../support/harness.ts';

const require = createRequire(import.meta.url);
const authyFactory = require('authy') as (key: string, url: string) => any;

let t: TestApp;
let authy: any;
let base: string;
before(async () => {
  t = await startApp();
  base = await t.listen();
  authy = authyFactory(t.apiKey, base);
});
after(() => t.close());

/** node-authy calls back (err, res); err is the error body for non-200 answers. */
const cb = <T = any>(fn: (done: (err: any, res: T) => void) => void) =>
  new Promise<{ err: any; res: T }>((resolve) => fn((err, res) => resolve({ err, res })));

test('register_user, user_status and delete_user round trip', async () => {
  const created = await cb((done) => authy.register_user('jane@example.com', '415-555-0142', '1', done));
  assert.equal(created.err, null);
  assert.equal(created.res.message, 'User created successfully.');
  const id = created.res.user.id;
  assert.ok(Number.isInteger(id));

  const again = await cb((done) => authy.register_user('other@example.com', '4155550142', '1', false, done));
  assert.equal(again.res.user.id, id, 'same phone, same id');

  const status = await cb((done) => authy.user_status(id, done));
  assert.equal(status.err, null);
  assert.equal(status.res.message, 'User status.');
  assert.equal(status.res.status.authy_id, id);
  assert.equal(status.res.status.phone_number, 'XXX-XXX-0142');
  assert.equal(status.res.status.country_code, 1);

  const del = await cb((done) => authy.delete_user(id, done));
  assert.equal(del.err, null);
  assert.equal(del.res.success, true);

  const gone = await cb((done) => authy.user_status(id, done));
  assert.deepEqual(gone.err, { message: 'User not found.', success: false, errors: { message: 'User not found.' }, error_code: '60026' });
});

test('a bad user is refused with the per-field errors', async () => {
  const r = await cb((done) => authy.register_user('not-an-email', '415-555-0199', '1', done));
  assert.equal(r.err.error_code, '60027');
  assert.equal(r.err.email, 'is invalid');
  assert.equal(r.err.errors.email, 'is invalid');
});

test('a base URL with a trailing slash still works', async () => {
  const slashed = authyFactory(t.apiKey, base + '/');
  const r = await cb((done) => slashed.register_user('slash@example.com', '212-555-0199', '1', done));
  assert.equal(r.err, null);
  const s = await cb((done) => slashed.user_status(r.res.user.id, done));
  assert.equal(s.res.status.email, 'slash@example.com');
});

test('a wrong key is 60001', async () => {
  const wrong = authyFactory('not-the-key', base);
  const r = await cb((done) => wrong.user_status(1, done));
  assert.deepEqual(r.err, { message: 'Invalid API key', success: false, errors: { message: 'Invalid API key' }, error_code: '60001' });
});
