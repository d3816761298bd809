// Sealing secrets at rest and handling API keys. Pure functions over node:crypto and libsodium.
import { createCipheriv, createDecipheriv, createHash, createHmac, hash, hkdfSync, randomFillSync, randomInt, timingSafeEqual } from 'node:crypto';
import type * as Sodium from 'sodium-native';
import { lazy } from './lazy.ts';

/**
 * How a value is sealed. `v2` (XChaCha20-Poly1305, libsodium) is written by default: an open costs
 * about 1.1 µs against 4.7 for `v1` (AES-256-GCM through node:crypto, which builds a cipher object
 * per value), and every verify opens at least one value (README, "What keeps the hot paths fast").
 * Both always open; `v1` is written only while older nodes that cannot open `v2` still run.
 */
export type SealFormat = 'v1' | 'v2';
export const SEAL_FORMATS: readonly SealFormat[] = ['v1', 'v2'];

export interface MasterKey {
  /** Short public identifier, stored in every sealed blob so keys can be rotated later. */
  id: string;
  /** The AES-256-GCM key of `v1` values (the master key itself, as before `v2`). */
  key: Buffer;
  /** The XChaCha20-Poly1305 key of `v2` values, derived from the master key (HKDF), not the same bytes. */
  sealKey: Buffer;
  /** The format `seal` writes with this key. */
  writes: SealFormat;
}

// Loaded on first use: CLI commands that open nothing start without it (about 15 ms to load).
const sodium = lazy<typeof Sodium>('sodium-native');
/** `v2`'s nonce and tag, in bytes (XChaCha20-Poly1305-IETF). */
const V2_NONCE = 24;
const V2_TAG = 16;

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

export function masterKeyFrom(raw: Buffer, writes: SealFormat = 'v2'): MasterKey {
  if (raw.length !== 32) throw new Error('the master key must be 32 bytes');
  const id = createHash('sha256').update('openfactor-key-id').update(raw).digest('hex').slice(0, 8);
  const sealKey = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'openfactor:seal:v2', 32));
  return { id, key: raw, sealKey, writes };
}

/** What every value `mk` seals begins with: values without it are what `keys reseal` seals again. */
export const sealedPrefix = (mk: MasterKey): string => `${mk.writes}.${mk.id}.`;

/** Whether a stored value is sealed (either format) rather than plaintext from before sealing began. */
export const isSealed = (value: string): boolean => SEAL_FORMATS.some((f) => value.startsWith(`${f}.`));

/** SQL LIKE patterns of sealed values, for finding rows still in plaintext. */
export const SEALED_LIKE = SEAL_FORMATS.map((f) => `${f}.%`);

/** Accepts 64 hex characters or base64 of 32 bytes. */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  const raw = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (raw.length !== 32) throw new Error('OPENFACTOR_MASTER_KEY must be 32 bytes, as 64 hex characters or base64');
  return raw;
}

/**
 * The blob is `<format>.<key id>.<base64url(nonce | ciphertext | tag)>`: `v2` XChaCha20-Poly1305
 * with a 24-byte random nonce, `v1` AES-256-GCM with a 12-byte one. `context` (the row's identity)
 * is bound as additional data, so a sealed value copied to another row will not open.
 */
export function seal(mk: MasterKey, plaintext: string | Buffer, context: string): string {
  const aad = Buffer.from(context, 'utf8');
  if (mk.writes === 'v1') return sealV1(mk, plaintext, aad);
  const m = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const out = Buffer.allocUnsafe(V2_NONCE + m.length + V2_TAG);
  const nonce = out.subarray(0, V2_NONCE);
  randomBytes(V2_NONCE).copy(nonce);
  sodium().crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(V2_NONCE), m, aad, null, nonce, mk.sealKey);
  return `v2.${mk.id}.${out.toString('base64url')}`;
}

function sealV1(mk: MasterKey, plaintext: string | Buffer, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', mk.key, iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return `v1.${mk.id}.${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
}

/** What to do when data was sealed by a master key this process was not given. */
const UNKNOWN_KEY_HELP =
  'the master key in use (OPENFACTOR_MASTER_KEY, or master.key in the data directory) is not the one that sealed this data; give that key as OPENFACTOR_MASTER_KEY, or list it in OPENFACTOR_PREVIOUS_MASTER_KEYS while rotating keys';

export function unseal(keys: MasterKey[], blob: string, context: string): Buffer {
  // Verify unseals a seed per request: indexOf rather than split, and no copy of the plaintext.
  const v2 = blob.startsWith('v2.');
  const dot = blob.indexOf('.', 3);
  if ((!v2 && !blob.startsWith('v1.')) || dot < 0) throw new Error('unknown sealed format');
  const kid = blob.slice(3, dot);
  const mk = keys.find((k) => k.id === kid);
  if (!mk) throw new Error(`sealed with unknown key ${kid}: ${UNKNOWN_KEY_HELP}`);
  const raw = Buffer.from(blob.slice(dot + 1), 'base64url');
  const aad = Buffer.from(context, 'utf8');
  if (!v2) return unsealV1(mk, raw, aad);
  if (raw.length < V2_NONCE + V2_TAG) throw new Error('unknown sealed format');
  const plaintext = Buffer.allocUnsafe(raw.length - V2_NONCE - V2_TAG);
  // Throws when the tag does not match: another key, another row's context, a changed byte.
  sodium().crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext, null, raw.subarray(V2_NONCE), aad, raw.subarray(0, V2_NONCE), mk.sealKey);
  return plaintext;
}

function unsealV1(mk: MasterKey, raw: Buffer, aad: Buffer): Buffer {
  if (raw.length < 28) throw new Error('unknown sealed format');
  const decipher = createDecipheriv('aes-256-gcm', mk.key, raw.subarray(0, 12));
  decipher.setAAD(aad);
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
