// Moving a person to a new number, in the caller's transaction: every user with the old number,
// in every application, takes the new one and keeps its Authy ID; devices and the person's
// settings follow. Shared by the phone change with a device and the one without.
import type { Kysely } from 'kysely';
import type { Contacts } from '../../store/contacts.ts';
import type { DB } from '../../store/schema.ts';
import type { Webhooks } from '../webhooks/service.ts';
import { contactColumns, contactOf } from '../users/service.ts';
import { moveDeviceKeysToPhone, movePhoneOwner, setUserPhone, userOfPhoneIn, usersOfPhone } from './person-queries.ts';

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
  if (await userOfPhoneIn(trx, m.newIndex, users.map((u) => u.app_id))) return 'conflict';
  for (const u of users) {
    const { email } = contactOf(d.contacts, u);
    await setUserPhone(trx, u.id, contactColumns(d.contacts, u.app_id, m.e164, email), m.countryCode);
    await d.webhooks.emit(trx, u.app_id, 'user_phone_changed', { user: { s_authy_id: String(u.id) }, phone_change: { s_id: m.changeId } }, m.now);
  }
  await moveDeviceKeysToPhone(trx, m.oldIndex, m.newIndex);
  await movePhoneOwner(trx, m.oldIndex, m.newIndex, m.now);
  return users.length;
}
