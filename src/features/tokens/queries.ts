import { sql, type Kysely } from 'kysely';
import type { DB } from '../../store/schema.ts';
import { prepared } from '../../store/prepared.ts';

// Verify's one read: the user with its app-TOTP state and its QR authenticator, if any.
const factorsById = prepared((db: Kysely<DB>, appId: number, id: number) =>
  db
    .selectFrom('users')
    .leftJoin('authenticators', 'authenticators.user_id', 'users.id')
    .select([
      'users.id',
      'users.country_code',
      'users.phone_e164',
      'users.email',
      'users.confirmed',
      'users.created_at',
      'users.totp_seed_sealed',
      'users.totp_last_step',
      'users.totp_drift',
      'users.verify_failures',
      'users.verify_locked_until',
      'authenticators.secret_sealed as qr_secret_sealed',
      'authenticators.last_step as qr_last_step',
      'authenticators.drift as qr_drift',
      'authenticators.created_at as qr_created_at',
      // Whether the user has an authenticator device, without a second query when none.
      (eb) =>
        eb
          .selectFrom('devices')
          .select('devices.id')
          .whereRef('devices.user_id', '=', 'users.id')
          .where('devices.deleted_at', 'is', null)
          .orderBy('devices.id')
          .limit(1)
          .as('device_id'),
    ])
    .where('users.id', '=', id)
    .where('users.app_id', '=', appId),
);
export const findUserFactors = (db: Kysely<DB>, appId: number, id: number) => factorsById.first(db, appId, id);
export type UserFactors = NonNullable<Awaited<ReturnType<typeof findUserFactors>>>;

const firstDevice = prepared((db: Kysely<DB>, userId: number) =>
  db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('deleted_at', 'is', null).orderBy('id').limit(1),
);
export const findDevice = (db: Kysely<DB>, userId: number) => firstDevice.first(db, userId);
export const findDeviceById = (db: Kysely<DB>, id: number) => db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
export type DeviceRow = NonNullable<Awaited<ReturnType<typeof findDevice>>>;

export const setTotpSeed = (db: Kysely<DB>, userId: number, sealed: string) =>
  db.updateTable('users').set({ totp_seed_sealed: sealed }).where('id', '=', userId).where('totp_seed_sealed', 'is', null).executeTakeFirst();

export const readTotpSeed = async (db: Kysely<DB>, userId: number): Promise<string> =>
  (await db.selectFrom('users').select('totp_seed_sealed').where('id', '=', userId).executeTakeFirstOrThrow()).totp_seed_sealed!;

/** What a successful verify also resets: the count of wrong tokens. */
const CLEARED = { confirmed: 1, verify_failures: 0, verify_window_start: null, verify_locked_until: null } as const;

/**
 * Records an accepted app-TOTP step: verify's one write. The condition makes it atomic: of two
 * requests with the same token (two processes, two nodes) only one updates the row; the other
 * is a replay.
 */
const appStep = prepared((db: Kysely<DB>, userId: number, step: number, drift: number) =>
  db
    .updateTable('users')
    .set({ totp_last_step: step, totp_drift: drift, ...CLEARED })
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)])),
);
export const acceptAppStep = async (db: Kysely<DB>, userId: number, step: number, drift: number) => (await appStep.run(db, userId, step, drift)) === 1;

/**
 * Counts a wrong token in one atomic statement: a new window when the last one has passed, and
 * a lockout (with the count starting over) when this token reaches the cap.
 */
export async function recordFailure(
  db: Kysely<DB>,
  userId: number,
  now: number,
  cap: { max: number; windowMs: number; lockoutMs: number },
): Promise<{ locked: boolean }> {
  const windowOver = sql<boolean>`(verify_window_start IS NULL OR verify_window_start <= ${now - cap.windowMs})`;
  const count = sql<number>`(CASE WHEN ${windowOver} THEN 1 ELSE verify_failures + 1 END)`;
  const reached = sql<boolean>`(${count} >= ${cap.max})`;
  const row = await db
    .updateTable('users')
    .set({
      verify_failures: sql`CASE WHEN ${reached} THEN 0 ELSE ${count} END`,
      verify_window_start: sql`CASE WHEN ${reached} THEN NULL WHEN ${windowOver} THEN ${now} ELSE verify_window_start END`,
      verify_locked_until: sql`CASE WHEN ${reached} THEN ${now + cap.lockoutMs} ELSE verify_locked_until END`,
    })
    .where('id', '=', userId)
    .returning('verify_locked_until')
    .executeTakeFirst();
  return { locked: Number(row?.verify_locked_until) === now + cap.lockoutMs };
}

/** A correct SMS, voice, email or QR code also confirms the user and clears wrong tokens. */
const confirmUser = (db: Kysely<DB>, userId: number) => db.updateTable('users').set(CLEARED).where('id', '=', userId).execute();

export async function acceptQrStep(db: Kysely<DB>, userId: number, step: number, drift: number): Promise<boolean> {
  const res = await db
    .updateTable('authenticators')
    .set({ last_step: step, drift })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return false;
  await confirmUser(db, userId);
  return true;
}

export const findSentCodes = (db: Kysely<DB>, userId: number, codeHash: string) =>
  db
    .selectFrom('sent_codes')
    .select(['id', 'channel', 'action', 'expires_at', 'used_at'])
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .orderBy('id', 'desc')
    .execute();

export async function useSentCode(db: Kysely<DB>, id: number, userId: number, now: number): Promise<boolean> {
  const res = await db.updateTable('sent_codes').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return false;
  await confirmUser(db, userId);
  return true;
}

export const insertSentCode = (
  db: Kysely<DB>,
  c: { appId: number; userId: number; channel: 'sms' | 'voice' | 'email'; codeHash: string; action: string | null; now: number; expiresAt: number },
) =>
  db
    .insertInto('sent_codes')
    .values({ app_id: c.appId, user_id: c.userId, channel: c.channel, code_hash: c.codeHash, action: c.action, created_at: c.now, expires_at: c.expiresAt })
    .execute();

/** Old codes are of no use to anyone; dropped now and then. */
export const deleteExpiredCodes = (db: Kysely<DB>, before: number) => db.deleteFrom('sent_codes').where('expires_at', '<', before).execute();

export async function replaceAuthenticator(
  db: Kysely<DB>,
  a: { userId: number; appId: number; secretSealed: string; label: string; issuer: string; qrToken: string; qrSize: number; qrExpiresAt: number; now: number },
): Promise<void> {
  const row = {
    app_id: a.appId,
    secret_sealed: a.secretSealed,
    label: a.label,
    issuer: a.issuer,
    qr_token: a.qrToken,
    qr_size: a.qrSize,
    qr_expires_at: a.qrExpiresAt,
    last_step: null,
    drift: 0,
    created_at: a.now,
  };
  await db
    .insertInto('authenticators')
    .values({ user_id: a.userId, ...row })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(row))
    .execute();
}

export const findQr = (db: Kysely<DB>, qrToken: string) =>
  db
    .selectFrom('authenticators')
    .select(['user_id', 'secret_sealed', 'label', 'issuer', 'qr_size', 'qr_expires_at'])
    .where('qr_token', '=', qrToken)
    .executeTakeFirst();
