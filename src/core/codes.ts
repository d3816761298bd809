// Codes sent for a verification (Authy's phone verification and Twilio Verify v2 share these
// rules): ten minutes to live, five checks, a start within the lifetime resends the same code.
import { randomInt } from 'node:crypto';
import { emailText, smsText, voiceText, type MessageVars } from './i18n.ts';

export const VERIFICATION_LIFETIME_MS = 10 * 60_000;
export const VERIFICATION_MAX_CHECKS = 5;

export const randomDigits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');

/** A custom message names the code with `{{code}}`; without it the code follows the text. */
export const withCode = (message: string, code: string) => (message.includes('{{code}}') ? message.replaceAll('{{code}}', code) : `${message} ${code}`);

/** Whether a start now resends this verification's code rather than making a new one. */
export const resendable = (v: { status: string; expires_at: number | string; checks: number; code_sealed: string | null }, now: number): boolean =>
  v.status === 'pending' && Number(v.expires_at) > now && v.checks < VERIFICATION_MAX_CHECKS && v.code_sealed !== null;

/** The text of a code message in `locale` (or the caller's own, with `{{code}}`); an email is subject, blank line, body. */
export function codeText(channel: 'sms' | 'call' | 'email', locale: string, vars: MessageVars, custom?: string): string {
  if (custom) return withCode(custom, vars.code);
  if (channel === 'call') return voiceText(locale, vars);
  if (channel === 'sms') return smsText(locale, vars);
  const mail = emailText(locale, vars);
  return `${mail.subject}\n\n${mail.text}`;
}
