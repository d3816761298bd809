// A Web Push service (RFC 8030) over HTTPS with a self-signed certificate: it checks the VAPID
// authorization (RFC 8292: an ES256 JWT for the endpoint's origin, by the announced key) and
// decrypts the aes128gcm payload (RFC 8291) with the browser-side keys it hands out.
import { createECDH, randomBytes, type ECDH } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { importJWK, jwtVerify } from 'jose';

const require = createRequire(import.meta.url);
const ece = require('http_ece') as { decrypt(buf: Buffer, params: Record<string, unknown>): Buffer };

export interface PushDelivery {
  subscription: string;
  payload: Record<string, unknown>;
  ttl: string | undefined;
  urgency: string | undefined;
  vapidSubject: string;
}

export class FakePushService {
  readonly delivered: PushDelivery[] = [];
  readonly refused: string[] = [];
  /** Status per subscription path; 410 says the subscription is gone. */
  status = new Map<string, number>();
  caFile = '';
  private server?: Server;
  private origin = '';
  private subs = new Map<string, { ecdh: ECDH; auth: Buffer }>();

  async start(): Promise<this> {
    const dir = mkdtempSync(join(tmpdir(), 'fake-push-'));
    const key = join(dir, 'key.pem');
    this.caFile = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', this.caFile], { stdio: 'ignore' });
    this.server = createServer({ key: readFileSync(key), cert: readFileSync(this.caFile) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        this.receive(req.url ?? '', req.headers, Buffer.concat(chunks)).then(
          (code) => {
            res.statusCode = code;
            res.end();
          },
          (e) => {
            this.refused.push(String(e));
            res.statusCode = 400;
            res.end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** A new browser subscription, as `PushSubscription.toJSON()` gives it. */
  subscribe(): { endpoint: string; keys: { p256dh: string; auth: string } } {
    const path = `/push/${randomBytes(8).toString('hex')}`;
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subs.set(path, { ecdh, auth });
    return { endpoint: this.origin + path, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  }

  private async receive(path: string, headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<number> {
    const sub = this.subs.get(path);
    if (!sub) return 404;
    const m = /^vapid t=([^,]+),\s*k=(.+)$/.exec(String(headers.authorization ?? ''));
    if (!m) throw new Error('no VAPID authorization');
    const pub = Buffer.from(m[2], 'base64url');
    const jwk = { kty: 'EC', crv: 'P-256', x: pub.subarray(1, 33).toString('base64url'), y: pub.subarray(33, 65).toString('base64url') };
    const { payload } = await jwtVerify(m[1], await importJWK(jwk, 'ES256'), { audience: this.origin });
    if (headers['content-encoding'] !== 'aes128gcm') throw new Error('payload not aes128gcm');
    const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth.toString('base64url') });
    const status = this.status.get(path) ?? 201;
    if (status < 300) {
      this.delivered.push({
        subscription: path,
        payload: JSON.parse(plain.toString('utf8')),
        ttl: headers.ttl as string | undefined,
        urgency: headers.urgency as string | undefined,
        vapidSubject: String(payload.sub),
      });
    }
    return status;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
