// Verify v2 service webhooks (`/v2/Services/{VA}/Webhooks`, YW…): factor and challenge events,
// POSTed as a form through OpenFactor's hook delivery (a row per event, retried with backoff,
// only to addresses the destination rules allow) and signed as Twilio signs: `X-Twilio-Signature`
// = base64 HMAC-SHA1, keyed with the account's auth token, of the URL followed by each parameter
// name and value in name order; twilio-node's `validateRequest` accepts it.
import { createHmac, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { twilioInvalid, type TwilioFailure } from '../../core/errors.ts';
import type { Params } from '../../core/params.ts';
import type { Destinations } from '../../delivery/destinations.ts';
import { unsafeUrl } from '../../delivery/destinations.ts';
import type { DueHook, Hooks, SignedRequest } from '../../delivery/hooks.ts';
import type { DB } from '../../store/schema.ts';
import type { VerifyAccount } from './credentials.ts';
import * as fq from './factors-queries.ts';
import { serviceBySid } from './queries.ts';
import type { Answer } from './service.ts';
import { isoDate, isSid, listBody, newSid, notFound, readPaging, str } from './twilio.ts';

/** The events Twilio's Verify webhooks send (`*`: all of them). */
export const VERIFY_EVENT_TYPES = ['factor.created', 'factor.verified', 'factor.deleted', 'challenge.approved', 'challenge.denied'] as const;
const EVENT_TYPES = new Set<string>(['*', ...VERIFY_EVENT_TYPES]);
const MAX_WEBHOOKS = 20;

/** Twilio's request signature: base64 HMAC-SHA1(token, url + name1 + value1 + …), names sorted. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf-8')).digest('base64');
}

export interface ServiceWebhookDeps {
  db: Kysely<DB>;
  hooks: Pick<Hooks, 'enqueue' | 'wake'>;
  destinations: Pick<Destinations, 'check'>;
  /** The account's auth token (it signs). */
  authToken(accountSid: string): Promise<string | undefined>;
}

export class ServiceWebhooks {
  constructor(private readonly d: ServiceWebhookDeps) {}

  /** Queues `event` for every enabled webhook of the service that takes it. */
  async emit(service: { id: number; sid: string; appId: number }, event: string, fields: Record<string, string>): Promise<void> {
    const hooks = (await fq.enabledWebhooks(this.d.db, service.id)).filter((w) => {
      const types = JSON.parse(w.event_types) as string[];
      return types.includes('*') || types.includes(event);
    });
    if (!hooks.length) return;
    const now = Date.now();
    for (const w of hooks) {
      const payload = { uuid: randomUUID(), type: event, ...fields, date_created: isoDate(now) };
      await this.d.hooks.enqueue(this.d.db, { appId: service.appId, kind: 'verify_webhook', target: w.sid, event, url: w.url, method: 'POST', payload }, now);
    }
    this.d.hooks.wake();
  }

  /** The request for a queued delivery, signed now with the account's auth token. */
  async sign(h: DueHook): Promise<SignedRequest | undefined> {
    const w = await fq.webhookForSigning(this.d.db, h.target);
    if (w?.status !== 'enabled') return undefined;
    const token = await this.d.authToken(w.account_sid);
    if (!token) return undefined;
    const params = Object.fromEntries(Object.entries(h.payload).map(([k, v]) => [k, String(v)]));
    return {
      url: w.url,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'x-twilio-signature': twilioSignature(token, w.url, params), 'user-agent': 'OpenFactor-Verify-Webhooks/1' },
      body: new URLSearchParams(params).toString(),
    };
  }

  // The resource --------------------------------------------------------------------------------

  private async serviceOf(account: VerifyAccount, sid: string) {
    const row = isSid('VA', sid) ? await serviceBySid(this.d.db, account.id, sid) : undefined;
    return row && { id: row.id, sid: row.sid, appId: row.app_id };
  }

  private body(account: VerifyAccount, serviceSid: string, w: fq.WebhookRow, base: string) {
    return {
      sid: w.sid,
      account_sid: account.sid,
      service_sid: serviceSid,
      friendly_name: w.friendly_name,
      event_types: JSON.parse(w.event_types) as string[],
      webhook_method: 'POST',
      webhook_url: w.url,
      status: w.status,
      version: w.version,
      date_created: isoDate(w.created_at),
      date_updated: isoDate(w.updated_at),
      url: `${base}/v2/Services/${serviceSid}/Webhooks/${w.sid}`,
    };
  }

  /** The parameters of create (all required but Status and Version) and update (all optional). */
  private async read(params: Params, creating: boolean): Promise<{ ok: true; value: Partial<Pick<fq.WebhookRow, 'friendly_name' | 'event_types' | 'url' | 'status' | 'version'>> } | TwilioFailure> {
    const out: Partial<Pick<fq.WebhookRow, 'friendly_name' | 'event_types' | 'url' | 'status' | 'version'>> = {};
    const name = str(params, 'FriendlyName', 1000);
    if (!name.ok) return name;
    if (name.value !== undefined || creating) {
      const n = name.value?.trim() ?? '';
      if (!n || n.length > 64 || /[\u0000-\u001f\u007f]/.test(n)) return twilioInvalid('FriendlyName', '1 to 64 characters');
      out.friendly_name = n;
    }
    const raw = params.EventTypes;
    if (raw !== undefined || creating) {
      const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
      if (!list.length || list.length > 10 || list.some((e) => typeof e !== 'string' || !EVENT_TYPES.has(e.trim()))) return twilioInvalid('EventTypes', `one or more of ${[...EVENT_TYPES].join(', ')}`);
      out.event_types = JSON.stringify([...new Set(list.map((e) => (e as string).trim()))]);
    }
    const url = str(params, 'WebhookUrl', 2000);
    if (!url.ok) return url;
    if (url.value !== undefined || creating) {
      const u = url.value?.trim() ?? '';
      if (!/^https?:\/\//i.test(u) || unsafeUrl(u)) return twilioInvalid('WebhookUrl', 'an http or https URL');
      const refused = await this.d.destinations.check(u);
      if (refused) return twilioInvalid('WebhookUrl', `cannot be called: ${refused}`);
      out.url = u;
    }
    const status = str(params, 'Status', 20);
    if (!status.ok) return status;
    if (status.value !== undefined) {
      const s = status.value.trim().toLowerCase();
      if (s !== 'enabled' && s !== 'disabled') return twilioInvalid('Status', 'enabled or disabled');
      out.status = s;
    }
    const version = str(params, 'Version', 10);
    if (!version.ok) return version;
    if (version.value !== undefined) {
      const v = version.value.trim().toLowerCase();
      if (v !== 'v1' && v !== 'v2') return twilioInvalid('Version', 'v1 or v2');
      out.version = v;
    }
    return { ok: true, value: out };
  }

  async create(account: VerifyAccount, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = await this.serviceOf(account, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/Webhooks`);
    const r = await this.read(params, true);
    if (!r.ok) return r;
    if ((await fq.countWebhooks(this.d.db, service.id)) >= MAX_WEBHOOKS) return twilioInvalid('WebhookUrl', `a service may have at most ${MAX_WEBHOOKS} webhooks`);
    const now = Date.now();
    const row = {
      sid: newSid('YW'),
      app_id: service.appId,
      service_id: service.id,
      friendly_name: r.value.friendly_name!,
      event_types: r.value.event_types!,
      url: r.value.url!,
      status: r.value.status ?? 'enabled',
      version: r.value.version ?? 'v2',
      created_at: now,
      updated_at: now,
    };
    await fq.insertWebhook(this.d.db, row);
    return { ok: true, status: 201, body: this.body(account, service.sid, { ...row, id: 0 }, base) };
  }

  private async find(account: VerifyAccount, serviceSid: string, sid: string) {
    const service = await this.serviceOf(account, serviceSid);
    const row = service && isSid('YW', sid) ? await fq.webhookBySid(this.d.db, service.id, sid) : undefined;
    return service && row ? { service, row } : undefined;
  }

  async fetch(account: VerifyAccount, serviceSid: string, sid: string, base: string): Promise<Answer> {
    const f = await this.find(account, serviceSid, sid);
    return f ? { ok: true, status: 200, body: this.body(account, f.service.sid, f.row, base) } : notFound(`/Services/${serviceSid}/Webhooks/${sid}`);
  }

  async update(account: VerifyAccount, serviceSid: string, sid: string, params: Params, base: string): Promise<Answer> {
    const f = await this.find(account, serviceSid, sid);
    if (!f) return notFound(`/Services/${serviceSid}/Webhooks/${sid}`);
    const r = await this.read(params, false);
    if (!r.ok) return r;
    const now = Date.now();
    await fq.updateWebhook(this.d.db, f.row.id, { ...r.value, updated_at: now });
    return { ok: true, status: 200, body: this.body(account, f.service.sid, { ...f.row, ...r.value, updated_at: now }, base) };
  }

  async list(account: VerifyAccount, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = await this.serviceOf(account, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/Webhooks`);
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const rows = await fq.webhooksPage(this.d.db, service.id, paging.value.after, paging.value.pageSize + 1);
    return { ok: true, status: 200, body: listBody('webhooks', rows, (w) => this.body(account, service.sid, w, base), paging.value, { base, path: `/v2/Services/${service.sid}/Webhooks`, filters: {} }) };
  }

  async remove(account: VerifyAccount, serviceSid: string, sid: string): Promise<Answer> {
    const f = await this.find(account, serviceSid, sid);
    if (!f) return notFound(`/Services/${serviceSid}/Webhooks/${sid}`);
    await fq.deleteWebhook(this.d.db, f.row.id);
    return { ok: true, status: 204, body: undefined };
  }
}
