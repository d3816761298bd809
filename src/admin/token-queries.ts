// API tokens' SQL: looked up by hash, listed, revoked, their last use noted.
import type { Kysely } from 'kysely';
import type { AdminTokensTable, DB } from '../store/schema.ts';

export const insertToken = async (db: Kysely<DB>, t: Omit<AdminTokensTable, 'id' | 'last_used_at' | 'revoked_at'>) =>
  (await db.insertInto('admin_tokens').values({ ...t, last_used_at: null, revoked_at: null }).returning('id').executeTakeFirstOrThrow()).id;

export const liveTokenByHash = (db: Kysely<DB>, hash: string) =>
  db.selectFrom('admin_tokens').select(['id', 'name', 'role', 'app_id', 'last_used_at']).where('token_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();

const SHOWN = ['id', 'name', 'role', 'app_id', 'created_by', 'created_at', 'last_used_at', 'revoked_at'] as const;
export const listTokens = (db: Kysely<DB>) => db.selectFrom('admin_tokens').select(SHOWN).orderBy('id').execute();

export const revokeToken = async (db: Kysely<DB>, id: number, now: number) =>
  Number((await db.updateTable('admin_tokens').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst()).numUpdatedRows) === 1;

export const findToken = (db: Kysely<DB>, id: number) => db.selectFrom('admin_tokens').select(SHOWN).where('id', '=', id).executeTakeFirst();

export const noteTokenUse = (db: Kysely<DB>, id: number, now: number) => db.updateTable('admin_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
