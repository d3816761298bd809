import type { Kysely } from 'kysely';
import type { DB } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';
import { addUsage } from '../applications/queries.ts';

// The user lookup behind status, verify and sms: compiled once (see store/prepared.ts).
const userById = prepared((db: Kysely<DB>, appId: number, id: number) =>
  db
    .selectFrom('users')
    .select(['id', 'country_code', 'phone_e164', 'email', 'confirmed', 'created_at'])
    .where('id', '=', id)
    .where('app_id', '=', appId),
);
export const findUser = (db: Kysely<DB>, appId: number, id: number) => userById.first(db, appId, id);

export interface NewUser {
  appId: number;
  countryCode: number;
  e164: string;
  email: string;
  now: number;
  month: string;
}

/**
 * The user for this phone in this application: created, or found (an extra email is kept).
 * Safe under concurrent calls for the same phone: the unique index decides.
 */
export async function upsertUserByPhone(
  db: Kysely<DB>,
  u: NewUser,
  sealSeed: (id: number) => string,
  /** Runs in the creating transaction (webhook events). */
  onCreated?: (trx: Kysely<DB>, id: number) => Promise<void>,
): Promise<{ id: number; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('users')
      .values({ app_id: u.appId, country_code: u.countryCode, phone_e164: u.e164, email: u.email, confirmed: 0, created_at: u.now })
      .onConflict((oc) => oc.columns(['app_id', 'phone_e164']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) {
      // The seed is sealed with the row's id as additional data, so it is written second.
      await trx.updateTable('users').set({ totp_seed_sealed: sealSeed(inserted.id) }).where('id', '=', inserted.id).execute();
      await addUsage(trx, u.appId, u.month, 'users', 1);
      await onCreated?.(trx, inserted.id);
      return { id: inserted.id, created: true };
    }
    const existing = await trx
      .selectFrom('users')
      .select(['id', 'email'])
      .where('app_id', '=', u.appId)
      .where('phone_e164', '=', u.e164)
      .executeTakeFirstOrThrow();
    if (existing.email !== u.email) {
      await trx
        .insertInto('user_emails')
        .values({ user_id: existing.id, email: u.email, created_at: u.now })
        .onConflict((oc) => oc.columns(['user_id', 'email']).doNothing())
        .execute();
    }
    return { id: existing.id, created: false };
  });
}

export const emailsOf = (db: Kysely<DB>, userId: number) =>
  db.selectFrom('user_emails').select('email').where('user_id', '=', userId).orderBy('created_at').execute();

export async function deleteUser(db: Kysely<DB>, appId: number, id: number, onDeleted?: (trx: Kysely<DB>) => Promise<void>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const res = await trx.deleteFrom('users').where('id', '=', id).where('app_id', '=', appId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) return false;
    await onDeleted?.(trx);
    return true;
  });
}

// Status reads the user and its devices (registered and removed) in one statement: one row per
// device, or one row with null device columns when there is none.
const userWithDevices = prepared((db: Kysely<DB>, appId: number, id: number) =>
  db
    .selectFrom('users')
    .leftJoin('devices', 'devices.user_id', 'users.id')
    .select([
      'users.id',
      'users.country_code',
      'users.phone_e164',
      'users.email',
      'users.confirmed',
      'devices.id as device_id',
      'devices.os_type',
      'devices.registration_method',
      'devices.created_at as device_created_at',
      'devices.last_sync_at',
      'devices.deleted_at',
    ])
    .where('users.id', '=', id)
    .where('users.app_id', '=', appId)
    .orderBy('devices.id'),
);
export const findUserWithDevices = (db: Kysely<DB>, appId: number, id: number) => userWithDevices.all(db, appId, id);

export const insertActivity = (
  db: Kysely<DB>,
  a: { appId: number; userId: number; type: string; data: string; userIp: string | null; now: number },
) =>
  db
    .insertInto('activities')
    .values({ app_id: a.appId, user_id: a.userId, type: a.type, data: a.data, user_ip: a.userIp, created_at: a.now })
    .execute();

export const activitiesOf = (db: Kysely<DB>, userId: number) =>
  db.selectFrom('activities').select(['type', 'data', 'user_ip', 'created_at']).where('user_id', '=', userId).orderBy('id').execute();


export const updateEmail = (db: Kysely<DB>, appId: number, id: number, email: string) =>
  db.updateTable('users').set({ email }).where('id', '=', id).where('app_id', '=', appId).executeTakeFirst();
