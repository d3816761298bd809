// rate-limiter-flexible's counts, a turn's worth at a time.
//
// Every SMS or call takes four counts (the user's hour, the number's hour and day, the
// application's day), each the library's one-row upsert. On its own each is a commit on SQLite
// and a round trip on PostgreSQL, and either cost more than the row it writes (bench: the outbox).
//
// SQLite: each upsert, the library's own statement, runs in the turn's one write transaction
// (TurnWrites, store/db.ts) with the turn's other writes, in the order asked: exact as one at a
// time, and each caller gets its row once that transaction has committed.
//
// PostgreSQL: the library sends its statements to `query()` of the client it is given; this
// client answers the upsert for every count asked for in one turn with one statement, each caller
// with its own row, and passes everything else (reads, deletes, the forced upsert) to the pool as
// it is. Exact as one at a time: each key is written once per statement (a key counted n times in
// a turn adds the n counts' points at once, each caller told its own running total), under the
// library's own condition (a window that ended starts again with the turn's first count);
// a node's statements go one at a time with their keys in order, so two nodes' statements never
// wait on each other in a cycle. The window's end is judged at the time of the turn's latest
// count (the library takes Date.now() per count): a count made a moment earlier in the same turn
// is judged as if it came at that moment.
import type pg from 'pg';
import type SQLite from 'better-sqlite3';
import { oneBatchAtATime } from './turn-batch.ts';
import type { WriteResult } from './prepared.ts';

/**
 * The SQLite connection as the library uses it (store/DEPENDENCIES.md): `prepare(sql)` and
 * `transaction(fn)`, the upsert being `transaction(() => prepare(upsert).get(...args))()`.
 */
export type LimiterConnection = Pick<SQLite.Database, 'prepare' | 'transaction'>;

/**
 * SQLite: the library's upserts (its only INSERTs, each one statement) go to `turnWrite`, whose
 * promise the library awaits in place of the row; its reads and deletes run on the limiter's own
 * connection (`ownPrepare`). `transaction(fn)` is `fn` itself: what the library wraps in it is
 * that one statement.
 */
export function sqliteLimiterConnection(ownPrepare: (sql: string) => SQLite.Statement, turnWrite: (sql: string, params: unknown[]) => Promise<WriteResult>): LimiterConnection {
  const prepare = (sql: string) => (/^\s*INSERT\b/i.test(sql) ? { get: async (...params: unknown[]) => (await turnWrite(sql, params)).rows[0] } : ownPrepare(sql));
  return {
    prepare: prepare as unknown as SQLite.Database['prepare'],
    transaction: ((fn: (...args: unknown[]) => unknown) => fn) as SQLite.Database['transaction'],
  };
}

/** PostgreSQL: what the library's client must answer: pg's `query(config)` with a promise. */
export interface LimiterQueryClient {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** The library's non-forced upsert on our table (store/DEPENDENCIES.md), as it names and words it. */
const UPSERT_NAME = 'rate_limits:rlflx-upsert';
const UPSERT_SHAPE = /^\s*INSERT INTO "?rate_limits"? VALUES \(\$1, \$2, \$3\)\s+ON CONFLICT\(key\) DO UPDATE SET\s+points = CASE\s+WHEN \("?rate_limits"?\.expire <= \$4 OR 1=0\) THEN \$2/;

type Count = { key: string; points: number; expire: number | null; now: number };
type Row = { key: string; points: number; expire: string | null };

// The library's statement for many rows: the same SET, the proposed row as EXCLUDED.
const MANY = `INSERT INTO rate_limits (key, points, expire)
  SELECT key, points, expire FROM unnest($1::varchar[], $2::int[], $3::bigint[]) AS v(key, points, expire) ORDER BY key
  ON CONFLICT (key) DO UPDATE SET
    points = CASE WHEN rate_limits.expire <= $4 THEN EXCLUDED.points ELSE rate_limits.points + EXCLUDED.points END,
    expire = CASE WHEN rate_limits.expire <= $4 THEN EXCLUDED.expire ELSE rate_limits.expire END
  RETURNING key, points, expire`;

export function limiterClientOn(pool: pg.Pool): LimiterQueryClient {
  const counts = oneBatchAtATime<Count, { rows: unknown[]; rowCount: number }>(async (all) => {
    // A key counted n times in the turn (the application's day: every SMS) is one row of the
    // statement with the n counts' points summed; the i-th caller gets the row as it would have
    // been after its own count, one at a time: the total less the points counted after it.
    const byKey = new Map<string, Count[]>();
    for (const c of all) {
      const list = byKey.get(c.key);
      if (list) list.push(c);
      else byKey.set(c.key, [c]);
    }
    const keys = [...byKey.keys()].sort();
    const now = Math.max(...all.map((c) => c.now));
    const { rows } = await pool.query<Row>({
      name: 'openfactor-limiter-counts',
      text: MANY,
      values: [keys, keys.map((k) => byKey.get(k)!.reduce((n, c) => n + c.points, 0)), keys.map((k) => byKey.get(k)![0].expire), now],
    });
    const written = new Map(rows.map((r) => [r.key, r]));
    const after = new Map<Count, number>();
    for (const [key, list] of byKey) {
      const r = written.get(key);
      if (!r) throw new Error(`rate limit count for ${key} not written`);
      let later = list.reduce((n, c) => n + c.points, 0);
      for (const c of list) after.set(c, r.points - (later -= c.points));
    }
    return all.map((c) => ({ rows: [{ points: after.get(c)!, expire: written.get(c.key)!.expire }], rowCount: 1 }));
  });
  return {
    query: (config) => {
      const v = config.values;
      if (config.name !== UPSERT_NAME || !v || v.length !== 4 || !UPSERT_SHAPE.test(config.text)) return pool.query(config);
      return counts.load({ key: v[0] as string, points: v[1] as number, expire: v[2] as number | null, now: v[3] as number });
    },
  };
}
