// The delivery tables: the message outbox with its provider attempts, signed HTTP deliveries
// (hook_deliveries, hook_attempts) and applications' own provider lists. Claims lease rows to one
// sender: on PostgreSQL with SKIP LOCKED, so that several nodes never take the same row.
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { Dialect } from '../store/db.ts';
import { prepared } from '../store/prepared.ts';
import { oneRowEach, perTurn } from '../store/turn-batch.ts';
import type { AttemptOutcome, DB, HookDeliveriesTable, OutboxStatus } from '../store/schema.ts';
import type { Channel } from './provider.ts';

type Db = Kysely<DB> | Transaction<DB>;

// ---- outbox ---------------------------------------------------------------------------------

/** A new message's row; a step of the transaction that records what it is about (writeTogether). */
export const insertMessage = prepared(
  (db: Kysely<DB>, sid: string, appId: number, userId: number | null, channel: Channel, destination: string, text: string, locale: string, fallbackText: string | null, status: OutboxStatus, result: string | null, now: number) =>
    db.insertInto('outbox').values({
      sid,
      app_id: appId,
      user_id: userId,
      channel,
      destination,
      text_sealed: text,
      locale,
      fallback_text_sealed: fallbackText,
      status,
      provider_result: result,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
    }),
);

/** Messages due to be sent: queued and due, or claimed by a sender whose lease has run out. */
const isMessageDue = (now: number) => (w: ExpressionBuilder<DB, 'outbox'>) =>
  w.or([
    w.and([w('status', '=', 'queued'), w('next_attempt_at', '<=', now)]),
    w.and([w('status', '=', 'sending'), w('claimed_until', '<', now)]),
  ]);
// Polled every second, mostly to hear "nothing": compiled once (see store/prepared.ts).
export const anyMessageDue = prepared((db: Kysely<DB>, now: number) => db.selectFrom('outbox').select('id').where(isMessageDue(now)).limit(1));

/**
 * Leases up to `limit` due messages to this sender until `leaseUntil`, oldest due first.
 * Queued messages and abandoned ones are looked up apart, each in the order of its index, so a
 * claim reads `limit` rows of each, not the whole backlog (sorted in one query it read all of
 * it: 0.3 ms a claim at 1,000 waiting, growing with the queue). Compiled once per dialect: a
 * busy worker claims every few messages.
 */
const claimOn = (dialect: Dialect) =>
  prepared((db: Kysely<DB>, limit: number, leaseUntil: number, now: number) => {
    const due = (status: 'queued' | 'sending') =>
      db
        .selectFrom((eb) => {
          let q = eb
            .selectFrom('outbox')
            .select(['id', 'next_attempt_at'])
            .where('status', '=', status)
            .where(status === 'queued' ? 'next_attempt_at' : 'claimed_until', status === 'queued' ? '<=' : '<', now)
            .orderBy('next_attempt_at')
            .orderBy('id')
            .limit(limit);
          // Several nodes on PostgreSQL: each row goes to one of them.
          if (dialect === 'postgres') q = q.forUpdate().skipLocked();
          return q.as(status);
        })
        .select(['id', 'next_attempt_at']);
    return db
      .updateTable('outbox')
      .set((eb) => ({ status: 'sending', claimed_until: leaseUntil, attempts: eb('attempts', '+', 1), updated_at: now }))
      .where('id', 'in', (eb) => eb.selectFrom(due('queued').unionAll(due('sending')).as('due')).select('id').orderBy('next_attempt_at').orderBy('id').limit(limit))
      .returning(['id', 'sid', 'app_id', 'channel', 'destination', 'text_sealed', 'locale', 'attempts']);
  });
const claims = { sqlite: claimOn('sqlite'), postgres: claimOn('postgres') };
export const claimMessages = (db: Kysely<DB>, dialect: Dialect, limit: number, leaseMs: number, now: number) => claims[dialect].returning(db, limit, now + leaseMs, now);

/** Ends this sender's leases on these messages (still `sending`); the number ended. */
export async function releaseMessageLeases(db: Db, rowIds: number[], now: number): Promise<number> {
  const r = await db.updateTable('outbox').set({ claimed_until: now - 1 }).where('id', 'in', rowIds).where('status', '=', 'sending').executeTakeFirst();
  return Number(r.numUpdatedRows);
}

// Every message's provider call, before and after: compiled once (see store/prepared.ts).
const attemptStarted = prepared((db: Kysely<DB>, rowId: number, provider: string, now: number) =>
  db.insertInto('delivery_attempts').values({ outbox_id: rowId, provider, started_at: now }).returning('id'),
);
export const attemptFinished = prepared((db: Kysely<DB>, attemptId: number, outcome: AttemptOutcome, providerMessageId: string | null, error: string | null, now: number) =>
  db.updateTable('delivery_attempts').set({ finished_at: now, outcome, provider_message_id: providerMessageId, error }).where('id', '=', attemptId),
);

// PostgreSQL: the turn's attempts in one statement each way (a round trip cost more than the
// row, bench); a message has one provider call out at a time, so its rows never meet in a batch.
const attemptsStarted = prepared((db: Kysely<DB>, rowIds: number[], providers: string[], nows: number[]) =>
  db
    .insertInto('delivery_attempts')
    .columns(['outbox_id', 'provider', 'started_at'])
    .expression(sql<never>`SELECT * FROM unnest(${rowIds}::int[], ${providers}::text[], ${nows}::bigint[])`)
    .returning(['id', 'outbox_id']),
);
const attemptsFinished = prepared(
  (db: Kysely<DB>, ids: number[], outcomes: AttemptOutcome[], providerMessageIds: (string | null)[], errors: (string | null)[], nows: number[]) =>
    db
      .updateTable('delivery_attempts')
      .from(
        sql<{ id: number; outcome: AttemptOutcome; pmid: string | null; error: string | null; now: number }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${outcomes}::text[]) AS outcome, unnest(${providerMessageIds}::text[]) AS pmid, unnest(${errors}::text[]) AS error, unnest(${nows}::bigint[]) AS now)`.as('v'),
      )
      .set({ finished_at: sql`v.now`, outcome: sql`v.outcome`, provider_message_id: sql`v.pmid`, error: sql`v.error` })
      .whereRef('delivery_attempts.id', '=', 'v.id')
      .returning('delivery_attempts.id'),
);

type AttemptStart = { rowId: number; provider: string; now: number };
/** A provider call about to be made; its id. */
export const insertDeliveryAttempt = (db: Kysely<DB>, rowId: number, provider: string, now: number) => attemptStart(db, { rowId, provider, now });
const attemptStartedAlone = async (db: Kysely<DB>, a: AttemptStart) => (await attemptStarted.returning(db, a.rowId, a.provider, a.now))[0].id;
const attemptStart = perTurn(
  attemptStartedAlone,
  (db, keys) =>
    oneRowEach(keys, (a) => a.rowId, async (round) => {
      // A message deleted with its application meanwhile fails the whole statement: then each on
      // its own, so that only it fails (DataLoader rejects the keys answered with an Error).
      const rows = await attemptsStarted.returning(db, round.map((a) => a.rowId), round.map((a) => a.provider), round.map((a) => a.now)).catch((err: { code?: string }) => {
        if (err.code !== '23503') throw err;
        return undefined;
      });
      if (!rows) {
        return Promise.all(round.map((a) => attemptStartedAlone(db, a).catch((e: Error) => e))) as Promise<number[]>;
      }
      const ids = new Map(rows.map((r) => [r.outbox_id, r.id]));
      return round.map((a) => ids.get(a.rowId)!);
    }),
);

type AttemptEnd = { id: number; outcome: AttemptOutcome; providerMessageId: string | null; error: string | null; now: number };
export const finishDeliveryAttempt = (db: Kysely<DB>, attemptId: number, outcome: AttemptOutcome, providerMessageId: string | null, error: string | null, now: number) =>
  attemptEnd(db, { id: attemptId, outcome, providerMessageId, error, now });
const attemptEnd = perTurn(
  async (db, a: AttemptEnd) => void (await attemptFinished.run(db, a.id, a.outcome, a.providerMessageId, a.error, a.now)),
  (db, keys) =>
    oneRowEach(keys, (a) => a.id, async (round) => {
      await attemptsFinished.returning(db, round.map((a) => a.id), round.map((a) => a.outcome), round.map((a) => a.providerMessageId), round.map((a) => a.error), round.map((a) => a.now));
      return round.map(() => undefined);
    }),
);

export const lastDeliveryAttempt = (db: Db, rowId: number) =>
  db
    .selectFrom('delivery_attempts')
    .select(['id', 'provider', 'outcome', 'provider_message_id'])
    .where('outbox_id', '=', rowId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();

export const deliveryAttemptsOf = (db: Db, sid: string) =>
  db
    .selectFrom('delivery_attempts as a')
    .innerJoin('outbox as o', 'o.id', 'a.outbox_id')
    .select(['a.provider', 'a.outcome', 'a.provider_message_id', 'a.error', 'a.started_at'])
    .where('o.sid', '=', sid)
    .orderBy('a.id')
    .execute();

export const findMessage = (db: Db, sid: string) =>
  db.selectFrom('outbox').select(['id', 'sid', 'app_id', 'channel', 'status', 'provider', 'provider_message_id']).where('sid', '=', sid).executeTakeFirst();

/** A receipt moves a `sent` message on (never backwards); the message it changed, if any. */
// One or two per message (compiled once, committed with the turn's writes).
const messageReceipt = prepared((db: Kysely<DB>, provider: string, providerMessageId: string, status: OutboxStatus, result: string | null, now: number) =>
  db
    .updateTable('outbox')
    .set({ status, provider_result: result, updated_at: now })
    .where('provider', '=', provider)
    .where('provider_message_id', '=', providerMessageId)
    .where('status', '=', 'sent')
    .returning(['sid', 'app_id', 'channel']),
);
// PostgreSQL: the turn's receipts in one statement; two for one message go in turn (oneRowEach).
const messageReceipts = prepared((db: Kysely<DB>, providers: string[], providerMessageIds: string[], statuses: OutboxStatus[], results: (string | null)[], nows: number[]) =>
  db
    .updateTable('outbox')
    .from(
      sql<{ provider: string; pmid: string; status: OutboxStatus; result: string | null; now: number }>`(SELECT unnest(${providers}::text[]) AS provider, unnest(${providerMessageIds}::text[]) AS pmid, unnest(${statuses}::text[]) AS status, unnest(${results}::text[]) AS result, unnest(${nows}::bigint[]) AS now)`.as('v'),
    )
    .set({ status: sql`v.status`, provider_result: sql`v.result`, updated_at: sql`v.now` })
    .whereRef('outbox.provider', '=', 'v.provider')
    .whereRef('outbox.provider_message_id', '=', 'v.pmid')
    .where('outbox.status', '=', 'sent')
    .returning(['outbox.sid', 'outbox.app_id', 'outbox.channel', 'v.provider', 'v.pmid']),
);
type ReceiptRow = { sid: string; app_id: number; channel: Channel };
type MessageReceipt = { provider: string; providerMessageId: string; status: OutboxStatus; result: string | null; now: number };
const receipt = perTurn(
  async (db, r: MessageReceipt): Promise<ReceiptRow | undefined> => (await messageReceipt.returning(db, r.provider, r.providerMessageId, r.status, r.result, r.now))[0],
  (db, keys) => {
    const message = new Map<string, number>();
    const numberOf = (r: MessageReceipt) => {
      const id = `${r.provider}\u0000${r.providerMessageId}`;
      if (!message.has(id)) message.set(id, message.size);
      return message.get(id)!;
    };
    return oneRowEach(keys, numberOf, async (round) => {
      const rows = await messageReceipts.returning(db, round.map((r) => r.provider), round.map((r) => r.providerMessageId), round.map((r) => r.status), round.map((r) => r.result), round.map((r) => r.now));
      const changed = new Map(rows.map((r) => [`${r.provider}\u0000${r.pmid}`, { sid: r.sid, app_id: r.app_id, channel: r.channel }]));
      return round.map((r) => changed.get(`${r.provider}\u0000${r.providerMessageId}`));
    });
  },
);
export const applyMessageReceipt = (db: Kysely<DB>, provider: string, providerMessageId: string, status: OutboxStatus, result: string | null, now: number) =>
  receipt(db, { provider, providerMessageId, status, result, now });

/** What an SMS's voice fallback is made from. */
export const findFallbackSource = (db: Db, sid: string) =>
  db
    .selectFrom('outbox')
    .select(['app_id', 'user_id', 'channel', 'destination', 'locale', 'fallback_text_sealed', 'fallback_sid'])
    .where('sid', '=', sid)
    .executeTakeFirst();

/** Links an SMS to its voice fallback, once; false when it had one already. */
export async function linkFallback(db: Db, sid: string, voiceSid: string): Promise<boolean> {
  const linked = await db.updateTable('outbox').set({ fallback_sid: voiceSid }).where('sid', '=', sid).where('fallback_sid', 'is', null).executeTakeFirst();
  return Number(linked.numUpdatedRows) === 1;
}

/** Marks a message sent, unless it is sent (or further) already; the message if it changed. */
export const markMessageSent = prepared((db: Kysely<DB>, sid: string, provider: string, providerMessageId: string, now: number) =>
  db
    .updateTable('outbox')
    .set({ status: 'sent', provider, provider_message_id: providerMessageId, provider_result: null, claimed_until: null, updated_at: now })
    .where('sid', '=', sid)
    .where('status', 'not in', ['sent', 'delivered', 'undelivered']),
);

/**
 * PostgreSQL: the messages of one turn marked sent, with the provider calls that took them, and
 * counted in their applications' months, in one statement. A message already sent (or further)
 * is neither changed nor counted, as with markMessageSent; the counts are summed per application
 * and month, in that order.
 *
 * Its row locks come in one order, the one an application's deletion takes too (applications/
 * queries.ts): the messages first, by id, then their provider calls and counts. So the two cannot
 * deadlock, nor can two senders' statements.
 */
export const markMessagesSent = prepared((db: Kysely<DB>, ids: number[], attemptIds: (number | null)[], providers: string[], providerMessageIds: string[], nows: number[], months: string[]) =>
  db
    .with('locked', (qc) => qc.selectFrom('outbox').select('id').where('id', '=', sql<number>`ANY(${ids}::int[])`).orderBy('id').forUpdate())
    // The provider call that took each message (none when a crashed process's is settled).
    .with('finished', (qc) =>
      qc
        .updateTable('delivery_attempts')
        .from(sql<{ id: number; outbox_id: number; pmid: string; now: number }>`(SELECT unnest(${attemptIds}::int[]) AS id, unnest(${ids}::int[]) AS outbox_id, unnest(${providerMessageIds}::text[]) AS pmid, unnest(${nows}::bigint[]) AS now)`.as('a'))
        .set({ finished_at: sql`a.now`, outcome: 'accepted', provider_message_id: sql`a.pmid`, error: null })
        .whereRef('delivery_attempts.id', '=', 'a.id')
        .where('a.outbox_id', 'in', (eb) => eb.selectFrom('locked').select('locked.id')),
    )
    .with('sent', (qc) =>
      qc
        .updateTable('outbox')
        .from(
          sql<{ id: number; provider: string; pmid: string; now: number; month: string }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${providers}::text[]) AS provider, unnest(${providerMessageIds}::text[]) AS pmid, unnest(${nows}::bigint[]) AS now, unnest(${months}::text[]) AS month)`.as('v'),
        )
        .set({ status: 'sent', provider: sql`v.provider`, provider_message_id: sql`v.pmid`, provider_result: null, claimed_until: null, updated_at: sql`v.now` })
        .whereRef('outbox.id', '=', 'v.id')
        .where('outbox.id', 'in', (eb) => eb.selectFrom('locked').select('locked.id'))
        .where('outbox.status', 'not in', ['sent', 'delivered', 'undelivered'])
        .returning(['outbox.id as id', 'outbox.app_id as app_id', 'outbox.channel as channel', sql<string>`v.month`.as('month')]),
    )
    .with('counted', (qc) =>
      qc
        .insertInto('usage_monthly')
        .columns(['app_id', 'month', 'api_calls', 'sms', 'calls', 'auths', 'users'])
        .expression((eb) =>
          eb
            .selectFrom('sent')
            .where('sent.channel', '<>', 'email')
            .select([
              'sent.app_id',
              'sent.month',
              sql<number>`0`.as('api_calls'),
              sql<number>`count(*) FILTER (WHERE sent.channel = 'sms')`.as('sms'),
              sql<number>`count(*) FILTER (WHERE sent.channel = 'voice')`.as('calls'),
              sql<number>`0`.as('auths'),
              sql<number>`0`.as('users'),
            ])
            .groupBy(['sent.app_id', 'sent.month'])
            .orderBy('sent.app_id')
            .orderBy('sent.month'),
        )
        .onConflict((oc) => oc.columns(['app_id', 'month']).doUpdateSet({ sms: sql`usage_monthly.sms + excluded.sms`, calls: sql`usage_monthly.calls + excluded.calls` })),
    )
    .selectFrom('sent')
    .select('sent.id'),
);

/** A failed attempt: queued again for `retryAt`, or `failed` when undefined. */
export const markMessageFailed = (db: Db, sid: string, provider: string, error: string, retryAt: number | undefined, now: number) =>
  db
    .updateTable('outbox')
    .set({
      status: retryAt === undefined ? 'failed' : 'queued',
      next_attempt_at: retryAt ?? now,
      provider,
      provider_result: error,
      claimed_until: null,
      updated_at: now,
    })
    .where('sid', '=', sid)
    .execute();

/** Newest first, with the number of provider calls each took; of one application or all. */
export function recentMessages(db: Db, limit: number, appId?: number) {
  let q = db
    .selectFrom('outbox')
    .selectAll()
    .select((eb) => eb.selectFrom('delivery_attempts').select((e) => e.fn.countAll<number>().as('n')).whereRef('delivery_attempts.outbox_id', '=', 'outbox.id').as('provider_attempts'))
    .orderBy('id', 'desc')
    .limit(limit);
  if (appId !== undefined) q = q.where('app_id', '=', appId);
  return q.execute();
}

// ---- signed HTTP deliveries (hooks.ts) -----------------------------------------------------

/** A signed delivery's row, as a step of writeTogether (with the change it reports). */
export const hookDeliveryInsert = prepared(
  (db: Kysely<DB>, appId: number, kind: HookDeliveriesTable['kind'], target: string, event: string, url: string, method: 'GET' | 'POST', payload: string, now: number) =>
    db.insertInto('hook_deliveries').values({ app_id: appId, kind, target, event, url, method, payload, status: 'pending', next_attempt_at: now, created_at: now, updated_at: now }),
);

/** Deliveries due: pending, their time come, and not leased to a sender still at work. */
const isHookDue = (now: number) => (w: ExpressionBuilder<DB, 'hook_deliveries'>) =>
  w.and([w('status', '=', 'pending'), w('next_attempt_at', '<=', now), w.or([w('claimed_until', 'is', null), w('claimed_until', '<', now)])]);
// Polled twice a second, mostly to hear "nothing": compiled once (see store/prepared.ts).
export const anyHookDue = prepared((db: Kysely<DB>, now: number) => db.selectFrom('hook_deliveries').select('id').where(isHookDue(now)).limit(1));

/** Leases up to `limit` due deliveries to this sender until `now + leaseMs`, counting the attempt. */
export const claimHookDeliveries = (db: Kysely<DB>, dialect: Dialect, limit: number, leaseMs: number, now: number) =>
  db
    .updateTable('hook_deliveries')
    .set((eb) => ({ claimed_until: now + leaseMs, attempts: eb('attempts', '+', 1), updated_at: now }))
    .where('id', 'in', (eb) => {
      let q = eb
        .selectFrom('hook_deliveries')
        .select('id')
        .where(isHookDue(now))
        .orderBy('next_attempt_at')
        .limit(limit);
      if (dialect === 'postgres') q = q.forUpdate().skipLocked();
      return q;
    })
    .returning(['id', 'app_id', 'kind', 'target', 'event', 'url', 'method', 'payload', 'attempts'])
    .execute();

/** An attempt about to be made; its id. */
export const insertHookAttempt = async (db: Db, deliveryId: number, now: number) =>
  (await db.insertInto('hook_attempts').values({ delivery_id: deliveryId, started_at: now }).returning('id').executeTakeFirstOrThrow()).id;

export const finishHookAttempt = (db: Db, attemptId: number, httpStatus: number | null, error: string | null, now: number) =>
  db.updateTable('hook_attempts').set({ finished_at: now, http_status: httpStatus, error }).where('id', '=', attemptId).execute();

/** The delivery after an attempt: its status and next time, its lease ended. */
export const settleHookDelivery = (db: Db, id: number, status: HookDeliveriesTable['status'], nextAttemptAt: number, now: number) =>
  db.updateTable('hook_deliveries').set({ status, next_attempt_at: nextAttemptAt, claimed_until: null, updated_at: now }).where('id', '=', id).execute();

export const recentHookDeliveries = (db: Db, appId: number, limit: number) =>
  db
    .selectFrom('hook_deliveries')
    .select(['id', 'kind', 'target', 'event', 'url', 'method', 'status', 'attempts', 'created_at', 'updated_at'])
    .where('app_id', '=', appId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();

export const hookAttemptsOf = (db: Db, deliveryIds: number[]) => db.selectFrom('hook_attempts').selectAll().where('delivery_id', 'in', deliveryIds).orderBy('id').execute();

// ---- applications' own providers (routing.ts) ----------------------------------------------

export const appProviderLists = (db: Db, appId: number) => db.selectFrom('app_providers').select(['channel', 'urls_sealed']).where('app_id', '=', appId).execute();

export const deleteAppProviderList = (db: Db, appId: number, channel: Channel) =>
  db.deleteFrom('app_providers').where('app_id', '=', appId).where('channel', '=', channel).execute();

export const upsertAppProviderList = (db: Db, appId: number, channel: Channel, urlsSealed: string) =>
  db
    .insertInto('app_providers')
    .values({ app_id: appId, channel, urls_sealed: urlsSealed, updated_at: Date.now() })
    .onConflict((oc) => oc.columns(['app_id', 'channel']).doUpdateSet({ urls_sealed: urlsSealed, updated_at: Date.now() }))
    .execute();
