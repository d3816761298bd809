// Administrators' accounts and console sessions: SQL.
import type { Kysely, Selectable } from 'kysely';
import type { AdminAccountsTable, DB } from '../store/schema.ts';

export type NewAccount = Omit<AdminAccountsTable, 'id' | 'totp_last_step' | 'disabled_at' | 'last_sign_in_at' | 'onetouch_app_id' | 'onetouch_authy_id' | 'onetouch_device_keys'>;
export type AccountRow = Selectable<AdminAccountsTable>;

export const insertAccount = async (db: Kysely<DB>, a: NewAccount) =>
  (
    await db
      .insertInto('admin_accounts')
      .values({ ...a, totp_last_step: null, disabled_at: null, last_sign_in_at: null, onetouch_app_id: null, onetouch_authy_id: null, onetouch_device_keys: null })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;

export const accountByEmail = (db: Kysely<DB>, email: string) => db.selectFrom('admin_accounts').selectAll().where('email', '=', email).executeTakeFirst();
export const accountById = (db: Kysely<DB>, id: number) => db.selectFrom('admin_accounts').selectAll().where('id', '=', id).executeTakeFirst();
export const listAccounts = (db: Kysely<DB>) => db.selectFrom('admin_accounts').selectAll().orderBy('id').execute();
export const activeAccounts = async (db: Kysely<DB>) =>
  Number((await db.selectFrom('admin_accounts').select((eb) => eb.fn.countAll<number>().as('n')).where('disabled_at', 'is', null).executeTakeFirstOrThrow()).n);

/** A second-factor step, taken only if newer than the last: of two uses of one code, one wins. */
export const takeTotpStep = async (db: Kysely<DB>, id: number, step: number) =>
  Number(
    (
      await db
        .updateTable('admin_accounts')
        .set({ totp_last_step: step })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
        .executeTakeFirst()
    ).numUpdatedRows,
  ) === 1;

export const noteSignIn = (db: Kysely<DB>, id: number, now: number) => db.updateTable('admin_accounts').set({ last_sign_in_at: now }).where('id', '=', id).execute();
export const disableAccount = async (db: Kysely<DB>, id: number, now: number) =>
  Number((await db.updateTable('admin_accounts').set({ disabled_at: now }).where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst()).numUpdatedRows) === 1;

export const insertSession = (db: Kysely<DB>, s: { token_hash: string; csrf_hash: string; account_id: number; ip: string | null; created_at: number; expires_at: number; idle_until: number }) =>
  db.insertInto('admin_sessions').values(s).execute();

/** A live session and its account (not disabled), by the hash of its cookie. */
export const liveSession = (db: Kysely<DB>, tokenHash: string, now: number) =>
  db
    .selectFrom('admin_sessions')
    .innerJoin('admin_accounts', 'admin_accounts.id', 'admin_sessions.account_id')
    .select(['admin_sessions.id as session_id', 'admin_sessions.csrf_hash', 'admin_sessions.idle_until', 'admin_accounts.id', 'admin_accounts.email', 'admin_accounts.role', 'admin_accounts.app_id'])
    .where('admin_sessions.token_hash', '=', tokenHash)
    .where('admin_sessions.expires_at', '>', now)
    .where('admin_sessions.idle_until', '>', now)
    .where('admin_accounts.disabled_at', 'is', null)
    .executeTakeFirst();

export const extendSession = (db: Kysely<DB>, id: number, idleUntil: number) => db.updateTable('admin_sessions').set({ idle_until: idleUntil }).where('id', '=', id).execute();
export const endSession = (db: Kysely<DB>, id: number) => db.deleteFrom('admin_sessions').where('id', '=', id).execute();
export const endSessionsOf = (db: Kysely<DB>, accountId: number) => db.deleteFrom('admin_sessions').where('account_id', '=', accountId).execute();

export const setOneTouchUser = (db: Kysely<DB>, id: number, d: { appId: number; authyId: number; deviceKeys: number[] } | null) =>
  db
    .updateTable('admin_accounts')
    .set({ onetouch_app_id: d?.appId ?? null, onetouch_authy_id: d?.authyId ?? null, onetouch_device_keys: d ? JSON.stringify(d.deviceKeys) : null })
    .where('id', '=', id)
    .execute();

/** A sign-in waiting for its second factor; expired ones are swept as new ones come. */
export async function insertSignIn(db: Kysely<DB>, s: { ticket_hash: string; account_id: number; via: 'password' | 'sso'; ip: string | null; created_at: number; expires_at: number }, now: number) {
  await db.deleteFrom('admin_sign_ins').where('expires_at', '<=', now).execute();
  await db.insertInto('admin_sign_ins').values({ ...s, approval_uuid: null }).execute();
}

/** The waiting sign-in of a ticket, if its account may still sign in. */
export const waitingSignIn = (db: Kysely<DB>, ticketHash: string, now: number) =>
  db
    .selectFrom('admin_sign_ins')
    .innerJoin('admin_accounts', 'admin_accounts.id', 'admin_sign_ins.account_id')
    .select(['admin_sign_ins.id', 'admin_sign_ins.account_id', 'admin_sign_ins.via', 'admin_sign_ins.approval_uuid', 'admin_sign_ins.ip'])
    .where('admin_sign_ins.ticket_hash', '=', ticketHash)
    .where('admin_sign_ins.expires_at', '>', now)
    .where('admin_accounts.disabled_at', 'is', null)
    .executeTakeFirst();

export const noteApproval = async (db: Kysely<DB>, id: number, uuid: string) =>
  Number((await db.updateTable('admin_sign_ins').set({ approval_uuid: uuid }).where('id', '=', id).where('approval_uuid', 'is', null).executeTakeFirst()).numUpdatedRows) === 1;

/** Ends a waiting sign-in; true for the one caller that ended it. */
export const endSignIn = async (db: Kysely<DB>, id: number) => Number((await db.deleteFrom('admin_sign_ins').where('id', '=', id).executeTakeFirst()).numDeletedRows) === 1;

/** The device keys of the application's user, registered and not removed: those OneTouch reaches. */
export const deviceKeysOfUser = async (db: Kysely<DB>, appId: number, authyId: number) =>
  (
    await db
      .selectFrom('users')
      .innerJoin('devices', 'devices.user_id', 'users.id')
      .innerJoin('device_keys', 'device_keys.id', 'devices.device_key_id')
      .select('device_keys.id')
      .where('users.app_id', '=', appId)
      .where('users.id', '=', authyId)
      .where('devices.deleted_at', 'is', null)
      .where('device_keys.deleted_at', 'is', null)
      .orderBy('device_keys.id')
      .execute()
  ).map((r) => Number(r.id));

/** The device key that answered an approval request. */
export const answeringDevice = async (db: Kysely<DB>, uuid: string) => {
  const r = await db.selectFrom('approval_requests').select('device_key_id').where('uuid', '=', uuid).executeTakeFirst();
  return r?.device_key_id === null || r === undefined ? null : Number(r.device_key_id);
};
