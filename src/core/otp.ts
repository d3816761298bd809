// HOTP (RFC 4226) and TOTP (RFC 6238). Pure functions over node:crypto; this is the verify hot path.
import { hash, timingSafeEqual } from 'node:crypto';
import { randomBytes } from './crypto.ts';
import { Secret } from 'otpauth';

export type OtpAlgorithm = 'sha1' | 'sha256' | 'sha512';
export interface OtpOptions {
  /** 6..8, default 6. */
  digits?: number;
  /** Default sha1. */
  algorithm?: OtpAlgorithm;
}
export interface TotpOptions extends OtpOptions {
  /** Default 30. */
  stepSeconds?: number;
}

// Reused for every code: everything here is synchronous, so one set of buffers is enough.
const counterBytes = Buffer.alloc(8);
const BLOCK_BYTES: Record<OtpAlgorithm, number> = { sha1: 64, sha256: 64, sha512: 128 };
const innerBlock = Buffer.alloc(128 + 8);
const outerBlock = Buffer.alloc(128 + 64);

/**
 * HMAC (RFC 2104) of the counter as two one-shot hashes over reused buffers, its bytes as a
 * latin1 ('binary') string. `createHmac` took twice as long and left a native object per code for the
 * young-generation GC to sweep: up to three per verify (bench: 6% of a verify's CPU in Hmac).
 */
function hmacOfCounter(algorithm: OtpAlgorithm, secret: Buffer): string {
  const block = BLOCK_BYTES[algorithm];
  const key = secret.length > block ? hash(algorithm, secret, 'buffer') : secret;
  for (let i = 0; i < block; i++) {
    const k = i < key.length ? key[i] : 0;
    innerBlock[i] = k ^ 0x36;
    outerBlock[i] = k ^ 0x5c;
  }
  counterBytes.copy(innerBlock, block);
  const inner = hash(algorithm, innerBlock.subarray(0, block + 8), 'binary');
  outerBlock.write(inner, block, 'latin1');
  return hash(algorithm, outerBlock.subarray(0, block + inner.length), 'binary');
}

function checkDigits(digits: number): void {
  if (digits !== 6 && digits !== 7 && digits !== 8) throw new RangeError(`OTP digits must be 6, 7 or 8, got ${digits}`);
}

/** The code as an integer (below 10^digits); callers have already validated `digits`. */
function codeNumber(secret: Buffer, counter: number, digits: number, algorithm: OtpAlgorithm): number {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`OTP counter must be a non-negative safe integer, got ${counter}`);
  // 8-byte big-endian counter as two 32-bit halves, so counters above 2^32 are exact.
  counterBytes.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  counterBytes.writeUInt32BE(counter >>> 0, 4);
  const mac = hmacOfCounter(algorithm, secret);
  // Dynamic truncation (RFC 4226 §5.3).
  const offset = mac.charCodeAt(mac.length - 1) & 0x0f;
  const word = (mac.charCodeAt(offset) << 24) | (mac.charCodeAt(offset + 1) << 16) | (mac.charCodeAt(offset + 2) << 8) | mac.charCodeAt(offset + 3);
  return (word & 0x7fff_ffff) % 10 ** digits;
}

export function hotp(secret: Buffer, counter: number, opts?: OtpOptions): string {
  const digits = opts?.digits ?? 6;
  checkDigits(digits);
  return String(codeNumber(secret, counter, digits, opts?.algorithm ?? 'sha1')).padStart(digits, '0');
}

export function totpStep(timeMs: number, stepSeconds = 30): number {
  if (!(stepSeconds > 0)) throw new RangeError(`TOTP step must be positive, got ${stepSeconds}`);
  return Math.floor(timeMs / (stepSeconds * 1000));
}

export function totp(secret: Buffer, timeMs: number, opts?: TotpOptions): string {
  return hotp(secret, totpStep(timeMs, opts?.stepSeconds), opts);
}

/**
 * The step in [center-behind, center+ahead] whose code equals `token`, nearest to center first
 * (center, +1, -1, +2, -2…); undefined when none. Compares with crypto.timingSafeEqual on
 * equal-length buffers; a token of the wrong length or with non-digits returns undefined without
 * computing.
 */
export function findStep(
  secret: Buffer,
  token: string,
  center: number,
  window: { behind: number; ahead: number },
  opts?: OtpOptions,
): number | undefined {
  const digits = opts?.digits ?? 6;
  checkDigits(digits);
  const algorithm = opts?.algorithm ?? 'sha1';
  if (token.length !== digits || !/^[0-9]+$/.test(token)) return undefined;
  const want = Buffer.from(token, 'latin1');
  const got = Buffer.allocUnsafe(digits);
  for (let d = 0; d <= Math.max(window.behind, window.ahead); d++) {
    if (d === 0) {
      if (codeAt(secret, center, digits, algorithm, want, got)) return center;
      continue;
    }
    if (d <= window.ahead && codeAt(secret, center + d, digits, algorithm, want, got)) return center + d;
    if (d <= window.behind && center - d >= 0 && codeAt(secret, center - d, digits, algorithm, want, got)) return center - d;
  }
  return undefined;
}

/** Whether step's code is `want`. A function of its own, not a closure: verify calls findStep per request. */
function codeAt(secret: Buffer, step: number, digits: number, algorithm: OtpAlgorithm, want: Buffer, got: Buffer): boolean {
  // Write the code's ASCII digits straight into `got`: no string per candidate.
  let n = codeNumber(secret, step, digits, algorithm);
  for (let i = digits - 1; i >= 0; i--, n = Math.floor(n / 10)) got[i] = 48 + (n % 10);
  return timingSafeEqual(want, got);
}

export function newSecret(bytes = 20): Buffer {
  return randomBytes(bytes);
}

export function toBase32(secret: Buffer): string {
  // Slice: a small Buffer is a view into Node's shared pool, and Secret would encode the whole pool.
  return new Secret({ buffer: secret.buffer.slice(secret.byteOffset, secret.byteOffset + secret.length) }).base32;
}

/** Accepts lower case, spaces and `=` padding; throws TypeError on any other non-base32 character. */
export function fromBase32(text: string): Buffer {
  const bytes = Secret.fromBase32(text).bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
