// OneTouch round trip, as a customer sees it: create a request → the device hears of it on its
// event stream → the device approves (signed) → the customer's callback arrives (signed).
// Sequential, one request at a time, so each latency is the path's own; compared with four
// sequential hello-world requests of the same run (the round trip is four HTTP exchanges).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenFactorDevice, type DeviceApproval } from '../sdk/device/src/index.ts';
import { openStore } from '../src/store/db.ts';
import { Applications } from '../src/features/applications/service.ts';
import { masterKeyFrom } from '../src/core/crypto.ts';
import { Destinations } from '../src/delivery/destinations.ts';

export interface RoundTripFigures {
  name: string;
  requests: number;
  notifiedP50Ms: number;
  notifiedP99Ms: number;
  callbackP50Ms: number;
  callbackP99Ms: number;
  /** Four sequential hello-world requests, p50, in this run. */
  baselineMs: number;
  ratio: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** A registered device for user `authyId` of the application with `apiKey`. */
export async function benchDevice(url: string, apiKey: string, authyId: number): Promise<OpenFactorDevice> {
  const r = await fetch(`${url}/protected/json/sdk/registrations`, { method: 'POST', headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ authy_id: authyId }) });
  const { registration_token } = (await r.json()) as { registration_token: string };
  return OpenFactorDevice.registerWithToken(url, registration_token, { osType: 'android' });
}

export async function createApprovals(url: string, apiKey: string, authyId: number, n: number): Promise<string[]> {
  const uuids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${url}/onetouch/json/users/${authyId}/approval_requests`, {
      method: 'POST',
      headers: { 'x-authy-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ message: `Bench ${i}`, details: { n: String(i) }, seconds_to_expire: 0 }),
    });
    uuids.push(((await r.json()) as { approval_request: { uuid: string } }).approval_request.uuid);
  }
  return uuids;
}

async function helloP50(helloUrl: string, n = 200): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    for (let k = 0; k < 4; k++) await (await fetch(helloUrl)).text();
    times.push(performance.now() - t0);
  }
  return pct(times, 50);
}

export async function onetouchRoundTrip(
  name: string,
  o: { url: string; helloUrl: string; apiKey: string; appId: number; authyId: number; databaseUrl: string; masterKey: Buffer; requests: number },
): Promise<RoundTripFigures> {
  // The customer's callback endpoint.
  const arrived = new Map<string, () => void>();
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.end('ok');
      arrived.get(JSON.parse(body).uuid)?.();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const store = openStore(o.databaseUrl);
  await new Applications(store.db, masterKeyFrom(o.masterKey)).setCallback(o.appId, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`, 'POST', new Destinations(['127.0.0.1/32']));
  await store.close();

  const device = await benchDevice(o.url, o.apiKey, o.authyId);
  // The device may hear of a request before the create answer names its uuid: keep early ones.
  const waiting = new Map<string, (a: DeviceApproval) => void>();
  const early = new Map<string, DeviceApproval>();
  const stop = new AbortController();
  const listening = device.listen((a) => (waiting.has(a.uuid) ? waiting.get(a.uuid)!(a) : early.set(a.uuid, a)), { signal: stop.signal });
  await new Promise((r) => setTimeout(r, 200));

  const notified: number[] = [];
  const called: number[] = [];
  for (let i = 0; i < o.requests; i++) {
    const t0 = performance.now();
    const r = await fetch(`${o.url}/onetouch/json/users/${o.authyId}/approval_requests`, {
      method: 'POST',
      headers: { 'x-authy-api-key': o.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ message: `Round trip ${i}`, details: { n: String(i) } }),
    });
    const uuid = ((await r.json()) as { approval_request: { uuid: string } }).approval_request.uuid;
    const callback = new Promise<void>((resolve) => arrived.set(uuid, resolve));
    const shown = early.get(uuid) ?? (await new Promise<DeviceApproval>((resolve) => waiting.set(uuid, resolve)));
    notified.push(performance.now() - t0);
    await device.approve(shown);
    await callback;
    called.push(performance.now() - t0);
    waiting.delete(uuid);
    early.delete(uuid);
    arrived.delete(uuid);
  }
  stop.abort();
  await listening;
  receiver.close();
  const baselineMs = await helloP50(o.helloUrl);
  const callbackP50Ms = pct(called, 50);
  return {
    name,
    requests: o.requests,
    notifiedP50Ms: pct(notified, 50),
    notifiedP99Ms: pct(notified, 99),
    callbackP50Ms,
    callbackP99Ms: pct(called, 99),
    baselineMs,
    ratio: callbackP50Ms / baselineMs,
  };
}
