// Fresh OpenFactor databases for the bench: schema and application through the project's own
// code, then the users bulk-inserted (the API would take far too long), each with a sealed TOTP
// seed the load generator can recompute (benchSeed) to send correct tokens.
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrate, openStore } from '../src/store/db.ts';
import { Applications } from '../src/features/applications/service.ts';
import { masterKeyFrom, type MasterKey } from '../src/core/crypto.ts';
import { sealTotpSeed } from '../src/features/users/service.ts';
import { contactColumns } from '../src/features/users/queries.ts';
import { openContacts, type Contacts } from '../src/store/contacts.ts';
import { nationalNumber } from './factors.ts';

export interface Seeded {
  appId: number;
  apiKey: string;
  /** User ids are contiguous: lo..hi. */
  ids: { lo: number; hi: number };
}

/** The TOTP seed of bench user `id`: derived, so the load generator need not hold a million. */
export const benchSeed = (id: number) => createHmac('sha1', 'openfactor-bench').update(String(id)).digest();

/**
 * The bench's own link to a database it seeds: a server's five-second statement timeout would
 * stop a batch or a VACUUM of ten million rows, which is the bench's work, not a request's.
 */
export const openBenchStore = (url: string) => openStore(url, { pg: { queryTimeoutMs: 1_800_000, idleInTransactionTimeoutMs: 1_800_000 } });

/** The schema, the application, and the contacts' index key the server will use. */
async function createApp(url: string, mk: MasterKey): Promise<{ id: number; apiKey: string; contacts: Contacts }> {
  const store = openBenchStore(url);
  try {
    await migrate(store);
    const contacts = await openContacts(store.db, [mk], store.dialect);
    return { ...(await new Applications(store.db, mk).create('Bench')), contacts };
  } finally {
    await store.close();
  }
}

/**
 * A user row: +1 415 2000000.. (bench/factors.ts) are distinct, plausible NANP numbers, sealed with their blind index
 * as the server stores them (with the email's search index); every user has verified once.
 */
const row = (mk: MasterKey, c: Contacts, appId: number, id: number, i: number, now: number) => {
  const { phone_index, contact_sealed, email_index } = contactColumns(c, appId, `+1${nationalNumber(i)}`, `user${i}@bench.example`);
  return [id, appId, 1, phone_index, contact_sealed, email_index, 1, now, sealTotpSeed(mk, id, benchSeed(id))] as const;
};

/** `dataDir` as the server will see it: OPENFACTOR_DATA_DIR, default database file name. */
export async function seedSqlite(dataDir: string, masterKey: Buffer, users: number): Promise<Seeded> {
  const mk = masterKeyFrom(masterKey);
  const file = join(dataDir, 'openfactor.db');
  const app = await createApp(`sqlite:${file}`, mk);
  const db = new Database(file);
  try {
    db.pragma('synchronous = OFF'); // a throw-away database: no need to wait for the disk
    const insert = db.prepare(
      'INSERT INTO users (id, app_id, country_code, phone_index, contact_sealed, email_index, confirmed, created_at, totp_seed_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    db.transaction(() => {
      for (let i = 0; i < users; i++) insert.run(...row(mk, app.contacts, app.id, i + 1, i, now));
    })();
    return { appId: app.id, apiKey: app.apiKey, ids: { lo: 1, hi: users } };
  } finally {
    db.close();
  }
}

/** A new database `name` on the PostgreSQL server of `adminUrl`, seeded like the SQLite one. */
export async function seedPostgres(adminUrl: string, name: string, masterKey: Buffer, users: number): Promise<Seeded & { databaseUrl: string }> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const mk = masterKeyFrom(masterKey);
  const app = await createApp(url.toString(), mk);
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const now = Date.now();
    const BATCH = 10_000;
    for (let start = 0; start < users; start += BATCH) {
      const cols: unknown[][] = [[], [], [], [], [], [], [], [], []];
      for (let i = start; i < Math.min(users, start + BATCH); i++) for (const [c, v] of row(mk, app.contacts, app.id, i + 1, i, now).entries()) cols[c].push(v);
      await client.query(
        `INSERT INTO users (id, app_id, country_code, phone_index, contact_sealed, email_index, confirmed, created_at, totp_seed_sealed)
         SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::bigint[], $9::text[])`,
        cols,
      );
    }
    // Explicit ids leave the sequence behind; users/new must not collide with them later.
    await client.query(`SELECT setval(pg_get_serial_sequence('users', 'id'), $1)`, [users]);
    await client.query('VACUUM (ANALYZE) users');
    // The seeding's and the vacuum's dirty pages written out now, not by a checkpoint that would
    // come in the middle of the first scenario.
    await client.query('CHECKPOINT');
    return { appId: app.id, apiKey: app.apiKey, ids: { lo: 1, hi: users }, databaseUrl: url.toString() };
  } finally {
    await client.end();
  }
}

export async function dropPostgres(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
