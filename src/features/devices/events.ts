// Fan-out of approval events to connected devices (event streams and long-polls). Within a
// process, a map of listeners; with several nodes, every event also goes through Redis pub/sub
// (REDIS_URL), so a device connected to any node hears of a request made on any other.
//
// Redis is optional for correctness: the database stays the source of truth. While this node is
// not subscribed (Redis down, or not yet reached at start), event streams re-read what is pending
// from the database every few seconds, and once more when the subscription is back, so an event
// published during the outage still reaches them.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { lazy } from '../../core/lazy.ts';

const ioredis = lazy<typeof import('ioredis')>('ioredis');
import type { FastifyBaseLogger } from 'fastify';

export type DeviceEvent =
  | { type: 'approval_request'; data: Record<string, unknown> }
  | { type: 'approval_request_updated'; data: { uuid: string; status: string } }
  /** Another device registered with this person's phone and waits for an approval (issue 17). */
  | { type: 'device_request'; data: { id: number; name: string; os_type: string; created_at: string | null } }
  /** An account recovery of this person started: the device may cancel it during the wait. */
  | { type: 'account_recovery'; data: { id: string; status: string; completes_at: string | null; device: { name: string; os_type: string } } }
  /** A Twilio Verify push challenge for a factor this device enrolled (its body as the Verify API answers it). */
  | { type: 'verify_challenge'; data: { sid: string } & Record<string, unknown> }
  | { type: 'verify_challenge_updated'; data: { sid: string; status: string } };

type Listener = (e: DeviceEvent) => void;
interface Subscription {
  fn: Listener;
  /** Re-reads from the database what this listener may have missed (event streams). */
  catchUp?: () => Promise<void>;
}

/** How often streams re-read the database while Redis is away (long-polls already do, every 2 s). */
const FALLBACK_MS = 2000;

export class DeviceEvents {
  private listeners = new Map<number, Set<Subscription>>();
  private pub?: Redis;
  private sub?: Redis;
  private readonly node = randomUUID();
  private channel = '';
  private log?: FastifyBaseLogger;
  /** Subscribed: events of other nodes arrive. Without Redis there are no other nodes. */
  private linked = true;
  /** The current outage was logged (once per outage, not per retry). */
  private reported = false;
  private fallback?: NodeJS.Timeout;
  private catchingUp = false;
  private closed = false;
  /** Called when an event from another node reached a listener here (e.g. to mark it notified). */
  onRemoteDelivery?: (e: DeviceEvent) => void;

  /** Whether events from the other nodes reach this one (always true without Redis). */
  get connected(): boolean {
    return this.linked;
  }

  /** Joins the other nodes through Redis, now or, while it cannot be reached, whenever it can. */
  connect(redisUrl: string, prefix: string, log: FastifyBaseLogger): void {
    this.channel = `${prefix}:device-events`;
    this.log = log;
    this.linked = false;
    this.startFallback();
    // A publish waits through a short reconnect; during a longer outage it fails, and the other
    // nodes' streams read the database instead.
    this.pub = new (ioredis().Redis)(redisUrl, { maxRetriesPerRequest: 2 });
    // Subscribed afresh on every connection (the offline queue of a node started while Redis is
    // down gives up after some retries, and a resubscription must be awaited before catching up).
    this.sub = new (ioredis().Redis)(redisUrl, { autoResubscribe: false, enableOfflineQueue: false });
    this.pub.on('error', () => {}); // the subscriber reports the outage, once
    this.sub.on('error', (err: Error) => this.lost(err.message));
    this.sub.on('close', () => this.lost('connection closed'));
    this.sub.on('ready', () => {
      this.sub!.subscribe(this.channel).then(
        () => this.joined(),
        (err: Error) => this.lost(err.message),
      );
    });
    this.sub.on('message', (_channel, text: string) => {
      const m = JSON.parse(text) as { node: string; ids: number[]; event: DeviceEvent };
      if (m.node === this.node) return;
      if (this.deliver(m.ids, m.event) > 0) this.onRemoteDelivery?.(m.event);
    });
  }

  private lost(why: string): void {
    if (this.closed) return;
    if (this.linked) {
      this.linked = false;
      this.startFallback();
    }
    if (!this.reported) {
      this.reported = true;
      this.log?.warn({ err: why }, 'redis (device events) unreachable: event streams read the database until it is back; retrying');
    }
  }

  private joined(): void {
    if (this.linked || this.closed) return;
    this.linked = true;
    clearInterval(this.fallback);
    this.fallback = undefined;
    if (this.reported) this.log?.info('redis (device events) reachable again');
    this.reported = false;
    // Whatever was published while this node was not subscribed: the database has it.
    void this.catchUpAll();
  }

  private startFallback(): void {
    this.fallback ??= setInterval(() => void this.catchUpAll(), FALLBACK_MS).unref();
  }

  /** One stream after the other: a node with many streams does not flood the database. */
  private async catchUpAll(): Promise<void> {
    if (this.catchingUp) return;
    this.catchingUp = true;
    try {
      for (const set of [...this.listeners.values()]) {
        for (const s of [...set]) await s.catchUp?.().catch((err: Error) => this.log?.warn({ err: err.message }, 'event stream: could not re-read pending requests'));
      }
    } finally {
      this.catchingUp = false;
    }
  }

  /** Delivers to every listener of these devices, here and on the other nodes; returns how many devices had one here. */
  publish(deviceKeyIds: number[], event: DeviceEvent): number {
    if (this.pub && deviceKeyIds.length) void this.pub.publish(this.channel, JSON.stringify({ node: this.node, ids: deviceKeyIds, event })).catch(() => {});
    return this.deliver(deviceKeyIds, event);
  }

  private deliver(deviceKeyIds: Iterable<number>, event: DeviceEvent): number {
    let reached = 0;
    for (const id of deviceKeyIds) {
      const set = this.listeners.get(id);
      if (!set?.size) continue;
      reached++;
      for (const s of set) s.fn(event);
    }
    return reached;
  }

  /** `catchUp` (event streams) is run while Redis is away and when it is back. */
  subscribe(deviceKeyId: number, fn: Listener, catchUp?: () => Promise<void>): () => void {
    let set = this.listeners.get(deviceKeyId);
    if (!set) this.listeners.set(deviceKeyId, (set = new Set()));
    const s: Subscription = { fn, catchUp };
    set.add(s);
    return () => {
      set.delete(s);
      if (set.size === 0) this.listeners.delete(deviceKeyId);
    };
  }

  /** Resolves at the next event for this device, or after `ms`; whichever comes first. */
  next(deviceKeyId: number, ms: number, signal?: AbortSignal): Promise<DeviceEvent | undefined> {
    return new Promise((resolve) => {
      const done = (e?: DeviceEvent) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(e);
      };
      const onAbort = () => done();
      const off = this.subscribe(deviceKeyId, done);
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', onAbort);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.fallback);
    // quit() lets a connected client finish its publishes; one waiting to reconnect just stops.
    await Promise.all([this.pub, this.sub].map((c) => (c?.status === 'ready' ? c.quit().catch(() => {}) : c?.disconnect())));
  }
}
