// Twilio Verify v2 service rate limits (issue 21 point 4): `/v2/Services/{VA}/RateLimits` (RK…,
// a unique name per service) and their `/Buckets` (BL…, `max` starts per `interval` seconds).
// A verification start that names rate limits (`RateLimits={"<unique_name>":"<value>"}`) is
// counted once per rate limit and value, and refused (429, 20429) when any bucket of them already
// holds `max` starts of that value within its interval; a name the service does not have is a bad
// parameter (60200). Values (end-user IPs, user ids…) are kept only as an HMAC under the contacts
// index key (store/contacts.ts), bound to the rate limit's SID; neither stored nor logged as given.
//
// Twilio's codes: 60207 (rate limits per service), 60208 (UniqueName taken), 60209 (UniqueName
// format), 60210 (buckets per rate limit), 60211 (a bucket of that Interval exists). The caps are
// OpenFactor's (Twilio documents none): 100 rate limits per service, 20 buckets per rate limit.
import { createHmac } from 'node:crypto';
import { Type, type TSchema } from '@sinclair/typebox';
import { twilioFail, twilioInvalid, type TwilioFailure } from '../../core/errors.ts';
import type { Params } from '../../core/params.ts';
import type { VerifyAccount } from './credentials.ts';
import * as q from './queries.ts';
import * as rq from './rate-limit-queries.ts';
import type { Answer, VerifyDeps } from './service.ts';
import { int, isoDate, isSid, listBody, newSid, notFound, readPaging, str } from './twilio.ts';

export const MAX_RATE_LIMITS_PER_SERVICE = 100;
export const MAX_BUCKETS_PER_RATE_LIMIT = 20;
/** Bucket bounds: at most 10 000 starts, over at most 30 days. */
export const MAX_BUCKET_MAX = 10_000;
export const MAX_BUCKET_INTERVAL = 30 * 86_400;
/** Rate limits one verification may name. */
const MAX_NAMED = 20;

const UNIQUE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

type Service = { id: number; sid: string; appId: number };
type Found<T> = { ok: true; value: T } | TwilioFailure;

export class VerifyRateLimits {
  constructor(private readonly d: Pick<VerifyDeps, 'db' | 'contacts'>) {}

  private async service(account: VerifyAccount, sid: string): Promise<Service | undefined> {
    const row = isSid('VA', sid) ? await q.serviceBySid(this.d.db, account.id, sid) : undefined;
    return row && { id: row.id, sid: row.sid, appId: row.app_id };
  }

  /** The service and rate limit a path names, or 404 with the path asked for. */
  private async rateLimit(account: VerifyAccount, serviceSid: string, sid: string, path: string): Promise<Found<{ service: Service; row: rq.RateLimitRow }>> {
    const service = await this.service(account, serviceSid);
    const row = service && isSid('RK', sid) ? await rq.rateLimitBySid(this.d.db, service.id, sid) : undefined;
    return service && row ? { ok: true, value: { service, row } } : notFound(path);
  }

  private async bucket(account: VerifyAccount, serviceSid: string, rateLimitSid: string, sid: string): Promise<Found<{ service: Service; rateLimit: rq.RateLimitRow; row: rq.BucketRow }>> {
    const path = `/Services/${serviceSid}/RateLimits/${rateLimitSid}/Buckets/${sid}`;
    const found = await this.rateLimit(account, serviceSid, rateLimitSid, path);
    if (!found.ok) return found;
    const row = isSid('BL', sid) ? await rq.bucketBySid(this.d.db, found.value.row.id, sid) : undefined;
    return row ? { ok: true, value: { service: found.value.service, rateLimit: found.value.row, row } } : notFound(path);
  }

  // Rate limits -------------------------------------------------------------------------------

  async create(account: VerifyAccount, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = await this.service(account, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/RateLimits`);
    const nameR = str(params, 'UniqueName', 1000);
    if (!nameR.ok) return nameR;
    const name = nameR.value?.trim() ?? '';
    if (!name) return twilioInvalid('UniqueName', 'required');
    if (!UNIQUE_NAME.test(name)) return twilioFail('UNIQUE_NAME_FORMAT', 'UniqueName format is invalid: 1 to 128 letters, digits, -, _ or .');
    const description = readDescription(params);
    if (!description.ok) return description;
    if ((await rq.countRateLimits(this.d.db, service.id)) >= MAX_RATE_LIMITS_PER_SERVICE) return twilioFail('MAX_RATE_LIMITS');
    const now = Date.now();
    const sid = newSid('RK');
    const id = await rq.insertRateLimit(this.d.db, { sid, appId: service.appId, serviceId: service.id, uniqueName: name, description: description.value ?? null, now });
    if (id === undefined) return twilioFail('RATE_LIMIT_EXISTS');
    const row: rq.RateLimitRow = { id, sid, app_id: service.appId, service_id: service.id, unique_name: name, description: description.value ?? null, created_at: now, updated_at: now };
    return { ok: true, status: 201, body: renderRateLimit(row, service.sid, account.sid, base) };
  }

  async fetch(account: VerifyAccount, serviceSid: string, sid: string, base: string): Promise<Answer> {
    const found = await this.rateLimit(account, serviceSid, sid, `/Services/${serviceSid}/RateLimits/${sid}`);
    if (!found.ok) return found;
    return { ok: true, status: 200, body: renderRateLimit(found.value.row, serviceSid, account.sid, base) };
  }

  /** `Description` only: the unique name is for good. */
  async update(account: VerifyAccount, serviceSid: string, sid: string, params: Params, base: string): Promise<Answer> {
    const found = await this.rateLimit(account, serviceSid, sid, `/Services/${serviceSid}/RateLimits/${sid}`);
    if (!found.ok) return found;
    const description = readDescription(params);
    if (!description.ok) return description;
    const row = found.value.row;
    if (description.value === undefined) return { ok: true, status: 200, body: renderRateLimit(row, serviceSid, account.sid, base) };
    const now = Date.now();
    await rq.setRateLimitDescription(this.d.db, row.id, description.value, now);
    return { ok: true, status: 200, body: renderRateLimit({ ...row, description: description.value, updated_at: now }, serviceSid, account.sid, base) };
  }

  async list(account: VerifyAccount, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = await this.service(account, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/RateLimits`);
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const rows = await rq.rateLimitsPage(this.d.db, service.id, paging.value.after, paging.value.pageSize + 1);
    const path = `/v2/Services/${service.sid}/RateLimits`;
    return { ok: true, status: 200, body: listBody('rate_limits', rows, (r) => renderRateLimit(r, service.sid, account.sid, base), paging.value, { base, path, filters: {} }) };
  }

  /** The rate limit with its buckets and everything counted under it. */
  async remove(account: VerifyAccount, serviceSid: string, sid: string): Promise<Answer> {
    const found = await this.rateLimit(account, serviceSid, sid, `/Services/${serviceSid}/RateLimits/${sid}`);
    if (!found.ok) return found;
    await rq.deleteRateLimit(this.d.db, found.value.row.id);
    return { ok: true, status: 204, body: undefined };
  }

  // Buckets -----------------------------------------------------------------------------------

  async createBucket(account: VerifyAccount, serviceSid: string, rateLimitSid: string, params: Params, base: string): Promise<Answer> {
    const found = await this.rateLimit(account, serviceSid, rateLimitSid, `/Services/${serviceSid}/RateLimits/${rateLimitSid}/Buckets`);
    if (!found.ok) return found;
    const input = readBucket(params, undefined);
    if (!input.ok) return input;
    const rateLimit = found.value.row;
    if ((await rq.countBuckets(this.d.db, rateLimit.id)) >= MAX_BUCKETS_PER_RATE_LIMIT) return twilioFail('MAX_BUCKETS');
    const now = Date.now();
    const sid = newSid('BL');
    const id = await rq.insertBucket(this.d.db, { sid, appId: rateLimit.app_id, rateLimitId: rateLimit.id, ...input.value, now });
    if (id === undefined) return twilioFail('BUCKET_EXISTS');
    const row: rq.BucketRow = { id, sid, app_id: rateLimit.app_id, rate_limit_id: rateLimit.id, ...input.value, created_at: now, updated_at: now };
    return { ok: true, status: 201, body: renderBucket(row, rateLimit.sid, serviceSid, account.sid, base) };
  }

  async fetchBucket(account: VerifyAccount, serviceSid: string, rateLimitSid: string, sid: string, base: string): Promise<Answer> {
    const found = await this.bucket(account, serviceSid, rateLimitSid, sid);
    if (!found.ok) return found;
    return { ok: true, status: 200, body: renderBucket(found.value.row, rateLimitSid, serviceSid, account.sid, base) };
  }

  /** `Max` and `Interval`, each optional. */
  async updateBucket(account: VerifyAccount, serviceSid: string, rateLimitSid: string, sid: string, params: Params, base: string): Promise<Answer> {
    const found = await this.bucket(account, serviceSid, rateLimitSid, sid);
    if (!found.ok) return found;
    const row = found.value.row;
    const input = readBucket(params, row);
    if (!input.ok) return input;
    const now = Date.now();
    if (!(await rq.updateBucket(this.d.db, row.id, { ...input.value, now }))) return twilioFail('BUCKET_EXISTS');
    return { ok: true, status: 200, body: renderBucket({ ...row, ...input.value, updated_at: now }, rateLimitSid, serviceSid, account.sid, base) };
  }

  async listBuckets(account: VerifyAccount, serviceSid: string, rateLimitSid: string, params: Params, base: string): Promise<Answer> {
    const found = await this.rateLimit(account, serviceSid, rateLimitSid, `/Services/${serviceSid}/RateLimits/${rateLimitSid}/Buckets`);
    if (!found.ok) return found;
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const rows = await rq.bucketsPage(this.d.db, found.value.row.id, paging.value.after, paging.value.pageSize + 1);
    const path = `/v2/Services/${serviceSid}/RateLimits/${rateLimitSid}/Buckets`;
    return { ok: true, status: 200, body: listBody('buckets', rows, (r) => renderBucket(r, rateLimitSid, serviceSid, account.sid, base), paging.value, { base, path, filters: {} }) };
  }

  async removeBucket(account: VerifyAccount, serviceSid: string, rateLimitSid: string, sid: string): Promise<Answer> {
    const found = await this.bucket(account, serviceSid, rateLimitSid, sid);
    if (!found.ok) return found;
    await rq.deleteBucket(this.d.db, found.value.row.id);
    return { ok: true, status: 204, body: undefined };
  }

  // Applying them -----------------------------------------------------------------------------

  /**
   * A verification start's `RateLimits` (already parsed: name → value): counts the start under
   * each named rate limit and value, or refuses it (429) when one of their buckets is full, or
   * (60200) when the service has no rate limit of a name. On success, the same names with the
   * values' HMACs, which is all the verification keeps of them. Nothing named: nothing read.
   * `count` false: checked and hashed only (a start retried after a lost race was counted).
   */
  async apply(service: { id: number; appId: number }, named: Record<string, unknown> | null, count = true): Promise<Found<Record<string, string> | null>> {
    if (!named) return { ok: true, value: null };
    const names = Object.keys(named);
    if (names.length === 0) return { ok: true, value: null };
    if (names.length > MAX_NAMED) return twilioInvalid('RateLimits', `at most ${MAX_NAMED} rate limits`);
    for (const v of Object.values(named)) if (typeof v !== 'string' && typeof v !== 'number') return twilioInvalid('RateLimits', 'values must be strings');
    const rows = await rq.rateLimitsNamed(this.d.db, service.id, names);
    if (rows.length !== names.length) return twilioInvalid('RateLimits', 'names a rate limit this service does not have');
    const buckets = await rq.bucketsOfRateLimits(this.d.db, rows.map((r) => r.id));
    const hashed: Record<string, string> = {};
    const keys: rq.KeyToCount[] = [];
    for (const r of rows) {
      const keyHash = keyHashOf(this.d.contacts.indexKey, r.sid, String(named[r.unique_name]));
      hashed[r.unique_name] = keyHash;
      const own = buckets.filter((b) => b.rate_limit_id === r.id).map((b) => ({ max: Number(b.max), interval: Number(b.interval) }));
      if (own.length > 0) keys.push({ rateLimitId: r.id, keyHash, buckets: own }); // no bucket: nothing to limit
    }
    if (count && keys.length > 0) {
      const full = await rq.countStart(this.d.db, service.appId, keys, Date.now());
      if (full !== undefined) {
        const name = rows.find((r) => r.id === full)?.unique_name ?? '';
        return twilioFail('RATE_LIMITED', `Too many requests: the service rate limit ${name} is reached for this key`);
      }
    }
    return { ok: true, value: hashed };
  }
}

/** A key value's stored form: HMAC-SHA256 under the contacts index key (kept through key rotations), bound to its rate limit. */
export const keyHashOf = (indexKey: Buffer, rateLimitSid: string, value: string) => createHmac('sha256', indexKey).update(`verify-rate-limit:${rateLimitSid}:${value}`).digest('base64url');

function readDescription(params: Params): Found<string | null | undefined> {
  const r = str(params, 'Description', 1000);
  if (!r.ok) return r;
  if (r.value === undefined) return { ok: true, value: undefined };
  const text = r.value.trim();
  if (text.length > 255 || /[\u0000-\u001f\u007f]/.test(text)) return twilioInvalid('Description', 'at most 255 characters');
  return { ok: true, value: text === '' ? null : text };
}

/** `Max` (1–10 000) and `Interval` (seconds, 1–30 days): required on create, each optional on update. */
function readBucket(params: Params, current: { max: number; interval: number } | undefined): Found<{ max: number; interval: number }> {
  const max = int(params, 'Max', 1, MAX_BUCKET_MAX);
  if (!max.ok) return max;
  const interval = int(params, 'Interval', 1, MAX_BUCKET_INTERVAL);
  if (!interval.ok) return interval;
  const m = max.value ?? current?.max;
  const i = interval.value ?? current?.interval;
  if (m === undefined) return twilioInvalid('Max', 'required');
  if (i === undefined) return twilioInvalid('Interval', 'required');
  return { ok: true, value: { max: Number(m), interval: Number(i) } };
}

// Answers -------------------------------------------------------------------------------------

export function renderRateLimit(r: rq.RateLimitRow, serviceSid: string, accountSid: string, base: string) {
  const url = `${base}/v2/Services/${serviceSid}/RateLimits/${r.sid}`;
  return {
    sid: r.sid,
    service_sid: serviceSid,
    account_sid: accountSid,
    unique_name: r.unique_name,
    description: r.description,
    date_created: isoDate(r.created_at),
    date_updated: isoDate(r.updated_at),
    url,
    links: { buckets: `${url}/Buckets` },
  };
}

export function renderBucket(b: rq.BucketRow, rateLimitSid: string, serviceSid: string, accountSid: string, base: string) {
  return {
    sid: b.sid,
    rate_limit_sid: rateLimitSid,
    service_sid: serviceSid,
    account_sid: accountSid,
    max: Number(b.max),
    interval: Number(b.interval),
    date_created: isoDate(b.created_at),
    date_updated: isoDate(b.updated_at),
    url: `${base}/v2/Services/${serviceSid}/RateLimits/${rateLimitSid}/Buckets/${b.sid}`,
  };
}

// Routes (registered by routes.ts, with its authentication, errors and schemas) ------------------

type Handler = (a: VerifyAccount, p: Params, path: Record<string, string>, base: string) => Promise<Answer>;
export type RouteOf = (method: 'GET' | 'POST' | 'DELETE', url: string, summary: string, ok: Record<number, TSchema>, handler: Handler, input?: TSchema) => void;

const Sid = (prefix: string) => Type.String({ pattern: `^${prefix}[0-9a-f]{32}$` });
const Date_ = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$' });
const RateLimit = Type.Object({
  sid: Sid('RK'),
  service_sid: Sid('VA'),
  account_sid: Sid('AC'),
  unique_name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
  links: Type.Object({ buckets: Type.String() }),
});
const Bucket = Type.Object({
  sid: Sid('BL'),
  rate_limit_sid: Sid('RK'),
  service_sid: Sid('VA'),
  account_sid: Sid('AC'),
  max: Type.Integer(),
  interval: Type.Integer(),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
});
const Paging = { PageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })), Page: Type.Optional(Type.Integer({ minimum: 0 })), PageToken: Type.Optional(Type.String()) };
const RateLimitParams = Type.Object({
  UniqueName: Type.String({ description: 'unique in the service: letters, digits, -, _ and . (no PII)' }),
  Description: Type.Optional(Type.String({ maxLength: 255 })),
});
const BucketParams = Type.Object({
  Max: Type.Integer({ minimum: 1, maximum: MAX_BUCKET_MAX, description: 'starts allowed per key value within the interval' }),
  Interval: Type.Integer({ minimum: 1, maximum: MAX_BUCKET_INTERVAL, description: 'seconds' }),
});

export function registerRateLimitRoutes(route: RouteOf, r: VerifyRateLimits, list: (key: string, item: TSchema) => TSchema): void {
  const at = '/Services/:ServiceSid/RateLimits';
  route('POST', at, 'Create a rate limit (UniqueName unique in the service: 60208)', { 201: RateLimit }, (a, p, path, b) => r.create(a, path.ServiceSid, p, b), RateLimitParams);
  route('GET', at, "The service's rate limits, oldest first", { 200: list('rate_limits', RateLimit) }, (a, p, path, b) => r.list(a, path.ServiceSid, p, b), Type.Object(Paging));
  route('GET', `${at}/:Sid`, 'A rate limit', { 200: RateLimit }, (a, _, path, b) => r.fetch(a, path.ServiceSid, path.Sid, b));
  route('POST', `${at}/:Sid`, "Update a rate limit's Description", { 200: RateLimit }, (a, p, path, b) => r.update(a, path.ServiceSid, path.Sid, p, b), Type.Object({ Description: Type.Optional(Type.String({ maxLength: 255 })) }));
  route('DELETE', `${at}/:Sid`, 'Delete a rate limit, its buckets and its counts', { 204: Type.Null() }, (a, _, path) => r.remove(a, path.ServiceSid, path.Sid));

  const buckets = `${at}/:RateLimitSid/Buckets`;
  route('POST', buckets, 'Create a bucket: Max starts per key value in Interval seconds (one per Interval: 60211)', { 201: Bucket }, (a, p, path, b) => r.createBucket(a, path.ServiceSid, path.RateLimitSid, p, b), BucketParams);
  route('GET', buckets, "The rate limit's buckets, oldest first", { 200: list('buckets', Bucket) }, (a, p, path, b) => r.listBuckets(a, path.ServiceSid, path.RateLimitSid, p, b), Type.Object(Paging));
  route('GET', `${buckets}/:Sid`, 'A bucket', { 200: Bucket }, (a, _, path, b) => r.fetchBucket(a, path.ServiceSid, path.RateLimitSid, path.Sid, b));
  route('POST', `${buckets}/:Sid`, "Update a bucket's Max or Interval", { 200: Bucket }, (a, p, path, b) => r.updateBucket(a, path.ServiceSid, path.RateLimitSid, path.Sid, p, b), Type.Partial(BucketParams));
  route('DELETE', `${buckets}/:Sid`, 'Delete a bucket', { 204: Type.Null() }, (a, _, path) => r.removeBucket(a, path.ServiceSid, path.RateLimitSid, path.Sid));
}
