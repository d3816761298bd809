// SQLite: where a request's pages come from. The first OPENFACTOR_SQLITE_MMAP_BYTES of the file are
// mapped (a read costs no system call once its page is faulted in); a page past the mapping is
// read with pread into the connection's page cache, the first time a request needs it and again
// whenever the cache has dropped it. At 10 million users the file is several GiB, most of it past
// the largest mapping this SQLite allows (2 GiB), and a random user's page was a system call (bench:
// a lookup by id 8-10 µs against 4.3 with every page in the cache). A cache sized to the file and
// filled before the server listens takes that away: the same as PostgreSQL's shared_buffers, warm.
//
// The cache is this connection's own. SQLite empties it whenever another connection has written
// (another process, or a tool beside the server), so it serves one process that does the writing.
import type SQLite from 'better-sqlite3';

/** The page cache by default (OPENFACTOR_SQLITE_CACHE_MB): enough for the hot pages of a small database. */
export const SQLITE_CACHE_MIB = 64;

export interface Prewarmed {
  /** Tables and indexes read. */
  btrees: number;
  /** Entries counted on the way (a table's rows, an index's keys). */
  entries: number;
  ms: number;
}

/**
 * Reads every table and index of the database once on `sqlite`: the mapping's pages get faulted
 * in, the rest lands in the page cache (which keeps as much of it as its size allows).
 */
export function prewarm(sqlite: SQLite.Database): Prewarmed {
  const started = performance.now();
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const objects = sqlite
    // Indexes SQLite made for UNIQUE constraints (sqlite_autoindex_…) are walked too.
    .prepare("SELECT type, name, tbl_name AS tbl FROM sqlite_schema WHERE (type = 'index' OR (type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%')) ORDER BY rootpage")
    .all() as { type: 'table' | 'index'; name: string; tbl: string }[];
  let btrees = 0;
  let entries = 0;
  for (const o of objects) {
    // count(*) walks a table's own pages (NOT INDEXED: not a smaller index instead); an index is
    // walked by counting its first column through it. Expression and partial indexes are left.
    const first = o.type === 'index' ? (sqlite.pragma(`index_info(${quote(o.name)})`) as { name: string | null }[])[0]?.name : undefined;
    if (o.type === 'index' && !first) continue;
    const count = o.type === 'table' ? `SELECT count(*) FROM ${quote(o.name)} NOT INDEXED` : `SELECT count(${quote(first!)}) FROM ${quote(o.tbl)} INDEXED BY ${quote(o.name)}`;
    let statement: SQLite.Statement;
    try {
      statement = sqlite.prepare(count);
    } catch {
      continue; // a partial index answers no query without its WHERE
    }
    entries += statement.pluck().get() as number;
    btrees++;
  }
  return { btrees, entries, ms: Math.round(performance.now() - started) };
}
