import { sql, type Insertable, type Kysely } from 'kysely';
import type { Dialect } from '../../store/db.ts';
import type { DB, UsersTable } from '../../store/schema.ts';
import { extraEmailContext, joinContact, splitContact, userContactContext, type Contacts } from '../../store/contacts.ts';
import { prepared } from '../../store/prepared.ts';
import { perTurn, perTurnById } from '../../store/turn-batch.ts';

// The user lookup behind status, verify and sms: compiled once (see store/prepared.ts).
const userColumns = ['id', 'app_id', 'country_code', 'phone_index', 'contact_sealed', 'confirmed', 'created_at'] as const;
const userById = prepared((db: Kysely<DB>, appId: number, id: number) => db.selectFrom('users').select(userColumns).where('id', '=', id).where('app_id', '=', appId));
// PostgreSQL: the turn's lookups in one read; the application is checked per caller.
const usersByIds = prepared((db: Kysely<DB>, ids: number[]) => db.selectFrom('users').select(userColumns).where('id', '=', sql<number>`ANY(${ids})`));
const userOf = perTurnById((db, appId, id) => userById.first(db, appId, id), (db, ids) => usersByIds.all(db, ids));
export const findUser = (db: Kysely<DB>, appId: number, id: number) => userOf(db, { appId, id });

/** A user row's number and address are sealed together: opened only where a caller needs them. */
type SealedContact = { app_id: number; phone_index: string; contact_sealed: string };
export const contactOf = (c: Contacts, u: SealedContact) => splitContact(c.open(u.contact_sealed, userContactContext(u.app_id, u.phone_index)));
export const phoneOf = (c: Contacts, u: SealedContact) => contactOf(c, u).e164;
export const emailOf = (c: Contacts, u: SealedContact) => contactOf(c, u).email;

/** The columns of a user row that hold its number and address. */
export function contactColumns(c: Contacts, appId: number, e164: string, email: string): UserContact {
  const phone_index = c.phoneIndex(e164);
  return { phone_index, contact_sealed: c.seal(joinContact(e164, email), userContactContext(appId, phone_index)), email_index: c.emailSearchIndex(email) };
}
/** What a user row holds of its number and address: their indexes, and both sealed as one value. */
export type UserContact = { phone_index: string; contact_sealed: string; email_index: string };

/** Another address for an existing user (`user_emails`), once per address. */
export const addEmail = (db: Kysely<DB>, c: Contacts, userId: number, email: string, now: number) => {
  const email_index = c.emailIndex(email);
  return db
    .insertInto('user_emails')
    .values({ user_id: userId, email_index, email_sealed: c.seal(email, extraEmailContext(userId, email_index)), created_at: now })
    .onConflict((oc) => oc.columns(['user_id', 'email_index']).doNothing())
    .execute();
};

/** The user's app-TOTP seed: sealed with the row's id as additional data, so written once the id is known. */
export const setUserSeed = (db: Kysely<DB>, id: number, sealed: string) =>
  db.updateTable('users').set({ totp_seed_sealed: sealed }).where('id', '=', id).execute();

export interface NewUser {
  appId: number;
  countryCode: number;
  e164: string;
  email: string;
  now: number;
}

/**
 * The user for this phone in this application: created, or found (an extra email is kept).
 * Safe under concurrent calls for the same phone: the unique index decides.
 */
export async function upsertUserByPhone(
  db: Kysely<DB>,
  c: Contacts,
  u: NewUser,
  sealSeed: (id: number) => string,
  /** Runs in the creating transaction (usage count, webhook events). */
  onCreated?: (trx: Kysely<DB>, id: number) => Promise<void>,
): Promise<{ id: number; created: boolean }> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('users')
      .values({ app_id: u.appId, country_code: u.countryCode, ...contactColumns(c, u.appId, u.e164, u.email), confirmed: 0, created_at: u.now })
      .onConflict((oc) => oc.columns(['app_id', 'phone_index']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) {
      // The seed is sealed with the row's id as additional data, so it is written second.
      await setUserSeed(trx, inserted.id, sealSeed(inserted.id));
      await onCreated?.(trx, inserted.id);
      return { id: inserted.id, created: true };
    }
    const existing = await trx
      .selectFrom('users')
      .select(['id', 'app_id', 'phone_index', 'contact_sealed'])
      .where('app_id', '=', u.appId)
      .where('phone_index', '=', c.phoneIndex(u.e164))
      .executeTakeFirstOrThrow();
    if (emailOf(c, existing) !== u.email) await addEmail(trx, c, existing.id, u.email, u.now);
    return { id: existing.id, created: false };
  });
}

/** The other addresses a user was registered with (the console shows them). */
export const emailsOf = async (db: Kysely<DB>, c: Contacts, userId: number) =>
  (await db.selectFrom('user_emails').select(['email_index', 'email_sealed']).where('user_id', '=', userId).orderBy('created_at').execute()).map((r) => ({
    email: c.open(r.email_sealed, extraEmailContext(userId, r.email_index)),
  }));

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
const userWithDevicesColumns = [
  'phone_owners.last_account_recovery_at',
  'users.id',
  'users.app_id',
  'users.country_code',
  'users.phone_index',
  'users.contact_sealed',
  'users.confirmed',
  'devices.id as device_id',
  'devices.os_type',
  'devices.registration_method',
  'devices.created_at as device_created_at',
  'devices.last_sync_at',
  'devices.deleted_at',
  'device_keys.name as device_name',
] as const;
const withDevices = (db: Kysely<DB>) =>
  db
    .selectFrom('users')
    .leftJoin('devices', 'devices.user_id', 'users.id')
    // The name the device gave itself (PUT /device/v1/device); older rows have no key.
    .leftJoin('device_keys', 'device_keys.id', 'devices.device_key_id')
    .leftJoin('phone_owners', 'phone_owners.phone_index', 'users.phone_index')
    .select(userWithDevicesColumns);
const userWithDevices = prepared((db: Kysely<DB>, appId: number, id: number) => withDevices(db).where('users.id', '=', id).where('users.app_id', '=', appId).orderBy('devices.id'));
// PostgreSQL: the turn's status reads in one; the application is checked per caller.
const usersWithDevices = prepared((db: Kysely<DB>, ids: number[]) => withDevices(db).where('users.id', '=', sql<number>`ANY(${ids})`).orderBy('devices.id'));
type UserKey = { appId: number; id: number };
/** The user and one row per device (or one row with no device), oldest device first. */
export const findUserWithDevices = perTurn(
  (db, k: UserKey) => userWithDevices.all(db, k.appId, k.id),
  async (db, keys) => {
    const byUser = new Map<number, Awaited<ReturnType<typeof userWithDevices.all>>>();
    for (const r of await usersWithDevices.all(db, keys.map((k) => k.id))) byUser.set(r.id, [...(byUser.get(r.id) ?? []), r]);
    return keys.map((k) => (byUser.get(k.id) ?? []).filter((r) => r.app_id === k.appId));
  },
);

export const insertActivity = (
  db: Kysely<DB>,
  a: { appId: number; userId: number; type: string; data: string; userIp: string | null; now: number },
) =>
  db
    .insertInto('activities')
    .values({ app_id: a.appId, user_id: a.userId, type: a.type, data: a.data, user_ip: a.userIp, created_at: a.now })
    .execute();

/** What the application recorded of a user (register_activity), newest first: the console shows it. */
export const activitiesOf = (db: Kysely<DB>, appId: number, userId: number, limit: number) =>
  db
    .selectFrom('activities')
    .select(['type', 'data', 'user_ip', 'created_at'])
    .where('app_id', '=', appId)
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();


/** The address changes; the number sealed with it stays (the update holds only if neither changed meanwhile). */
export const updateEmail = (db: Kysely<DB>, c: Contacts, user: { id: number } & SealedContact, email: string) =>
  db
    .updateTable('users')
    .set(contactColumns(c, user.app_id, phoneOf(c, user), email))
    .where('id', '=', user.id)
    .where('app_id', '=', user.app_id)
    .where('contact_sealed', '=', user.contact_sealed)
    .executeTakeFirst();

// ---- bulk import (users/import.ts) ----------------------------------------------------------

/**
 * New users are never given an id up to `upTo`: PostgreSQL's sequence, or SQLite's AUTOINCREMENT
 * counter, moves past it (neither is undone by a rollback; at worst some ids go unused).
 */
export async function reserveUserIds(db: Kysely<DB>, dialect: Dialect, upTo: number): Promise<void> {
  if (dialect === 'postgres') {
    await sql`SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST(${upTo}, (SELECT last_value FROM users_id_seq)))`.execute(db);
    return;
  }
  await sql`INSERT INTO sqlite_sequence (name, seq) SELECT 'users', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users')`.execute(db);
  await sql`UPDATE sqlite_sequence SET seq = MAX(seq, ${upTo}) WHERE name = 'users'`.execute(db);
}

/**
 * `n` ids no user has or will be given by the database: taken from PostgreSQL's sequence or
 * SQLite's AUTOINCREMENT counter, so an imported user's seed can be sealed with its id before
 * the row is written.
 */
export async function allocateUserIds(db: Kysely<DB>, dialect: Dialect, n: number): Promise<number[]> {
  if (n === 0) return [];
  if (dialect === 'postgres') {
    const r = await sql<{ id: number }>`SELECT nextval(pg_get_serial_sequence('users', 'id'))::int AS id FROM generate_series(1, ${n})`.execute(db);
    return r.rows.map((x) => x.id);
  }
  await sql`INSERT INTO sqlite_sequence (name, seq) SELECT 'users', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users')`.execute(db);
  const r = await sql<{ seq: number }>`UPDATE sqlite_sequence SET seq = seq + ${n} WHERE name = 'users' RETURNING seq`.execute(db);
  const last = Number(r.rows[0].seq);
  return Array.from({ length: n }, (_, i) => last - n + 1 + i);
}

/**
 * Imported users' rows, in one statement; answers the (id, phone) of those written. No conflict
 * target: a taken id or a taken phone leaves a row out, for the caller to tell apart.
 */
export const insertImportedUsers = (db: Kysely<DB>, rows: Insertable<UsersTable>[]) =>
  rows.length === 0 ? Promise.resolve([]) : db.insertInto('users').values(rows).onConflict((oc) => oc.doNothing()).returning(['id', 'phone_index']).execute();

/** One imported user's row, its id kept or new; undefined when it was left out (as above). */
export const insertImportedUser = async (db: Kysely<DB>, values: Insertable<UsersTable>) =>
  (await db.insertInto('users').values(values).onConflict((oc) => oc.doNothing()).returning('id').executeTakeFirst())?.id;

export const findUserIdByPhone = async (db: Kysely<DB>, appId: number, phoneIndex: string) =>
  (await db.selectFrom('users').select('id').where('app_id', '=', appId).where('phone_index', '=', phoneIndex).executeTakeFirst())?.id;
