// OneTouch test helpers: devices registered through the device SDK against a listening server,
// a local HTTP receiver that records callbacks and webhooks as the customer's server would.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenFactorDevice, type Algorithm } from '../../sdk/device/src/index.ts';
import type { TestApp } from './harness.ts';
import { call } from './http.ts';

/** A registration token from the customer's backend (the Authy-wire call), then the SDK registers with it. */
export async function registerDevice(t: TestApp, base: string, authyId: number, opts: { algorithm?: Algorithm; key?: string; osType?: string } = {}) {
  const r = await call(t.of.server, 'POST', '/protected/json/sdk/registrations', { key: opts.key ?? t.apiKey, form: `authy_id=${authyId}` });
  if (r.status !== 200) throw new Error(`sdk/registrations: ${r.status} ${r.text}`);
  return OpenFactorDevice.registerWithToken(base, r.json.registration_token, { algorithm: opts.algorithm, osType: opts.osType ?? 'android', name: 'test phone' });
}

export async function createApproval(t: TestApp, authyId: number, body: Record<string, unknown> = { message: 'Login requested' }, key = t.apiKey) {
  return call(t.of.server, 'POST', `/onetouch/json/users/${authyId}/approval_requests`, { key, json: body });
}

export async function approvalStatus(t: TestApp, uuid: string, key = t.apiKey) {
  return call(t.of.server, 'GET', `/onetouch/json/approval_requests/${uuid}`, { key });
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The customer's callback/webhook endpoint: records every request; `answer` decides the status. */
export class Receiver {
  readonly requests: Received[] = [];
  answer: (r: Received) => number = () => 200;
  private server?: Server;
  url = '';

  async start(path = '/authy/callback'): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.requests.push(r);
        res.statusCode = this.answer(r);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
