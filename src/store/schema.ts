// Row types shared by both dialects. Booleans are 0/1 integers and times are Unix milliseconds
// on both SQLite and PostgreSQL, so the same queries and results work on each.
import type { Generated } from 'kysely';

export interface ApplicationsTable {
  id: Generated<number>;
  name: string;
  api_key_hash: string;
  api_key_sealed: string;
  /** Columns with defaults are optional on insert (Generated). */
  plan: Generated<string>;
  sms_enabled: Generated<number>;
  calls_enabled: Generated<number>;
  onetouch_enabled: Generated<number>;
  created_at: number;
}

export interface UsersTable {
  id: Generated<number>;
  app_id: number;
  country_code: number;
  phone_e164: string;
  email: string;
  confirmed: number;
  created_at: number;
}

export interface UserEmailsTable {
  user_id: number;
  email: string;
  created_at: number;
}

export interface ActivitiesTable {
  id: Generated<number>;
  app_id: number;
  user_id: number;
  type: string;
  data: string;
  user_ip: string | null;
  created_at: number;
}

/** One row per application and calendar month (UTC), `YYYY-MM`. */
export interface UsageMonthlyTable {
  app_id: number;
  month: string;
  api_calls: number;
  sms: number;
  calls: number;
  auths: number;
  users: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface DB {
  applications: ApplicationsTable;
  users: UsersTable;
  user_emails: UserEmailsTable;
  activities: ActivitiesTable;
  usage_monthly: UsageMonthlyTable;
  meta: MetaTable;
}
