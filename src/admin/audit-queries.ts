// The audit trail's SQL: entries appended under one lock (the chain has one head), read in
// order for verification, searched newest first for the console.
import { sql, type Kysely } from 'kysely';
import type { AuditLogTable, DB } from '../store/schema.ts';
import type { Dialect } from '../store/db.ts';

export type NewAuditRow = Omit<AuditLogTable, 'id'>;
export type AuditRow = NewAuditRow & { id: number };

/** Runs `f` in a transaction that holds the trail's one lock (PostgreSQL: every node; SQLite: one writer anyway). */
export const withAuditLock = <T>(db: Kysely<DB>, dialect: Dialect, f: (trx: Kysely<DB>) => Promise<T>) =>
  db.transaction().execute(async (trx) => {
    if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtext('openfactor_audit_log'))`.execute(trx);
    return f(trx);
  });

export const insertEntry = async (db: Kysely<DB>, row: NewAuditRow) => (await db.insertInto('audit_log').values(row).returning('id').executeTakeFirstOrThrow()).id;

/** Entries after `afterId`, oldest first: verification walks the whole trail a page at a time. */
export const entriesAfter = (db: Kysely<DB>, afterId: number, limit: number) =>
  db.selectFrom('audit_log').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute() as Promise<AuditRow[]>;

export interface AuditFilter {
  appId?: number;
  action?: string;
  actor?: string;
  since?: number;
}

/** The console's search: newest first, below `below`, at most `limit`; with how many match. */
export async function searchEntries(db: Kysely<DB>, f: AuditFilter, limit: number, below?: number) {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.appId !== undefined) q = q.where('app_id', '=', f.appId);
  // A prefix ('application.' finds every change to applications); no LIKE, so _ and % are plain.
  if (f.action) q = q.where(sql<boolean>`substr(action, 1, ${f.action.length}) = ${f.action}`);
  if (f.actor) q = q.where('actor', '=', f.actor);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  const total = (await q.clearSelect().select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
  const rows = (await (below === undefined ? q : q.where('id', '<', below)).orderBy('id', 'desc').limit(limit + 1).execute()) as AuditRow[];
  return { rows: rows.slice(0, limit), more: rows.length > limit, total: Number(total) };
}

// The head (the newest entry's id and hash, MACed: entries cut from the end are missed) and the
// anchor (the last entry retention dropped: the oldest kept one follows it).
type Mark = 'head' | 'anchor';
export const readMark = (db: Kysely<DB>, name: Mark) => db.selectFrom('audit_head').selectAll().where('name', '=', name).executeTakeFirst();
export const writeMark = (db: Kysely<DB>, name: Mark, mark: { entry_id: number; hash: string; key_id: string; mac: string }) =>
  db
    .insertInto('audit_head')
    .values({ name, ...mark })
    .onConflict((oc) => oc.column('name').doUpdateSet(mark))
    .execute();

/** The newest entry written before `cut`, if any. */
export const lastBefore = (db: Kysely<DB>, cut: number) => db.selectFrom('audit_log').select(['id', 'hash']).where('at', '<', cut).orderBy('id', 'desc').limit(1).executeTakeFirst();
export const dropThrough = async (db: Kysely<DB>, id: number) => Number((await db.deleteFrom('audit_log').where('id', '<=', id).executeTakeFirst()).numDeletedRows);

/** Whether any entry was chained under another key than `keyId`. */
export const anyEntryNotWith = async (db: Kysely<DB>, keyId: string) => (await db.selectFrom('audit_log').select('id').where('key_id', '!=', keyId).limit(1).executeTakeFirst()) !== undefined;

/** An entry chained again (after a master-key rotation): its fields stay, its links change. */
export const rewriteChain = (db: Kysely<DB>, id: number, link: { prev_hash: string; hash: string; key_id: string }) => db.updateTable('audit_log').set(link).where('id', '=', id).execute();
