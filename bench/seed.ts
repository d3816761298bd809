// A fresh OpenFactor SQLite database: schema and application through the project's own code,
// then the users bulk-inserted with one prepared statement (the API would take far too long).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openStore } from '../src/store/db.ts';
import { Applications } from '../src/features/applications/service.ts';
import { masterKeyFrom } from '../src/core/crypto.ts';

export interface Seeded {
  appId: number;
  apiKey: string;
  /** User ids are contiguous: lo..hi. */
  ids: { lo: number; hi: number };
}

/** `dataDir` as the server will see it: OPENFACTOR_DATA_DIR, default database file name. */
export async function seedSqlite(dataDir: string, masterKey: Buffer, users: number): Promise<Seeded> {
  const store = openStore(`sqlite:${join(dataDir, 'openfactor.db')}`);
  let app: { id: number; apiKey: string };
  try {
    await migrate(store);
    app = await new Applications(store.db, masterKeyFrom(masterKey)).create('Bench');
  } finally {
    await store.close();
  }

  const db = new Database(join(dataDir, 'openfactor.db'));
  try {
    db.pragma('synchronous = OFF'); // a throw-away database: no need to wait for the disk
    const insert = db.prepare('INSERT INTO users (app_id, country_code, phone_e164, email, confirmed, created_at) VALUES (?, 1, ?, ?, ?, ?)');
    const now = Date.now();
    db.transaction(() => {
      // +1 415 2000000.. : distinct, plausible NANP numbers (an exchange may not start with 0 or 1).
      for (let i = 0; i < users; i++) insert.run(app.id, `+1415${2_000_000 + i}`, `user${i}@bench.example`, i % 2, now);
    })();
    const ids = db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM users').get() as { lo: number; hi: number };
    return { appId: app.id, apiKey: app.apiKey, ids };
  } finally {
    db.close();
  }
}
