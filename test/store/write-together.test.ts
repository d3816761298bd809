// Writes that stand or fall together (store/prepared.ts writeTogether): a sent code with its
// outbox message, a message marked sent with its count in the month's usage. On SQLite they are
// committed with the turn's other writes, on PostgreSQL as one statement (a turn's groups of
// inserts only: one statement for all of them); on both, all or none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '../support/harness.ts';
import { migrate, openStore } from '../../src/store/db.ts';
import { writeTogether } from '../../src/store/prepared.ts';
import { Applications, usageStep } from '../../src/features/applications/service.ts';
import { Outbox } from '../../src/delivery/outbox.ts';
import { insertMessage, markMessageSent } from '../../src/delivery/queries.ts';
import { masterKeyFrom } from '../../src/core/crypto.ts';

const MONTH = '2026-12';

test('written together: all or none, a dependent step only after a change, a failing group costs the others nothing', async () => {
  const db = await createTestDatabase();
  const store = openStore(db.url);
  const keys = [masterKeyFrom(randomBytes(32))];
  try {
    await migrate(store);
    const { id: appId } = await new Applications(store.db, keys[0]).create('Together');
    const outbox = new Outbox(store.db, store.dialect, keys, 60_000);
    const now = Date.now();
    const message = (text: string) => ({ appId, userId: null, channel: 'sms' as const, destination: '+14155550100', text, locale: 'en' });
    const statusOf = async (sid: string) => (await store.db.selectFrom('outbox').select('status').where('sid', '=', sid).executeTakeFirst())?.status;
    const smsCount = async () => Number((await store.db.selectFrom('usage_monthly').select('sms').where('app_id', '=', appId).where('month', '=', MONTH).executeTakeFirst())?.sms ?? 0);
    const sent = (sid: string) => [markMessageSent.step(sid, 'p', `p-${sid}`, now), { ...usageStep(appId, MONTH, 'sms', 1), onlyIfChanged: 0 }];

    // Two messages in one group, the second with an id already taken: neither is stored.
    const first = outbox.enqueueStep(message('one'), now);
    await outbox.enqueue(store.db, message('taken'), now);
    const taken = (await store.db.selectFrom('outbox').select('sid').where('status', '=', 'queued').executeTakeFirstOrThrow()).sid;
    const duplicate = insertMessage.step(taken, appId, null, 'sms', 'x', 'y', 'en', null, 'queued', null, now);
    await assert.rejects(writeTogether(store.db, [first.step, duplicate]));
    assert.equal(await statusOf(first.sid), undefined, 'the first write of a failed group is not kept');

    // Marked sent and counted; a second time, the status does not change and nothing is counted.
    const counted = await writeTogether(store.db, sent(taken));
    assert.deepEqual(counted.map((r) => r.changes), [1, 1]);
    assert.equal(await statusOf(taken), 'sent');
    assert.equal(await smsCount(), 1);
    const again = await writeTogether(store.db, sent(taken));
    assert.deepEqual(again.map((r) => r.changes), [0, 0], 'the count depends on the change');
    assert.equal(await smsCount(), 1);

    // Many groups in one turn, one of them failing: the others are all written, each whole.
    const groups = Array.from({ length: 20 }, (_, i) => outbox.enqueueStep(message(`m${i}`), now));
    const results = await Promise.allSettled(groups.map((g, i) => writeTogether(store.db, [g.step, usageStep(appId, MONTH, 'sms', 1), ...(i === 7 ? [duplicate] : [])])));
    assert.deepEqual(results.map((r) => r.status), groups.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')));
    for (const [i, g] of groups.entries()) assert.equal(await statusOf(g.sid), i === 7 ? undefined : 'queued', `group ${i}`);
    assert.equal(await smsCount(), 1 + 19, 'each written group counted once, the failed one not at all');

    // Groups of inserts only (a sent code and its message, say), many in one turn: on PostgreSQL
    // written as one statement. One failing group still fails whole and costs the others nothing.
    const pairs = Array.from({ length: 12 }, (_, i) => [outbox.enqueueStep(message(`i${i}`), now), outbox.enqueueStep(message(`j${i}`), now)]);
    const written = await Promise.allSettled(pairs.map(([a, b], i) => writeTogether(store.db, [a.step, i === 4 ? duplicate : b.step])));
    assert.deepEqual(written.map((r) => r.status), pairs.map((_, i) => (i === 4 ? 'rejected' : 'fulfilled')));
    for (const r of written) if (r.status === 'fulfilled') assert.deepEqual(r.value.map((w) => w.changes), [1, 1]);
    for (const [i, [a, b]] of pairs.entries()) {
      assert.equal(await statusOf(a.sid), i === 4 ? undefined : 'queued', `insert group ${i}: its first message`);
      assert.equal(await statusOf(b.sid), i === 4 ? undefined : 'queued', `insert group ${i}: its second message`);
    }
  } finally {
    await store.close();
    await db.drop();
  }
});
