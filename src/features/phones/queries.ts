import { sql, type Kysely } from 'kysely';
import { prepared, writeTogether } from '../../store/prepared.ts';
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

const check = prepared((db: Kysely<DB>, id: number, max: number) =>
  db.updateTable('phone_verifications').set((eb) => ({ checks: eb('checks', '+', 1) })).where('id', '=', id).where('status', '=', 'pending').where('checks', '<', max).returning('checks'),
);
const checks = prepared((db: Kysely<DB>, ids: number[], maxes: number[]) =>
  db
    .updateTable('phone_verifications')
    .from(sql<{ id: number; max: number }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${maxes}::int[]) AS max)`.as('v'))
    .set((eb) => ({ checks: eb('phone_verifications.checks', '+', 1) }))
    .whereRef('phone_verifications.id', '=', 'v.id')
    .where('phone_verifications.status', '=', 'pending')
    .where(sql<boolean>`phone_verifications.checks < v.max`)
    .returning(['phone_verifications.id', 'phone_verifications.checks']),
);
type Check = { id: number; max: number; verifyAt?: number };
type Taken = { checks: number; verified: boolean };
const takeChecks = perTurn(
  // SQLite: the check and, for the right code, the verification commit together (one turn's commit).
  async (db, c: Check): Promise<Taken | undefined> => {
    const steps = [check.step(c.id, c.max), ...(c.verifyAt === undefined ? [] : [{ ...verified.step(c.id, c.verifyAt), onlyIfChanged: 0 }])];
    const [counted, done] = await writeTogether(db, steps);
    const row = counted.rows[0] as { checks: number } | undefined;
    return row && { checks: row.checks, verified: done?.changes === 1 };
  },
  (db, keys) =>
    oneRowEach(keys, (c) => c.id, async (round) => {
      const rows = new Map((await checks.returning(db, round.map((c) => c.id), round.map((c) => c.max))).map((r) => [r.id, r.checks]));
      return Promise.all(
        round.map(async (c): Promise<Taken | undefined> => {
          const n = rows.get(c.id);
          if (n === undefined) return undefined;
          return { checks: n, verified: c.verifyAt !== undefined && (await markVerifiedOnce(db, { id: c.id, now: c.verifyAt })) };
        }),
      );
    }),
);
/**
 * Counts a check; undefined when the verification is no longer pending or has used its checks.
 * With `verifyAt` (the code was right), the verification is also marked verified, once: of two
 * checks with the right code at once, one gets `verified`.
 */
export const takeCheck = (db: Kysely<DB>, id: number, max: number, verifyAt?: number): Promise<Taken | undefined> => takeChecks(db, { id, max, verifyAt });

const verified = prepared((db: Kysely<DB>, id: number, now: number) =>
  db.updateTable('phone_verifications').set({ status: 'verified', verified_at: now, code_sealed: null }).where('id', '=', id).where('status', '=', 'pending'),
);
const verifiedMany = prepared((db: Kysely<DB>, ids: number[], nows: number[]) =>
  db
    .updateTable('phone_verifications')
    .from(sql<{ id: number; now: number }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${nows}::bigint[]) AS now)`.as('v'))
    .set({ status: 'verified', verified_at: sql`v.now`, code_sealed: null })
    .whereRef('phone_verifications.id', '=', 'v.id')
    .where('phone_verifications.status', '=', 'pending')
    .returning('phone_verifications.id'),
);
type Verified = { id: number; now: number };
const markVerifiedOnce = perTurn(
  async (db, v: Verified) => (await verified.run(db, v.id, v.now)) === 1,
  (db, keys) =>
    oneRowEach(keys, (v) => v.id, async (round) => {
      const done = new Set((await verifiedMany.returning(db, round.map((v) => v.id), round.map((v) => v.now))).map((r) => r.id));
      return round.map((v) => done.has(v.id));
    }),
);

export const markDead = (db: Kysely<DB>, id: number) =>
  db.updateTable('phone_verifications').set({ status: 'dead', code_sealed: null }).where('id', '=', id).where('status', '=', 'pending').execute();
