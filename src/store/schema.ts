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
  /** Settings (issue 3); see migration 0002 for defaults. */
  token_length: Generated<number>;
  code_ttl_seconds: Generated<number>;
  generic_tokens_enabled: Generated<number>;
  verify_max_failures: Generated<number>;
  verify_failure_window_seconds: Generated<number>;
  verify_lockout_seconds: Generated<number>;
  sends_per_hour: Generated<number>;
  /** 0003: an SMS that cannot be delivered is read out by a voice call instead. */
  sms_fallback_to_voice: Generated<number>;
}

export interface UsersTable {
  id: Generated<number>;
  app_id: number;
  country_code: number;
  phone_e164: string;
  email: string;
  confirmed: number;
  created_at: number;
  totp_seed_sealed: string | null;
  /** The last app-TOTP step accepted (replay), and the learned clock offset in steps (drift). */
  totp_last_step: number | null;
  totp_drift: Generated<number>;
  /** Wrong tokens since `verify_window_start`; verification refused until `verify_locked_until`. */
  verify_failures: Generated<number>;
  verify_window_start: number | null;
  verify_locked_until: number | null;
}

export interface DevicesTable {
  id: Generated<number>;
  app_id: number;
  user_id: number;
  os_type: string;
  registration_method: string;
  ip: string | null;
  city: string | null;
  region: string | null;
  country: string | null;
  created_at: number;
  last_sync_at: number | null;
  deleted_at: number | null;
}

export interface AuthenticatorsTable {
  user_id: number;
  app_id: number;
  secret_sealed: string;
  label: string;
  issuer: string;
  qr_token: string;
  qr_size: number;
  qr_expires_at: number;
  last_step: number | null;
  drift: Generated<number>;
  created_at: number;
}

export interface SentCodesTable {
  id: Generated<number>;
  app_id: number;
  user_id: number;
  channel: 'sms' | 'voice' | 'email';
  code_hash: string;
  action: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed';

export interface OutboxTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  user_id: number | null;
  channel: 'sms' | 'voice' | 'email';
  destination: string;
  text_sealed: string;
  locale: string;
  status: OutboxStatus;
  attempts: Generated<number>;
  next_attempt_at: number;
  claimed_until: number | null;
  provider: string | null;
  provider_message_id: string | null;
  provider_result: string | null;
  created_at: number;
  updated_at: number;
  /** 0003: the voice text to call with if this SMS fails (application setting), and that call's sid. */
  fallback_text_sealed: string | null;
  fallback_sid: string | null;
}

export type AttemptOutcome = 'accepted' | 'error' | 'timeout' | 'in_doubt';

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  outbox_id: number;
  /** The provider's label (`smpp:host:port`, `twilio:AC…`): never a credential. */
  provider: string;
  started_at: number;
  /** Null while the call is out: after a crash, the attempt is in doubt. */
  finished_at: number | null;
  outcome: AttemptOutcome | null;
  provider_message_id: string | null;
  error: string | null;
}

export interface AppProvidersTable {
  app_id: number;
  channel: 'sms' | 'voice' | 'email';
  urls_sealed: string;
  updated_at: number;
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
  devices: DevicesTable;
  authenticators: AuthenticatorsTable;
  sent_codes: SentCodesTable;
  outbox: OutboxTable;
  delivery_attempts: DeliveryAttemptsTable;
  app_providers: AppProvidersTable;
}
