// SMPP specifics beyond the conformance suite: data coding as the text needs, concatenation
// headers, the source address, enquire_link keep-alive, and re-binding after the SMSC drops us.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider } from '../../src/delivery/providers/index.ts';
import type { OutgoingMessage, Provider, Receipt } from '../../src/delivery/provider.ts';
import { startFakeSmsc, type FakeSmsc } from '../support/fakes/smsc.ts';
import { smsParts } from '../../src/core/sms.ts';
import { quietLog, until } from '../support/wait.ts';

const quiet = quietLog;
let smsc: FakeSmsc;
let p: Provider;
const receipts: Receipt[] = [];
let n = 0;

const send = (text: string, destination = '+351912345678') => {
  const m: OutgoingMessage = { id: `SM${(++n).toString(16).padStart(32, '0')}`, channel: 'sms', destination, text, locale: 'pt', idempotencyKey: `k${n}` };
  return p.send(m, new AbortController().signal);
};

before(async () => {
  smsc = await startFakeSmsc();
  p = createProvider(smsc.url + '&enquire_link=150&timeout=2000', 'sms', quiet);
  p.onReceipt!((r) => receipts.push(r));
});
after(async () => {
  await p.close?.();
  await smsc.close();
});

test('GSM-7 text goes as data_coding 0 in one submit_sm, from an alphanumeric source', async () => {
  const r = await send('O seu código Test Bank é 1234567'); // ó is not GSM-7 …
  assert.ok(r.ok);
  const r2 = await send('Your Test Bank code is 1234567 {€}'); // … but € and braces are (escape table)
  assert.ok(r2.ok);
  const [a, b] = smsc.submits.slice(-2);
  assert.equal(a.data_coding, 0x08, 'ó needs UCS-2');
  assert.equal(b.data_coding, 0x00);
  assert.equal(b.source_addr, 'OpenFactor');
  assert.equal(b.source_addr_ton, 5, 'alphanumeric TON');
  assert.equal(b.destination_addr, '351912345678');
  assert.equal(b.dest_addr_ton, 1, 'international');
  assert.equal(smsc.messages.at(-1)!.text, 'Your Test Bank code is 1234567 {€}');
});

test('long texts are split with a concatenation header and reassemble exactly', async () => {
  const gsm = 'Your Test Bank code is 1234567. '.repeat(10);
  const ucs = 'Ваш код Test Bank: 1234567. '.repeat(5);
  for (const text of [gsm, ucs]) {
    const before = smsc.submits.length;
    const r = await send(text);
    assert.ok(r.ok);
    const parts = smsc.submits.slice(before);
    assert.equal(parts.length, smsParts(text).parts.length);
    assert.ok(parts.length > 1);
    for (const pdu of parts) assert.equal(pdu.esm_class & 0x40, 0x40, 'UDHI set');
    assert.equal(parts.filter((pdu) => pdu.registered_delivery & 1).length, 1, 'one receipt asked for, on the first part');
    assert.equal(smsc.messages.at(-1)!.text, text);
    assert.equal(smsc.messages.at(-1)!.parts, parts.length);
  }
});

test('part sizes: 160/153 septets (extension characters count twice), 70/67 UCS-2 units, pairs never split', () => {
  assert.equal(smsParts('a'.repeat(160)).parts.length, 1);
  assert.deepEqual(smsParts('a'.repeat(161)).parts.map((x) => x.length), [153, 8]);
  assert.equal(smsParts('€'.repeat(80)).parts.length, 1);
  assert.equal(smsParts('€'.repeat(81)).parts.length, 2);
  assert.deepEqual(smsParts('я'.repeat(71)).parts.map((x) => x.length), [67, 4]);
  const emoji = smsParts('🙂'.repeat(40)).parts; // 80 UTF-16 units, 2 per emoji
  assert.deepEqual(emoji.map((x) => x.length), [66, 14]);
  assert.equal(smsParts('x'.repeat(10)).encoding, 'gsm7');
  assert.equal(smsParts('x'.repeat(10) + '🙂').encoding, 'ucs2');
});

test('receipts arrive as deliver_sm and name the message id submit_sm_resp gave', async () => {
  smsc.receiptStat.set('14155550100', 'UNDELIV');
  const ok = await send('Your code is 1111111');
  const bad = await send('Your code is 2222222', '+14155550100');
  assert.ok(ok.ok && bad.ok);
  await until('receipt', () => receipts.some((r) => r.providerMessageId === bad.providerMessageId));
  await until('receipt', () => receipts.some((r) => r.providerMessageId === ok.providerMessageId));
  assert.equal(receipts.find((r) => r.providerMessageId === ok.providerMessageId)!.status, 'delivered');
  assert.equal(receipts.find((r) => r.providerMessageId === bad.providerMessageId)!.status, 'undelivered');
});

test('enquire_link keeps the session alive', async () => {
  const before = smsc.enquireLinks;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(smsc.enquireLinks >= before + 2, `${smsc.enquireLinks - before} enquire_link in 500 ms at a 150 ms period`);
});

test('after the SMSC drops the connection, the provider binds again and sends', async () => {
  const binds = smsc.binds;
  smsc.dropAll();
  await until('re-bound', () => smsc.binds > binds, 5000); // re-binds on its own (receipts must keep flowing)
  const r = await send('Your code is 3333333');
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(smsc.messages.at(-1)!.text, 'Your code is 3333333');
});

test('a wrong password is a failed bind, reported without the password', async () => {
  const wrong = createProvider(smsc.url.replace(':secret12@', ':wrong-pass@') + '&timeout=1000', 'sms', quiet);
  try {
    const r = await wrong.send({ id: 'SMx', channel: 'sms', destination: '+14155550142', text: 'x', locale: 'en', idempotencyKey: 'x' }, new AbortController().signal).catch((e: Error) => ({ ok: false as const, error: e.message }));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /bind/);
    assert.doesNotMatch(!r.ok ? r.error : '', /wrong-pass/);
  } finally {
    await wrong.close?.();
  }
});
