import type { Kysely, Transaction } from 'kysely';
import type { ApprovalRequestsTable, ApprovalStatus, DB } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';

type Db = Kysely<DB> | Transaction<DB>;

export const insertApproval = (db: Db, row: Omit<ApprovalRequestsTable, 'id' | 'notified'> & { notified: number }) =>
  db.insertInto('approval_requests').values(row).execute();

// The status poll customers run in a loop: compiled once (see store/prepared.ts).
const byUuid = prepared((db: Kysely<DB>, appId: number, uuid: string) =>
  db
    .selectFrom('approval_requests')
    .innerJoin('users', 'users.id', 'approval_requests.user_id')
    .innerJoin('applications', 'applications.id', 'approval_requests.app_id')
    .select([
      'approval_requests.id',
      'approval_requests.uuid',
      'approval_requests.app_id',
      'approval_requests.user_id',
      'approval_requests.status',
      'approval_requests.expires_at',
      'approval_requests.seconds_to_expire',
      'approval_requests.notified',
      'approval_requests.created_at',
      'approval_requests.updated_at',
      'approval_requests.processed_at',
      'users.phone_index',
      'users.contact_sealed',
      'applications.name as app_name',
    ])
    .where('approval_requests.uuid', '=', uuid)
    .where('approval_requests.app_id', '=', appId),
);
export const findStatus = (db: Kysely<DB>, appId: number, uuid: string) => byUuid.first(db, appId, uuid);

export const findApproval = (db: Db, uuid: string) => db.selectFrom('approval_requests').selectAll().where('uuid', '=', uuid).executeTakeFirst();
export type ApprovalRow = NonNullable<Awaited<ReturnType<typeof findApproval>>>;
export const findApprovalById = (db: Db, id: number) => db.selectFrom('approval_requests').selectAll().where('id', '=', id).executeTakeFirst();

/** Pending, unexpired requests of the users this device holds. */
export const pendingForDevice = (db: Db, deviceKeyId: number, now: number) =>
  db
    .selectFrom('approval_requests')
    .innerJoin('devices', 'devices.user_id', 'approval_requests.user_id')
    .innerJoin('applications', 'applications.id', 'approval_requests.app_id')
    .selectAll('approval_requests')
    .select('applications.name as app_name')
    .where('devices.device_key_id', '=', deviceKeyId)
    .where('devices.deleted_at', 'is', null)
    .where('approval_requests.status', '=', 'pending')
    .where((w) => w.or([w('approval_requests.expires_at', 'is', null), w('approval_requests.expires_at', '>', now)]))
    .orderBy('approval_requests.id')
    .limit(100)
    .execute();

/** Whether this device holds an account of the request's user. */
export const deviceHoldsUser = async (db: Db, deviceKeyId: number, userId: number) =>
  !!(await db
    .selectFrom('devices')
    .select('id')
    .where('device_key_id', '=', deviceKeyId)
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst());

/** The one answer that counts: only a pending, unexpired request changes. */
export async function answer(
  db: Db,
  a: { id: number; status: ApprovalStatus; deviceKeyId: number; signature: string; hash: string; reason: string | null; now: number },
): Promise<boolean> {
  const res = await db
    .updateTable('approval_requests')
    .set({
      status: a.status,
      device_key_id: a.deviceKeyId,
      device_signature: a.signature,
      transaction_hash: a.hash,
      reason: a.reason,
      processed_at: a.now,
      updated_at: a.now,
    })
    .where('id', '=', a.id)
    .where('status', '=', 'pending')
    .where((w) => w.or([w('expires_at', 'is', null), w('expires_at', '>', a.now)]))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export const dueForExpiry = (db: Db, now: number, limit: number) =>
  db
    .selectFrom('approval_requests')
    .select(['id', 'app_id', 'expires_at'])
    .where('status', '=', 'pending')
    .where('expires_at', '<=', now)
    .orderBy('expires_at')
    .limit(limit)
    .execute();

/** Expires one request (processed at its expiry time); false when someone answered first. */
export async function expire(db: Db, id: number, expiresAt: number, now: number): Promise<boolean> {
  const res = await db
    .updateTable('approval_requests')
    .set({ status: 'expired', processed_at: expiresAt, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export const markNotified = (db: Db, uuid: string) =>
  db.updateTable('approval_requests').set({ notified: 1 }).where('uuid', '=', uuid).where('notified', '=', 0).execute();
