// SQL of Verify v2 rate limits (migration 0032): the rate limits of a service, their buckets, and
// the starts counted per rate limit and key value (its HMAC).
import type { Kysely } from 'kysely';
import type { DB } from '../../store/schema.ts';

/** A unique index said no (the name or the interval is taken). */
const isUniqueViolation = (e: unknown) => {
  const code = (e as { code?: string }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
};

// Rate limits ---------------------------------------------------------------------------------

/** The inserted row's id; undefined when a unique constraint refused it (a name or an interval taken). */
async function idUnlessTaken(insert: { executeTakeFirstOrThrow(): Promise<{ id: number }> }): Promise<number | undefined> {
  try {
    return (await insert.executeTakeFirstOrThrow()).id;
  } catch (e) {
    if (isUniqueViolation(e)) return undefined;
    throw e;
  }
}

/** The new rate limit's id; undefined when the service has one of that name already. */
export const insertRateLimit = (db: Kysely<DB>, r: { sid: string; appId: number; serviceId: number; uniqueName: string; description: string | null; now: number }) =>
  idUnlessTaken(
    db
      .insertInto('verify_rate_limits')
      .values({ sid: r.sid, app_id: r.appId, service_id: r.serviceId, unique_name: r.uniqueName, description: r.description, created_at: r.now, updated_at: r.now })
      .returning('id'),
  );

export const rateLimitBySid = (db: Kysely<DB>, serviceId: number, sid: string) =>
  db.selectFrom('verify_rate_limits').selectAll().where('service_id', '=', serviceId).where('sid', '=', sid).executeTakeFirst();

export type RateLimitRow = NonNullable<Awaited<ReturnType<typeof rateLimitBySid>>>;

export const rateLimitsPage = (db: Kysely<DB>, serviceId: number, after: number | undefined, limit: number) =>
  db
    .selectFrom('verify_rate_limits')
    .selectAll()
    .where('service_id', '=', serviceId)
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();

export const countRateLimits = async (db: Kysely<DB>, serviceId: number) =>
  Number((await db.selectFrom('verify_rate_limits').select((eb) => eb.fn.countAll<string | number>().as('n')).where('service_id', '=', serviceId).executeTakeFirstOrThrow()).n);

export const setRateLimitDescription = (db: Kysely<DB>, id: number, description: string | null, now: number) =>
  db.updateTable('verify_rate_limits').set({ description, updated_at: now }).where('id', '=', id).execute();

/** A rate limit with its buckets, its key rows and its counted starts. */
export const deleteRateLimit = (db: Kysely<DB>, id: number) =>
  db.transaction().execute(async (trx) => {
    await trx.deleteFrom('verify_rate_limit_hits').where('rate_limit_id', '=', id).execute();
    await trx.deleteFrom('verify_rate_limit_keys').where('rate_limit_id', '=', id).execute();
    await trx.deleteFrom('verify_rate_limit_buckets').where('rate_limit_id', '=', id).execute();
    await trx.deleteFrom('verify_rate_limits').where('id', '=', id).execute();
  });

/** The service's rate limits of these names (a verification's `RateLimits`). */
export const rateLimitsNamed = (db: Kysely<DB>, serviceId: number, names: string[]) =>
  db.selectFrom('verify_rate_limits').select(['id', 'sid', 'unique_name']).where('service_id', '=', serviceId).where('unique_name', 'in', names).execute();

// Buckets -------------------------------------------------------------------------------------

/** The new bucket's id; undefined when the rate limit has a bucket of that interval already. */
export const insertBucket = (db: Kysely<DB>, b: { sid: string; appId: number; rateLimitId: number; max: number; interval: number; now: number }) =>
  idUnlessTaken(
    db
      .insertInto('verify_rate_limit_buckets')
      .values({ sid: b.sid, app_id: b.appId, rate_limit_id: b.rateLimitId, max: b.max, interval: b.interval, created_at: b.now, updated_at: b.now })
      .returning('id'),
  );

export const bucketBySid = (db: Kysely<DB>, rateLimitId: number, sid: string) =>
  db.selectFrom('verify_rate_limit_buckets').selectAll().where('rate_limit_id', '=', rateLimitId).where('sid', '=', sid).executeTakeFirst();

export type BucketRow = NonNullable<Awaited<ReturnType<typeof bucketBySid>>>;

export const bucketsPage = (db: Kysely<DB>, rateLimitId: number, after: number | undefined, limit: number) =>
  db
    .selectFrom('verify_rate_limit_buckets')
    .selectAll()
    .where('rate_limit_id', '=', rateLimitId)
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();

export const countBuckets = async (db: Kysely<DB>, rateLimitId: number) =>
  Number((await db.selectFrom('verify_rate_limit_buckets').select((eb) => eb.fn.countAll<string | number>().as('n')).where('rate_limit_id', '=', rateLimitId).executeTakeFirstOrThrow()).n);

/** False when another bucket of the rate limit has that interval. */
export async function updateBucket(db: Kysely<DB>, id: number, b: { max: number; interval: number; now: number }): Promise<boolean> {
  try {
    await db.updateTable('verify_rate_limit_buckets').set({ max: b.max, interval: b.interval, updated_at: b.now }).where('id', '=', id).execute();
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
}

export const deleteBucket = (db: Kysely<DB>, id: number) => db.deleteFrom('verify_rate_limit_buckets').where('id', '=', id).execute();

/** The buckets of these rate limits. */
export const bucketsOfRateLimits = (db: Kysely<DB>, rateLimitIds: number[]) =>
  db.selectFrom('verify_rate_limit_buckets').select(['rate_limit_id', 'max', 'interval']).where('rate_limit_id', 'in', rateLimitIds).execute();

// Counting ------------------------------------------------------------------------------------

export interface KeyToCount {
  rateLimitId: number;
  keyHash: string;
  /** `max` starts per `interval` seconds. */
  buckets: { max: number; interval: number }[];
}

class Full extends Error {
  constructor(readonly rateLimitId: number) {
    super('rate limit full');
  }
}

/**
 * Counts one start for each key, if every bucket of every key has room: all or none, in one
 * transaction. Each key's row is upserted first (rate limits in id order), which on PostgreSQL
 * locks it until commit, so starts with the same key value queue there, across nodes, and each
 * counts what the one before it committed; SQLite has one writer. Starts older than the longest
 * interval are dropped on the way. Returns the id of a full rate limit, or undefined once counted.
 */
export async function countStart(db: Kysely<DB>, appId: number, keys: KeyToCount[], now: number): Promise<number | undefined> {
  const ordered = [...keys].sort((a, b) => a.rateLimitId - b.rateLimitId || (a.keyHash < b.keyHash ? -1 : 1));
  try {
    await db.transaction().execute(async (trx) => {
      for (const k of ordered) {
        await trx
          .insertInto('verify_rate_limit_keys')
          .values({ rate_limit_id: k.rateLimitId, key_hash: k.keyHash, app_id: appId, used_at: now })
          .onConflict((oc) => oc.columns(['rate_limit_id', 'key_hash']).doUpdateSet({ used_at: now }))
          .execute();
        const longest = Math.max(...k.buckets.map((b) => b.interval));
        const hits = trx.selectFrom('verify_rate_limit_hits').where('rate_limit_id', '=', k.rateLimitId).where('key_hash', '=', k.keyHash);
        await trx.deleteFrom('verify_rate_limit_hits').where('rate_limit_id', '=', k.rateLimitId).where('key_hash', '=', k.keyHash).where('at', '<=', now - longest * 1000).execute();
        for (const b of k.buckets) {
          const counted = await hits
            .select((eb) => eb.fn.countAll<string | number>().as('n'))
            .where('at', '>', now - b.interval * 1000)
            .executeTakeFirstOrThrow();
          if (Number(counted.n) >= b.max) throw new Full(k.rateLimitId);
        }
        await trx.insertInto('verify_rate_limit_hits').values({ app_id: appId, rate_limit_id: k.rateLimitId, key_hash: k.keyHash, at: now }).execute();
      }
    });
    return undefined;
  } catch (e) {
    if (e instanceof Full) return e.rateLimitId;
    throw e;
  }
}
