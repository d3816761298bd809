// Verify v2 resources as Twilio answers them: snake_case fields, every field present (null when
// unknown), absolute `url` and `links`.
import { isoDate } from './twilio.ts';

/** A service's Twilio settings, stored as JSON in the shape they are answered in. */
export interface ServiceSettings {
  friendly_name: string;
  code_length: number;
  lookup_enabled: boolean;
  psd2_enabled: boolean;
  skip_sms_to_landlines: boolean;
  dtmf_input_required: boolean;
  tts_name: string | null;
  do_not_share_warning_enabled: boolean;
  custom_code_enabled: boolean;
  verify_event_subscription_enabled: boolean;
  default_template_sid: string | null;
  push: { include_date: boolean; apn_credential_sid: string | null; fcm_credential_sid: string | null };
  totp: { issuer: string | null; time_step: number; code_length: number; skew: number };
  whatsapp: { msg_service_sid: string | null; from: string | null };
}

export const defaultSettings = (friendlyName: string): ServiceSettings => ({
  friendly_name: friendlyName,
  code_length: 6,
  lookup_enabled: false,
  psd2_enabled: false,
  skip_sms_to_landlines: false,
  dtmf_input_required: false,
  tts_name: null,
  do_not_share_warning_enabled: false,
  custom_code_enabled: false,
  verify_event_subscription_enabled: false,
  default_template_sid: null,
  push: { include_date: false, apn_credential_sid: null, fcm_credential_sid: null },
  totp: { issuer: null, time_step: 30, code_length: 6, skew: 1 },
  whatsapp: { msg_service_sid: null, from: null },
});

export interface ServiceView {
  sid: string;
  accountSid: string;
  settings: ServiceSettings;
  createdAt: number;
  updatedAt: number;
}

export function renderService(s: ServiceView, base: string) {
  const url = `${base}/v2/Services/${s.sid}`;
  return {
    sid: s.sid,
    account_sid: s.accountSid,
    ...s.settings,
    mailer_sid: null,
    passkeys: null,
    date_created: isoDate(s.createdAt),
    date_updated: isoDate(s.updatedAt),
    url,
    links: {
      verification_checks: `${url}/VerificationCheck`,
      verifications: `${url}/Verifications`,
      rate_limits: `${url}/RateLimits`,
      messaging_configurations: `${url}/MessagingConfigurations`,
      entities: `${url}/Entities`,
      webhooks: `${url}/Webhooks`,
      access_tokens: `${url}/AccessTokens`,
    },
  };
}

/** What a verification keeps beside its code (the `details` column). */
export interface VerificationDetails {
  amount: string | null;
  payee: string | null;
  custom_friendly_name: string | null;
  send_digits: string | null;
  tags: Record<string, unknown> | null;
  rate_limits: Record<string, unknown> | null;
  channel_configuration: Record<string, unknown> | null;
  code_length: number;
}

export interface VerificationView {
  sid: string;
  serviceSid: string;
  accountSid: string;
  to: string;
  channel: 'sms' | 'call' | 'email';
  status: string;
  details: VerificationDetails;
  createdAt: number;
  updatedAt: number;
  attempts: { sid: string; channel: string; created_at: number | string }[];
}

/** What a verification and a check answer both carry. */
function verificationFields(v: Omit<VerificationView, 'attempts'>) {
  return {
    sid: v.sid,
    service_sid: v.serviceSid,
    account_sid: v.accountSid,
    to: v.to,
    channel: v.channel,
    status: v.status,
    valid: v.status === 'approved',
    amount: v.details.amount,
    payee: v.details.payee,
    date_created: isoDate(v.createdAt),
    date_updated: isoDate(v.updatedAt),
  };
}

export function renderVerification(v: VerificationView, base: string) {
  return {
    ...verificationFields(v),
    lookup: {},
    send_code_attempts: v.attempts.map((a) => ({ attempt_sid: a.sid, channel: a.channel.toUpperCase(), time: isoDate(a.created_at) })),
    sna: null,
    tags: v.details.tags,
    url: `${base}/v2/Services/${v.serviceSid}/Verifications/${v.sid}`,
  };
}

/** The answer to a check: the verification's SID, no `url`. */
export const renderCheck = (v: Omit<VerificationView, 'attempts'>) => ({ ...verificationFields(v), sna_attempts_error_codes: [] });

export interface AttemptView {
  sid: string;
  accountSid: string;
  serviceSid: string;
  verificationSid: string;
  channel: string;
  converted: boolean;
  to: string;
  country: string | null;
  locale: string;
  codeLength: number;
  createdAt: number;
  updatedAt: number;
}

export function renderAttempt(a: AttemptView, base: string) {
  return {
    sid: a.sid,
    account_sid: a.accountSid,
    service_sid: a.serviceSid,
    verification_sid: a.verificationSid,
    date_created: isoDate(a.createdAt),
    date_updated: isoDate(a.updatedAt),
    conversion_status: a.converted ? 'converted' : 'unconverted',
    channel: a.channel,
    price: null,
    channel_data: {
      verification_sid: a.verificationSid,
      to: a.to,
      status: a.converted ? 'confirmed' : 'unconfirmed',
      country: a.country,
      code_length: a.codeLength,
      locale: a.locale,
    },
    url: `${base}/v2/Attempts/${a.sid}`,
  };
}
