// SQLite: a value per key kept as an append-only table and, in each process, a map read from it.
// Used steps: per user, its app-TOTP and QR-authenticator steps; per sent code, its one use (step
// 0). Wrong tokens counted: per user, the count and its window after each. Writing these into the
// user's row rewrote a random page of `users` on every verify: a WAL frame at commit and a copy
// back at checkpoint, about a third of verify's CPU (bench: 75-81 us a request, 48-52 with that
// write left out). Appended rows share the table's last page.
//
// Exact across processes: every decision runs in a write transaction begun IMMEDIATE (TurnWrites,
// store/db.ts), which first reads the rows other processes appended since this one last looked.
// A process learns of its own rows only once their transaction has committed.
import type { DecidingTransaction } from './prepared.ts';

const SAMPLE_MS = 60_000;

type Sql = { sql: string; params: unknown[] };

export interface AppendedSql<V> {
  /** Rows past a sequence number, in order: `{ seq, key }` and what `readValue` reads. */
  after(seen: number): Sql;
  append(key: number, value: V): Sql;
  /** Rows up to a sequence number, all older than `keepMs`. */
  deleteUpTo(seq: number): Sql;
}

/**
 * The latest value per key, as far as any process knows. `replaces(old, value)`: whether a value
 * appended after `old` takes its place (steps: only a higher one; counts: always).
 */
export class AppendedLog<V> {
  private seen = 0;
  private current = new Map<number, V>();
  private previous = new Map<number, V>();
  private rotatedAt: number;
  /** This transaction's own values, until it ends. */
  private open?: Map<number, V>;
  /** The highest sequence number at a moment: rows up to it are older than that moment. */
  private samples: { seq: number; at: number }[] = [];

  /**
   * `keepMs`: how long a value can matter; a value recorded longer ago than that can no longer
   * change an answer, and goes from the map and the table.
   */
  constructor(
    private readonly q: AppendedSql<V>,
    private readonly readValue: (row: Record<string, unknown>) => V,
    private readonly replaces: (old: V, value: V) => boolean,
    private readonly keepMs: number,
    now: number,
  ) {
    this.rotatedAt = now;
  }

  /** In the write transaction: the value under `key` (undefined: none recorded within keepMs). */
  latest(tx: DecidingTransaction, key: number, now: number): V | undefined {
    if (!this.open) this.begin(tx, now);
    return this.open!.get(key) ?? this.current.get(key) ?? this.previous.get(key);
  }

  /** In the same transaction, after `latest`: `value` is now the one under `key`. */
  record(tx: DecidingTransaction, key: number, value: V): void {
    tx.run(this.q.append(key, value));
    this.open!.set(key, value);
  }

  private begin(tx: DecidingTransaction, now: number) {
    const open = new Map<number, V>();
    this.open = open;
    tx.onEnd((committed) => {
      this.open = undefined;
      if (committed) for (const [key, value] of open) this.note(key, value);
    });
    // Entries live between one and two keepMs: a map swap, not a sweep of every entry.
    if (now - this.rotatedAt >= this.keepMs) {
      this.previous = this.current;
      this.current = new Map();
      this.rotatedAt = now;
    }
    for (const r of tx.all(this.q.after(this.seen)) as ({ seq: number; key: number } & Record<string, unknown>)[]) {
      this.note(r.key, this.readValue(r));
      this.seen = r.seq;
    }
    if (this.samples.length === 0 || now - this.samples.at(-1)!.at >= SAMPLE_MS) this.samples.push({ seq: this.seen, at: now });
    let upTo: number | undefined;
    while (this.samples.length > 1 && now - this.samples[0].at > this.keepMs) upTo = this.samples.shift()!.seq;
    if (upTo !== undefined) tx.run(this.q.deleteUpTo(upTo));
  }

  private note(key: number, value: V) {
    const old = this.current.get(key) ?? this.previous.get(key);
    if (old === undefined || this.replaces(old, value)) this.current.set(key, value);
  }
}

/** Used steps: the highest per key (-Infinity: none). */
export class AcceptedSteps {
  private readonly log: AppendedLog<number>;

  constructor(q: AppendedSql<number>, keepMs: number, now: number) {
    this.log = new AppendedLog(q, (r) => r.step as number, (old, step) => step > old, keepMs, now);
  }

  highest(tx: DecidingTransaction, key: number, now: number): number {
    return this.log.latest(tx, key, now) ?? -Infinity;
  }

  record(tx: DecidingTransaction, key: number, step: number): void {
    this.log.record(tx, key, step);
  }
}
