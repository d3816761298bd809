// The parts of `sodium-native` (5.x) that OpenFactor uses; it ships no types.
declare module 'sodium-native' {
  /** Writes `m` sealed into `c` (m.length + 16 bytes); returns the bytes written. */
  export function crypto_aead_xchacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  /** Writes the plaintext of `c` into `m` (c.length - 16 bytes); throws when the tag does not match. */
  export function crypto_aead_xchacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
}
