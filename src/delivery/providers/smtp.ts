// Email codes through nodemailer: a plain-text and an HTML part, in the message's language.
//   smtp://user:pass@host:587?from=OpenFactor%20%3Cno-reply%40example.com%3E   (STARTTLS when offered)
//   smtps://user:pass@host:465?from=…                                         (TLS from the start)
//   options: from (required), tls_verify=off (a self-signed server), timeout (ms)
import type nodemailerTypes from 'nodemailer';
import { lazy } from '../../core/lazy.ts';

const nodemailer = lazy<typeof nodemailerTypes>('nodemailer');
import type { OutgoingMessage, Provider, SendResult } from '../provider.ts';

const RTL = new Set(['ar', 'he']);
const CLOSE_AFTER_MS = 1000;
const htmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Our email texts are the subject, a blank line, then the body. */
export function emailParts(text: string): { subject: string; body: string } {
  const cut = text.indexOf('\n\n');
  return cut < 0 ? { subject: text, body: text } : { subject: text.slice(0, cut), body: text.slice(cut + 2) };
}

export function emailHtml(body: string, locale: string): string {
  const paragraphs = body.split(/\n{2,}/).map((p) => `<p>${htmlEscape(p).replace(/\n/g, '<br>')}</p>`).join('\n');
  return `<!doctype html><html lang="${htmlEscape(locale)}"${RTL.has(locale) ? ' dir="rtl"' : ''}><head><meta charset="utf-8"></head><body style="font-family:sans-serif">\n${paragraphs}\n</body></html>`;
}

export interface SmtpOptions {
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  pass?: string;
  from: string;
  verifyTls: boolean;
  timeoutMs: number;
}

export function smtpProvider(o: SmtpOptions): Provider {
  const transport = nodemailer().createTransport({
    host: o.host,
    port: o.port,
    secure: o.secure,
    auth: o.user ? { user: o.user, pass: o.pass ?? '' } : undefined,
    tls: { rejectUnauthorized: o.verifyTls },
    // The router gives up at timeoutMs and reports a timeout; nodemailer's own timers only end the
    // connection afterwards. Equal deadlines raced: nodemailer cuts the greeting wait to what is
    // left of connectionTimeout, so its error could come first and read as a plain failure.
    connectionTimeout: o.timeoutMs + CLOSE_AFTER_MS,
    greetingTimeout: o.timeoutMs + CLOSE_AFTER_MS,
    socketTimeout: o.timeoutMs + CLOSE_AFTER_MS,
  });
  const domain = o.from.replace(/^.*@/, '').replace(/[>\s].*$/, '') || 'openfactor.invalid';
  return {
    kind: 'smtp',
    label: `smtp:${o.host}:${o.port}`,
    channels: ['email'],
    idempotent: false,
    timeoutMs: o.timeoutMs,

    async send(m: OutgoingMessage): Promise<SendResult> {
      // The router bounds the wait; nodemailer's own timeouts end the connection.
      const { subject, body } = emailParts(m.text);
      const mail = transport.sendMail({
        from: o.from,
        to: m.destination,
        subject,
        text: body,
        html: emailHtml(body, m.locale),
        messageId: `<${m.idempotencyKey}@${domain}>`,
        headers: { 'Content-Language': m.locale, 'Auto-Submitted': 'auto-generated' },
      });
      try {
        const info = await mail;
        return { ok: true, providerMessageId: info.messageId };
      } catch (e) {
        const err = e as { responseCode?: number; message?: string };
        // 5xx after RCPT/DATA: the mailbox or the content is refused for good.
        const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode !== 530 && err.responseCode !== 535;
        return { ok: false, error: `smtp: ${err.message ?? String(e)}`.slice(0, 300), permanent };
      }
    },

    async close() {
      transport.close();
    },
  };
}
