// Hot-path queries: built and compiled by Kysely once per database, then only bound to values.
// Building and compiling a query costs more than running an indexed lookup in SQLite (bench).
import { CompiledQuery, SqliteAdapter, type Compilable, type Kysely, type KyselyPlugin, type QueryResult } from 'kysely';
import { constantsAsLiterals } from './sqlite-literals.ts';
import type { DB } from './schema.ts';
import { isBatching, perTurnLoader } from './turn-batch.ts';

export interface PreparedQuery<A extends unknown[], R> {
  all(db: Kysely<DB>, ...args: A): Promise<R[]>;
  first(db: Kysely<DB>, ...args: A): Promise<R | undefined>;
  /** For writes: the number of rows changed. */
  run(db: Kysely<DB>, ...args: A): Promise<number>;
  /** For writes with RETURNING: the rows changed. */
  returning(db: Kysely<DB>, ...args: A): Promise<R[]>;
  /** This write with these arguments, as one step of `writeTogether`. */
  step(...args: A): WriteStep;
  /** The SQL and parameters, to run on a `decide` transaction. */
  sqlOf(db: Kysely<DB>, ...args: A): { sql: string; params: unknown[] };
}

/** One write of a group that stands or falls together (`writeTogether`). */
export interface WriteStep {
  bind(db: Kysely<DB>): { query: CompiledQuery; parameters: unknown[] };
  /** Run only if the step at this index changed a row (a usage count after a status change). */
  onlyIfChanged?: number;
}

/** A step of `writeTogether` as SQL and parameters, for the direct connection. */
export interface BoundStep {
  sql: string;
  params: unknown[];
  onlyIfChanged?: number;
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
  /** Writes committed all or none, with the same turn's other writes. */
  writeTogether(steps: BoundStep[], viaKysely: () => Promise<WriteResult[]>): Promise<WriteResult[]>;
  /**
   * A write decided in code from what it reads, inside the turn's write transaction: SQLite has
   * one writer at a time (that transaction begins IMMEDIATE), so nothing changes between the
   * read and the write, in this process or another. The answer comes once it is committed.
   */
  decide<R>(fn: (tx: DecidingTransaction) => R): Promise<R>;
  inTransaction(): boolean;
}

/** What a `decide` function may do in the write transaction. */
export interface DecidingTransaction {
  get(step: { sql: string; params: unknown[] }): unknown;
  all(step: { sql: string; params: unknown[] }): unknown[];
  run(step: { sql: string; params: unknown[] }): { changes: number };
  /** Called once the transaction has ended: `committed` true, or false when rolled back. */
  onEnd(end: (committed: boolean) => void): void;
}

export interface WriteResult {
  changes: number;
  /** RETURNING rows, if the write has any. */
  rows: unknown[];
}

/** A write's result as Kysely gives it: rows changed (a RETURNING write: its rows). */
export const writeResultOf = (r: QueryResult<unknown>): WriteResult => ({ changes: Number(r.numAffectedRows ?? r.rows.length), rows: r.rows });

/** What was thrown, as an Error (a batch answers each caller with a result or an Error). */
export const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

/** A step left out because the one it depends on changed nothing. */
export const SKIPPED: WriteResult = Object.freeze({ changes: 0, rows: [] });

const direct = new WeakMap<Kysely<DB>, DirectSqlite>();

/** Called by the store for its SQLite Kysely instance (not for transactions, which are other instances). */
export const runDirectlyOn = (db: Kysely<DB>, conn: DirectSqlite) => void direct.set(db, conn);
/** The store's SQLite connection behind `db`, if `db` is that store's own instance. */
export const directSqliteOf = (db: Kysely<DB>): DirectSqlite | undefined => direct.get(db);

/** Query builders take a plugin for one compile; a raw `sql` query does not (its values stay bound). */
const canTakePlugins = <R>(q: Compilable<R>): q is Compilable<R> & { withPlugin(p: KyselyPlugin): Compilable<R> } =>
  typeof (q as { withPlugin?: unknown }).withPlugin === 'function';

/**
 * `build` is called once per database with placeholder arguments; each one must reach the query
 * as a bound parameter (as `where(col, '=', arg)` does), never as SQL text or in arithmetic.
 */
export function prepared<A extends unknown[], R>(build: (db: Kysely<DB>, ...args: A) => Compilable<R>): PreparedQuery<A, R> {
  const compiled = new WeakMap<Kysely<DB>, { query: CompiledQuery; slots: (number | { value: unknown })[] }>();

  const compile = (db: Kysely<DB>) => {
    const placeholders = Array.from({ length: build.length - 1 }, (_, i) => `\u0000openfactor-arg-${i}\u0000`);
    const built = build(db, ...(placeholders as unknown as A));
    // SQLite: the builder's own constants as literals (store/sqlite-literals.ts). PostgreSQL keeps them
    // bound: its named statements are parsed once, and binding them again expires nothing.
    const q = (db.getExecutor().adapter instanceof SqliteAdapter && canTakePlugins(built) ? built.withPlugin(constantsAsLiterals(placeholders)) : built).compile();
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

  const compiledWith = (db: Kysely<DB>, args: A) => {
    const c = compiled.get(db) ?? compile(db);
    return { c, parameters: c.slots.map((s) => (typeof s === 'number' ? args[s] : s.value)) };
  };
  /** The compiled query and its parameters, and the connection to run it on directly, if any. */
  const bind = (db: Kysely<DB>, args: A) => {
    const { c, parameters } = compiledWith(db, args);
    const conn = direct.get(db);
    return { c, parameters, conn: conn && !conn.inTransaction() ? conn : undefined };
  };
  const viaKysely = (db: Kysely<DB>, query: CompiledQuery, parameters: unknown[]) =>
    db.executeQuery<R>({ ...query, parameters } as CompiledQuery<R>);

  const writeViaKysely = async (db: Kysely<DB>, query: CompiledQuery, parameters: unknown[]) => writeResultOf(await viaKysely(db, query, parameters));
  const write = (db: Kysely<DB>, args: A): Promise<WriteResult> => {
    const { c, parameters, conn } = bind(db, args);
    // The fallback is written inline: a closure assigned to a name would be renamed per call
    // (tsx keeps function names with a defineProperty each time one is made).
    return conn ? conn.write(c.query.sql, parameters, () => writeViaKysely(db, c.query, parameters)) : writeViaKysely(db, c.query, parameters);
  };

  return {
    sqlOf: (db, ...args) => {
      const { c, parameters } = compiledWith(db, args);
      return { sql: c.query.sql, params: parameters };
    },
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
    step: (...args) => ({
      bind: (db) => {
        const { c, parameters } = compiledWith(db, args);
        return { query: c.query, parameters };
      },
    }),
  };
}

/**
 * Writes that must all happen or none (a sent code and its outbox message): on SQLite committed
 * with the turn's other writes, in one transaction instead of a transaction each (a commit cost
 * as much as the writes it ends, bench); elsewhere, and inside a transaction, one transaction
 * through Kysely. A step with `onlyIfChanged` runs only if that earlier step changed a row.
 * Steps never touch each other's rows: on PostgreSQL each sees the database as it was before
 * the group (one statement, asOneStatement).
 */
export function writeTogether(db: Kysely<DB>, steps: WriteStep[]): Promise<WriteResult[]> {
  if (steps.length === 0) return Promise.resolve([]);
  const bound = steps.map((s) => ({ ...s.bind(db), onlyIfChanged: s.onlyIfChanged }));
  const runIn = async (trx: Kysely<DB>) => {
    const out: WriteResult[] = [];
    for (const b of bound) {
      if (b.onlyIfChanged !== undefined && out[b.onlyIfChanged].changes === 0) {
        out.push(SKIPPED);
        continue;
      }
      out.push(writeResultOf(await trx.executeQuery({ ...b.query, parameters: b.parameters } as CompiledQuery)));
    }
    return out;
  };
  // Inside the caller's transaction: its steps are part of it.
  if (db.isTransaction) return runIn(db);
  const viaKysely = () => db.transaction().execute(runIn);
  if (isBatching(db)) {
    if (bound.every((b) => b.onlyIfChanged === undefined && PLAIN_INSERT.test(b.query.sql))) return insertGroupsOf(db).load(bound);
    return asOneStatementOrNot(db, bound) ?? viaKysely();
  }
  const conn = direct.get(db);
  if (!conn || conn.inTransaction()) return viaKysely();
  return conn.writeTogether(
    bound.map((b) => ({ sql: b.query.sql, params: b.parameters, onlyIfChanged: b.onlyIfChanged })),
    viaKysely,
  );
}

type Bound = { query: CompiledQuery; parameters: unknown[]; onlyIfChanged?: number };

/** The group as one statement (asOneStatement) with each step's count; undefined if it cannot be one. */
function asOneStatementOrNot(db: Kysely<DB>, bound: Bound[]): Promise<WriteResult[]> | undefined {
  const one = asOneStatement(bound);
  return one && db.executeQuery<Record<string, number>>(one).then(({ rows: [counts] }) => bound.map((_, i) => ({ changes: Number(counts[`c${i}`]), rows: [] })));
}

/** `insert into t (cols) values ($1, …)`: one row of parameters, nothing after it. */
const PLAIN_INSERT = /^(insert into (?:"[^"]+"|\w+) \([^()]*\)) values \((\$\d+(?:, \$\d+)*)\)$/i;

/**
 * PostgreSQL: groups made only of one-row inserts (a sent code and its outbox message, say),
 * asked for in one turn, in one statement: a multi-row insert per table. The rows are new, so no
 * group can change what another sees; atomic as one statement is. If it fails, each group is
 * written alone, in the order asked, so only a group that fails by itself fails.
 */
const insertGroups = new WeakMap<Kysely<DB>, ReturnType<typeof perTurnLoader<Bound[], WriteResult[]>>>();
function insertGroupsOf(db: Kysely<DB>) {
  let loader = insertGroups.get(db);
  if (!loader) {
    const alone = (g: Bound[]) => asOneStatementOrNot(db, g)!;
    loader = perTurnLoader<Bound[], WriteResult[]>(async (groups) => {
      if (groups.length === 1) return [await alone(groups[0])];
      try {
        await db.executeQuery(multiRowInserts(groups));
        return groups.map((g) => g.map(() => ({ changes: 1, rows: [] })));
      } catch {
        const out: (WriteResult[] | Error)[] = [];
        for (const g of groups) out.push(await alone(g).catch(asError));
        return out;
      }
    });
    insertGroups.set(db, loader);
  }
  return loader;
}

/** `WITH s0 AS (insert into t (cols) values (…), (…)), … SELECT 1`: every step's row, by table. */
function multiRowInserts(groups: readonly Bound[][]): CompiledQuery {
  const parameters: unknown[] = [];
  const rowsOf = new Map<string, string[]>();
  for (const s of groups.flat()) {
    const [, head, values] = PLAIN_INSERT.exec(s.query.sql)!;
    const offset = parameters.length;
    parameters.push(...s.parameters);
    const row = `(${values.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
    const rows = rowsOf.get(head);
    if (rows) rows.push(row);
    else rowsOf.set(head, [row]);
  }
  const parts = [...rowsOf].map(([head, rows], i) => `s${i} as (${head} values ${rows.join(', ')})`);
  return CompiledQuery.raw(`with ${parts.join(', ')} select 1`, parameters);
}

/**
 * PostgreSQL: the steps as one statement, `WITH s0 AS (…), s1 AS (…) SELECT <rows each changed>`,
 * atomic as any statement is: one round trip where a transaction took two more than its writes
 * (a round trip cost more than the write, bench). A step that depends on another becomes
 * `INSERT … SELECT … WHERE EXISTS (SELECT 1 FROM sJ)`. Undefined when a step is not a plain
 * write of that shape (a step that returns rows, say): those go in a transaction.
 */
function asOneStatement(steps: Bound[]): CompiledQuery | undefined {
  const parameters: unknown[] = [];
  const parts: string[] = [];
  for (const [i, s] of steps.entries()) {
    if (/\breturning\b/i.test(s.query.sql) || !/^(insert|update|delete) /i.test(s.query.sql)) return undefined;
    const offset = parameters.length;
    let text = s.query.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    if (s.onlyIfChanged !== undefined) {
      const values = /^insert into [^()]+\([^()]*\) values \(((?:\$\d+(?:, )?)+)\)/i.exec(text);
      if (!values) return undefined;
      text = `${text.slice(0, values.index + values[0].indexOf(' values ('))} select ${values[1]} where exists (select 1 from s${s.onlyIfChanged})${text.slice(values.index + values[0].length)}`;
    }
    parameters.push(...s.parameters);
    parts.push(`s${i} as (${text} returning 1)`);
  }
  const counts = steps.map((_, i) => `(select count(*) from s${i})::int as c${i}`).join(', ');
  return CompiledQuery.raw(`with ${parts.join(', ')} select ${counts}`, parameters);
}
