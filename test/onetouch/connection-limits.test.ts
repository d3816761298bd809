// Long-lived device connections are capped, over real sockets: a device holds at most a few event
// streams and long-polls (a newer one closes its oldest: a phone that changed networks is heard
// on its new link), and a full process refuses a further device with 429 / 60003.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { PHONES, startApp, type TestApp } from '../support/harness.ts';
import { createUser } from '../support/tokens.ts';
import { createApproval, registerDevice } from '../support/onetouch.ts';
import { until } from '../support/wait.ts';
import { OpenFactorError, type OpenFactorDevice } from '../../sdk/device/src/index.ts';

const METRICS_TOKEN = 'metrics-token-for-this-test';
let t: TestApp;
let base: string;
before(async () => {
  t = await startApp({ OPENFACTOR_CONNECTIONS_PER_DEVICE: '2', OPENFACTOR_CONNECTIONS_PER_PROCESS: '3', OPENFACTOR_METRICS_TOKEN: METRICS_TOKEN });
  base = await t.listen();
});
after(() => t.close());

/** Every stream and long-poll a test opened: closed after it, whatever happens. */
const opens: AbortController[] = [];
const held = () => {
  const c = new AbortController();
  opens.push(c);
  return c;
};
afterEach(async () => {
  for (const c of opens.splice(0)) c.abort();
  await until('all connections released', async () => (await metric('openfactor_device_connections')) === 0);
});

/** An event stream of a device, as its app would hold it. */
function stream(device: OpenFactorDevice) {
  const s = { opened: false, ended: false, error: undefined as unknown, heard: [] as string[], stop: held(), done: Promise.resolve() };
  s.done = device
    .listen((x) => s.heard.push(x.uuid), { signal: s.stop.signal, onOpen: () => (s.opened = true) })
    .then(() => {}, (e) => void (s.error = e))
    .finally(() => (s.ended = true));
  return s;
}
type Stream = ReturnType<typeof stream>;

async function opened(s: Stream) {
  await until('stream open', () => s.opened || s.ended);
  assert.ok(s.opened && !s.ended, `stream did not open: ${String(s.error)}`);
  return s;
}

async function metric(name: string): Promise<number> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await res.text())?.[1]);
}

test('a device beyond its cap keeps its newest connections: the oldest is closed, the new ones hear', async () => {
  const id = await createUser(t, 'streams@example.com', PHONES.us[0]);
  const phone = await registerDevice(t, base, id);
  const s1 = await opened(stream(phone));
  const s2 = await opened(stream(phone));
  const s3 = await opened(stream(phone));
  await until('the oldest stream is closed by the server', () => s1.ended);
  assert.equal(s1.error, undefined);
  assert.ok(!s2.ended && !s3.ended);
  // A long-poll counts too: it takes the place of the oldest stream (s2).
  const poll = phone.pendingApprovals(30, { signal: held().signal });
  await until('the next oldest stream is closed', () => s2.ended);
  const uuid = (await createApproval(t, id)).json.approval_request.uuid;
  assert.deepEqual((await poll).map((x) => x.uuid), [uuid]);
  await until('the newest stream hears', () => s3.heard.includes(uuid));
  assert.deepEqual(s1.heard, []);
});

test('a full process refuses a further device with 429 / 60003, and takes it once a connection ends', async () => {
  const id = await createUser(t, 'full@example.com', PHONES.us[1]);
  const [d1, d2, d3] = [await registerDevice(t, base, id), await registerDevice(t, base, id), await registerDevice(t, base, id)];
  const mine = [await opened(stream(d1)), await opened(stream(d2)), await opened(stream(d2))];
  assert.equal(await metric('openfactor_device_connections'), 3);

  const refused = stream(d3);
  await until('answered', () => refused.opened || refused.ended);
  assert.ok(!refused.opened, 'a fourth connection was let in');
  await refused.done;
  assert.ok(refused.error instanceof OpenFactorError, String(refused.error));
  assert.equal(refused.error.status, 429);
  assert.equal(refused.error.code, '60003');
  assert.match(refused.error.message, /Too many event streams/);
  await assert.rejects(d3.pendingApprovals(5), (e: OpenFactorError) => e.status === 429 && e.code === '60003');
  assert.deepEqual(await d3.pendingApprovals(0), [], 'a plain read is not held, so not refused');
  assert.equal(await metric('openfactor_device_connections_refused_total'), 2);

  // A device that already holds one reconnects in place, full or not.
  const _again = await opened(stream(d1));
  await until('its previous stream is closed', () => mine[0].ended);

  mine[1].stop.abort();
  await mine[1].done;
  const late = await until('the third device gets in once a slot is free', async () => {
    const s = stream(d3);
    await until('answered', () => s.opened || s.ended);
    return s.opened ? s : undefined;
  });
  const uuid = (await createApproval(t, id)).json.approval_request.uuid;
  await until('it hears', () => late.heard.includes(uuid));
});
