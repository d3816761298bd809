// SQLite-only store tests: a migrated database of their own with one application, made before the
// file's tests and removed after them (nothing on PostgreSQL, where those tests are skipped).
import { before, after } from 'node:test';
import { createTestDatabase, dialect, type TestDatabase } from './harness.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';

export interface SqliteStore {
  db: TestDatabase;
  store: Store;
  appId: number;
}

/** Registers the file's before and after; the fields are set once its tests run. */
export function sqliteStoreWithApp(appName: string): SqliteStore {
  const s = {} as SqliteStore;
  before(async () => {
    if (dialect !== 'sqlite') return;
    s.db = await createTestDatabase();
    s.store = openStore(s.db.url);
    await migrate(s.store);
    s.appId = (await s.store.db.insertInto('applications').values({ name: appName, api_key_hash: 'h', api_key_sealed: '', created_at: 1 }).returning('id').executeTakeFirstOrThrow()).id;
  });
  after(async () => {
    if (dialect !== 'sqlite') return;
    await s.store.close();
    await s.db.drop();
  });
  return s;
}
