// Sealing at rest: what opens, and everything that must not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { masterKeyFrom, randomBytes as pooledRandomBytes, seal, unseal } from '../../src/core/crypto.ts';

const current = masterKeyFrom(randomBytes(32));
const previous = masterKeyFrom(randomBytes(32));
/** The same keys, writing the format of the release before v2. */
const currentV1 = masterKeyFrom(current.key, 'v1');
const previousV1 = masterKeyFrom(previous.key, 'v1');

test('v2 is written by default, v1 only when asked; the v2 key is derived, not the master key itself', () => {
  assert.match(seal(current, 'x', 'c'), new RegExp(`^v2\\.${current.id}\\.`));
  assert.match(seal(currentV1, 'x', 'c'), new RegExp(`^v1\\.${current.id}\\.`));
  assert.equal(currentV1.id, current.id, 'one key id for both formats');
  assert.equal(current.sealKey.length, 32);
  assert.notDeepEqual(current.sealKey, current.key);
  assert.deepEqual(masterKeyFrom(Buffer.from(current.key)).sealKey, current.sealKey, 'the same master key derives the same v2 key');
});

for (const [format, mk, old] of [['v2', current, previous], ['v1', currentV1, previousV1]] as const) {
  test(`${format}: a sealed value opens with its key and context, for every length, whichever format the opener writes`, () => {
    for (const n of [0, 1, 15, 16, 17, 20, 64, 1000]) {
      const secret = randomBytes(n);
      const blob = seal(mk, secret, 'users:7:totp');
      assert.match(blob, new RegExp(`^${format}\\.${current.id}\\.[A-Za-z0-9_-]+$`));
      assert.deepEqual(unseal([current], blob, 'users:7:totp'), secret);
      assert.deepEqual(unseal([currentV1], blob, 'users:7:totp'), secret);
    }
    assert.equal(unseal([current], seal(mk, 'héllo', 'c'), 'c').toString(), 'héllo', 'a string is sealed as UTF-8');
  });

  test(`${format}: a value sealed with an earlier key still opens while that key is listed`, () => {
    const blob = seal(old, 'old', 'users:7:totp');
    assert.equal(unseal([current, previous], blob, 'users:7:totp').toString(), 'old');
    assert.throws(() => unseal([current], blob, 'users:7:totp'), /unknown key/);
  });

  test(`${format}: another row, another key under the same id, a changed byte, another format's label or a malformed blob does not open`, () => {
    const blob = seal(mk, randomBytes(20), 'users:7:totp');
    assert.throws(() => unseal([current], blob, 'users:8:totp'), 'bound to its row');
    // A key that claims the same id (a damaged key file) opens nothing.
    assert.throws(() => unseal([{ ...current, key: randomBytes(32), sealKey: randomBytes(32) }], blob, 'users:7:totp'), 'another key');
    const body = Buffer.from(blob.slice(blob.lastIndexOf('.') + 1), 'base64url');
    const nonce = format === 'v2' ? 24 : 12;
    for (const at of [0, nonce - 1, nonce, body.length - 17, body.length - 1]) {
      const bent = Buffer.from(body);
      bent[at] ^= 1;
      assert.throws(() => unseal([current], `${format}.${current.id}.${bent.toString('base64url')}`, 'users:7:totp'), `byte ${at} changed`);
    }
    const other = format === 'v2' ? 'v1' : 'v2';
    for (const bad of ['', format, `${format}.`, `v3.${current.id}.${body.toString('base64url')}`, `${other}.${current.id}.${body.toString('base64url')}`, `${format}.${current.id}.`, `${format}.${current.id}.${body.subarray(0, nonce + 15).toString('base64url')}`]) {
      assert.throws(() => unseal([current], bad, 'users:7:totp'), `opened ${JSON.stringify(bad)}`);
    }
  });
}

test('the same secret sealed twice gives two different blobs (a fresh nonce each time)', () => {
  for (const mk of [current, currentV1]) assert.notEqual(seal(mk, 'same', 'c'), seal(mk, 'same', 'c'));
});

test('random bytes from the pool: each draw its own, never repeated, of any length, across refills', () => {
  const seen = new Set<string>();
  const draws: Buffer[] = [];
  // 12-byte IVs past several 4 KiB refills, then sizes around and beyond the pool's.
  for (let i = 0; i < 2000; i++) draws.push(pooledRandomBytes(12));
  for (const n of [1, 20, 4095, 4096, 4097, 10_000]) draws.push(pooledRandomBytes(n));
  for (const d of draws) {
    const hex = d.toString('hex');
    assert.ok(!seen.has(hex), 'no draw repeats another');
    seen.add(hex);
  }
  assert.deepEqual(draws.slice(2000).map((d) => d.length), [1, 20, 4095, 4096, 4097, 10_000]);
  // A draw is a buffer of its own: what the caller does with it changes no other.
  const [a, b] = [pooledRandomBytes(16), pooledRandomBytes(16)];
  const before = Buffer.from(b);
  a.fill(7);
  assert.deepEqual(b, before);
  // Not all zero, nor stuck: 2000 IVs cover every byte value.
  const values = new Set(draws.slice(0, 2000).flatMap((d) => [...d]));
  assert.equal(values.size, 256);
});
