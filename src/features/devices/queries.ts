import { registrationPhoneContext, type Contacts } from '../../store/contacts.ts';
import type { Kysely, Transaction } from 'kysely';
import type { DB, DeviceKeysTable } from '../../store/schema.ts';

type Db = Kysely<DB> | Transaction<DB>;

export async function insertDeviceKey(
  db: Db,
  d: Omit<DeviceKeysTable, 'id' | 'public_key_sealed' | 'last_seen_at' | 'deleted_at' | 'approved_by' | 'approval_signature' | 'recovery_id'> & { recovery_id?: string | null },
): Promise<number> {
  const row = await db.insertInto('device_keys').values({ ...d, public_key_sealed: null }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export const setPublicKey = (db: Db, id: number, sealed: string) =>
  db.updateTable('device_keys').set({ public_key_sealed: sealed }).where('id', '=', id).execute();

export const findDeviceKey = (db: Db, id: number) =>
  db.selectFrom('device_keys').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();

export type DeviceKeyRow = NonNullable<Awaited<ReturnType<typeof findDeviceKey>>>;

/** A pending device becomes usable (its account recovery took effect). */
export const clearPending = (db: Db, id: number) => db.updateTable('device_keys').set({ pending_since: null }).where('id', '=', id).execute();

/** Links a device to a user (one `devices` row per user), unless it is linked already. */
export async function linkDevice(
  db: Db,
  l: { deviceKeyId: number; appId: number; userId: number; osType: string; method: string; ip: string | null; now: number },
): Promise<boolean> {
  const existing = await db
    .selectFrom('devices')
    .select('id')
    .where('device_key_id', '=', l.deviceKeyId)
    .where('user_id', '=', l.userId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (existing) return false;
  await db
    .insertInto('devices')
    .values({
      app_id: l.appId,
      user_id: l.userId,
      os_type: l.osType,
      registration_method: l.method,
      ip: l.ip,
      city: null,
      region: null,
      country: null,
      created_at: l.now,
      last_sync_at: l.now,
      device_key_id: l.deviceKeyId,
    })
    .execute();
  return true;
}

/** The accounts on a device: its users, their applications and sealed seeds. */
export const accountsOf = (db: Db, deviceKeyId: number) =>
  db
    .selectFrom('devices')
    .innerJoin('users', 'users.id', 'devices.user_id')
    .innerJoin('applications', 'applications.id', 'devices.app_id')
    .select([
      'users.id as user_id',
      'users.totp_seed_sealed',
      'applications.id as app_id',
      'applications.name as app_name',
      'applications.token_length',
      'applications.recovery_codes_on_devices',
    ])
    .where('devices.device_key_id', '=', deviceKeyId)
    .where('devices.deleted_at', 'is', null)
    .orderBy('devices.id')
    .execute();

/** Users with this phone (its blind index) in applications that let phone-registered devices sync their tokens. */
export const syncableUsers = (db: Db, phoneIndex: string) =>
  db
    .selectFrom('users')
    .innerJoin('applications', 'applications.id', 'users.app_id')
    .select(['users.id as user_id', 'users.app_id'])
    .where('users.phone_index', '=', phoneIndex)
    .where('applications.sync_tokens', '=', 1)
    .orderBy('users.id')
    .execute();

/** A nonce is accepted once per device; false when it was seen before. */
export async function useNonce(db: Db, deviceKeyId: number, nonce: string, expiresAt: number): Promise<boolean> {
  const res = await db
    .insertInto('device_nonces')
    .values({ device_key_id: deviceKeyId, nonce, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['device_key_id', 'nonce']).doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export const forgetNonces = (db: Db, now: number) => db.deleteFrom('device_nonces').where('expires_at', '<', now).execute();

export const touchDevice = (db: Db, id: number, now: number) =>
  db.updateTable('device_keys').set({ last_seen_at: now }).where('id', '=', id).execute();

/** The name the device gave itself (checked by readDeviceName); a removed device keeps its own. */
export const renameDevice = (db: Db, id: number, name: string) =>
  db.updateTable('device_keys').set({ name }).where('id', '=', id).where('deleted_at', 'is', null).execute();

export const setPushSubscription = (db: Db, id: number, sealed: string | null) =>
  db.updateTable('device_keys').set({ push_subscription_sealed: sealed }).where('id', '=', id).execute();

/** The sealed push subscriptions of these devices (live ones only; null where a device has none). */
export const pushSubscriptionsOf = (db: Db, ids: number[]) =>
  db.selectFrom('device_keys').select(['id', 'push_subscription_sealed']).where('id', 'in', ids).where('deleted_at', 'is', null).execute();

/** The stored VAPID key pair (push.ts), as `meta` rows; the private key sealed. */
export const readVapidKeys = (db: Db) => db.selectFrom('meta').select(['key', 'value']).where('key', 'in', ['vapid_public_key', 'vapid_private_key']).execute();

/** Stores a new VAPID pair unless one is stored already: the first node to start wins. */
export async function storeVapidKeys(db: Kysely<DB>, publicKey: string, privateSealed: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const ins = await trx
      .insertInto('meta')
      .values({ key: 'vapid_private_key', value: privateSealed })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    if (Number(ins.numInsertedOrUpdatedRows ?? 0) > 0) {
      await trx.insertInto('meta').values({ key: 'vapid_public_key', value: publicKey }).execute();
    }
  });
}

/** Unregisters: the key stops working and every account link becomes a deleted device. */
export async function removeDevice(db: Kysely<DB>, id: number, now: number): Promise<void> {
  await db.transaction().execute((trx) => removeDeviceIn(trx, id, now));
}

/** `removeDevice` within a transaction the caller holds. */
export async function removeDeviceIn(trx: Db, id: number, now: number): Promise<void> {
  await trx.updateTable('device_keys').set({ deleted_at: now, push_subscription_sealed: null }).where('id', '=', id).execute();
  await trx.updateTable('devices').set({ deleted_at: now }).where('device_key_id', '=', id).where('deleted_at', 'is', null).execute();
}

export const insertRegistrationToken = (db: Db, t: { hash: string; appId: number; userId: number; now: number; expiresAt: number }) =>
  db
    .insertInto('registration_tokens')
    .values({ token_hash: t.hash, app_id: t.appId, user_id: t.userId, created_at: t.now, expires_at: t.expiresAt, used_at: null })
    .execute();

/** Takes a registration token: single use, so of two concurrent registrations one gets it. */
export async function takeRegistrationToken(db: Db, hash: string, now: number) {
  const row = await db.selectFrom('registration_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  if (!row || row.used_at !== null) return { found: false as const };
  if (Number(row.expires_at) <= now) return { found: true as const, expired: true as const };
  const res = await db
    .updateTable('registration_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return { found: false as const };
  return { found: true as const, expired: false as const, appId: row.app_id, userId: row.user_id };
}

/** Python's `registrations/status`: whether a user of this application has a registered device. */
export const hasRegisteredDevice = async (db: Db, appId: number, userId: number) =>
  !!(await db
    .selectFrom('devices')
    .select('id')
    .where('app_id', '=', appId)
    .where('user_id', '=', userId)
    .where('deleted_at', 'is', null)
    .where('device_key_id', 'is not', null)
    .executeTakeFirst());

/** The number is kept sealed, and as its blind index for the lookups. */
export const insertPhoneRegistration = (
  db: Db,
  c: Contacts,
  r: { id: string; e164: string; via: 'sms' | 'voice'; codeHash: string | null; now: number; expiresAt: number },
) =>
  db
    .insertInto('phone_registrations')
    .values({
      id: r.id,
      phone_index: c.phoneIndex(r.e164),
      phone_sealed: c.seal(r.e164, registrationPhoneContext(r.id)),
      via: r.via,
      code_hash: r.codeHash,
      created_at: r.now,
      expires_at: r.expiresAt,
      used_at: null,
    })
    .execute();

export const findPhoneRegistration = (db: Db, id: string) =>
  db.selectFrom('phone_registrations').selectAll().where('id', '=', id).executeTakeFirst();

/**
 * One more wrong code, counted only while the registration is open and below `max`; returns the
 * count after it, or undefined when it was not counted (used, or dead from earlier wrong codes).
 * The write decides, not the read before it: concurrent guesses cannot exceed `max`.
 */
export async function failPhoneRegistration(db: Db, id: string, max: number): Promise<number | undefined> {
  const row = await db
    .updateTable('phone_registrations')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('failures', '<', max)
    .returning('failures')
    .executeTakeFirst();
  return row?.failures;
}

/** Uses the registration once, and not after `max` wrong codes (even ones counted since the read). */
export async function usePhoneRegistration(db: Db, id: string, now: number, max: number): Promise<boolean> {
  const res = await db
    .updateTable('phone_registrations')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('failures', '<', max)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** The device ids that hold an account of this user (approval requests go to each). */
export const deviceKeysOfUser = (db: Db, userId: number) =>
  db
    .selectFrom('devices')
    .innerJoin('device_keys', 'device_keys.id', 'devices.device_key_id')
    .select(['device_keys.id', 'device_keys.push_subscription_sealed'])
    .where('devices.user_id', '=', userId)
    .where('devices.deleted_at', 'is', null)
    .where('device_keys.deleted_at', 'is', null)
    .execute();
