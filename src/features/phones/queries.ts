import { sql, type Kysely } from 'kysely';
import { prepared } from '../../store/prepared.ts';
import { oneRowEach, perTurn } from '../../store/turn-batch.ts';
import type { DB } from '../../store/schema.ts';
import { verificationPhoneContext, type Contacts } from '../../store/contacts.ts';

export const insertVerification = (
  db: Kysely<DB>,
  c: Contacts,
  v: { uuid: string; appId: number; e164: string; via: 'sms' | 'call'; codeSealed: string; locale: string; now: number; expiresAt: number },
) =>
  db
    .insertInto('phone_verifications')
    .values({ uuid: v.uuid, app_id: v.appId, phone_index: c.phoneIndex(v.e164), phone_sealed: c.seal(v.e164, verificationPhoneContext(v.uuid)), via: v.via, code_sealed: v.codeSealed, locale: v.locale, status: 'pending', created_at: v.now, expires_at: v.expiresAt, verified_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();

/** The newest verification of this phone (its blind index) in this application, whatever its state. */
const latestOne = prepared((db: Kysely<DB>, appId: number, phoneIndex: string) =>
  db.selectFrom('phone_verifications').selectAll().where('app_id', '=', appId).where('phone_index', '=', phoneIndex).orderBy('id', 'desc').limit(1),
);
// PostgreSQL: the turn's lookups in one read, the newest row of each phone.
const latestOfMany = prepared((db: Kysely<DB>, appIds: number[], phoneIndexes: string[]) =>
  db
    .selectFrom('phone_verifications')
    .distinctOn(['app_id', 'phone_index'])
    .selectAll()
    .where(sql<boolean>`(app_id, phone_index) IN (SELECT unnest(${appIds}::int[]), unnest(${phoneIndexes}::text[]))`)
    .orderBy('app_id')
    .orderBy('phone_index')
    .orderBy('id', 'desc'),
);
type PhoneKey = { appId: number; phoneIndex: string };
const latestOf = perTurn(
  (db, k: PhoneKey) => latestOne.first(db, k.appId, k.phoneIndex),
  async (db, keys) => {
    const rows = new Map((await latestOfMany.all(db, keys.map((k) => k.appId), keys.map((k) => k.phoneIndex))).map((r) => [`${r.app_id}:${r.phone_index}`, r]));
    return keys.map((k) => rows.get(`${k.appId}:${k.phoneIndex}`));
  },
);
export const latest = (db: Kysely<DB>, appId: number, phoneIndex: string) => latestOf(db, { appId, phoneIndex });

export type VerificationRow = NonNullable<Awaited<ReturnType<typeof latest>>>;

// A check is counted and decided in one statement: the right code verifies, the `max`th wrong one
// kills it (one write a check on SQLite, one round trip a turn on PostgreSQL; and of two right
// checks at once only the one that still found it pending gets `verified`).
type Status = VerificationRow['status'];
const checkRight = prepared((db: Kysely<DB>, id: number, max: number, now: number) =>
  db
    .updateTable('phone_verifications')
    .set((eb) => ({ checks: eb('checks', '+', 1), status: 'verified' as const, verified_at: now, code_sealed: null }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('checks', '<', max)
    .returning(['checks', 'status']),
);
const checkWrong = prepared((db: Kysely<DB>, id: number, max: number) =>
  db
    .updateTable('phone_verifications')
    .set((eb) => ({
      checks: eb('checks', '+', 1),
      status: sql<Status>`CASE WHEN checks + 1 >= ${max} THEN 'dead' ELSE status END`,
      code_sealed: sql<string | null>`CASE WHEN checks + 1 >= ${max} THEN NULL ELSE code_sealed END`,
    }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('checks', '<', max)
    .returning(['checks', 'status']),
);
const checks = prepared((db: Kysely<DB>, ids: number[], maxes: number[], verifyAts: (number | null)[]) =>
  db
    .updateTable('phone_verifications')
    .from(sql<{ id: number; max: number; verify_at: number | null }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${maxes}::int[]) AS max, unnest(${verifyAts}::bigint[]) AS verify_at)`.as('v'))
    .set((eb) => ({
      checks: eb('phone_verifications.checks', '+', 1),
      status: sql<Status>`CASE WHEN v.verify_at IS NOT NULL THEN 'verified' WHEN phone_verifications.checks + 1 >= v.max THEN 'dead' ELSE phone_verifications.status END`,
      verified_at: sql<number | null>`COALESCE(v.verify_at, phone_verifications.verified_at)`,
      code_sealed: sql<string | null>`CASE WHEN v.verify_at IS NOT NULL OR phone_verifications.checks + 1 >= v.max THEN NULL ELSE phone_verifications.code_sealed END`,
    }))
    .whereRef('phone_verifications.id', '=', 'v.id')
    .where('phone_verifications.status', '=', 'pending')
    .where(sql<boolean>`phone_verifications.checks < v.max`)
    .returning(['phone_verifications.id', 'phone_verifications.checks', 'phone_verifications.status']),
);
type Check = { id: number; max: number; verifyAt?: number };
type Taken = { checks: number; verified: boolean };
const takenOf = (row: { checks: number; status: string } | undefined): Taken | undefined => row && { checks: Number(row.checks), verified: row.status === 'verified' };
const takeChecks = perTurn(
  async (db, c: Check) => takenOf((await (c.verifyAt === undefined ? checkWrong.returning(db, c.id, c.max) : checkRight.returning(db, c.id, c.max, c.verifyAt)))[0]),
  (db, keys) =>
    oneRowEach(keys, (c) => c.id, async (round) => {
      const rows = new Map((await checks.returning(db, round.map((c) => c.id), round.map((c) => c.max), round.map((c) => c.verifyAt ?? null))).map((r) => [r.id, r]));
      return round.map((c) => takenOf(rows.get(c.id)));
    }),
);
/**
 * Counts a check; undefined when the verification is no longer pending or has used its checks.
 * With `verifyAt` (the code was right), the verification is also marked verified, once: of two
 * checks with the right code at once, one gets `verified`. The `max`th wrong check marks it dead.
 */
export const takeCheck = (db: Kysely<DB>, id: number, max: number, verifyAt?: number): Promise<Taken | undefined> => takeChecks(db, { id, max, verifyAt });

