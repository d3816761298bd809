import { sql, type Kysely } from 'kysely';
import type { DB } from '../../store/schema.ts';

/** Counts one send in the prefix's current window; returns the window's sends so far. */
export async function countSend(db: Kysely<DB>, appId: number, prefix: string, window: number): Promise<number> {
  const row = await db
    .insertInto('prefix_traffic')
    .values({ app_id: appId, prefix, window_start: window, sends: 1, conversions: 0 })
    .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ sends: sql`prefix_traffic.sends + 1` }))
    .returning('sends')
    .executeTakeFirstOrThrow();
  return row.sends;
}

export const countConversion = (db: Kysely<DB>, appId: number, prefix: string, window: number) =>
  db
    .insertInto('prefix_traffic')
    .values({ app_id: appId, prefix, window_start: window, sends: 0, conversions: 1 })
    .onConflict((oc) => oc.columns(['app_id', 'prefix', 'window_start']).doUpdateSet({ conversions: sql`prefix_traffic.conversions + 1` }))
    .execute();

/** Sends and conversions of the prefix in windows [from, to). */
export async function traffic(db: Kysely<DB>, appId: number, prefix: string, from: number, to: number) {
  const row = await db
    .selectFrom('prefix_traffic')
    .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('sends'), sql<number>`0`).as('sends'), eb.fn.coalesce(eb.fn.sum<number>('conversions'), sql<number>`0`).as('conversions')])
    .where('app_id', '=', appId)
    .where('prefix', '=', prefix)
    .where('window_start', '>=', from)
    .where('window_start', '<', to)
    .executeTakeFirstOrThrow();
  return { sends: Number(row.sends), conversions: Number(row.conversions) };
}

export const findQuarantine = (db: Kysely<DB>, appId: number, prefix: string, now: number) =>
  db.selectFrom('quarantines').select(['rule', 'until']).where('app_id', '=', appId).where('prefix', '=', prefix).where('until', '>', now).executeTakeFirst();

export const quarantine = (db: Kysely<DB>, appId: number, prefix: string, rule: string, until: number, now: number) =>
  db
    .insertInto('quarantines')
    .values({ app_id: appId, prefix, rule, until, created_at: now })
    .onConflict((oc) => oc.columns(['app_id', 'prefix']).doUpdateSet({ rule, until, created_at: now }))
    .execute();

export const quarantinesOf = (db: Kysely<DB>, appId: number, now: number) =>
  db.selectFrom('quarantines').selectAll().where('app_id', '=', appId).where('until', '>', now).orderBy('created_at', 'desc').execute();

export const forgetTraffic = (db: Kysely<DB>, appId: number, prefix: string, since: number) =>
  db.deleteFrom('prefix_traffic').where('app_id', '=', appId).where('prefix', '=', prefix).where('window_start', '>=', since).execute();

export const liftQuarantine = (db: Kysely<DB>, appId: number, prefix: string) =>
  db.deleteFrom('quarantines').where('app_id', '=', appId).where('prefix', '=', prefix).execute();
