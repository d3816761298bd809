// Migrations in code, one list for both dialects. Append only; never edit a shipped migration.
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './db.ts';
import { seal, unseal, type MasterKey } from '../core/crypto.ts';

/** The PostgreSQL channel told of every write to `applications` (migration 0006). */
export const APPLICATIONS_CHANNEL = 'openfactor_applications';

const APPLICATION_WRITES = ['INSERT', 'UPDATE', 'DELETE'] as const;

/** `keys`: the master keys, for the rare step that must open and seal stored values (0021). */
type Step = (db: Kysely<any>, dialect: Dialect, keys: MasterKey[]) => Promise<void>;

/** A table whose primary key is an auto-increment integer `id`, in each dialect's own way. */
const tableWithId = (db: Kysely<any>, dialect: Dialect, name: string) =>
  db.schema
    .createTable(name)
    .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) =>
      dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey(),
    );

const steps: Record<string, Step> = {
  '0001_wire_core': async (db, dialect) => {
    await tableWithId(db, dialect, 'applications')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('api_key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('api_key_sealed', 'text', (c) => c.notNull())
      .addColumn('plan', 'text', (c) => c.notNull().defaultTo('self_hosted'))
      .addColumn('sms_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('calls_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('onetouch_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await tableWithId(db, dialect, 'users')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('country_code', 'integer', (c) => c.notNull())
      .addColumn('phone_e164', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('confirmed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('users_app_phone').on('users').columns(['app_id', 'phone_e164']).unique().execute();

    await db.schema
      .createTable('user_emails')
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('user_emails_pk', ['user_id', 'email'])
      .execute();

    await tableWithId(db, dialect, 'activities')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('user_ip', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('activities_user').on('activities').columns(['user_id', 'created_at']).execute();

    await db.schema
      .createTable('usage_monthly')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('month', 'text', (c) => c.notNull())
      .addColumn('api_calls', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('sms', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('calls', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('auths', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('users', 'bigint', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('usage_monthly_pk', ['app_id', 'month'])
      .execute();

    await db.schema
      .createTable('meta')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },

  // Issue 3: one-time passwords. Settings live on the application row; secrets are sealed.
  '0002_tokens': async (db, dialect) => {
    const settings: [string, number][] = [
      ['token_length', 7],
      ['code_ttl_seconds', 600],
      ['generic_tokens_enabled', 1],
      ['verify_max_failures', 10],
      ['verify_failure_window_seconds', 900],
      ['verify_lockout_seconds', 900],
      ['sends_per_hour', 10],
    ];
    for (const [column, value] of settings) {
      await db.schema.alterTable('applications').addColumn(column, 'integer', (c) => c.notNull().defaultTo(value)).execute();
    }
    // Nullable: users created before this migration get a seed on first use.
    await db.schema.alterTable('users').addColumn('totp_seed_sealed', 'text').execute();
    await db.schema.alterTable('users').addColumn('totp_last_step', 'bigint').execute();
    await db.schema.alterTable('users').addColumn('totp_drift', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    // The attempt cap lives in the row verify reads anyway: no extra read on the hot path.
    await db.schema.alterTable('users').addColumn('verify_failures', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('users').addColumn('verify_window_start', 'bigint').execute();
    await db.schema.alterTable('users').addColumn('verify_locked_until', 'bigint').execute();

    // Authenticator devices (the 'ignored' upgrade, verify's `device`); registered by issue 5.
    await tableWithId(db, dialect, 'devices')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('os_type', 'text', (c) => c.notNull())
      .addColumn('registration_method', 'text', (c) => c.notNull())
      .addColumn('ip', 'text')
      .addColumn('city', 'text')
      .addColumn('region', 'text')
      .addColumn('country', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_sync_at', 'bigint')
      .addColumn('deleted_at', 'bigint')
      .execute();
    await db.schema.createIndex('devices_user').on('devices').columns(['user_id']).execute();

    // The generic-authenticator (QR) secret: one per user, replaced on every request.
    await db.schema
      .createTable('authenticators')
      .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('secret_sealed', 'text', (c) => c.notNull())
      .addColumn('label', 'text', (c) => c.notNull())
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('qr_token', 'text', (c) => c.notNull().unique())
      .addColumn('qr_size', 'integer', (c) => c.notNull())
      .addColumn('qr_expires_at', 'bigint', (c) => c.notNull())
      .addColumn('last_step', 'bigint')
      .addColumn('drift', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    // Codes sent by SMS, voice or email: only a keyed hash is kept.
    await tableWithId(db, dialect, 'sent_codes')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('code_hash', 'text', (c) => c.notNull())
      .addColumn('action', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('sent_codes_user_hash').on('sent_codes').columns(['user_id', 'code_hash']).execute();

    // The delivery outbox: a message is a row until a provider has it (issue 4 adds providers).
    // `id` orders messages as they were accepted; `sid` ('SM…', 'CA…', 'EM…') is the public id.
    await tableWithId(db, dialect, 'outbox')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('user_id', 'integer')
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('destination', 'text', (c) => c.notNull())
      .addColumn('text_sealed', 'text', (c) => c.notNull())
      .addColumn('locale', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('claimed_until', 'bigint')
      .addColumn('provider', 'text')
      .addColumn('provider_message_id', 'text')
      .addColumn('provider_result', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();
    await db.schema.createIndex('outbox_app').on('outbox').columns(['app_id', 'id']).execute();

    // rate-limiter-flexible's own table layout (attempt caps, send caps), shared by its limiters.
    await db.schema
      .createTable('rate_limits')
      .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('expire', 'bigint')
      .execute();
  },
  // 0003: real providers (issue 4). Every provider call is an attempt row written before the call,
  // so after a crash an attempt without an outcome is known to be in doubt.
  '0003_delivery': async (db, dialect) => {
    await db.schema.alterTable('applications').addColumn('sms_fallback_to_voice', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    // Per-application provider lists (they hold credentials: sealed).
    await db.schema
      .createTable('app_providers')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('urls_sealed', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('app_providers_pk', ['app_id', 'channel'])
      .execute();
    await db.schema.alterTable('outbox').addColumn('fallback_text_sealed', 'text').execute();
    await db.schema.alterTable('outbox').addColumn('fallback_sid', 'text').execute();
    await db.schema.createIndex('outbox_provider_message').on('outbox').columns(['provider_message_id']).execute();
    await tableWithId(db, dialect, 'delivery_attempts')
      .addColumn('outbox_id', 'integer', (c) => c.notNull().references('outbox.id').onDelete('cascade'))
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('outcome', 'text')
      .addColumn('provider_message_id', 'text')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('delivery_attempts_outbox').on('delivery_attempts').columns(['outbox_id', 'id']).execute();
  },
  // 0004: OneTouch (issue 5). A device is a key pair held by one handset (`device_keys`); each
  // `devices` row links it to one user of one application. Answers are signed by the device.
  '0004_onetouch': async (db, dialect) => {
    const appColumns: [string, 'text' | 'integer', number | string | null][] = [
      ['onetouch_callback_url', 'text', null],
      ['onetouch_callback_method', 'text', 'POST'],
      ['sync_tokens', 'integer', 1],
      ['number_matching', 'integer', 0],
      ['dashboard_access_key_hash', 'text', null],
      ['dashboard_signing_key_sealed', 'text', null],
    ];
    for (const [column, type, value] of appColumns) {
      await db.schema
        .alterTable('applications')
        .addColumn(column, type, (c) => (value === null ? c : c.notNull().defaultTo(value)))
        .execute();
    }
    await tableWithId(db, dialect, 'device_keys')
      .addColumn('public_key_sealed', 'text')
      .addColumn('algorithm', 'text', (c) => c.notNull())
      .addColumn('os_type', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('registration_method', 'text', (c) => c.notNull())
      .addColumn('phone_e164', 'text')
      .addColumn('push_subscription_sealed', 'text')
      .addColumn('ip', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint')
      .addColumn('deleted_at', 'bigint')
      .execute();
    await db.schema.createIndex('device_keys_phone').on('device_keys').columns(['phone_e164']).execute();
    await db.schema.alterTable('devices').addColumn('device_key_id', 'integer', (c) => c.references('device_keys.id').onDelete('cascade')).execute();
    await db.schema.createIndex('devices_key').on('devices').columns(['device_key_id']).execute();
    // Nonces of signed device calls, kept while their timestamp is acceptable (replay).
    await db.schema
      .createTable('device_nonces')
      .addColumn('device_key_id', 'integer', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('device_nonces_pk', ['device_key_id', 'nonce'])
      .execute();
    await db.schema
      .createTable('registration_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema
      .createTable('phone_registrations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('phone_e164', 'text', (c) => c.notNull())
      .addColumn('via', 'text', (c) => c.notNull())
      .addColumn('code_hash', 'text')
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await tableWithId(db, dialect, 'approval_requests')
      .addColumn('uuid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('hidden_details', 'text', (c) => c.notNull())
      .addColumn('logos', 'text')
      .addColumn('seconds_to_expire', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('match_number', 'integer')
      .addColumn('notified', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('processed_at', 'bigint')
      .addColumn('device_key_id', 'integer')
      .addColumn('device_signature', 'text')
      .addColumn('transaction_hash', 'text')
      .addColumn('reason', 'text')
      .execute();
    await db.schema.createIndex('approval_requests_due').on('approval_requests').columns(['status', 'expires_at']).execute();
    await db.schema.createIndex('approval_requests_user').on('approval_requests').columns(['user_id', 'status']).execute();
    // Signed HTTP deliveries to customers: OneTouch callbacks and webhooks, retried with backoff.
    await tableWithId(db, dialect, 'hook_deliveries')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('claimed_until', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('hook_deliveries_due').on('hook_deliveries').columns(['status', 'next_attempt_at']).execute();
    await tableWithId(db, dialect, 'hook_attempts')
      .addColumn('delivery_id', 'integer', (c) => c.notNull().references('hook_deliveries.id').onDelete('cascade'))
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('http_status', 'integer')
      .addColumn('error', 'text')
      .execute();
    await db.schema.createIndex('hook_attempts_delivery').on('hook_attempts').columns(['delivery_id', 'id']).execute();
    await db.schema
      .createTable('webhooks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('events', 'text', (c) => c.notNull())
      .addColumn('signing_key_sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhooks_app').on('webhooks').columns(['app_id']).execute();
  },
  // 0005: phone verification (issue 6) and the SMS-pumping defence: traffic per number prefix in
  // ten-minute windows (sends, and codes that came back verified), quarantined prefixes.
  '0005_phones': async (db, dialect) => {
    const appColumns: [string, 'text' | 'integer', number | null][] = [
      ['custom_message_allowed', 'integer', 0],
      ['custom_code_allowed', 'integer', 0],
      ['allowed_countries', 'text', null],
      ['daily_send_budget', 'integer', 10_000],
      ['sends_per_number_hour', 'integer', 10],
      ['sends_per_number_day', 'integer', 30],
      ['prefix_sends_per_window', 'integer', 20],
      ['country_sends_per_window', 'integer', 500],
    ];
    for (const [column, type, value] of appColumns) {
      await db.schema
        .alterTable('applications')
        .addColumn(column, type, (c) => (value === null ? c : c.notNull().defaultTo(value)))
        .execute();
    }
    await tableWithId(db, dialect, 'phone_verifications')
      .addColumn('uuid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('phone_e164', 'text', (c) => c.notNull())
      .addColumn('via', 'text', (c) => c.notNull())
      .addColumn('code_sealed', 'text')
      .addColumn('locale', 'text', (c) => c.notNull())
      .addColumn('checks', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('verified_at', 'bigint')
      .execute();
    await db.schema.createIndex('phone_verifications_phone').on('phone_verifications').columns(['app_id', 'phone_e164', 'id']).execute();
    await db.schema
      .createTable('prefix_traffic')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('conversions', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('prefix_traffic_pk', ['app_id', 'prefix', 'window_start'])
      .execute();
    await db.schema
      .createTable('quarantines')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('rule', 'text', (c) => c.notNull())
      .addColumn('until', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('quarantines_pk', ['app_id', 'prefix'])
      .execute();
  },

  // Application rows are cached per process (authentication on every request). Every write to the
  // table, whoever makes it (another node, the CLI, psql), tells the caches: in SQLite a trigger
  // counts writes in `table_versions`, read before each cached use; PostgreSQL notifies listeners.
  '0006_application_changes': async (db, dialect) => {
    if (dialect === 'sqlite') {
      await db.schema
        .createTable('table_versions')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await sql`INSERT INTO table_versions (name, version) VALUES ('applications', 0)`.execute(db);
      for (const op of APPLICATION_WRITES) {
        await sql
          .raw(
            `CREATE TRIGGER applications_${op.toLowerCase()}_version AFTER ${op} ON applications BEGIN ` +
              `UPDATE table_versions SET version = version + 1 WHERE name = 'applications'; END`,
          )
          .execute(db);
      }
      return;
    }
    await sql
      .raw(
        `CREATE FUNCTION openfactor_applications_changed() RETURNS trigger LANGUAGE plpgsql AS ` +
          `$$ BEGIN PERFORM pg_notify('${APPLICATIONS_CHANNEL}', ''); RETURN NULL; END $$`,
      )
      .execute(db);
    await sql
      .raw(
        `CREATE TRIGGER applications_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON applications ` +
          `FOR EACH STATEMENT EXECUTE FUNCTION openfactor_applications_changed()`,
      )
      .execute(db);
  },

  // Retention (store/retention.ts) drops prefix traffic by window across all prefixes.
  '0007_retention': async (db) => {
    await db.schema.createIndex('prefix_traffic_window').on('prefix_traffic').columns(['window_start']).execute();
  },

  // Phone-number export (`users/{id}/phone_number`), for migrations: off unless turned on.
  '0008_phone_export': async (db) => {
    await db.schema.alterTable('applications').addColumn('phone_export_enabled', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },

  // Nonces of signed dashboard (webhooks API) calls, so a captured call cannot be replayed: the
  // primary key refuses a second use by any process; retention drops them once expired.
  '0009_dashboard_nonces': async (db) => {
    await db.schema
      .createTable('dashboard_nonces')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('dashboard_nonces_pk', ['app_id', 'nonce'])
      .execute();
    await db.schema.createIndex('dashboard_nonces_expiry').on('dashboard_nonces').columns(['expires_at']).execute();
  },

  // Phone numbers and email addresses sealed at rest (issue 15). Columns looked up by equality
  // become keyed blind indexes (renamed, so their indexes follow); the sealed copies are new.
  // The rows themselves are converted at start (store/contacts.ts): that needs the master key.
  '0020_sealed_contacts': async (db) => {
    const rename = (table: string, from: string, to: string) => db.schema.alterTable(table).renameColumn(from, to).execute();
    const sealedColumn = (table: string, column: string) =>
      db.schema.alterTable(table).addColumn(column, 'text', (c) => c.notNull().defaultTo('')).execute();
    await rename('users', 'phone_e164', 'phone_index');
    await rename('users', 'email', 'email_sealed');
    await sealedColumn('users', 'phone_sealed');
    await rename('user_emails', 'email', 'email_index');
    await sealedColumn('user_emails', 'email_sealed');
    await rename('phone_registrations', 'phone_e164', 'phone_index');
    await sealedColumn('phone_registrations', 'phone_sealed');
    await rename('phone_verifications', 'phone_e164', 'phone_index');
    await sealedColumn('phone_verifications', 'phone_sealed');
    await rename('device_keys', 'phone_e164', 'phone_index');
  },

  // A user's number and address sealed as one value: user status shows both, and opening a sealed
  // value is most of its cost (README, bench). Rows sealed under 0020 are
  // opened and sealed again here (hence the keys); rows still plain (a database that skips from
  // before 0020) keep their plain values joined, for the start-up conversion (store/contacts.ts).
  '0021_user_contact': async (db, _dialect, keys) => {
    const sealed = await db.selectFrom('users').select('id').where('phone_sealed', '!=', '').limit(1).executeTakeFirst();
    if (sealed && keys.length === 0) throw new Error('migration 0021 opens sealed phone numbers and addresses: it needs the master key');
    // The contexts 0020 sealed with, frozen here.
    const old = (r: { app_id: number; phone_index: string }, what: string) => `users:${r.app_id}:${r.phone_index}:${what}`;
    const open = (blob: string, context: string) => unseal(keys, blob, context).toString('utf8');
    // All or nothing on SQLite too (Kysely runs PostgreSQL's migrations in a transaction already).
    const atomically = (work: (trx: Kysely<any>) => Promise<void>) => (db.isTransaction ? work(db) : db.transaction().execute(work));
    await atomically(async (trx) => {
      await trx.schema.alterTable('users').addColumn('contact_sealed', 'text', (c) => c.notNull().defaultTo('')).execute();
      for (let after = 0; ; ) {
        const rows = await trx.selectFrom('users').select(['id', 'app_id', 'phone_index', 'phone_sealed', 'email_sealed']).where('id', '>', after).orderBy('id').limit(1000).execute();
        if (rows.length === 0) break;
        for (const r of rows) {
          const contact =
            r.phone_sealed === ''
              ? `${r.phone_index} ${r.email_sealed}` // plain until the start-up conversion
              : seal(keys[0], `${open(r.phone_sealed, old(r, 'phone'))} ${open(r.email_sealed, old(r, 'email'))}`, `users:${r.app_id}:${r.phone_index}:contact`);
          await trx.updateTable('users').set({ contact_sealed: contact }).where('id', '=', r.id).execute();
        }
        after = rows[rows.length - 1].id;
      }
      await trx.schema.alterTable('users').dropColumn('phone_sealed').execute();
      await trx.schema.alterTable('users').dropColumn('email_sealed').execute();
    });
  },

  // Verify checks the token of a user who never verified, with or without `force`; Authy's
  // "Not checked" answer stays an application's choice (issue 16).
  '0022_unregistered_verify': async (db) => {
    await db.schema.alterTable('applications').addColumn('unregistered_verify_legacy', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },

  // Lost phones (issue 17). A person is known by their phone's blind index, across applications:
  // whether new devices may join, and when their account was last recovered. A device registered
  // by phone while others exist waits for one of them to approve it (signed, kept).
  '0023_multi_device': async (db) => {
    await db.schema
      .createTable('phone_owners')
      .addColumn('phone_index', 'text', (c) => c.primaryKey())
      .addColumn('allow_new_devices', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('last_account_recovery_at', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.alterTable('device_keys').addColumn('pending_since', 'bigint').execute();
    await db.schema.alterTable('device_keys').addColumn('approved_by', 'integer').execute();
    await db.schema.alterTable('device_keys').addColumn('approval_signature', 'text').execute();
  },

  // Recovery codes (issue 17): single-use, kept only as keyed hashes (store/contacts.ts's index key).
  '0024_recovery_codes': async (db) => {
    await db.schema
      .createTable('recovery_codes')
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('code_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addPrimaryKeyConstraint('recovery_codes_pk', ['user_id', 'code_hash'])
      .execute();
  },

  // A person moving to a new number from a device in hand (issue 17): both the new number (a
  // code to it) and the address on file (a code by email) must answer before anything changes.
  '0025_phone_changes': async (db) => {
    await db.schema
      .createTable('phone_changes')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('device_key_id', 'integer', (c) => c.notNull())
      .addColumn('old_index', 'text', (c) => c.notNull())
      .addColumn('new_index', 'text', (c) => c.notNull())
      .addColumn('phone_sealed', 'text', (c) => c.notNull())
      .addColumn('country_code', 'integer', (c) => c.notNull())
      .addColumn('pin_hash', 'text', (c) => c.notNull())
      .addColumn('email_code_hash', 'text', (c) => c.notNull())
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .execute();
    await db.schema.createIndex('phone_changes_device').on('phone_changes').columns(['device_key_id', 'status']).execute();
  },

  // Account recovery without any device (issue 17): the phone and the address on file proven,
  // then a waiting period every existing device hears of and may cancel; then the new device
  // replaces the old ones. A device in recovery is marked with it (never approvable by another).
  '0026_account_recoveries': async (db) => {
    await db.schema
      .createTable('account_recoveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('phone_index', 'text', (c) => c.notNull())
      .addColumn('phone_sealed', 'text', (c) => c.notNull())
      .addColumn('via', 'text', (c) => c.notNull())
      .addColumn('pin_hash', 'text', (c) => c.notNull())
      .addColumn('email_code_hash', 'text', (c) => c.notNull())
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('device_key_id', 'integer')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('completes_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('canceled_by', 'text')
      .execute();
    await db.schema.createIndex('account_recoveries_phone').on('account_recoveries').columns(['phone_index', 'status']).execute();
    await db.schema.createIndex('account_recoveries_due').on('account_recoveries').columns(['status', 'completes_at']).execute();
    await db.schema.alterTable('device_keys').addColumn('recovery_id', 'text').execute();
  },

  // The authenticator may offer a printable set of recovery codes where the customer allows it (issue 17).
  '0028_recovery_codes_on_devices': async (db) => {
    await db.schema.alterTable('applications').addColumn('recovery_codes_on_devices', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  },

  // A phone change without any device (issue 17): an account recovery that also proves the new
  // number, and moves the person's users to it when the (longer) wait ends.
  '0027_recovery_new_number': async (db) => {
    for (const [name, type] of [['new_phone_index', 'text'], ['new_phone_sealed', 'text'], ['new_country_code', 'integer'], ['new_pin_hash', 'text']] as const) {
      await db.schema.alterTable('account_recoveries').addColumn(name, type).execute();
    }
  },

  // The admin console's tables (issue 20): users found by email address (a blind index of the
  // address in lower case, filled for older rows in the background: store/contacts.ts), and each
  // log paged by application, newest first, without walking other applications' rows.
  '0029_admin_tables': async (db) => {
    await db.schema.alterTable('users').addColumn('email_index', 'text').execute();
    await db.schema.createIndex('users_app_email').on('users').columns(['app_id', 'email_index']).execute();
    await db.schema.createIndex('user_emails_index').on('user_emails').columns(['email_index']).execute();
    for (const table of ['approval_requests', 'hook_deliveries', 'devices', 'phone_verifications']) {
      await db.schema.createIndex(`${table}_app`).on(table).columns(['app_id', 'id']).execute();
    }
  },

  // Twilio Verify v2 beside the Authy API (issue 21). Accounts (AC…, the auth token sealed: it
  // signs Verify webhooks later, and hashed: requests compare the hash), API keys (SK…, only the
  // secret's hash), services (VA…, each backed by an application of its own), verifications (VE…,
  // the destination sealed and found by its blind index, the code sealed for resends) and their
  // send attempts (VL…).
  '0030_verify_v2': async (db, dialect) => {
    await tableWithId(db, dialect, 'verify_accounts')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('auth_token_hash', 'text', (c) => c.notNull())
      .addColumn('auth_token_sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await tableWithId(db, dialect, 'verify_keys')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('account_id', 'integer', (c) => c.notNull().references('verify_accounts.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await tableWithId(db, dialect, 'verify_services')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('account_id', 'integer', (c) => c.notNull().references('verify_accounts.id'))
      .addColumn('app_id', 'integer', (c) => c.notNull().unique())
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_services_account').on('verify_services').columns(['account_id', 'id']).execute();
    await tableWithId(db, dialect, 'verify_verifications')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('to_index', 'text', (c) => c.notNull())
      .addColumn('to_sealed', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('code_sealed', 'text')
      .addColumn('checks', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('locale', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_verifications_to').on('verify_verifications').columns(['service_id', 'to_index', 'id']).execute();
    await db.schema.createIndex('verify_verifications_app').on('verify_verifications').columns(['app_id', 'id']).execute();
    await tableWithId(db, dialect, 'verify_attempts')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('account_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('verification_id', 'integer', (c) => c.notNull())
      .addColumn('to_index', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('country', 'text')
      .addColumn('message_sid', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_attempts_account').on('verify_attempts').columns(['account_id', 'id']).execute();
    await db.schema.createIndex('verify_attempts_verification').on('verify_attempts').columns(['verification_id']).execute();
    await db.schema.createIndex('verify_attempts_app').on('verify_attempts').columns(['app_id', 'id']).execute();
  },

  // One pending verification per destination and service: of two starts at once, one makes it and
  // the other resends its code (features/verify/service.ts), as Twilio's resend rule wants.
  '0031_verify_pending_once': async (db) => {
    await sql`CREATE UNIQUE INDEX verify_verifications_pending ON verify_verifications (service_id, to_index) WHERE status = 'pending'`.execute(db);
  },

  // Verify v2 rate limits (issue 21 point 4): a service's named rate limits, their buckets (max
  // starts per interval), and per key value (its HMAC, never the value) a lock row and the starts
  // counted. Every row names its service's application (app_id): deleting the service deletes them.
  '0032_verify_rate_limits': async (db, dialect) => {
    await tableWithId(db, dialect, 'verify_rate_limits')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('unique_name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_rate_limits_name').on('verify_rate_limits').columns(['service_id', 'unique_name']).unique().execute();
    await db.schema.createIndex('verify_rate_limits_app').on('verify_rate_limits').columns(['app_id']).execute();
    await tableWithId(db, dialect, 'verify_rate_limit_buckets')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('rate_limit_id', 'integer', (c) => c.notNull())
      .addColumn('max', 'integer', (c) => c.notNull())
      .addColumn('interval', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_rate_limit_buckets_interval').on('verify_rate_limit_buckets').columns(['rate_limit_id', 'interval']).unique().execute();
    await db.schema.createIndex('verify_rate_limit_buckets_app').on('verify_rate_limit_buckets').columns(['app_id']).execute();
    await db.schema
      .createTable('verify_rate_limit_keys')
      .addColumn('rate_limit_id', 'integer', (c) => c.notNull())
      .addColumn('key_hash', 'text', (c) => c.notNull())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('used_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('verify_rate_limit_keys_pk', ['rate_limit_id', 'key_hash'])
      .execute();
    await db.schema.createIndex('verify_rate_limit_keys_app').on('verify_rate_limit_keys').columns(['app_id']).execute();
    await tableWithId(db, dialect, 'verify_rate_limit_hits')
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('rate_limit_id', 'integer', (c) => c.notNull())
      .addColumn('key_hash', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_rate_limit_hits_key').on('verify_rate_limit_hits').columns(['rate_limit_id', 'key_hash', 'at']).execute();
    await db.schema.createIndex('verify_rate_limit_hits_app').on('verify_rate_limit_hits').columns(['app_id']).execute();
  },

  // Verify v2 factors (issue 21 point 5): entities, TOTP and push factors (their binding sealed),
  // challenges, service webhooks. Each row names its service's application (app_id), so deleting
  // the service deletes them with it.
  '0033_verify_factors': async (db, dialect) => {
    await tableWithId(db, dialect, 'verify_entities')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('identity', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_entities_identity').on('verify_entities').columns(['service_id', 'identity']).unique().execute();
    await db.schema.createIndex('verify_entities_app').on('verify_entities').columns(['app_id']).execute();
    await tableWithId(db, dialect, 'verify_factors')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('entity_id', 'integer', (c) => c.notNull())
      .addColumn('factor_type', 'text', (c) => c.notNull())
      .addColumn('friendly_name', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('binding_sealed', 'text', (c) => c.notNull())
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('metadata', 'text')
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'bigint')
      .addColumn('last_step', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_factors_entity').on('verify_factors').columns(['entity_id', 'id']).execute();
    await db.schema.createIndex('verify_factors_app').on('verify_factors').columns(['app_id']).execute();
    await tableWithId(db, dialect, 'verify_challenges')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('entity_id', 'integer', (c) => c.notNull())
      .addColumn('factor_id', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('responded_reason', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('hidden_details', 'text')
      .addColumn('metadata', 'text')
      .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('responded_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_challenges_entity').on('verify_challenges').columns(['entity_id', 'id']).execute();
    await db.schema.createIndex('verify_challenges_factor').on('verify_challenges').columns(['factor_id']).execute();
    await db.schema.createIndex('verify_challenges_app').on('verify_challenges').columns(['app_id']).execute();
    await tableWithId(db, dialect, 'verify_webhooks')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('friendly_name', 'text', (c) => c.notNull())
      .addColumn('event_types', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('verify_webhooks_service').on('verify_webhooks').columns(['service_id', 'id']).execute();
  },
  // Verify push factors enrolled with an access token, and served by an OpenFactor device.
  '0034_verify_access_tokens': async (db, dialect) => {
    await tableWithId(db, dialect, 'verify_access_tokens')
      .addColumn('sid', 'text', (c) => c.notNull().unique())
      .addColumn('app_id', 'integer', (c) => c.notNull())
      .addColumn('service_id', 'integer', (c) => c.notNull())
      .addColumn('identity', 'text', (c) => c.notNull())
      .addColumn('factor_type', 'text', (c) => c.notNull())
      .addColumn('friendly_name', 'text')
      .addColumn('ttl', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('verify_access_tokens_app').on('verify_access_tokens').columns(['app_id']).execute();
    // No foreign key: a removed device leaves its factors, which then reach no one (as an app uninstalled).
    await db.schema.alterTable('verify_factors').addColumn('device_key_id', 'integer').execute();
    await db.schema.createIndex('verify_factors_device').on('verify_factors').columns(['device_key_id']).execute();
  },
  // Token verifications (GET verify) per application, UTC day and result: the console's chart;
  // and the delivery log searched by user.
  '0035_token_checks_daily': async (db) => {
    await db.schema
      .createTable('token_checks_daily')
      .addColumn('app_id', 'integer', (c) => c.notNull().references('applications.id').onDelete('cascade'))
      .addColumn('day', 'integer', (c) => c.notNull())
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('n', 'bigint', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('token_checks_daily_pk', ['app_id', 'day', 'result'])
      .execute();
    // The delivery log searched by user (the console's Messages page).
    await db.schema.createIndex('outbox_user').on('outbox').columns(['user_id', 'id']).execute();
  },
  // Administrators as people (issue 22): API tokens for automation, and the hash-chained audit trail.
  '0036_admin_tokens_audit': async (db, dialect) => {
    await tableWithId(db, dialect, 'admin_tokens')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('app_id', 'integer')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();
    // No foreign key to applications: the trail outlives what it tells of.
    await tableWithId(db, dialect, 'audit_log')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('actor_kind', 'text', (c) => c.notNull())
      .addColumn('ip', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('app_id', 'integer')
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('detail', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_app').on('audit_log').columns(['app_id', 'id']).execute();
    await db.schema.createIndex('audit_log_action').on('audit_log').columns(['action', 'id']).execute();
    await db.schema
      .createTable('audit_head')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('entry_id', 'integer', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('mac', 'text', (c) => c.notNull())
      .execute();
  },
  // Administrators as people: accounts (a password, a second factor) and their console sessions.
  '0037_admin_accounts': async (db, dialect) => {
    await tableWithId(db, dialect, 'admin_accounts')
      .addColumn('email', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('app_id', 'integer')
      .addColumn('totp_seed_sealed', 'text', (c) => c.notNull())
      .addColumn('totp_last_step', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('disabled_at', 'bigint')
      .addColumn('last_sign_in_at', 'bigint')
      .execute();
    await tableWithId(db, dialect, 'admin_sessions')
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('csrf_hash', 'text', (c) => c.notNull())
      .addColumn('account_id', 'integer', (c) => c.notNull().references('admin_accounts.id').onDelete('cascade'))
      .addColumn('ip', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('idle_until', 'bigint', (c) => c.notNull())
      .execute();
  },
  // A second factor by OneTouch (an administrator's own user, with a device, in an application) and
  // sign-ins waiting for their second factor (after a password, or after single sign-on).
  '0038_admin_second_factor': async (db, dialect) => {
    await db.schema.alterTable('admin_accounts').addColumn('onetouch_app_id', 'integer').execute();
    await db.schema.alterTable('admin_accounts').addColumn('onetouch_authy_id', 'bigint').execute();
    await db.schema.alterTable('admin_accounts').addColumn('onetouch_device_keys', 'text').execute();
    await tableWithId(db, dialect, 'admin_sign_ins')
      .addColumn('ticket_hash', 'text', (c) => c.notNull().unique())
      .addColumn('account_id', 'integer', (c) => c.notNull().references('admin_accounts.id').onDelete('cascade'))
      .addColumn('via', 'text', (c) => c.notNull())
      .addColumn('approval_uuid', 'text')
      .addColumn('ip', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  // PostgreSQL: room on each page for the new version of a row that the hot paths update (an app
  // step, a used code, a count). A page filled to the brim moves the new version to another page,
  // and then every index of the table gets an entry for it (users: three); with room left, the
  // update stays on its page and touches no index (a HOT update). New pages only: rows written
  // before get the room when the table is rewritten (VACUUM FULL). SQLite updates rows in place.
  '0039_room_for_updates': async (db, dialect) => {
    if (dialect !== 'postgres') return;
    for (const table of HOT_UPDATED_TABLES) await sql`ALTER TABLE ${sql.table(table)} SET (fillfactor = 80)`.execute(db);
  },
  // SQLite: each accepted app-TOTP step appended here instead of written into its user's row
  // (store/accepted-steps.ts). A verify of a random user rewrote a random page of `users`: a WAL
  // frame at commit and a copy at checkpoint, a third of verify's CPU (bench). Appended rows
  // share the table's last page. No index but the sequence: each process keeps who used which
  // step in memory, read from here. PostgreSQL keeps the step in the row (a HOT update).
  '0040_accepted_app_steps': async (db, dialect) => {
    if (dialect === 'sqlite') await createStepLog(db, 'accepted_app_steps');
  },
  // SQLite: the same for QR-authenticator steps, whose row (authenticators) was rewritten at random
  // on every right code just as users' was.
  '0041_accepted_qr_steps': async (db, dialect) => {
    if (dialect === 'sqlite') await createStepLog(db, 'accepted_qr_steps');
  },
  // SQLite: each used SMS, voice or email code appended here instead of its row's used_at set (a
  // random page of sent_codes); kept while a code can verify (the largest code TTL).
  '0042_used_sent_codes': async (db, dialect) => {
    if (dialect !== 'sqlite') return;
    await db.schema
      .createTable('used_sent_codes')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('code_id', 'integer', (c) => c.notNull())
      .execute();
  },
  // SQLite: each wrong token's count appended here (the user's count and window after it) instead
  // of written into its user's row, a random page of `users`; kept while a window can last. The
  // row keeps the lockout.
  '0043_counted_wrong_tokens': async (db, dialect) => {
    if (dialect !== 'sqlite') return;
    await db.schema
      .createTable('counted_wrong_tokens')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('failures', 'integer', (c) => c.notNull())
      .addColumn('window_start', 'integer')
      .execute();
  },
  // A sent SMS or voice code keeps the keys its conversion is counted under (the number's block as
  // a keyed index, and its country): a right code no longer opens the user's sealed number for the
  // pumping defence (an AES-GCM open, a tenth of a right SMS code's CPU on SQLite). Codes sent
  // before have none, and a verify opens the number for them as before.
  '0044_sent_code_conversion_keys': async (db) => {
    await db.schema.alterTable('sent_codes').addColumn('conversion_prefix', 'text').execute();
    await db.schema.alterTable('sent_codes').addColumn('conversion_country', 'text').execute();
  },
  // PostgreSQL: half of each page left free in the tables whose rows are checked a few times each
  // after one insert (a code or verification: checks, then used or approved). At 80% (0039) a page
  // of such rows had room for the new versions of about a fifth of them: the bench counted 35% of
  // phone and Verify checks as HOT updates, the rest an entry in every index of the table.
  '0045_room_for_checks': async (db, dialect) => {
    if (dialect !== 'postgres') return;
    for (const table of CHECKED_TABLES) await sql`ALTER TABLE ${sql.table(table)} SET (fillfactor = 50)`.execute(db);
  },
};

/** SQLite: a table of appended steps per user (0040, 0041); the sequence is its only index. */
async function createStepLog(db: Kysely<unknown>, table: string) {
  await db.schema
    .createTable(table)
    .addColumn('seq', 'integer', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull())
    .addColumn('step', 'integer', (c) => c.notNull())
    .execute();
}

/** Tables whose rows the hot paths update (verify, sends, checks, the outbox, OneTouch). */
export const HOT_UPDATED_TABLES = ['users', 'authenticators', 'sent_codes', 'recovery_codes', 'phone_verifications', 'verify_verifications', 'outbox', 'approval_requests', 'rate_limits', 'prefix_traffic'];

/** Tables of rows inserted once, then updated by each of a few checks (0045). */
export const CHECKED_TABLES = ['sent_codes', 'phone_verifications', 'verify_verifications'];

/** The newest migration this build knows: a database at it is ready for this code. */
export const LATEST_MIGRATION = Object.keys(steps).sort().at(-1)!;

export function migrationProvider(dialect: Dialect, keys: MasterKey[] = []): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(steps)) out[name] = { up: (db) => step(db, dialect, keys) };
      return out;
    },
  };
}
