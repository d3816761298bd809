// `openfactor backup --to FILE` and `openfactor restore --from FILE`, for SQLite. A backup is a
// consistent copy taken while the server runs (SQLite's online backup API, through
// better-sqlite3); a restore checks the copy (integrity, the master key opens it), brings it to
// this build's schema, and swaps it in, keeping the database it replaces. PostgreSQL has its
// own tools (pg_dump, pg_restore): the commands say how.
import { chmodSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { isPostgresUrl, sqliteFileOf, type Config } from '../config.ts';
import { migrate, openStore } from '../store/db.ts';
import { postgresTarget, toolOptions } from './postgres-url.ts';

const say = (line: string) => process.stdout.write(line + '\n');
const refuse = (line: string) => {
  process.stderr.write(`openfactor: ${line}\n`);
  return 1;
};

const keyNote = (config: Readonly<Config>) =>
  `The master key is not in the backup: keep ${config.masterKeyFile ?? 'OPENFACTOR_MASTER_KEY'} safe, apart from it; without that key the secrets in it cannot be opened.`;

function postgresWay(config: Readonly<Config>, restoring: boolean): number {
  const pg = postgresTarget(config.databaseUrl)!; // checked by loadConfig
  const where = toolOptions(pg);
  const db = pg.database;
  return refuse(
    restoring
      ? `this database is PostgreSQL: restore a pg_dump with pg_restore, into an empty database, with every OpenFactor node stopped:\n  pg_restore ${where} -d ${db} --clean --if-exists FILE`
      : `this database is PostgreSQL: back it up with pg_dump (consistent while OpenFactor runs):\n  pg_dump ${where} -Fc -f FILE ${db}\n${keyNote(config)}`,
  );
}

export async function backup(config: Readonly<Config>, to: string | undefined): Promise<number> {
  if (!to) return refuse('backup needs --to FILE');
  if (isPostgresUrl(config.databaseUrl)) return postgresWay(config, false);
  const source = sqliteFileOf(config.databaseUrl);
  const target = resolve(to);
  if (!existsSync(source)) return refuse(`there is no database at ${source} to back up (DATABASE_URL, OPENFACTOR_DATA_DIR)`);
  if (existsSync(target)) return refuse(`${target} exists: back up to a new file`);
  const partial = `${target}.partial`;
  const started = performance.now();
  const db = new SQLite(source, { readonly: true, fileMustExist: true });
  try {
    // The first step copies 100 pages; every later one all that is left, in one read snapshot, so
    // writes by the running server cannot restart the copy over and over.
    const { totalPages } = await db.backup(partial, { progress: () => 1 << 30 });
    chmodSync(partial, 0o600);
    // One self-contained file (no write-ahead log beside it), checked before it takes its name.
    const check = new SQLite(partial);
    check.pragma('journal_mode = DELETE');
    const ok = check.pragma('quick_check', { simple: true });
    check.close();
    if (ok !== 'ok') throw new Error(`the copy failed its integrity check: ${String(ok)}`);
    renameSync(partial, target);
    say(`Backed up ${source} to ${target}: ${totalPages} pages, ${(statSync(target).size / 1e6).toFixed(1)} MB, in ${Math.round(performance.now() - started)} ms.\n${keyNote(config)}`);
    return 0;
  } catch (e) {
    rmSync(partial, { force: true });
    throw e;
  } finally {
    db.close();
  }
}

/**
 * Whether another connection has the database open. Every connection to a WAL database holds a
 * shared lock while open, so an exclusive lock is refused (at once: no busy timeout) while one does.
 */
function inUse(file: string): boolean {
  const db = new SQLite(file, { timeout: 0, fileMustExist: true });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return false;
  } catch (e) {
    if ((e as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw e;
  } finally {
    db.close();
  }
}

export async function restore(config: Readonly<Config>, from: string | undefined): Promise<number> {
  if (!from) return refuse('restore needs --from FILE');
  if (isPostgresUrl(config.databaseUrl)) return postgresWay(config, true);
  const target = sqliteFileOf(config.databaseUrl);
  const source = resolve(from);
  if (!existsSync(source)) return refuse(`no backup at ${source}`);
  if (existsSync(target) && inUse(target)) return refuse(`${target} is in use: stop OpenFactor (every process on this database) first; nothing was changed`);
  // Checked and migrated as a copy beside the database, then swapped in by a rename.
  const staged = `${target}.restoring`;
  for (const f of [staged, `${staged}-wal`, `${staged}-shm`]) rmSync(f, { force: true });
  const src = new SQLite(source, { readonly: true, fileMustExist: true });
  try {
    const ok = src.pragma('quick_check', { simple: true });
    if (ok !== 'ok') return refuse(`${source} is damaged (${String(ok)}): nothing was changed`);
    const known = src.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'").get();
    if (!known) return refuse(`${source} is not an OpenFactor database: nothing was changed`);
    await src.backup(staged);
  } finally {
    src.close();
  }
  const store = openStore(`sqlite:${staged}`, { pg: config.pg });
  let foreign: string[];
  try {
    const { sealedByKey } = await import('../admin/reseal.ts');
    const ours = new Set(config.masterKeys.map((k) => k.id));
    foreign = Object.keys(await sealedByKey(store.db)).filter((kid) => !ours.has(kid));
    if (!foreign.length) await migrate(store, config.masterKeys);
  } finally {
    await store.close();
  }
  if (foreign.length) {
    for (const f of [staged, `${staged}-wal`, `${staged}-shm`]) rmSync(f, { force: true });
    return refuse(
      `the backup's secrets are sealed with master key ${foreign.join(', ')}, which this OpenFactor was not given: set OPENFACTOR_MASTER_KEY to that key (or list it in OPENFACTOR_PREVIOUS_MASTER_KEYS); nothing was changed`,
    );
  }
  const kept = existsSync(target) ? `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}` : undefined;
  if (kept) renameSync(target, kept);
  for (const suffix of ['-wal', '-shm']) rmSync(target + suffix, { force: true }); // closed cleanly above: empty
  renameSync(staged, target);
  chmodSync(target, 0o600);
  say(`Restored ${source} into ${target}.${kept ? `\nThe database it replaced is kept as ${kept}; delete it once you are sure.` : ''}`);
  return 0;
}
