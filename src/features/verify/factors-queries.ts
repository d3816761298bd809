// SQL of Verify v2 entities, factors, challenges and service webhooks (0033).
import type { Insertable, Kysely } from 'kysely';
import type { DB, VerifyChallengesTable, VerifyFactorsTable, VerifyWebhooksTable } from '../../store/schema.ts';

// Entities ----------------------------------------------------------------------------------

export const entityByIdentity = (db: Kysely<DB>, serviceId: number, identity: string) =>
  db.selectFrom('verify_entities').selectAll().where('service_id', '=', serviceId).where('identity', '=', identity).executeTakeFirst();

export type EntityRow = NonNullable<Awaited<ReturnType<typeof entityByIdentity>>>;

/** The entity of `identity`, made if it is new (of two at once, both get the same one). */
export async function ensureEntity(db: Kysely<DB>, e: { sid: string; appId: number; serviceId: number; identity: string; now: number }): Promise<{ row: EntityRow; created: boolean }> {
  const found = await entityByIdentity(db, e.serviceId, e.identity);
  if (found) return { row: found, created: false };
  try {
    await db.insertInto('verify_entities').values({ sid: e.sid, app_id: e.appId, service_id: e.serviceId, identity: e.identity, created_at: e.now, updated_at: e.now }).execute();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== 'SQLITE_CONSTRAINT_UNIQUE') throw err;
    return { row: (await entityByIdentity(db, e.serviceId, e.identity))!, created: false };
  }
  return { row: (await entityByIdentity(db, e.serviceId, e.identity))!, created: true };
}

export const entitiesPage = (db: Kysely<DB>, serviceId: number, after: number | undefined, limit: number) =>
  db
    .selectFrom('verify_entities')
    .selectAll()
    .where('service_id', '=', serviceId)
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();

/** The entity with its factors and challenges. */
export const deleteEntity = (db: Kysely<DB>, entityId: number) =>
  db.transaction().execute(async (trx) => {
    await trx.deleteFrom('verify_challenges').where('entity_id', '=', entityId).execute();
    await trx.deleteFrom('verify_factors').where('entity_id', '=', entityId).execute();
    await trx.deleteFrom('verify_entities').where('id', '=', entityId).execute();
  });

// Factors -----------------------------------------------------------------------------------

export const insertFactor = (db: Kysely<DB>, f: Insertable<VerifyFactorsTable>) => db.insertInto('verify_factors').values(f).returning('id').executeTakeFirstOrThrow();

export const factorBySid = (db: Kysely<DB>, entityId: number, sid: string) =>
  db.selectFrom('verify_factors').selectAll().where('entity_id', '=', entityId).where('sid', '=', sid).executeTakeFirst();

export const factorById = (db: Kysely<DB>, id: number) => db.selectFrom('verify_factors').selectAll().where('id', '=', id).executeTakeFirst();

export type FactorRow = NonNullable<Awaited<ReturnType<typeof factorBySid>>>;

export const factorsPage = (db: Kysely<DB>, entityId: number, after: number | undefined, limit: number) =>
  db
    .selectFrom('verify_factors')
    .selectAll()
    .where('entity_id', '=', entityId)
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();

export const updateFactor = (db: Kysely<DB>, id: number, set: Partial<Pick<VerifyFactorsTable, 'friendly_name' | 'config' | 'status' | 'updated_at'>>) =>
  db.updateTable('verify_factors').set(set).where('id', '=', id).execute();

export const deleteFactor = (db: Kysely<DB>, id: number) =>
  db.transaction().execute(async (trx) => {
    await trx.deleteFrom('verify_challenges').where('factor_id', '=', id).execute();
    await trx.deleteFrom('verify_factors').where('id', '=', id).execute();
  });

/**
 * Takes a TOTP step: true once per factor and step (step above the last one accepted). One
 * statement, so of two requests with the same code at once, one wins. Resets the failures.
 */
export const takeStep = async (db: Kysely<DB>, id: number, step: number, now: number) =>
  Number(
    (
      await db
        .updateTable('verify_factors')
        .set({ last_step: step, failures: 0, locked_until: null, updated_at: now })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst()
    ).numUpdatedRows,
  ) === 1;

/** One more wrong code in a row; locked until `lockUntil` when it reaches `max`. Returns the count. */
export const addFactorFailure = async (db: Kysely<DB>, id: number, max: number, lockUntil: number) => {
  const row = await db
    .updateTable('verify_factors')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('id', '=', id)
    .returning('failures')
    .executeTakeFirstOrThrow();
  if (row.failures >= max) await db.updateTable('verify_factors').set({ locked_until: lockUntil, failures: 0 }).where('id', '=', id).execute();
  return row.failures;
};

/** unverified → verified; false if it already was (of two at once, one reports the change). */
export const markVerified = async (db: Kysely<DB>, id: number, now: number) =>
  Number((await db.updateTable('verify_factors').set({ status: 'verified', updated_at: now }).where('id', '=', id).where('status', '=', 'unverified').executeTakeFirst()).numUpdatedRows) === 1;

// Challenges --------------------------------------------------------------------------------

export const insertChallenge = (db: Kysely<DB>, c: Insertable<VerifyChallengesTable>) => db.insertInto('verify_challenges').values(c).returning('id').executeTakeFirstOrThrow();

export const challengeBySid = (db: Kysely<DB>, entityId: number, sid: string) =>
  db.selectFrom('verify_challenges').selectAll().where('entity_id', '=', entityId).where('sid', '=', sid).executeTakeFirst();

export type ChallengeRow = NonNullable<Awaited<ReturnType<typeof challengeBySid>>>;

export const challengesPage = (
  db: Kysely<DB>,
  entityId: number,
  f: { factorId?: number; status?: VerifyChallengesTable['status']; desc: boolean; now: number },
  after: number | undefined,
  limit: number,
) =>
  db
    .selectFrom('verify_challenges')
    .selectAll()
    .where('entity_id', '=', entityId)
    .$if(f.factorId !== undefined, (q) => q.where('factor_id', '=', f.factorId!))
    // A pending challenge past its expiration is expired, whether or not it was marked so yet.
    .$if(f.status === 'pending', (q) => q.where('status', '=', 'pending').where('expires_at', '>', f.now))
    .$if(f.status === 'expired', (q) => q.where((eb) => eb.or([eb('status', '=', 'expired'), eb.and([eb('status', '=', 'pending'), eb('expires_at', '<=', f.now)])])))
    .$if(f.status === 'approved' || f.status === 'denied', (q) => q.where('status', '=', f.status!))
    .$if(after !== undefined, (q) => q.where('id', f.desc ? '<' : '>', after!))
    .orderBy('id', f.desc ? 'desc' : 'asc')
    .limit(limit)
    .execute();

/** Ends a pending challenge; false if it was no longer pending (of two answers, one wins). */
export const endChallenge = async (db: Kysely<DB>, id: number, status: Exclude<VerifyChallengesTable['status'], 'pending'>, now: number, metadata?: string | null) =>
  Number(
    (
      await db
        .updateTable('verify_challenges')
        .set({ status, responded_at: status === 'expired' ? null : now, updated_at: now, ...(metadata !== undefined ? { metadata } : {}) })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst()
    ).numUpdatedRows,
  ) === 1;

/** One more wrong code on a pending challenge; undefined once it has had `max`. */
export const takeChallengeTry = async (db: Kysely<DB>, id: number, max: number) =>
  (
    await db
      .updateTable('verify_challenges')
      .set((eb) => ({ failures: eb('failures', '+', 1) }))
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('failures', '<', max)
      .returning('failures')
      .executeTakeFirst()
  )?.failures;

// Service webhooks --------------------------------------------------------------------------

export const insertWebhook = (db: Kysely<DB>, w: Insertable<VerifyWebhooksTable>) => db.insertInto('verify_webhooks').values(w).execute();

export const webhookBySid = (db: Kysely<DB>, serviceId: number, sid: string) =>
  db.selectFrom('verify_webhooks').selectAll().where('service_id', '=', serviceId).where('sid', '=', sid).executeTakeFirst();

export type WebhookRow = NonNullable<Awaited<ReturnType<typeof webhookBySid>>>;

export const webhooksPage = (db: Kysely<DB>, serviceId: number, after: number | undefined, limit: number) =>
  db
    .selectFrom('verify_webhooks')
    .selectAll()
    .where('service_id', '=', serviceId)
    .$if(after !== undefined, (q) => q.where('id', '>', after!))
    .orderBy('id')
    .limit(limit)
    .execute();

export const enabledWebhooks = (db: Kysely<DB>, serviceId: number) =>
  db.selectFrom('verify_webhooks').selectAll().where('service_id', '=', serviceId).where('status', '=', 'enabled').orderBy('id').execute();

export const countWebhooks = async (db: Kysely<DB>, serviceId: number) =>
  Number((await db.selectFrom('verify_webhooks').select((eb) => eb.fn.countAll<string | number>().as('n')).where('service_id', '=', serviceId).executeTakeFirstOrThrow()).n);

export const updateWebhook = (db: Kysely<DB>, id: number, set: Partial<Omit<VerifyWebhooksTable, 'id' | 'sid' | 'app_id' | 'service_id' | 'created_at'>>) =>
  db.updateTable('verify_webhooks').set(set).where('id', '=', id).execute();

export const deleteWebhook = (db: Kysely<DB>, id: number) => db.deleteFrom('verify_webhooks').where('id', '=', id).execute();

/** The webhook with the SID of its account (the account's auth token signs its deliveries). */
export const webhookForSigning = (db: Kysely<DB>, sid: string) =>
  db
    .selectFrom('verify_webhooks as w')
    .innerJoin('verify_services as s', 's.id', 'w.service_id')
    .innerJoin('verify_accounts as a', 'a.id', 's.account_id')
    .select(['w.id', 'w.url', 'w.status', 'a.sid as account_sid'])
    .where('w.sid', '=', sid)
    .executeTakeFirst();

export const updateChallengeMetadata = (db: Kysely<DB>, id: number, metadata: string) => db.updateTable('verify_challenges').set({ metadata }).where('id', '=', id).execute();

/** A factor with what a device's JWT must match: its service, identity and account. */
export const factorForDevice = (db: Kysely<DB>, sid: string) =>
  db
    .selectFrom('verify_factors as f')
    .innerJoin('verify_entities as e', 'e.id', 'f.entity_id')
    .innerJoin('verify_services as s', 's.id', 'f.service_id')
    .innerJoin('verify_accounts as a', 'a.id', 's.account_id')
    .leftJoin('device_keys as dk', 'dk.id', 'f.device_key_id')
    .select(['f.sid', 'f.factor_type', 'f.binding_sealed', 'f.device_key_id', 'dk.deleted_at as device_deleted_at', 'dk.id as device_found', 'e.identity', 's.sid as service_sid', 'a.id as account_id', 'a.sid as account_sid'])
    .where('f.sid', '=', sid)
    .executeTakeFirst();

/** Whether an OpenFactor device is still registered (not removed by its person or an admin). */
export const deviceLive = async (db: Kysely<DB>, id: number) => (await db.selectFrom('device_keys').select('deleted_at').where('id', '=', id).executeTakeFirst())?.deleted_at === null;

/** The pending challenges (at most 100, oldest first) of the push factors an OpenFactor device enrolled, with what their bodies name. */
export async function pendingChallengesOfDevice(db: Kysely<DB>, deviceKeyId: number, now: number) {
  const factors = await db
    .selectFrom('verify_factors as f')
    .innerJoin('verify_entities as e', 'e.id', 'f.entity_id')
    .innerJoin('verify_services as s', 's.id', 'f.service_id')
    .innerJoin('verify_accounts as a', 'a.id', 's.account_id')
    .select(['f.id', 'f.sid', 'f.factor_type', 'e.sid as entity_sid', 'e.identity', 's.id as service_id', 's.sid as service_sid', 's.settings as service_settings', 'a.id as account_id', 'a.sid as account_sid'])
    .where('f.device_key_id', '=', deviceKeyId)
    .execute();
  if (factors.length === 0) return [];
  const byId = new Map(factors.map((f) => [f.id, f]));
  const challenges = await db.selectFrom('verify_challenges').selectAll().where('factor_id', 'in', [...byId.keys()]).where('status', '=', 'pending').where('expires_at', '>', now).orderBy('id').limit(100).execute();
  return challenges.map((challenge) => {
    const f = byId.get(challenge.factor_id)!;
    return { challenge, factor: { sid: f.sid, factor_type: f.factor_type }, entity: { sid: f.entity_sid, identity: f.identity }, service_id: f.service_id, service_sid: f.service_sid, service_settings: f.service_settings, account_id: f.account_id, account_sid: f.account_sid };
  });
}

/** A challenge of one of the device's factors, by SID (how it stands now). */
export const challengeStatusForDevice = (db: Kysely<DB>, deviceKeyId: number, sid: string) =>
  db
    .selectFrom('verify_challenges as c')
    .innerJoin('verify_factors as f', 'f.id', 'c.factor_id')
    .select(['c.status', 'c.expires_at'])
    .where('c.sid', '=', sid)
    .where('f.device_key_id', '=', deviceKeyId)
    .executeTakeFirst();
