import { sql, type Kysely, type QueryCreator } from 'kysely';
import type { DB } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';
import { isBatching, oneBatchAtATime, perTurn, perTurnLoader } from '../../store/turn-batch.ts';

/** Counts one send in the prefix's current window; returns the window's sends so far (every send: compiled once). */
const sendCounted = prepared((db: Kysely<DB>, appId: number, prefix: string, window: number) =>
  db
    .insertInto('prefix_traffic')
    .values({ app_id: appId, prefix, window_start: window, sends: 1, conversions: 0 })
    .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ sends: sql`prefix_traffic.sends + 1` }))
    .returning('sends'),
);
/**
 * PostgreSQL: the turn's sends in one upsert, summed per key; each caller gets the count it would
 * have got alone (the k-th of n sends to a key in the batch: the total less n, plus k). The same
 * few hot rows for every request, so one batch at a time, keys in a fixed order.
 */
const sendsCounted = prepared((db: Kysely<DB>, appIds: number[], prefixes: string[], windows: number[], ns: number[]) =>
  db
    .insertInto('prefix_traffic')
    .columns(['app_id', 'prefix', 'window_start', 'sends', 'conversions'])
    .expression(sql`SELECT a, p, w, n, 0 FROM unnest(${appIds}::int[], ${prefixes}::text[], ${windows}::bigint[], ${ns}::int[]) AS v(a, p, w, n)`)
    .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ sends: sql`prefix_traffic.sends + excluded.sends` }))
    .returning(['app_id', 'prefix', 'window_start', 'sends']),
);
const trafficKey = (appId: number, prefix: string, window: number) => `${appId}\u0000${prefix}\u0000${window}`;
const sendLoaders = new WeakMap<Kysely<DB>, ReturnType<typeof perTurnLoader<Conversion, number>>>();
export async function countSend(db: Kysely<DB>, appId: number, prefix: string, window: number): Promise<number> {
  if (!isBatching(db)) {
    const [row] = await sendCounted.returning(db, appId, prefix, window);
    return Number(row.sends);
  }
  let loader = sendLoaders.get(db);
  if (!loader) {
    loader = oneBatchAtATime<Conversion, number>(async (keys) => {
      const sums = new Map<string, Conversion & { n: number }>();
      const nth = keys.map((k) => {
        const id = trafficKey(k.appId, k.prefix, k.window);
        const sum = sums.get(id) ?? sums.set(id, { ...k, n: 0 }).get(id)!;
        return ++sum.n;
      });
      const all = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
      const rows = await sendsCounted.returning(db, all.map((c) => c.appId), all.map((c) => c.prefix), all.map((c) => c.window), all.map((c) => c.n));
      const totals = new Map(rows.map((r) => [trafficKey(r.app_id, r.prefix, Number(r.window_start)), Number(r.sends)]));
      return keys.map((k, i) => {
        const id = trafficKey(k.appId, k.prefix, k.window);
        return totals.get(id)! - sums.get(id)!.n + nth[i];
      });
    });
    sendLoaders.set(db, loader);
  }
  return loader.load({ appId, prefix, window });
}

/**
 * Conversions (a sent code used) are counted per turn of the event loop: the turn's conversions,
 * summed per prefix and window, in one upsert per key on SQLite (prepared) and one statement in
 * all on PostgreSQL. Every verify of an SMS or voice code counts two (its prefix and country):
 * the same few rows for every request, so one write at a time, its keys in a fixed order. (On
 * PostgreSQL an Authy code's use and a phone check count theirs in their own write instead:
 * conversionsCountedIn.)
 */
const conversionsOf = prepared((db: Kysely<DB>, appId: number, prefix: string, window: number, n: number) =>
  db
    .insertInto('prefix_traffic')
    .values({ app_id: appId, prefix, window_start: window, sends: 0, conversions: n })
    .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ conversions: sql`prefix_traffic.conversions + excluded.conversions` })),
);
const conversionsOfMany = prepared((db: Kysely<DB>, appIds: number[], prefixes: string[], windows: number[], ns: number[]) =>
  db
    .insertInto('prefix_traffic')
    .columns(['app_id', 'prefix', 'window_start', 'sends', 'conversions'])
    .expression(sql`SELECT a, p, w, 0, n FROM unnest(${appIds}::int[], ${prefixes}::text[], ${windows}::bigint[], ${ns}::int[]) AS v(a, p, w, n)`)
    .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ conversions: sql`prefix_traffic.conversions + excluded.conversions` })),
);
type Conversion = { appId: number; prefix: string; window: number };
const conversionLoaders = new WeakMap<Kysely<DB>, ReturnType<typeof perTurnLoader<Conversion, void>>>();
export function countConversion(db: Kysely<DB>, appId: number, prefix: string, window: number): Promise<void> {
  let loader = conversionLoaders.get(db);
  if (!loader) {
    // SQLite has one writer already: its turn's writes go in one transaction (store/db.ts).
    loader = (isBatching(db) ? oneBatchAtATime : perTurnLoader)<Conversion, void>(async (keys) => {
      const sums = new Map<string, Conversion & { n: number }>();
      for (const k of keys) {
        const id = `${k.appId}\u0000${k.prefix}\u0000${k.window}`;
        const sum = sums.get(id);
        if (sum) sum.n++;
        else sums.set(id, { ...k, n: 1 });
      }
      const all = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
      if (isBatching(db)) await conversionsOfMany.run(db, all.map((c) => c.appId), all.map((c) => c.prefix), all.map((c) => c.window), all.map((c) => c.n));
      else await Promise.all(all.map((c) => conversionsOf.run(db, c.appId, c.prefix, c.window, c.n)));
      return keys.map(() => undefined);
    });
    conversionLoaders.set(db, loader);
  }
  return loader.load({ appId, prefix, window });
}

/**
 * PostgreSQL: the conversions of a write that verified codes, counted in that write's statement
 * (bench: their own statement was a tenth of an SMS verify). `from` names its CTE of the verified
 * rows: `app_id`, the keys `conv_prefix` and `conv_country`, and `w`, the window (null: not
 * counted here). Summed per key and written in a fixed order: two such statements wait on each
 * other's rows (the same few for every request) but never in a cycle.
 */
export const conversionsCountedIn =
  (from: string) =>
  <T extends DB>(qc: QueryCreator<T>) =>
    // The statement's own CTEs widen its tables; this write reads them only through `from`.
    (qc as unknown as QueryCreator<DB>)
      .insertInto('prefix_traffic')
      .columns(['app_id', 'prefix', 'window_start', 'sends', 'conversions'])
      .expression(
        sql`SELECT c.app_id, k.key, c.w, 0, count(*) FROM ${sql.table(from)} c CROSS JOIN LATERAL (VALUES (c.conv_prefix), (c.conv_country)) AS k(key)
            WHERE c.w IS NOT NULL AND c.conv_prefix IS NOT NULL AND c.conv_country IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      )
      .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ conversions: sql`prefix_traffic.conversions + excluded.conversions` }));

/** Sends and conversions counted under any of `keys` (a prefix and its conversion key) in windows [from, to). */
export async function traffic(db: Kysely<DB>, appId: number, keys: string[], from: number, to: number) {
  const row = await db
    .selectFrom('prefix_traffic')
    .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('sends'), sql<number>`0`).as('sends'), eb.fn.coalesce(eb.fn.sum<number>('conversions'), sql<number>`0`).as('conversions')])
    .where('app_id', '=', appId)
    .where('prefix', 'in', keys)
    .where('window_start', '>=', from)
    .where('window_start', '<', to)
    .executeTakeFirstOrThrow();
  return { sends: Number(row.sends), conversions: Number(row.conversions) };
}

// A number's country and prefix, looked up together: every SMS and call asks.
const quarantinesOfKeys = prepared((db: Kysely<DB>, appId: number, country: string, prefix: string, now: number) =>
  db.selectFrom('quarantines').select(['prefix', 'rule', 'until']).where('app_id', '=', appId).where('prefix', 'in', [country, prefix]).where('until', '>', now),
);
type Closed = { country: boolean; prefix: boolean };
type QuarantineAsk = { appId: number; country: string; prefix: string; now: number };
/**
 * On PostgreSQL every send's question in its turn goes in one read (a round trip each was one in
 * six of the outbox's statements, bench); each sender judges its own rows at its own time.
 */
const quarantinesAsked = perTurn(
  async (db, k: QuarantineAsk): Promise<Closed> => {
    const closed = new Set((await quarantinesOfKeys.all(db, k.appId, k.country, k.prefix, k.now)).map((r) => r.prefix));
    return { country: closed.has(k.country), prefix: closed.has(k.prefix) };
  },
  async (db, keys) => {
    const rows = await db
      .selectFrom('quarantines')
      .select(['app_id', 'prefix', 'until'])
      .where('app_id', 'in', [...new Set(keys.map((k) => k.appId))])
      .where('prefix', 'in', [...new Set(keys.flatMap((k) => [k.country, k.prefix]))])
      .where('until', '>', Math.min(...keys.map((k) => k.now)))
      .execute();
    const closed = (k: QuarantineAsk, key: string) => rows.some((r) => r.app_id === k.appId && r.prefix === key && Number(r.until) > k.now);
    return keys.map((k) => ({ country: closed(k, k.country), prefix: closed(k, k.prefix) }));
  },
);
/** Which of the two, the country and the prefix, is closed now. */
export const findQuarantines = (db: Kysely<DB>, appId: number, country: string, prefix: string, now: number): Promise<Closed> =>
  quarantinesAsked(db, { appId, country, prefix, now });

export const quarantine = (db: Kysely<DB>, appId: number, prefix: string, rule: string, until: number, now: number) =>
  db
    .insertInto('quarantines')
    .values({ app_id: appId, prefix, rule, until, created_at: now })
    .onConflict((oc) => oc.columns(['app_id', 'prefix']).doUpdateSet({ rule, until, created_at: now }))
    .execute();

export const quarantinesOf = (db: Kysely<DB>, appId: number, now: number) =>
  db.selectFrom('quarantines').selectAll().where('app_id', '=', appId).where('until', '>', now).orderBy('created_at', 'desc').execute();

export const forgetTraffic = (db: Kysely<DB>, appId: number, keys: string[], since: number) =>
  db.deleteFrom('prefix_traffic').where('app_id', '=', appId).where('prefix', 'in', keys).where('window_start', '>=', since).execute();

export const liftQuarantine = (db: Kysely<DB>, appId: number, prefix: string) =>
  db.deleteFrom('quarantines').where('app_id', '=', appId).where('prefix', '=', prefix).execute();
