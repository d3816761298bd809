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
  /** 0004: OneTouch callback, token sync for phone-registered devices, number matching, dashboard keys. */
  onetouch_callback_url: string | null;
  onetouch_callback_method: Generated<string>;
  sync_tokens: Generated<number>;
  number_matching: Generated<number>;
  dashboard_access_key_hash: string | null;
  dashboard_signing_key_sealed: string | null;
  /** 0005: phone verification options and the SMS-pumping defence's limits. */
  custom_message_allowed: Generated<number>;
  custom_code_allowed: Generated<number>;
  phone_export_enabled: Generated<number>;
  /** Comma-separated ISO 3166 regions messages may go to; null = everywhere. */
  allowed_countries: string | null;
  daily_send_budget: Generated<number>;
  sends_per_number_hour: Generated<number>;
  sends_per_number_day: Generated<number>;
  prefix_sends_per_window: Generated<number>;
  country_sends_per_window: Generated<number>;
  /** 0022: Authy's "Not checked" answer to verify for users who never verified (issue 16); off by default. */
  unregistered_verify_legacy: Generated<number>;
  /** 0028: the person's own devices may make a new set of recovery codes (issue 17); off by default. */
  recovery_codes_on_devices: Generated<number>;
}

export interface UsersTable {
  id: Generated<number>;
  app_id: number;
  country_code: number;
  /** 0020: the phone's blind index (store/contacts.ts), unique per application; the number itself sealed. */
  phone_index: string;
  /** 0021: the number and the address, sealed as one value (store/contacts.ts, `joinContact`). */
  contact_sealed: string;
  /** 0029: the blind index of the address in lower case (the admin API's search); null until filled for older rows. */
  email_index: string | null;
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
  /** 0004: the handset's key pair; null for rows inserted before devices registered themselves. */
  device_key_id: number | null;
}

export type DeviceAlgorithm = 'ES256' | 'Ed25519';

/** One handset: its public key (sealed like every key), how it registered, its push subscription. */
export interface DeviceKeysTable {
  id: Generated<number>;
  public_key_sealed: string | null;
  algorithm: DeviceAlgorithm;
  os_type: string;
  name: string;
  registration_method: 'sdk' | 'sms' | 'voice';
  /** 0020: the blind index of the phone it registered with (only ever looked up). */
  phone_index: string | null;
  push_subscription_sealed: string | null;
  ip: string | null;
  created_at: number;
  last_seen_at: number | null;
  deleted_at: number | null;
  /** 0023: registered by phone while the person had other devices: waits for one to approve it. */
  pending_since: number | null;
  /** The device that approved it, and its signature over the approval (kept: it cannot be denied later). */
  approved_by: number | null;
  approval_signature: string | null;
  /** 0026: registered by an account recovery: it waits for the recovery's end, never for an approval. */
  recovery_id: string | null;
}

/** 0024: a user's single-use recovery codes, as keyed hashes. */
export interface RecoveryCodesTable {
  user_id: number;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

/** 0026: account recovery without any device (issue 17). */
export interface AccountRecoveriesTable {
  id: string;
  phone_index: string;
  /** The number, sealed (`recoveryPhoneContext`). */
  phone_sealed: string;
  via: 'sms' | 'voice';
  pin_hash: string;
  email_code_hash: string;
  /** Unused: attempts are counted by the rate limiter for stored and never-stored ids alike (same timing). */
  failures: Generated<number>;
  /** unconfirmed (codes sent) → waiting (new device registered, the wait runs) → completed | canceled. */
  status: 'unconfirmed' | 'waiting' | 'completed' | 'canceled';
  device_key_id: number | null;
  created_at: number;
  /** The codes' expiry. */
  expires_at: number;
  completes_at: number | null;
  finished_at: number | null;
  /** `device:<id>`, `admin token from …` or `conflict`: who (or what) canceled it. */
  canceled_by: string | null;
  /** 0027: set when it is a phone change without any device: the new number, proven by its own code. */
  new_phone_index: string | null;
  /** The new number, sealed (`recoveryNewPhoneContext`). */
  new_phone_sealed: string | null;
  new_country_code: number | null;
  new_pin_hash: string | null;
}

/** 0025: a person moving to a new number from a registered device (issue 17). */
export interface PhoneChangesTable {
  id: string;
  device_key_id: number;
  old_index: string;
  new_index: string;
  /** The new number, sealed (`phoneChangeContext`). */
  phone_sealed: string;
  country_code: number;
  pin_hash: string;
  email_code_hash: string;
  failures: Generated<number>;
  status: 'pending' | 'completed' | 'canceled' | 'expired';
  created_at: number;
  expires_at: number;
  finished_at: number | null;
}

/** 0023: a person, by their phone's blind index, across applications (issue 17). */
export interface PhoneOwnersTable {
  phone_index: string;
  allow_new_devices: Generated<number>;
  last_account_recovery_at: number | null;
  updated_at: number;
}

export interface DashboardNoncesTable {
  app_id: number;
  nonce: string;
  expires_at: number;
}

export interface DeviceNoncesTable {
  device_key_id: number;
  nonce: string;
  expires_at: number;
}

export interface RegistrationTokensTable {
  token_hash: string;
  app_id: number;
  user_id: number;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface PhoneRegistrationsTable {
  id: string;
  phone_index: string;
  phone_sealed: string;
  via: 'sms' | 'voice';
  /** Null when no application had a user with this phone: nothing was sent, nothing confirms. */
  code_hash: string | null;
  failures: Generated<number>;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface ApprovalRequestsTable {
  id: Generated<number>;
  uuid: string;
  app_id: number;
  user_id: number;
  message: string;
  /** JSON texts. */
  details: string;
  hidden_details: string;
  logos: string | null;
  seconds_to_expire: number;
  expires_at: number | null;
  status: ApprovalStatus;
  match_number: number | null;
  notified: Generated<number>;
  created_at: number;
  updated_at: number;
  processed_at: number | null;
  device_key_id: number | null;
  device_signature: string | null;
  transaction_hash: string | null;
  reason: string | null;
}

export type HookStatus = 'pending' | 'delivered' | 'failed';

export interface HookDeliveriesTable {
  id: Generated<number>;
  app_id: number;
  kind: 'callback' | 'webhook' | 'verify_webhook';
  /** The approval request's uuid (callbacks) or the webhook's id. */
  target: string;
  event: string;
  url: string;
  method: 'GET' | 'POST';
  /** The JSON payload; signed afresh at every attempt (the nonce is the attempt's time). */
  payload: string;
  status: HookStatus;
  attempts: Generated<number>;
  next_attempt_at: number;
  claimed_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface HookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  started_at: number;
  finished_at: number | null;
  http_status: number | null;
  error: string | null;
}

export interface WebhooksTable {
  id: string;
  app_id: number;
  name: string;
  url: string;
  /** JSON array of event names. */
  events: string;
  signing_key_sealed: string;
  created_at: number;
}

export interface AuthenticatorsTable {
  user_id: number;
  app_id: number;
  secret_sealed: string;
  /** Sealed (0020): by default the user's email address. */
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
  /** SMS and voice: the keys a verify counts its conversion under (send-guard ConversionKeys); null before 0044. */
  conversion_prefix: string | null;
  conversion_country: string | null;
}

/** `blocked`: refused by the SMS-pumping defence before any provider saw it (the audit of the block). */
export type OutboxStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'blocked';

export interface OutboxTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  user_id: number | null;
  channel: 'sms' | 'voice' | 'email';
  /** Sealed (0020): a phone number or email address. */
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
  email_index: string;
  email_sealed: string;
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
/** An API token for automation (issue 22): named, a role, optionally one application; kept as a hash. */
export interface AdminTokensTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  role: 'owner' | 'admin' | 'support' | 'read_only';
  app_id: number | null;
  created_by: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/**
 * The audit trail: append-only, each entry's `hash` an HMAC (a key derived from master key
 * `key_id`) over the previous entry's hash and its own fields, so an entry edited or deleted
 * breaks the chain (`openfactor audit verify`). `target` and `detail` are JSON, secrets hidden.
 */
export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string;
  /** device: a user's device (a recovery step); service: OpenFactor itself (a lockout, a recovery's wait ending). */
  actor_kind: 'break_glass' | 'token' | 'cli' | 'admin' | 'device' | 'service';
  ip: string | null;
  action: string;
  app_id: number | null;
  target: string;
  detail: string;
  key_id: string;
  prev_hash: string;
  hash: string;
}

/** The trail's newest entry (`name` = 'head'), MACed: entries cut from its end are missed by verification. */
export interface AuditHeadTable {
  name: string;
  entry_id: number;
  hash: string;
  key_id: string;
  mac: string;
}

/** An administrator (issue 22): a password (argon2id) and an authenticator for the second factor. */
export interface AdminAccountsTable {
  id: Generated<number>;
  /** Trimmed, in lower case. */
  email: string;
  name: string;
  password_hash: string | null;
  role: 'owner' | 'admin' | 'support' | 'read_only';
  app_id: number | null;
  /** Sealed (context admin-accounts:{id}:totp); made with the account. */
  totp_seed_sealed: string;
  totp_last_step: number | null;
  created_at: number;
  disabled_at: number | null;
  last_sign_in_at: number | null;
  /** The administrator's own user (an application and Authy id) whose devices approve a sign-in by OneTouch. */
  onetouch_app_id: number | null;
  onetouch_authy_id: number | null;
  /** The device keys pinned when the link was made (JSON array): only their answers count. */
  onetouch_device_keys: string | null;
}

/** A console session: found by the hash of its cookie; changes also need its CSRF token. */
export interface AdminSessionsTable {
  id: Generated<number>;
  token_hash: string;
  csrf_hash: string;
  account_id: number;
  ip: string | null;
  created_at: number;
  expires_at: number;
  idle_until: number;
}

/** A sign-in whose first factor (password or single sign-on) held, waiting for its second; the ticket is a cookie. */
export interface AdminSignInsTable {
  id: Generated<number>;
  ticket_hash: string;
  account_id: number;
  via: 'password' | 'sso';
  /** The OneTouch approval request sent for it, once asked for. */
  approval_uuid: string | null;
  ip: string | null;
  created_at: number;
  expires_at: number;
}

/** Token verifications per application, UTC day (days since 1970) and result, counted in memory and added every second. */
export interface TokenChecksDailyTable {
  app_id: number;
  day: number;
  result: TokenCheckResult;
  n: number;
}
/** valid; invalid; reused (a right token used before); locked (refused by the attempt cap, unchecked). */
export type TokenCheckResult = 'valid' | 'invalid' | 'reused' | 'locked';

export interface UsageMonthlyTable {
  app_id: number;
  month: string;
  api_calls: number;
  sms: number;
  calls: number;
  auths: number;
  users: number;
}

/** SQLite only: writes per table, counted by triggers (migration 0006), for per-process caches. */
export interface TableVersionsTable {
  name: string;
  version: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface PhoneVerificationsTable {
  id: Generated<number>;
  uuid: string;
  app_id: number;
  phone_index: string;
  phone_sealed: string;
  via: 'sms' | 'call';
  /** Sealed: a start before expiry resends the same code. Null once verified or dead. */
  code_sealed: string | null;
  locale: string;
  checks: Generated<number>;
  status: 'pending' | 'verified' | 'dead';
  created_at: number;
  expires_at: number;
  verified_at: number | null;
}

export interface PrefixTrafficTable {
  app_id: number;
  prefix: string;
  window_start: number;
  sends: Generated<number>;
  conversions: Generated<number>;
}

export interface QuarantinesTable {
  app_id: number;
  prefix: string;
  rule: string;
  until: number;
  created_at: number;
}

/** SQLite only: accepted app-TOTP (0040) and QR-authenticator (0041) steps, appended (store/accepted-steps.ts). */
export interface AcceptedStepsTable {
  seq: Generated<number>;
  user_id: number;
  step: number;
}

/** SQLite only: used SMS, voice and email codes, appended (migration 0042). */
export interface UsedSentCodesTable {
  seq: Generated<number>;
  code_id: number;
}

/** SQLite only: each wrong token counted, with its user's count and window after it (migration 0043). */
export interface CountedWrongTokensTable {
  seq: Generated<number>;
  user_id: number;
  failures: number;
  window_start: number | null;
}

export interface DB {
  counted_wrong_tokens: CountedWrongTokensTable;
  accepted_app_steps: AcceptedStepsTable;
  accepted_qr_steps: AcceptedStepsTable;
  used_sent_codes: UsedSentCodesTable;
  account_recoveries: AccountRecoveriesTable;
  phone_owners: PhoneOwnersTable;
  phone_changes: PhoneChangesTable;
  recovery_codes: RecoveryCodesTable;
  applications: ApplicationsTable;
  users: UsersTable;
  user_emails: UserEmailsTable;
  activities: ActivitiesTable;
  usage_monthly: UsageMonthlyTable;
  token_checks_daily: TokenChecksDailyTable;
  admin_tokens: AdminTokensTable;
  audit_log: AuditLogTable;
  audit_head: AuditHeadTable;
  admin_accounts: AdminAccountsTable;
  admin_sessions: AdminSessionsTable;
  admin_sign_ins: AdminSignInsTable;
  meta: MetaTable;
  table_versions: TableVersionsTable;
  devices: DevicesTable;
  authenticators: AuthenticatorsTable;
  sent_codes: SentCodesTable;
  outbox: OutboxTable;
  delivery_attempts: DeliveryAttemptsTable;
  app_providers: AppProvidersTable;
  device_keys: DeviceKeysTable;
  device_nonces: DeviceNoncesTable;
  dashboard_nonces: DashboardNoncesTable;
  registration_tokens: RegistrationTokensTable;
  phone_registrations: PhoneRegistrationsTable;
  approval_requests: ApprovalRequestsTable;
  hook_deliveries: HookDeliveriesTable;
  hook_attempts: HookAttemptsTable;
  webhooks: WebhooksTable;
  phone_verifications: PhoneVerificationsTable;
  prefix_traffic: PrefixTrafficTable;
  quarantines: QuarantinesTable;
  verify_accounts: VerifyAccountsTable;
  verify_keys: VerifyKeysTable;
  verify_services: VerifyServicesTable;
  verify_verifications: VerifyVerificationsTable;
  verify_attempts: VerifyAttemptsTable;
  verify_rate_limits: VerifyRateLimitsTable;
  verify_rate_limit_buckets: VerifyRateLimitBucketsTable;
  verify_rate_limit_keys: VerifyRateLimitKeysTable;
  verify_rate_limit_hits: VerifyRateLimitHitsTable;
  verify_entities: VerifyEntitiesTable;
  verify_factors: VerifyFactorsTable;
  verify_challenges: VerifyChallengesTable;
  verify_webhooks: VerifyWebhooksTable;
  verify_access_tokens: VerifyAccessTokensTable;
}

// Twilio Verify v2 (0030, src/features/verify).
export interface VerifyAccountsTable {
  id: Generated<number>;
  sid: string;
  name: string;
  /** SHA-256 of the auth token: what requests are compared with. */
  auth_token_hash: string;
  /** The auth token itself, sealed (context: the SID): it signs Verify webhooks. */
  auth_token_sealed: string;
  created_at: number;
}

export interface VerifyKeysTable {
  id: Generated<number>;
  sid: string;
  account_id: number;
  name: string;
  /** SHA-256 of the secret; the secret is shown once, when the key is made. */
  secret_hash: string;
  created_at: number;
}

export interface VerifyServicesTable {
  id: Generated<number>;
  sid: string;
  account_id: number;
  /** The application the service sends through (outbox, providers, send guard, usage). */
  app_id: number;
  /** JSON: the service's Twilio settings (features/verify/render.ts ServiceSettings). */
  settings: string;
  created_at: number;
  updated_at: number;
}

export interface VerifyVerificationsTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  /** Blind index of the phone number (E.164) or email address (lower case). */
  to_index: string;
  to_sealed: string;
  channel: 'sms' | 'call' | 'email';
  status: 'pending' | 'approved' | 'canceled' | 'max_attempts_reached' | 'expired';
  /** Sealed: a start before expiry resends the same code. Null once the verification ended. */
  code_sealed: string | null;
  checks: Generated<number>;
  sends: Generated<number>;
  locale: string;
  /** JSON: amount, payee, tags, rate_limits, channel_configuration, custom_friendly_name. */
  details: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

export interface VerifyAttemptsTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  account_id: number;
  service_id: number;
  verification_id: number;
  to_index: string;
  channel: 'sms' | 'call' | 'email';
  /** ISO 3166 alpha-2 of a phone number; null for email. */
  country: string | null;
  /** The outbox message (SM…, CA…, EM…). */
  message_sid: string | null;
  created_at: number;
}

// Twilio Verify v2 factors (0033, src/features/verify/factors.ts): entities, TOTP and push
// factors, their challenges, and service webhooks.
export interface VerifyEntitiesTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  identity: string;
  created_at: number;
  updated_at: number;
}

export interface VerifyFactorsTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  entity_id: number;
  factor_type: 'totp' | 'push';
  friendly_name: string;
  status: 'unverified' | 'verified';
  /** TOTP: the base32 secret; push: the device's public key (base64 DER SPKI). Sealed, context: the SID. */
  binding_sealed: string;
  /** JSON: the factor's `config` as answered. */
  config: string;
  metadata: string | null;
  /** Wrong codes in a row (TOTP), and while locked, until when. */
  failures: Generated<number>;
  locked_until: number | null;
  /** The last TOTP step accepted: a code is good once per factor and step. */
  last_step: number | null;
  /** Push: the OpenFactor device (device_keys.id) that enrolled it and hears of its challenges. */
  device_key_id: number | null;
  created_at: number;
  updated_at: number;
}

/** A Verify access token (0034): a device may enrol one push factor for `identity` with it, once. The JWT is not kept: it is signed again from this row. */
export interface VerifyAccessTokensTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  identity: string;
  factor_type: 'push';
  friendly_name: string | null;
  ttl: number;
  created_at: number;
  used_at: number | null;
}

export interface VerifyChallengesTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  entity_id: number;
  factor_id: number;
  status: 'pending' | 'approved' | 'denied' | 'expired';
  responded_reason: 'none' | 'not_needed' | 'not_requested';
  /** JSON: `details` and `hidden_details` as answered; `metadata` from the device's answer. */
  details: string;
  hidden_details: string | null;
  metadata: string | null;
  failures: Generated<number>;
  expires_at: number;
  responded_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface VerifyWebhooksTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  friendly_name: string;
  /** JSON array of event types (`*` for all). */
  event_types: string;
  url: string;
  status: 'enabled' | 'disabled';
  version: 'v1' | 'v2';
  created_at: number;
  updated_at: number;
}

// Twilio Verify v2 rate limits (0032, src/features/verify/rate-limits.ts).
export interface VerifyRateLimitsTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  service_id: number;
  /** Unique per service: the name a verification's `RateLimits` uses. */
  unique_name: string;
  description: string | null;
  created_at: number;
  updated_at: number;
}

export interface VerifyRateLimitBucketsTable {
  id: Generated<number>;
  sid: string;
  app_id: number;
  rate_limit_id: number;
  /** At most `max` starts per key value in any `interval` seconds. */
  max: number;
  interval: number;
  created_at: number;
  updated_at: number;
}

/** One row per rate limit and key value: locked (upserted) by each start, so counting is exact across nodes. */
export interface VerifyRateLimitKeysTable {
  rate_limit_id: number;
  /** HMAC of the key value (the contacts index key): the value itself is never stored. */
  key_hash: string;
  app_id: number;
  used_at: number;
}

/** The starts counted per rate limit and key value, kept for the longest bucket interval. */
export interface VerifyRateLimitHitsTable {
  id: Generated<number>;
  app_id: number;
  rate_limit_id: number;
  key_hash: string;
  at: number;
}
