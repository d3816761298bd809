// The delivery outbox: every message is a row first, so a crash between accepting a request and
// handing the message to a provider loses nothing. Texts are sealed: they carry codes.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { seal, unseal, type MasterKey } from '../core/crypto.ts';
import type { Dialect } from '../store/db.ts';
import type { DB, OutboxStatus } from '../store/schema.ts';
import type { Channel } from './provider.ts';

const ID_PREFIX: Record<Channel, string> = { sms: 'SM', voice: 'CA', email: 'EM' };
const textContext = (id: string) => `outbox:${id}:text`;

export interface NewMessage {
  appId: number;
  userId: number | null;
  channel: Channel;
  destination: string;
  text: string;
  locale: string;
}

export interface ClaimedMessage {
  id: string;
  appId: number;
  channel: Channel;
  destination: string;
  text: string;
  locale: string;
  attempts: number;
}

export interface MessageView {
  id: string;
  app_id: number;
  channel: Channel;
  destination: string;
  locale: string;
  status: OutboxStatus;
  attempts: number;
  provider: string | null;
  provider_message_id: string | null;
  provider_result: string | null;
  created_at: string;
  /** Only for messages the console provider kept (nothing real was sent). */
  text?: string;
}

/** Time a claimed message may stay `sending` before another worker may take it (a crash). */
const LEASE_MS = 60_000;

export class Outbox {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: Dialect,
    private readonly keys: MasterKey[],
  ) {}

  /** Adds a message; pass the transaction that records what the message is about. */
  async enqueue(trx: Kysely<DB>, m: NewMessage, now = Date.now()): Promise<string> {
    const id = ID_PREFIX[m.channel] + randomBytes(16).toString('hex');
    await trx
      .insertInto('outbox')
      .values({
        sid: id,
        app_id: m.appId,
        user_id: m.userId,
        channel: m.channel,
        destination: m.destination,
        text_sealed: seal(this.keys[0], m.text, textContext(id)),
        locale: m.locale,
        status: 'queued',
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })
      .execute();
    return id;
  }

  /** Takes up to `limit` due messages (queued, or abandoned mid-send by a crashed worker). */
  async claim(limit: number, now = Date.now()): Promise<ClaimedMessage[]> {
    const rows = await this.db
      .updateTable('outbox')
      .set((eb) => ({ status: 'sending', claimed_until: now + LEASE_MS, attempts: eb('attempts', '+', 1), updated_at: now }))
      .where('id', 'in', (eb) => {
        let due = eb
          .selectFrom('outbox')
          .select('id')
          .where((w) =>
            w.or([
              w.and([w('status', '=', 'queued'), w('next_attempt_at', '<=', now)]),
              w.and([w('status', '=', 'sending'), w('claimed_until', '<', now)]),
            ]),
          )
          .orderBy('next_attempt_at')
          .orderBy('id')
          .limit(limit);
        // Several nodes on PostgreSQL: each row goes to one of them.
        if (this.dialect === 'postgres') due = due.forUpdate().skipLocked();
        return due;
      })
      .returning(['sid', 'app_id', 'channel', 'destination', 'text_sealed', 'locale', 'attempts'])
      .execute();
    return rows.map((r) => ({
      id: r.sid,
      appId: r.app_id,
      channel: r.channel,
      destination: r.destination,
      text: unseal(this.keys, r.text_sealed, textContext(r.sid)).toString('utf8'),
      locale: r.locale,
      attempts: r.attempts,
    }));
  }

  async markSent(id: string, provider: string, providerMessageId: string, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('outbox')
      .set({ status: 'sent', provider, provider_message_id: providerMessageId, provider_result: null, claimed_until: null, updated_at: now })
      .where('sid', '=', id)
      .execute();
  }

  /** A failed attempt: tried again at `retryAt`, or given up on (`failed`) when undefined. */
  async markFailed(id: string, provider: string, error: string, retryAt: number | undefined, now = Date.now()): Promise<void> {
    await this.db
      .updateTable('outbox')
      .set({
        status: retryAt === undefined ? 'failed' : 'queued',
        next_attempt_at: retryAt ?? now,
        provider,
        provider_result: error.slice(0, 500),
        claimed_until: null,
        updated_at: now,
      })
      .where('sid', '=', id)
      .execute();
  }

  /** Newest first, for the CLI and the admin API. */
  async recent(opts: { appId?: number; limit?: number } = {}): Promise<MessageView[]> {
    let q = this.db
      .selectFrom('outbox')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(Math.min(Math.max(opts.limit ?? 50, 1), 1000));
    if (opts.appId !== undefined) q = q.where('app_id', '=', opts.appId);
    const rows = await q.execute();
    return rows.map((r) => ({
      id: r.sid,
      app_id: r.app_id,
      channel: r.channel,
      destination: r.destination,
      locale: r.locale,
      status: r.status,
      attempts: r.attempts,
      provider: r.provider,
      provider_message_id: r.provider_message_id,
      provider_result: r.provider_result,
      created_at: new Date(Number(r.created_at)).toISOString(),
      ...(r.provider === 'console' ? { text: unseal(this.keys, r.text_sealed, textContext(r.sid)).toString('utf8') } : {}),
    }));
  }
}
