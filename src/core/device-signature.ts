// Device signatures (docs/device-api.md): ES256 (P-256, IEEE P1363) or Ed25519 over SPKI public
// keys; the signed string of a device call; the transaction hash a device signs its answer over.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { DeviceAlgorithm } from '../store/schema.ts';

export const DEVICE_ALGORITHMS: readonly DeviceAlgorithm[] = ['ES256', 'Ed25519'];

/** The public key of a device, if `spki` (base64url DER) really is a key of that algorithm. */
export function readPublicKey(algorithm: DeviceAlgorithm, spki: string): KeyObject | undefined {
  if (!/^[A-Za-z0-9_-]{40,400}$/.test(spki)) return undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(spki, 'base64url'), format: 'der', type: 'spki' });
    if (algorithm === 'ES256') return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : undefined;
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

export function verifyDeviceSignature(algorithm: DeviceAlgorithm, key: KeyObject, data: string, signature: string): boolean {
  if (!/^[A-Za-z0-9_-]{80,90}$/.test(signature)) return false; // 64 bytes in base64url
  const sig = Buffer.from(signature, 'base64url');
  if (sig.length !== 64) return false;
  try {
    return algorithm === 'ES256'
      ? verify('sha256', Buffer.from(data, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, sig)
      : verify(null, Buffer.from(data, 'utf8'), key, sig);
  } catch {
    return false;
  }
}

/** `<timestamp>\n<nonce>\n<METHOD>\n<path?query>\n<base64url(sha256(body))>` */
export const signedRequestString = (timestamp: string, nonce: string, method: string, pathAndQuery: string, body: Buffer) =>
  `${timestamp}\n${nonce}\n${method.toUpperCase()}\n${pathAndQuery}\n${createHash('sha256').update(body).digest('base64url')}`;

/** JSON with every object's keys sorted by code unit: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What a device signs its answer over: the request exactly as it was shown. */
export const transactionHash = (t: { message: string; details: Record<string, string>; logos: unknown[] }) =>
  createHash('sha256').update(canonicalJson({ message: t.message, details: t.details, logos: t.logos }), 'utf8').digest('base64url');

export const answerString = (uuid: string, status: string, hash: string) => `${uuid}|${status}|${hash}`;
