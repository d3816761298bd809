// A generic SMS/voice gateway: one JSON POST per message, signed with HMAC-SHA256 over a timestamp
// and the body, so the gateway can tell the request is ours. Receipts come back the same way.
//   https://gateway.example/send?secret=SHARED_SECRET[&timeout=ms]   (the secret is not sent)
// Request:  {"id","channel","to","text","locale","status_callback"?}
//   headers  Idempotency-Key: <id>, X-OpenFactor-Timestamp: <unix s>, X-OpenFactor-Signature: v1=<hex>
// Answer:   2xx, optionally {"id": "<gateway's id>"}; 400/422 = refused for good.
// Receipt:  POST status_callback {"id": "<gateway's id>", "status": "sent|delivered|undelivered|failed"}, signed alike.
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../core/crypto.ts';
import type { OutgoingMessage, Provider, ReceiptCheck, ReceiptRequest, ReceiptStatus, SendResult } from '../provider.ts';

/** How old a signed receipt may be (replayed receipts are refused). */
const RECEIPT_MAX_AGE_S = 300;
const STATUSES = new Set<ReceiptStatus>(['sent', 'delivered', 'undelivered', 'failed']);

export function gatewaySignature(secret: string, timestamp: string, body: string | Buffer): string {
  return 'v1=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export interface HttpGatewayOptions {
  url: string;
  secret: string;
  timeoutMs: number;
}

export function httpGatewayProvider(o: HttpGatewayOptions): Provider {
  const target = new URL(o.url);
  return {
    kind: 'http',
    label: `http:${target.host}${target.pathname}`,
    channels: ['sms', 'voice'],
    idempotent: true,
    timeoutMs: o.timeoutMs,

    async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
      const body = JSON.stringify({ id: m.id, channel: m.channel, to: m.destination, text: m.text, locale: m.locale, ...(m.receiptUrl ? { status_callback: m.receiptUrl } : {}) });
      const ts = String(Math.floor(Date.now() / 1000));
      const res = await fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': m.idempotencyKey,
          'x-openfactor-timestamp': ts,
          'x-openfactor-signature': gatewaySignature(o.secret, ts, body),
          'user-agent': 'openfactor',
        },
        body,
        signal,
      });
      const answer = (await res.json().catch(() => ({}))) as { id?: unknown; error?: unknown };
      if (res.ok) return { ok: true, providerMessageId: typeof answer.id === 'string' && answer.id ? answer.id : m.id };
      const error = `gateway ${res.status}${typeof answer.error === 'string' ? `: ${answer.error.slice(0, 200)}` : ''}`;
      return { ok: false, error, permanent: res.status === 400 || res.status === 422 };
    },

    readReceipt(req: ReceiptRequest): ReceiptCheck {
      const ts = req.headers['x-openfactor-timestamp'];
      const sig = req.headers['x-openfactor-signature'];
      if (typeof ts !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(ts)) return { genuine: false };
      if (Math.abs(Date.now() / 1000 - Number(ts)) > RECEIPT_MAX_AGE_S) return { genuine: false };
      if (!constantTimeEqual(sig, gatewaySignature(o.secret, ts, req.rawBody))) return { genuine: false };
      let body: { id?: unknown; status?: unknown };
      try {
        body = JSON.parse(req.rawBody.toString('utf8'));
      } catch {
        return { genuine: true };
      }
      if (typeof body?.id !== 'string' || !STATUSES.has(body.status as ReceiptStatus)) return { genuine: true };
      return { genuine: true, receipt: { providerMessageId: body.id, status: body.status as ReceiptStatus } };
    },
  };
}
