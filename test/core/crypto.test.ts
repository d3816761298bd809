// Sealing at rest: what opens, and everything that must not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { masterKeyFrom, seal, unseal } from '../../src/core/crypto.ts';

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
