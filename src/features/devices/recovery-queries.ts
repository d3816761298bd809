// Account recoveries without any device (account-recovery.ts): unconfirmed (codes sent) →
// waiting (a new device registered, the wait running) → completed | canceled. Every change of
// status holds only from the status the caller read: of two racing ends, one wins.
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { AccountRecoveriesTable, DB } from '../../store/schema.ts';

type Db = Kysely<DB> | Transaction<DB>;
type Status = AccountRecoveriesTable['status'];

export const insertRecovery = (db: Db, row: Insertable<AccountRecoveriesTable>) => db.insertInto('account_recoveries').values(row).execute();

export const findRecovery = (db: Db, id: string) => db.selectFrom('account_recoveries').selectAll().where('id', '=', id).executeTakeFirst();

export const findWaitingRecovery = (db: Db, id: string) =>
  db.selectFrom('account_recoveries').selectAll().where('id', '=', id).where('status', '=', 'waiting').executeTakeFirst();

/** Not finished: unconfirmed or waiting. */
export const findOpenRecovery = (db: Db, id: string) =>
  db.selectFrom('account_recoveries').selectAll().where('id', '=', id).where('status', 'in', ['unconfirmed', 'waiting']).executeTakeFirst();

/** Both codes proven: the wait starts. False when the recovery left `unconfirmed` meanwhile. */
export async function startRecoveryWait(db: Db, id: string, completesAt: number): Promise<boolean> {
  const res = await db.updateTable('account_recoveries').set({ status: 'waiting', completes_at: completesAt }).where('id', '=', id).where('status', '=', 'unconfirmed').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export const setRecoveryDevice = (db: Db, id: string, deviceKeyId: number) =>
  db.updateTable('account_recoveries').set({ device_key_id: deviceKeyId }).where('id', '=', id).execute();

/** Ends a waiting recovery; false when it was ended meanwhile. */
export async function finishRecovery(db: Db, id: string, status: Extract<Status, 'completed' | 'canceled'>, now: number, canceledBy: string | null): Promise<boolean> {
  const res = await db
    .updateTable('account_recoveries')
    .set({ status, finished_at: now, canceled_by: canceledBy })
    .where('id', '=', id)
    .where('status', '=', 'waiting')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Cancels a recovery whose codes were sent but not yet proven; false when it moved on meanwhile. */
export async function cancelUnconfirmedRecovery(db: Db, id: string, now: number, canceledBy: string): Promise<boolean> {
  const res = await db.updateTable('account_recoveries').set({ status: 'canceled', finished_at: now, canceled_by: canceledBy }).where('id', '=', id).where('status', '=', 'unconfirmed').executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export const shortenRecoveryWait = (db: Db, id: string, completesAt: number) =>
  db.updateTable('account_recoveries').set({ completes_at: completesAt }).where('id', '=', id).where('status', '=', 'waiting').execute();

/** Recoveries of these phones now waiting, with the device that waits. */
export const waitingRecoveriesOf = (db: Db, phones: string[]) =>
  db
    .selectFrom('account_recoveries')
    .leftJoin('device_keys', 'device_keys.id', 'account_recoveries.device_key_id')
    .select(['account_recoveries.id', 'account_recoveries.new_phone_index', 'account_recoveries.created_at', 'account_recoveries.completes_at', 'device_keys.name', 'device_keys.os_type'])
    .where('account_recoveries.phone_index', 'in', phones)
    .where('account_recoveries.status', '=', 'waiting')
    .execute();

/** Recoveries of this application's users, not yet finished, oldest first. */
export const openRecoveriesOfApp = (db: Db, appId: number) =>
  db
    .selectFrom('account_recoveries')
    .leftJoin('device_keys', 'device_keys.id', 'account_recoveries.device_key_id')
    .select(['account_recoveries.id', 'account_recoveries.status', 'account_recoveries.phone_index', 'account_recoveries.new_phone_index', 'account_recoveries.created_at', 'account_recoveries.expires_at', 'account_recoveries.completes_at', 'device_keys.name', 'device_keys.os_type'])
    .where('account_recoveries.status', 'in', ['unconfirmed', 'waiting'])
    .where('account_recoveries.phone_index', 'in', (eb) => eb.selectFrom('users').select('users.phone_index').where('users.app_id', '=', appId))
    .orderBy('account_recoveries.created_at')
    .execute();

/** Waiting recoveries whose wait is over (only `id`, when given), `limit` of them. */
export function dueRecoveries(db: Db, now: number, limit: number, id?: string) {
  let query = db.selectFrom('account_recoveries').select(['id', 'phone_index', 'device_key_id', 'new_phone_index', 'new_phone_sealed', 'new_country_code']).where('status', '=', 'waiting').where('completes_at', '<=', now);
  if (id !== undefined) query = query.where('id', '=', id);
  return query.limit(limit).execute();
}

/** How a recovery stands, for the device that waits for it. */
export const recoveryStatus = (db: Db, id: string) =>
  db.selectFrom('account_recoveries').select(['status', 'completes_at', 'new_phone_index']).where('id', '=', id).executeTakeFirst();
