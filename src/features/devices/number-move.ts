// Moving a person to a new number, in the caller's transaction: every user with the old number,
// in every application, takes the new one and keeps its Authy ID; devices and the person's
// settings follow. Shared by the phone change with a device and the one without.
import type { Kysely } from 'kysely';
import type { Contacts } from '../../store/contacts.ts';
import type { DB } from '../../store/schema.ts';
import type { Webhooks } from '../webhooks/service.ts';
import { contactColumns, contactOf } from '../users/queries.ts';

export interface NumberMove {
  oldIndex: string;
  newIndex: string;
  e164: string;
  countryCode: number;
  /** Told to the applications as `phone_change.s_id`. */
  changeId: string;
  now: number;
}

/** The users moved, or `conflict` (nothing changed) when the new number is another user's in one of their applications. */
export async function moveToNumber(trx: Kysely<DB>, d: { contacts: Contacts; webhooks: Webhooks }, m: NumberMove): Promise<number | 'conflict'> {
  const users = await usersOfPhone(trx, m.oldIndex);
  const taken = await trx
    .selectFrom('users')
    .select('id')
    .where('phone_index', '=', m.newIndex)
    .where('app_id', 'in', users.length ? users.map((u) => u.app_id) : [-1])
    .executeTakeFirst();
  if (taken) return 'conflict';
  for (const u of users) {
    const { email } = contactOf(d.contacts, u);
    await trx.updateTable('users').set({ ...contactColumns(d.contacts, u.app_id, m.e164, email), country_code: m.countryCode }).where('id', '=', u.id).execute();
    await d.webhooks.emit(trx, u.app_id, 'user_phone_changed', { user: { s_authy_id: String(u.id) }, phone_change: { s_id: m.changeId } }, m.now);
  }
  await trx.updateTable('device_keys').set({ phone_index: m.newIndex }).where('phone_index', '=', m.oldIndex).execute();
  const owner = await trx.selectFrom('phone_owners').selectAll().where('phone_index', '=', m.oldIndex).executeTakeFirst();
  if (owner) {
    await trx.deleteFrom('phone_owners').where('phone_index', 'in', [m.oldIndex, m.newIndex]).execute();
    await trx.insertInto('phone_owners').values({ ...owner, phone_index: m.newIndex, updated_at: m.now }).execute();
  }
  return users.length;
}

/** Whether the new number is already another user's in an application of the old number's users. */
export async function numberTaken(db: Kysely<DB>, oldIndex: string, newIndex: string): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('phone_index', '=', newIndex)
    .where('app_id', 'in', (eb) => eb.selectFrom('users as u').select('u.app_id').where('u.phone_index', '=', oldIndex))
    .executeTakeFirst();
  return row !== undefined;
}

export const usersOfPhone = (db: Kysely<DB>, phoneIndex: string) =>
  db.selectFrom('users').select(['id', 'app_id', 'phone_index', 'contact_sealed']).where('phone_index', '=', phoneIndex).orderBy('id').execute();
