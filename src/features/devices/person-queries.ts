// A person's devices across applications (issue 17): a person is their phone's blind index; a
// device belongs to them when it registered with that phone or holds an account of a user with it.
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../store/schema.ts';

type Db = Kysely<DB> | Transaction<DB>;

/** The phones (blind indexes) a device stands for: the one it registered with, and its users'. */
export async function phonesOfDevice(db: Db, deviceKeyId: number): Promise<string[]> {
  const own = await db.selectFrom('device_keys').select('phone_index').where('id', '=', deviceKeyId).executeTakeFirst();
  const linked = await db
    .selectFrom('devices')
    .innerJoin('users', 'users.id', 'devices.user_id')
    .select('users.phone_index')
    .distinct()
    .where('devices.device_key_id', '=', deviceKeyId)
    .where('devices.deleted_at', 'is', null)
    .execute();
  return [...new Set([...(own?.phone_index ? [own.phone_index] : []), ...linked.map((r) => r.phone_index)])];
}

/** Every live device of these phones (pending ones too), oldest first. */
export async function devicesOfPhones(db: Db, phones: string[]) {
  if (phones.length === 0) return [];
  return db
    .selectFrom('device_keys')
    .select(['id', 'name', 'os_type', 'registration_method', 'created_at', 'last_seen_at', 'pending_since', 'recovery_id', 'public_key_sealed', 'algorithm'])
    .where('deleted_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb('phone_index', 'in', phones),
        eb(
          'id',
          'in',
          eb
            .selectFrom('devices')
            .innerJoin('users', 'users.id', 'devices.user_id')
            .select('devices.device_key_id')
            .where('users.phone_index', 'in', phones)
            .where('devices.deleted_at', 'is', null)
            .where('devices.device_key_id', 'is not', null)
            .$narrowType<{ device_key_id: number }>(),
        ),
      ]),
    )
    .orderBy('id')
    .execute();
}

export type PersonDeviceRow = Awaited<ReturnType<typeof devicesOfPhones>>[number];

/** Whether new devices may join these phones: all of them must allow it (on unless turned off). */
export async function allowsNewDevices(db: Db, phones: string[]): Promise<boolean> {
  if (phones.length === 0) return true;
  const off = await db.selectFrom('phone_owners').select('phone_index').where('phone_index', 'in', phones).where('allow_new_devices', '=', 0).executeTakeFirst();
  return off === undefined;
}

export async function setAllowNewDevices(db: Db, phones: string[], allow: boolean, now: number): Promise<void> {
  for (const phone_index of phones) {
    await db
      .insertInto('phone_owners')
      .values({ phone_index, allow_new_devices: allow ? 1 : 0, last_account_recovery_at: null, updated_at: now })
      .onConflict((oc) => oc.column('phone_index').doUpdateSet({ allow_new_devices: allow ? 1 : 0, updated_at: now }))
      .execute();
  }
}

/** Approves a pending device once: false when it was answered (or removed) meanwhile. */
export async function approvePending(db: Db, id: number, by: number, signature: string): Promise<boolean> {
  const res = await db
    .updateTable('device_keys')
    .set({ pending_since: null, approved_by: by, approval_signature: signature })
    .where('id', '=', id)
    .where('pending_since', 'is not', null)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** The account recovery of these phones took effect now (shown with their users' devices). */
export const markAccountRecovered = (db: Db, phoneIndex: string, now: number) =>
  db
    .insertInto('phone_owners')
    .values({ phone_index: phoneIndex, allow_new_devices: 1, last_account_recovery_at: now, updated_at: now })
    .onConflict((oc) => oc.column('phone_index').doUpdateSet({ last_account_recovery_at: now, updated_at: now }))
    .execute();

// ---- moving a person to a new number (number-move.ts) -----------------------------------------

/** The users with this phone, in every application. */
export const usersOfPhone = (db: Db, phoneIndex: string) =>
  db.selectFrom('users').select(['id', 'app_id', 'phone_index', 'contact_sealed']).where('phone_index', '=', phoneIndex).orderBy('id').execute();

/** Whether the new number is already another user's in an application of the old number's users. */
export async function numberTaken(db: Db, oldIndex: string, newIndex: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('phone_index', '=', newIndex)
    .where('app_id', 'in', (eb) => eb.selectFrom('users as u').select('u.app_id').where('u.phone_index', '=', oldIndex))
    .executeTakeFirst();
  return row !== undefined;
}

/** A user with this phone in one of these applications, if any. */
export const userOfPhoneIn = (db: Db, phoneIndex: string, appIds: number[]) =>
  db
    .selectFrom('users')
    .select('id')
    .where('phone_index', '=', phoneIndex)
    .where('app_id', 'in', appIds.length ? appIds : [-1])
    .executeTakeFirst();

/** A user's new number: its contact columns (number and address sealed together) and calling code. */
export const setUserPhone = (db: Db, userId: number, contact: { phone_index: string; contact_sealed: string; email_index: string }, countryCode: number) =>
  db.updateTable('users').set({ ...contact, country_code: countryCode }).where('id', '=', userId).execute();

export const moveDeviceKeysToPhone = (db: Db, oldIndex: string, newIndex: string) =>
  db.updateTable('device_keys').set({ phone_index: newIndex }).where('phone_index', '=', oldIndex).execute();

/** The person's settings follow them to the new number (replacing any the new number had). */
export async function movePhoneOwner(db: Db, oldIndex: string, newIndex: string, now: number): Promise<void> {
  const owner = await db.selectFrom('phone_owners').selectAll().where('phone_index', '=', oldIndex).executeTakeFirst();
  if (!owner) return;
  await db.deleteFrom('phone_owners').where('phone_index', 'in', [oldIndex, newIndex]).execute();
  await db.insertInto('phone_owners').values({ ...owner, phone_index: newIndex, updated_at: now }).execute();
}
