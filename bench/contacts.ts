// Per-call cost of sealed phone numbers and addresses (issue 15): sealing one (users/new, each
// message queued), opening one (status, sms, approval status, the delivery worker), and the blind
// index (every lookup by phone, every per-number rate limit). `node --import tsx bench/contacts.ts`
import { randomBytes } from 'node:crypto';
import { masterKeyFrom, unseal } from '../src/core/crypto.ts';
import { Contacts, joinContact, userContactContext } from '../src/store/contacts.ts';

const master = randomBytes(32);
const c = new Contacts([masterKeyFrom(master)], randomBytes(32));
const v1 = new Contacts([masterKeyFrom(master, 'v1')], c.indexKey);
const phone = '+14155550182';
const contact = joinContact(phone, 'jane.doe@example.com'); // a user's number and address, sealed as one
const ctx = userContactContext(1, c.phoneIndex(phone));
const sealed = c.seal(contact, ctx);
const sealedV1 = v1.seal(contact, ctx);

function per(name: string, f: () => unknown, n = 200_000) {
  for (let i = 0; i < 20_000; i++) f(); // warm up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  const ns = Number(process.hrtime.bigint() - t) / n;
  console.log(`${name.padEnd(34)} ${(ns / 1000).toFixed(2)} µs per call`);
}
per('seal (v2, XChaCha20-Poly1305)', () => c.seal(contact, ctx));
per('seal (v1, AES-256-GCM)', () => v1.seal(contact, ctx));
per('unseal v2 (first open of a value)', () => unseal(c.keys, sealed, ctx));
per('unseal v1 (first open of a value)', () => unseal(c.keys, sealedV1, ctx));
per('open again (kept by sealed form)', () => c.open(sealed, ctx));
per('blind index (HMAC-SHA256)', () => c.phoneIndex(phone));
