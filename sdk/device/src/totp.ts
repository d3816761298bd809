// TOTP (RFC 6238) over WebCrypto HMAC, computed offline from an account's seed.
import { subtle } from './base.ts';

export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpOptions {
  /** Code length, default 6 (1–10 accepted; OpenFactor uses 6–8). */
  digits?: number;
  /** Step in seconds, default 30. */
  period?: number;
  /** HMAC hash, default SHA1. Case and a dash are tolerated: `sha1`, `SHA-256`. */
  algorithm?: TotpAlgorithm | string;
}

const HASHES: Record<string, string> = { SHA1: 'SHA-1', SHA256: 'SHA-256', SHA512: 'SHA-512' };

function hashName(algorithm: string): string {
  const name = HASHES[algorithm.toUpperCase().replace('-', '')];
  if (!name) throw new TypeError(`Unsupported TOTP algorithm ${JSON.stringify(algorithm)}: SHA1, SHA256 or SHA512`);
  return name;
}

/** HOTP (RFC 4226) of `counter` (a non-negative safe integer). */
export async function hotp(seed: Uint8Array, counter: number, opts: Omit<TotpOptions, 'period'> = {}): Promise<string> {
  const digits = opts.digits ?? 6;
  if (!Number.isInteger(digits) || digits < 1 || digits > 10) throw new RangeError(`OTP digits must be an integer 1..10, got ${digits}`);
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`OTP counter must be a non-negative safe integer, got ${counter}`);
  const key = await subtle().importKey('raw', new Uint8Array(seed), { name: 'HMAC', hash: hashName(opts.algorithm ?? 'SHA1') }, false, ['sign']);
  // 8-byte big-endian counter as two 32-bit halves, exact above 2^32.
  const msg = new Uint8Array(8);
  const view = new DataView(msg.buffer);
  view.setUint32(0, Math.floor(counter / 0x1_0000_0000));
  view.setUint32(4, counter >>> 0);
  const mac = new DataView(await subtle().sign('HMAC', key, msg));
  // Dynamic truncation (RFC 4226 §5.3).
  const offset = mac.getUint8(mac.byteLength - 1) & 0x0f;
  const n = (mac.getUint32(offset) & 0x7fff_ffff) % 10 ** digits;
  return String(n).padStart(digits, '0');
}

/** TOTP of `seed` at `timeMs` (Unix milliseconds). */
export function totp(seed: Uint8Array, timeMs: number, opts: TotpOptions = {}): Promise<string> {
  const period = opts.period ?? 30;
  if (!(period > 0) || !Number.isFinite(period)) return Promise.reject(new RangeError(`TOTP period must be positive, got ${period}`));
  return hotp(seed, Math.floor(timeMs / (period * 1000)), opts);
}
