// Twilio: SMS through the Messages REST API, voice through the Calls REST API with TwiML that
// reads the code. Receipts are Twilio's status callbacks, checked with X-Twilio-Signature.
//   twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B15005550006
//   options: from | messaging_service (SMS), voice (a TwiML voice name), tls=off (a local test API), timeout (ms)
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../core/crypto.ts';
import type { OutgoingMessage, Provider, ReceiptCheck, ReceiptRequest, ReceiptStatus, SendResult } from '../provider.ts';

/** Twilio error codes that are about the destination or content: another provider would fail too. */
const PERMANENT_CODES = new Set([21211, 21214, 21217, 21219, 21408, 21610, 21612, 21614, 21617, 13224]);

/** BCP-47 tags for `<Say language>`, per Authy locale. */
const SAY_LANGUAGE: Record<string, string> = {
  af: 'af-ZA', ar: 'ar-AE', ca: 'ca-ES', zh: 'zh-CN', 'zh-CN': 'zh-CN', 'zh-HK': 'zh-HK', hr: 'hr-HR', cs: 'cs-CZ', da: 'da-DK',
  nl: 'nl-NL', en: 'en-US', fi: 'fi-FI', fr: 'fr-FR', de: 'de-DE', el: 'el-GR', he: 'he-IL', hi: 'hi-IN', hu: 'hu-HU', id: 'id-ID',
  it: 'it-IT', ja: 'ja-JP', ko: 'ko-KR', ms: 'ms-MY', nb: 'nb-NO', pl: 'pl-PL', 'pt-BR': 'pt-BR', pt: 'pt-PT', ro: 'ro-RO', ru: 'ru-RU',
  es: 'es-ES', sv: 'sv-SE', tl: 'fil-PH', th: 'th-TH', tr: 'tr-TR', vi: 'vi-VN',
};

const SMS_STATUS: Record<string, ReceiptStatus> = { sent: 'sent', delivered: 'delivered', undelivered: 'undelivered', failed: 'failed' };
const CALL_STATUS: Record<string, ReceiptStatus> = { completed: 'delivered', busy: 'undelivered', 'no-answer': 'undelivered', canceled: 'undelivered', failed: 'failed' };

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function twiml(text: string, locale: string, voice?: string): string {
  const lang = SAY_LANGUAGE[locale] ?? 'en-US';
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Say language="${lang}"${voice ? ` voice="${xmlEscape(voice)}"` : ''}>${xmlEscape(text)}</Say></Response>`;
}

/** X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted form parameters, base64. */
export function twilioSignature(authToken: string, url: string, form: URLSearchParams): string {
  const keys = [...new Set(form.keys())].sort();
  const data = url + keys.map((k) => form.getAll(k).map((v) => k + v).join('')).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  apiBase: string;
  from?: string;
  messagingService?: string;
  voice?: string;
  timeoutMs: number;
}

export function twilioProvider(o: TwilioOptions): Provider {
  const auth = 'Basic ' + Buffer.from(`${o.accountSid}:${o.authToken}`).toString('base64');
  const resource = (name: string) => `${o.apiBase}/2010-04-01/Accounts/${encodeURIComponent(o.accountSid)}/${name}.json`;

  return {
    kind: 'twilio',
    label: `twilio:${o.accountSid}`,
    channels: ['sms', 'voice'],
    idempotent: false,
    timeoutMs: o.timeoutMs,

    async send(m: OutgoingMessage, signal: AbortSignal): Promise<SendResult> {
      const form = new URLSearchParams({ To: m.destination });
      if (m.channel === 'sms' && o.messagingService) form.set('MessagingServiceSid', o.messagingService);
      else form.set('From', o.from ?? '');
      if (m.channel === 'sms') form.set('Body', m.text);
      else form.set('Twiml', twiml(m.text, m.locale, o.voice));
      if (m.receiptUrl) {
        form.set('StatusCallback', m.receiptUrl);
        if (m.channel === 'voice') form.append('StatusCallbackEvent', 'completed');
      }
      const res = await fetch(resource(m.channel === 'sms' ? 'Messages' : 'Calls'), {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'openfactor' },
        body: form,
        signal,
      });
      const body = (await res.json().catch(() => ({}))) as { sid?: string; code?: number; message?: string };
      if (res.ok && typeof body.sid === 'string') return { ok: true, providerMessageId: body.sid };
      const error = `twilio ${res.status}${body.code ? ` ${body.code}` : ''}: ${body.message ?? 'no sid in the answer'}`;
      return { ok: false, error, permanent: res.status === 400 && PERMANENT_CODES.has(Number(body.code)) };
    },

    readReceipt(req: ReceiptRequest): ReceiptCheck {
      const form = new URLSearchParams(req.rawBody.toString('utf8'));
      const given = req.headers['x-twilio-signature'];
      if (typeof given !== 'string' || form.get('AccountSid') !== o.accountSid) return { genuine: false };
      if (!constantTimeEqual(given, twilioSignature(o.authToken, req.url, form))) return { genuine: false };
      const messageSid = form.get('MessageSid');
      const callSid = form.get('CallSid');
      const status = messageSid ? SMS_STATUS[form.get('MessageStatus') ?? ''] : CALL_STATUS[form.get('CallStatus') ?? ''];
      const id = messageSid ?? callSid;
      if (!id || !status) return { genuine: true };
      const code = form.get('ErrorCode');
      return { genuine: true, receipt: { providerMessageId: id, status, detail: code ? `twilio error ${code}` : undefined } };
    },
  };
}
