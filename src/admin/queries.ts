// Reads for the admin API: pages of users and daily traffic. Operator views, not hot paths.
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { ApprovalStatus, DB, HookDeliveriesTable, OutboxStatus, OutboxTable } from '../store/schema.ts';

const DAY = 86_400_000;

/** Messages per UTC day, channel and status since `since`. */
export const messagesByDay = (db: Kysely<DB>, appId: number, since: number) =>
  db
    .selectFrom('outbox')
    .select((eb) => [sql<number>`created_at / ${sql.lit(DAY)}`.as('day'), 'channel', 'status', eb.fn.countAll<number>().as('n')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', since)
    .groupBy([sql`created_at / ${sql.lit(DAY)}`, 'channel', 'status'])
    .execute();

/** Approval requests per UTC day and status since `since`. */
export const approvalsByDay = (db: Kysely<DB>, appId: number, since: number) =>
  db
    .selectFrom('approval_requests')
    .select((eb) => [sql<number>`created_at / ${sql.lit(DAY)}`.as('day'), 'status', eb.fn.countAll<number>().as('n')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', since)
    .groupBy([sql`created_at / ${sql.lit(DAY)}`, 'status'])
    .execute();

// ---- master-key rotation (reseal.ts): any sealed column, named by its table and key columns ----

/** A sealed column: the columns that name its rows (the first, unique, orders a walk) and that its context needs. */
export interface SealedColumnRef {
  table: keyof DB;
  column: string;
  key: string[];
  also?: string[];
  /** Only these rows hold a sealed value (a table of mixed values). */
  only?: Record<string, string>;
}
type Row = Record<string, any>;

/**
 * Values of the column not sealed with the key whose blobs begin with `current`, in the order of
 * the first key column and after `after` there; `limit` of them, or all.
 */
export function sealedNotWith(db: Kysely<DB>, c: SealedColumnRef, current: string, after: unknown, limit?: number): Promise<Row[]> {
  const [order] = c.key;
  let q = (db as Kysely<any>)
    .selectFrom(c.table)
    .select([...c.key, ...(c.also ?? []), c.column])
    .where(c.column, 'is not', null)
    .where(c.column, 'not like', `${current}%`)
    .orderBy(order);
  for (const [k, v] of Object.entries(c.only ?? {})) q = q.where(k, '=', v);
  if (after !== undefined) q = q.where(order, '>', after);
  return limit === undefined ? q.execute() : q.limit(limit).execute();
}

/** Writes the row's value sealed again, only if it still holds the value read: false when it changed meanwhile. */
export async function replaceSealed(db: Kysely<DB>, c: SealedColumnRef, row: Row, value: string): Promise<boolean> {
  let u = (db as Kysely<any>).updateTable(c.table).set({ [c.column]: value }).where(c.column, '=', row[c.column]);
  for (const k of c.key) u = u.where(k, '=', row[k]);
  const done = await u.executeTakeFirst();
  return Number(done.numUpdatedRows) > 0;
}

/** How many of the column's values each key id seals, in each format (`v1.<8 hex>.…` or `v2.<8 hex>.…`). */
export async function countSealedByKey(db: Kysely<DB>, c: SealedColumnRef): Promise<{ format: string; kid: string; n: number }[]> {
  let q = (db as Kysely<any>)
    .selectFrom(c.table)
    .select([sql<string>`substr(${sql.ref(c.column)}, 1, 2)`.as('format'), sql<string>`substr(${sql.ref(c.column)}, 4, 8)`.as('kid'), (eb) => eb.fn.countAll<number>().as('n')])
    .where(c.column, 'is not', null)
    .groupBy(['format', 'kid']);
  for (const [k, v] of Object.entries(c.only ?? {})) q = q.where(k, '=', v);
  return (await q.execute()) as { format: string; kid: string; n: number }[];
}

// ---- the console's tables (issue 20): pages newest first below a cursor, filters, totals ----
//
// Each list reads `limit + 1` rows (the extra one only says whether a next page exists) below the
// cursor's id on an (app_id, id) index, and counts the rows its filters match. The count reads
// every matching row of the application: cheap for an operator's view at thousands of rows, a
// scan of the application's index range at millions (the page itself stays one short range read).

/** Rows of one page and whether more follow. */
export interface PageOf<T> {
  rows: T[];
  more: boolean;
  total: number;
}

const pageOf = <T>(rows: T[], limit: number, total: unknown): PageOf<T> => ({ rows: rows.slice(0, limit), more: rows.length > limit, total: Number(total) });

/** A user as the users table shows it (the contact opened by the caller). */
export interface UserRow {
  id: number;
  app_id: number;
  phone_index: string;
  contact_sealed: string;
  country_code: number;
  created_at: number;
  verify_locked_until: number | null;
  devices: number | null;
}

export interface UserFilter {
  /** Ids that match what was searched (an Authy id, or found by email or phone); [] finds none. */
  ids?: number[];
  /** Locked out of verification at `now`. */
  locked?: { now: number; value: boolean };
}

/** Users, newest first, below `below`, with their live devices. */
export async function usersTable(db: Kysely<DB>, appId: number, f: UserFilter, limit: number, below?: number): Promise<PageOf<UserRow>> {
  const matching = (eb: ExpressionBuilder<DB, 'users'>) => {
    const and = [eb('users.app_id', '=', appId)];
    if (f.ids) and.push(f.ids.length ? eb('users.id', 'in', f.ids) : eb.lit(false));
    if (f.locked) {
      const locked = eb('users.verify_locked_until', '>', f.locked.now);
      and.push(f.locked.value ? locked : eb.or([eb('users.verify_locked_until', 'is', null), eb('users.verify_locked_until', '<=', f.locked.now)]));
    }
    return eb.and(and);
  };
  let q = db
    .selectFrom('users')
    .select((eb) => [
      'users.id',
      'users.app_id',
      'users.phone_index',
      'users.contact_sealed',
      'users.country_code',
      'users.created_at',
      'users.verify_locked_until',
      eb.selectFrom('devices').select((d) => d.fn.countAll<number>().as('n')).whereRef('devices.user_id', '=', 'users.id').where('devices.deleted_at', 'is', null).as('devices'),
    ])
    .where(matching);
  if (below !== undefined) q = q.where('users.id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('users.id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}

/** Ids of the application's users with this phone (index), or this address (lower case, or an extra address as given). */
export async function userIdsFound(db: Kysely<DB>, appId: number, by: { phoneIndex?: string; emailIndexes?: string[] }): Promise<number[]> {
  const ids = new Set<number>();
  if (by.phoneIndex) {
    for (const r of await db.selectFrom('users').select('id').where('app_id', '=', appId).where('phone_index', '=', by.phoneIndex).execute()) ids.add(r.id);
  }
  if (by.emailIndexes?.length) {
    for (const r of await db.selectFrom('users').select('id').where('app_id', '=', appId).where('email_index', 'in', by.emailIndexes).execute()) ids.add(r.id);
    const extra = await db
      .selectFrom('user_emails')
      .innerJoin('users', 'users.id', 'user_emails.user_id')
      .select('users.id')
      .where('user_emails.email_index', 'in', by.emailIndexes)
      .where('users.app_id', '=', appId)
      .execute();
    for (const r of extra) ids.add(r.id);
  }
  return [...ids];
}

export interface MessageFilter {
  channel?: OutboxTable['channel'];
  status?: OutboxStatus;
  /** The messages to one user (Authy id), or the one message with this id. */
  userId?: number;
  sid?: string;
}

/** The delivery log: messages newest first (sealed destinations; the caller opens and masks them). */
export async function messagesTable(db: Kysely<DB>, appId: number, f: MessageFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'outbox'>) => {
    const and = [eb('outbox.app_id', '=', appId)];
    if (f.channel) and.push(eb('outbox.channel', '=', f.channel));
    if (f.status) and.push(eb('outbox.status', '=', f.status));
    if (f.userId !== undefined) and.push(eb('outbox.user_id', '=', f.userId));
    if (f.sid !== undefined) and.push(eb('outbox.sid', '=', f.sid));
    return eb.and(and);
  };
  let q = db
    .selectFrom('outbox')
    .select(['outbox.id', 'outbox.sid', 'outbox.user_id', 'outbox.channel', 'outbox.destination', 'outbox.locale', 'outbox.status', 'outbox.provider', 'outbox.provider_result', 'outbox.created_at'])
    .select((eb) => eb.selectFrom('delivery_attempts').select((e) => e.fn.countAll<number>().as('n')).whereRef('delivery_attempts.outbox_id', '=', 'outbox.id').as('provider_attempts'))
    .where(matching);
  if (below !== undefined) q = q.where('outbox.id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('outbox.id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}

export type VerificationStatus = 'pending' | 'verified' | 'dead' | 'expired';

export interface VerificationFilter {
  /** `expired` is computed: pending past its expiry at `now` (as the list shows it). */
  status?: VerificationStatus;
  via?: 'sms' | 'call';
  phoneIndex?: string;
  now: number;
}

/** A status as shown (pending past expiry reads `expired`) as a condition on rows. */
function shownStatus<T extends 'phone_verifications' | 'approval_requests'>(eb: ExpressionBuilder<DB, T>, table: T, status: string, now: number) {
  const e = eb as unknown as ExpressionBuilder<DB, 'phone_verifications' | 'approval_requests'>;
  const col = (c: 'status' | 'expires_at') => sql.ref(`${table}.${c}`);
  // Approval requests with no expiry (seconds_to_expire 0) never expire.
  const overdue = e.and([e(col('status'), '=', 'pending'), e(col('expires_at'), 'is not', null), e(col('expires_at'), '<=', now)]);
  if (status === 'expired') return e.or([e(col('status'), '=', 'expired'), overdue]);
  if (status === 'pending') return e.and([e(col('status'), '=', 'pending'), e.or([e(col('expires_at'), 'is', null), e(col('expires_at'), '>', now)])]);
  return e(col('status'), '=', status);
}

/** Phone verifications, newest first (never their codes). */
export async function verificationsTable(db: Kysely<DB>, appId: number, f: VerificationFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'phone_verifications'>) => {
    const and = [eb('phone_verifications.app_id', '=', appId)];
    if (f.status) and.push(shownStatus(eb, 'phone_verifications', f.status, f.now));
    if (f.via) and.push(eb('phone_verifications.via', '=', f.via));
    if (f.phoneIndex) and.push(eb('phone_verifications.phone_index', '=', f.phoneIndex));
    return eb.and(and);
  };
  let q = db.selectFrom('phone_verifications').select(['id', 'uuid', 'phone_sealed', 'via', 'status', 'checks', 'created_at', 'expires_at', 'verified_at']).where(matching);
  if (below !== undefined) q = q.where('id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('phone_verifications').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}

export interface DeliveryFilter {
  kind?: HookDeliveriesTable['kind'];
  status?: HookDeliveriesTable['status'];
  event?: string;
}

/** Callback and webhook deliveries, newest first, with their attempts. */
export async function deliveriesTable(db: Kysely<DB>, appId: number, f: DeliveryFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'hook_deliveries'>) => {
    const and = [eb('app_id', '=', appId)];
    if (f.kind) and.push(eb('kind', '=', f.kind));
    if (f.status) and.push(eb('status', '=', f.status));
    if (f.event) and.push(eb('event', '=', f.event));
    return eb.and(and);
  };
  let q = db.selectFrom('hook_deliveries').select(['id', 'kind', 'event', 'url', 'method', 'status', 'created_at']).where(matching);
  if (below !== undefined) q = q.where('id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('hook_deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  const page = pageOf(rows, limit, count.n);
  const ids = page.rows.map((r) => r.id);
  const attempts = ids.length ? await db.selectFrom('hook_attempts').select(['delivery_id', 'started_at', 'finished_at', 'http_status', 'error']).where('delivery_id', 'in', ids).orderBy('id').execute() : [];
  return { ...page, rows: page.rows.map((r) => ({ ...r, tries: attempts.filter((a) => a.delivery_id === r.id) })) };
}

export interface ApprovalFilter {
  status?: ApprovalStatus;
  userId?: number;
  now: number;
}

/**
 * OneTouch requests, newest first: never their hidden details (nor details or logos: the log
 * shows the message). The device that answered, by its link to the user (`devices.id`, the id
 * user status shows) and its handset's name.
 */
export async function approvalsTable(db: Kysely<DB>, appId: number, f: ApprovalFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'approval_requests'>) => {
    const and = [eb('approval_requests.app_id', '=', appId)];
    if (f.status) and.push(shownStatus(eb, 'approval_requests', f.status, f.now));
    if (f.userId !== undefined) and.push(eb('approval_requests.user_id', '=', f.userId));
    return eb.and(and);
  };
  let q = db
    .selectFrom('approval_requests')
    .leftJoin('device_keys', 'device_keys.id', 'approval_requests.device_key_id')
    .select([
      'approval_requests.id',
      'approval_requests.uuid',
      'approval_requests.user_id',
      'approval_requests.message',
      'approval_requests.status',
      'approval_requests.created_at',
      'approval_requests.expires_at',
      'approval_requests.processed_at',
      'approval_requests.device_key_id',
      'device_keys.name as device_name',
      'device_keys.os_type as device_os_type',
    ])
    .select((eb) =>
      eb
        .selectFrom('devices')
        .select((d) => d.fn.max('devices.id').as('id'))
        .whereRef('devices.device_key_id', '=', 'approval_requests.device_key_id')
        .whereRef('devices.user_id', '=', 'approval_requests.user_id')
        .as('device_id'),
    )
    .where(matching);
  if (below !== undefined) q = q.where('approval_requests.id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('approval_requests.id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('approval_requests').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}

export interface DeviceFilter {
  userId?: number;
  includeDeleted: boolean;
}

/** Devices of the application's users (their links to handsets), newest first; never keys. */
export async function devicesTable(db: Kysely<DB>, appId: number, f: DeviceFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'devices'>) => {
    const and = [eb('devices.app_id', '=', appId)];
    if (!f.includeDeleted) and.push(eb('devices.deleted_at', 'is', null));
    if (f.userId !== undefined) and.push(eb('devices.user_id', '=', f.userId));
    return eb.and(and);
  };
  let q = db
    .selectFrom('devices')
    .leftJoin('device_keys', 'device_keys.id', 'devices.device_key_id')
    .select([
      'devices.id',
      'devices.user_id',
      'devices.os_type',
      'devices.registration_method',
      'devices.created_at',
      'devices.last_sync_at',
      'devices.deleted_at',
      'device_keys.name',
      'device_keys.last_seen_at',
      'device_keys.pending_since',
    ])
    .where(matching);
  if (below !== undefined) q = q.where('devices.id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('devices.id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}

/** Phone verifications per UTC day and status as shown (pending past expiry at `now`: expired) since `since`. */
/** Token verifications (GET verify) per UTC day and result since day `firstDay`. */
export const tokenChecksByDay = (db: Kysely<DB>, appId: number, firstDay: number) =>
  db.selectFrom('token_checks_daily').select(['day', 'result', 'n']).where('app_id', '=', appId).where('day', '>=', firstDay).execute();

export const verificationsByDay = (db: Kysely<DB>, appId: number, since: number, now: number) => {
  // `now` inlined (a number we made): a bound parameter would make GROUP BY's expression another one on PostgreSQL.
  const shown = sql<string>`CASE WHEN status = 'pending' AND expires_at <= ${sql.lit(Math.floor(now))} THEN 'expired' ELSE status END`;
  return db
    .selectFrom('phone_verifications')
    .select((eb) => [sql<number>`created_at / ${sql.lit(DAY)}`.as('day'), shown.as('status'), eb.fn.countAll<number>().as('n')])
    .where('app_id', '=', appId)
    .where('created_at', '>=', since)
    .groupBy([sql`created_at / ${sql.lit(DAY)}`, shown])
    .execute();
};

// ---- Twilio Verify (the console's pages; the /v2 API has its own queries in features/verify) ----

/** The services of a Verify account, oldest first, with their applications; undefined if no such account. */
export async function verifyServicesOf(db: Kysely<DB>, accountSid: string) {
  const account = await db.selectFrom('verify_accounts').select('id').where('sid', '=', accountSid).executeTakeFirst();
  if (!account) return undefined;
  return db.selectFrom('verify_services').select(['sid', 'app_id', 'settings', 'created_at']).where('account_id', '=', account.id).orderBy('id').execute();
}

/** The Verify service an application backs, if it backs one. */
export const verifyServiceOfApp = (db: Kysely<DB>, appId: number) =>
  db
    .selectFrom('verify_services')
    .innerJoin('verify_accounts', 'verify_accounts.id', 'verify_services.account_id')
    .select(['verify_services.sid', 'verify_accounts.sid as account_sid'])
    .where('verify_services.app_id', '=', appId)
    .executeTakeFirst();

export interface VerifyVerificationFilter {
  /** As shown: a pending one past its expiry reads `expired`. */
  status?: 'pending' | 'approved' | 'canceled' | 'max_attempts_reached' | 'expired';
  channel?: 'sms' | 'call' | 'email';
  now: number;
}

/** Verifications of the application's Verify service, newest first (never their codes). */
export async function verifyVerificationsTable(db: Kysely<DB>, appId: number, f: VerifyVerificationFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'verify_verifications'>) => {
    const and = [eb('app_id', '=', appId)];
    if (f.channel) and.push(eb('channel', '=', f.channel));
    if (f.status === 'expired') and.push(eb.or([eb('status', '=', 'expired'), eb.and([eb('status', '=', 'pending'), eb('expires_at', '<=', f.now)])]));
    else if (f.status === 'pending') and.push(eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', f.now)]));
    else if (f.status) and.push(eb('status', '=', f.status));
    return eb.and(and);
  };
  let q = db
    .selectFrom('verify_verifications')
    .select(['id', 'sid', 'channel', 'to_sealed', 'status', 'sends', 'checks', 'created_at', 'updated_at', 'expires_at'])
    .where(matching);
  if (below !== undefined) q = q.where('id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('id', 'desc').limit(limit + 1).execute(),
    db.selectFrom('verify_verifications').select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}

export interface VerifyFactorFilter {
  type?: 'totp' | 'push';
  status?: 'unverified' | 'verified';
  /** An entity's identity, exactly. */
  identity?: string;
}

/** Factors of the application's Verify service with their entities' identities, newest first (never bindings). */
export async function verifyFactorsTable(db: Kysely<DB>, appId: number, f: VerifyFactorFilter, limit: number, below?: number) {
  const matching = (eb: ExpressionBuilder<DB, 'verify_factors' | 'verify_entities'>) => {
    const and = [eb('verify_factors.app_id', '=', appId)];
    if (f.type) and.push(eb('verify_factors.factor_type', '=', f.type));
    if (f.status) and.push(eb('verify_factors.status', '=', f.status));
    if (f.identity !== undefined) and.push(eb('verify_entities.identity', '=', f.identity));
    return eb.and(and);
  };
  const from = () => db.selectFrom('verify_factors').innerJoin('verify_entities', 'verify_entities.id', 'verify_factors.entity_id');
  let q = from()
    .select([
      'verify_factors.id',
      'verify_factors.sid',
      'verify_entities.identity',
      'verify_factors.factor_type',
      'verify_factors.friendly_name',
      'verify_factors.status',
      'verify_factors.locked_until',
      'verify_factors.created_at',
    ])
    .select((eb) =>
      eb.selectFrom('verify_challenges').select((c) => c.fn.countAll<number>().as('n')).whereRef('verify_challenges.factor_id', '=', 'verify_factors.id').where('verify_challenges.status', '=', 'pending').as('pending_challenges'),
    )
    .where(matching);
  if (below !== undefined) q = q.where('verify_factors.id', '<', below);
  const [rows, count] = await Promise.all([
    q.orderBy('verify_factors.id', 'desc').limit(limit + 1).execute(),
    from().select((eb) => eb.fn.countAll<number>().as('n')).where(matching).executeTakeFirstOrThrow(),
  ]);
  return pageOf(rows, limit, count.n);
}
