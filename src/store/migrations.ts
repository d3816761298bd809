// Migrations in code, one list for both dialects. Append only; never edit a shipped migration.
import { type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './db.ts';

type Step = (db: Kysely<any>, dialect: Dialect) => Promise<void>;

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
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(steps)) out[name] = { up: (db) => step(db, dialect) };
      return out;
    },
  };
}
