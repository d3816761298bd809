import { PostgresAdapter, sql, type Kysely } from 'kysely';
import type { DB, TokenCheckResult } from '../../store/schema.ts';
import { prepared, type PreparedQuery } from '../../store/prepared.ts';

export type ApplicationRow = Awaited<ReturnType<typeof findApplicationByKeyHash>> & {};

const APP_COLUMNS = [
  'id',
  'name',
  'plan',
  'sms_enabled',
  'calls_enabled',
  'onetouch_enabled',
  'created_at',
  'token_length',
  'code_ttl_seconds',
  'generic_tokens_enabled',
  'verify_max_failures',
  'verify_failure_window_seconds',
  'verify_lockout_seconds',
  'sends_per_hour',
  'sms_fallback_to_voice',
  'onetouch_callback_url',
  'onetouch_callback_method',
  'sync_tokens',
  'number_matching',
  'custom_message_allowed',
  'custom_code_allowed',
  'phone_export_enabled',
  'allowed_countries',
  'daily_send_budget',
  'sends_per_number_hour',
  'sends_per_number_day',
  'prefix_sends_per_window',
  'country_sends_per_window',
  'unregistered_verify_legacy',
  'recovery_codes_on_devices',
] as const;

export type SettingsColumn = (typeof APP_COLUMNS)[number] & ('sms_enabled' | 'calls_enabled' | 'onetouch_enabled' | 'token_length' | 'code_ttl_seconds' | 'generic_tokens_enabled' | 'verify_max_failures' | 'verify_failure_window_seconds' | 'verify_lockout_seconds' | 'sends_per_hour' | 'sms_fallback_to_voice' | 'sync_tokens' | 'number_matching' | 'custom_message_allowed' | 'custom_code_allowed' | 'phone_export_enabled' | 'daily_send_budget' | 'sends_per_number_hour' | 'sends_per_number_day' | 'prefix_sends_per_window' | 'country_sends_per_window' | 'unregistered_verify_legacy' | 'recovery_codes_on_devices');

export const setAllowedCountries = (db: Kysely<DB>, id: number, list: string | null) =>
  db.updateTable('applications').set({ allowed_countries: list }).where('id', '=', id).executeTakeFirst();

export const updateSettings = (db: Kysely<DB>, id: number, values: Partial<Record<SettingsColumn, number>>) =>
  db.updateTable('applications').set(values).where('id', '=', id).executeTakeFirst();

// Every authenticated request runs this: compiled once (see store/prepared.ts).
const byKeyHash = prepared((db: Kysely<DB>, hash: string) =>
  db.selectFrom('applications').select(APP_COLUMNS).where('api_key_hash', '=', hash),
);
export const findApplicationByKeyHash = (db: Kysely<DB>, hash: string) => byKeyHash.first(db, hash);

export const findApplication = (db: Kysely<DB>, id: number) =>
  db.selectFrom('applications').select(APP_COLUMNS).where('id', '=', id).executeTakeFirst();

export const listApplications = (db: Kysely<DB>) =>
  db.selectFrom('applications').select(APP_COLUMNS).orderBy('id').execute();

export async function insertApplication(db: Kysely<DB>, name: string, keyHash: string, now: number): Promise<number> {
  const row = await db
    .insertInto('applications')
    .values({ name, api_key_hash: keyHash, api_key_sealed: '', created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The advisory lock key of application names (any constant; 'OFAN' in ASCII). */
const APP_NAMES_LOCK = 0x4f46414e;

/** PostgreSQL: serialises name checks and writes across nodes until the transaction ends (SQLite has one writer). */
export async function lockApplicationNames(trx: Kysely<DB>): Promise<void> {
  if (trx.getExecutor().adapter instanceof PostgresAdapter) await sql`SELECT pg_advisory_xact_lock(${APP_NAMES_LOCK})`.execute(trx);
}

export const applicationNames = (db: Kysely<DB>) => db.selectFrom('applications').select(['id', 'name']).execute();

export const setName = (db: Kysely<DB>, id: number, name: string) => db.updateTable('applications').set({ name }).where('id', '=', id).executeTakeFirst();

/**
 * Deletes an application's rows from every table that holds them (run in a transaction): children
 * before parents, so nothing relies on ON DELETE CASCADE (a table added later without it would
 * otherwise stop the delete, not leak). Returns the rows deleted per table; undefined if there
 * was no such application. Kept: what belongs to a person or a handset rather than to one
 * application (device_keys, phone_owners, phone_changes, account_recoveries,
 * phone_registrations, device_nonces) and the shared rate-limit counters, which expire.
 */
export async function deleteApplication(db: Kysely<DB>, appId: number): Promise<Record<string, number> | undefined> {
  if (!(await db.selectFrom('applications').select('id').where('id', '=', appId).executeTakeFirst())) return undefined;
  const counts: Record<string, number> = {};
  const note = (table: string, r: { numDeletedRows: bigint }) => (counts[table] = (counts[table] ?? 0) + Number(r.numDeletedRows));
  const usersOfApp = db.selectFrom('users').select('id').where('app_id', '=', appId);
  // PostgreSQL: its messages first, by id, as a sender marking messages sent takes them
  // (delivery/queries.ts); the two then never wait on each other in a circle.
  if (db.getExecutor().adapter instanceof PostgresAdapter) await db.selectFrom('outbox').select('id').where('app_id', '=', appId).orderBy('id').forUpdate().execute();
  note('hook_attempts', await db.deleteFrom('hook_attempts').where('delivery_id', 'in', db.selectFrom('hook_deliveries').select('id').where('app_id', '=', appId)).executeTakeFirst());
  note('delivery_attempts', await db.deleteFrom('delivery_attempts').where('outbox_id', 'in', db.selectFrom('outbox').select('id').where('app_id', '=', appId)).executeTakeFirst());
  note('user_emails', await db.deleteFrom('user_emails').where('user_id', 'in', usersOfApp).executeTakeFirst());
  note('recovery_codes', await db.deleteFrom('recovery_codes').where('user_id', 'in', usersOfApp).executeTakeFirst());
  for (const table of APP_TABLES) note(table, await db.deleteFrom(table).where('app_id', '=', appId).executeTakeFirst());
  note('applications', await db.deleteFrom('applications').where('id', '=', appId).executeTakeFirst());
  return counts;
}

/** Tables with an `app_id`, in the order they are emptied (users after what refers to them). */
export const APP_TABLES = [
  'hook_deliveries',
  'outbox',
  'activities',
  'sent_codes',
  'authenticators',
  'registration_tokens',
  'approval_requests',
  'devices',
  'users',
  'webhooks',
  'app_providers',
  'phone_verifications',
  'prefix_traffic',
  'quarantines',
  'usage_monthly',
  'token_checks_daily',
  'dashboard_nonces',
  'verify_challenges',
  'verify_access_tokens',
  'verify_factors',
  'verify_entities',
  'verify_webhooks',
  'verify_rate_limit_hits',
  'verify_rate_limit_keys',
  'verify_rate_limit_buckets',
  'verify_rate_limits',
  'verify_attempts',
  'verify_verifications',
  'verify_services',
] as const satisfies readonly (keyof DB)[];

export const setApiKey = (db: Kysely<DB>, id: number, keyHash: string, sealed: string) =>
  db.updateTable('applications').set({ api_key_hash: keyHash, api_key_sealed: sealed }).where('id', '=', id).executeTakeFirst();

export type UsageColumn = 'api_calls' | 'sms' | 'calls' | 'auths' | 'users';

/** Adds to this month's usage row for an application, creating it when needed. */
export const addUsage = (db: Kysely<DB>, appId: number, month: string, column: UsageColumn, n: number) =>
  db
    .insertInto('usage_monthly')
    .values({ app_id: appId, month, api_calls: 0, sms: 0, calls: 0, auths: 0, users: 0, [column]: n })
    .onConflict((oc) => oc.columns(['app_id', 'month']).doUpdateSet({ [column]: sql`usage_monthly.${sql.ref(column)} + ${n}` }))
    .execute();

const usageAdds = Object.fromEntries(
  (['api_calls', 'sms', 'calls', 'auths', 'users'] as const).map((column) => [
    column,
    prepared((db: Kysely<DB>, appId: number, month: string, n: number) =>
      db
        .insertInto('usage_monthly')
        .values({ app_id: appId, month, api_calls: 0, sms: 0, calls: 0, auths: 0, users: 0, [column]: n })
        .onConflict((oc) => oc.columns(['app_id', 'month']).doUpdateSet({ [column]: sql`usage_monthly.${sql.ref(column)} + ${n}` })),
    ),
  ]),
) as Record<UsageColumn, PreparedQuery<[number, string, number], unknown>>;
/** addUsage as a step of writeTogether (counted with what it counts). */
export const usageStep = (appId: number, month: string, column: UsageColumn, n: number) => usageAdds[column].step(appId, month, n);

export const addTokenChecks = (db: Kysely<DB>, appId: number, day: number, result: TokenCheckResult, n: number) =>
  db
    .insertInto('token_checks_daily')
    .values({ app_id: appId, day, result, n })
    .onConflict((oc) => oc.columns(['app_id', 'day', 'result']).doUpdateSet({ n: sql`token_checks_daily.n + ${n}` }))
    .execute();

export const usageSince = (db: Kysely<DB>, appId: number, fromMonth: string) =>
  db.selectFrom('usage_monthly').selectAll().where('app_id', '=', appId).where('month', '>=', fromMonth).execute();

export async function countUsers(db: Kysely<DB>, appId: number): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('app_id', '=', appId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Claims a one-time bootstrap step (e.g. creating the Default application); true for the first caller only. */
export async function claimOnce(db: Kysely<DB>, key: string): Promise<boolean> {
  const res = await db
    .insertInto('meta')
    .values({ key, value: String(Date.now()) })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export const setCallback = (db: Kysely<DB>, id: number, url: string | null, method: 'GET' | 'POST') =>
  db.updateTable('applications').set({ onetouch_callback_url: url, onetouch_callback_method: method }).where('id', '=', id).executeTakeFirst();

export const sealedApiKey = (db: Kysely<DB>, id: number) =>
  db.selectFrom('applications').select('api_key_sealed').where('id', '=', id).executeTakeFirst();

export const dashboardKeys = (db: Kysely<DB>, id: number) =>
  db.selectFrom('applications').select(['dashboard_access_key_hash', 'dashboard_signing_key_sealed']).where('id', '=', id).executeTakeFirst();

export const setDashboardKeys = (db: Kysely<DB>, id: number, accessKeyHash: string, signingKeySealed: string) =>
  db
    .updateTable('applications')
    .set({ dashboard_access_key_hash: accessKeyHash, dashboard_signing_key_sealed: signingKeySealed })
    .where('id', '=', id)
    .executeTakeFirst();
