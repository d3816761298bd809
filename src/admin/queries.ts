// Reads for the admin API: pages of users and daily traffic. Operator views, not hot paths.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../store/schema.ts';

const DAY = 86_400_000;

/** Users of an application, newest first, `limit` of them below `beforeId`, with their live devices. */
export function usersPage(db: Kysely<DB>, appId: number, limit: number, beforeId?: number) {
  let q = db
    .selectFrom('users')
    .select((eb) => [
      'users.id',
      'users.app_id',
      'users.phone_index',
      'users.contact_sealed',
      'users.country_code',
      'users.created_at',
      'users.verify_locked_until',
      eb.selectFrom('devices').select((d) => d.fn.countAll<number>().as('n')).whereRef('devices.user_id', '=', 'users.id').where('devices.deleted_at', 'is', null).as('devices'),
    ])
    .where('users.app_id', '=', appId);
  if (beforeId !== undefined) q = q.where('users.id', '<', beforeId);
  return q.orderBy('users.id', 'desc').limit(limit).execute();
}

/** Phone verifications, newest first (never their codes). */
export const recentVerifications = (db: Kysely<DB>, appId: number, limit: number) =>
  db
    .selectFrom('phone_verifications')
    .select(['uuid', 'phone_sealed', 'via', 'status', 'checks', 'created_at', 'expires_at', 'verified_at'])
    .where('app_id', '=', appId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();

export const countUsers = async (db: Kysely<DB>, appId: number) =>
  Number((await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow()).n);

/** Messages per UTC day, channel and status since `since`. */
export const messagesByDay = (db: Kysely<DB>, appId: number, since: number) =>
  db
    .selectFrom('outbox')
    .select((eb) => [sql<number>`created_at / ${sql.lit(DAY)}`.as('day'), 'channel', 'status', eb.fn.countAll<number>().as('n')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', since)
    .groupBy([sql`created_at / ${sql.lit(DAY)}`, 'channel', 'status'])
    .execute();

/** Approval requests per UTC day and status since `since`. */
export const approvalsByDay = (db: Kysely<DB>, appId: number, since: number) =>
  db
    .selectFrom('approval_requests')
    .select((eb) => [sql<number>`created_at / ${sql.lit(DAY)}`.as('day'), 'status', eb.fn.countAll<number>().as('n')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', since)
    .groupBy([sql`created_at / ${sql.lit(DAY)}`, 'status'])
    .execute();

/** Ends a verification lockout (and forgets the wrong tokens counted towards the next); 0 if no such user. */
export const unlockUser = async (db: Kysely<DB>, appId: number, userId: number) =>
  Number(
    (
      await db
        .updateTable('users')
        .set({ verify_failures: 0, verify_window_start: null, verify_locked_until: null })
        .where('id', '=', userId)
        .where('app_id', '=', appId)
        .executeTakeFirst()
    ).numUpdatedRows,
  );

// ---- master-key rotation (reseal.ts): any sealed column, named by its table and key columns ----

/** A sealed column: the columns that name its rows (the first, unique, orders a walk) and that its context needs. */
export interface SealedColumnRef {
  table: keyof DB;
  column: string;
  key: string[];
  also?: string[];
  /** Only these rows hold a sealed value (a table of mixed values). */
  only?: Record<string, string>;
}
type Row = Record<string, any>;

/**
 * Values of the column not sealed with the key whose blobs begin with `current`, in the order of
 * the first key column and after `after` there; `limit` of them, or all.
 */
export function sealedNotWith(db: Kysely<DB>, c: SealedColumnRef, current: string, after: unknown, limit?: number): Promise<Row[]> {
  const [order] = c.key;
  let q = (db as Kysely<any>)
    .selectFrom(c.table)
    .select([...c.key, ...(c.also ?? []), c.column])
    .where(c.column, 'is not', null)
    .where(c.column, 'not like', `${current}%`)
    .orderBy(order);
  for (const [k, v] of Object.entries(c.only ?? {})) q = q.where(k, '=', v);
  if (after !== undefined) q = q.where(order, '>', after);
  return limit === undefined ? q.execute() : q.limit(limit).execute();
}

/** Writes the row's value sealed again, only if it still holds the value read: false when it changed meanwhile. */
export async function replaceSealed(db: Kysely<DB>, c: SealedColumnRef, row: Row, value: string): Promise<boolean> {
  let u = (db as Kysely<any>).updateTable(c.table).set({ [c.column]: value }).where(c.column, '=', row[c.column]);
  for (const k of c.key) u = u.where(k, '=', row[k]);
  const done = await u.executeTakeFirst();
  return Number(done.numUpdatedRows) > 0;
}

/** How many of the column's values each key id seals (`v1.<8 hex>.…`). */
export async function countSealedByKey(db: Kysely<DB>, c: SealedColumnRef): Promise<{ kid: string; n: number }[]> {
  let q = (db as Kysely<any>)
    .selectFrom(c.table)
    .select([sql<string>`substr(${sql.ref(c.column)}, 4, 8)`.as('kid'), (eb) => eb.fn.countAll<number>().as('n')])
    .where(c.column, 'is not', null)
    .groupBy('kid');
  for (const [k, v] of Object.entries(c.only ?? {})) q = q.where(k, '=', v);
  return (await q.execute()) as { kid: string; n: number }[];
}
