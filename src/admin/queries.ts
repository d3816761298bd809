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
