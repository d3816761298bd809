// SQLite: which steps have been used, per key, as an append-only table and, in each process, a
// map read from it. The keys: a user, for its app-TOTP and QR-authenticator steps; a sent code,
// for its one use (step 0). Writing the step into the user's row rewrote a random page of `users`
// on every verify: a WAL frame at commit and a copy back at checkpoint, about a third of verify's
// CPU (bench: 75-81 us a request, 48-52 with that write left out). Appended rows share the
// table's last page.
//
// Exact across processes: every decision runs in a write transaction begun IMMEDIATE (TurnWrites,
// store/db.ts), which first reads the rows other processes appended since this one last looked.
// A process learns of its own rows only once their transaction has committed.
import type { DecidingTransaction } from './prepared.ts';

const SAMPLE_MS = 60_000;

export interface AppendedStepSql {
  /** Rows past a sequence number: `{ seq, key, step }`, in order. */
  after(seen: number): { sql: string; params: unknown[] };
  append(key: number, step: number): { sql: string; params: unknown[] };
  /** Rows up to a sequence number, all older than `keepMs`. */
  deleteUpTo(seq: number): { sql: string; params: unknown[] };
}

export class AcceptedSteps {
  private seen = 0;
  private current = new Map<number, number>();
  private previous = new Map<number, number>();
  private rotatedAt: number;
  /** This transaction's own steps, until it ends. */
  private open?: Map<number, number>;
  /** The highest sequence number at a moment: rows up to it are older than that moment. */
  private samples: { seq: number; at: number }[] = [];

  /**
   * `keepMs`: how long a step can matter; a step recorded longer ago than that can no longer
   * refuse a token, and goes from the map and the table.
   */
  constructor(
    private readonly q: AppendedStepSql,
    private readonly keepMs: number,
    now: number,
  ) {
    this.rotatedAt = now;
  }

  /** In the write transaction: the highest step used under `key`, as far as any process knows (-Infinity: none). */
  highest(tx: DecidingTransaction, key: number, now: number): number {
    if (!this.open) this.begin(tx, now);
    return Math.max(this.open!.get(key) ?? -Infinity, this.current.get(key) ?? -Infinity, this.previous.get(key) ?? -Infinity);
  }

  /** In the same transaction, after `highest`: `step` was used under `key`. */
  record(tx: DecidingTransaction, key: number, step: number): void {
    tx.run(this.q.append(key, step));
    this.open!.set(key, step);
  }

  private begin(tx: DecidingTransaction, now: number) {
    const open = new Map<number, number>();
    this.open = open;
    tx.onEnd((committed) => {
      this.open = undefined;
      if (committed) for (const [key, step] of open) this.note(key, step);
    });
    // Entries live between one and two keepMs: a map swap, not a sweep of every entry.
    if (now - this.rotatedAt >= this.keepMs) {
      this.previous = this.current;
      this.current = new Map();
      this.rotatedAt = now;
    }
    for (const r of tx.all(this.q.after(this.seen)) as { seq: number; key: number; step: number }[]) {
      this.note(r.key, r.step);
      this.seen = r.seq;
    }
    if (this.samples.length === 0 || now - this.samples.at(-1)!.at >= SAMPLE_MS) this.samples.push({ seq: this.seen, at: now });
    let upTo: number | undefined;
    while (this.samples.length > 1 && now - this.samples[0].at > this.keepMs) upTo = this.samples.shift()!.seq;
    if (upTo !== undefined) tx.run(this.q.deleteUpTo(upTo));
  }

  private note(key: number, step: number) {
    if (step > (this.current.get(key) ?? -Infinity)) this.current.set(key, step);
  }
}
