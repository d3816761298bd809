// `users import` throughput: N users with kept Authy ids and authenticator secrets, imported by
// the built CLI into a fresh database (SQLite, PostgreSQL), as an operator runs it, on the whole
// machine (it reads and seals in a worker thread while the main thread writes). Baseline, same
// run and same machine: a Node process that reads the same file and parses every line, the least
// any import does. The imported rows are counted afterwards.
import { createWriteStream, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import { randomBytes } from '../src/core/crypto.ts';
import { toBase32 } from '../src/core/otp.ts';
import { ALL_CORES, startNode, stop, type Child } from './procs.ts';
import { dropPostgres } from './seed.ts';

export interface ImportFigures {
  name: string;
  users: number;
  seconds: number;
  perSecond: number;
  baselineSeconds: number;
  /** Baseline time over import time: 1 would be an import as fast as reading its file. */
  ratio: number;
}

/** The file: one user per line, kept id, E.164 number, email and a 160-bit authenticator secret. */
export async function writeImportFile(file: string, users: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < users; i++) {
    const line = `{"authy_id":${50_000_000 + i},"email":"user${i}@import.example","e164":"+1415${2_000_000 + i}","authenticator_secret":"${toBase32(randomBytes(20))}"}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Runs a node command to its end; answers its wall time and what it printed. */
async function timed(name: string, args: string[], env: Record<string, string>): Promise<{ seconds: number; child: Child; code: number | null }> {
  const t0 = performance.now();
  const child = startNode(name, args, env, ALL_CORES);
  try {
    await child.exited;
    return { seconds: (performance.now() - t0) / 1000, child, code: child.proc.exitCode };
  } finally {
    await stop(child);
  }
}

const READ_ONLY = `
const { createInterface } = require('node:readline');
const { createReadStream } = require('node:fs');
(async () => { let n = 0; for await (const l of createInterface({ input: createReadStream(process.argv[1]), crlfDelay: Infinity })) if (JSON.parse(l).email) n++; console.log(n); })();`;

export async function baselineSeconds(file: string): Promise<number> {
  const r = await timed('read-baseline', ['-e', READ_ONLY, file], {});
  if (r.code !== 0) throw new Error(`the baseline failed:\n${r.child.output()}`);
  return r.seconds;
}

export async function importThroughput(
  name: string,
  dialect: 'sqlite' | 'postgres',
  o: { tmp: string; file: string; users: number; masterKey: Buffer; pgAdmin: string; pgName: string; baselineSeconds: number },
): Promise<ImportFigures> {
  const dataDir = join(o.tmp, name);
  let databaseUrl: string | undefined;
  if (dialect === 'postgres') {
    await dropPostgres(o.pgAdmin, o.pgName);
    const admin = new pg.Client({ connectionString: o.pgAdmin });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${o.pgName}`);
    await admin.end();
    const url = new URL(o.pgAdmin);
    url.pathname = `/${o.pgName}`;
    databaseUrl = url.toString();
  }
  const env = { OPENFACTOR_DATA_DIR: dataDir, OPENFACTOR_MASTER_KEY: o.masterKey.toString('hex'), LOG_LEVEL: 'warn', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  try {
    const made = await timed(`${name}-app`, ['build/cli.js', 'apps', 'create', '--name', 'Import', '--json'], env);
    if (made.code !== 0) throw new Error(`${name}: apps create failed:\n${made.child.output()}`);
    const appId = String(JSON.parse(made.child.output().trim().split('\n').at(-1)!).id);
    const r = await timed(name, ['build/cli.js', 'users', 'import', '--app', appId, '--file', o.file], env);
    const summary = r.child.output().trim().split('\n').at(-1)!;
    if (r.code !== 0 || !summary.startsWith(`${o.users.toLocaleString('en')} users: ${o.users.toLocaleString('en')} created`)) throw new Error(`${name}: the import did not create every user:\n${r.child.output()}`);
    const counted = await countRows(dialect, databaseUrl ?? join(dataDir, 'openfactor.db'));
    if (counted.users !== o.users || counted.authenticators !== o.users) throw new Error(`${name}: ${counted.users} users and ${counted.authenticators} authenticators stored, not ${o.users}`);
    return { name, users: o.users, seconds: r.seconds, perSecond: o.users / r.seconds, baselineSeconds: o.baselineSeconds, ratio: o.baselineSeconds / r.seconds };
  } finally {
    if (dialect === 'postgres') await dropPostgres(o.pgAdmin, o.pgName).catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function countRows(dialect: 'sqlite' | 'postgres', where: string): Promise<{ users: number; authenticators: number }> {
  const q = 'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM authenticators) AS authenticators';
  if (dialect === 'sqlite') {
    const db = new Database(where, { readonly: true });
    try {
      return db.prepare(q).get() as { users: number; authenticators: number };
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: where });
  await c.connect();
  try {
    const r = (await c.query(q)).rows[0];
    return { users: Number(r.users), authenticators: Number(r.authenticators) };
  } finally {
    await c.end();
  }
}
