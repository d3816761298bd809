// What the Verify v2 routes read from a request, checked: Twilio's 60200 ("Invalid parameter: X")
// for anything malformed. Unknown parameters are ignored, as Twilio does.
import { twilioFail, twilioInvalid, type TwilioFailure } from '../../core/errors.ts';
import type { Params } from '../../core/params.ts';
import { parseE164 } from '../../core/phone.ts';
import type { ServiceSettings, VerificationDetails } from './render.ts';
import { bool, int, jsonObject, sidParam, str } from './twilio.ts';

type Read<T> = { ok: true; value: T } | TwilioFailure;

/** One service parameter: its wire name, its place in the settings and how it is read. */
type Setter = (s: ServiceSettings, params: Params) => TwilioFailure | undefined;

const boolean =
  (name: string, set: (s: ServiceSettings, v: boolean) => void): Setter =>
  (s, params) => {
    const r = bool(params, name);
    if (!r.ok) return r;
    if (r.value !== undefined) set(s, r.value);
  };
const whole =
  (name: string, min: number, max: number, set: (s: ServiceSettings, v: number) => void): Setter =>
  (s, params) => {
    const r = int(params, name, min, max);
    if (!r.ok) return r;
    if (r.value !== undefined) set(s, r.value);
  };
/** A text setting; empty clears it (null). */
const text =
  (name: string, max: number, set: (s: ServiceSettings, v: string | null) => void): Setter =>
  (s, params) => {
    const r = str(params, name, max);
    if (!r.ok) return r;
    if (r.value !== undefined) set(s, r.value.trim() === '' ? null : r.value);
  };
const sid =
  (name: string, prefix: string, set: (s: ServiceSettings, v: string | null) => void): Setter =>
  (s, params) => {
    const r = sidParam(params, name, prefix);
    if (!r.ok) return r;
    if (r.value !== undefined) set(s, r.value);
  };

/** Create and update of a service take the same parameters (research §2.1). */
const SERVICE_PARAMS: Setter[] = [
  whole('CodeLength', 4, 10, (s, v) => (s.code_length = v)),
  boolean('LookupEnabled', (s, v) => (s.lookup_enabled = v)),
  boolean('SkipSmsToLandlines', (s, v) => (s.skip_sms_to_landlines = v)),
  boolean('DtmfInputRequired', (s, v) => (s.dtmf_input_required = v)),
  boolean('Psd2Enabled', (s, v) => (s.psd2_enabled = v)),
  boolean('DoNotShareWarningEnabled', (s, v) => (s.do_not_share_warning_enabled = v)),
  boolean('CustomCodeEnabled', (s, v) => (s.custom_code_enabled = v)),
  boolean('VerifyEventSubscriptionEnabled', (s, v) => (s.verify_event_subscription_enabled = v)),
  text('TtsName', 100, (s, v) => (s.tts_name = v)),
  sid('DefaultTemplateSid', 'HJ', (s, v) => (s.default_template_sid = v)),
  boolean('Push.IncludeDate', (s, v) => (s.push.include_date = v)),
  sid('Push.ApnCredentialSid', 'CR', (s, v) => (s.push.apn_credential_sid = v)),
  sid('Push.FcmCredentialSid', 'CR', (s, v) => (s.push.fcm_credential_sid = v)),
  text('Totp.Issuer', 100, (s, v) => (s.totp.issuer = v)),
  whole('Totp.TimeStep', 20, 60, (s, v) => (s.totp.time_step = v)),
  whole('Totp.CodeLength', 3, 8, (s, v) => (s.totp.code_length = v)),
  whole('Totp.Skew', 0, 2, (s, v) => (s.totp.skew = v)),
  sid('Whatsapp.MsgServiceSid', 'MG', (s, v) => (s.whatsapp.msg_service_sid = v)),
  text('Whatsapp.From', 40, (s, v) => (s.whatsapp.from = v)),
];

/** `FriendlyName`: 1–32 printable characters (required on create). */
export function readFriendlyName(params: Params, required: boolean): Read<string | undefined> {
  const r = str(params, 'FriendlyName', 1000);
  if (!r.ok) return r;
  if (r.value === undefined && !required) return r;
  const name = r.value?.trim() ?? '';
  if (!name || name.length > 32 || /[\u0000-\u001f\u007f]/.test(name)) return twilioInvalid('FriendlyName', '1 to 32 characters');
  return { ok: true, value: name };
}

/** `settings` with the request's parameters applied (a copy), or the first bad parameter. */
export function applyServiceParams(settings: ServiceSettings, params: Params, friendlyName: string | undefined): Read<ServiceSettings> {
  const next: ServiceSettings = structuredClone(settings);
  if (friendlyName !== undefined) next.friendly_name = friendlyName;
  for (const set of SERVICE_PARAMS) {
    const bad = set(next, params);
    if (bad) return bad;
  }
  return { ok: true, value: next };
}

export type Channel = 'sms' | 'call' | 'email';
/** Twilio's channels we have no provider for: refused with 60223. */
const UNSERVED = new Set(['whatsapp', 'sna', 'auto', 'rbm', 'voice_otp']);

export interface StartInput {
  to: string;
  channel: Channel;
  locale: string | undefined;
  customCode: string | undefined;
  customMessage: string | undefined;
  details: VerificationDetails;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/;

/** The destination of `channel`: an E.164 number or an email address (lower case). */
export function readTo(value: string | undefined, channel: Channel, name = 'To'): Read<string> {
  const raw = value?.trim() ?? '';
  if (channel === 'email') return EMAIL.test(raw) && raw.length <= 320 ? { ok: true, value: raw.toLowerCase() } : twilioInvalid(name);
  const e164 = parseE164(raw);
  return e164 ? { ok: true, value: e164 } : twilioInvalid(name);
}

/** `POST …/Verifications`. */
export function readStart(params: Params, service: ServiceSettings): Read<StartInput> {
  const channelR = str(params, 'Channel', 20);
  if (!channelR.ok) return channelR;
  const channel = channelR.value?.trim().toLowerCase() ?? '';
  if (UNSERVED.has(channel)) return twilioFail('CHANNEL_DISABLED', `Delivery channel disabled: ${channel} (this OpenFactor has no ${channel} provider; use sms, call or email)`);
  if (channel !== 'sms' && channel !== 'call' && channel !== 'email') return twilioInvalid('Channel');
  const toR = str(params, 'To', 400);
  if (!toR.ok) return toR;
  const to = readTo(toR.value, channel);
  if (!to.ok) return to;

  const fields: Record<string, string | undefined> = {};
  for (const [name, max] of [['Locale', 20], ['CustomFriendlyName', 64], ['CustomMessage', 300], ['CustomCode', 10], ['SendDigits', 32], ['Amount', 64], ['Payee', 128], ['AppHash', 20]] as const) {
    const r = str(params, name, max);
    if (!r.ok) return twilioInvalid(name, `at most ${max} characters`);
    fields[name] = r.value?.trim() || undefined;
  }
  if (fields.CustomCode !== undefined) {
    if (!service.custom_code_enabled) return twilioInvalid('CustomCode', 'custom codes are not enabled for this service');
    if (!/^[0-9A-Za-z]{4,10}$/.test(fields.CustomCode)) return twilioInvalid('CustomCode', '4 to 10 letters or digits');
  }
  if ((fields.Amount !== undefined || fields.Payee !== undefined) && !service.psd2_enabled) return twilioInvalid(fields.Amount !== undefined ? 'Amount' : 'Payee', 'PSD2 is not enabled for this service');
  if (fields.SendDigits !== undefined && !/^[0-9wW#*]{1,32}$/.test(fields.SendDigits)) return twilioInvalid('SendDigits');
  const rateLimits = jsonObject(params, 'RateLimits');
  if (!rateLimits.ok) return rateLimits;
  const channelConfiguration = jsonObject(params, 'ChannelConfiguration', true);
  if (!channelConfiguration.ok) return channelConfiguration;
  const tags = jsonObject(params, 'Tags');
  if (!tags.ok) return tags;
  if (tags.value && Object.keys(tags.value).length > 10) return twilioInvalid('Tags', 'at most 10 tags');
  return {
    ok: true,
    value: {
      to: to.value,
      channel,
      locale: fields.Locale,
      customCode: fields.CustomCode,
      customMessage: fields.CustomMessage,
      details: {
        amount: fields.Amount ?? null,
        payee: fields.Payee ?? null,
        custom_friendly_name: fields.CustomFriendlyName ?? null,
        send_digits: fields.SendDigits ?? null,
        tags: tags.value ?? null,
        rate_limits: rateLimits.value ?? null,
        channel_configuration: channelConfiguration.value ?? null,
        code_length: fields.CustomCode?.length ?? service.code_length,
      },
    },
  };
}

export interface CheckInput {
  code: string;
  to: string | undefined;
  verificationSid: string | undefined;
  amount: string | undefined;
  payee: string | undefined;
}

/** `POST …/VerificationCheck`: `Code` and `To` or `VerificationSid`. */
export function readCheck(params: Params): Read<CheckInput> {
  const code = str(params, 'Code', 100);
  if (!code.ok) return code;
  const given = code.value?.trim() ?? '';
  if (!/^[0-9A-Za-z]{4,10}$/.test(given)) return twilioInvalid('Code');
  const sidR = str(params, 'VerificationSid', 100);
  if (!sidR.ok) return sidR;
  const to = str(params, 'To', 400);
  if (!to.ok) return to;
  const amount = str(params, 'Amount', 64);
  if (!amount.ok) return amount;
  const payee = str(params, 'Payee', 128);
  if (!payee.ok) return payee;
  const verificationSid = sidR.value?.trim() || undefined;
  const toValue = to.value?.trim() || undefined;
  if (verificationSid === undefined && toValue === undefined) return twilioInvalid('To', 'either To or VerificationSid is required');
  return { ok: true, value: { code: given, to: toValue, verificationSid, amount: amount.value?.trim() || undefined, payee: payee.value?.trim() || undefined } };
}
