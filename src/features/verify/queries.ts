import { sql, type Kysely, type Selectable } from 'kysely';
import { directSqliteOf, prepared, writeTogether, type WriteStep } from '../../store/prepared.ts';
import { oneRowEach, perTurn } from '../../store/turn-batch.ts';
import type { DB, VerifyServicesTable, VerifyVerificationsTable } from '../../store/schema.ts';
import { conversionsCountedIn, type ConversionKeys } from '../send-guard/service.ts';

// The check path's queries (service, verification, count) are prepared once (building and
// compiling a query with Kysely costs more than SQLite takes to run it) and, on PostgreSQL, sent
// as one statement per event-loop turn for all the checks of that turn.

// Accounts and API keys ---------------------------------------------------------------------

export const insertAccount = (db: Kysely<DB>, a: { sid: string; name: string; tokenHash: string; tokenSealed: string; now: number }) =>
  db.insertInto('verify_accounts').values({ sid: a.sid, name: a.name, auth_token_hash: a.tokenHash, auth_token_sealed: a.tokenSealed, created_at: a.now }).returning('id').executeTakeFirstOrThrow();

export const accountBySid = (db: Kysely<DB>, sid: string) => db.selectFrom('verify_accounts').selectAll().where('sid', '=', sid).executeTakeFirst();

export const listAccounts = (db: Kysely<DB>) => db.selectFrom('verify_accounts').select(['id', 'sid', 'name', 'created_at']).orderBy('id').execute();

export const insertKey = (db: Kysely<DB>, k: { sid: string; accountId: number; name: string; secretHash: string; now: number }) =>
  db.insertInto('verify_keys').values({ sid: k.sid, account_id: k.accountId, name: k.name, secret_hash: k.secretHash, created_at: k.now }).execute();

/** A key with the SID of the account it belongs to. */
export const keyBySid = (db: Kysely<DB>, sid: string) =>
  db
    .selectFrom('verify_keys')
    .innerJoin('verify_accounts', 'verify_accounts.id', 'verify_keys.account_id')
    .select(['verify_keys.secret_hash', 'verify_accounts.id as account_id', 'verify_accounts.sid as account_sid'])
    .where('verify_keys.sid', '=', sid)
    .executeTakeFirst();

export const listKeys = (db: Kysely<DB>, accountId: number) =>
  db.selectFrom('verify_keys').select(['sid', 'name', 'created_at']).where('account_id', '=', accountId).orderBy('id').execute();

// Services ----------------------------------------------------------------------------------

export const insertService = (db: Kysely<DB>, s: { sid: string; accountId: number; appId: number; settings: string; now: number }) =>
  db.insertInto('verify_services').values({ sid: s.sid, account_id: s.accountId, app_id: s.appId, settings: s.settings, created_at: s.now, updated_at: s.now }).execute();

/** A service of this account only: another account's SID reads as unknown. */
const serviceOfAccount = prepared((db: Kysely<DB>, accountId: number, sid: string) => db.selectFrom('verify_services').selectAll().where('account_id', '=', accountId).where('sid', '=', sid));
export const serviceBySid = (db: Kysely<DB>, accountId: number, sid: string): Promise<Selectable<VerifyServicesTable> | undefined> => serviceOfAccount.first(db, accountId, sid);

export const servicesPage = (db: Kysely<DB>, accountId: number, after: number | undefined, limit: number) =>
  db
    .selectFrom('verify_services')
    .selectAll()
    .where('account_id', '=', accountId)
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();

export const serviceSidsOf = (db: Kysely<DB>, accountId: number) => db.selectFrom('verify_services').select(['id', 'sid']).where('account_id', '=', accountId).execute();

export const setServiceSettings = (db: Kysely<DB>, id: number, settings: string, now: number) =>
  db.updateTable('verify_services').set({ settings, updated_at: now }).where('id', '=', id).execute();

// Verifications -----------------------------------------------------------------------------

export type NewVerification = Omit<VerifyVerificationsTable, 'id' | 'checks' | 'sends'>;

// A start's writes: prepared (compiling them with Kysely cost more than running them) and, on
// SQLite, decided in the turn's write transaction, so that the starts of a turn share one commit
// instead of a transaction each (a commit wrote its pages to the WAL: 15% of a start, bench).

/** A destination's pending verification that has expired is marked so before a new one is made. */
const expireStale = prepared((db: Kysely<DB>, serviceId: number, toIndex: string, now: number) =>
  db
    .updateTable('verify_verifications')
    .set({ status: 'expired', code_sealed: null })
    .where('service_id', '=', serviceId)
    .where('to_index', '=', toIndex)
    .where('status', '=', 'pending')
    .where('expires_at', '<=', now),
);
/** Nothing when the destination has a pending verification already (one per destination: 0031). */
const pendingInsert = prepared(
  (
    db: Kysely<DB>,
    sid: string,
    appId: number,
    serviceId: number,
    toIndex: string,
    toSealed: string,
    channel: NewVerification['channel'],
    status: NewVerification['status'],
    codeSealed: string | null,
    locale: string,
    details: string,
    createdAt: number,
    updatedAt: number,
    expiresAt: number,
  ) =>
    db
      .insertInto('verify_verifications')
      .values({ sid, app_id: appId, service_id: serviceId, to_index: toIndex, to_sealed: toSealed, channel, status, code_sealed: codeSealed, locale, details, created_at: createdAt, updated_at: updatedAt, expires_at: expiresAt })
      .onConflict((oc) => oc.doNothing())
      .returning('id'),
);
const pendingArgs = (v: NewVerification) =>
  [v.sid, v.app_id, v.service_id, v.to_index, v.to_sealed, v.channel, v.status, v.code_sealed, v.locale, v.details, v.created_at, v.updated_at, v.expires_at] as const;
/** One more send of a pending, live verification, while it has had fewer than `max`. */
const sendTaken = prepared((db: Kysely<DB>, id: number, max: number, channel: NewVerification['channel'], now: number) =>
  db
    .updateTable('verify_verifications')
    .set((eb) => ({ sends: eb('sends', '+', 1), channel, updated_at: now }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .where('sends', '<', max),
);
type NewAttempt = { sid: string; appId: number; accountId: number; serviceId: number; toIndex: string; channel: VerificationRow['channel']; country: string | null; messageSid: string; now: number };
const attemptInsert = prepared(
  (db: Kysely<DB>, sid: string, appId: number, accountId: number, serviceId: number, verificationId: number, toIndex: string, channel: NewVerification['channel'], country: string | null, messageSid: string, now: number) =>
    db.insertInto('verify_attempts').values({ sid, app_id: appId, account_id: accountId, service_id: serviceId, verification_id: verificationId, to_index: toIndex, channel, country, message_sid: messageSid, created_at: now }),
);
const attemptArgs = (a: NewAttempt, verificationId: number) =>
  [a.sid, a.appId, a.accountId, a.serviceId, verificationId, a.toIndex, a.channel, a.country, a.messageSid, a.now] as const;

/** A start's writes: the verification (a resend of a pending one, or a new one), its message and its attempt. */
export type StartWrites = {
  verification: { resend: { id: number; maxSends: number; channel: NewVerification['channel']; now: number } } | { fresh: NewVerification };
  /** The outbox message (Outbox.enqueueStep). */
  message: WriteStep;
  attempt: NewAttempt;
};

/** A start that lost to another at the same moment (its transaction is rolled back). */
class Raced extends Error {}

/**
 * Writes a start, all or none: the verification's id, or undefined when another start took the
 * last send or made the destination's verification meanwhile (then nothing is written).
 */
export async function writeStart(db: Kysely<DB>, w: StartWrites): Promise<number | undefined> {
  const conn = directSqliteOf(db);
  if (conn) {
    return conn.decide((tx) => {
      const v = w.verification;
      let id: number | undefined;
      if ('resend' in v) id = tx.run(sendTaken.sqlOf(db, v.resend.id, v.resend.maxSends, v.resend.channel, v.resend.now)).changes === 1 ? v.resend.id : undefined;
      else {
        tx.run(expireStale.sqlOf(db, v.fresh.service_id, v.fresh.to_index, v.fresh.created_at));
        id = (tx.get(pendingInsert.sqlOf(db, ...pendingArgs(v.fresh))) as { id: number } | undefined)?.id;
      }
      if (id === undefined) return undefined;
      const m = w.message.bind(db);
      tx.run({ sql: m.query.sql, params: m.parameters });
      tx.run(attemptInsert.sqlOf(db, ...attemptArgs(w.attempt, id)));
      return id;
    });
  }
  return db
    .transaction()
    .execute(async (trx) => {
      const v = w.verification;
      let id: number | undefined;
      if ('resend' in v) id = (await sendTaken.run(trx, v.resend.id, v.resend.maxSends, v.resend.channel, v.resend.now)) === 1 ? v.resend.id : undefined;
      else {
        await expireStale.run(trx, v.fresh.service_id, v.fresh.to_index, v.fresh.created_at);
        id = (await pendingInsert.first(trx, ...pendingArgs(v.fresh)))?.id;
      }
      if (id === undefined) throw new Raced();
      await writeTogether(trx, [w.message]);
      await attemptInsert.run(trx, ...attemptArgs(w.attempt, id));
      return id;
    })
    .catch((e: unknown) => {
      if (e instanceof Raced) return undefined;
      throw e;
    });
}

export type VerificationRow = Selectable<VerifyVerificationsTable>;

const verificationOfService = prepared((db: Kysely<DB>, serviceId: number, sid: string) => db.selectFrom('verify_verifications').selectAll().where('service_id', '=', serviceId).where('sid', '=', sid));
export const verificationBySid = (db: Kysely<DB>, serviceId: number, sid: string): Promise<VerificationRow | undefined> => verificationOfService.first(db, serviceId, sid);

const newestTo = prepared((db: Kysely<DB>, serviceId: number, toIndex: string) =>
  db.selectFrom('verify_verifications').selectAll().where('service_id', '=', serviceId).where('to_index', '=', toIndex).orderBy('id', 'desc').limit(1),
);
const newestToMany = prepared((db: Kysely<DB>, serviceIds: number[], toIndexes: string[]) =>
  db
    .selectFrom('verify_verifications')
    .distinctOn(['service_id', 'to_index'])
    .selectAll()
    .where(sql<boolean>`(service_id, to_index) IN (SELECT unnest(${serviceIds}::int[]), unnest(${toIndexes}::text[]))`)
    .orderBy('service_id')
    .orderBy('to_index')
    .orderBy('id', 'desc'),
);
type ToKey = { serviceId: number; toIndex: string };
const newestOf = perTurn(
  (db, k: ToKey) => newestTo.first(db, k.serviceId, k.toIndex),
  async (db, keys) => {
    const rows = new Map((await newestToMany.all(db, keys.map((k) => k.serviceId), keys.map((k) => k.toIndex))).map((r) => [`${r.service_id}:${r.to_index}`, r]));
    return keys.map((k) => rows.get(`${k.serviceId}:${k.toIndex}`));
  },
);
/** The newest verification of this destination (its blind index) in this service, whatever its state. */
export const latestVerification = (db: Kysely<DB>, serviceId: number, toIndex: string): Promise<VerificationRow | undefined> => newestOf(db, { serviceId, toIndex });

/**
 * Counts one check of a pending verification and decides it in the same statement: the right code
 * approves, the `max`th wrong one ends it. Undefined once it has ended (or had `max`). One
 * statement, so across nodes a right code approves once and a later check never sees a pending
 * verification whose checks are used up.
 */
const approveCheck = prepared((db: Kysely<DB>, id: number, max: number, now: number) =>
  db
    .updateTable('verify_verifications')
    .set((eb) => ({ checks: eb('checks', '+', 1), status: 'approved' as const, code_sealed: null, updated_at: now }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .where('checks', '<', max)
    .returning(['checks', 'status']),
);
// A wrong check but the last touches only the count: SQLite rewrites the entry of every index whose
// columns (or partial-index condition) the SET names, even to the same value, and the pending
// index is keyed by a blind index, so naming `status` cost a random index page a check (bench:
// 7.8 KB of WAL a wrong Verify v2 check, against 0.9 KB a phone check).
const countWrongCheck = prepared((db: Kysely<DB>, id: number, max: number, now: number) =>
  db
    .updateTable('verify_verifications')
    .set((eb) => ({ checks: eb('checks', '+', 1) }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .where(sql<boolean>`checks + 1 < ${max}`)
    .returning(['checks', 'status']),
);
// The last wrong check ends it. Checks only grow, so of the two statements exactly one can match a
// pending verification, and the `max`th check is still counted once across writers.
const countLastWrongCheck = prepared((db: Kysely<DB>, id: number, max: number, now: number) =>
  db
    .updateTable('verify_verifications')
    .set((eb) => ({ checks: eb('checks', '+', 1), status: 'max_attempts_reached' as const, code_sealed: null, updated_at: now }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .where('checks', '<', max)
    .returning(['checks', 'status']),
);
// PostgreSQL: the turn's checks in one statement (each verification once per round: oneRowEach);
// an approved one's conversion counted in it too, where its caller gave the keys (only a right
// check's caller does).
const countChecksMany = prepared(
  (db: Kysely<DB>, ids: number[], maxes: number[], rights: boolean[], nows: number[], prefixes: (string | null)[], countries: (string | null)[], ws: (number | null)[]) =>
    db
      .with('checked', (qc) =>
        qc
          .updateTable('verify_verifications')
          .from(
            sql<{ id: number; max: number; right: boolean; now: number; conv_prefix: string | null; conv_country: string | null; w: number | null }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${maxes}::int[]) AS max, unnest(${rights}::bool[]) AS "right", unnest(${nows}::bigint[]) AS now,
              unnest(${prefixes}::text[]) AS conv_prefix, unnest(${countries}::text[]) AS conv_country, unnest(${ws}::bigint[]) AS w)`.as('v'),
          )
          .set((eb) => ({
            checks: eb('verify_verifications.checks', '+', 1),
            status: sql<VerificationRow['status']>`CASE WHEN v."right" THEN 'approved' WHEN verify_verifications.checks + 1 >= v.max THEN 'max_attempts_reached' ELSE verify_verifications.status END`,
            code_sealed: sql<string | null>`CASE WHEN v."right" OR verify_verifications.checks + 1 >= v.max THEN NULL ELSE verify_verifications.code_sealed END`,
            updated_at: sql<number>`CASE WHEN v."right" OR verify_verifications.checks + 1 >= v.max THEN v.now ELSE verify_verifications.updated_at END`,
          }))
          .whereRef('verify_verifications.id', '=', 'v.id')
          .where('verify_verifications.status', '=', 'pending')
          .where(sql<boolean>`verify_verifications.expires_at > v.now AND verify_verifications.checks < v.max`)
          .returning([
            'verify_verifications.id',
            'verify_verifications.checks',
            'verify_verifications.status',
            'verify_verifications.app_id',
            sql<string | null>`v.conv_prefix`.as('conv_prefix'),
            sql<string | null>`v.conv_country`.as('conv_country'),
            sql<number | null>`v.w`.as('w'),
          ]),
      )
      .with('counted', conversionsCountedIn('checked'))
      .selectFrom('checked')
      .select(['checked.id', 'checked.checks', 'checked.status']),
);
/** `conversion`: where an approving check counts the number's conversion, for a write that can count it itself (PostgreSQL's batch: the answer says `counted`). */
type Check = { id: number; max: number; right: boolean; now: number; conversion?: ConversionKeys & { window: number } };
type Counted = { checks: number; status: VerificationRow['status']; counted: boolean } | undefined;
const countChecks = perTurn<Check, Counted>(
  async (db, c) => {
    const r = c.right
      ? (await approveCheck.returning(db, c.id, c.max, c.now))[0]
      : ((await countWrongCheck.returning(db, c.id, c.max, c.now))[0] ?? (await countLastWrongCheck.returning(db, c.id, c.max, c.now))[0]);
    return r && { checks: r.checks, status: r.status, counted: false };
  },
  (db, keys) =>
    oneRowEach(keys, (c) => c.id, async (round) => {
      const rows = await countChecksMany.returning(
        db,
        round.map((c) => c.id),
        round.map((c) => c.max),
        round.map((c) => c.right),
        round.map((c) => c.now),
        round.map((c) => c.conversion?.prefix ?? null),
        round.map((c) => c.conversion?.country ?? null),
        round.map((c) => c.conversion?.window ?? null),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return round.map((c) => {
        const r = byId.get(c.id);
        return r && { checks: r.checks, status: r.status, counted: c.conversion !== undefined && r.status === 'approved' };
      });
    }),
);
/** Counts a check (see approveCheck); `counted`: the approval's conversion was counted by this write. */
export const countCheck = (db: Kysely<DB>, c: Check): Promise<Counted> => countChecks(db, c);

/** Ends a pending verification (the code is dropped); false if it was no longer pending: of two at once, one wins. */
export const endVerification = async (db: Kysely<DB>, id: number, status: Exclude<VerificationRow['status'], 'pending'>, now: number) =>
  Number((await db.updateTable('verify_verifications').set({ status, code_sealed: null, updated_at: now }).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst()).numUpdatedRows) === 1;

// Attempts ----------------------------------------------------------------------------------

export const attemptsOf = (db: Kysely<DB>, verificationId: number) =>
  db.selectFrom('verify_attempts').select(['sid', 'channel', 'created_at']).where('verification_id', '=', verificationId).orderBy('id').execute();

export interface AttemptFilters {
  serviceId?: number;
  verificationSid?: string;
  toIndex?: string;
  country?: string;
  channel?: string;
  converted?: boolean;
  after?: number;
  before?: number;
}

/** Attempts of an account with their verification and service; `sid` given: that one. Newest first. */
function attemptsQuery(db: Kysely<DB>, accountId: number, f: AttemptFilters) {
  return db
    .selectFrom('verify_attempts as a')
    .innerJoin('verify_verifications as v', 'v.id', 'a.verification_id')
    .innerJoin('verify_services as s', 's.id', 'a.service_id')
    .where('a.account_id', '=', accountId)
    .$if(f.serviceId !== undefined, (q) => q.where('a.service_id', '=', f.serviceId!))
    .$if(f.verificationSid !== undefined, (q) => q.where('v.sid', '=', f.verificationSid!))
    .$if(f.toIndex !== undefined, (q) => q.where('a.to_index', '=', f.toIndex!))
    .$if(f.country !== undefined, (q) => q.where('a.country', '=', f.country!))
    .$if(f.channel !== undefined, (q) => q.where('a.channel', '=', f.channel as VerificationRow['channel']))
    .$if(f.converted !== undefined, (q) => q.where('v.status', f.converted ? '=' : '!=', 'approved'))
    .$if(f.after !== undefined, (q) => q.where('a.created_at', '>=', f.after!))
    .$if(f.before !== undefined, (q) => q.where('a.created_at', '<=', f.before!));
}

const ATTEMPT_COLUMNS = [
  'a.id',
  'a.sid',
  'a.channel',
  'a.country',
  'a.created_at',
  'v.sid as verification_sid',
  'v.status as verification_status',
  'v.to_sealed',
  'v.updated_at as verification_updated_at',
  'v.locale',
  'v.details',
  's.sid as service_sid',
] as const;

export const attemptsPage = (db: Kysely<DB>, accountId: number, f: AttemptFilters, below: number | undefined, limit: number) =>
  attemptsQuery(db, accountId, f)
    .select(ATTEMPT_COLUMNS)
    .$if(below !== undefined, (q) => q.where('a.id', '<', below!))
    .orderBy('a.id', 'desc')
    .limit(limit)
    .execute();

export type AttemptRow = Awaited<ReturnType<typeof attemptsPage>>[number];

export const attemptBySid = (db: Kysely<DB>, accountId: number, sid: string) => attemptsQuery(db, accountId, {}).select(ATTEMPT_COLUMNS).where('a.sid', '=', sid).executeTakeFirst();

export const attemptCounts = async (db: Kysely<DB>, accountId: number, f: AttemptFilters) => {
  const rows = await attemptsQuery(db, accountId, f)
    .select((eb) => ['v.status', eb.fn.countAll<string | number>().as('n')])
    .groupBy('v.status')
    .execute();
  let total = 0;
  let converted = 0;
  for (const r of rows) {
    total += Number(r.n);
    if (r.status === 'approved') converted += Number(r.n);
  }
  return { total, converted };
};
