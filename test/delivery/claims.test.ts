// Claiming due messages from the outbox: oldest due first, abandoned leases taken back, nothing
// not yet due, and of several senders claiming at once (each its own connection, as several
// processes or nodes) every message goes to exactly one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from '../support/harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { Applications } from '../../src/features/applications/service.ts';
import { Outbox } from '../../src/delivery/outbox.ts';
import { masterKeyFrom } from '../../src/core/crypto.ts';
import { randomBytes } from 'node:crypto';

const LEASE_MS = 60_000;

test('claims: oldest due first, abandoned leases taken back, and of four senders at once each message goes to one', async () => {
  const db = await createTestDatabase();
  const keys = [masterKeyFrom(randomBytes(32))];
  const stores: Store[] = [];
  try {
    for (let i = 0; i < 4; i++) stores.push(openStore(db.url));
    await migrate(stores[0]);
    const { id: appId } = await new Applications(stores[0].db, keys[0]).create('Claims');
    const outboxes = stores.map((s) => new Outbox(s.db, s.dialect, keys, LEASE_MS));
    const now = Date.now();
    const sids: Record<string, string> = {};
    const queue = async (name: string, dueIn: number) =>
      (sids[name] = await outboxes[0].enqueue(stores[0].db, { appId, userId: null, channel: 'sms', destination: '+14155550100', text: name, locale: 'en' }, now + dueIn));
    // Queued in an order unlike their due times; one not due yet.
    for (const [name, dueIn] of [['third', -100], ['first', -300], ['later', 3_600_000], ['second', -200]] as const) await queue(name, dueIn);
    // Two claimed by a sender that stopped: one whose lease ran out, one whose lease still holds.
    await queue('abandoned', -250);
    await queue('held', -240);
    await stores[0].db.updateTable('outbox').set({ status: 'sending', claimed_until: now - 1, attempts: 1 }).where('sid', '=', sids.abandoned).execute();
    await stores[0].db.updateTable('outbox').set({ status: 'sending', claimed_until: now + LEASE_MS }).where('sid', '=', sids.held).execute();

    const firstTwo = await outboxes[1].claim(2, now);
    // Which ones a claim takes is the rule; in what order it hands them over is not.
    const texts = (ms: { text: string }[]) => ms.map((m) => m.text).sort();
    assert.deepEqual(texts(firstTwo), ['abandoned', 'first'], 'oldest due first, a lapsed lease among them');
    const rest = await outboxes[2].claim(10, now);
    assert.deepEqual(texts(rest), ['second', 'third'], 'neither the message not yet due nor one whose lease holds');
    assert.equal(firstTwo.find((m) => m.text === 'abandoned')?.rounds, 2, 'a message taken back counts a second round');

    // A backlog claimed by four senders at once, a few at a time, as workers do.
    const backlog = 400;
    const queued = new Set<string>();
    for (let i = 0; i < backlog; i++) {
      const m = { appId, userId: null, channel: 'sms' as const, destination: `+1415555${String(i).padStart(4, '0')}`, text: `m${i}`, locale: 'en' };
      queued.add(await outboxes[i % 4].enqueue(stores[i % 4].db, m, now - 1000 + (i % 17)));
    }
    const taken: string[] = [];
    await Promise.all(
      outboxes.map(async (o) => {
        for (;;) {
          const batch = await o.claim(7, now);
          if (batch.length === 0) return;
          taken.push(...batch.map((m) => m.id));
        }
      }),
    );
    assert.equal(taken.length, backlog, 'every message claimed once: none twice, none left');
    assert.deepEqual(new Set(taken), queued);
  } finally {
    for (const s of stores) await s.close();
    await db.drop();
  }
});
