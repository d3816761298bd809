// A local stand-in for Twilio's REST API (Messages and Calls), strict about the request format
// Twilio documents, and able to send status callbacks signed as Twilio signs them. The signature
// is computed here from Twilio's documented algorithm, not with OpenFactor's code.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TwilioRequest {
  resource: 'Messages' | 'Calls';
  form: URLSearchParams;
  sid?: string;
}

export type TwilioMode = 'ok' | 'fail' | 'hang';

export interface FakeTwilio {
  url: string; // twilio://SID:TOKEN@127.0.0.1:port?tls=off&from=…
  accountSid: string;
  authToken: string;
  requests: TwilioRequest[];
  /** What the next requests get: `fail` a 500, `hang` no answer at all. */
  mode: TwilioMode;
  /** Numbers Twilio refuses as invalid (21211). */
  invalidNumbers: Set<string>;
  /** POSTs a status callback for a message or call, signed with `token` (default: the right one). */
  callback(sid: string, status: string, token?: string): Promise<number>;
  close(): Promise<void>;
}

const E164 = /^\+[1-9]\d{6,14}$/;

export function twilioTestSignature(token: string, url: string, form: URLSearchParams): string {
  const sorted = [...form.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHmac('sha1', token).update(url + sorted.map(([k, v]) => k + v).join('')).digest('base64');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeTwilio(from = '+15005550006'): Promise<FakeTwilio> {
  const accountSid = 'AC' + randomBytes(16).toString('hex');
  const authToken = randomBytes(16).toString('hex');
  const requests: TwilioRequest[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const fake = { mode: 'ok' as TwilioMode, invalidNumbers: new Set<string>() };

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    const error = (status: number, code: number, message: string) => send(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });
    const m = /^\/2010-04-01\/Accounts\/([^/]+)\/(Messages|Calls)\.json$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return error(404, 20404, 'The requested resource was not found');
    const expected = 'Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64');
    if (req.headers.authorization !== expected || m[1] !== accountSid) return error(401, 20003, 'Authenticate');
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return error(400, 20001, 'Content-Type must be form-urlencoded');
    const form = new URLSearchParams(body);
    const resource = m[2] as 'Messages' | 'Calls';
    const record: TwilioRequest = { resource, form };
    requests.push(record);
    if (fake.mode === 'hang') return void hanging.add(res);
    if (fake.mode === 'fail') return error(500, 20500, 'Internal Server Error');
    const to = form.get('To') ?? '';
    if (!E164.test(to) || fake.invalidNumbers.has(to)) return error(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!form.get('From') && !(resource === 'Messages' && form.get('MessagingServiceSid'))) return error(400, 21603, "A 'From' phone number is required.");
    if (resource === 'Messages' && !form.get('Body')) return error(400, 21602, 'Message body is required.');
    if (resource === 'Calls' && !form.get('Twiml') && !form.get('Url')) return error(400, 21205, 'Url or Twiml is required.');
    const sid = (resource === 'Messages' ? 'SM' : 'CA') + randomBytes(16).toString('hex');
    record.sid = sid;
    send(201, { sid, account_sid: accountSid, to, from: form.get('From'), status: 'queued', ...(resource === 'Messages' ? { body: form.get('Body') } : {}) });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  return Object.assign(fake, {
    url: `twilio://${accountSid}:${authToken}@127.0.0.1:${port}?tls=off&from=${encodeURIComponent(from)}`,
    accountSid,
    authToken,
    requests,
    async callback(sid: string, status: string, token = authToken) {
      const r = requests.find((x) => x.sid === sid);
      const url = r?.form.get('StatusCallback');
      if (!r || !url) throw new Error(`no StatusCallback for ${sid}`);
      const form = new URLSearchParams(
        r.resource === 'Messages'
          ? { AccountSid: accountSid, MessageSid: sid, SmsSid: sid, MessageStatus: status, SmsStatus: status, To: r.form.get('To')!, From: from, ApiVersion: '2010-04-01' }
          : { AccountSid: accountSid, CallSid: sid, CallStatus: status, To: r.form.get('To')!, From: from, ApiVersion: '2010-04-01', Direction: 'outbound-api' },
      );
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioTestSignature(token, url, form) }, body: form });
      return res.status;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}
