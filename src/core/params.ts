// One parameter map from query string, form, JSON and XML bodies, with Rack/Rails semantics,
// because Authy clients put parameters in every one of those places (wire reference §1.3).
import { BadInput, fail, invalidParameter, type Failure } from './errors.ts';

export type Value = string | number | boolean | Params | Value[];
export interface Params {
  [key: string]: Value;
}

const MAX_PAIRS = 1000;
const MAX_DEPTH = 16;

/** Objects with no prototype, so keys like `__proto__` are plain data. */
const bag = (): Params => Object.create(null) as Params;
export const isBag = (v: unknown): v is Params => typeof v === 'object' && v !== null && !Array.isArray(v);

const bad = (message: string): never => {
  throw new BadInput(fail('INVALID_REQUEST', { message: `Invalid request: ${message}` }));
};

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return bad('malformed percent-encoding');
  }
}

/** Parses `application/x-www-form-urlencoded` text (also query strings) the way Rack does. */
export function parseUrlEncoded(text: string): Params {
  const params = bag();
  if (!text) return params;
  const parts = text.split('&');
  if (parts.length > MAX_PAIRS) bad(`more than ${MAX_PAIRS} parameters`);
  for (const part of parts) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    normalize(params, name, value, 0);
  }
  return indexedToArrays(params, 0) as Params;
}

// A port of Rack::QueryParser#normalize_params: `a[b]`, `a[]`, and unindexed `a[][k]`, where a
// new array element starts when a key repeats (ruby and rust send logos that way).
function normalize(params: Params, name: string, v: Value, depth: number): Params {
  if (depth > MAX_DEPTH) bad('parameters nested too deeply');
  const m = /^[[\]]*([^[\]]+)\]*/.exec(name);
  const k = m ? m[1] : '';
  const after = m ? name.slice(m[0].length) : '';
  if (!k) return params;
  if (after === '') {
    params[k] = v;
  } else if (after === '[') {
    params[name] = v;
  } else if (after === '[]') {
    const list = (params[k] ??= []);
    if (!Array.isArray(list)) bad(`expected an array for ${k}`);
    (list as Value[]).push(v);
  } else {
    const child = /^\[\]\[([^[\]]+)\]$/.exec(after)?.[1] ?? /^\[\](.+)$/.exec(after)?.[1];
    if (child !== undefined) {
      const list = (params[k] ??= []);
      if (!Array.isArray(list)) bad(`expected an array for ${k}`);
      const arr = list as Value[];
      const last = arr[arr.length - 1];
      const childKey = /^[[\]]*([^[\]]+)/.exec(child)?.[1] ?? child;
      if (isBag(last) && !(childKey in last)) normalize(last, child, v, depth + 1);
      else arr.push(normalize(bag(), child, v, depth + 1));
    } else {
      const nested = (params[k] ??= bag());
      if (!isBag(nested)) bad(`expected a hash for ${k}`);
      normalize(nested as Params, after, v, depth + 1);
    }
  }
  return params;
}

/** `logos[0][res]=…&logos[1][res]=…` (node's qs, php) is an array of objects, not a hash. */
function indexedToArrays(v: Value, depth: number): Value {
  if (Array.isArray(v)) return v.map((e) => indexedToArrays(e, depth + 1));
  if (!isBag(v)) return v;
  const keys = Object.keys(v);
  for (const key of keys) v[key] = indexedToArrays(v[key], depth + 1);
  if (keys.length > 0 && keys.every((key) => /^\d{1,3}$/.test(key))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((key) => v[key]);
  }
  return v;
}

/**
 * Copies a parsed JSON or XML document into a parameter bag: `null` means absent (python sends
 * `"seconds_to_expire": null`), and depth is bounded.
 */
export function fromDocument(doc: unknown, depth = 0): Value | undefined {
  if (depth > MAX_DEPTH) bad('document nested too deeply');
  if (doc === null || doc === undefined) return undefined;
  if (Array.isArray(doc)) {
    const out: Value[] = [];
    for (const e of doc) {
      const c = fromDocument(e, depth + 1);
      if (c !== undefined) out.push(c);
    }
    return out;
  }
  if (typeof doc === 'object') {
    const out = bag();
    for (const [k, e] of Object.entries(doc)) {
      const c = fromDocument(e, depth + 1);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  if (typeof doc === 'string' || typeof doc === 'boolean') return doc;
  if (typeof doc === 'number') return Number.isFinite(doc) ? doc : bad('number out of range');
  return bad('unsupported value');
}

/** Query first, body on top (the body is what the client meant most explicitly). */
export function mergeParams(base: Params, over: Params): Params {
  const out = bag();
  for (const [k, v] of Object.entries(base)) out[k] = v;
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isBag(prev) && isBag(v) ? mergeParams(prev, v) : v;
  }
  return out;
}

// ---- typed reading of one parameter -------------------------------------------------------

export type Read<T> = { ok: true; value: T } | Failure;

/** A scalar as text: strings as they are, JSON numbers as decimals. Objects/arrays are refused. */
export function readString(params: Params, name: string, label = name): Read<string | undefined> {
  const v = params[name];
  if (v === undefined) return { ok: true, value: undefined };
  if (typeof v === 'string') return { ok: true, value: v };
  if (typeof v === 'number' || typeof v === 'boolean') return { ok: true, value: String(v) };
  return invalidParameter(label, 'is not a valid String');
}

const TRUE = new Set(['true', '1', 't', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'f', 'no', 'off', '']);

/** Booleans as clients send them: true/True/1 (python, php), JSON booleans; absent = fallback. */
export function readBool(params: Params, name: string, fallback: boolean): Read<boolean> {
  const v = params[name];
  if (v === undefined) return { ok: true, value: fallback };
  if (typeof v === 'boolean') return { ok: true, value: v };
  if (typeof v === 'number') return { ok: true, value: v !== 0 };
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE.has(s)) return { ok: true, value: true };
    if (FALSE.has(s)) return { ok: true, value: false };
  }
  return invalidParameter(name, `'${typeof v === 'string' ? v.slice(0, 40) : typeof v}' is not a valid Boolean`);
}

/** A nested hash parameter (`user[...]`, `data[...]`); absent = empty. */
export function readHash(params: Params, name: string): Read<Params> {
  const v = params[name];
  if (v === undefined) return { ok: true, value: bag() };
  if (isBag(v)) return { ok: true, value: v };
  return invalidParameter(name, 'is not a valid Hash');
}
