// One Kysely instance per process, over better-sqlite3 (embedded default) or pg.
import { Worker } from 'node:worker_threads';
import { dirname } from 'node:path';
import { privateDir, privateFile, tighten } from './private-files.ts';
import SQLite from 'better-sqlite3';
import type pg from 'pg';
import { lazy } from '../core/lazy.ts';
import { codeFile } from '../core/package-files.ts';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { DB } from './schema.ts';
import { APPLICATIONS_CHANNEL, LATEST_MIGRATION, migrationProvider } from './migrations.ts';
import { ChangeListener } from './change-listener.ts';
import { SKIPPED, asError, runDirectlyOn, writeResultOf, type BoundStep, type DecidingTransaction, type WriteResult } from './prepared.ts';
import { batchPerTurnOn, perTurnLoader } from './turn-batch.ts';
import { limiterClientOn, sqliteLimiterConnection, type LimiterConnection, type LimiterQueryClient } from './limiter-counts.ts';
import { ReadTurn, afterMicrotasks } from './read-turn.ts';
import { SQLITE_CACHE_MIB, prewarm, type Prewarmed } from './sqlite-cache.ts';
import { PG_TIMEOUT_DEFAULTS, isPostgresUrl, sqliteFileOf, type PgTimeouts } from '../config.ts';
import type { MasterKey } from '../core/crypto.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<DB>;
  dialect: Dialect;
  /**
   * SQLite's background checkpointer so far: frames copied back from the WAL, holds (the turn
   * writes waited for a last copy) and RESTART checkpoints (the fallback that makes writers wait).
   */
  checkpoints?(): { frames: number; restarts: number; holds: number };
  /** The raw client rate-limiter-flexible drives (its own SQLite connection, or the pg pool). */
  limiterClient: { storeType: 'better-sqlite3'; client: LimiterConnection } | { storeType: 'postgres'; client: LimiterQueryClient };
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
  /** Where the store reports what goes wrong underneath (the server's log once it has one). */
  logTo(log: StoreLog): void;
  /** SQLite: the checkpoint thread running now (tests end it to see it replaced). */
  checkpointThread?(): Worker | undefined;
  /** A handle on the same database without statement timeouts, for migrations; close it after. */
  maintenance?(): { db: Kysely<DB>; close(): Promise<void> };
  /** SQLite: every table and index read into the requests' connection (store/sqlite-cache.ts). */
  prewarm?(): Prewarmed;
  close(): Promise<void>;
}

export type StoreLog = { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };

export interface StoreOptions {
  log?: StoreLog;
  /** PostgreSQL only. */
  pg?: Partial<PgTimeouts>;
  /** SQLite: restarts of a dead checkpoint thread before the connections checkpoint themselves. */
  checkpointRestarts?: number;
  /** SQLite: WAL sizes (frames of 4 KiB) at which the checkpoint thread acts; tests make them small. */
  walSizes?: Partial<WalSizes>;
  /** SQLite: the page cache of the requests' connection, MiB (store/sqlite-cache.ts). */
  sqliteCacheMiB?: number;
}

/**
 * When the checkpoint thread acts (checkpoint-worker.mjs). It looks every `intervalMs`, and
 * every 100 ms while behind. Past `rewindFrames` (4 MiB), passive
 * rounds back to back for up to `catchUpMs` a look; past `holdFrames` (64 MiB), this process's
 * turn writes wait a moment for a last round; past `restartFrames` (128 MiB), a RESTART.
 */
export interface WalSizes {
  intervalMs: number;
  rewindFrames: number;
  holdFrames: number;
  restartFrames: number;
  catchUpMs: number;
}
const WAL_SIZES: WalSizes = { intervalMs: 500, rewindFrames: 1024, holdFrames: 16_384, restartFrames: 32_768, catchUpMs: 100 };

/** Until the server's log is attached: JSON lines on stderr (stdout carries the CLI's output). */
const stderrLog: StoreLog = {
  warn: (obj, msg) => process.stderr.write(JSON.stringify({ level: 40, time: Date.now(), ...obj, msg }) + '\n'),
  error: (obj, msg) => process.stderr.write(JSON.stringify({ level: 50, time: Date.now(), ...obj, msg }) + '\n'),
};

/**
 * Errors that mean the database cannot be reached or did not answer in time (as opposed to a
 * bad statement): requests meeting one get a 503, not a 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code)) return true;
    // Connection exceptions, shutdown and cannot-connect-now, too many connections, statement timeout.
    if (/^(08...|57P0[123]|53300|57014|25P03)$/.test(code)) return true;
  }
  return /^(Query read timeout|timeout exceeded when trying to connect|Connection terminated|timeout expired|Client has encountered a connection error|Client was closed)/.test(err.message);
}

/** A connection string's password never reaches a log line. */
const withoutPassword = (text: string) => text.replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, '$1[redacted]@');

/** The PostgreSQL client, loaded only by a PostgreSQL store. */
export const pgClient = lazy<typeof pg>('pg');
let pgTypesSet = false;
function pgLib(): typeof pg {
  const lib = pgClient();
  // int8 (COUNT, bigint columns) arrives as text from pg by default; our values fit in a double.
  if (!pgTypesSet) lib.types.setTypeParser(20, (v) => Number(v));
  pgTypesSet = true;
  return lib;
}

/** A close that may be called again (a second call waited forever on the checkpoint thread's exit). */
const once = (close: () => Promise<void>) => {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
};

export function openStore(databaseUrl: string, options: StoreOptions = {}): Store {
  let log = options.log ?? stderrLog;
  const logTo = (l: StoreLog) => void (log = l);
  if (isPostgresUrl(databaseUrl)) {
    const t = { ...PG_TIMEOUT_DEFAULTS, ...options.pg };
    const pool = new (pgLib().Pool)({
      connectionString: databaseUrl,
      max: 10,
      // A link that stops answering must cost a request a few seconds and a 503, not a hang.
      connectionTimeoutMillis: t.connectTimeoutMs,
      query_timeout: t.queryTimeoutMs + 1000, // ours: the link is dead; the server's fires first otherwise
      statement_timeout: t.queryTimeoutMs,
      idle_in_transaction_session_timeout: t.idleInTransactionTimeoutMs,
      keepAlive: true,
    });
    // A dropped idle connection must not crash the process; the next query gets a fresh one.
    pool.on('error', (err) =>
      log.warn({ event: 'pg_pool_error', err: withoutPassword(err.message), code: (err as { code?: string }).code }, 'PostgreSQL connection lost; it is replaced on the next query'),
    );
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withConnectionCare(pool) }) });
    batchPerTurnOn(db);
    const applications = new ChangeListener(
      databaseUrl,
      APPLICATIONS_CHANNEL,
      { heartbeatMs: t.listenerHeartbeatMs, staleMs: t.listenerStaleMs, connectTimeoutMs: t.connectTimeoutMs },
      () => log,
    );
    return {
      db,
      dialect: 'postgres',
      limiterClient: { storeType: 'postgres', client: limiterClientOn(pool) },
      applicationsVersion: () => applications.current(),
      logTo,
      maintenance: () => {
        const ownPool = new (pgLib().Pool)({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: t.connectTimeoutMs });
        ownPool.on('error', () => {}); // its one connection is in use throughout; a failure fails the migration
        const own = new Kysely<DB>({ dialect: new PostgresDialect({ pool: ownPool }) });
        return { db: own, close: () => own.destroy() };
      },
      close: once(async () => {
        await applications.close();
        await db.destroy();
      }),
    };
  }
  const file = sqliteFileOf(databaseUrl);
  if (file !== ':memory:') {
    // SQLite creates the -wal and -shm files with the database file's mode: 0600 from the start.
    // Ones left by an earlier run keep theirs, hence the tightening.
    privateDir(dirname(file), false);
    privateFile(file);
    for (const suffix of ['-wal', '-shm']) tighten(file + suffix, 0o600);
  }
  const cacheMiB = options.sqliteCacheMiB ?? SQLITE_CACHE_MIB;
  const sqlite = connectSqlite(file, cacheMiB);
  const statements = withStatementCache(sqlite);
  const turn = new ReadTurn(sqlite);
  // Set by the checkpoint thread while it copies the WAL's last frames (checkpoint-worker.mjs);
  // without one (in memory) it stays 0.
  const hold = new Int32Array(new SharedArrayBuffer(4));
  // Every Kysely query or transaction ends the turn's read snapshot before it runs. Its
  // transactions begin IMMEDIATE, as the turn's writes do: one that read first and then wrote would
  // fail (SQLITE_BUSY, no waiting) whenever another process on the file wrote in between.
  const kyselyDatabase = { prepare: (sql: string) => (turn.end(), statements.prepare(sql === 'begin' ? 'begin immediate' : sql)), close: () => statements.close() };
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: kyselyDatabase }) });
  const writes = new TurnWrites(sqlite, statements, turn, hold, (fn) => db.connection().execute(async () => fn()));
  const reads = withRowsFromArrays(sqlite);
  runDirectlyOn(db, {
    statement: (sql) => (turn.join(), reads.prepare(sql)),
    write: (sql, params, viaKysely) => writes.add(sql, params, viaKysely),
    writeTogether: (steps, viaKysely) => writes.together(steps, viaKysely),
    decide: (fn) => writes.decide(fn),
    inTransaction: () => turn.othersTransaction(),
  });
  // Without its thread nobody checkpoints, and the WAL would grow without end: the connections
  // then checkpoint on commit themselves (slower commits, a bounded WAL).
  let limiter: SQLite.Database | undefined;
  let selfCheckpointing = false;
  const checkpointOnCommit = () => {
    selfCheckpointing = true;
    for (const c of [sqlite, limiter]) c?.pragma('wal_autocheckpoint = 1000');
  };
  const checkpointer =
    file === ':memory:' ? undefined : startCheckpointer(file, hold, { ...WAL_SIZES, ...options.walSizes }, () => log, checkpointOnCommit, options.checkpointRestarts ?? 5);
  // The limiter's own connection for its reads and deletes; its counts are turn writes
  // (store/limiter-counts.ts), which wait for an open Kysely transaction instead of joining it.
  let versionOf: SQLite.Statement | undefined;
  let limiterConnection: LimiterConnection | undefined;
  return {
    db,
    dialect: 'sqlite',
    get limiterClient() {
      if (!limiter) {
        limiter = connectSqlite(file, SQLITE_CACHE_MIB); // its reads are a few small tables
        if (selfCheckpointing) limiter.pragma('wal_autocheckpoint = 1000');
      }
      const own = limiter;
      limiterConnection ??= sqliteLimiterConnection(cachedBySql((text) => own.prepare(text)), (text, params) =>
        writes.add(text, params, async () => writeResultOf(await db.executeQuery(CompiledQuery.raw(text, params)))),
      );
      return { storeType: 'better-sqlite3' as const, client: limiterConnection };
    },
    checkpoints: () => ({ frames: checkpointer?.frames ?? 0, restarts: checkpointer?.restarts ?? 0, holds: checkpointer?.holds ?? 0 }),
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
    logTo,
    checkpointThread: () => checkpointer?.worker,
    prewarm: () => (turn.end(), prewarm(sqlite)),
    close: once(async () => {
      turn.end();
      await checkpointer?.stop();
      limiter?.close();
      await db.destroy();
    }),
  };
}

/**
 * Checkpoints run on a worker thread with its own connection (and connections of this process
 * never checkpoint on commit), so a request never pays for copying the WAL back. How it keeps
 * the WAL bounded under constant writes: WalSizes and checkpoint-worker.mjs. `hold` is shared
 * with the thread: while it is 1, TurnWrites waits before committing.
 *
 * A thread that dies is started again after 1, 2, 4… s; after `maxRestarts` deaths in a row (none
 * checkpointed in between), `giveUp` lets the connections checkpoint themselves.
 */
function startCheckpointer(file: string, hold: Int32Array, sizes: WalSizes, log: () => StoreLog, giveUp: () => void, maxRestarts: number) {
  let stopping = false;
  let deaths = 0;
  let retry: NodeJS.Timeout | undefined;
  const state = {
    frames: 0,
    restarts: 0,
    holds: 0,
    worker: undefined as Worker | undefined,
    stop: async () => {
      stopping = true;
      clearTimeout(retry);
      const w = state.worker;
      if (!w) return;
      w.ref(); // keep the process alive until the worker has closed its connection
      const exited = new Promise((resolve) => w.once('exit', resolve));
      w.postMessage('stop');
      await exited;
    },
  };
  const start = () => {
    const worker = new Worker(codeFile('store', 'checkpoint-worker.mjs'), { workerData: { file, ...sizes, hold: hold.buffer }, execArgv: [] });
    state.worker = worker;
    worker.on('message', (m: { checkpointed?: number; restarted?: boolean; held?: boolean; error?: string }) => {
      if (m.error) {
        log().warn({ event: 'checkpoint_failed', err: m.error }, 'SQLite checkpoint failed; retried on the next tick');
        return;
      }
      deaths = 0;
      if (typeof m.checkpointed === 'number' && m.checkpointed > 0) state.frames += m.checkpointed;
      if (m.restarted) state.restarts++;
      if (m.held) state.holds++;
    });
    worker.on('error', (err) => log().error({ event: 'checkpointer_error', err: err.message }, 'SQLite checkpoint thread failed'));
    worker.on('exit', (code) => {
      Atomics.store(hold, 0, 0); // a thread that died holding must not hold the writes
      if (stopping || state.worker !== worker) return;
      state.worker = undefined;
      if (++deaths > maxRestarts) {
        giveUp();
        log().error({ event: 'checkpointer_gave_up', deaths: deaths - 1 }, 'SQLite checkpoint thread keeps dying; commits now checkpoint the WAL themselves');
        return;
      }
      const delayMs = 1000 * 2 ** (deaths - 1);
      log().error({ event: 'checkpointer_died', code, restart_in_ms: delayMs }, 'SQLite checkpoint thread stopped; starting it again');
      retry = setTimeout(start, delayMs);
      retry.unref();
    });
    worker.unref();
  };
  start();
  return state;
}

function connectSqlite(file: string, cacheMiB: number): SQLite.Database {
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a crash of the process (kill -9); see README.
  sqlite.pragma(`synchronous = ${process.env.OPENFACTOR_SQLITE_SYNCHRONOUS ?? 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // The background checkpointer does this work (see startCheckpointer).
  sqlite.pragma('wal_autocheckpoint = 0');
  // Lookups by id read a few pages each; from the mapping and the cache they cost no syscall.
  sqlite.pragma(`mmap_size = ${Number(process.env.OPENFACTOR_SQLITE_MMAP_BYTES ?? 1 << 30)}`);
  sqlite.pragma(`cache_size = ${-cacheMiB * 1024}`);
  return sqlite;
}

/**
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it each time. Named, each
 * connection prepares a statement once and then only binds and executes it (bench: PostgreSQL's
 * CPU, not OpenFactor's, limited verify). Most of our SQL texts are a fixed set; those that vary
 * with a batch's size (IN lists, a turn's inserts together) are many, so past NAMED_TEXTS new
 * texts go unnamed: prepared statements live as long as their connection.
 *
 * And a connection whose query timed out or whose link failed is in an unknown state (pg leaves
 * the timed-out query active on it, and the next one would queue behind it): it fails at once from
 * then on (a ROLLBACK must not wait out another timeout) and leaves the pool when released.
 */
const NAMED_TEXTS = 2000;
function withConnectionCare(pool: pg.Pool): pg.Pool {
  const known = new WeakSet<pg.PoolClient>();
  const broken = new WeakMap<pg.PoolClient, Error>();
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let n = names.get(text);
    if (!n && names.size < NAMED_TEXTS) {
      n = `of${names.size}`;
      names.set(text, n);
    }
    return n;
  };
  const connect = async () => {
    const client = await pool.connect();
    if (!known.has(client)) {
      known.add(client);
      // Between the queries of a transaction nobody else listens: an error there must not crash us.
      client.on('error', (err) => broken.set(client, err));
      // Only Kysely's promise-style `query(text, values)`; the pool itself (rate-limiter-flexible)
      // calls with a callback, left as it is (pg-pool drops a client whose query failed).
      const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        if (!(args.length === 2 && typeof args[0] === 'string' && Array.isArray(args[1]))) return query(...args);
        const failed = broken.get(client);
        if (failed) return Promise.reject(failed);
        return query({ name: nameOf(args[0]), text: args[0], values: args[1] }).catch((err: unknown) => {
          if (isDatabaseUnavailable(err)) broken.set(client, err as Error);
          throw err;
        });
      };
    }
    const release = client.release;
    client.release = (err?: Error | boolean) => release(err ?? broken.get(client));
    return client;
  };
  return new Proxy(pool, { get: (target, prop, receiver) => (prop === 'connect' ? connect : Reflect.get(target, prop, receiver)) });
}

/** One write, several that stand or fall together (`writeTogether`), or one decided in code (`decide`: no steps). */
interface PendingWrite {
  steps: BoundStep[];
  decide?: (tx: DecidingTransaction) => unknown;
  viaKysely: () => Promise<WriteResult[]>;
}

/** The longest a turn's writes wait for the checkpoint thread (it lets go after 30 ms). */
const HOLD_LIMIT_MS = 50;

/**
 * Group commit for hot-path writes (verify's one UPDATE): the writes requested during one turn
 * of the event loop are committed together right after it, in one transaction. A commit costs
 * about as much as the write itself (WAL frame, locks); sharing it halved the cost per write
 * (bench). Each caller still hears of its write only once it is committed.
 */
class TurnWrites {
  // Writes asked for by the requests of a read turn are committed as soon as all of them have run.
  private readonly loader = perTurnLoader<PendingWrite, WriteResult[]>(
    (batch) => this.commit(batch),
    (run) => (this.turn.active ? afterMicrotasks(run) : setImmediate(run)),
  );

  // Made once: better-sqlite3 builds four wrappers and their properties for each transaction().
  private readonly runAll: SQLite.Transaction<(batch: readonly PendingWrite[]) => WriteResult[][]>;
  private readonly runAlone: SQLite.Transaction<(w: PendingWrite) => WriteResult[]>;

  /** Resolves when the checkpoint thread lets go (see released). */
  private waiting?: Promise<void>;

  /** What `decide` functions run on; told of the transaction's end through `ending`. */
  private readonly deciding: DecidingTransaction;
  private readonly ending: ((committed: boolean) => void)[] = [];

  constructor(
    private readonly sqlite: SQLite.Database,
    private readonly statements: { prepare(sql: string): SQLite.Statement },
    private readonly turn: ReadTurn,
    private readonly hold: Int32Array,
    /** Runs `fn` once no Kysely transaction holds the connection (Kysely's own queue). */
    private readonly afterKysely: <R>(fn: () => R) => Promise<R>,
  ) {
    this.runAll = sqlite.transaction((batch: readonly PendingWrite[]) => batch.map((w) => this.run(w)));
    this.runAlone = sqlite.transaction((w: PendingWrite) => this.run(w));
    this.deciding = {
      get: (q) => this.statements.prepare(q.sql).get(q.params),
      all: (q) => this.statements.prepare(q.sql).all(q.params),
      run: (q) => this.statements.prepare(q.sql).run(q.params),
      onEnd: (end) => void this.ending.push(end),
    };
  }

  async add(sql: string, params: unknown[], viaKysely: () => Promise<WriteResult>): Promise<WriteResult> {
    const [result] = await this.loader.load({ steps: [{ sql, params }], viaKysely: async () => [await viaKysely()] });
    return result;
  }

  together(steps: BoundStep[], viaKysely: () => Promise<WriteResult[]>): Promise<WriteResult[]> {
    return this.loader.load({ steps, viaKysely });
  }

  async decide<R>(fn: (tx: DecidingTransaction) => R): Promise<R> {
    const w: PendingWrite = {
      steps: [],
      decide: fn,
      // Never inside someone's Kysely transaction: its rollback would be out of our sight.
      viaKysely: () =>
        this.afterKysely(() => {
          this.turn.end();
          return this.transact(this.runAlone, w);
        }),
    };
    const [result] = await this.loader.load(w);
    return result.rows[0] as R;
  }

  private async commit(batch: readonly PendingWrite[]): Promise<(WriteResult[] | Error)[]> {
    if (Atomics.load(this.hold, 0) === 1) await this.released();
    this.turn.end();
    // A Kysely transaction is open across awaits: wait for it through Kysely's own queue.
    if (this.sqlite.inTransaction) return Promise.all(batch.map((w) => w.viaKysely().catch(asError)));
    if (batch.length > 1) {
      try {
        return this.transact(this.runAll, batch);
      } catch {
        // One bad write must not fail the others: rolled back, each is tried on its own.
      }
    }
    return batch.map((w) => {
      try {
        return w.steps.length === 1 ? this.run(w) : this.transact(this.runAlone, w);
      } catch (err) {
        return asError(err);
      }
    });
  }

  /**
   * BEGIN IMMEDIATE: the write lock from the start, so what a `decide` function reads stays true
   * until the commit, whatever other processes on the file do. Its `onEnd` hears how it ended.
   */
  private transact<A, R>(t: SQLite.Transaction<(a: A) => R>, a: A): R {
    let committed = false;
    try {
      const r = t.immediate(a);
      committed = true;
      return r;
    } finally {
      for (const end of this.ending.splice(0)) end(committed);
    }
  }

  /**
   * The checkpoint thread copies the WAL's last frames (a few ms): commits wait for it, so that
   * the next one rewinds the WAL, instead of writers waiting for a RESTART. Never longer than
   * HOLD_LIMIT_MS, whatever the thread does.
   */
  private released(): Promise<void> {
    return (this.waiting ??= new Promise<void>((resolve) => {
      const start = performance.now();
      const poll = () => {
        if (Atomics.load(this.hold, 0) === 1 && performance.now() - start < HOLD_LIMIT_MS) return void setTimeout(poll, 1);
        this.waiting = undefined;
        resolve();
      };
      setTimeout(poll, 1);
    }));
  }

  private run(w: PendingWrite): WriteResult[] {
    if (w.decide) return [{ changes: 0, rows: [w.decide(this.deciding)] }];
    const out: WriteResult[] = [];
    for (const s of w.steps) out.push(s.onlyIfChanged !== undefined && out[s.onlyIfChanged].changes === 0 ? SKIPPED : this.runStep(s));
    return out;
  }

  private runStep(s: BoundStep): WriteResult {
    const stmt = this.statements.prepare(s.sql);
    // A write with RETURNING is a reader in better-sqlite3: its rows are the changed ones.
    if (stmt.reader) {
      const rows = stmt.all(s.params);
      return { changes: rows.length, rows };
    }
    return { changes: stmt.run(s.params).changes, rows: [] };
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

/** `keys`: the master keys; needed only when a step must open stored values (0021 on old rows). */
export async function migrate(store: Store, keys: MasterKey[] = []): Promise<string[]> {
  // A migration over a large table may take longer than a request's statement timeout.
  const own = store.maintenance?.();
  const migrator = new Migrator({ db: own?.db ?? store.db, provider: migrationProvider(store.dialect, keys) });
  const { error, results } = await migrator.migrateToLatest().finally(() => own?.close());
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * For `/readyz`: the database answers, and it has every migration this build knows. A reason
 * when it is not ready; undefined when it is.
 */
export async function notReadyBecause(store: Store, timeoutMs = 2000): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`the database did not answer within ${timeoutMs} ms`), timeoutMs)));
  const asked = sql<{ name: string }>`SELECT max(name) AS name FROM kysely_migration`
    .execute(store.db)
    // Further on is fine: a newer node migrated it during a rolling upgrade.
    .then(({ rows }) => (rows[0]?.name && rows[0].name >= LATEST_MIGRATION ? undefined : `the database is at migration ${rows[0]?.name ?? 'none'}, this build needs ${LATEST_MIGRATION}`))
    .catch((e: Error) => `the database did not answer: ${withoutPassword(e.message)}`);
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}
