// Bulk import of users, as a migration off Authy brings them (`openfactor users import`): each
// keeps its Authy id, so the ids the customer's database holds go on working, and may bring the
// secret of an authenticator app it already uses. One JSON object per line; Authy's phone-number
// export (`{"phone_number","country_code","e164"}`) is read as it comes.
import type { Kysely } from 'kysely';
import type { MasterKey } from '../../core/crypto.ts';
import { fromBase32, newSecret } from '../../core/otp.ts';
import { callingCodeOf } from '../../core/phone.ts';
import type { Dialect } from '../../store/db.ts';
import type { DB } from '../../store/schema.ts';
import type { Contacts } from '../../store/contacts.ts';
import { addUsage, monthOf, type Application } from '../applications/service.ts';
import { keepAuthenticator } from '../tokens/service.ts';
import { contactColumns, findUserIdByPhone, insertImportedUser, reserveUserIds, setUserSeed } from './queries.ts';
import { MAX_AUTHY_ID, parseAuthyId, readNewUser, sealTotpSeed, type UserInput } from './service.ts';

export type ImportOutcome =
  | { line: number; status: 'created' | 'existing'; authy_id: number }
  | { line: number; status: 'failed'; reason: string };

export interface ImportSummary {
  lines: number;
  created: number;
  existing: number;
  failed: number;
}

interface ImportRow {
  line: number;
  authyId?: number;
  user: UserInput;
  secret?: Buffer;
}

/** Rows per transaction: large enough to go fast, small enough not to hold the writer long. */
const BATCH = 500;
/** Thrown to roll back a dry run's batch. */
const DRY_RUN = Symbol('dry run');

/** One line read: the user it describes, or why it is refused. */
export function readImportLine(line: number, text: string): ImportRow | { line: number; status: 'failed'; reason: string } {
  const refuse = (reason: string) => ({ line, status: 'failed' as const, reason });
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return refuse('not a JSON object');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return refuse('not a JSON object');
  const r = o as Record<string, unknown>;
  const text_ = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  let authyId: number | undefined;
  if (r.authy_id !== undefined && r.authy_id !== null) {
    authyId = parseAuthyId(text_(r.authy_id));
    if (authyId === undefined) return refuse(`authy_id must be an integer from 1 to ${MAX_AUTHY_ID}`);
  }
  // Either cellphone (or Authy's phone_number) with country_code, or an E.164 number alone.
  const e164 = text_(r.e164);
  const cellphone = text_(r.cellphone ?? r.phone_number) ?? e164;
  const countryCode = text_(r.country_code) ?? (e164 ? callingCodeOf(e164) : undefined);
  const read = readNewUser({ user: { email: text_(r.email) ?? '', cellphone: cellphone ?? '', country_code: countryCode ?? '' } });
  if (!read.ok) return refuse(Object.entries(read.fields ?? {}).map(([k, v]) => `${k} ${v}`).join('; ') || 'user is invalid');
  let secret: Buffer | undefined;
  if (r.authenticator_secret !== undefined && r.authenticator_secret !== null) {
    try {
      secret = typeof r.authenticator_secret === 'string' ? fromBase32(r.authenticator_secret) : undefined;
    } catch {
      secret = undefined;
    }
    if (!secret || secret.length < 10) return refuse('authenticator_secret must be base32 of at least 80 bits');
  }
  return { line, authyId, user: read.value, secret };
}

export interface ImportDeps {
  db: Kysely<DB>;
  dialect: Dialect;
  key: MasterKey;
  contacts: Contacts;
}

/** The largest `authy_id` of the lines (those that parse), to reserve before importing them. */
export function largestAuthyId(lines: Iterable<string>): number {
  let max = 0;
  for (const text of lines) {
    const m = /"authy_id"\s*:\s*"?(\d{1,10})"?/.exec(text);
    if (m && Number(m[1]) <= MAX_AUTHY_ID) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/**
 * Imports the lines into the application, `BATCH` to a transaction, telling `onOutcome` of each.
 * With `reserveUpTo` (the largest kept id: `largestAuthyId`), users created through the API while
 * the import runs never take a kept id; without it, only those created after each batch.
 * A dry run does all of it and rolls each batch back.
 */
export async function importUsers(
  d: ImportDeps,
  app: Application,
  lines: AsyncIterable<string> | Iterable<string>,
  opts: { dryRun?: boolean; reserveUpTo?: number; onOutcome?: (o: ImportOutcome) => void } = {},
): Promise<ImportSummary> {
  if (opts.reserveUpTo && !opts.dryRun) await reserveUserIds(d.db, d.dialect, opts.reserveUpTo);
  const summary: ImportSummary = { lines: 0, created: 0, existing: 0, failed: 0 };
  const tell = (o: ImportOutcome) => {
    summary[o.status]++;
    opts.onOutcome?.(o);
  };
  let batch: ImportRow[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    for (const o of await importBatch(d, app, batch, opts.dryRun === true)) tell(o);
    batch = [];
  };
  for await (const text of lines) {
    const line = ++summary.lines;
    if (!text.trim()) {
      summary.lines--; // blank lines are not rows
      continue;
    }
    const row = readImportLine(line, text);
    if ('status' in row) tell(row);
    else batch.push(row);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return summary;
}

async function importBatch(d: ImportDeps, app: Application, rows: ImportRow[], dryRun: boolean): Promise<ImportOutcome[]> {
  const kept = rows.flatMap((r) => (r.authyId === undefined ? [] : [r.authyId]));
  if (kept.length > 0 && !dryRun) await reserveUserIds(d.db, d.dialect, Math.max(...kept));
  const outcomes: ImportOutcome[] = [];
  try {
    await d.db.transaction().execute(async (trx) => {
      const now = Date.now();
      let created = 0;
      for (const r of rows) {
        const o = await importRow(trx, d.key, d.contacts, app, r, now);
        if (o.status === 'created') created++;
        outcomes.push(o);
      }
      if (created > 0) await addUsage(trx, app.id, monthOf(now), 'users', created);
      if (dryRun) throw DRY_RUN;
    });
  } catch (e) {
    if (e !== DRY_RUN) throw e;
  }
  return outcomes;
}

async function importRow(trx: Kysely<DB>, key: MasterKey, contacts: Contacts, app: Application, r: ImportRow, now: number): Promise<ImportOutcome> {
  const contact = contactColumns(contacts, app.id, r.user.e164, r.user.email);
  const values = { app_id: app.id, country_code: r.user.countryCode, ...contact, confirmed: 0, created_at: now };
  // A kept id is known before the insert, so its seed (sealed with the id) goes in with the row.
  const id = await insertImportedUser(trx, r.authyId === undefined ? values : { id: r.authyId, ...values, totp_seed_sealed: sealTotpSeed(key, r.authyId, newSecret()) });
  if (id !== undefined) {
    if (r.authyId === undefined) await setUserSeed(trx, id, sealTotpSeed(key, id, newSecret()));
    // The app already holds the secret: there is no QR code to show.
    if (r.secret) await keepAuthenticator(trx, key, { userId: id, appId: app.id, issuer: app.name, secret: r.secret, label: r.user.email, now });
    return { line: r.line, status: 'created', authy_id: id };
  }
  const samePhoneId = await findUserIdByPhone(trx, app.id, contact.phone_index);
  if (samePhoneId !== undefined && (r.authyId === undefined || r.authyId === samePhoneId)) return { line: r.line, status: 'existing', authy_id: samePhoneId };
  if (samePhoneId !== undefined) return { line: r.line, status: 'failed', reason: `this phone is already user ${samePhoneId} of the application` };
  return { line: r.line, status: 'failed', reason: `authy_id ${r.authyId} is another user's (of this or another application); leave authy_id out to give this one a new id` };
}
