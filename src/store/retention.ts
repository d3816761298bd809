// Retention: records of finished work are dropped once they are old, so that tables written on
// every send, approval and callback do not grow without end. Delivery records (messages, callback
// and webhook deliveries, phone verifications) are kept OPENFACTOR_RETENTION_DAYS; the audit trail
// (approval requests with the devices' signed answers, user activity) OPENFACTOR_AUDIT_RETENTION_DAYS.
// Anything still in progress stays, however old. Children (attempts) go by ON DELETE CASCADE.
//
// Rows are visited in primary-key order, a few hundred at a time with a turn of the event loop
// between batches, so a sweep never holds SQLite (or a PostgreSQL lock) for long. Ids grow with
// creation time, so a sweep stops at the first batch that reaches rows younger than the cut.
import type { FastifyBaseLogger } from 'fastify';
import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { DB } from './schema.ts';

const DAY = 86_400_000;

/** A table with an integer `id` whose old rows go when `done` says their work is over. */
interface ById {
  table: 'outbox' | 'hook_deliveries' | 'phone_verifications' | 'approval_requests' | 'activities' | 'sent_codes';
  /** How long rows are kept, from `created_at`. */
  keep: 'delivery' | 'audit' | number;
  /** SQL condition on a row whose work is over (in progress rows are never dropped). */
  done?: RawBuilder<SqlBool>;
}

const BY_ID: ById[] = [
  { table: 'outbox', keep: 'delivery', done: sql<SqlBool>`status NOT IN ('queued', 'sending')` },
  { table: 'hook_deliveries', keep: 'delivery', done: sql<SqlBool>`status <> 'pending'` },
  { table: 'phone_verifications', keep: 'delivery' },
  { table: 'approval_requests', keep: 'audit', done: sql<SqlBool>`status <> 'pending'` },
  { table: 'activities', keep: 'audit' },
  // A code lives at most an hour (codeTtlSeconds); a day later it can only be clutter, and a user
  // with none left skips the code lookup on verify.
  { table: 'sent_codes', keep: DAY },
];

export interface RetentionOptions {
  deliveryDays: number;
  auditDays: number;
  /** The administrators' audit trail, dropped (and its chain anchored) by its own code. */
  dropAuditBefore?: (cut: number) => Promise<number>;
  /** Rows per statement. */
  batch?: number;
}

export interface SweepResult {
  [table: string]: number;
}

export class Retention {
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;
  private readonly batch: number;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly log: FastifyBaseLogger,
    private readonly opts: RetentionOptions,
  ) {
    this.batch = opts.batch ?? 500;
  }

  start(everyMs: number): void {
    const tick = () => {
      this.sweep().catch((err) => this.log.error({ err }, 'retention sweep failed'));
    };
    this.timer = setInterval(tick, everyMs);
    this.timer.unref();
    setTimeout(tick, 30_000).unref(); // not in the rush of a start
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  /** Drops what is past its time at `now`; says how many rows of each table went. */
  sweep(now = Date.now()): Promise<SweepResult> {
    this.running ??= this.sweepAll(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepAll(now: number): Promise<SweepResult> {
    const result: SweepResult = {};
    for (const rule of BY_ID) {
      const keepMs = rule.keep === 'delivery' ? this.opts.deliveryDays * DAY : rule.keep === 'audit' ? this.opts.auditDays * DAY : rule.keep;
      if (keepMs > 0) result[rule.table] = await this.sweepById(rule, now - keepMs);
    }
    if (this.opts.dropAuditBefore && this.opts.auditDays > 0) result.audit_log = await this.opts.dropAuditBefore(now - this.opts.auditDays * DAY);
    // Small tables keyed otherwise: one statement each. The send guard reads the last 70 minutes
    // of prefix traffic; two days are kept for a look at an attack after the fact.
    result.prefix_traffic = await this.deleted(this.db.deleteFrom('prefix_traffic').where('window_start', '<', now - 2 * DAY));
    result.registration_tokens = await this.deleted(this.db.deleteFrom('registration_tokens').where('expires_at', '<', now - DAY));
    result.phone_registrations = await this.deleted(this.db.deleteFrom('phone_registrations').where('expires_at', '<', now - DAY));
    result.dashboard_nonces = await this.deleted(this.db.deleteFrom('dashboard_nonces').where('expires_at', '<', now));
    result.quarantines = await this.deleted(this.db.deleteFrom('quarantines').where('until', '<', now - 30 * DAY));
    // Verify rate-limit counts: no bucket is longer than 30 days (features/verify/rate-limits.ts).
    result.verify_rate_limit_hits = await this.deleted(this.db.deleteFrom('verify_rate_limit_hits').where('at', '<', now - 31 * DAY));
    result.verify_rate_limit_keys = await this.deleted(this.db.deleteFrom('verify_rate_limit_keys').where('used_at', '<', now - 31 * DAY));
    const total = Object.values(result).reduce((a, b) => a + b, 0);
    if (total > 0) this.log.info({ event: 'retention_sweep', deleted: result }, 'old records dropped');
    return result;
  }

  private async sweepById(rule: ById, cut: number): Promise<number> {
    let after = 0;
    let deleted = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom(rule.table)
        .select(['id', 'created_at'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(this.batch)
        .execute();
      if (rows.length === 0) return deleted;
      const last = rows[rows.length - 1];
      const old = rows.filter((r) => Number(r.created_at) < cut).map((r) => r.id);
      if (old.length > 0) {
        let q = this.db.deleteFrom(rule.table).where('id', 'in', old);
        if (rule.done) q = q.where(rule.done);
        deleted += await this.deleted(q);
      }
      if (old.length < rows.length || rows.length < this.batch) return deleted;
      after = last.id;
      await new Promise((r) => setImmediate(r));
    }
  }

  private async deleted(q: { executeTakeFirst(): Promise<{ numDeletedRows: bigint }> }): Promise<number> {
    return Number((await q.executeTakeFirst()).numDeletedRows);
  }
}
