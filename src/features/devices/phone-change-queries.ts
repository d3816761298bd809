// Phone changes from a device (phone-change.ts): pending → completed | canceled. A change ends
// only from `pending`, and wrong codes are counted by the write: racing requests cannot pass either.
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { DB, PhoneChangesTable } from '../../store/schema.ts';

type Db = Kysely<DB> | Transaction<DB>;

export const insertPhoneChange = (db: Db, row: Insertable<PhoneChangesTable>) => db.insertInto('phone_changes').values(row).execute();

/** A device has one pending change at a time: a new request cancels the one before. */
export const cancelPendingPhoneChangesOf = (db: Db, deviceKeyId: number, now: number) =>
  db.updateTable('phone_changes').set({ status: 'canceled', finished_at: now }).where('device_key_id', '=', deviceKeyId).where('status', '=', 'pending').execute();

/** The device's pending change (expired or not: the caller checks). */
export const findPendingPhoneChangeOf = (db: Db, id: string, deviceKeyId: number) =>
  db.selectFrom('phone_changes').selectAll().where('id', '=', id).where('device_key_id', '=', deviceKeyId).where('status', '=', 'pending').executeTakeFirst();

export const findPendingPhoneChange = (db: Db, id: string) =>
  db.selectFrom('phone_changes').select(['id', 'old_index']).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();

/** One more wrong code while pending and below `max`: the count after it, or undefined when not counted. */
export async function countPhoneChangeFailure(db: Db, id: string, max: number): Promise<number | undefined> {
  const row = await db
    .updateTable('phone_changes')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('failures', '<', max)
    .returning('failures')
    .executeTakeFirst();
  return row?.failures;
}

/** Ends a pending change; false when it was ended meanwhile. */
export async function finishPhoneChange(db: Db, id: string, status: 'completed' | 'canceled', now: number): Promise<boolean> {
  const res = await db.updateTable('phone_changes').set({ status, finished_at: now }).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Pending, unexpired changes of this application's users, oldest first. */
export const pendingPhoneChangesOfApp = (db: Db, appId: number, now: number) =>
  db
    .selectFrom('phone_changes')
    .select(['id', 'old_index', 'created_at', 'expires_at'])
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .where('old_index', 'in', (eb) => eb.selectFrom('users').select('users.phone_index').where('users.app_id', '=', appId))
    .orderBy('created_at')
    .execute();
