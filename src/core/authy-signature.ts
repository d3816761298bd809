// X-Authy-Signature for OneTouch callbacks and the webhooks API (wire reference §3.3, §2.21).
// Pure functions over node:crypto. Clients verify with their own re-implementations of Rails'
// Hash#to_query, so the canonical string must match Rails byte for byte.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A JSON-shaped parameter tree: what a callback body or a parsed query string holds. */
export type SignedValue = string | number | bigint | boolean | null | undefined | SignedParams | SignedValue[];
export interface SignedParams {
  [key: string]: SignedValue;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// CGI.escape: unreserved bytes stay, space becomes "+", everything else is %XX per UTF-8 byte.
const HEX = '0123456789ABCDEF';
function enc(s: string): string {
  if (/^[A-Za-z0-9._~-]*$/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
        b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e) out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

// Ruby's #to_param#to_s. Integers print the same in both languages; some floats do not (1e21 vs
// 1.0e+21), which is why the payloads we sign carry no floats.
function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new TypeError(`cannot sign a value of type ${typeof v}`);
}

// Rails sorts with String#<=>, i.e. byte order; the encoded parts are ASCII, so code-unit order is
// the same thing (localeCompare would put "a" before "B").
const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function mapToQuery(value: Record<string, unknown>, prefix: string | null): string {
  const parts: string[] = [];
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v === undefined) continue; // absent, as in JSON.stringify
    if ((Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0)) continue;
    parts.push(valueToQuery(v, prefix === null ? key : `${prefix}[${key}]`));
  }
  // Rails leaves maps inside lists in their own key order, so the pairs of one element stay together.
  if (prefix === null || !prefix.includes('[]')) parts.sort(byteOrder);
  return parts.join('&');
}

function valueToQuery(value: unknown, prefix: string): string {
  if (Array.isArray(value)) {
    const p = `${prefix}[]`;
    // Array#to_query turns an empty list into `key[]=`; only reachable for a list inside a list,
    // since maps drop their empty members first.
    if (value.length === 0) return `${enc(p)}=`;
    return value.map((e) => valueToQuery(e, p)).join('&');
  }
  if (isMap(value)) return mapToQuery(value, prefix);
  return `${enc(prefix)}=${enc(text(value))}`;
}

/**
 * Rails `Hash#to_query`: the canonical parameter string that is signed (§3.3). `null`/`undefined`
 * params give "". Throws a TypeError for a top-level list or scalar (there are no keys to name them).
 */
export function toQuery(params: unknown): string {
  if (params === null || params === undefined) return '';
  if (!isMap(params)) throw new TypeError('toQuery needs a map of parameters');
  return mapToQuery(params, null);
}

/** The base the signature covers: the URL as configured, without query or fragment. */
function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

/** The exact text that is HMAC'd: `nonce|METHOD|url-without-query|toQuery(params)`. */
export function signedData(nonce: string, method: string, url: string, params: unknown): string {
  return `${nonce}|${method.toUpperCase()}|${withoutQuery(url)}|${toQuery(params)}`;
}

/**
 * Base64 HMAC-SHA256 for the `X-Authy-Signature` header. `key` is the application's API key for
 * OneTouch callbacks, or the API signing key for the webhooks API. `params` is the JSON body for a
 * POST callback and the query parameters for a GET callback.
 */
export function authySignature(key: string, nonce: string, method: string, url: string, params: unknown): string {
  return createHmac('sha256', key).update(signedData(nonce, method, url, params), 'utf8').digest('base64');
}

/** Checks a received signature in constant time; false for a missing or differently sized one. */
export function verifyAuthySignature(
  key: string,
  nonce: string,
  method: string,
  url: string,
  params: unknown,
  signature: string | null | undefined,
): boolean {
  if (typeof signature !== 'string') return false;
  const expected = Buffer.from(authySignature(key, nonce, method, url, params), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The query string for a GET callback: the same `to_query` string that is signed, so a GET
 * callback goes to `${url}?${flattenForGet(params)}` and is signed with `authySignature(key,
 * nonce, 'GET', url, params)`. The receiver's Rack parser turns it back into params whose
 * `to_query` is this string again (nulls come back as "", numbers and booleans as text, which
 * render the same).
 */
export function flattenForGet(params: unknown): string {
  return toQuery(params);
}
