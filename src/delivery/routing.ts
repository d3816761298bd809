// Which providers send an application's messages: its own lists (`openfactor apps providers`)
// where it has them, else the service's (environment or config file). Per-application lists are
// sealed at rest (they hold credentials) and re-read every few seconds, so a change made with the
// CLI while the server runs takes effect without a restart.
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { seal, unseal, type MasterKey } from '../core/crypto.ts';
import type { DB } from '../store/schema.ts';
import type { DeliveryMetrics } from './metrics.ts';
import type { Channel, Provider, Receipt } from './provider.ts';
import { createProviders, splitProviderList } from './providers/index.ts';
import { Router, type BreakerOptions } from './router.ts';
import { appProviderLists, deleteAppProviderList, upsertAppProviderList } from './queries.ts';

export const CHANNELS: readonly Channel[] = ['sms', 'voice', 'email'];
export type ProviderLists = Record<Channel, string>;

const APP_LISTS_TTL_MS = 5000;
export const listContext = (appId: number, channel: Channel) => `app_providers:${appId}:${channel}`;

type ReceiptListener = (providerLabel: string, r: Receipt) => void;

interface AppRouters {
  loadedAt: number;
  routers: Partial<Record<Channel, { list: string; router: Router }>>;
}

export class Routing {
  private readonly service: Record<Channel, Router>;
  private readonly apps = new Map<number, AppRouters>();
  private readonly listeners: ReceiptListener[] = [];

  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
    lists: ProviderLists,
    private readonly metrics: DeliveryMetrics,
    private readonly log: FastifyBaseLogger,
    private readonly breaker?: BreakerOptions,
  ) {
    // Built at start: a bad provider URL in the configuration stops the server with its reason.
    this.service = Object.fromEntries(CHANNELS.map((c) => [c, this.build(c, lists[c])])) as Record<Channel, Router>;
  }

  onReceipt(listener: ReceiptListener): void {
    this.listeners.push(listener);
  }

  private build(channel: Channel, list: string): Router {
    const providers = createProviders(list, channel, this.log);
    for (const p of providers) p.onReceipt?.((r) => {
      for (const l of this.listeners) l(p.label, r);
    });
    return new Router(channel, providers, this.metrics, this.breaker);
  }

  async routerFor(appId: number, channel: Channel): Promise<Router> {
    const own = (await this.appRouters(appId)).routers[channel];
    return own?.router ?? this.service[channel];
  }

  /** The provider that sent a message (by its label), for receipts and crash recovery. */
  async findProvider(appId: number, channel: Channel, label: string): Promise<Provider | undefined> {
    const routers = [(await this.appRouters(appId)).routers[channel]?.router, this.service[channel]];
    for (const r of routers) {
      const p = r?.providers.find((x) => x.label === label);
      if (p) return p;
    }
    return undefined;
  }

  /** Reads the application's lists again on its next message (this process changed them). */
  forget(appId: number): void {
    this.apps.delete(appId);
  }

  private async appRouters(appId: number): Promise<AppRouters> {
    const cached = this.apps.get(appId);
    if (cached && Date.now() - cached.loadedAt < APP_LISTS_TTL_MS) return cached;
    const lists = await readAppProviders(this.db, this.keys, appId);
    const next: AppRouters = { loadedAt: Date.now(), routers: {} };
    for (const channel of CHANNELS) {
      const list = lists[channel];
      if (!list) continue;
      const previous = cached?.routers[channel];
      if (previous?.list === list) next.routers[channel] = previous;
      else {
        try {
          next.routers[channel] = { list, router: this.build(channel, list) };
        } catch (err) {
          this.log.error({ app_id: appId, channel, err: (err as Error).message }, 'application provider list unusable: using the service providers');
        }
      }
    }
    for (const channel of CHANNELS) {
      const old = cached?.routers[channel];
      if (old && next.routers[channel] !== old) void old.router.close().catch(() => {});
    }
    this.apps.set(appId, next);
    return next;
  }

  async close(): Promise<void> {
    const routers = [...Object.values(this.service), ...[...this.apps.values()].flatMap((a) => Object.values(a.routers).map((r) => r!.router))];
    await Promise.all(routers.map((r) => r.close()));
  }
}

export async function readAppProviders(db: Kysely<DB>, keys: MasterKey[], appId: number): Promise<Partial<ProviderLists>> {
  const rows = await appProviderLists(db, appId);
  return Object.fromEntries(rows.map((r) => [r.channel, unseal(keys, r.urls_sealed, listContext(appId, r.channel)).toString('utf8')]));
}

/** Sets (or with an empty list, removes) an application's own providers for a channel; checks the URLs first. */
export async function writeAppProviders(db: Kysely<DB>, keys: MasterKey[], appId: number, channel: Channel, list: string, log: FastifyBaseLogger): Promise<void> {
  if (splitProviderList(list).length === 0) {
    await deleteAppProviderList(db, appId, channel);
    return;
  }
  const providers = createProviders(list, channel, log); // throws ProviderConfigError with the reason
  await Promise.all(providers.map((p) => p.close?.()));
  const urls_sealed = seal(keys[0], list, listContext(appId, channel));
  await upsertAppProviderList(db, appId, channel, urls_sealed);
}
