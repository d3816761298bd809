// The strings the device signs (docs/device-api.md): the request string and the approval answer
// string with its transaction hash over canonical JSON.
import { sha256Base64url } from './base.ts';

/**
 * Canonical JSON: `JSON.stringify` semantics (undefined/functions dropped from objects, `null` in
 * arrays, non-finite numbers → null, `toJSON` honoured) with the keys of every object sorted by
 * UTF-16 code unit and no whitespace. Arrays keep their order.
 */
export function canonicalJson(value: unknown): string {
  const out = serialize(value);
  if (out === undefined) throw new TypeError('canonicalJson: the value has no JSON representation');
  return out;
}

function serialize(input: unknown): string | undefined {
  let v = input;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(): unknown }).toJSON();
  }
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt has no JSON representation');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (Array.isArray(v)) return `[${v.map((x) => serialize(x) ?? 'null').join(',')}]`;
  const obj = v as Record<string, unknown>;
  const parts: string[] = [];
  // Array.prototype.sort without a comparator compares UTF-16 code units.
  for (const key of Object.keys(obj).sort()) {
    const s = serialize(obj[key]);
    if (s !== undefined) parts.push(`${JSON.stringify(key)}:${s}`);
  }
  return `{${parts.join(',')}}`;
}

/** What an approval request's transaction hash covers, exactly as the device received it. */
export interface TransactionContent {
  message: string;
  details: unknown;
  logos: unknown;
}

/** `base64url(SHA-256(UTF-8(canonicalJson({message, details, logos}))))`; other fields are ignored. */
export function transactionHash(content: TransactionContent): Promise<string> {
  return sha256Base64url(canonicalJson({ message: content.message, details: content.details, logos: content.logos }));
}

/** The string a device signs for an answer: `<uuid>|<status>|<transaction_hash>`. */
export function answerSignatureString(uuid: string, status: 'approved' | 'denied', transactionHash: string): string {
  return `${uuid}|${status}|${transactionHash}`;
}

/**
 * The string a device signs to approve or deny another device of the same person:
 * `device-request|<id>|<status>|<base64url(SHA-256(UTF-8(public_key)))>`, the key as it was shown.
 */
export async function deviceRequestSignatureString(id: number, status: 'approved' | 'denied', publicKey: string): Promise<string> {
  return `device-request|${id}|${status}|${await sha256Base64url(publicKey)}`;
}

export interface SignedStringParts {
  /** Unix time in seconds. */
  timestamp: number | string;
  nonce: string;
  /** Upper-cased here. */
  method: string;
  /** Path with query, exactly as sent (`url.pathname + url.search`). */
  path: string;
  /** base64url(SHA-256(body bytes)); see {@link bodyHash}. */
  bodyHash: string;
}

/** `<timestamp>\n<nonce>\n<METHOD>\n<path with query>\n<body hash>`. */
export function signedString(parts: SignedStringParts): string {
  return `${parts.timestamp}\n${parts.nonce}\n${parts.method.toUpperCase()}\n${parts.path}\n${parts.bodyHash}`;
}

/** base64url(SHA-256(body)) of the exact bytes sent; an empty body hashes the empty string. */
export function bodyHash(body: string | ArrayBuffer | ArrayBufferView = ''): Promise<string> {
  return sha256Base64url(body);
}
