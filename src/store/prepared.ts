// Hot-path queries: built and compiled by Kysely once per database, then only bound to values.
// Building and compiling a query costs more than running an indexed lookup in SQLite (bench).
import type { CompiledQuery, Compilable, Kysely } from 'kysely';
import type { DB } from './schema.ts';

export interface PreparedQuery<A extends unknown[], R> {
  all(db: Kysely<DB>, ...args: A): Promise<R[]>;
  first(db: Kysely<DB>, ...args: A): Promise<R | undefined>;
  /** For writes: the number of rows changed. */
  run(db: Kysely<DB>, ...args: A): Promise<number>;
}

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

  const execute = (db: Kysely<DB>, args: A) => {
    const c = compiled.get(db) ?? compile(db);
    const parameters = c.slots.map((s) => (typeof s === 'number' ? args[s] : s.value));
    return db.executeQuery<R>({ ...c.query, parameters } as CompiledQuery<R>);
  };

  return {
    all: async (db, ...args) => (await execute(db, args)).rows,
    first: async (db, ...args) => (await execute(db, args)).rows[0],
    run: async (db, ...args) => Number((await execute(db, args)).numAffectedRows ?? 0),
  };
}
