// Sealing at rest: what opens, and everything that must not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { masterKeyFrom, randomBytes as pooledRandomBytes, seal, unseal } from '../../src/core/crypto.ts';

const current = masterKeyFrom(randomBytes(32));
const previous = masterKeyFrom(randomBytes(32));

test('a sealed value opens with its key and context, for every length', () => {
  for (const n of [0, 1, 15, 16, 17, 20, 64, 1000]) {
    const secret = randomBytes(n);
    const blob = seal(current, secret, 'users:7:totp');
    assert.match(blob, new RegExp(`^v1\\.${current.id}\\.[A-Za-z0-9_-]+$`));
    assert.deepEqual(unseal([current], blob, 'users:7:totp'), secret);
  }
});

test('a value sealed with an earlier key still opens while that key is listed', () => {
  const blob = seal(previous, 'old', 'users:7:totp');
  assert.equal(unseal([current, previous], blob, 'users:7:totp').toString(), 'old');
  assert.throws(() => unseal([current], blob, 'users:7:totp'), /unknown key/);
});

test('another row, a changed byte or a malformed blob does not open', () => {
  const blob = seal(current, randomBytes(20), 'users:7:totp');
  assert.throws(() => unseal([current], blob, 'users:8:totp'), 'bound to its row');
  const body = Buffer.from(blob.slice(blob.lastIndexOf('.') + 1), 'base64url');
  for (const at of [0, 12, body.length - 1]) {
    const bent = Buffer.from(body);
    bent[at] ^= 1;
    assert.throws(() => unseal([current], `v1.${current.id}.${bent.toString('base64url')}`, 'users:7:totp'), `byte ${at} changed`);
  }
  for (const bad of ['', 'v1', 'v1.', `v2.${current.id}.${body.toString('base64url')}`, `v1.${current.id}.`, `v1.${current.id}.${body.subarray(0, 20).toString('base64url')}`]) {
    assert.throws(() => unseal([current], bad, 'users:7:totp'), `opened ${JSON.stringify(bad)}`);
  }
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
