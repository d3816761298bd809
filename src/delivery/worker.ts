// Sends outbox rows through their channel's providers, with failover, retries and backoff.
// Runs in every server process; rows are claimed atomically, so several workers never send one
// message at once. At most `concurrency` messages are out at a time, each on its own: a hanging
// provider holds only its own messages, and only until its timeout.
import type { FastifyBaseLogger } from 'fastify';
import type { Outbox, ClaimedMessage } from './outbox.ts';
import type { Receipt } from './provider.ts';
import type { DeliveryMetrics } from './metrics.ts';
import type { Routing } from './routing.ts';

export interface WorkerOptions {
  /** How often to look for due messages when nothing woke the worker. */
  pollMs?: number;
  /** Messages out at once. */
  concurrency?: number;
  /** Rounds through the provider list before a message is given up on. */
  maxRounds?: number;
  /** Base of receipt URLs handed to providers (`{publicUrl}/delivery/receipts/{id}`). */
  publicUrl?: string;
}

const backoffMs = (round: number) => Math.min(60_000, 1000 * 2 ** (round - 1));
/** A receipt can overtake our own record of the send: look again a few times. */
const RECEIPT_RETRIES_MS = [200, 500, 1000, 2000, 5000, 10_000];

export class OutboxWorker {
  private timer?: NodeJS.Timeout;
  private claiming?: Promise<void>;
  private again = false;
  /** A wake that looks came while claiming: the next round looks too. */
  private lookAgain = false;
  private stopped = true;
  /** Each delivery under way, and the message it is sending. */
  private readonly inFlight = new Map<Promise<void>, ClaimedMessage>();

  constructor(
    private readonly outbox: Outbox,
    private readonly routing: Routing,
    private readonly metrics: DeliveryMetrics,
    private readonly log: FastifyBaseLogger,
    private readonly opts: WorkerOptions = {},
  ) {
    routing.onReceipt((label, r) => void this.receive(label, r));
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.opts.pollMs ?? 1000);
    this.wake();
  }

  /**
   * Claims due messages now: after every enqueue, at each poll, and (`look` false) whenever a slot
   * frees. `look` asks the database even when this process has queued nothing since its last claim
   * came back short (another node's messages, retries come due, a message committed after a claim
   * that ran meanwhile). A freed slot does not ask: under load that was one statement in nine of
   * the outbox's on PostgreSQL, nearly all answered "nothing" (bench).
   */
  wake(look = true): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      this.lookAgain ||= look;
      return;
    }
    this.claiming = this.fill(look)
      .catch((err) => this.log.error({ err }, 'outbox worker failed; retrying on the next tick'))
      .finally(() => {
        this.claiming = undefined;
        if (this.again && !this.stopped) {
          const look = this.lookAgain;
          this.again = this.lookAgain = false;
          this.wake(look);
        }
      });
  }

  /**
   * Claims nothing more and lets the messages out finish, for at most `graceMs`; those still out
   * then have their leases ended, so another node sends (or settles) them at once.
   */
  async stop(graceMs = Infinity): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.claiming;
    let timer: NodeJS.Timeout | undefined;
    const finished = Promise.all(this.inFlight.keys()).then(() => true);
    const inTime = Number.isFinite(graceMs) ? await Promise.race([finished, new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]) : await finished;
    clearTimeout(timer);
    if (inTime) return;
    const left = [...this.inFlight.values()];
    const released = await this.outbox.releaseLeases(left.map((m) => m.rowId));
    this.log.warn({ event: 'outbox_leases_released', messages: left.length, released }, `stopping: ${left.length} message(s) still with their provider after ${graceMs} ms; left to the other nodes`);
  }

  /** Claims as many due messages as there are free slots and starts each on its own. */
  private async fill(look: boolean): Promise<void> {
    const concurrency = this.opts.concurrency ?? 32;
    while (!this.stopped) {
      const free = concurrency - this.inFlight.size;
      if (free <= 0) return;
      const batch = await this.outbox.claim(Math.min(free, 50), Date.now(), look);
      if (batch.length === 0) return;
      for (const m of batch) {
        const job: Promise<void> = this.deliver(m)
          .catch((err) =>
            deletedMeanwhile(err)
              ? this.log.info({ event: 'message_gone', message_id: m.id }, 'message not sent: it was deleted (with its application) while it waited')
              : this.log.error({ err, message_id: m.id }, 'delivery failed unexpectedly; the message is retried after its lease'),
          )
          .finally(() => {
            this.inFlight.delete(job);
            this.wake(false);
          });
        this.inFlight.set(job, m);
      }
    }
  }

  private async deliver(m: ClaimedMessage): Promise<void> {
    if (m.rounds > 1 && !(await this.settleCrashedAttempt(m))) return;
    const router = await this.routing.routerFor(m.appId, m.channel);
    const receiptUrl = this.opts.publicUrl ? `${this.opts.publicUrl}/delivery/receipts/${m.id}` : undefined;
    const result = await router.send(
      { id: m.id, channel: m.channel, destination: m.destination, text: m.text, locale: m.locale, idempotencyKey: m.id, receiptUrl },
      this.outbox.attemptLog(m),
    );
    // Marked sent and counted with the provider call that took it (Outbox.attemptLog).
    if (result.ok) return;
    const final = result.permanent || m.rounds >= (this.opts.maxRounds ?? 5);
    const label = result.provider?.label ?? 'none';
    await this.outbox.markFailed(m.id, label, result.error, final ? undefined : Date.now() + backoffMs(m.rounds));
    this.log.warn({ message_id: m.id, channel: m.channel, provider: label, round: m.rounds, final }, 'delivery round failed');
    if (final) {
      this.metrics.count(label, m.channel, 'failed');
      await this.fallBack(m.id);
    }
  }

  /**
   * A previous process stopped mid-delivery. If its provider had accepted the message, only our
   * record was missing: write it. If the call was still out, the message may or may not have gone:
   * a provider that honours idempotency keys gets it again with the same key; any other is not
   * asked twice (a duplicate is not ours to risk) and the message is marked failed.
   * Returns whether to go on sending.
   */
  private async settleCrashedAttempt(m: ClaimedMessage): Promise<boolean> {
    const last = await this.outbox.lastAttempt(m.rowId);
    if (last?.outcome === 'accepted') {
      await this.outbox.markSent(m, last.provider, last.provider_message_id ?? m.id);
      return false;
    }
    if (!last || last.outcome !== null) return true;
    const provider = await this.routing.findProvider(m.appId, m.channel, last.provider);
    const error = 'in doubt: the sending process stopped during the provider call';
    await this.outbox.finishAttempt(last.id, 'in_doubt', { error });
    if (provider?.idempotent) return true;
    await this.outbox.markFailed(m.id, last.provider, `${error}; not sent again, to avoid a duplicate`, undefined);
    this.metrics.count(last.provider, m.channel, 'in_doubt');
    this.log.warn({ message_id: m.id, provider: last.provider }, 'delivery in doubt after a crash: marked failed, not re-sent');
    return false;
  }

  /** A receipt from a provider (over its own connection or `/delivery/receipts/{id}`). */
  async receive(providerLabel: string, r: Receipt, retry = 0): Promise<boolean> {
    const changed = await this.outbox.applyReceipt(providerLabel, r);
    if (!changed) {
      // Our markSent may still be on its way; a receipt for nothing we know is dropped in the end.
      if (r.status !== 'sent' && retry < RECEIPT_RETRIES_MS.length && !this.stopped) {
        setTimeout(() => void this.receive(providerLabel, r, retry + 1).catch(() => {}), RECEIPT_RETRIES_MS[retry]).unref();
      }
      return false;
    }
    this.metrics.count(providerLabel, changed.channel, r.status);
    if (r.status !== 'delivered') await this.fallBack(changed.sid);
    return true;
  }

  private async fallBack(sid: string): Promise<void> {
    const voiceId = await this.outbox.fallBackToVoice(sid);
    if (!voiceId) return;
    this.log.info({ message_id: sid, fallback_id: voiceId }, 'SMS not delivered: calling instead');
    this.wake();
  }
}

/**
 * A write about a message whose row is gone (its application was deleted after the claim) breaks
 * a foreign key: the attempt is not recorded, so the provider is never called. Expected, not an error.
 */
const deletedMeanwhile = (err: unknown) => {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
};
