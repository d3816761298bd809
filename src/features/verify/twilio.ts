// The Twilio side of the wire: SIDs, dates, error bodies, parameters as twilio-node sends them
// (PascalCase, form-encoded, booleans as "true"/"false", JSON objects as strings) and list pages.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from '../../core/crypto.ts';
import { TWILIO_ERRORS, twilioInvalid, type TwilioFailure } from '../../core/errors.ts';
import { isBag, type Params, type Value } from '../../core/params.ts';

/** `prefix` + 32 lowercase hex digits (Twilio's SID shape). */
export const newSid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export const isSid = (prefix: string, s: unknown): s is string => typeof s === 'string' && s.length === 34 && s.startsWith(prefix) && /^[0-9a-fA-F]{32}$/.test(s.slice(2));

/** ISO 8601 in UTC without milliseconds (`2015-07-30T20:00:00Z`), as twilio-node parses it. */
export const isoDate = (ms: number | string) => `${new Date(Number(ms)).toISOString().slice(0, 19)}Z`;

export function twilioErrorBody(f: TwilioFailure): { status: number; body: { code: number; message: string; more_info: string; status: number } } {
  const def = TWILIO_ERRORS[f.twilio];
  return { status: def.status, body: { code: def.code, message: f.message ?? def.message, more_info: `https://www.twilio.com/docs/errors/${def.code}`, status: def.status } };
}

export function sendTwilio(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
}

export function sendTwilioFailure(reply: FastifyReply, f: TwilioFailure): FastifyReply {
  const { status, body } = twilioErrorBody(f);
  if (f.twilio === 'AUTHENTICATE') reply.header('www-authenticate', 'Basic realm="Twilio API"');
  return sendTwilio(reply, status, body);
}

/** `/Services/VA…/Verifications/VE…` was not found (Twilio names the path without `/v2`). */
export const notFound = (path: string): TwilioFailure => ({ ok: false, twilio: 'NOT_FOUND', message: `The requested resource ${path} was not found` });

/** Where `url`, `links` and page URLs point: the configured public URL, else the request's own host. */
export function baseUrlOf(publicUrl: string | undefined, req: FastifyRequest): string {
  return publicUrl ?? `${req.protocol}://${req.host}`;
}

// ---------------------------------------------------------------------------------------------
// Parameters

type Read<T> = { ok: true; value: T } | TwilioFailure;

const scalar = (v: Value | undefined): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/** A string parameter; absent → undefined; a hash or a list → 60200. */
export function str(params: Params, name: string, max = 1000): Read<string | undefined> {
  const v = params[name];
  if (v === undefined) return { ok: true, value: undefined };
  const s = scalar(v);
  if (s === undefined || s.length > max) return twilioInvalid(name);
  return { ok: true, value: s };
}

/** `"true"`/`"false"` (any case); empty or absent → undefined. */
export function bool(params: Params, name: string): Read<boolean | undefined> {
  const s = scalar(params[name]);
  if (params[name] === undefined || s === '') return { ok: true, value: undefined };
  if (s && /^(true|false)$/i.test(s)) return { ok: true, value: s.toLowerCase() === 'true' };
  return twilioInvalid(name);
}

/** A whole number from `min` to `max`; empty or absent → undefined. */
export function int(params: Params, name: string, min: number, max: number): Read<number | undefined> {
  const s = scalar(params[name]);
  if (params[name] === undefined || s === '') return { ok: true, value: undefined };
  if (!s || !/^\s*-?\d{1,9}\s*$/.test(s) || Number(s) < min || Number(s) > max) return twilioInvalid(name, `a whole number from ${min} to ${max}`);
  return { ok: true, value: Number(s) };
}

/** A SID of `prefix`; empty → null (clears it); absent → undefined. */
export function sidParam(params: Params, name: string, prefix: string): Read<string | null | undefined> {
  const s = scalar(params[name]);
  if (params[name] === undefined) return { ok: true, value: undefined };
  if (s === '') return { ok: true, value: null };
  return isSid(prefix, s) ? { ok: true, value: s } : twilioInvalid(name);
}

/**
 * A JSON object parameter (`RateLimits`, `ChannelConfiguration`, `Tags`): twilio-node sends a JSON
 * string; an object passed to a string-typed option arrives as bracket keys (`Tags[k]=v`). Both
 * are taken. Values must be strings, numbers or booleans unless `nested`.
 */
export function jsonObject(params: Params, name: string, nested = false): Read<Record<string, unknown> | undefined> {
  const v = params[name];
  if (v === undefined || v === '') return { ok: true, value: undefined };
  let doc: unknown = v;
  if (typeof v === 'string') {
    if (v.length > 4096) return twilioInvalid(name, 'too long');
    try {
      doc = JSON.parse(v);
    } catch {
      return twilioInvalid(name, 'must be a JSON object');
    }
  }
  if (!isBag(doc as Value)) return twilioInvalid(name, 'must be a JSON object');
  const obj = { ...(doc as Record<string, unknown>) };
  if (!nested && Object.values(obj).some((x) => typeof x === 'object' && x !== null)) return twilioInvalid(name, 'values must be strings');
  return { ok: true, value: obj };
}

/** An ISO 8601 date-time; absent → undefined. */
export function dateParam(params: Params, name: string): Read<number | undefined> {
  const s = scalar(params[name]);
  if (params[name] === undefined || s === '') return { ok: true, value: undefined };
  const ms = s && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) ? Date.parse(s) : NaN;
  return Number.isNaN(ms) ? twilioInvalid(name, 'an ISO 8601 date-time') : { ok: true, value: ms };
}

// ---------------------------------------------------------------------------------------------
// Lists: `PageSize` (1–1000, default 50), `Page` (echoed back), `PageToken` (where the page starts).

export interface Paging {
  pageSize: number;
  page: number;
  /** The id the page starts after (exclusive), from `PageToken`. */
  after: number | undefined;
}

export function readPaging(params: Params): Read<Paging> {
  const size = int(params, 'PageSize', 1, 1000);
  if (!size.ok) return size;
  const page = int(params, 'Page', 0, 1_000_000);
  if (!page.ok) return page;
  const token = str(params, 'PageToken', 40);
  if (!token.ok) return token;
  const m = token.value ? /^PT(\d{1,15})$/.exec(token.value) : null;
  if (token.value && !m) return twilioInvalid('PageToken');
  return { ok: true, value: { pageSize: size.value ?? 50, page: page.value ?? 0, after: m ? Number(m[1]) : undefined } };
}

/**
 * The list answer from `rows` read one past the page size (the extra one says there is a next
 * page): the records under `key` and `meta` with absolute page URLs that carry every filter
 * (twilio-node follows `next_page_url` as it is, adding nothing).
 */
export function listBody<R extends { id: number }>(
  key: string,
  rows: R[],
  render: (r: R) => unknown,
  paging: Paging,
  at: { base: string; path: string; filters: Record<string, string | undefined> },
) {
  const url = (extra: Record<string, string | number | undefined>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...at.filters, ...extra })) if (v !== undefined) q.set(k, String(v));
    return `${at.base}${at.path}?${q.toString().replace(/\+/g, '%20')}`;
  };
  const { pageSize, page: n, after } = paging;
  const page = rows.slice(0, pageSize);
  const last = page.at(-1);
  return {
    [key]: page.map(render),
    meta: {
      page: n,
      page_size: pageSize,
      first_page_url: url({ PageSize: pageSize, Page: 0 }),
      previous_page_url: null,
      url: url({ PageSize: pageSize, Page: n, PageToken: after === undefined ? undefined : `PT${after}` }),
      next_page_url: rows.length > pageSize && last ? url({ PageSize: pageSize, Page: n + 1, PageToken: `PT${last.id}` }) : null,
      key,
    },
  };
}

/** HTTP Basic: the user (an SID) and password, or undefined. Up to 8000 characters: a device sends a JWT (Twilio caps them at 5456). */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]{1,8000})\s*$/i.exec(header) : null;
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
