// The delivery outbox: every message is a row first, so a crash between accepting a request and
// handing the message to a provider loses nothing. Texts are sealed: they carry codes.
import type { Kysely } from 'kysely';
import { randomBytes, seal, unseal, type MasterKey } from '../core/crypto.ts';
import type { Dialect } from '../store/db.ts';
import { destinationContext } from '../store/contacts.ts';
import type { AttemptOutcome, DB, OutboxStatus } from '../store/schema.ts';
import * as q from './queries.ts';
import type { Channel, Provider, Receipt } from './provider.ts';
import type { AttemptLog } from './router.ts';
import { monthOf, usageStep } from '../features/applications/service.ts';
import { writeTogether, type WriteStep } from '../store/prepared.ts';
import { oneRowEach, perTurn } from '../store/turn-batch.ts';

const ID_PREFIX: Record<Channel, string> = { sms: 'SM', voice: 'CA', email: 'EM' };
export const textContext = (id: string) => `outbox:${id}:text`;
export const fallbackContext = (id: string) => `outbox:${id}:fallback`;

type Sent = { m: Pick<ClaimedMessage, 'id' | 'rowId' | 'appId' | 'channel'>; attemptId?: number; provider: string; providerMessageId: string; now: number };
/** On PostgreSQL the turn's messages sent go in one statement (a round trip each cost more, bench). */
const markSentCounted = perTurn(
  async (db, s: Sent) => {
    const steps: WriteStep[] = s.attemptId === undefined ? [] : [q.attemptFinished.step(s.attemptId, 'accepted', s.providerMessageId, null, s.now)];
    const marked = steps.length;
    steps.push(q.markMessageSent.step(s.m.id, s.provider, s.providerMessageId, s.now));
    if (s.m.channel !== 'email') steps.push({ ...usageStep(s.m.appId, monthOf(s.now), s.m.channel === 'sms' ? 'sms' : 'calls', 1), onlyIfChanged: marked });
    await writeTogether(db, steps);
  },
  (db, keys) =>
    oneRowEach(keys, (s) => s.m.rowId, async (round) => {
      const at = <T>(f: (s: Sent) => T) => round.map(f);
      await q.markMessagesSent.all(db, at((s) => s.m.rowId), at((s) => s.attemptId ?? null), at((s) => s.provider), at((s) => s.providerMessageId), at((s) => s.now), at((s) => monthOf(s.now)));
      return round.map(() => undefined);
    }),
);

export interface NewMessage {
  appId: number;
  userId: number | null;
  channel: Channel;
  destination: string;
  text: string;
  locale: string;
  /** SMS only: the voice text to call with if the SMS cannot be delivered (application setting). */
  fallbackText?: string;
}

export interface ClaimedMessage {
  id: string;
  /** The row's serial id (attempt records point at it). */
  rowId: number;
  appId: number;
  channel: Channel;
  destination: string;
  text: string;
  locale: string;
  /** Delivery rounds so far, this one included (each round tries the providers in order). */
  rounds: number;
}

export interface MessageView {
  id: string;
  app_id: number;
  channel: Channel;
  destination: string;
  locale: string;
  status: OutboxStatus;
  /** Provider calls made (each provider tried counts once). */
  attempts: number;
  rounds: number;
  provider: string | null;
  provider_message_id: string | null;
  provider_result: string | null;
  created_at: string;
  /** The voice call made because this SMS failed. */
  fallback_id: string | null;
  /** Only for messages the console provider kept (nothing real was sent). */
  text?: string;
}

/** Time a claimed message may stay `sending` before another worker may take it (a crash). */
export const DEFAULT_LEASE_MS = 60_000;

export class Outbox {
  /** This process queued a message, or its last claim was full: the next claim need not ask first. */
  private mayBeDue = true;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: Dialect,
    private readonly keys: MasterKey[],
    private readonly leaseMs = DEFAULT_LEASE_MS,
  ) {}

  /** Adds a message; pass the transaction that records what the message is about. */
  async enqueue(trx: Kysely<DB>, m: NewMessage, now = Date.now()): Promise<string> {
    const { sid, step } = this.enqueueStep(m, now);
    await writeTogether(trx, [step]);
    return sid;
  }

  /** The message's id and its insert, to write together with what it is about (writeTogether). */
  enqueueStep(m: NewMessage, now = Date.now()): { sid: string; step: WriteStep } {
    this.mayBeDue = true;
    return this.row(m, 'queued', null, now);
  }

  /**
   * A message the SMS-pumping defence refused, kept as the audit of the block: status `blocked`,
   * the rule in `provider_result`, no text; no worker ever sends it.
   */
  async recordBlocked(db: Kysely<DB>, m: Omit<NewMessage, 'text'>, rule: string, now = Date.now()): Promise<string> {
    const { sid, step } = this.row({ ...m, text: '' }, 'blocked', `blocked: ${rule}`, now);
    await writeTogether(db, [step]);
    return sid;
  }

  private row(m: NewMessage, status: 'queued' | 'blocked', result: string | null, now: number): { sid: string; step: WriteStep } {
    const sid = ID_PREFIX[m.channel] + randomBytes(16).toString('hex');
    const key = this.keys[0];
    const step = q.insertMessage.step(
      sid,
      m.appId,
      m.userId,
      m.channel,
      seal(key, m.destination, destinationContext(sid)),
      seal(key, m.text, textContext(sid)),
      m.locale,
      m.fallbackText ? seal(key, m.fallbackText, fallbackContext(sid)) : null,
      status,
      result,
      now,
    );
    return { sid, step };
  }

  /**
   * Ends the leases of messages this process claimed and is leaving (a shutdown past its grace):
   * another worker takes them at once, as after a crash, instead of when the lease runs out.
   */
  async releaseLeases(rowIds: number[], now = Date.now()): Promise<number> {
    if (rowIds.length === 0) return 0;
    return q.releaseMessageLeases(this.db, rowIds, now);
  }

  /**
   * Takes up to `limit` due messages (queued, or abandoned mid-send by a crashed worker). `look`:
   * ask the database even if this process queued nothing since its last claim came back short
   * (the worker's poll: another node's messages, retries come due, expired leases).
   */
  async claim(limit: number, now = Date.now(), look = true): Promise<ClaimedMessage[]> {
    // Usually nothing is due, and a prepared read says so for far less than the claiming UPDATE
    // costs to build and run. Not while messages are coming or a backlog is being worked off:
    // there the read would only delay each claim (bench, PostgreSQL).
    if (!this.mayBeDue && (!look || !(await q.anyMessageDue.first(this.db, now)))) return [];
    this.mayBeDue = false;
    const rows = await q.claimMessages(this.db, this.dialect, limit, this.leaseMs, now);
    if (rows.length === limit) this.mayBeDue = true;
    return rows.map((r) => ({
      id: r.sid,
      rowId: r.id,
      appId: r.app_id,
      channel: r.channel,
      destination: this.destinationOf(r),
      text: unseal(this.keys, r.text_sealed, textContext(r.sid)).toString('utf8'),
      locale: r.locale,
      rounds: r.attempts,
    }));
  }

  /**
   * Each provider call of a message, recorded before it is made: after a crash an unfinished one
   * is in doubt. The call that took the message is recorded with the message marked sent and
   * counted, all in one write (markSent).
   */
  attemptLog(m: Pick<ClaimedMessage, 'id' | 'rowId' | 'appId' | 'channel'>): AttemptLog {
    const providers = new Map<number, string>();
    return {
      start: async (p: Provider) => {
        const attemptId = await q.insertDeliveryAttempt(this.db, m.rowId, p.label, Date.now());
        providers.set(attemptId, p.label);
        return attemptId;
      },
      finish: (attemptId, outcome, result) =>
        outcome === 'accepted' && result.providerMessageId !== undefined
          ? markSentCounted(this.db, { m, attemptId, provider: providers.get(attemptId)!, providerMessageId: result.providerMessageId, now: Date.now() })
          : this.finishAttempt(attemptId, outcome, result),
    };
  }

  async finishAttempt(attemptId: number, outcome: AttemptOutcome, result: { providerMessageId?: string; error?: string }): Promise<void> {
    await q.finishDeliveryAttempt(this.db, attemptId, outcome, result.providerMessageId ?? null, result.error?.slice(0, 500) ?? null, Date.now());
  }

  /** The latest provider call for a message: what a crashed process last did with it. */
  async lastAttempt(rowId: number) {
    return q.lastDeliveryAttempt(this.db, rowId);
  }

  async attempts(sid: string): Promise<{ provider: string; outcome: AttemptOutcome | null; provider_message_id: string | null; error: string | null; started_at: number }[]> {
    const rows = await q.deliveryAttemptsOf(this.db, sid);
    return rows.map((r) => ({ ...r, started_at: Number(r.started_at) }));
  }

  /** The message a receipt callback names (`/delivery/receipts/{id}`). */
  find(sid: string) {
    return q.findMessage(this.db, sid);
  }

  /**
   * A delivery receipt: `sent` → delivered, undelivered or failed. A receipt never moves a message
   * backwards (a late `sent` after `delivered` changes nothing). Returns the message it changed.
   */
  async applyReceipt(providerLabel: string, r: Receipt, now = Date.now()) {
    if (r.status === 'sent') return undefined;
    return q.applyMessageReceipt(this.db, providerLabel, r.providerMessageId, r.status, r.detail?.slice(0, 500) ?? null, now);
  }

  /**
   * The SMS could not be delivered and its application asked for a call instead: queue the voice
   * message (once) and link it. Returns the new message's id.
   */
  async fallBackToVoice(sid: string, now = Date.now()): Promise<string | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await q.findFallbackSource(trx, sid);
      if (row?.channel !== 'sms' || !row.fallback_text_sealed || row.fallback_sid) return undefined;
      const text = unseal(this.keys, row.fallback_text_sealed, fallbackContext(sid)).toString('utf8');
      const destination = this.destinationOf({ sid, destination: row.destination });
      const voiceId = await this.enqueue(trx, { appId: row.app_id, userId: row.user_id, channel: 'voice', destination, text, locale: row.locale }, now);
      if (!(await q.linkFallback(trx, sid, voiceId))) throw new Error('fallback raced');
      return voiceId;
    });
  }

  /**
   * Marks a message sent and counts it in its application's month (SMS, calls) together: after a
   * crash both are there or neither (and the message is settled again). A message already marked
   * sent (or further) is neither changed nor counted again. (A provider call that takes a message
   * marks it so itself: attemptLog.)
   */
  async markSent(m: Pick<ClaimedMessage, 'id' | 'rowId' | 'appId' | 'channel'>, provider: string, providerMessageId: string, now = Date.now()): Promise<void> {
    await markSentCounted(this.db, { m, provider, providerMessageId, now });
  }

  /** A failed attempt: tried again at `retryAt`, or given up on (`failed`) when undefined. */
  async markFailed(id: string, provider: string, error: string, retryAt: number | undefined, now = Date.now()): Promise<void> {
    await q.markMessageFailed(this.db, id, provider, error.slice(0, 500), retryAt, now);
  }

  /** The phone number or email address, sealed at rest. */
  private destinationOf(r: { sid: string; destination: string }): string {
    return unseal(this.keys, r.destination, destinationContext(r.sid)).toString('utf8');
  }

  /** Newest first, for the CLI and the admin API. */
  async recent(opts: { appId?: number; limit?: number } = {}): Promise<MessageView[]> {
    const rows = await q.recentMessages(this.db, Math.min(Math.max(opts.limit ?? 50, 1), 1000), opts.appId);
    return rows.map((r) => ({
      id: r.sid,
      app_id: r.app_id,
      channel: r.channel,
      destination: this.destinationOf(r),
      locale: r.locale,
      status: r.status,
      attempts: Number(r.provider_attempts),
      rounds: r.attempts,
      provider: r.provider,
      provider_message_id: r.provider_message_id,
      provider_result: r.provider_result,
      created_at: new Date(Number(r.created_at)).toISOString(),
      fallback_id: r.fallback_sid,
      ...(r.provider === 'console' ? { text: unseal(this.keys, r.text_sealed, textContext(r.sid)).toString('utf8') } : {}),
    }));
  }
}

