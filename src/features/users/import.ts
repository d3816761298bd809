// Bulk import of users, as a migration off Authy brings them (`openfactor users import`): each
// keeps its Authy id, so the ids the customer's database holds go on working, and may bring the
// secret of an authenticator app it already uses. One JSON object per line; Authy's phone-number
// export (`{"phone_number","country_code","e164"}`) is read as it comes.
import type { Kysely } from 'kysely';
import { startWorker } from '../../core/package-files.ts';
import type { MasterKey } from '../../core/crypto.ts';
import { fromBase32, newSecret } from '../../core/otp.ts';
import { callingCodeOf } from '../../core/phone.ts';
import type { Dialect } from '../../store/db.ts';
import type { DB } from '../../store/schema.ts';
import type { Contacts } from '../../store/contacts.ts';
import { addUsage, monthOf, type Application } from '../applications/service.ts';
import { sealKeptAuthenticator, storeAuthenticators, type SealedAuthenticator } from '../tokens/service.ts';
import { allocateUserIds, contactColumns, type UserContact, findUserIdByPhone, insertImportedUser, insertImportedUsers, reserveUserIds, setUserSeed } from './queries.ts';
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

/** A line read, with what can be sealed before its row is written (all of it when its id is kept). */
export interface PreparedRow extends ImportRow {
  contact: UserContact;
  seedSealed?: string;
  authenticator?: SealedAuthenticator;
}
type Prepared = PreparedRow | { line: number; status: 'failed'; reason: string };

/** What preparing lines needs: the sealing keys and the application's id and name. */
export interface PrepareContext {
  key: MasterKey;
  contacts: Contacts;
  appId: number;
  issuer: string;
}

/** Lines read and sealed: the CPU-heavy half of an import, which a worker thread can do (import-worker.ts). */
export function prepareLines(c: PrepareContext, lines: { line: number; text: string }[]): Prepared[] {
  const now = Date.now();
  return lines.map(({ line, text }) => {
    const r = readImportLine(line, text);
    if ('status' in r) return r;
    const contact = contactColumns(c.contacts, c.appId, r.user.e164, r.user.email);
    if (r.authyId === undefined) return { ...r, contact };
    // A kept id is known now, so what is sealed with it is sealed here.
    const authenticator = r.secret && sealKeptAuthenticator(c.key, { userId: r.authyId, appId: c.appId, issuer: c.issuer, secret: r.secret, label: r.user.email, now });
    return { ...r, contact, seedSealed: sealTotpSeed(c.key, r.authyId, newSecret()), authenticator };
  });
}

type Preparer = { prepare(lines: { line: number; text: string }[]): Promise<Prepared[]>; close(): Promise<void> };

/** In a worker thread while the database takes the batch before, or here. */
function startPreparer(c: PrepareContext, inWorker: boolean): Preparer {
  if (!inWorker) return { prepare: async (lines) => prepareLines(c, lines), close: async () => {} };
  const worker = startWorker('features/users', 'import-worker', { key: { key: c.key.key, writes: c.key.writes }, indexKey: c.contacts.indexKey, appId: c.appId, issuer: c.issuer });
  const waiting: { resolve: (p: Prepared[]) => void; reject: (e: Error) => void }[] = [];
  const failAll = (e: Error) => {
    for (const w of waiting.splice(0)) w.reject(e);
  };
  worker.on('message', (p: Prepared[]) => waiting.shift()?.resolve(p));
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`the import's worker thread stopped (exit code ${code})`)));
  return {
    prepare: (lines) =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        worker.postMessage(lines);
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}

/**
 * Imports the lines into the application, `BATCH` to a transaction, telling `onOutcome` of each.
 * With `reserveUpTo` (the largest kept id: `largestAuthyId`), users created through the API while
 * the import runs never take a kept id; without it, only those created after each batch.
 * A dry run does all of it and rolls each batch back. With `inWorker`, lines are read and sealed
 * in a worker thread, a batch ahead of the database (on two cores, about twice as fast).
 */
export async function importUsers(
  d: ImportDeps,
  app: Application,
  lines: AsyncIterable<string> | Iterable<string>,
  opts: { dryRun?: boolean; reserveUpTo?: number; inWorker?: boolean; onOutcome?: (o: ImportOutcome) => void } = {},
): Promise<ImportSummary> {
  if (opts.reserveUpTo && !opts.dryRun) await reserveUserIds(d.db, d.dialect, opts.reserveUpTo);
  const summary: ImportSummary = { lines: 0, created: 0, existing: 0, failed: 0 };
  const preparer = startPreparer({ key: d.key, contacts: d.contacts, appId: app.id, issuer: app.name }, opts.inWorker === true);
  const ahead: Promise<Prepared[]>[] = [];
  const prepareAhead = (batch: { line: number; text: string }[]) => {
    const p = preparer.prepare(batch);
    p.catch(() => {}); // awaited in its turn; until then a failure is not an unhandled one
    ahead.push(p);
  };
  const importNext = async () => {
    for (const o of await importBatch(d, app, await ahead.shift()!, opts.dryRun === true)) {
      summary[o.status]++;
      opts.onOutcome?.(o);
    }
  };
  try {
    let batch: { line: number; text: string }[] = [];
    for await (const text of lines) {
      const line = ++summary.lines;
      if (!text.trim()) {
        summary.lines--; // blank lines are not rows
        continue;
      }
      batch.push({ line, text });
      if (batch.length < BATCH) continue;
      prepareAhead(batch);
      batch = [];
      if (ahead.length > 1) await importNext();
    }
    if (batch.length > 0) prepareAhead(batch);
    while (ahead.length > 0) await importNext();
  } finally {
    await Promise.allSettled(ahead);
    await preparer.close();
  }
  return summary;
}

async function importBatch(d: ImportDeps, app: Application, prepared: Prepared[], dryRun: boolean): Promise<ImportOutcome[]> {
  const rows = prepared.filter((p): p is PreparedRow => !('status' in p));
  const kept = rows.flatMap((r) => (r.authyId === undefined ? [] : [r.authyId]));
  if (kept.length > 0 && !dryRun) await reserveUserIds(d.db, d.dialect, Math.max(...kept));
  const outcomes = new Map<number, ImportOutcome>(prepared.flatMap((p) => ('status' in p ? [[p.line, p] as const] : [])));
  try {
    await d.db.transaction().execute(async (trx) => {
      const now = Date.now();
      const written = await insertNewRows(trx, d, app, rows, now);
      // What one statement left out (a phone or an id already taken, here or earlier in the
      // batch) is decided line by line, as it would have been alone.
      let created = 0;
      for (const r of rows) {
        const id = written.get(r);
        const o: ImportOutcome = id !== undefined ? { line: r.line, status: 'created', authy_id: id } : await importRow(trx, d.key, d.contacts, app, r, now);
        if (o.status === 'created') created++;
        outcomes.set(r.line, o);
      }
      if (created > 0) await addUsage(trx, app.id, monthOf(now), 'users', created);
      if (dryRun) throw DRY_RUN;
    });
  } catch (e) {
    if (e !== DRY_RUN) throw e;
  }
  return prepared.map((p) => outcomes.get(p.line)!);
}

/**
 * The batch's users in one statement, each with its id (kept, or allocated now so its seed can be
 * sealed with it), and their authenticators in a second; answers the id of each row written. Of
 * rows with the same id and phone, the first is written.
 */
async function insertNewRows(trx: Kysely<DB>, d: ImportDeps, app: Application, rows: PreparedRow[], now: number): Promise<Map<PreparedRow, number>> {
  const fresh = await allocateUserIds(trx, d.dialect, rows.filter((r) => r.authyId === undefined).length);
  let next = 0;
  const planned = rows.map((r) => {
    if (r.authyId !== undefined) return { r, id: r.authyId, seedSealed: r.seedSealed!, authenticator: r.authenticator };
    const id = fresh[next++];
    const authenticator = r.secret && sealKeptAuthenticator(d.key, { userId: id, appId: app.id, issuer: app.name, secret: r.secret, label: r.user.email, now });
    return { r, id, seedSealed: sealTotpSeed(d.key, id, newSecret()), authenticator };
  });
  const inserted = await insertImportedUsers(
    trx,
    planned.map((p) => ({ id: p.id, app_id: app.id, country_code: p.r.user.countryCode, ...p.r.contact, confirmed: 0, created_at: now, totp_seed_sealed: p.seedSealed })),
  );
  const unclaimed = new Set(inserted.map((w) => `${w.id} ${w.phone_index}`));
  const written = new Map<PreparedRow, number>();
  for (const p of planned) if (unclaimed.delete(`${p.id} ${p.r.contact.phone_index}`)) written.set(p.r, p.id);
  // The apps already hold the secrets: there is no QR code to show.
  await storeAuthenticators(trx, planned.flatMap((p) => (written.has(p.r) && p.authenticator ? [p.authenticator] : [])));
  return written;
}

async function importRow(trx: Kysely<DB>, key: MasterKey, contacts: Contacts, app: Application, r: ImportRow, now: number): Promise<ImportOutcome> {
  const contact = contactColumns(contacts, app.id, r.user.e164, r.user.email);
  const values = { app_id: app.id, country_code: r.user.countryCode, ...contact, confirmed: 0, created_at: now };
  // A kept id is known before the insert, so its seed (sealed with the id) goes in with the row.
  const id = await insertImportedUser(trx, r.authyId === undefined ? values : { id: r.authyId, ...values, totp_seed_sealed: sealTotpSeed(key, r.authyId, newSecret()) });
  if (id !== undefined) {
    if (r.authyId === undefined) await setUserSeed(trx, id, sealTotpSeed(key, id, newSecret()));
    // The app already holds the secret: there is no QR code to show.
    if (r.secret) await storeAuthenticators(trx, [sealKeptAuthenticator(key, { userId: id, appId: app.id, issuer: app.name, secret: r.secret, label: r.user.email, now })]);
    return { line: r.line, status: 'created', authy_id: id };
  }
  const samePhoneId = await findUserIdByPhone(trx, app.id, contact.phone_index);
  if (samePhoneId !== undefined && (r.authyId === undefined || r.authyId === samePhoneId)) return { line: r.line, status: 'existing', authy_id: samePhoneId };
  if (samePhoneId !== undefined) return { line: r.line, status: 'failed', reason: `this phone is already user ${samePhoneId} of the application` };
  return { line: r.line, status: 'failed', reason: `authy_id ${r.authyId} is another user's (of this or another application); leave authy_id out to give this one a new id` };
}
