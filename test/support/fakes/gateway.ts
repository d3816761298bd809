// A local generic SMS/voice gateway: checks OpenFactor's request signature (computed here with
// node:crypto from the documented scheme), deduplicates by Idempotency-Key as a careful gateway
// does, and sends signed receipts back.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GatewayMessage {
  id: string;
  channel: string;
  to: string;
  text: string;
  locale: string;
  status_callback?: string;
  gatewayId: string;
  key: string;
}

export interface FakeGateway {
  url: string;
  secret: string;
  /** Messages taken for delivery (a repeated Idempotency-Key is not delivered again). */
  delivered: GatewayMessage[];
  /** Every request that reached the gateway, duplicates included. */
  requests: number;
  badSignatures: number;
  mode: 'ok' | 'fail' | 'hang';
  /** Delay before answering (messages stay in flight). */
  delayMs: number;
  refuse: Set<string>;
  receipt(gatewayId: string, status: string, secret?: string): Promise<number>;
  close(): Promise<void>;
}

const sign = (secret: string, ts: string, body: string) => 'v1=' + createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');

export async function startFakeGateway(): Promise<FakeGateway> {
  const secret = randomBytes(24).toString('hex');
  const byKey = new Map<string, GatewayMessage>();
  const hanging = new Set<ServerResponse>();
  const fake = { secret, delivered: [] as GatewayMessage[], requests: 0, badSignatures: 0, mode: 'ok' as FakeGateway['mode'], delayMs: 0, refuse: new Set<string>() };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    fake.requests++;
    const json = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    const ts = String(req.headers['x-openfactor-timestamp'] ?? '');
    if (req.headers['x-openfactor-signature'] !== sign(secret, ts, body) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) {
      fake.badSignatures++;
      return json(401, { error: 'bad signature' });
    }
    if (fake.mode === 'hang') return void hanging.add(res);
    if (fake.delayMs) await new Promise((r) => setTimeout(r, fake.delayMs));
    if (fake.mode === 'fail') return json(503, { error: 'unavailable' });
    const key = String(req.headers['idempotency-key'] ?? '');
    const msg = JSON.parse(body) as GatewayMessage;
    if (!key) return json(400, { error: 'Idempotency-Key required' });
    if (fake.refuse.has(msg.to)) return json(422, { error: 'number not reachable' });
    const seen = byKey.get(key);
    if (seen) return json(200, { id: seen.gatewayId, duplicate: true });
    const m = { ...msg, gatewayId: 'gw-' + randomBytes(6).toString('hex'), key };
    byKey.set(key, m);
    fake.delivered.push(m);
    json(202, { id: m.gatewayId });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}/send?secret=${secret}`,
    async receipt(gatewayId: string, status: string, withSecret = secret) {
      const m = fake.delivered.find((x) => x.gatewayId === gatewayId);
      if (!m?.status_callback) throw new Error(`no status_callback for ${gatewayId}`);
      const body = JSON.stringify({ id: gatewayId, status });
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(m.status_callback, { method: 'POST', headers: { 'content-type': 'application/json', 'x-openfactor-timestamp': ts, 'x-openfactor-signature': sign(withSecret, ts, body) }, body });
      return res.status;
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}
