// Web Push (RFC 8030/8291/8292) to browser devices through the `web-push` package, with VAPID
// keys from config or, on first start, generated and kept in the database (private key sealed).
import type { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import type webpushTypes from 'web-push';
import { lazy } from '../../core/lazy.ts';

const webpush = lazy<typeof webpushTypes>('web-push');
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { seal, unseal, type MasterKey } from '../../core/crypto.ts';
import { unsafeUrl, type Destinations } from '../../delivery/destinations.ts';
import type { DB } from '../../store/schema.ts';
import { pushSubscriptionsOf, readVapidKeys, setPushSubscription, storeVapidKeys } from './queries.ts';

/** A device's sealed Web Push subscription is bound to its row. */
export const pushContext = (id: number) => `device_keys:${id}:push_subscription`;

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export const VAPID_CONTEXT = 'meta:vapid_private_key';

/** The configured keys, else the stored ones, else new ones stored now (the first node wins). */
export async function loadVapidKeys(db: Kysely<DB>, keys: MasterKey[], configured: Partial<VapidKeys>): Promise<VapidKeys> {
  const subject = configured.subject ?? 'mailto:admin@localhost';
  if (configured.publicKey && configured.privateKey) return { publicKey: configured.publicKey, privateKey: configured.privateKey, subject };
  const read = async () => {
    const rows = await readVapidKeys(db);
    const m = new Map(rows.map((r) => [r.key, r.value]));
    const pub = m.get('vapid_public_key');
    const priv = m.get('vapid_private_key');
    return pub && priv ? { publicKey: pub, privateKey: unseal(keys, priv, VAPID_CONTEXT).toString('utf8'), subject } : undefined;
  };
  const stored = await read();
  if (stored) return stored;
  const fresh = webpush().generateVAPIDKeys();
  await storeVapidKeys(db, fresh.publicKey, seal(keys[0], fresh.privateKey, VAPID_CONTEXT));
  return (await read()) ?? { ...fresh, subject };
}

/** A subscription as browsers give it (`PushSubscription.toJSON()`), or undefined. */
export function readPushSubscription(v: unknown): PushSubscription | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } };
  if (typeof s.endpoint !== 'string' || s.endpoint.length > 2048 || !/^https?:\/\//.test(s.endpoint) || unsafeUrl(s.endpoint)) return undefined;
  const p256dh = s.keys?.p256dh;
  const auth = s.keys?.auth;
  if (typeof p256dh !== 'string' || typeof auth !== 'string' || p256dh.length > 200 || auth.length > 100) return undefined;
  return { endpoint: s.endpoint, keys: { p256dh, auth } };
}

export class WebPush {
  private readonly agent: Agent;

  /** `caFile`: the certificate authorities of push services, instead of Node's (a private relay, a test server). */
  constructor(
    readonly vapid: VapidKeys,
    private readonly log: FastifyBaseLogger,
    private readonly destinations: Destinations,
    caFile?: string,
  ) {
    // Endpoints come from devices: connections go through the destination guard like webhooks.
    this.agent = destinations.httpsAgent({ keepAlive: true, ...(caFile ? { ca: readFileSync(caFile) } : {}) });
  }

  close(): void {
    this.agent.destroy();
  }

  /** 'gone' when the push service says the subscription no longer exists (404/410). */
  async send(sub: PushSubscription, payload: Record<string, unknown>): Promise<'sent' | 'gone' | 'failed'> {
    const refused = unsafeUrl(sub.endpoint) ?? this.destinations.refusalOfHost(new URL(sub.endpoint));
    if (refused) {
      this.log.warn({ event: 'web_push_refused', origin: safeOrigin(sub.endpoint), reason: refused }, 'web push endpoint refused');
      return 'failed';
    }
    try {
      await webpush().sendNotification(sub, JSON.stringify(payload), { vapidDetails: this.vapid, TTL: 300, urgency: 'high', timeout: 10_000, agent: this.agent });
      return 'sent';
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 404 || status === 410) return 'gone';
      this.log.warn({ event: 'web_push_failed', status, origin: safeOrigin(sub.endpoint), reason: status ? undefined : (e as Error).message }, 'web push failed');
      return 'failed';
    }
  }
}

/** Endpoints carry a per-device token in their path: log only the push service's origin. */
const safeOrigin = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
};

/**
 * Tells devices by Web Push, for those that have a subscription (a browser not streaming events
 * now): new devices waiting for approval, account recoveries (issue 17). A subscription the push
 * service says is gone is dropped. Failures are logged, never thrown: the events still stand.
 */
export async function pushToDevices(
  d: { db: Kysely<DB>; keys: MasterKey[]; push: WebPush; log: FastifyBaseLogger },
  deviceIds: number[],
  payload: Record<string, unknown>,
): Promise<void> {
  if (deviceIds.length === 0) return;
  const rows = await pushSubscriptionsOf(d.db, deviceIds).catch((err: Error) => {
    d.log.warn({ err: err.message }, 'web push: could not read the devices’ subscriptions');
    return [];
  });
  for (const row of rows) {
    if (!row.push_subscription_sealed) continue;
    try {
      const sub = readPushSubscription(JSON.parse(unseal(d.keys, row.push_subscription_sealed, pushContext(row.id)).toString('utf8')));
      if (!sub) continue;
      if ((await d.push.send(sub, payload)) === 'gone') {
        await setPushSubscription(d.db, row.id, null);
      }
    } catch (err) {
      d.log.warn({ err: (err as Error).message, device_id: row.id }, 'web push to a device failed');
    }
  }
}
