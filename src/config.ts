// Environment parsed once into a typed, frozen object.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { masterKeyFrom, parseMasterKey, type MasterKey } from './core/crypto.ts';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  /** The key that seals new secrets; older keys may follow it for opening. */
  masterKeys: MasterKey[];
  logLevel: string;
  /** One log line per request (method, path without query, status, time). Off by default. */
  accessLog: boolean;
  /** Validate every response against its route's contract (on in tests). */
  validateResponses: boolean;
  /** Base of links OpenFactor hands out (QR codes); default: the scheme and host of the request. */
  publicUrl?: string;
  /** Bearer token of the admin API (`/admin/…`). */
  adminToken: string;
  /** Whether this process sends outbox messages (off: it only accepts them; another node sends). */
  outboxWorker: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const dataDir = resolve(env.OPENFACTOR_DATA_DIR || './data');
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not ${env.PORT}`);
  return Object.freeze({
    port,
    host: env.HOST || '127.0.0.1',
    dataDir,
    databaseUrl: env.DATABASE_URL || `sqlite:${join(dataDir, 'openfactor.db')}`,
    masterKeys: [masterKeyFrom(env.OPENFACTOR_MASTER_KEY ? parseMasterKey(env.OPENFACTOR_MASTER_KEY) : keyFile(dataDir))],
    logLevel: env.LOG_LEVEL || 'info',
    accessLog: /^(1|true)$/i.test(env.OPENFACTOR_ACCESS_LOG ?? ''),
    validateResponses: /^(1|true)$/i.test(env.OPENFACTOR_VALIDATE_RESPONSES ?? ''),
    publicUrl: env.OPENFACTOR_PUBLIC_URL ? env.OPENFACTOR_PUBLIC_URL.replace(/\/+$/, '') : undefined,
    adminToken: env.OPENFACTOR_ADMIN_TOKEN || secretFile(dataDir, 'admin.token', () => randomBytes(24).toString('base64url')),
    outboxWorker: !/^(0|false|off)$/i.test(env.OPENFACTOR_OUTBOX_WORKER ?? ''),
  });
}

/** The master key from `<data dir>/master.key`, created (mode 0600) on first use. */
function keyFile(dataDir: string): Buffer {
  return parseMasterKey(secretFile(dataDir, 'master.key', () => randomBytes(32).toString('hex')));
}

/** A secret kept in a 0600 file in the data dir, created on first use. */
function secretFile(dataDir: string, name: string, create: () => string): string {
  const file = join(dataDir, name);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, create() + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another process (the CLI, a second server) created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}
