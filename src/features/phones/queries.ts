import { sql, type Kysely } from 'kysely';
import { prepared } from '../../store/prepared.ts';
import { oneRowEach, perTurn } from '../../store/turn-batch.ts';
import type { DB } from '../../store/schema.ts';
import { conversionsCountedIn, type ConversionKeys } from '../send-guard/service.ts';
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
/** PostgreSQL: the turn's checks; a verified one's conversion counted in the same statement, where its caller gave the keys. */
const checks = prepared(
  (db: Kysely<DB>, ids: number[], maxes: number[], verifyAts: (number | null)[], prefixes: (string | null)[], countries: (string | null)[], ws: (number | null)[]) =>
    db
      .with('taken', (qc) =>
        qc
          .updateTable('phone_verifications')
          .from(
            sql<{ id: number; max: number; verify_at: number | null; conv_prefix: string | null; conv_country: string | null; w: number | null }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${maxes}::int[]) AS max, unnest(${verifyAts}::bigint[]) AS verify_at,
              unnest(${prefixes}::text[]) AS conv_prefix, unnest(${countries}::text[]) AS conv_country, unnest(${ws}::bigint[]) AS w)`.as('v'),
          )
          .set((eb) => ({
            checks: eb('phone_verifications.checks', '+', 1),
            status: sql<Status>`CASE WHEN v.verify_at IS NOT NULL THEN 'verified' WHEN phone_verifications.checks + 1 >= v.max THEN 'dead' ELSE phone_verifications.status END`,
            verified_at: sql<number | null>`COALESCE(v.verify_at, phone_verifications.verified_at)`,
            code_sealed: sql<string | null>`CASE WHEN v.verify_at IS NOT NULL OR phone_verifications.checks + 1 >= v.max THEN NULL ELSE phone_verifications.code_sealed END`,
          }))
          .whereRef('phone_verifications.id', '=', 'v.id')
          .where('phone_verifications.status', '=', 'pending')
          .where(sql<boolean>`phone_verifications.checks < v.max`)
          .returning([
            'phone_verifications.id',
            'phone_verifications.checks',
            'phone_verifications.status',
            'phone_verifications.app_id',
            sql<string | null>`v.conv_prefix`.as('conv_prefix'),
            sql<string | null>`v.conv_country`.as('conv_country'),
            // Counted only by the check that verified it.
            sql<number | null>`CASE WHEN phone_verifications.status = 'verified' THEN v.w END`.as('w'),
          ]),
      )
      .with('counted', conversionsCountedIn('taken'))
      .selectFrom('taken')
      .select(['taken.id', 'taken.checks', 'taken.status']),
);
/** `conversion`: where a verifying check counts the number's conversion, for a write that can count it itself (PostgreSQL's batch: the answer says `counted`). */
type Check = { id: number; max: number; verifyAt?: number; conversion?: ConversionKeys & { window: number } };
type Taken = { checks: number; verified: boolean; counted: boolean };
const takenOf = (row: { checks: number; status: string } | undefined, counted: boolean): Taken | undefined =>
  row && { checks: Number(row.checks), verified: row.status === 'verified', counted: counted && row.status === 'verified' };
const takeChecks = perTurn(
  async (db, c: Check) => takenOf((await (c.verifyAt === undefined ? checkWrong.returning(db, c.id, c.max) : checkRight.returning(db, c.id, c.max, c.verifyAt)))[0], false),
  (db, keys) =>
    oneRowEach(keys, (c) => c.id, async (round) => {
      const rows = await checks.returning(
        db,
        round.map((c) => c.id),
        round.map((c) => c.max),
        round.map((c) => c.verifyAt ?? null),
        round.map((c) => c.conversion?.prefix ?? null),
        round.map((c) => c.conversion?.country ?? null),
        round.map((c) => c.conversion?.window ?? null),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return round.map((c) => takenOf(byId.get(c.id), c.conversion !== undefined));
    }),
);
/**
 * Counts a check; undefined when the verification is no longer pending or has used its checks.
 * With `verifyAt` (the code was right), the verification is also marked verified, once: of two
 * checks with the right code at once, one gets `verified`. The `max`th wrong check marks it dead.
 */
export const takeCheck = (db: Kysely<DB>, c: Check): Promise<Taken | undefined> => takeChecks(db, c);

