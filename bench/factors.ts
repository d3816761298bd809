// What each verify path needs besides the user, seeded for the users a run will hit: a QR
// authenticator, SMS/voice/email codes, recovery codes, a pending phone verification. Values come
// from the project's own sealing and hashing functions; rows are written in bulk (the API would
// send messages and take minutes). Every code is derived from the user id, so the load generator
// recomputes it instead of holding it.
import { createHmac, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { seal, type MasterKey } from '../src/core/crypto.ts';
import { openContacts } from '../src/store/contacts.ts';
import { verificationPhoneContext } from '../src/store/contacts.ts';
import type { DB } from '../src/store/schema.ts';
import { qrSecretContext, sentCodeHash, sentCodeKey } from '../src/features/tokens/service.ts';
import { codeContext } from '../src/features/phones/service.ts';
import { conversionKeysOf } from '../src/features/send-guard/service.ts';
import { codeContext as verifyCodeContext, toContext as verifyToContext } from '../src/features/verify/service.ts';

const derive = (what: string, id: number) => createHmac('sha1', `openfactor-bench-${what}`).update(String(id)).digest();
/** The QR authenticator's secret of bench user `id`. */
export const benchQrSecret = (id: number) => derive('qr', id);
/** A code of `digits` digits for user `id`, the `n`th of its kind. */
export const benchCode = (kind: string, id: number, n: number, digits: number) =>
  String(derive(`${kind}-${n}`, id).readUInt32BE(0) % 10 ** digits).padStart(digits, '0');
// Plausible NANP numbers, 8 million a San Francisco area code (local numbers 200-0000…999-9999).
const AREAS = [415, 510, 628, 650];
const LOCALS = 8_000_000;
/** The national number of the `i`th bench number (0-based): 415 2000000…, then 510 2000000… */
export const nationalNumber = (i: number) => {
  if (i >= AREAS.length * LOCALS) throw new Error(`bench numbers go up to ${AREAS.length * LOCALS}`);
  return `${AREAS[Math.floor(i / LOCALS)]}${2_000_000 + (i % LOCALS)}`;
};
/** The bench users' phone numbers (bench/seed.ts): the (id - 1)th bench number. */
export const benchPhone = (id: number) => nationalNumber(id - 1);

const BATCH = 1000;

async function inBatches<T>(db: Kysely<DB>, items: T[], write: (trx: Kysely<DB>, batch: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += BATCH) {
    const batch = items.slice(i, i + BATCH);
    await db.transaction().execute((trx) => write(trx, batch));
  }
}

/** A QR authenticator (Google-Authenticator style, 6 digits) for each of `ids`. */
export async function seedQrAuthenticators(db: Kysely<DB>, mk: MasterKey, appId: number, ids: number[]): Promise<void> {
  const now = Date.now();
  await inBatches(db, ids, (trx, batch) =>
    trx
      .insertInto('authenticators')
      .values(
        batch.map((id) => ({
          user_id: id,
          app_id: appId,
          secret_sealed: seal(mk, benchQrSecret(id), qrSecretContext(id)),
          label: `user${id}`,
          issuer: 'Bench',
          qr_token: randomUUID(),
          qr_size: 256,
          qr_expires_at: now,
          last_step: null,
          created_at: now,
        })),
      )
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute(),
  );
}

/**
 * `perUser` unexpired codes sent by `channel` to each of `ids` (code n: benchCode(channel, id, n)),
 * an SMS or voice code with the conversion keys a send keeps.
 */
export async function seedSentCodes(db: Kysely<DB>, mk: MasterKey, dialect: 'sqlite' | 'postgres', appId: number, ids: number[], channel: 'sms' | 'voice' | 'email', perUser: number, digits: number): Promise<void> {
  const key = sentCodeKey(mk);
  const contacts = await openContacts(db, [mk], dialect);
  const now = Date.now();
  const converts = (id: number) => (channel === 'email' ? { prefix: null, country: null } : conversionKeysOf(contacts, `+1${benchPhone(id)}`));
  const rows = ids.flatMap((id) => {
    const keys = converts(id);
    return Array.from({ length: perUser }, (_, n) => ({
      app_id: appId,
      user_id: id,
      channel,
      code_hash: sentCodeHash(key, id, benchCode(channel, id, n, digits)),
      action: null,
      created_at: now,
      expires_at: now + 3_600_000,
      used_at: null,
      conversion_prefix: keys.prefix,
      conversion_country: keys.country,
    }));
  });
  await inBatches(db, rows, (trx, batch) => trx.insertInto('sent_codes').values(batch).execute());
}

/** Recovery codes (8 digits), `perUser` of them for each of `ids` (code n: benchCode('recovery', id, n, 8)). */
export async function seedRecoveryCodes(db: Kysely<DB>, mk: MasterKey, dialect: 'sqlite' | 'postgres', ids: number[], perUser: number): Promise<void> {
  const contacts = await openContacts(db, [mk], dialect);
  const now = Date.now();
  const rows = ids.flatMap((id) =>
    Array.from({ length: perUser }, (_, n) => ({ user_id: id, code_hash: contacts.recoveryCodeIndex(id, benchCode('recovery', id, n, 8)), created_at: now, used_at: null })),
  );
  await inBatches(db, rows, (trx, batch) => trx.insertInto('recovery_codes').values(batch).onConflict((oc) => oc.columns(['user_id', 'code_hash']).doNothing()).execute());
}

/** A pending phone verification (4 digits, by SMS) for the phone of each of `ids`. */
export async function seedPhoneVerifications(db: Kysely<DB>, mk: MasterKey, dialect: 'sqlite' | 'postgres', appId: number, ids: number[]): Promise<void> {
  const contacts = await openContacts(db, [mk], dialect);
  const now = Date.now();
  await inBatches(db, ids, (trx, batch) =>
    trx
      .insertInto('phone_verifications')
      .values(
        batch.map((id) => {
          const uuid = randomUUID();
          const e164 = `+1${benchPhone(id)}`;
          return {
            uuid,
            app_id: appId,
            phone_index: contacts.phoneIndex(e164),
            phone_sealed: contacts.seal(e164, verificationPhoneContext(uuid)),
            via: 'sms' as const,
            code_sealed: seal(mk, benchCode('phone', id, 0, 4), codeContext(uuid)),
            locale: 'en',
            status: 'pending' as const,
            created_at: now,
            expires_at: now + 600_000,
            verified_at: null,
          };
        }),
      )
      .execute(),
  );
}

/**
 * A pending Twilio Verify verification (6 digits, by SMS) for the phone of each of `ids`, in the
 * service `serviceId` of application `appId` (code: benchCode('verify', id, 0, 6)).
 */
// What a start with only To and Channel stores.
const PLAIN_START = JSON.stringify({ amount: null, payee: null, custom_friendly_name: null, send_digits: null, tags: null, rate_limits: null, channel_configuration: null, code_length: 6 });

const endPending = (db: Kysely<DB>, serviceId: number, toIndexes: string[]) =>
  db.updateTable('verify_verifications').set({ status: 'expired', code_sealed: null }).where('service_id', '=', serviceId).where('status', '=', 'pending').where('to_index', 'in', toIndexes).execute();

/** Ends the pending verifications of these users' numbers: a start for each then makes a new one (not a resend). */
export async function endVerifyVerifications(db: Kysely<DB>, mk: MasterKey, dialect: 'sqlite' | 'postgres', serviceId: number, ids: number[]): Promise<void> {
  const contacts = await openContacts(db, [mk], dialect);
  await inBatches(db, ids, (trx, batch) => endPending(trx, serviceId, batch.map((id) => contacts.phoneIndex(`+1${benchPhone(id)}`))));
}

export async function seedVerifyVerifications(db: Kysely<DB>, mk: MasterKey, dialect: 'sqlite' | 'postgres', appId: number, serviceId: number, ids: number[]): Promise<void> {
  const contacts = await openContacts(db, [mk], dialect);
  const now = Date.now();
  // A number has one pending verification per service: an earlier scenario's left over ends first.
  const index = (id: number) => contacts.phoneIndex(`+1${benchPhone(id)}`);
  await inBatches(db, ids, async (trx, batch) => {
    await endPending(trx, serviceId, batch.map(index));
    await trx
      .insertInto('verify_verifications')
      .values(
        batch.map((id) => {
          const sid = `VE${randomUUID().replace(/-/g, '')}`;
          const e164 = `+1${benchPhone(id)}`;
          return {
            sid,
            app_id: appId,
            service_id: serviceId,
            to_index: contacts.phoneIndex(e164),
            to_sealed: contacts.seal(e164, verifyToContext(sid)),
            channel: 'sms' as const,
            status: 'pending' as const,
            code_sealed: seal(mk, benchCode('verify', id, 0, 6), verifyCodeContext(sid)),
            locale: 'en',
            details: PLAIN_START,
            created_at: now,
            updated_at: now,
            expires_at: now + 600_000,
          };
        }),
      )
      .execute();
  });
}
