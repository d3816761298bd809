// Fan-out of approval events to connected devices (event streams and long-polls). Within a
// process, a map of listeners; with several nodes, every event also goes through Redis pub/sub
// (REDIS_URL), so a device connected to any node hears of a request made on any other.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';

export type DeviceEvent =
  | { type: 'approval_request'; data: Record<string, unknown> }
  | { type: 'approval_request_updated'; data: { uuid: string; status: string } };

type Listener = (e: DeviceEvent) => void;

export class DeviceEvents {
  private listeners = new Map<number, Set<Listener>>();
  private pub?: Redis;
  private sub?: Redis;
  private readonly node = randomUUID();
  private channel = '';
  /** Called when an event from another node reached a listener here (e.g. to mark it notified). */
  onRemoteDelivery?: (e: DeviceEvent) => void;

  /** Joins the other nodes through Redis; resolves once subscribed. */
  async connect(redisUrl: string, prefix: string, log: FastifyBaseLogger): Promise<void> {
    this.channel = `${prefix}:device-events`;
    this.pub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    this.sub = new Redis(redisUrl, { lazyConnect: true });
    for (const c of [this.pub, this.sub]) c.on('error', (err) => log.warn({ err: err.message }, 'redis (device events) error'));
    await Promise.all([this.pub.connect(), this.sub.connect()]);
    this.sub.on('message', (_channel, text) => {
      const m = JSON.parse(text) as { node: string; ids: number[]; event: DeviceEvent };
      if (m.node === this.node) return;
      if (this.deliver(m.ids, m.event) > 0) this.onRemoteDelivery?.(m.event);
    });
    await this.sub.subscribe(this.channel);
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
      for (const fn of set) fn(event);
    }
    return reached;
  }

  subscribe(deviceKeyId: number, fn: Listener): () => void {
    let set = this.listeners.get(deviceKeyId);
    if (!set) this.listeners.set(deviceKeyId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
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
    await Promise.all([this.pub?.quit().catch(() => {}), this.sub?.quit().catch(() => {})]);
  }
}
