// Hot-path queries: built and compiled by Kysely once per database, then only bound to values.
// Building and compiling a query costs more than running an indexed lookup in SQLite (bench).
import type { CompiledQuery, Compilable, Kysely } from 'kysely';
import type { DB } from './schema.ts';

export interface PreparedQuery<A extends unknown[], R> {
  all(db: Kysely<DB>, ...args: A): Promise<R[]>;
  first(db: Kysely<DB>, ...args: A): Promise<R | undefined>;
  /** For writes: the number of rows changed. */
  run(db: Kysely<DB>, ...args: A): Promise<number>;
  /** For writes with RETURNING: the rows changed. */
  returning(db: Kysely<DB>, ...args: A): Promise<R[]>;
}

/**
 * An SQLite connection that a compiled query may run on directly, skipping Kysely's executor
 * (its connection mutex, promise hops and result copies: about 3 µs a query, bench). Only
 * while no transaction is open on it: a transaction spans awaits, and a statement run then
 * would join it. Inside one, queries go through Kysely, which waits for the transaction.
 */
export interface DirectSqlite {
  statement(sql: string): { reader: boolean; all(params: unknown[]): unknown[]; get(params: unknown[]): unknown };
  /** A write, committed with the others made in the same event-loop turn (see store/db.ts). */
  write(sql: string, params: unknown[], viaKysely: () => Promise<WriteResult>): Promise<WriteResult>;
  inTransaction(): boolean;
}

export interface WriteResult {
  changes: number;
  /** RETURNING rows, if the write has any. */
  rows: unknown[];
}

const direct = new WeakMap<Kysely<DB>, DirectSqlite>();

/** Called by the store for its SQLite Kysely instance (not for transactions, which are other instances). */
export const runDirectlyOn = (db: Kysely<DB>, conn: DirectSqlite) => void direct.set(db, conn);

/**
 * `build` is called once per database with placeholder arguments; each one must reach the query
 * as a bound parameter (as `where(col, '=', arg)` does), never as SQL text or in arithmetic.
 */
export function prepared<A extends unknown[], R>(build: (db: Kysely<DB>, ...args: A) => Compilable<R>): PreparedQuery<A, R> {
  const compiled = new WeakMap<Kysely<DB>, { query: CompiledQuery; slots: (number | { value: unknown })[] }>();

  const compile = (db: Kysely<DB>) => {
    const placeholders = Array.from({ length: build.length - 1 }, (_, i) => `\u0000openfactor-arg-${i}\u0000`);
    const q = build(db, ...(placeholders as unknown as A)).compile();
    const slots = q.parameters.map((p) => {
      const i = placeholders.indexOf(p as string);
      return i >= 0 ? i : { value: p };
    });
    const used = new Set(slots.filter((s) => typeof s === 'number'));
    if (used.size !== placeholders.length) throw new Error('prepared(): every argument must be a bound parameter');
    const entry = { query: q as CompiledQuery, slots };
    compiled.set(db, entry);
    return entry;
  };

  /** The compiled query and its parameters, and the connection to run it on directly, if any. */
  const bind = (db: Kysely<DB>, args: A) => {
    const c = compiled.get(db) ?? compile(db);
    const parameters = c.slots.map((s) => (typeof s === 'number' ? args[s] : s.value));
    const conn = direct.get(db);
    return { c, parameters, conn: conn && !conn.inTransaction() ? conn : undefined };
  };
  const viaKysely = (db: Kysely<DB>, query: CompiledQuery, parameters: unknown[]) =>
    db.executeQuery<R>({ ...query, parameters } as CompiledQuery<R>);

  const writeViaKysely = async (db: Kysely<DB>, query: CompiledQuery, parameters: unknown[]): Promise<WriteResult> => {
    const r = await viaKysely(db, query, parameters);
    return { changes: Number(r.numAffectedRows ?? r.rows.length), rows: r.rows };
  };
  const write = (db: Kysely<DB>, args: A): Promise<WriteResult> => {
    const { c, parameters, conn } = bind(db, args);
    // The fallback is written inline: a closure assigned to a name would be renamed per call
    // (tsx keeps function names with a defineProperty each time one is made).
    return conn ? conn.write(c.query.sql, parameters, () => writeViaKysely(db, c.query, parameters)) : writeViaKysely(db, c.query, parameters);
  };

  return {
    all: async (db, ...args) => {
      const { c, parameters, conn } = bind(db, args);
      return conn ? (conn.statement(c.query.sql).all(parameters) as R[]) : (await viaKysely(db, c.query, parameters)).rows;
    },
    first: async (db, ...args) => {
      const { c, parameters, conn } = bind(db, args);
      return conn ? (conn.statement(c.query.sql).get(parameters) as R | undefined) : (await viaKysely(db, c.query, parameters)).rows[0];
    },
    run: async (db, ...args) => (await write(db, args)).changes,
    returning: async (db, ...args) => (await write(db, args)).rows as R[],
  };
}
