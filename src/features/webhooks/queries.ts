import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../../store/schema.ts';

type Db = Kysely<DB> | Transaction<DB>;

/** An application's webhooks, oldest first (`db` may be the transaction of the change an event reports). */
export const webhooksOfApp = (db: Db, appId: number) =>
  db.selectFrom('webhooks').select(['id', 'name', 'url', 'events', 'signing_key_sealed', 'created_at']).where('app_id', '=', appId).orderBy('created_at').execute();

export const countWebhooks = async (db: Db, appId: number) =>
  Number((await db.selectFrom('webhooks').select((eb) => eb.fn.countAll<number>().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow()).n);

export const insertWebhook = (db: Db, w: { id: string; appId: number; name: string; url: string; events: string; signingKeySealed: string; now: number }) =>
  db
    .insertInto('webhooks')
    .values({ id: w.id, app_id: w.appId, name: w.name, url: w.url, events: w.events, signing_key_sealed: w.signingKeySealed, created_at: w.now })
    .execute();

/** False when the application has no such webhook. */
export async function deleteWebhook(db: Db, appId: number, id: string): Promise<boolean> {
  const res = await db.deleteFrom('webhooks').where('id', '=', id).where('app_id', '=', appId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export const findSigningKey = (db: Db, id: string) => db.selectFrom('webhooks').select(['signing_key_sealed']).where('id', '=', id).executeTakeFirst();

/**
 * Records a dashboard nonce until `expiresAt`: false when it is in use. An expired row not yet
 * swept is taken over; a live one makes the insert a no-op.
 */
export async function useDashboardNonce(db: Db, appId: number, nonce: string, expiresAt: number, now: number): Promise<boolean> {
  const res = await db
    .insertInto('dashboard_nonces')
    .values({ app_id: appId, nonce, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['app_id', 'nonce']).doUpdateSet({ expires_at: expiresAt }).where('dashboard_nonces.expires_at', '<', now))
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}
