import type { Kysely } from 'kysely';
import type { DB } from '../../store/schema.ts';
import { verificationPhoneContext, type Contacts } from '../../store/contacts.ts';

export const insertVerification = (
  db: Kysely<DB>,
  c: Contacts,
  v: { uuid: string; appId: number; e164: string; via: 'sms' | 'call'; codeSealed: string; locale: string; now: number; expiresAt: number },
) =>
  db
    .insertInto('phone_verifications')
    .values({ uuid: v.uuid, app_id: v.appId, phone_index: c.phoneIndex(v.e164), phone_sealed: c.seal(v.e164, verificationPhoneContext(v.uuid)), via: v.via, code_sealed: v.codeSealed, locale: v.locale, status: 'pending', created_at: v.now, expires_at: v.expiresAt, verified_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();

/** The newest verification of this phone (its blind index) in this application, whatever its state. */
export const latest = (db: Kysely<DB>, appId: number, phoneIndex: string) =>
  db.selectFrom('phone_verifications').selectAll().where('app_id', '=', appId).where('phone_index', '=', phoneIndex).orderBy('id', 'desc').limit(1).executeTakeFirst();

export type VerificationRow = NonNullable<Awaited<ReturnType<typeof latest>>>;

/** Counts a check; undefined when the verification is no longer pending or has used its checks. */
export async function takeCheck(db: Kysely<DB>, id: number, max: number): Promise<number | undefined> {
  const row = await db
    .updateTable('phone_verifications')
    .set((eb) => ({ checks: eb('checks', '+', 1) }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('checks', '<', max)
    .returning('checks')
    .executeTakeFirst();
  return row?.checks;
}

export async function markVerified(db: Kysely<DB>, id: number, now: number): Promise<boolean> {
  const res = await db
    .updateTable('phone_verifications')
    .set({ status: 'verified', verified_at: now, code_sealed: null })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export const markDead = (db: Kysely<DB>, id: number) =>
  db.updateTable('phone_verifications').set({ status: 'dead', code_sealed: null }).where('id', '=', id).where('status', '=', 'pending').execute();
