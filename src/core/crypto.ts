// Sealing secrets at rest and handling API keys. Pure functions over node:crypto.
import { createCipheriv, createDecipheriv, createHash, createHmac, hash, randomFillSync, randomInt, timingSafeEqual } from 'node:crypto';

export interface MasterKey {
  /** Short public identifier, stored in every sealed blob so keys can be rotated later. */
  id: string;
  key: Buffer;
}

// Each randomBytes call is a trip into OpenSSL (about 3 µs here, measured), and a seal, a
// message id or an imported user takes several: bytes come from a pool filled 4 KiB at a time,
// as Node's own randomInt and randomUUID do. Each byte is handed out once.
const pool = Buffer.alloc(4096);
let poolUsed = pool.length;

/** `n` bytes from the operating system's random source (as `randomBytes`), in a buffer of their own. */
export function randomBytes(n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  if (n > pool.length) return randomFillSync(out);
  if (poolUsed + n > pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  pool.copy(out, 0, poolUsed, poolUsed + n);
  pool.fill(0, poolUsed, poolUsed + n);
  poolUsed += n;
  return out;
}

export function masterKeyFrom(raw: Buffer): MasterKey {
  if (raw.length !== 32) throw new Error('the master key must be 32 bytes');
  const id = createHash('sha256').update('openfactor-key-id').update(raw).digest('hex').slice(0, 8);
  return { id, key: raw };
}

/** Accepts 64 hex characters or base64 of 32 bytes. */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  const raw = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (raw.length !== 32) throw new Error('OPENFACTOR_MASTER_KEY must be 32 bytes, as 64 hex characters or base64');
  return raw;
}

/**
 * AES-256-GCM. The blob is `v1.<key id>.<base64url(iv | ciphertext | tag)>`; `context` (the row's
 * identity) is bound as additional data, so a sealed value copied to another row will not open.
 */
export function seal(mk: MasterKey, plaintext: string | Buffer, context: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', mk.key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `v1.${mk.id}.${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
}

/** What to do when data was sealed by a master key this process was not given. */
const UNKNOWN_KEY_HELP =
  'the master key in use (OPENFACTOR_MASTER_KEY, or master.key in the data directory) is not the one that sealed this data; give that key as OPENFACTOR_MASTER_KEY, or list it in OPENFACTOR_PREVIOUS_MASTER_KEYS while rotating keys';

export function unseal(keys: MasterKey[], blob: string, context: string): Buffer {
  // Verify unseals a seed per request: indexOf rather than split, and no copy of the plaintext.
  const dot = blob.indexOf('.', 3);
  if (!blob.startsWith('v1.') || dot < 0) throw new Error('unknown sealed format');
  const kid = blob.slice(3, dot);
  const mk = keys.find((k) => k.id === kid);
  if (!mk) throw new Error(`sealed with unknown key ${kid}: ${UNKNOWN_KEY_HELP}`);
  const raw = Buffer.from(blob.slice(dot + 1), 'base64url');
  if (raw.length < 28) throw new Error('unknown sealed format');
  const decipher = createDecipheriv('aes-256-gcm', mk.key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  const plaintext = decipher.update(raw.subarray(12, raw.length - 16));
  const rest = decipher.final(); // checks the tag; GCM holds nothing back, but a copy costs nothing when it is empty
  return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 32 alphanumerics (~190 bits), the shape of an Authy API key. */
export function newApiKey(): string {
  let s = '';
  for (let i = 0; i < 32; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

/** Bearer secrets (API keys, registration tokens, access keys) are looked up by this hash. */
export const hashSecret = (secret: string): string => hash('sha256', secret, 'hex');

/** API keys are looked up by this hash; the key itself is only kept sealed. */
export const hashApiKey = hashSecret;

/** A key for one purpose (e.g. hashing sent codes), derived from the master key. */
export function deriveKey(mk: MasterKey, purpose: string): Buffer {
  return createHmac('sha256', mk.key).update(`openfactor:${purpose}`).digest();
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A keyed blind index: equal values give equal indexes, so a sealed column can still be looked up
 * by equality (user by phone, rate-limit keys), while a dump without the key shows nothing.
 */
export const blindIndex = (key: Buffer, kind: 'phone' | 'email' | 'recovery-code' | 'prefix', value: string): string =>
  createHmac('sha256', key).update(`${kind}:${value}`).digest('base64url');
