// Signed HTTP deliveries to customers: OneTouch callbacks and webhooks. A delivery is a row
// written in the same transaction as the change it reports, so a crash loses none; a worker
// sends due rows, records every attempt and retries with exponential backoff.
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from '../store/db.ts';
import type { Destinations } from './destinations.ts';
import type { DB, HookDeliveriesTable } from '../store/schema.ts';
import * as q from './queries.ts';
import { writeTogether, type WriteStep } from '../store/prepared.ts';

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
    await writeTogether(db, [this.enqueueStep(h, now)]);
  }

  /** The same delivery as a step of writeTogether, written with the change it reports. */
  enqueueStep(h: NewHook, now = Date.now()): WriteStep {
    this.mayBeDue = true;
    return q.hookDeliveryInsert.step(h.appId, h.kind, h.target, h.event, h.url, h.method, JSON.stringify(h.payload), now);
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
    if (!this.mayBeDue && !(await q.anyHookDue.first(this.db, now))) return [];
    this.mayBeDue = false;
    const rows = await q.claimHookDeliveries(this.db, this.dialect, limit, LEASE_MS, now);
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
    const attemptId = await q.insertHookAttempt(this.db, h.id, started);
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
    await q.finishHookAttempt(this.db, attemptId, status, error, now);
    const final = error === null || h.attempts >= this.opts.maxAttempts || status === 410;
    await q.settleHookDelivery(
      this.db,
      h.id,
      error === null ? 'delivered' : final ? 'failed' : 'pending',
      final ? now : now + this.opts.retryBaseMs * 2 ** Math.min(h.attempts - 1, 16),
      now,
    );
    if (error !== null) {
      this.log.warn({ event: 'hook_delivery_failed', kind: h.kind, hook: h.event, delivery_id: h.id, attempt: h.attempts, final, error }, 'callback delivery failed');
    }
  }

  /** Deliveries of an application, newest first, with their attempts (admin API, tests). */
  async list(appId: number, limit = 50) {
    const rows = await q.recentHookDeliveries(this.db, appId, limit);
    const ids = rows.map((r) => r.id);
    const attempts = ids.length ? await q.hookAttemptsOf(this.db, ids) : [];
    return rows.map((r) => ({ ...r, tries: attempts.filter((a) => a.delivery_id === r.id) }));
  }
}

