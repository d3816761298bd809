// SQL of Verify access tokens (0034).
import type { Insertable, Kysely } from 'kysely';
import type { DB, VerifyAccessTokensTable } from '../../store/schema.ts';

/** A token with the SIDs of its service and account (what its JWT says). */
export const accessTokenBySid = (db: Kysely<DB>, sid: string) =>
  db
    .selectFrom('verify_access_tokens as t')
    .innerJoin('verify_services as s', 's.id', 't.service_id')
    .innerJoin('verify_accounts as a', 'a.id', 's.account_id')
    .select(['t.sid', 't.identity', 't.factor_type', 't.friendly_name', 't.ttl', 't.created_at', 't.used_at', 's.sid as service_sid', 'a.id as account_id', 'a.sid as account_sid'])
    .where('t.sid', '=', sid)
    .executeTakeFirst();

export type AccessTokenRow = NonNullable<Awaited<ReturnType<typeof accessTokenBySid>>>;

export const insertAccessToken = (db: Kysely<DB>, t: Insertable<VerifyAccessTokensTable>) => db.insertInto('verify_access_tokens').values(t).execute();

/** Marks the token used: true for exactly one caller (a conditional UPDATE). */
export const useAccessToken = async (db: Kysely<DB>, sid: string, now: number) =>
  Number((await db.updateTable('verify_access_tokens').set({ used_at: now }).where('sid', '=', sid).where('used_at', 'is', null).executeTakeFirst()).numUpdatedRows) === 1;
