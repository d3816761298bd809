// Encoding helpers over standard web APIs only (no Buffer): UTF-8, base64url, base32, SHA-256,
// random nonces.

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** A copy of `bytes` on its own ArrayBuffer (what WebCrypto's BufferSource wants). */
export function ownBytes(bytes: ArrayBuffer | ArrayBufferView): Uint8Array<ArrayBuffer> {
  const view = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  return new Uint8Array(view);
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64URL.length; i++) B64URL_INDEX[B64URL.charCodeAt(i)] = i;

/** base64url without padding (RFC 4648 §5). */
function base64urlEncode(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]!;
  }
  return out;
}

/** Decodes base64url; trailing `=` padding is tolerated, any other character outside the alphabet throws TypeError. */
function base64urlDecode(text: string): Uint8Array<ArrayBuffer> {
  const s = text.replace(/=+$/, '');
  if (s.length % 4 === 1) throw new TypeError('Invalid base64url length');
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64URL_INDEX[c]! : -1;
    if (v < 0) throw new TypeError(`Invalid base64url character ${JSON.stringify(s[i])}`);
    value = ((value << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >>> bits) & 0xff;
    }
  }
  return out;
}

/** base64url without padding, as every key, signature and hash travels in the device API. */
export const base64url = Object.freeze({ encode: base64urlEncode, decode: base64urlDecode });

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (upper case). */
export function base32Encode(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(value >>> bits) & 31];
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * RFC 4648 base32 to bytes. Accepts lower case, spaces, dashes and `=` padding (seeds are often
 * shown grouped); throws TypeError on any other character outside the alphabet.
 */
export function base32Decode(text: string): Uint8Array<ArrayBuffer> {
  const s = text.replace(/[\s-]+/g, '').replace(/=+$/, '').toUpperCase();
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B32.indexOf(s[i]!);
    if (v < 0) throw new TypeError(`Invalid base32 character ${JSON.stringify(s[i])}`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >>> bits) & 0xff;
    }
  }
  return out;
}

export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto (globalThis.crypto.subtle) is not available: use Node 20+ or a browser in a secure context (https)');
  return s;
}

/** base64url(SHA-256(bytes)); a string is hashed as its UTF-8 bytes. */
export async function sha256Base64url(data: string | ArrayBuffer | ArrayBufferView): Promise<string> {
  const bytes = typeof data === 'string' ? utf8(data) : ownBytes(data);
  return base64urlEncode(await subtle().digest('SHA-256', bytes));
}

/** A fresh request nonce: 16 random bytes → 22 characters of [A-Za-z0-9_-]. */
export function randomNonce(): string {
  return base64urlEncode(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}
