// HOTP (RFC 4226) and TOTP (RFC 6238). Pure functions over node:crypto; this is the verify hot path.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
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

// Reused for every code: everything here is synchronous, so one 8-byte counter buffer is enough.
const counterBytes = Buffer.alloc(8);

function checkDigits(digits: number): void {
  if (digits !== 6 && digits !== 7 && digits !== 8) throw new RangeError(`OTP digits must be 6, 7 or 8, got ${digits}`);
}

/** The code as an integer (below 10^digits); callers have already validated `digits`. */
function codeNumber(secret: Buffer, counter: number, digits: number, algorithm: OtpAlgorithm): number {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`OTP counter must be a non-negative safe integer, got ${counter}`);
  // 8-byte big-endian counter as two 32-bit halves, so counters above 2^32 are exact.
  counterBytes.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 0);
  counterBytes.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac(algorithm, secret).update(counterBytes).digest();
  // Dynamic truncation (RFC 4226 §5.3).
  const offset = mac[mac.length - 1] & 0x0f;
  return (mac.readUInt32BE(offset) & 0x7fff_ffff) % 10 ** digits;
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
  const check = (step: number): boolean => {
    // Write the code's ASCII digits straight into `got`: no string per candidate.
    let n = codeNumber(secret, step, digits, algorithm);
    for (let i = digits - 1; i >= 0; i--, n = Math.floor(n / 10)) got[i] = 48 + (n % 10);
    return timingSafeEqual(want, got);
  };
  for (let d = 0; d <= Math.max(window.behind, window.ahead); d++) {
    if (d === 0) {
      if (check(center)) return center;
      continue;
    }
    if (d <= window.ahead && check(center + d)) return center + d;
    if (d <= window.behind && center - d >= 0 && check(center - d)) return center - d;
  }
  return undefined;
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
