// API tokens for automation (issue 22): named, with a role and optionally one application,
// shown once when made (only a hash is kept), revocable, with their last use.
import type { Kysely } from 'kysely';
import { hashSecret, randomBytes } from '../core/crypto.ts';
import type { DB } from '../store/schema.ts';
import { ROLES, type Principal, type Role } from './access.ts';
import * as q from './token-queries.ts';

/** Tokens start so, which tells them from the break-glass token at a glance (and in a leak scanner). */
export const TOKEN_PREFIX = 'oft_';
/** A token's last use is written at most this often (not a write per request). */
const LAST_USED_EVERY_MS = 60_000;

export type NewToken = { ok: true; id: number; token: string } | { ok: false; field: 'name' | 'role' | 'app_id'; reason: string };

export class AdminTokens {
  constructor(private readonly db: Kysely<DB>) {}

  async create(input: { name: unknown; role: unknown; appId?: number | null; createdBy: string }, appExists: (id: number) => Promise<boolean>, now = Date.now()): Promise<NewToken> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 64 || /[\u0000-\u001f\u007f]/.test(name)) return { ok: false, field: 'name', reason: 'is required (at most 64 printable characters)' };
    if (typeof input.role !== 'string' || !(ROLES as readonly string[]).includes(input.role)) return { ok: false, field: 'role', reason: `must be one of ${ROLES.join(', ')}` };
    const role = input.role as Role;
    const appId = input.appId ?? null;
    if (appId !== null && role === 'owner') return { ok: false, field: 'app_id', reason: 'an owner token is for the whole service: leave app_id out, or choose another role' };
    if (appId !== null && !(await appExists(appId))) return { ok: false, field: 'app_id', reason: 'is not an application' };
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const id = await q.insertToken(this.db, { name, token_hash: hashSecret(token), role, app_id: appId, created_by: input.createdBy, created_at: now });
    return { ok: true, id, token };
  }

  /** The principal a token stands for, or undefined (unknown or revoked); its use is noted. */
  async principal(token: string, now = Date.now()): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = await q.liveTokenByHash(this.db, hashSecret(token));
    if (!row) return undefined;
    if (row.last_used_at === null || now - Number(row.last_used_at) >= LAST_USED_EVERY_MS) await q.noteTokenUse(this.db, row.id, now);
    return { kind: 'token', id: row.id, name: `token ${row.id} (${row.name})`, role: row.role, ...(row.app_id === null ? {} : { appId: Number(row.app_id) }) };
  }

  list = () => q.listTokens(this.db);
  find = (id: number) => q.findToken(this.db, id);
  revoke = (id: number, now = Date.now()) => q.revokeToken(this.db, id, now);
}

export const tokenView = (t: Awaited<ReturnType<typeof q.listTokens>>[number]) => ({
  id: Number(t.id),
  name: t.name,
  role: t.role,
  app_id: t.app_id === null ? null : Number(t.app_id),
  created_by: t.created_by,
  created_at: new Date(Number(t.created_at)).toISOString(),
  last_used_at: t.last_used_at === null ? null : new Date(Number(t.last_used_at)).toISOString(),
  revoked_at: t.revoked_at === null ? null : new Date(Number(t.revoked_at)).toISOString(),
});
