// Twilio Verify v2 tests: the official `twilio` client, pointed at a listening OpenFactor through
// an httpClient (the README's RequestClient subclass), and credentials made by the service.
import twilio from 'twilio';
import type IRequestClient from 'twilio/lib/base/RequestClient.js';
import { startApp, type TestApp } from './harness.ts';

/** The README's subclass: requests for verify.twilio.com (and its edge/region hosts) go to `baseUrl`. */
export class OpenFactorRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string) {
    super();
  }
  override request<TData>(opts: IRequestClient.RequestOptions<TData>) {
    const u = new URL(opts.uri);
    if (/^verify(\.[a-z0-9-]+)*\.twilio\.com$/i.test(u.hostname)) opts = { ...opts, uri: this.baseUrl.replace(/\/+$/, '') + u.pathname + u.search };
    return super.request<TData>(opts);
  }
}

export type Twilio = ReturnType<typeof twilio>;

/** A client of the account (`AC…`, auth token) or of one of its API keys (`SK…`, secret). */
export function verifyClient(baseUrl: string, user: string, password: string, accountSid = user): Twilio {
  return twilio(user, password, { accountSid, httpClient: new OpenFactorRequestClient(baseUrl) });
}

export interface VerifyAccountMade {
  sid: string;
  authToken: string;
}

export const newAccount = async (t: TestApp, name = 'Acme'): Promise<VerifyAccountMade> => t.of.services.verifyCredentials.createAccount(name);

/** twilio-node's RestException, or whatever `p` threw. */
export async function restError(p: Promise<unknown>): Promise<{ status: number; code: number; message: string; moreInfo: string }> {
  try {
    await p;
  } catch (e) {
    return e as { status: number; code: number; message: string; moreInfo: string };
  }
  throw new Error('expected the call to fail');
}

/** A raw request to `/v2/…` with Basic credentials (form body for POST). */
export async function raw(base: string, method: string, path: string, auth: { user: string; password: string } | undefined, form?: Record<string, string> | string) {
  const headers: Record<string, string> = {};
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  let body: string | undefined;
  if (form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  }
  const r = await fetch(base + path, { method, headers, body });
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text, headers: r.headers };
}

export type VerifyServiceClient = ReturnType<Twilio['verify']['v2']['services']>;

/** What most Verify test files start from: a listening server, an account, its client and one service. */
export interface VerifyBed {
  t: TestApp;
  base: string;
  acme: VerifyAccountMade;
  client: Twilio;
  va: string;
  svc: VerifyServiceClient;
}

/** A listening server (`env` as startApp's), an account and a service made with `service` through twilio-node. */
export async function verifyBed(service: Parameters<Twilio['verify']['v2']['services']['create']>[0], env: Record<string, string> = {}): Promise<VerifyBed> {
  const t = await startApp(env);
  const base = await t.listen();
  const acme = await newAccount(t);
  const client = verifyClient(base, acme.sid, acme.authToken);
  const va = (await client.verify.v2.services.create(service)).sid;
  return { t, base, acme, client, va, svc: client.verify.v2.services(va) };
}
