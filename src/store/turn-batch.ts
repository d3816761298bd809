// Many requests at once ask the same kind of question: asked in one statement per turn of the
// event loop (DataLoader, scheduled after the turn's I/O), each caller gets its own answer.
// On PostgreSQL a round trip costs more than the rows it carries (bench: verify's two round
// trips were most of both processes' CPU), so its hot-path reads and writes are batched.
import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';
import type { DB } from './schema.ts';

/** The largest batch: one statement's arrays stay small. */
const MAX_BATCH = 256;

const batching = new WeakSet<Kysely<DB>>();

/** The store marks its PostgreSQL instance (transactions are other instances and never batch). */
export const batchPerTurnOn = (db: Kysely<DB>) => void batching.add(db);
/** Whether `db` sends a turn's queries of one kind as one statement (PostgreSQL, not in a transaction). */
export const isBatching = (db: Kysely<DB>) => batching.has(db);

/**
 * Runs `batch` for everything queued in this turn, right after the turn's I/O callbacks (or
 * when `schedule` says: it gets the function to run).
 */
export const perTurnLoader = <K, R>(batch: (keys: readonly K[]) => Promise<(R | Error)[]>, schedule: (run: () => void) => void = setImmediate) =>
  new DataLoader<K, R>(batch, { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: schedule });

/**
 * Like perTurnLoader, but a batch starts only once the one before it is written; keys asked for
 * meanwhile go together in the next. For a few hot rows (the send guard's counters): statements
 * of one node never wait on each other's row locks, and fewer of them run.
 */
export function oneBatchAtATime<K, R>(batch: (keys: readonly K[]) => Promise<(R | Error)[]>) {
  const queued: (() => void)[] = [];
  let busy = false;
  const next = () => {
    const run = queued.shift();
    busy = run !== undefined;
    run?.();
  };
  return perTurnLoader<K, R>(
    (keys) => batch(keys).finally(() => setImmediate(next)),
    (run) => {
      if (busy) return void queued.push(run);
      busy = true;
      setImmediate(run);
    },
  );
}

/**
 * A query for one key: on a batching database, sent with the other keys asked for in the same
 * turn (`many` answers in the order of its keys); elsewhere, `one` at a time.
 */
export function perTurn<K, R>(
  one: (db: Kysely<DB>, key: K) => Promise<R>,
  many: (db: Kysely<DB>, keys: readonly K[]) => Promise<R[]>,
): (db: Kysely<DB>, key: K) => Promise<R> {
  const loaders = new WeakMap<Kysely<DB>, DataLoader<K, R>>();
  return (db, key) => {
    if (!batching.has(db)) return one(db, key);
    let loader = loaders.get(db);
    if (!loader) loaders.set(db, (loader = perTurnLoader((keys) => many(db, keys))));
    return loader.load(key);
  };
}

/**
 * A row by id within one application (a user): on a batching database the turn's ids in one read
 * (`many`), the application checked per caller, so one application never sees another's row.
 */
export function perTurnById<R extends { id: number; app_id: number }>(
  one: (db: Kysely<DB>, appId: number, id: number) => Promise<R | undefined>,
  many: (db: Kysely<DB>, ids: number[]) => Promise<R[]>,
): (db: Kysely<DB>, key: { appId: number; id: number }) => Promise<R | undefined> {
  return perTurn(
    (db, k) => one(db, k.appId, k.id),
    async (db, keys) => {
      const rows = new Map((await many(db, keys.map((k) => k.id))).map((r) => [r.id, r]));
      return keys.map((k) => {
        const r = rows.get(k.id);
        return r && r.app_id === k.appId ? r : undefined;
      });
    },
  );
}

/**
 * Batched writes touch each row once per statement: two writes for one row (one user, one
 * verification) in one turn go in turn, so the second meets the first's result (a replay, a
 * higher count) exactly as it would one at a time. `write` answers for its round in order.
 */
export async function oneRowEach<K, R>(keys: readonly K[], rowOf: (k: K) => number, write: (round: K[]) => Promise<R[]>): Promise<R[]> {
  const out = new Array<R>(keys.length);
  let rest = keys.map((k, i) => ({ k, i }));
  while (rest.length > 0) {
    const seen = new Set<number>();
    const round = rest.filter((e) => !seen.has(rowOf(e.k)) && seen.add(rowOf(e.k))).sort((a, b) => rowOf(a.k) - rowOf(b.k));
    rest = rest.filter((e) => !round.includes(e));
    const results = await write(round.map((e) => e.k));
    for (const [j, e] of round.entries()) out[e.i] = results[j];
  }
  return out;
}
