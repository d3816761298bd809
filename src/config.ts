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
  });
}

/** The master key from `<data dir>/master.key`, created (mode 0600) on first use. */
function keyFile(dataDir: string): Buffer {
  const file = join(dataDir, 'master.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another process (the CLI, a second server) created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  chmodSync(file, 0o600);
  return parseMasterKey(readFileSync(file, 'utf8'));
}
