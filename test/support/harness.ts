// Test harness: a fresh real database per test file (SQLite file or PostgreSQL database),
// the real server built on it, and helpers to call it in process or over a socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.ts';
import { migrate, openStore, type Store } from '../../src/store/db.ts';
import { buildServer, type OpenFactor } from '../../src/app.ts';

const SEND_GUARD_WINDOW_MS = 10 * 60_000;

export const dialect = (process.env.OPENFACTOR_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
/** An existing database used only to create and drop one database per test file. */
export const pgAdminUrl = process.env.OPENFACTOR_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  dataDir: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'openfactor-test-'));
  if (dialect === 'sqlite') {
    return { url: `sqlite:${join(dataDir, 'test.db')}`, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `of_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dataDir,
    drop: async () => {
      const c = new pg.Client({ connectionString: pgAdminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function testEnv(db: TestDatabase): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OPENFACTOR_DATA_DIR: db.dataDir,
    DATABASE_URL: db.url,
    OPENFACTOR_MASTER_KEY: process.env.OPENFACTOR_MASTER_KEY ?? randomBytes(32).toString('hex'),
    OPENFACTOR_VALIDATE_RESPONSES: '1',
    // The fake customers and push services of the tests listen on loopback, as an operator's own
    // services might; test/webhooks/destinations.test.ts checks the default, which refuses it.
    OPENFACTOR_ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8,::1/128',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  };
}

export interface TestApp {
  of: OpenFactor;
  store: Store;
  config: Config;
  db: TestDatabase;
  /** The API key of an application created for this test. */
  apiKey: string;
  appId: number;
  newApplication(name?: string): Promise<{ id: number; apiKey: string }>;
  /** Listens on a loopback port (`port`, or any free one) and returns the base URL. */
  listen(port?: number): Promise<string>;
  close(): Promise<void>;
}

/** `env` adds to or overrides the test environment (providers, public URL, …). */
/**
 * A clock for the send guard, which counts in 10-minute windows: it starts a second into a fresh
 * window, so no test's sends straddle a turn by chance (a test file runs well under ten minutes).
 * Sends made before a turn would become "the hour before", where 30 unverified codes to one
 * prefix close it (low conversion).
 */
export function freshWindowClock(): () => number {
  const shift = SEND_GUARD_WINDOW_MS - (Date.now() % SEND_GUARD_WINDOW_MS) + 1000;
  return () => Date.now() + shift;
}

export async function startApp(env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({ ...testEnv(db), ...env });
  const store = openStore(config.databaseUrl, { pg: config.pg });
  await migrate(store);
  const of = await buildServer(config, store, { sendGuardClock: freshWindowClock() });
  const first = await of.services.applications.create('Test Bank');
  return {
    of,
    store,
    config,
    db,
    apiKey: first.apiKey,
    appId: first.id,
    newApplication: (name = 'Other App') => of.services.applications.create(name),
    listen: async (port = 0) => {
      const address = await of.server.listen({ port, host: '127.0.0.1' });
      return address;
    },
    close: async () => {
      await of.close();
      await store.close();
      await db.drop();
    },
  };
}

/** Valid numbers (libphonenumber "max" metadata accepts them) for tests. */
export const PHONES = {
  us: ['415-555-0142', '415-555-0143', '212-555-0199', '202-555-0111', '312-555-0120', '646-555-0133'],
  pt: '912345678',
  uk: '07400 123456',
};
