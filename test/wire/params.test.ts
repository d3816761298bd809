import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDocument, mergeParams, parseUrlEncoded, readBool, type Params } from '../../src/core/params.ts';
import { BadInput } from '../../src/core/errors.ts';

const plain = (p: unknown) => JSON.parse(JSON.stringify(p));

test('brackets nest (Rack semantics)', () => {
  assert.deepEqual(plain(parseUrlEncoded('user[email]=a%40b.com&user[cellphone]=415+555&a[b][c]=1')), {
    user: { email: 'a@b.com', cellphone: '415 555' },
    a: { b: { c: '1' } },
  });
});

test('a[]=x&a[]=y is an array', () => {
  assert.deepEqual(plain(parseUrlEncoded('events[]=user_added&events[]=user_removed')), { events: ['user_added', 'user_removed'] });
});

test('unindexed a[][k] starts a new element when a key repeats (ruby, rust logos)', () => {
  const p = parseUrlEncoded('logos[][res]=default&logos[][url]=https%3A%2F%2Fa&logos[][res]=low&logos[][url]=https%3A%2F%2Fb');
  assert.deepEqual(plain(p), { logos: [{ res: 'default', url: 'https://a' }, { res: 'low', url: 'https://b' }] });
});

test('indexed a[0][k] becomes an array of objects in index order (node qs, php)', () => {
  const p = parseUrlEncoded('logos[1][res]=low&logos[0][res]=default&logos[0][url]=u0&logos[1][url]=u1');
  assert.deepEqual(plain(p), { logos: [{ res: 'default', url: 'u0' }, { res: 'low', url: 'u1' }] });
});

test('__proto__ is data, not a prototype', () => {
  const p = parseUrlEncoded('__proto__[polluted]=1&user[__proto__][x]=2');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // A key named __proto__ is kept as data (an own property), never as the prototype.
  assert.deepEqual(plain(Object.getOwnPropertyDescriptor(p, '__proto__')?.value), { polluted: '1' });
});

test('conflicting shapes and bad escapes are bad input, not a crash', () => {
  assert.throws(() => parseUrlEncoded('a=1&a[b]=2'), BadInput);
  assert.throws(() => parseUrlEncoded('a[]=1&a[b]=2'), BadInput);
  assert.throws(() => parseUrlEncoded('a=%E0%A4%A'), BadInput);
  assert.throws(() => parseUrlEncoded('a' + '[b]'.repeat(40) + '=1'), BadInput);
  assert.throws(() => parseUrlEncoded(Array.from({ length: 1001 }, (_, i) => `k${i}=1`).join('&')), BadInput);
});

test('booleans: true/True/1/false/False/0 and JSON booleans; absent is the fallback', () => {
  const cases: [unknown, boolean][] = [['true', true], ['True', true], ['1', true], [true, true], [1, true], ['false', false], ['False', false], ['0', false], [false, false]];
  for (const [v, want] of cases) {
    const r = readBool({ force: v } as Params, 'force', !want);
    assert.deepEqual(r, { ok: true, value: want }, `force=${JSON.stringify(v)}`);
  }
  assert.deepEqual(readBool({} as Params, 'force', true), { ok: true, value: true });
  const bad = readBool({ force: 'maybe' } as Params, 'force', false);
  assert.equal(bad.ok, false);
});

test('JSON null means absent; the body wins over the query', () => {
  const body = fromDocument({ seconds_to_expire: null, user: { email: 'b@x.io', country_code: 1 } }) as Params;
  assert.equal('seconds_to_expire' in body, false);
  const merged = mergeParams(parseUrlEncoded('user[email]=a@x.io&user[cellphone]=1&api_key=q'), body);
  assert.deepEqual(plain(merged), { user: { email: 'b@x.io', cellphone: '1', country_code: 1 }, api_key: 'q' });
});
