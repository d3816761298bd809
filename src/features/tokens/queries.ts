import { SqliteAdapter, sql, type ExpressionBuilder, type Kysely, type QueryCreator, type Selectable } from 'kysely';
import type { DB, UsersTable } from '../../store/schema.ts';
import { directSqliteOf, prepared, writeTogether, type DecidingTransaction, type WriteStep } from '../../store/prepared.ts';
import { AcceptedSteps, AppendedLog, type AppendedSql } from '../../store/accepted-steps.ts';
import { SETTING_BOUNDS } from '../applications/service.ts';
import { oneRowEach, perTurn } from '../../store/turn-batch.ts';
import { conversionsCountedIn } from '../send-guard/service.ts';

// Verify's one read: the user with its app-TOTP state and its QR authenticator, if any.
const factors = (db: Kysely<DB>) =>
  db
    .selectFrom('users')
    .leftJoin('authenticators', 'authenticators.user_id', 'users.id')
    .select([
      'users.id',
      'users.app_id',
      'users.country_code',
      'users.phone_index',
      'users.contact_sealed',
      'users.confirmed',
      'users.created_at',
      'users.totp_seed_sealed',
      'users.totp_last_step',
      'users.totp_drift',
      'users.verify_failures',
      'users.verify_locked_until',
      'authenticators.secret_sealed as qr_secret_sealed',
      'authenticators.last_step as qr_last_step',
      'authenticators.drift as qr_drift',
      'authenticators.created_at as qr_created_at',
      // When the person last recovered their account (issue 17): shown with the device.
      (eb) => eb.selectFrom('phone_owners').select('phone_owners.last_account_recovery_at').whereRef('phone_owners.phone_index', '=', 'users.phone_index').as('last_account_recovery_at'),
      // Whether the user has an authenticator device, without a second query when none.
      (eb) =>
        eb
          .selectFrom('devices')
          .select('devices.id')
          .whereRef('devices.user_id', '=', 'users.id')
          .where('devices.deleted_at', 'is', null)
          .orderBy('devices.id')
          .limit(1)
          .as('device_id'),
    ]);
// SQLite (and any unbatched read): whether any SMS, voice or email code was sent; without one, a
// wrong token costs no lookup. PostgreSQL's batched read lists the codes themselves instead.
const factorsById = prepared((db: Kysely<DB>, appId: number, id: number) =>
  factors(db)
    .select((eb) => eb.exists(eb.selectFrom('sent_codes').select('sent_codes.id').whereRef('sent_codes.user_id', '=', 'users.id')).as('has_sent_codes'))
    .where('users.id', '=', id)
    .where('users.app_id', '=', appId),
);
// PostgreSQL: everyone's verify of this turn in one read (a row per user and token hash asked
// for), with the user's sent codes of that hash as a JSON array of [id, channel, action,
// expires_at, used_at], newest first: a code costs no round trip of its own. The application is
// checked per caller.
const factorsByIds = prepared((db: Kysely<DB>, ids: number[], codeHashes: (string | null)[]) =>
  factors(db)
    .innerJoin(sql<{ id: number; code_hash: string | null }>`(SELECT DISTINCT * FROM unnest(${ids}::int[], ${codeHashes}::text[]) AS u(id, code_hash))`.as('v'), 'v.id', 'users.id')
    .select([
      'v.code_hash as asked_hash',
      sql<[number, SentCode['channel'], string | null, number, number | null, string | null, string | null][] | null>`(SELECT json_agg(json_build_array(c.id, c.channel, c.action, c.expires_at, c.used_at, c.conversion_prefix, c.conversion_country) ORDER BY c.id DESC) FROM sent_codes c WHERE c.user_id = users.id AND c.code_hash = v.code_hash)`.as('codes'),
    ]),
);

export interface SentCode {
  id: number;
  channel: 'sms' | 'voice' | 'email';
  action: string | null;
  expires_at: number;
  used_at: number | null;
  /** SMS and voice codes sent since 0044: where a verify counts the conversion (send-guard). */
  conversion_prefix: string | null;
  conversion_country: string | null;
}

type FactorsRow = NonNullable<Awaited<ReturnType<typeof factorsById.first>>>;
/**
 * A user's factors as verify reads them: on SQLite with `has_sent_codes`, on PostgreSQL with
 * `sent_codes` (see findUserFactors).
 */
export type UserFactors = Omit<FactorsRow, 'has_sent_codes'> & { has_sent_codes?: FactorsRow['has_sent_codes']; sent_codes?: SentCode[] };

/**
 * The user, and with it on PostgreSQL the sent codes with the token's hash (`codeHash` is asked
 * for only there). On SQLite, where a read is no round trip, `sent_codes` is left out and a
 * token's codes are read only for a user who has any (findSentCodes): the hash and the JSON cost
 * 4 µs on every verify, more than the read they would save (bench).
 *
 * The rows read are handed on as they are, not copied: a copy of every user read (an object
 * spread) was the most of what outlived the young generation under load, and the old
 * generation's collections that followed paused the event loop for 6-16 ms (bench, SQLite).
 */
export const findUserFactors = perTurn(
  (db, k: { appId: number; id: number; codeHash: () => string | null }): Promise<UserFactors | undefined> => factorsById.first(db, k.appId, k.id),
  async (db, keys) => {
    const hashes = keys.map((k) => k.codeHash());
    const rows = await factorsByIds.all(db, keys.map((k) => k.id), hashes);
    const found = new Map(rows.map((r) => [`${r.id}:${r.asked_hash}`, r]));
    return keys.map((k, i): UserFactors | undefined => {
      const r: UserFactors & (typeof rows)[number] | undefined = found.get(`${k.id}:${hashes[i]}`);
      if (!r || r.app_id !== k.appId) return undefined;
      // One user and hash asked twice in a turn: one row, its codes listed once.
      r.sent_codes ??= (r.codes ?? []).map(([id, channel, action, expires_at, used_at, conversion_prefix, conversion_country]): SentCode => ({ id, channel, action, expires_at, used_at, conversion_prefix, conversion_country }));
      return r;
    });
  },
);

/** SQLite: a user's sent codes with this hash, newest first. */
const sentCodes = prepared((db: Kysely<DB>, userId: number, codeHash: string) =>
  db.selectFrom('sent_codes').select(['id', 'channel', 'action', 'expires_at', 'used_at', 'conversion_prefix', 'conversion_country']).where('user_id', '=', userId).where('code_hash', '=', codeHash).orderBy('id', 'desc'),
);
export const findSentCodes = (db: Kysely<DB>, userId: number, codeHash: string): Promise<SentCode[]> =>
  sentCodes.all(db, userId, codeHash) as Promise<SentCode[]>;

const firstDevice = prepared((db: Kysely<DB>, userId: number) =>
  db.selectFrom('devices').selectAll().where('user_id', '=', userId).where('deleted_at', 'is', null).orderBy('id').limit(1),
);
export const findDevice = (db: Kysely<DB>, userId: number) => firstDevice.first(db, userId);
// A right app token of a user with the Authy app: answered with the device.
const deviceById = prepared((db: Kysely<DB>, id: number) => db.selectFrom('devices').selectAll().where('id', '=', id));
export const findDeviceById = (db: Kysely<DB>, id: number) => deviceById.first(db, id);
export type DeviceRow = NonNullable<Awaited<ReturnType<typeof findDevice>>>;

export const setTotpSeed = (db: Kysely<DB>, userId: number, sealed: string) =>
  db.updateTable('users').set({ totp_seed_sealed: sealed }).where('id', '=', userId).where('totp_seed_sealed', 'is', null).executeTakeFirst();

export const readTotpSeed = async (db: Kysely<DB>, userId: number): Promise<string> =>
  (await db.selectFrom('users').select('totp_seed_sealed').where('id', '=', userId).executeTakeFirstOrThrow()).totp_seed_sealed!;

/** What a successful verify also resets: the count of wrong tokens. */
const CLEARED = { confirmed: 1, verify_failures: 0, verify_window_start: null, verify_locked_until: null } as const;

/**
 * The attempt cap is decided by the write, never by the read before it: every write that
 * accepts a token or counts a wrong one holds only while the user is not locked at `now`. Of
 * requests that all read "not locked", only those whose write comes before the lockout's are
 * answered (the rest get 429), on one process or many, SQLite or PostgreSQL.
 */
const unlocked = (now: unknown) => sql<boolean>`(users.verify_locked_until IS NULL OR users.verify_locked_until <= ${now})`;

/**
 * Records an accepted app-TOTP step: verify's one write. The condition makes it atomic: of two
 * requests with the same token (two processes, two nodes) only one updates the row; the other
 * is a replay.
 */
const appStep = prepared((db: Kysely<DB>, userId: number, step: number, drift: number, now: number) =>
  db
    .updateTable('users')
    .set({ totp_last_step: step, totp_drift: drift, ...CLEARED })
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .where(unlocked(now)),
);
// PostgreSQL: the turn's accepted steps in one UPDATE, each row under the same condition.
const appSteps = prepared((db: Kysely<DB>, ids: number[], steps: number[], drifts: number[], nows: number[]) =>
  db
    .updateTable('users')
    .from(
      sql<{ id: number; step: number; drift: number }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${steps}::bigint[]) AS step, unnest(${drifts}::int[]) AS drift, unnest(${nows}::bigint[]) AS now)`.as('v'),
    )
    .set({ totp_last_step: sql`v.step`, totp_drift: sql`v.drift`, ...CLEARED })
    .whereRef('users.id', '=', 'v.id')
    .where(sql<boolean>`(users.totp_last_step IS NULL OR users.totp_last_step < v.step)`)
    .where(unlocked(sql`v.now`))
    .returning('users.id'),
);

/**
 * An accepted step: false when it was used already or the user is locked out. `mattersMs`: how
 * long after its use a step can still refuse a token (the verify window's reach, both ways).
 */
type AcceptedStep = { userId: number; step: number; drift: number; now: number; mattersMs: number };
export const acceptAppStep = perTurn(
  async (db, s: AcceptedStep) => {
    const conn = directSqliteOf(db);
    if (conn) return conn.decide((tx) => acceptLoggedStep(db, tx, s));
    // Every SQLite step goes through the log: a step written only into the row would be unknown
    // to it, and the log's to the row.
    if (db.getExecutor().adapter instanceof SqliteAdapter) throw new Error('an app step on SQLite is accepted on the store itself, not in a transaction');
    return (await appStep.run(db, s.userId, s.step, s.drift, s.now)) === 1;
  },
  (db, keys) =>
    oneRowEach(keys, (k) => k.userId, async (round) => {
      const rows = await appSteps.returning(db, round.map((e) => e.userId), round.map((e) => e.step), round.map((e) => e.drift), round.map((e) => e.now));
      const updated = new Set(rows.map((r) => r.id));
      return round.map((e) => updated.has(e.userId));
    }),
);

type StepState = Selectable<Pick<UsersTable, 'totp_last_step' | 'totp_drift' | 'confirmed' | 'verify_failures' | 'verify_window_start' | 'verify_locked_until'>>;
/** SQLite: what accepting a step reads of the user, in the write transaction. */
const stepState = prepared((db: Kysely<DB>, userId: number) =>
  db.selectFrom('users').select(['totp_last_step', 'totp_drift', 'confirmed', 'verify_failures', 'verify_window_start', 'verify_locked_until']).where('id', '=', userId),
);
/** SQLite: the user's row when accepting a step changes more than the step (the drift, a confirmation, wrong tokens cleared). */
const appStepRow = prepared((db: Kysely<DB>, userId: number, step: number, drift: number) =>
  db.updateTable('users').set({ totp_last_step: step, totp_drift: drift, ...CLEARED }).where('id', '=', userId),
);

/** SQLite: a log (store/accepted-steps.ts) per store and process, made on first use. */
function perStore<L>(make: (db: Kysely<DB>, keepMs: number, now: number) => L) {
  const logs = new WeakMap<Kysely<DB>, L>();
  return (db: Kysely<DB>, s: { mattersMs: number; now: number }) => {
    let log = logs.get(db);
    if (!log) logs.set(db, (log = make(db, s.mattersMs, s.now)));
    return log;
  };
}
/** SQLite: a table of appended steps, given its statements. `mattersMs`: how long after its use a step can refuse. */
const appendedSteps = (q: (db: Kysely<DB>) => AppendedSql<number>) => perStore((db, keepMs, now) => new AcceptedSteps(q(db), keepMs, now));
/** App (migration 0040) and QR (0041) steps, per user; both tables have the same columns. */
const userSteps = (table: 'accepted_app_steps' | 'accepted_qr_steps') => {
  const t = table as 'accepted_app_steps';
  const append = prepared((db: Kysely<DB>, userId: number, step: number) => db.insertInto(t).values({ user_id: userId, step }));
  const after = prepared((db: Kysely<DB>, seen: number) => db.selectFrom(t).select(['seq', 'user_id as key', 'step']).where('seq', '>', seen).orderBy('seq'));
  const upTo = prepared((db: Kysely<DB>, seq: number) => db.deleteFrom(t).where('seq', '<=', seq));
  return appendedSteps((db) => ({ append: (userId, step) => append.sqlOf(db, userId, step), after: (seen) => after.sqlOf(db, seen), deleteUpTo: (seq) => upTo.sqlOf(db, seq) }));
};
const appStepLogOf = userSteps('accepted_app_steps');
const qrStepLogOf = userSteps('accepted_qr_steps');
/** Used sent codes (migration 0042), per code: its one use is step 0. */
const codeUse = prepared((db: Kysely<DB>, codeId: number) => db.insertInto('used_sent_codes').values({ code_id: codeId }));
const codeUsesAfter = prepared((db: Kysely<DB>, seen: number) =>
  db.selectFrom('used_sent_codes').select(['seq', 'code_id as key', sql<number>`0`.as('step')]).where('seq', '>', seen).orderBy('seq'),
);
const codeUsesUpTo = prepared((db: Kysely<DB>, seq: number) => db.deleteFrom('used_sent_codes').where('seq', '<=', seq));
const usedCodeLogOf = appendedSteps((db) => ({ append: (codeId) => codeUse.sqlOf(db, codeId), after: (seen) => codeUsesAfter.sqlOf(db, seen), deleteUpTo: (seq) => codeUsesUpTo.sqlOf(db, seq) }));

/**
 * SQLite: wrong tokens counted (migration 0043), each appended with its user's count and window
 * after it, instead of written into the user's row (a random page of `users`, as a used step
 * was: a wrong token cost twice a right one, bench). The row keeps what was counted before the
 * log, and the lockout. A count matters while its window can last: the largest one settings allow.
 */
type Counting = { failures: number; windowStart: number | null };
const NONE_COUNTED: Counting = Object.freeze({ failures: 0, windowStart: null });
const COUNT_MATTERS_MS = (SETTING_BOUNDS.verifyFailureWindowSeconds[1] + 60) * 1000;
const countAppend = prepared((db: Kysely<DB>, userId: number, failures: number, windowStart: number | null) =>
  db.insertInto('counted_wrong_tokens').values({ user_id: userId, failures, window_start: windowStart }),
);
const countsAfter = prepared((db: Kysely<DB>, seen: number) =>
  db.selectFrom('counted_wrong_tokens').select(['seq', 'user_id as key', 'failures', 'window_start']).where('seq', '>', seen).orderBy('seq'),
);
const countsUpTo = prepared((db: Kysely<DB>, seq: number) => db.deleteFrom('counted_wrong_tokens').where('seq', '<=', seq));
const countLogOf = perStore(
  (db, keepMs, now) =>
    new AppendedLog<Counting>(
      { append: (userId, c) => countAppend.sqlOf(db, userId, c.failures, c.windowStart), after: (seen) => countsAfter.sqlOf(db, seen), deleteUpTo: (seq) => countsUpTo.sqlOf(db, seq) },
      (r) => ({ failures: r.failures as number, windowStart: r.window_start as number | null }),
      () => true, // the latest count is the count
      keepMs,
      now,
    ),
);
const wrongTokenLogOf = (db: Kysely<DB>, now: number) => countLogOf(db, { mattersMs: COUNT_MATTERS_MS, now });

/** SQLite, in a right token's transaction: the wrong tokens counted in the log go, as the row's do (CLEARED). */
function forgetLoggedCount(db: Kysely<DB>, tx: DecidingTransaction, userId: number, now: number): void {
  const log = wrongTokenLogOf(db, now);
  if ((log.latest(tx, userId, now)?.failures ?? 0) > 0) log.record(tx, userId, NONE_COUNTED);
}

/**
 * SQLite, in the turn's write transaction: the rule of appStep and qrStep. A step above every one
 * used (the row's and the log's) of a user not locked at `now`.
 */
const isNewStep = (tx: DecidingTransaction, log: AcceptedSteps, s: AcceptedStep, rowStep: number | null, lockedUntil: number | null) =>
  !lockedAt(lockedUntil, s.now) && s.step > Math.max(rowStep ?? -Infinity, log.highest(tx, s.userId, s.now));
const lockedAt = (lockedUntil: number | null, now: number) => lockedUntil !== null && lockedUntil > now;
const isCleared = (r: Pick<StepState, 'confirmed' | 'verify_failures' | 'verify_window_start' | 'verify_locked_until'>) =>
  r.confirmed === 1 && r.verify_failures === 0 && r.verify_window_start === null && r.verify_locked_until === null;

/**
 * SQLite: an app step. It goes into the user's row when something else in it changes (a clock
 * offset learned, a confirmation, wrong tokens cleared), and is appended to the log otherwise: for
 * a confirmed user with a steady clock, nearly always.
 */
function acceptLoggedStep(db: Kysely<DB>, tx: DecidingTransaction, s: AcceptedStep): boolean {
  const row = tx.get(stepState.sqlOf(db, s.userId)) as StepState | undefined;
  const log = appStepLogOf(db, s);
  if (!row || !isNewStep(tx, log, s, row.totp_last_step, row.verify_locked_until)) return false;
  forgetLoggedCount(db, tx, s.userId, s.now);
  if (row.totp_drift === s.drift && isCleared(row)) log.record(tx, s.userId, s.step);
  else tx.run(appStepRow.sqlOf(db, s.userId, s.step, s.drift));
  return true;
}

/**
 * Counts a wrong token in one atomic statement (PostgreSQL; SQLite: countLoggedFailure, the same
 * rule): a new window when the last one has passed, and
 * a lockout (with the count starting over) when this token reaches the cap. A user already
 * locked is not changed: that token is not counted, and its request is refused unchecked.
 * `v` is one row of values (id, now, cutoff, max, locked_until): a parameter per column here,
 * arrays on PostgreSQL.
 */
const failureUpdate = (db: Kysely<DB>, v: Record<'now' | 'cutoff' | 'max' | 'lockedUntil', unknown>) => {
  const windowOver = sql<boolean>`(users.verify_window_start IS NULL OR users.verify_window_start <= ${v.cutoff})`;
  const count = sql<number>`(CASE WHEN ${windowOver} THEN 1 ELSE users.verify_failures + 1 END)`;
  const reached = sql<boolean>`(${count} >= ${v.max})`;
  return db.updateTable('users').set({
    verify_failures: sql`CASE WHEN ${reached} THEN 0 ELSE ${count} END`,
    verify_window_start: sql`CASE WHEN ${reached} THEN NULL WHEN ${windowOver} THEN ${v.now} ELSE users.verify_window_start END`,
    verify_locked_until: sql`CASE WHEN ${reached} THEN ${v.lockedUntil} ELSE users.verify_locked_until END`,
  });
};
const failure = prepared((db: Kysely<DB>, userId: number, now: number, cutoff: number, max: number, lockedUntil: number) =>
  failureUpdate(db, { now, cutoff, max, lockedUntil }).where('users.id', '=', userId).where(unlocked(now)).returning(['users.id', 'users.verify_locked_until']),
);
// PostgreSQL: the turn's wrong tokens in one UPDATE (an attack sends many at once).
const failures = prepared((db: Kysely<DB>, ids: number[], nows: number[], cutoffs: number[], maxes: number[], lockedUntils: number[]) =>
  failureUpdate(db, { now: sql`v.now`, cutoff: sql`v.cutoff`, max: sql`v.max`, lockedUntil: sql`v.locked_until` })
    .from(
      sql<{ id: number }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${nows}::bigint[]) AS now, unnest(${cutoffs}::bigint[]) AS cutoff, unnest(${maxes}::int[]) AS max, unnest(${lockedUntils}::bigint[]) AS locked_until)`.as('v'),
    )
    .whereRef('users.id', '=', 'v.id')
    .where(unlocked(sql`v.now`))
    .returning(['users.id', 'users.verify_locked_until']),
);

type Failure = { userId: number; now: number; cutoff: number; max: number; lockedUntil: number };
/** The user's lockout end after counting, or `undefined` when the user was locked (not counted). */
type Counted = { lockedUntil: number | null } | undefined;
/** SQLite: what counting a wrong token reads of the user, in the write transaction. */
const failureState = prepared((db: Kysely<DB>, userId: number) => db.selectFrom('users').select(['verify_failures', 'verify_window_start', 'verify_locked_until']).where('id', '=', userId));
type FailureState = Selectable<Pick<UsersTable, 'verify_failures' | 'verify_window_start' | 'verify_locked_until'>>;
const lockRow = prepared((db: Kysely<DB>, userId: number, lockedUntil: number) =>
  db.updateTable('users').set({ verify_failures: 0, verify_window_start: null, verify_locked_until: lockedUntil }).where('id', '=', userId),
);

/**
 * SQLite: failureUpdate's rule in code, the count continued from the log (else from the row). Only
 * the lockout is written into the row; the count then starts over in the log too.
 */
function countLoggedFailure(db: Kysely<DB>, tx: DecidingTransaction, f: Failure): Counted {
  const row = tx.get(failureState.sqlOf(db, f.userId)) as FailureState | undefined;
  if (!row || lockedAt(row.verify_locked_until, f.now)) return undefined;
  const log = wrongTokenLogOf(db, f.now);
  const logged = log.latest(tx, f.userId, f.now);
  const was = logged ?? { failures: row.verify_failures, windowStart: row.verify_window_start };
  const windowOver = was.windowStart === null || was.windowStart <= f.cutoff;
  const count = windowOver ? 1 : was.failures + 1;
  if (count >= f.max) {
    tx.run(lockRow.sqlOf(db, f.userId, f.lockedUntil));
    if (logged !== undefined && logged.failures > 0) log.record(tx, f.userId, NONE_COUNTED);
    return { lockedUntil: f.lockedUntil };
  }
  log.record(tx, f.userId, { failures: count, windowStart: windowOver ? f.now : was.windowStart });
  return { lockedUntil: row.verify_locked_until };
}

const recordFailures = perTurn<Failure, Counted>(
  async (db, f) => {
    const conn = directSqliteOf(db);
    if (conn) return conn.decide((tx) => countLoggedFailure(db, tx, f));
    // On SQLite the count is in the log: a count written only into the row would be overruled by it.
    if (db.getExecutor().adapter instanceof SqliteAdapter) throw new Error('a wrong token on SQLite is counted on the store itself, not in a transaction');
    return (await failure.returning(db, f.userId, f.now, f.cutoff, f.max, f.lockedUntil)).map((r) => ({ lockedUntil: r.verify_locked_until }))[0];
  },
  (db, keys) =>
    oneRowEach(keys, (k) => k.userId, async (round) => {
      const rows = await failures.returning(db, round.map((f) => f.userId), round.map((f) => f.now), round.map((f) => f.cutoff), round.map((f) => f.max), round.map((f) => f.lockedUntil));
      const counted = new Map(rows.map((r) => [r.id, { lockedUntil: r.verify_locked_until }]));
      return round.map((f) => counted.get(f.userId));
    }),
);

/**
 * `counted`: the wrong token counts toward the cap (its request is answered as wrong); false when
 * the user was already locked. `locked`: this token reached the cap and started the lockout.
 */
export async function recordFailure(
  db: Kysely<DB>,
  userId: number,
  now: number,
  cap: { max: number; windowMs: number; lockoutMs: number },
): Promise<{ counted: boolean; locked: boolean }> {
  const lockedUntil = now + cap.lockoutMs;
  const r = await recordFailures(db, { userId, now, cutoff: now - cap.windowMs, max: cap.max, lockedUntil });
  return { counted: r !== undefined, locked: r !== undefined && Number(r.lockedUntil) === lockedUntil };
}

/**
 * Only a row CLEARED would change: most users verifying are confirmed with no wrong token counted,
 * and a write that changes nothing still rewrites the row (a page in SQLite's WAL, a tuple in
 * PostgreSQL's heap and WAL). The outcome is the same row either way.
 */
const notCleared = sql<boolean>`NOT (users.confirmed = 1 AND users.verify_failures = 0 AND users.verify_window_start IS NULL AND users.verify_locked_until IS NULL)`;

/**
 * A correct SMS, voice, email or QR code also confirms the user and clears wrong tokens (unless a
 * lockout began since the code was accepted: that stands).
 */
const confirm = prepared((db: Kysely<DB>, userId: number, now: number) =>
  db.updateTable('users').set(CLEARED).where('id', '=', userId).where(unlocked(now)).where(notCleared),
);
/**
 * A code's use and its user's confirmation, committed together (SQLite: one turn's commit, not
 * two one after the other). True when the code was taken by this write.
 */
const useThenConfirm = async (db: Kysely<DB>, use: WriteStep, userId: number, now: number) =>
  (await writeTogether(db, [use, { ...confirm.step(userId, now), onlyIfChanged: 0 }]))[0].changes === 1;

/** For codes kept outside the user's row: accepted only while the user is not locked at `now`. */
const userUnlocked =
  (userId: number, now: number) =>
  (eb: ExpressionBuilder<DB, 'authenticators' | 'sent_codes'>) =>
    eb.exists(eb.selectFrom('users').select('users.id').where('users.id', '=', userId).where(unlocked(now)));

/**
 * PostgreSQL: a turn's accepted codes of one kind in one statement. `accepted` marks the rows and
 * returns each user with its `now`; the same statement confirms those users, under the same
 * condition as useThenConfirm (a lockout begun meanwhile stands).
 */
const confirmAccepted = <A extends { user_id: number; now: number }>(qc: QueryCreator<DB & { accepted: A }>) =>
  qc.updateTable('users').from('accepted').set(CLEARED).whereRef('users.id', '=', 'accepted.user_id').where(unlocked(sql`accepted.now`)).where(notCleared);

/** One QR-authenticator step: a write that holds only while the step is new and the user not locked. */
const qrStep = prepared((db: Kysely<DB>, userId: number, step: number, drift: number, now: number) =>
  db
    .updateTable('authenticators')
    .set({ last_step: step, drift })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .where(userUnlocked(userId, now)),
);
const qrSteps = prepared((db: Kysely<DB>, ids: number[], steps: number[], drifts: number[], nows: number[]) =>
  db
    .with('accepted', (qc) =>
      qc
        .updateTable('authenticators')
        .from(sql<{ id: number; step: number; drift: number; now: number }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${steps}::bigint[]) AS step, unnest(${drifts}::int[]) AS drift, unnest(${nows}::bigint[]) AS now)`.as('v'))
        .set({ last_step: sql`v.step`, drift: sql`v.drift` })
        .whereRef('authenticators.user_id', '=', 'v.id')
        .where(sql<boolean>`(authenticators.last_step IS NULL OR authenticators.last_step < v.step)`)
        .where(sql<boolean>`EXISTS (SELECT 1 FROM users WHERE users.id = v.id AND ${unlocked(sql`v.now`)})`)
        .returning(['authenticators.user_id as user_id', sql<number>`v.now`.as('now')]),
    )
    .with('confirmed', confirmAccepted)
    .selectFrom('accepted')
    .select('accepted.user_id'),
);

/** SQLite: what accepting a QR step reads of the authenticator and its user, in the write transaction. */
const qrStepState = prepared((db: Kysely<DB>, userId: number) =>
  db
    .selectFrom('authenticators')
    .innerJoin('users', 'users.id', 'authenticators.user_id')
    .select(['authenticators.last_step', 'authenticators.drift', 'users.confirmed', 'users.verify_failures', 'users.verify_window_start', 'users.verify_locked_until'])
    .where('authenticators.user_id', '=', userId),
);
type QrStepState = Omit<StepState, 'totp_last_step' | 'totp_drift'> & { last_step: number | null; drift: number };
const qrStepRow = prepared((db: Kysely<DB>, userId: number, step: number, drift: number) => db.updateTable('authenticators').set({ last_step: step, drift }).where('user_id', '=', userId));

/**
 * SQLite: a QR step, the same way as an app step. Its authenticator's row is written only for a
 * new clock offset, its user's only to confirm it or clear wrong tokens.
 */
function acceptLoggedQrStep(db: Kysely<DB>, tx: DecidingTransaction, s: AcceptedStep): boolean {
  const row = tx.get(qrStepState.sqlOf(db, s.userId)) as QrStepState | undefined;
  const log = qrStepLogOf(db, s);
  if (!row || !isNewStep(tx, log, s, row.last_step, row.verify_locked_until)) return false;
  if (row.drift === s.drift) log.record(tx, s.userId, s.step);
  else tx.run(qrStepRow.sqlOf(db, s.userId, s.step, s.drift));
  forgetLoggedCount(db, tx, s.userId, s.now);
  if (!isCleared(row)) tx.run(confirm.sqlOf(db, s.userId, s.now));
  return true;
}

/** An accepted QR-authenticator step: false when it was used already or the user is locked out. */
export const acceptQrStep = perTurn(
  async (db, s: AcceptedStep) => {
    const conn = directSqliteOf(db);
    if (conn) return conn.decide((tx) => acceptLoggedQrStep(db, tx, s));
    if (db.getExecutor().adapter instanceof SqliteAdapter) throw new Error('a QR step on SQLite is accepted on the store itself, not in a transaction');
    return useThenConfirm(db, qrStep.step(s.userId, s.step, s.drift, s.now), s.userId, s.now);
  },
  (db, keys) =>
    oneRowEach(keys, (k) => k.userId, async (round) => {
      const rows = await qrSteps.returning(db, round.map((e) => e.userId), round.map((e) => e.step), round.map((e) => e.drift), round.map((e) => e.now));
      const accepted = new Set(rows.map((r) => r.user_id));
      return round.map((e) => accepted.has(e.userId));
    }),
);

/**
 * Marks a sent code used; of two requests with the same code only one changes the row, and none
 * while the user is locked out.
 */
const useCode = prepared((db: Kysely<DB>, id: number, userId: number, now: number) =>
  db.updateTable('sent_codes').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).where(userUnlocked(userId, now)),
);
/**
 * PostgreSQL: the turn's codes used and their users confirmed; for a code whose send kept its
 * conversion keys and whose caller gave a window (`ws`), the conversion counted too, all in one
 * statement.
 */
const useCodes = prepared((db: Kysely<DB>, ids: number[], nows: number[], ws: (number | null)[]) =>
  db
    .with('accepted', (qc) =>
      qc
        .updateTable('sent_codes')
        .from(sql<{ id: number; now: number; w: number | null }>`(SELECT unnest(${ids}::int[]) AS id, unnest(${nows}::bigint[]) AS now, unnest(${ws}::bigint[]) AS w)`.as('v'))
        .set({ used_at: sql`v.now` })
        .whereRef('sent_codes.id', '=', 'v.id')
        .where('sent_codes.used_at', 'is', null)
        .where(sql<boolean>`EXISTS (SELECT 1 FROM users WHERE users.id = sent_codes.user_id AND ${unlocked(sql`v.now`)})`)
        .returning([
          'sent_codes.user_id as user_id',
          sql<number>`v.now`.as('now'),
          'sent_codes.app_id',
          'sent_codes.conversion_prefix as conv_prefix',
          'sent_codes.conversion_country as conv_country',
          sql<number | null>`v.w`.as('w'),
        ]),
    )
    .with('confirmed', confirmAccepted)
    .with('counted', conversionsCountedIn('accepted'))
    .selectFrom('accepted')
    .select('accepted.user_id'),
);
/** SQLite: what using a sent code reads of it and its user, in the write transaction. */
const codeState = prepared((db: Kysely<DB>, id: number, userId: number) =>
  db
    .selectFrom('sent_codes')
    .innerJoin('users', 'users.id', 'sent_codes.user_id')
    .select(['sent_codes.used_at', 'sent_codes.expires_at', 'users.confirmed', 'users.verify_failures', 'users.verify_window_start', 'users.verify_locked_until'])
    .where('sent_codes.id', '=', id)
    .where('sent_codes.user_id', '=', userId),
);
type CodeState = Omit<StepState, 'totp_last_step' | 'totp_drift'> & { used_at: number | null; expires_at: number };
const usedInRow = prepared((db: Kysely<DB>, id: number, now: number) => db.updateTable('sent_codes').set({ used_at: now }).where('id', '=', id));

/**
 * SQLite: a sent code's use is appended (used_sent_codes) instead of written into its row, a
 * random page of sent_codes: the same rule as useCode (unused, the user not locked at `now`). The
 * mark matters while the code can still verify, so a code that outlives the log's reach (a TTL
 * above the largest one settings allow) is marked in its row instead.
 */
function useLoggedCode(db: Kysely<DB>, tx: DecidingTransaction, c: CodeUse): boolean {
  const row = tx.get(codeState.sqlOf(db, c.id, c.userId)) as CodeState | undefined;
  if (!row || row.used_at !== null || lockedAt(row.verify_locked_until, c.now)) return false;
  const log = usedCodeLogOf(db, c);
  if (log.highest(tx, c.id, c.now) !== -Infinity) return false;
  if (row.expires_at - c.now < c.mattersMs) log.record(tx, c.id, 0);
  else tx.run(usedInRow.sqlOf(db, c.id, c.now));
  forgetLoggedCount(db, tx, c.userId, c.now);
  if (!isCleared(row)) tx.run(confirm.sqlOf(db, c.userId, c.now));
  return true;
}

/**
 * `mattersMs`: how long after its use a code can still verify (the largest code TTL).
 * `conversionWindow`: where the pumping defence counts the code's conversion, for a write that can
 * count it in the same statement (PostgreSQL's batch; the answer then says `counted`).
 */
type CodeUse = { id: number; userId: number; now: number; mattersMs: number; conversionWindow?: number };
/** Refused (used already, or the user locked), used, or used with its conversion counted. */
export type CodeUsed = false | 'used' | 'counted';
export const useSentCode = perTurn<CodeUse, CodeUsed>(
  async (db, c) => {
    const conn = directSqliteOf(db);
    if (conn) return (await conn.decide((tx) => useLoggedCode(db, tx, c))) && 'used';
    if (db.getExecutor().adapter instanceof SqliteAdapter) throw new Error('a sent code on SQLite is used on the store itself, not in a transaction');
    return (await useThenConfirm(db, useCode.step(c.id, c.userId, c.now), c.userId, c.now)) && 'used';
  },
  (db, keys) =>
    oneRowEach(keys, (k) => k.userId, async (round) => {
      const rows = await useCodes.returning(db, round.map((c) => c.id), round.map((c) => c.now), round.map((c) => c.conversionWindow ?? null));
      const accepted = new Set(rows.map((r) => r.user_id));
      return round.map((c): CodeUsed => (!accepted.has(c.userId) ? false : c.conversionWindow === undefined ? 'used' : 'counted'));
    }),
);

const sentCodeInsert = prepared(
  (db: Kysely<DB>, appId: number, userId: number, channel: 'sms' | 'voice' | 'email', codeHash: string, action: string | null, now: number, expiresAt: number, prefix: string | null, country: string | null) =>
    db.insertInto('sent_codes').values({ app_id: appId, user_id: userId, channel, code_hash: codeHash, action, created_at: now, expires_at: expiresAt, conversion_prefix: prefix, conversion_country: country }),
);
/** A sent code's hash (and for SMS and voice, where its verify counts the conversion), as a step of writeTogether (with its outbox message). */
export const sentCodeStep = (c: { appId: number; userId: number; channel: 'sms' | 'voice' | 'email'; codeHash: string; action: string | null; now: number; expiresAt: number; converts?: { prefix: string; country: string } }) =>
  sentCodeInsert.step(c.appId, c.userId, c.channel, c.codeHash, c.action, c.now, c.expiresAt, c.converts?.prefix ?? null, c.converts?.country ?? null);

export async function replaceRecoveryCodes(db: Kysely<DB>, userId: number, hashes: string[], now: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    await trx.insertInto('recovery_codes').values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now, used_at: null }))).execute();
  });
}

export async function recoveryCodeCounts(db: Kysely<DB>, userId: number) {
  const rows = await db.selectFrom('recovery_codes').select(['created_at', 'used_at']).where('user_id', '=', userId).execute();
  return { total: rows.length, remaining: rows.filter((r) => r.used_at === null).length, createdAt: rows.length ? Number(rows[0].created_at) : null };
}

type CodeKey = { userId: number; codeHash: string };
const byUserAndHash = <R extends { user_id: number; code_hash: string }>(keys: readonly CodeKey[], rows: R[]) => {
  const found = new Map<string, R[]>();
  for (const r of rows) {
    const k = `${r.user_id}:${r.code_hash}`;
    found.set(k, [...(found.get(k) ?? []), r]);
  }
  return keys.map((k) => found.get(`${k.userId}:${k.codeHash}`) ?? []);
};
const recoveryCode = prepared((db: Kysely<DB>, userId: number, hash: string) =>
  db.selectFrom('recovery_codes').select(['user_id', 'code_hash', 'used_at']).where('user_id', '=', userId).where('code_hash', '=', hash),
);
const recoveryCodesOfMany = prepared((db: Kysely<DB>, userIds: number[], hashes: string[]) =>
  db
    .selectFrom('recovery_codes')
    .select(['user_id', 'code_hash', 'used_at'])
    .where(sql<boolean>`(recovery_codes.user_id, recovery_codes.code_hash) IN (SELECT unnest(${userIds}::int[]), unnest(${hashes}::text[]))`),
);
const findRecoveryCode = perTurn(
  (db, k: CodeKey) => recoveryCode.first(db, k.userId, k.codeHash),
  async (db, keys) => byUserAndHash(keys, await recoveryCodesOfMany.all(db, keys.map((k) => k.userId), keys.map((k) => k.codeHash))).map((rows) => rows[0]),
);
const useRecovery = prepared((db: Kysely<DB>, userId: number, hash: string, now: number) =>
  db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .where((eb) => eb.exists(eb.selectFrom('users').select('users.id').where('users.id', '=', userId).where(unlocked(now)))),
);
const useRecoveries = prepared((db: Kysely<DB>, userIds: number[], hashes: string[], nows: number[]) =>
  db
    .with('accepted', (qc) =>
      qc
        .updateTable('recovery_codes')
        .from(sql<{ user_id: number; code_hash: string; now: number }>`(SELECT unnest(${userIds}::int[]) AS user_id, unnest(${hashes}::text[]) AS code_hash, unnest(${nows}::bigint[]) AS now)`.as('v'))
        .set({ used_at: sql`v.now` })
        .whereRef('recovery_codes.user_id', '=', 'v.user_id')
        .whereRef('recovery_codes.code_hash', '=', 'v.code_hash')
        .where('recovery_codes.used_at', 'is', null)
        .where(sql<boolean>`EXISTS (SELECT 1 FROM users WHERE users.id = v.user_id AND ${unlocked(sql`v.now`)})`)
        .returning(['recovery_codes.user_id as user_id', sql<number>`v.now`.as('now')]),
    )
    .with('confirmed', confirmAccepted)
    .selectFrom('accepted')
    .select('accepted.user_id'),
);
type RecoveryUse = { userId: number; codeHash: string; now: number };
/** SQLite: useThenConfirm, and the wrong tokens counted in the log forgotten with the row's. */
function useLoggedRecovery(db: Kysely<DB>, tx: DecidingTransaction, r: RecoveryUse): boolean {
  if (tx.run(useRecovery.sqlOf(db, r.userId, r.codeHash, r.now)).changes !== 1) return false;
  forgetLoggedCount(db, tx, r.userId, r.now);
  tx.run(confirm.sqlOf(db, r.userId, r.now));
  return true;
}
const acceptRecoveryCode = perTurn(
  (db, r: RecoveryUse) => {
    const conn = directSqliteOf(db);
    return conn ? conn.decide((tx) => useLoggedRecovery(db, tx, r)) : useThenConfirm(db, useRecovery.step(r.userId, r.codeHash, r.now), r.userId, r.now);
  },
  (db, keys) =>
    oneRowEach(keys, (k) => k.userId, async (round) => {
      const rows = await useRecoveries.returning(db, round.map((r) => r.userId), round.map((r) => r.codeHash), round.map((r) => r.now));
      const accepted = new Set(rows.map((r) => r.user_id));
      return round.map((r) => accepted.has(r.userId));
    }),
);

const unlock = prepared((db: Kysely<DB>, appId: number, userId: number) =>
  db.updateTable('users').set({ verify_failures: 0, verify_window_start: null, verify_locked_until: null }).where('id', '=', userId).where('app_id', '=', appId),
);
/** Ends a verification lockout and forgets the wrong tokens counted towards the next (on SQLite: the log's too); 0 if no such user. */
export async function unlockVerification(db: Kysely<DB>, appId: number, userId: number): Promise<number> {
  const conn = directSqliteOf(db);
  if (!conn) return unlock.run(db, appId, userId);
  return conn.decide((tx) => {
    const { changes } = tx.run(unlock.sqlOf(db, appId, userId));
    if (changes === 1) forgetLoggedCount(db, tx, userId, Date.now());
    return changes;
  });
}

/** Marks a recovery code used: once, by one request however many race, and never while locked. */
export async function useRecoveryCode(db: Kysely<DB>, userId: number, hash: string, now: number): Promise<'used' | 'reused' | 'unknown'> {
  const row = await findRecoveryCode(db, { userId, codeHash: hash });
  if (!row) return 'unknown';
  if (row.used_at !== null) return 'reused';
  return (await acceptRecoveryCode(db, { userId, codeHash: hash, now })) ? 'used' : 'reused';
}

/** The authenticator of each user, replacing one it had (several users in one statement: `users import`). */
export async function replaceAuthenticators(
  db: Kysely<DB>,
  list: { userId: number; appId: number; secretSealed: string; label: string; issuer: string; qrToken: string; qrSize: number; qrExpiresAt: number; now: number }[],
): Promise<void> {
  if (list.length === 0) return;
  const rows = list.map((a) => ({
    user_id: a.userId,
    app_id: a.appId,
    secret_sealed: a.secretSealed,
    label: a.label,
    issuer: a.issuer,
    qr_token: a.qrToken,
    qr_size: a.qrSize,
    qr_expires_at: a.qrExpiresAt,
    last_step: null,
    drift: 0,
    created_at: a.now,
  }));
  const replaced = ['app_id', 'secret_sealed', 'label', 'issuer', 'qr_token', 'qr_size', 'qr_expires_at', 'last_step', 'drift', 'created_at'] as const;
  await db
    .insertInto('authenticators')
    .values(rows)
    .onConflict((oc) => oc.column('user_id').doUpdateSet((eb) => Object.fromEntries(replaced.map((c) => [c, eb.ref(`excluded.${c}`)]))))
    .execute();
}

export const findQr = (db: Kysely<DB>, qrToken: string) =>
  db
    .selectFrom('authenticators')
    .select(['user_id', 'secret_sealed', 'label', 'issuer', 'qr_size', 'qr_expires_at'])
    .where('qr_token', '=', qrToken)
    .executeTakeFirst();
