// What a phone change and an account recovery share: the person proves a phone (a code by SMS or
// voice, through the send guard's check made by the caller) and the address on file (a code by
// email), each code kept only as a keyed hash bound to the request.
import { createHmac, randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { ServiceAudit } from '../../admin/audit.ts';
import type { Kysely } from 'kysely';
import type { MasterKey } from '../../core/crypto.ts';
import { fail, type Failure } from '../../core/errors.ts';
import { emailText, smsText, voiceText } from '../../core/i18n.ts';
import { readString, type Params } from '../../core/params.ts';
import { normalizeCallingCode, parsePhone } from '../../core/phone.ts';
import type { Outbox } from '../../delivery/outbox.ts';
import type { Contacts } from '../../store/contacts.ts';
import type { DB } from '../../store/schema.ts';
import type { SendGuard } from '../send-guard/service.ts';
import type { SafetyLimits } from '../tokens/limits.ts';
import type { Webhooks } from '../webhooks/service.ts';

/** What every service that sends codes is given (app.ts builds it once). */
export interface SendingDeps {
  db: Kysely<DB>;
  keys: MasterKey[];
  contacts: Contacts;
  outbox: Outbox;
  wakeOutbox(): void;
  guard: SendGuard;
  limits: SafetyLimits;
  webhooks: Webhooks;
  log: FastifyBaseLogger;
  /** Recovery and phone-change steps taken by devices or the service go to the audit trail. */
  audit?: ServiceAudit;
}

export type Channel = 'sms' | 'voice';

/**
 * `country_code`, `phone_number` and `via` (`sms`, the default, or `voice`) of a request; with a
 * prefix (`new_`), the number's fields are read under it.
 */
export function readNumberAndChannel(body: Params, prefix = ''): { ok: true; e164: string; countryCode: number; channel: Channel } | Failure {
  const cc = readString(body, `${prefix}country_code`);
  const number = readString(body, `${prefix}phone_number`);
  const code = cc.ok && cc.value !== undefined ? normalizeCallingCode(cc.value) : undefined;
  const phone = code !== undefined && number.ok && number.value ? parsePhone(number.value, code) : undefined;
  if (!phone) return fail('PHONE_INVALID');
  const via = readString(body, 'via');
  const channel = via.ok && (via.value ?? 'sms') === 'sms' ? 'sms' : via.ok && via.value === 'voice' ? 'voice' : undefined;
  if (!channel) return fail('INVALID_PARAMETER', { message: 'Invalid parameter: via - must be sms or voice' });
  return { ok: true, e164: phone.e164, countryCode: phone.countryCode, channel };
}

export class ProofCodes {
  constructor(private readonly key: Buffer) {}

  /** Six random digits. */
  newCode(): string {
    return String(randomInt(1_000_000)).padStart(6, '0');
  }

  /** A code's stored form, bound to its request and to what it proves. */
  hash(id: string, what: 'pin' | 'new_pin' | 'email', code: string): string {
    return createHmac('sha256', this.key).update(`${id}:${what}:${code}`).digest('base64url');
  }

  /** Queues each phone's code and the email code (to every address on file) in the caller's transaction. */
  async enqueue(
    trx: Kysely<DB>,
    outbox: Outbox,
    m: { appId: number; phones: Array<{ e164: string; code: string }>; channel: Channel; emails: string[]; emailCode: string; locale: string; minutes: number; now: number },
  ): Promise<void> {
    const vars = (code: string) => ({ appName: 'OpenFactor', code, minutes: m.minutes });
    for (const p of m.phones) {
      const text = m.channel === 'voice' ? voiceText(m.locale, vars(p.code)) : smsText(m.locale, vars(p.code));
      await outbox.enqueue(trx, { appId: m.appId, userId: null, channel: m.channel, destination: p.e164, text, locale: m.locale }, m.now);
    }
    const mail = emailText(m.locale, vars(m.emailCode));
    for (const destination of m.emails) {
      await outbox.enqueue(trx, { appId: m.appId, userId: null, channel: 'email', destination, text: `${mail.subject}\n\n${mail.text}`, locale: m.locale }, m.now);
    }
  }
}
