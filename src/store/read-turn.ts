// SQLite: the Authy requests that arrive in one turn of the event loop read in one snapshot.
//
// A statement run outside a transaction takes and drops WAL read locks (two fcntl calls and an
// fstat): about 5 µs here, more than the lookup by id it wraps (bench). So each request waits
// until the turn's I/O is done (setImmediate); then every request of that turn runs, and their
// direct reads share one read transaction, ended once the work they started has run.
//
// Still linearizable: the snapshot is taken after every request that reads in it has arrived,
// and before any of them answers. Anything else run on the connection (a Kysely query or
// transaction, the turn's writes) ends the snapshot first, so it never joins one and always sees
// what was written before it.
import type SQLite from 'better-sqlite3';

/** Runs `fn` once the microtasks queued so far, and all those they queue, have run. */
export const afterMicrotasks = (fn: () => void): void => void Promise.resolve().then(() => process.nextTick(fn));

export class ReadTurn {
  private waiting?: Promise<void>;
  /** From a turn's release until the work its requests started (without real I/O) has run. */
  private releasing = false;
  /** Our BEGIN is open (as opposed to a Kysely transaction). */
  private open = false;
  private readonly begin: SQLite.Statement;
  private readonly commit: SQLite.Statement;

  constructor(private readonly sqlite: SQLite.Database) {
    this.begin = sqlite.prepare('BEGIN');
    this.commit = sqlite.prepare('COMMIT');
  }

  /** Resolves right after this turn's I/O callbacks; every caller of the turn together. */
  wait(): Promise<void> {
    return (this.waiting ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.waiting = undefined;
        this.releasing = true;
        resolve();
        afterMicrotasks(this.finish);
      }),
    ));
  }

  /** The released requests are running: writes they ask for are committed once they all have. */
  get active(): boolean {
    return this.releasing;
  }

  /** Before a direct read: during a release, join its snapshot (begun by the first read). */
  join(): void {
    if (this.releasing && !this.open && !this.sqlite.inTransaction) {
      this.begin.run();
      this.open = true;
    }
  }

  /** Before anything else runs on the connection. */
  end(): void {
    if (!this.open) return;
    this.open = false;
    if (this.sqlite.inTransaction) this.commit.run();
  }

  /** A transaction is open and it is not this snapshot: Kysely's, spanning awaits. */
  othersTransaction(): boolean {
    return this.sqlite.inTransaction && !this.open;
  }

  private readonly finish = () => {
    this.releasing = false;
    this.end();
  };
}
