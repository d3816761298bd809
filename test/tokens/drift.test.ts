// Drift: an accepted token records its step offset, so a device whose clock drifts keeps working
// within a bounded learned offset; a token far from the learned offset is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type TestApp } from '../support/harness.ts';
import { call } from '../support/http.ts';
import { appToken, createUser, verifyUrl } from '../support/tokens.ts';
import { MAX_DRIFT_STEPS } from '../../src/features/tokens/service.ts';

let t: TestApp;
before(async () => {
  t = await startApp();
  await t.of.services.applications.updateSettings(t.appId, { verifyMaxFailures: 1000 });
});
after(() => t.close());

/**
 * A token `offset` steps from now, verified in the step it was made in: a step turning between the
 * two would make the server learn one step less than the device drifted (the next token then
 * looks two steps further), which no real device's clock does.
 */
const verify = async (id: number, offset: number) => {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 1500) await new Promise((r) => setTimeout(r, left + 50));
  return (await call(t.of.server, 'GET', verifyUrl(await appToken(t, id, 7, offset), id, '?force=true'), { key: t.apiKey })).status;
};
const drift = async (id: number) => (await t.store.db.selectFrom('users').select('totp_drift').where('id', '=', id).executeTakeFirstOrThrow()).totp_drift;

test('a clock one step off is accepted at once (the window), and the offset is learned', async () => {
  const id = await createUser(t, 'd1@example.com', '415-555-0151');
  assert.equal(await verify(id, 1), 200);
  assert.equal(await drift(id), 1);
});

test('a token three steps ahead is refused for a device that never drifted', async () => {
  const id = await createUser(t, 'd2@example.com', '415-555-0152');
  assert.equal(await verify(id, 3), 401);
  assert.equal(await verify(id, -3), 401);
});

test('a device drifting step by step keeps working up to the bound, and no further', async () => {
  const id = await createUser(t, 'd3@example.com', '415-555-0153');
  for (let offset = 1; offset <= MAX_DRIFT_STEPS; offset++) assert.equal(await verify(id, offset), 200, `offset ${offset}`);
  assert.equal(await drift(id), MAX_DRIFT_STEPS);
  assert.equal(await verify(id, MAX_DRIFT_STEPS + 2), 401, 'beyond the bound');
});

test('a device drifting behind is followed too', async () => {
  const id = await createUser(t, 'd4@example.com', '415-555-0154');
  // Behind: later tokens have lower steps, so each accepted one must still be newer than the last.
  assert.equal(await verify(id, -1), 200);
  assert.equal(await drift(id), -1);
  assert.equal(await verify(id, 0), 200, 'back in sync');
});
