// Signed HTTP deliveries to customers: OneTouch callbacks and webhooks. A delivery is a row
// written in the same transaction as the change it reports, so a crash loses none; a worker
// sends due rows, records every attempt and retries with exponential backoff.
import type { FastifyBaseLogger } from 'fastify';
import type { ExpressionBuilder, Kysely, Transaction } from 'kysely';
import { prepared } from '../store/prepared.ts';
import type { Dialect } from '../store/db.ts';
import type { Destinations } from './destinations.ts';
import type { DB, HookDeliveriesTable } from '../store/schema.ts';

export interface NewHook {
  appId: number;
  kind: HookDeliveriesTable['kind'];
  target: string;
  event: string;
  url: string;
  method: 'GET' | 'POST';
  payload: Record<string, unknown>;
}

export interface DueHook extends NewHook {
  id: number;
  attempts: number;
}

/** What goes on the wire; the signer builds it afresh for every attempt (nonces are times). */
export interface SignedRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

export type Signer = (hook: DueHook) => Promise<SignedRequest | undefined>;

const LEASE_MS = 60_000;
const TIMEOUT_MS = 10_000;

export class Hooks {
  private timer?: NodeJS.Timeout;
  private running = false;
  private rerun = false;
  private inFlight = new Set<Promise<void>>();
  /** This process queued a delivery, or its last claim was full: the next claim need not ask first. */
  private mayBeDue = true;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly dialect: Dialect,
    private readonly sign: Signer,
    private readonly log: FastifyBaseLogger,
    private readonly destinations: Destinations,
    private readonly opts: { retryBaseMs: number; maxAttempts: number },
  ) {}

  async enqueue(db: Kysely<DB> | Transaction<DB>, h: NewHook, now = Date.now()): Promise<void> {
    this.mayBeDue = true;
    await db
      .insertInto('hook_deliveries')
      .values({
        app_id: h.appId,
        kind: h.kind,
        target: h.target,
        event: h.event,
        url: h.url,
        method: h.method,
        payload: JSON.stringify(h.payload),
        status: 'pending',
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })
      .execute();
  }

  start(pollMs = 500): void {
    this.timer = setInterval(() => this.wake(), pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Sends whatever is due now (called after an enqueue, and by the poll timer). */
  wake(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    const run = this.drain()
      .catch((err) => this.log.error({ err }, 'hook delivery loop failed'))
      .finally(() => {
        this.running = false;
        this.inFlight.delete(run);
        if (this.rerun) {
          this.rerun = false;
          this.wake();
        }
      });
    this.inFlight.add(run);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.inFlight]);
  }

  private async drain(): Promise<void> {
    for (;;) {
      const due = await this.claim(16);
      if (due.length === 0) return;
      await Promise.all(due.map((h) => this.deliver(h)));
    }
  }

  private async claim(limit: number, now = Date.now()): Promise<DueHook[]> {
    // Polled twice a second: usually nothing is due, and a prepared read says so for far less
    // than the claiming UPDATE costs to build and run (not while deliveries keep coming).
    if (!this.mayBeDue && !(await anyDue.first(this.db, now))) return [];
    this.mayBeDue = false;
    const rows = await this.db
      .updateTable('hook_deliveries')
      .set((eb) => ({ claimed_until: now + LEASE_MS, attempts: eb('attempts', '+', 1), updated_at: now }))
      .where('id', 'in', (eb) => {
        let q = eb
          .selectFrom('hook_deliveries')
          .select('id')
          .where(isDue(now))
          .orderBy('next_attempt_at')
          .limit(limit);
        if (this.dialect === 'postgres') q = q.forUpdate().skipLocked();
        return q;
      })
      .returning(['id', 'app_id', 'kind', 'target', 'event', 'url', 'method', 'payload', 'attempts'])
      .execute();
    if (rows.length === limit) this.mayBeDue = true;
    return rows.map((r) => ({
      id: r.id,
      appId: r.app_id,
      kind: r.kind,
      target: r.target,
      event: r.event,
      url: r.url,
      method: r.method,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
      attempts: r.attempts,
    }));
  }

  private async deliver(h: DueHook): Promise<void> {
    const started = Date.now();
    const attempt = await this.db
      .insertInto('hook_attempts')
      .values({ delivery_id: h.id, started_at: started })
      .returning('id')
      .executeTakeFirstOrThrow();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const req = await this.sign(h);
      if (!req) error = 'nothing to sign with (application or webhook removed)';
      else {
        status = await this.destinations.send(req, TIMEOUT_MS);
        if (status < 200 || status >= 300) error = `HTTP ${status}`;
      }
    } catch (e) {
      error = (e as Error).name === 'TimeoutError' ? 'timed out' : String((e as Error).message).slice(0, 200);
    }
    const now = Date.now();
    await this.db.updateTable('hook_attempts').set({ finished_at: now, http_status: status, error }).where('id', '=', attempt.id).execute();
    const final = error === null || h.attempts >= this.opts.maxAttempts || status === 410;
    await this.db
      .updateTable('hook_deliveries')
      .set({
        status: error === null ? 'delivered' : final ? 'failed' : 'pending',
        next_attempt_at: final ? now : now + this.opts.retryBaseMs * 2 ** Math.min(h.attempts - 1, 16),
        claimed_until: null,
        updated_at: now,
      })
      .where('id', '=', h.id)
      .execute();
    if (error !== null) {
      this.log.warn({ event: 'hook_delivery_failed', kind: h.kind, hook: h.event, delivery_id: h.id, attempt: h.attempts, final, error }, 'callback delivery failed');
    }
  }

  /** Deliveries of an application, newest first, with their attempts (admin API, tests). */
  async list(appId: number, limit = 50) {
    const rows = await this.db
      .selectFrom('hook_deliveries')
      .select(['id', 'kind', 'target', 'event', 'url', 'method', 'status', 'attempts', 'created_at', 'updated_at'])
      .where('app_id', '=', appId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    const ids = rows.map((r) => r.id);
    const attempts = ids.length
      ? await this.db.selectFrom('hook_attempts').selectAll().where('delivery_id', 'in', ids).orderBy('id').execute()
      : [];
    return rows.map((r) => ({ ...r, tries: attempts.filter((a) => a.delivery_id === r.id) }));
  }
}

/** Deliveries due: pending, their time come, and not leased to a sender still at work. */
const isDue = (now: number) => (w: ExpressionBuilder<DB, 'hook_deliveries'>) =>
  w.and([w('status', '=', 'pending'), w('next_attempt_at', '<=', now), w.or([w('claimed_until', 'is', null), w('claimed_until', '<', now)])]);
const anyDue = prepared((db: Kysely<DB>, now: number) => db.selectFrom('hook_deliveries').select('id').where(isDue(now)).limit(1));
