// Master-key rotation (`openfactor keys reseal`): every secret sealed at rest with a previous key,
// or in the format the current key no longer writes (`v1`), is opened and sealed again with the
// current key in its format, while the service runs. Each sealed value is
// bound to its row (additional data), so each column knows how to name its rows.
import { adminSeedContext } from './accounts.ts';
import type { Kysely } from 'kysely';
import { seal, sealedPrefix, unseal, type MasterKey } from '../core/crypto.ts';
import type { DB } from '../store/schema.ts';
import { countSealedByKey, replaceSealed, sealedNotWith, type SealedColumnRef } from './queries.ts';
import { fallbackContext, textContext } from '../delivery/outbox.ts';
import { listContext } from '../delivery/routing.ts';
import { dashboardKeyContext, keyContext } from '../features/applications/service.ts';
import { VAPID_CONTEXT } from '../features/devices/push.ts';
import { publicKeyContext, pushContext } from '../features/devices/service.ts';
import { codeContext } from '../features/phones/service.ts';
import { authTokenContext } from '../features/verify/credentials.ts';
import { codeContext as verifyCodeContext, toContext as verifyToContext } from '../features/verify/service.ts';
import { bindingContext as verifyBindingContext } from '../features/verify/factors.ts';
import { qrSecretContext } from '../features/tokens/service.ts';
import { totpSeedContext } from '../features/users/service.ts';
import { signingKeyContext } from '../features/webhooks/service.ts';
import {
  destinationContext,
  extraEmailContext,
  INDEX_KEY_CONTEXT,
  qrLabelContext,
  registrationPhoneContext,
  userContactContext,
  phoneChangeContext,
  recoveryNewPhoneContext,
  recoveryPhoneContext,
  verificationPhoneContext,
} from '../store/contacts.ts';

type Row = Record<string, any>;

/** `key`: the columns that name a row (the first orders the walk); `also`: other columns the context needs. */
interface SealedColumn extends SealedColumnRef {
  context(r: Row): string;
}

/** Every sealed column there is. A new one belongs here, or rotation leaves it behind. */
export const SEALED_COLUMNS: SealedColumn[] = [
  { table: 'applications', column: 'api_key_sealed', key: ['id'], context: (r) => keyContext(r.id) },
  { table: 'applications', column: 'dashboard_signing_key_sealed', key: ['id'], context: (r) => dashboardKeyContext(r.id) },
  { table: 'users', column: 'totp_seed_sealed', key: ['id'], context: (r) => totpSeedContext(r.id) },
  { table: 'admin_accounts', column: 'totp_seed_sealed', key: ['id'], also: ['email'], context: (r) => adminSeedContext(r.email) },
  { table: 'authenticators', column: 'secret_sealed', key: ['user_id'], context: (r) => qrSecretContext(r.user_id) },
  { table: 'device_keys', column: 'public_key_sealed', key: ['id'], context: (r) => publicKeyContext(r.id) },
  { table: 'device_keys', column: 'push_subscription_sealed', key: ['id'], context: (r) => pushContext(r.id) },
  { table: 'webhooks', column: 'signing_key_sealed', key: ['id'], context: (r) => signingKeyContext(r.id) },
  { table: 'outbox', column: 'text_sealed', key: ['id'], also: ['sid'], context: (r) => textContext(r.sid) },
  { table: 'outbox', column: 'fallback_text_sealed', key: ['id'], also: ['sid'], context: (r) => fallbackContext(r.sid) },
  { table: 'app_providers', column: 'urls_sealed', key: ['app_id', 'channel'], context: (r) => listContext(r.app_id, r.channel) },
  { table: 'phone_verifications', column: 'code_sealed', key: ['id'], also: ['uuid'], context: (r) => codeContext(r.uuid) },
  { table: 'meta', column: 'value', key: ['key'], only: { key: 'vapid_private_key' }, context: () => VAPID_CONTEXT },
  // Twilio Verify v2 (0030): auth tokens (they sign webhooks), codes kept for resends, destinations.
  { table: 'verify_accounts', column: 'auth_token_sealed', key: ['id'], also: ['sid'], context: (r) => authTokenContext(r.sid) },
  { table: 'verify_verifications', column: 'code_sealed', key: ['id'], also: ['sid'], context: (r) => verifyCodeContext(r.sid) },
  { table: 'verify_verifications', column: 'to_sealed', key: ['id'], also: ['sid'], context: (r) => verifyToContext(r.sid) },
  // Verify v2 factors (0033): TOTP secrets and push factors' public keys.
  { table: 'verify_factors', column: 'binding_sealed', key: ['id'], also: ['sid'], context: (r) => verifyBindingContext(r.sid) },
  // Phone numbers and email addresses (0020). Their blind indexes stay as they are: the index key
  // below is sealed like any secret, so rotation keeps it (store/contacts.ts).
  { table: 'meta', column: 'value', key: ['key'], only: { key: 'contact_index_key' }, context: () => INDEX_KEY_CONTEXT },
  { table: 'users', column: 'contact_sealed', key: ['id'], also: ['app_id', 'phone_index'], context: (r) => userContactContext(r.app_id, r.phone_index) },
  { table: 'user_emails', column: 'email_sealed', key: ['user_id', 'email_index'], context: (r) => extraEmailContext(r.user_id, r.email_index) },
  { table: 'authenticators', column: 'label', key: ['user_id'], context: (r) => qrLabelContext(r.user_id) },
  { table: 'outbox', column: 'destination', key: ['id'], also: ['sid'], context: (r) => destinationContext(r.sid) },
  { table: 'phone_verifications', column: 'phone_sealed', key: ['id'], also: ['uuid'], context: (r) => verificationPhoneContext(r.uuid) },
  { table: 'phone_registrations', column: 'phone_sealed', key: ['id'], context: (r) => registrationPhoneContext(r.id) },
  { table: 'phone_changes', column: 'phone_sealed', key: ['id'], context: (r) => phoneChangeContext(r.id) },
  { table: 'account_recoveries', column: 'phone_sealed', key: ['id'], context: (r) => recoveryPhoneContext(r.id) },
  { table: 'account_recoveries', column: 'new_phone_sealed', key: ['id'], context: (r) => recoveryNewPhoneContext(r.id) },
];

export interface ResealReport {
  table: string;
  column: string;
  resealed: number;
  /** Values no key given can open (sealed with a key that is gone, or damaged). */
  failed: number;
}

const BATCH = 500;

/** Seals every value not sealed with `keys[0]` in its format again with it; `keys` must open them. */
export async function resealAll(db: Kysely<DB>, keys: MasterKey[], onColumn?: (r: ResealReport) => void): Promise<ResealReport[]> {
  const reports: ResealReport[] = [];
  for (const c of SEALED_COLUMNS) {
    const report = await resealColumn(db, keys, c);
    reports.push(report);
    onColumn?.(report);
  }
  return reports;
}

async function resealColumn(db: Kysely<DB>, keys: MasterKey[], c: SealedColumn): Promise<ResealReport> {
  const report: ResealReport = { table: c.table, column: c.column, resealed: 0, failed: 0 };
  const current = sealedPrefix(keys[0]);
  const [order] = c.key;
  // Composite keys (app_providers) walk by their first column, which may repeat: a few rows only.
  const composite = c.key.length > 1;
  for (let after: unknown = undefined; ; ) {
    const rows = await sealedNotWith(db, c, current, after, composite ? undefined : BATCH);
    if (rows.length === 0) break;
    await db.transaction().execute(async (trx) => {
      for (const r of rows) {
        let plain: Buffer;
        try {
          plain = unseal(keys, r[c.column], c.context(r));
        } catch {
          report.failed++;
          continue;
        }
        // Only if unchanged since read: a value written meanwhile is already sealed with keys[0].
        if (await replaceSealed(trx, c, r, seal(keys[0], plain, c.context(r)))) report.resealed++;
      }
    });
    if (composite || rows.length < BATCH) break;
    after = rows[rows.length - 1][order];
  }
  return report;
}

/** How many values each key id seals, over every sealed column (`v1.<8 hex>.…` or `v2.<8 hex>.…`). */
export const sealedByKey = (db: Kysely<DB>): Promise<Record<string, number>> => countSealed(db, 'kid');

/** How many values each format seals (`v1`, `v2`), over every sealed column. */
export const sealedByFormat = (db: Kysely<DB>): Promise<Record<string, number>> => countSealed(db, 'format');

async function countSealed(db: Kysely<DB>, by: 'kid' | 'format'): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const c of SEALED_COLUMNS) {
    for (const r of await countSealedByKey(db, c)) counts[r[by]] = (counts[r[by]] ?? 0) + Number(r.n);
  }
  return counts;
}
