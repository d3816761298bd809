// Device key pairs over WebCrypto: ES256 (ECDSA P-256, IEEE P1363 r‖s signatures) or Ed25519.
import { base64url, ownBytes, subtle, utf8 } from './base.ts';

export type Algorithm = 'ES256' | 'Ed25519';

export const ALGORITHMS: readonly Algorithm[] = Object.freeze(['ES256', 'Ed25519'] as const);

export interface DeviceKeyPair {
  privateKey: CryptoKey;
  /** base64url (no padding) of the SPKI DER encoding. */
  publicKey: string;
}

function checkAlgorithm(algorithm: string): asserts algorithm is Algorithm {
  if (algorithm !== 'ES256' && algorithm !== 'Ed25519') throw new TypeError(`Unsupported device key algorithm ${JSON.stringify(algorithm)}: ES256 or Ed25519`);
}

function keyParams(algorithm: Algorithm): EcKeyImportParams | Algorithm | { name: 'Ed25519' } {
  return algorithm === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'Ed25519' };
}

function signParams(algorithm: Algorithm): EcdsaParams | { name: 'Ed25519' } {
  return algorithm === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
}

/**
 * A new key pair. With `extractable` false (the default) the private key can never leave
 * WebCrypto; keep the CryptoKey itself (e.g. in IndexedDB). With true it can be exported as JWK.
 */
export async function generateKeyPair(algorithm: Algorithm = 'ES256', extractable = false): Promise<DeviceKeyPair> {
  checkAlgorithm(algorithm);
  const pair = (await subtle().generateKey(keyParams(algorithm) as EcKeyGenParams, extractable, ['sign', 'verify'])) as CryptoKeyPair;
  const spki = await subtle().exportKey('spki', pair.publicKey);
  return { privateKey: pair.privateKey, publicKey: base64url.encode(spki) };
}

/** The private key as JWK (the key must have been generated extractable). */
export async function exportPrivateKey(key: CryptoKey): Promise<JsonWebKey> {
  return subtle().exportKey('jwk', key);
}

/** A private JWK back to a non-extractable signing CryptoKey. */
export async function importPrivateKey(jwk: JsonWebKey, algorithm: Algorithm, extractable = false): Promise<CryptoKey> {
  checkAlgorithm(algorithm);
  return subtle().importKey('jwk', jwk, keyParams(algorithm) as EcKeyImportParams, extractable, ['sign']);
}

/** Signature (base64url, no padding) over `data` (a string is signed as its UTF-8 bytes). */
export async function sign(privateKey: CryptoKey, algorithm: Algorithm, data: string | ArrayBuffer | ArrayBufferView): Promise<string> {
  checkAlgorithm(algorithm);
  const bytes = typeof data === 'string' ? utf8(data) : ownBytes(data);
  return base64url.encode(await subtle().sign(signParams(algorithm) as EcdsaParams, privateKey, bytes));
}

/** Verifies a base64url signature with an SPKI (base64url) public key; false on any malformed input. */
export async function verify(publicKey: string, algorithm: Algorithm, data: string | ArrayBuffer | ArrayBufferView, signature: string): Promise<boolean> {
  checkAlgorithm(algorithm);
  try {
    const key = await subtle().importKey('spki', base64url.decode(publicKey), keyParams(algorithm) as EcKeyImportParams, false, ['verify']);
    const bytes = typeof data === 'string' ? utf8(data) : ownBytes(data);
    return await subtle().verify(signParams(algorithm) as EcdsaParams, key, base64url.decode(signature), bytes);
  } catch {
    return false;
  }
}
