// The admin API's lists: pages newest first, a `cursor` to the next one, filters checked against
// the values they may take. A cursor is opaque to clients (they only hand it back); inside, it is
// the row id the next page starts below, so a page costs one indexed range read however deep.
import { invalidParameter, type Failure } from '../core/errors.ts';
import { normalizeCallingCode, parsePhone } from '../core/phone.ts';

/** Rows per page: `limit` 1–500, 50 when absent. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

const PREFIX = 'c1:';

export const encodeCursor = (id: number) => Buffer.from(`${PREFIX}${id}`).toString('base64url');

/** The id a cursor stands for; undefined when absent; a Failure naming `cursor` when it is not one of ours. */
export function decodeCursor(raw: unknown): number | undefined | Failure {
  if (raw === undefined || raw === '') return undefined;
  const bad = invalidParameter('cursor', 'is not a cursor from a previous page (pass next_cursor as it was given)');
  if (typeof raw !== 'string' || raw.length > 64 || !/^[A-Za-z0-9_-]+$/.test(raw)) return bad;
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const m = /^c1:(\d{1,15})$/.exec(text);
  const id = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(id) && id >= 1 ? id : bad;
}

export const isFailure = (v: unknown): v is Failure => typeof v === 'object' && v !== null && (v as Failure).ok === false;

/**
 * A filter that takes one of `values`: undefined when absent or empty, the value, or a Failure
 * that names the parameter and what it may be (an unknown value is a mistake, not "no filter").
 */
export function oneOf<T extends string>(query: Record<string, unknown>, name: string, values: readonly T[]): T | undefined | Failure {
  const v = query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
  return invalidParameter(name, `must be one of ${values.join(', ')}`);
}

/** `true`/`false`, or undefined when absent. */
export function flag(query: Record<string, unknown>, name: string): boolean | undefined | Failure {
  const v = oneOf(query, name, ['true', 'false'] as const);
  return isFailure(v) || v === undefined ? v : v === 'true';
}

/** An Authy id (the users' and the applications' row ids are 32-bit). */
export function authyIdParam(query: Record<string, unknown>, name: string): number | undefined | Failure {
  const v = query[name];
  if (v === undefined || v === '') return undefined;
  const id = typeof v === 'string' && /^\d{1,10}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  return id >= 1 && id <= 2 ** 31 - 1 ? id : invalidParameter(name, 'must be an Authy id (digits)');
}

/**
 * What an operator typed to find a user: an Authy id (digits), an email address, or a phone
 * number (E.164 like +14155550100, or national with `country_code`). National digits with a
 * country code may also be an id: both are looked for.
 */
export type UserSearch = { id?: number; email?: string; e164?: string };

export function userSearch(query: Record<string, unknown>): UserSearch | undefined | Failure {
  const raw = query.q;
  if (raw === undefined || raw === '') return undefined;
  const bad = invalidParameter('q', 'must be an Authy id, an email address, or a phone number (+14155550100, or national digits with country_code)');
  if (typeof raw !== 'string' || raw.length > 254) return bad;
  const q = raw.trim();
  if (q.includes('@')) return /^[^\s@]+@[^\s@]+$/.test(q) ? { email: q } : bad;
  const cc = typeof query.country_code === 'string' && query.country_code !== '' ? normalizeCallingCode(query.country_code) : undefined;
  if (query.country_code !== undefined && query.country_code !== '' && cc === undefined) return invalidParameter('country_code', 'must be a calling code like 1 or 351');
  if (q.startsWith('+')) {
    const phone = phoneOf(q);
    return phone ? { e164: phone } : bad;
  }
  const id = /^\d{1,10}$/.test(q) && Number(q) >= 1 && Number(q) <= 2 ** 31 - 1 ? Number(q) : undefined;
  const national = cc ? parsePhone(q, cc)?.e164 : undefined;
  if (id === undefined && national === undefined) return bad;
  return { id, e164: national };
}

/** A number written in E.164 (separators allowed), if valid. */
export function phoneOf(text: string): string | undefined {
  const digits = text.replace(/[\s().-]/g, '');
  const m = /^\+(\d{1,3})/.exec(digits);
  if (!m) return undefined;
  // The calling code is 1–3 digits: try each length the number allows.
  for (let n = 1; n <= m[1].length; n++) {
    const phone = parsePhone(digits, digits.slice(1, 1 + n));
    if (phone) return phone.e164;
  }
  return undefined;
}
