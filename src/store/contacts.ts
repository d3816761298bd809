// Phone numbers and email addresses at rest (issue 15): sealed like every secret, plus a keyed
// blind index (HMAC) where a lookup needs equality (user by phone, device registration by phone,
// per-number rate limits). A stolen database file or dump shows neither numbers nor addresses.
//
// The index key: derived once from the master key in use when it is first needed, then kept in
// `meta`, sealed like every secret. `keys reseal` seals it again under the new master key, so the
// indexes stay valid through a rotation and after the old key is dropped; nothing is recomputed.
// (Whoever held the old master key and an old dump holds the index key too: rotation re-seals,
// it does not re-key the indexes.)
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Dialect } from './db.ts';
import { blindIndex, deriveKey, isSealed, SEALED_LIKE, seal, unseal, type MasterKey } from '../core/crypto.ts';
import type { DB } from './schema.ts';

export const INDEX_KEY_CONTEXT = 'meta:contact_index_key';
/** A user's number and address, sealed as one value (migration 0021): status shows both, one opening. */
export const userContactContext = (appId: number, phoneIndex: string) => `users:${appId}:${phoneIndex}:contact`;
export const extraEmailContext = (userId: number, emailIndex: string) => `user_emails:${userId}:${emailIndex}`;
export const destinationContext = (sid: string) => `outbox:${sid}:destination`;
export const verificationPhoneContext = (uuid: string) => `phone_verifications:${uuid}:phone`;
/** An authenticator's label: the user's email address unless the application named it. */
export const qrLabelContext = (userId: number) => `authenticators:${userId}:label`;
export const registrationPhoneContext = (id: string) => `phone_registrations:${id}:phone`;
export const phoneChangeContext = (id: string) => `phone_changes:${id}:phone`;
export const recoveryPhoneContext = (id: string) => `account_recoveries:${id}:phone`;
/** The new number of a phone change without any device. */
export const recoveryNewPhoneContext = (id: string) => `account_recoveries:${id}:new_phone`;

export class Contacts {
  constructor(
    readonly keys: MasterKey[],
    /** Public for the worker thread that prepares an import's rows (users/import-worker.ts). */
    readonly indexKey: Buffer,
  ) {}

  phoneIndex(e164: string): string {
    return blindIndex(this.indexKey, 'phone', e164);
  }

  emailIndex(email: string): string {
    return blindIndex(this.indexKey, 'email', email);
  }

  /**
   * A user's address as the admin API finds it (0029): trimmed and in lower case, so an operator
   * finds `Ana@Example.com` by typing `ana@example.com`. (`user_emails` keeps `emailIndex` of the
   * address as given.)
   */
  emailSearchIndex(email: string): string {
    return this.emailIndex(email.trim().toLowerCase());
  }

  /**
   * A recovery code's stored form: keyed (a dump does not let anyone try the 10^8 codes), and by
   * the index key, which a master-key rotation keeps, so codes handed out stay valid.
   */
  recoveryCodeIndex(userId: number, code: string): string {
    return blindIndex(this.indexKey, 'recovery-code', `${userId}:${code}`);
  }

  /**
   * A number's block (all but its last four digits) as the pumping defence counts a verified code
   * under it: keyed, so a sent code can keep it without holding ten-thousandths of a number in the
   * clear, and a verify counts the conversion without opening the number.
   */
  prefixIndex(prefix: string): string {
    // Few prefixes carry most traffic: each one's HMAC is worked out once, not per code.
    let index = this.prefixes.get(prefix);
    if (index === undefined) {
      if (this.prefixes.size >= 10_000) this.prefixes.clear();
      this.prefixes.set(prefix, (index = blindIndex(this.indexKey, 'prefix', prefix)));
    }
    return index;
  }
  private readonly prefixes = new Map<string, string>();

  seal(value: string, context: string): string {
    return seal(this.keys[0], value, context);
  }

  /**
   * Status polls (users, approval requests) open the same values again and again: an opened value
   * is kept by its sealed form (unique: a fresh IV each time it is sealed) with its context, which
   * must match, so a blob copied to another row still does not open there.
   */
  private readonly opened = new Map<string, { context: string; plain: string }>();

  open(blob: string, context: string): string {
    const hit = this.opened.get(blob);
    if (hit !== undefined && hit.context === context) return hit.plain;
    const plain = unseal(this.keys, blob, context).toString('utf8');
    if (this.opened.size >= 10_000) this.opened.clear();
    this.opened.set(blob, { context, plain });
    return plain;
  }
}

/** A user's contact as sealed: the number, a space (never in E.164), then the address. */
export const joinContact = (e164: string, email: string) => `${e164} ${email}`;
export function splitContact(plain: string): { e164: string; email: string } {
  const space = plain.indexOf(' ');
  return { e164: plain.slice(0, space), email: plain.slice(space + 1) };
}

/** The index key, created by the first process that needs it; stored rows converted (idempotent). */
export async function openContacts(db: Kysely<DB>, keys: MasterKey[], dialect: Dialect): Promise<Contacts> {
  const read = () => db.selectFrom('meta').select('value').where('key', '=', 'contact_index_key').executeTakeFirst();
  let row = await read();
  if (!row) {
    const fresh = deriveKey(keys[0], 'contact-index');
    await db
      .insertInto('meta')
      .values({ key: 'contact_index_key', value: seal(keys[0], fresh, INDEX_KEY_CONTEXT) })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    row = await read();
  }
  const contacts = new Contacts(keys, unseal(keys, row!.value, INDEX_KEY_CONTEXT));
  if ((await sealStoredContacts(db, contacts)) > 0 && dialect === 'sqlite') {
    // The plain values live on in freed pages and in the WAL's old page images: rewrite the file.
    await sql`VACUUM`.execute(db);
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
  }
  return contacts;
}

const BATCH = 500;

/** A value in neither sealed format: plaintext from before sealing began. */
const notSealed = (eb: ExpressionBuilder<any, any>, column: string) => eb.and(SEALED_LIKE.map((like) => eb(column, 'not like', like)));

/**
 * Rows written before migration 0020 hold numbers and addresses in plain text (in the renamed
 * columns): seal them, and replace the plain values by their indexes. Runs at every start; once
 * done, each table costs one read of an empty result.
 */
export async function sealStoredContacts(db: Kysely<DB>, c: Contacts): Promise<number> {
  const done = await db.selectFrom('meta').select('value').where('key', '=', 'contacts_sealed').executeTakeFirst();
  if (done) return 0;
  let converted = 0;
  // Until every row is converted, a plain value is one not sealed yet: for users, migration 0021
  // left the number and address joined in `contact_sealed`, the number still in `phone_index`.
  for (;;) {
    const rows = await db.selectFrom('users').select(['id', 'app_id', 'contact_sealed']).where((eb) => notSealed(eb, 'contact_sealed')).limit(BATCH).execute();
    converted += rows.length;
    for (const r of rows) {
      const { e164 } = splitContact(r.contact_sealed);
      const index = c.phoneIndex(e164);
      await db
        .updateTable('users')
        .set({ phone_index: index, contact_sealed: c.seal(r.contact_sealed, userContactContext(r.app_id, index)) })
        .where('id', '=', r.id)
        .where('contact_sealed', '=', r.contact_sealed)
        .execute();
    }
    if (rows.length < BATCH) break;
  }
  for (;;) {
    const rows = await db.selectFrom('user_emails').select(['user_id', 'email_index']).where('email_sealed', '=', '').limit(BATCH).execute();
    converted += rows.length;
    for (const r of rows) {
      const index = c.emailIndex(r.email_index);
      await db
        .updateTable('user_emails')
        .set({ email_index: index, email_sealed: c.seal(r.email_index, extraEmailContext(r.user_id, index)) })
        .where('user_id', '=', r.user_id)
        .where('email_index', '=', r.email_index)
        .execute();
    }
    if (rows.length < BATCH) break;
  }
  for (const table of ['phone_registrations', 'phone_verifications'] as const) {
    for (;;) {
      const rows = await (db as Kysely<any>).selectFrom(table).select(['id', 'phone_index', ...(table === 'phone_verifications' ? ['uuid'] : [])]).where('phone_sealed', '=', '').limit(BATCH).execute();
      converted += rows.length;
      for (const r of rows) {
        const context = table === 'phone_verifications' ? verificationPhoneContext(r.uuid) : registrationPhoneContext(r.id);
        await (db as Kysely<any>)
          .updateTable(table)
          .set({ phone_index: c.phoneIndex(r.phone_index), phone_sealed: c.seal(r.phone_index, context) })
          .where('id', '=', r.id)
          .where('phone_sealed', '=', '')
          .execute();
      }
      if (rows.length < BATCH) break;
    }
  }
  for (const r of await db.selectFrom('authenticators').select(['user_id', 'label']).where((eb) => notSealed(eb, 'label')).execute()) {
    converted++;
    await db.updateTable('authenticators').set({ label: c.seal(r.label, qrLabelContext(r.user_id)) }).where('user_id', '=', r.user_id).where('label', '=', r.label).execute();
  }
  // Plain numbers start with '+'; indexes are base64url.
  for (const r of await db.selectFrom('device_keys').select(['id', 'phone_index']).where('phone_index', 'like', '+%').execute()) {
    converted++;
    await db.updateTable('device_keys').set({ phone_index: c.phoneIndex(r.phone_index!) }).where('id', '=', r.id).execute();
  }
  for (;;) {
    const rows = await db.selectFrom('outbox').select(['id', 'sid', 'destination']).where((eb) => notSealed(eb, 'destination')).limit(BATCH).execute();
    converted += rows.length;
    for (const r of rows) {
      await db.updateTable('outbox').set({ destination: c.seal(r.destination, destinationContext(r.sid)) }).where('id', '=', r.id).where('destination', '=', r.destination).execute();
    }
    if (rows.length < BATCH) break;
  }
  // Per-number send counters (`<kind>:<app>:+<number>`, `phone-registration:+<number>`): the same
  // counts under the number's index.
  const counters: { key: string; points: number; expire: number | null }[] = await (db as Kysely<any>).selectFrom('rate_limits').select(['key', 'points', 'expire']).where('key', 'like', '%:+%').execute();
  converted += counters.length;
  for (const r of counters) {
    const plus = r.key.lastIndexOf(':+');
    const key = r.key.slice(0, plus + 1) + c.phoneIndex(r.key.slice(plus + 1));
    await (db as Kysely<any>).transaction().execute(async (trx) => {
      await trx.deleteFrom('rate_limits').where('key', '=', r.key).execute();
      await trx.insertInto('rate_limits').values({ key, points: r.points, expire: r.expire }).onConflict((oc) => oc.column('key').doNothing()).execute();
    });
  }
  await db.insertInto('meta').values({ key: 'contacts_sealed', value: String(Date.now()) }).onConflict((oc) => oc.column('key').doNothing()).execute();
  return converted;
}

/**
 * Users written before migration 0029 (or by an older node) have no email index: fill it in
 * batches, in the background, so a large database starts at once; until a row is filled the admin
 * API does not find it by address (by id and phone it does). Idempotent, any node may run it.
 */
export async function indexUserEmails(db: Kysely<DB>, c: Contacts, stopped: () => boolean): Promise<number> {
  const done = await db.selectFrom('meta').select('value').where('key', '=', 'user_emails_indexed').executeTakeFirst();
  if (done) return 0;
  let filled = 0;
  for (let after = 0; !stopped(); ) {
    const rows = await db.selectFrom('users').select(['id', 'app_id', 'phone_index', 'contact_sealed']).where('id', '>', after).where('email_index', 'is', null).orderBy('id').limit(BATCH).execute();
    // Still plain (sealStoredContacts runs first, so only a row written meanwhile by an old node): next start.
    const sealed = rows.filter((r) => isSealed(r.contact_sealed));
    const indexed = sealed.map((r) => ({ r, email_index: c.emailSearchIndex(splitContact(c.open(r.contact_sealed, userContactContext(r.app_id, r.phone_index))).email) }));
    // One transaction a batch, then the event loop's turn: millions of older users fill in minutes
    // while the server answers (a write each, with SQLite's calls blocking, held it for as long).
    await db.transaction().execute(async (trx) => {
      for (const { r, email_index } of indexed) await trx.updateTable('users').set({ email_index }).where('id', '=', r.id).where('contact_sealed', '=', r.contact_sealed).execute();
    });
    filled += indexed.length;
    await new Promise((resolve) => setImmediate(resolve));
    if (rows.length < BATCH) {
      await db.insertInto('meta').values({ key: 'user_emails_indexed', value: String(Date.now()) }).onConflict((oc) => oc.column('key').doNothing()).execute();
      break;
    }
    after = rows[rows.length - 1].id;
  }
  return filled;
}
