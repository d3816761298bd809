// One Kysely instance per process, over better-sqlite3 (embedded default) or pg.
import { Worker } from 'node:worker_threads';
import { dirname } from 'node:path';
import { privateDir, privateFile, tighten } from './private-files.ts';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { DB } from './schema.ts';
import { APPLICATIONS_CHANNEL, migrationProvider } from './migrations.ts';
import { ChangeListener } from './change-listener.ts';
import { runDirectlyOn, type WriteResult } from './prepared.ts';
import { batchPerTurnOn, perTurnLoader } from './turn-batch.ts';
import { ReadTurn, afterMicrotasks } from './read-turn.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<DB>;
  dialect: Dialect;
  /**
   * SQLite's background checkpointer so far: frames copied back from the WAL, and RESTART
   * checkpoints (the fallback that makes writers wait).
   */
  checkpoints?(): { frames: number; restarts: number };
  /** The raw client rate-limiter-flexible drives (its own SQLite connection, or the pg pool). */
  limiterClient: { storeType: 'better-sqlite3'; client: SQLite.Database } | { storeType: 'postgres'; client: pg.Pool };
  /**
   * A number that changes whenever anyone writes to `applications` (migration 0006); undefined
   * when that cannot be known right now, and then nothing may be served from a cache.
   */
  applicationsVersion(): number | undefined;
  /**
   * SQLite: resolves once this turn's requests have all arrived; the reads they make from then
   * on share one snapshot (store/read-turn.ts). Absent where reads cost no lock (PostgreSQL).
   */
  readTurn?(): Promise<void>;
  close(): Promise<void>;
}

// int8 (COUNT, bigint columns) arrives as text from pg by default; our values fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

export function openStore(databaseUrl: string): Store {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    // A dropped connection must not crash the process; the next query gets a fresh one.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }) });
    batchPerTurnOn(db);
    const applications = new ChangeListener(databaseUrl, APPLICATIONS_CHANNEL);
    return {
      db,
      dialect: 'postgres',
      limiterClient: { storeType: 'postgres', client: pool },
      applicationsVersion: () => applications.current(),
      close: async () => {
        await applications.close();
        await db.destroy();
      },
    };
  }
  const file = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  if (file !== ':memory:') {
    // SQLite creates the -wal and -shm files with the database file's mode: 0600 from the start.
    // Ones left by an earlier run keep theirs, hence the tightening.
    privateDir(dirname(file), false);
    privateFile(file);
    for (const suffix of ['-wal', '-shm']) tighten(file + suffix, 0o600);
  }
  const sqlite = connectSqlite(file);
  const statements = withStatementCache(sqlite);
  const turn = new ReadTurn(sqlite);
  // Every Kysely query or transaction ends the turn's read snapshot before it runs.
  const kyselyDatabase = { prepare: (sql: string) => (turn.end(), statements.prepare(sql)), close: () => statements.close() };
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: kyselyDatabase }) });
  const writes = new TurnWrites(sqlite, statements, turn);
  const reads = withRowsFromArrays(sqlite);
  runDirectlyOn(db, {
    statement: (sql) => (turn.join(), reads.prepare(sql)),
    write: (sql, params, viaKysely) => writes.add(sql, params, viaKysely),
    inTransaction: () => turn.othersTransaction(),
  });
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(file);
  // Its own connection: Kysely's transactions span awaits, and a counter written on the same
  // connection meanwhile would join (and roll back with) someone else's transaction.
  let limiter: SQLite.Database | undefined;
  let versionOf: SQLite.Statement | undefined;
  return {
    db,
    dialect: 'sqlite',
    get limiterClient() {
      limiter ??= connectSqlite(file);
      return { storeType: 'better-sqlite3' as const, client: limiter };
    },
    checkpoints: () => ({ frames: checkpointer?.frames ?? 0, restarts: checkpointer?.restarts ?? 0 }),
    // A read of one tiny row on the request's own connection: a few µs, against ~15 for the
    // application row (bench). Before migration 0006 there is no such table: no caching.
    applicationsVersion: () => {
      try {
        versionOf ??= sqlite.prepare("SELECT version FROM table_versions WHERE name = 'applications'").pluck();
        turn.join();
        return versionOf.get() as number | undefined;
      } catch {
        return undefined;
      }
    },
    readTurn: () => turn.wait(),
    close: async () => {
      turn.end();
      await checkpointer?.stop();
      limiter?.close();
      await db.destroy();
    },
  };
}

/**
 * Checkpoints run on a worker thread with its own connection (and connections of this process
 * never checkpoint on commit), so a request never pays for copying the WAL back. Past
 * `rewindFrames` (4 MiB of 4 KiB pages) it catches up so that the WAL is rewound, and past twice that it
 * falls back to a RESTART checkpoint (see checkpoint-worker.mjs).
 */
function startCheckpointer(file: string, intervalMs = 500, rewindFrames = 1024) {
  const worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), { workerData: { file, intervalMs, rewindFrames }, execArgv: [] });
  const state = {
    frames: 0,
    restarts: 0,
    stop: async () => {
      worker.ref(); // keep the process alive until the worker has closed its connection
      worker.postMessage('stop');
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
  worker.on('message', (m: { checkpointed?: number; restarted?: boolean }) => {
    if (typeof m.checkpointed === 'number' && m.checkpointed > 0) state.frames += m.checkpointed;
    if (m.restarted) state.restarts++;
  });
  worker.on('error', () => {}); // a checkpoint that fails is retried on the next tick
  worker.unref();
  return state;
}

function connectSqlite(file: string): SQLite.Database {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a crash of the process (kill -9); see README.
  sqlite.pragma(`synchronous = ${process.env.OPENFACTOR_SQLITE_SYNCHRONOUS ?? 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // The background checkpointer does this work (see startCheckpointer).
  sqlite.pragma('wal_autocheckpoint = 0');
  // Lookups by id read a few pages each; from a mapping and a 64 MiB cache they cost no syscall.
  sqlite.pragma(`mmap_size = ${Number(process.env.OPENFACTOR_SQLITE_MMAP_BYTES ?? 1 << 30)}`);
  sqlite.pragma('cache_size = -65536');
  return sqlite;
}

/**
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it each time. Named, each
 * connection prepares a statement once and then only binds and executes it (bench: PostgreSQL's
 * CPU, not OpenFactor's, limited verify). Our SQL texts are a small fixed set (no IN lists).
 */
function withNamedStatements(pool: pg.Pool): pg.Pool {
  const named = new WeakSet<pg.PoolClient>();
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let n = names.get(text);
    if (!n) {
      n = `of${names.size}`;
      names.set(text, n);
    }
    return n;
  };
  const connect = async () => {
    const client = await pool.connect();
    if (!named.has(client)) {
      named.add(client);
      // Only Kysely's promise-style `query(text, values)`; the pool itself (rate-limiter-flexible)
      // calls with a callback, left as it is.
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) =>
        args.length === 2 && typeof args[0] === 'string' && Array.isArray(args[1])
          ? query({ name: nameOf(args[0]), text: args[0], values: args[1] })
          : query(...args);
    }
    return client;
  };
  return new Proxy(pool, { get: (target, prop, receiver) => (prop === 'connect' ? connect : Reflect.get(target, prop, receiver)) });
}

interface PendingWrite {
  sql: string;
  params: unknown[];
  viaKysely: () => Promise<WriteResult>;
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

/**
 * Group commit for hot-path writes (verify's one UPDATE): the writes requested during one turn
 * of the event loop are committed together right after it, in one transaction. A commit costs
 * about as much as the write itself (WAL frame, locks); sharing it halved the cost per write
 * (bench). Each caller still hears of its write only once it is committed.
 */
class TurnWrites {
  // Writes asked for by the requests of a read turn are committed as soon as all of them have run.
  private readonly loader = perTurnLoader<PendingWrite, WriteResult>(
    (batch) => this.commit(batch),
    (run) => (this.turn.active ? afterMicrotasks(run) : setImmediate(run)),
  );

  // Made once: better-sqlite3 builds four wrappers and their properties for each transaction().
  private readonly runAll: (batch: readonly PendingWrite[]) => WriteResult[];

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly statements: { prepare(sql: string): SQLite.Statement },
    private readonly turn: ReadTurn,
  ) {
    this.runAll = sqlite.transaction((batch: readonly PendingWrite[]) => batch.map((w) => this.run(w)));
  }

  add(sql: string, params: unknown[], viaKysely: () => Promise<WriteResult>): Promise<WriteResult> {
    return this.loader.load({ sql, params, viaKysely });
  }

  private async commit(batch: readonly PendingWrite[]): Promise<(WriteResult | Error)[]> {
    this.turn.end();
    // A Kysely transaction is open across awaits: wait for it through Kysely's own queue.
    if (this.sqlite.inTransaction) return Promise.all(batch.map((w) => w.viaKysely().catch(asError)));
    if (batch.length > 1) {
      try {
        return this.runAll(batch);
      } catch {
        // One bad write must not fail the others: rolled back, each is tried on its own.
      }
    }
    return batch.map((w) => {
      try {
        return this.run(w);
      } catch (err) {
        return asError(err);
      }
    });
  }

  private run(w: PendingWrite): WriteResult {
    const stmt = this.statements.prepare(w.sql);
    // A write with RETURNING is a reader in better-sqlite3: its rows are the changed ones.
    if (stmt.reader) {
      const rows = stmt.all(w.params);
      return { changes: rows.length, rows };
    }
    return { changes: stmt.run(w.params).changes, rows: [] };
  }
}

/**
 * Kysely prepares every query anew; preparing cost more than running an indexed lookup (bench).
 * Statements are reusable in better-sqlite3 as long as nobody iterates them, and we never stream.
 */
function withStatementCache(sqlite: SQLite.Database) {
  return { prepare: cachedBySql((sql) => sqlite.prepare(sql)), close: () => sqlite.close() };
}

/** One prepared thing per SQL text; dynamic SQL (IN lists) must not grow the cache forever. */
function cachedBySql<T>(make: (sql: string) => T): (sql: string) => T {
  const cache = new Map<string, T>();
  return (sql) => {
    let made = cache.get(sql);
    if (made === undefined) {
      if (cache.size >= 1000) cache.clear();
      made = make(sql);
      cache.set(sql, made);
    }
    return made;
  };
}

type DirectRead = { reader: boolean; all(params: unknown[]): unknown[]; get(params: unknown[]): unknown };

/**
 * Direct reads, with their rows built by a per-statement object literal from better-sqlite3's
 * raw arrays. better-sqlite3 builds a row object one property at a time through V8's API: for
 * verify's 18 columns that cost more than the B-tree lookup (10.7 µs a read against 7.5, bench).
 * Their own statements: Kysely shares the others and expects objects from them.
 */
function withRowsFromArrays(sqlite: SQLite.Database) {
  return {
    prepare: cachedBySql((sql): DirectRead => {
      const stmt = sqlite.prepare(sql);
      if (!stmt.reader) return stmt;
      stmt.raw(true);
      // Names from our own compiled SQL, quoted as JSON; a repeated name keeps its last value, as in an object.
      const fields = stmt.columns().map((c, i) => `${JSON.stringify(c.name)}: v[${i}]`);
      const row = new Function('v', `return { ${fields.join(', ')} };`) as (values: unknown[]) => unknown;
      return {
        reader: true,
        all: (params) => (stmt.all(params) as unknown[][]).map((values) => row(values)),
        get: (params) => {
          const values = stmt.get(params) as unknown[] | undefined;
          return values === undefined ? undefined : row(values);
        },
      };
    }),
  };
}

export async function migrate(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
