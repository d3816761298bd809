// Environment parsed once into a typed, frozen object.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { masterKeyFrom, parseMasterKey, SEAL_FORMATS, type MasterKey, type SealFormat } from './core/crypto.ts';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { privateDir, tighten } from './store/private-files.ts';
import { SQLITE_CACHE_MIB } from './store/sqlite-cache.ts';

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
  /**
   * SQLite: the page cache of the server's connection, and whether every table and index is read
   * into it (and the mapping) before the server listens. Pages past the mapping are otherwise read
   * with a system call each, the first time a request needs them.
   */
  sqliteCacheMiB: number;
  sqlitePrewarm: boolean;
  /** Validate every response against its route's contract (on in tests). */
  validateResponses: boolean;
  /** Base of links OpenFactor hands out (QR codes); default: the scheme and host of the request. */
  publicUrl?: string;
  /** Bearer token of the admin API (`/admin/…`). */
  adminToken: string;
  /** Where the admin token and the master key are kept; undefined when given in the environment. */
  adminTokenFile?: string;
  masterKeyFile?: string;
  /** SIGTERM: how long in-flight requests and deliveries get to finish before the process exits. */
  shutdownGraceMs: number;
  /** A bearer token for `/metrics` only (a Prometheus scraper need not hold the admin token). */
  metricsToken?: string;
  /** Whether this process sends outbox messages (off: it only accepts them; another node sends). */
  outboxWorker: boolean;
  /** Provider URL lists, in priority order (`console:` by default). */
  providers: { sms: string; voice: string; email: string };
  /** Messages out to providers at once, per process. */
  outboxConcurrency: number;
  /** How long a claimed message is left to its worker before another may take it (after a crash). */
  outboxLeaseMs: number;
  /** Circuit breaker: consecutive failures that take a provider out, and for how long. */
  providerFailures: number;
  providerCoolDownMs: number;
  /** Web Push (VAPID) keys; generated and stored on first start when not given. */
  vapid: { publicKey?: string; privateKey?: string; subject?: string };
  /** Redis, for several nodes: device events fan out through it. Unset: one node, no Redis. */
  redisUrl?: string;
  redisPrefix: string;
  /** Event streams and long-polls held open: per device (a newer one closes the oldest), per process (beyond: 429). */
  connectionsPerDevice: number;
  connectionsPerProcess: number;
  /** Extra CA certificates (PEM file) trusted for Web Push services. */
  pushCaFile?: string;
  /** Callbacks and webhooks: first retry after this long, doubling, at most `hookMaxAttempts` tries. */
  hookRetryBaseMs: number;
  hookMaxAttempts: number;
  /**
   * Networks (CIDR blocks) that callbacks, webhooks and Web Push may reach although they are not
   * public: loopback, private, link-local… None by default (see delivery/destinations.ts).
   */
  allowPrivateNetworks: string[];
  /**
   * Dashboard (webhooks API) nonces are remembered this long, in the database, and a second use is
   * refused; a nonce that is a Unix time with a fraction (`1427849783.886085`) must also be
   * within this long of now.
   */
  dashboardNonceWindowS: number;
  /**
   * Failed API keys, dashboard keys and admin/metrics tokens allowed per client address (IPv6: per
   * /64) within `authFailureWindowS`; past that the address gets 429 for `authBlockS`.
   */
  authFailures: number;
  /** Administrators' console sessions and when they must give a second factor (issue 22). */
  adminSessions: { lifetimeMs: number; idleMs: number; secondFactor: 'auto' | 'always' | 'off' };
  /** Administrators' single sign-on through the organisation's OpenID Connect provider, when set. */
  adminSso?: AdminSso;
  authFailureWindowS: number;
  authBlockS: number;
  /**
   * Reverse proxies (CIDR blocks) whose X-Forwarded-For names the client; none by default, and then
   * the client is the connection's peer (behind a proxy: the proxy, for every client).
   */
  trustProxy: string[];
  /** How often pending approval requests are checked for expiry. */
  approvalSweepMs: number;
  /** Days finished messages, callback/webhook deliveries and phone verifications are kept (0: forever). */
  retentionDays: number;
  /** Days answered approval requests (with the signed answers) and user activity are kept (0: forever). */
  auditRetentionDays: number;
  /** How often old records are looked for. */
  retentionSweepMs: number;
  /** Device registrations by phone (unauthenticated) started per client address, and in all, per hour. */
  deviceRegistrationsPerAddress: number;
  deviceRegistrationsPerHour: number;
  /** How long an account recovery without a device waits, told to every existing device, before it takes effect. */
  accountRecoveryWaitS: number;
  /** The same for a phone change without any device (new number proven too): longer, 72 h by default. */
  phoneChangeWaitS: number;
  /** PostgreSQL: how long anything may wait for the database before the request gets a 503. */
  pg: PgTimeouts;
  /** The config file read, if any. */
  configFile?: string;
}

export const PG_TIMEOUT_DEFAULTS: Readonly<PgTimeouts> = Object.freeze({
  connectTimeoutMs: 5000,
  queryTimeoutMs: 5000,
  idleInTransactionTimeoutMs: 10_000,
  listenerHeartbeatMs: 1000,
  listenerStaleMs: 5000,
});

export interface PgTimeouts {
  /** Opening a connection, or waiting for a free one in the pool. */
  connectTimeoutMs: number;
  /** One statement (server side, and on our side for a link that stopped answering). */
  queryTimeoutMs: number;
  /** A transaction left open without a statement is ended by the server after this long. */
  idleInTransactionTimeoutMs: number;
  /** The applications cache checks its change listener by a notification to itself this often… */
  listenerHeartbeatMs: number;
  /** …and serves nothing while it has not heard one for this long (then reconnects). */
  listenerStaleMs: number;
}

/**
 * The environment, over the config file's KEY=VALUE lines (same names; `#` comments). The file is
 * OPENFACTOR_CONFIG, else `./openfactor.conf` when it exists.
 */
/** `auto` (the default): a code after the password once more than one administrator exists. */
export interface AdminSso {
  /** The issuer; its discovery document is at `{issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the administrator back: `{public URL}/admin/sso/callback` by default. */
  redirectUri?: string;
  /** Said on the console's button: "Sign in with {name}". */
  name: string;
}

function adminSso(env: NodeJS.ProcessEnv): AdminSso | undefined {
  const issuer = env.OPENFACTOR_ADMIN_OIDC_ISSUER;
  if (!issuer) return undefined;
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new Error('OPENFACTOR_ADMIN_OIDC_ISSUER must be a URL (the OpenID Connect issuer)');
  }
  // Plain http only to this machine: an issuer elsewhere is reached over TLS.
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) throw new Error('OPENFACTOR_ADMIN_OIDC_ISSUER must be https:// (http:// only on localhost)');
  const clientId = env.OPENFACTOR_ADMIN_OIDC_CLIENT_ID;
  const clientSecret = env.OPENFACTOR_ADMIN_OIDC_CLIENT_SECRET;
  if (!clientId || !clientSecret) throw new Error('OPENFACTOR_ADMIN_OIDC_ISSUER needs OPENFACTOR_ADMIN_OIDC_CLIENT_ID and OPENFACTOR_ADMIN_OIDC_CLIENT_SECRET');
  // Where the provider sends administrators back is configured, never read from a request's Host header.
  const redirectUri = env.OPENFACTOR_ADMIN_OIDC_REDIRECT_URI || undefined;
  if (!redirectUri && !env.OPENFACTOR_PUBLIC_URL) throw new Error('OPENFACTOR_ADMIN_OIDC_ISSUER needs OPENFACTOR_PUBLIC_URL (the callback is {public URL}/admin/sso/callback) or OPENFACTOR_ADMIN_OIDC_REDIRECT_URI');
  return { issuer, clientId, clientSecret, redirectUri, name: env.OPENFACTOR_ADMIN_OIDC_NAME || 'single sign-on' };
}

function secondFactorRule(raw: string | undefined): 'auto' | 'always' | 'off' {
  const v = (raw ?? '').trim().toLowerCase() || 'auto';
  if (v === 'auto' || v === 'always' || v === 'off') return v;
  throw new Error(`OPENFACTOR_ADMIN_SECOND_FACTOR must be auto, always or off, not ${raw}`);
}

export function loadConfig(processEnv: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const configFile = processEnv.OPENFACTOR_CONFIG || (existsSync('openfactor.conf') ? resolve('openfactor.conf') : undefined);
  const env = configFile ? { ...readConfigFile(configFile), ...processEnv } : processEnv;
  const int = (name: string, fallback: number, min: number, max: number) => {
    const v = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer from ${min} to ${max}, not ${env[name]}`);
    return v;
  };
  const dataDir = resolve(env.OPENFACTOR_DATA_DIR || './data');
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) {
    throw new Error(`the data directory ${dataDir} is a file, not a directory: move it away, or set OPENFACTOR_DATA_DIR to a directory`);
  }
  // Keys and the database live there: an existing one looser than 0700 is tightened.
  if (existsSync(dataDir)) privateDir(dataDir);
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not ${env.PORT}`);
  const pg: PgTimeouts = {
    connectTimeoutMs: int('OPENFACTOR_PG_CONNECT_TIMEOUT_MS', PG_TIMEOUT_DEFAULTS.connectTimeoutMs, 100, 600_000),
    queryTimeoutMs: int('OPENFACTOR_PG_QUERY_TIMEOUT_MS', PG_TIMEOUT_DEFAULTS.queryTimeoutMs, 100, 3_600_000),
    idleInTransactionTimeoutMs: int('OPENFACTOR_PG_IDLE_IN_TRANSACTION_TIMEOUT_MS', PG_TIMEOUT_DEFAULTS.idleInTransactionTimeoutMs, 100, 3_600_000),
    listenerHeartbeatMs: int('OPENFACTOR_PG_LISTENER_HEARTBEAT_MS', PG_TIMEOUT_DEFAULTS.listenerHeartbeatMs, 50, 600_000),
    listenerStaleMs: int('OPENFACTOR_PG_LISTENER_STALE_MS', PG_TIMEOUT_DEFAULTS.listenerStaleMs, 100, 3_600_000),
  };
  if (pg.listenerStaleMs <= pg.listenerHeartbeatMs) throw new Error('OPENFACTOR_PG_LISTENER_STALE_MS must be longer than OPENFACTOR_PG_LISTENER_HEARTBEAT_MS');
  if (env.DATABASE_URL) checkDatabaseUrl(env.DATABASE_URL);
  return Object.freeze({
    port,
    host: env.HOST || '127.0.0.1',
    dataDir,
    databaseUrl: env.DATABASE_URL || `sqlite:${join(dataDir, 'openfactor.db')}`,
    masterKeys: masterKeysFrom(env, dataDir),
    logLevel: env.LOG_LEVEL || 'info',
    accessLog: /^(1|true)$/i.test(env.OPENFACTOR_ACCESS_LOG ?? ''),
    validateResponses: /^(1|true)$/i.test(env.OPENFACTOR_VALIDATE_RESPONSES ?? ''),
    sqliteCacheMiB: int('OPENFACTOR_SQLITE_CACHE_MB', SQLITE_CACHE_MIB, 2, 1_048_576),
    sqlitePrewarm: flag(env, 'OPENFACTOR_SQLITE_PREWARM'),
    publicUrl: env.OPENFACTOR_PUBLIC_URL ? env.OPENFACTOR_PUBLIC_URL.replace(/\/+$/, '') : undefined,
    adminToken: env.OPENFACTOR_ADMIN_TOKEN || secretFile(dataDir, 'admin.token', () => randomBytes(24).toString('base64url')),
    adminTokenFile: env.OPENFACTOR_ADMIN_TOKEN ? undefined : join(dataDir, 'admin.token'),
    masterKeyFile: env.OPENFACTOR_MASTER_KEY ? undefined : join(dataDir, 'master.key'),
    shutdownGraceMs: int('OPENFACTOR_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    metricsToken: env.OPENFACTOR_METRICS_TOKEN || undefined,
    outboxWorker: !/^(0|false|off)$/i.test(env.OPENFACTOR_OUTBOX_WORKER ?? ''),
    providers: {
      sms: env.OPENFACTOR_SMS_PROVIDERS || 'console:',
      voice: env.OPENFACTOR_VOICE_PROVIDERS || 'console:',
      email: env.OPENFACTOR_EMAIL_PROVIDERS || 'console:',
    },
    outboxConcurrency: int('OPENFACTOR_OUTBOX_CONCURRENCY', 32, 1, 1000),
    outboxLeaseMs: int('OPENFACTOR_OUTBOX_LEASE_MS', 60_000, 1000, 3_600_000),
    providerFailures: int('OPENFACTOR_PROVIDER_FAILURES', 3, 1, 100),
    providerCoolDownMs: int('OPENFACTOR_PROVIDER_COOLDOWN_MS', 30_000, 100, 3_600_000),
    vapid: {
      publicKey: env.OPENFACTOR_VAPID_PUBLIC_KEY || undefined,
      privateKey: env.OPENFACTOR_VAPID_PRIVATE_KEY || undefined,
      subject: env.OPENFACTOR_VAPID_SUBJECT || undefined,
    },
    pushCaFile: env.OPENFACTOR_PUSH_CA_FILE || undefined,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.OPENFACTOR_REDIS_PREFIX || 'openfactor',
    connectionsPerDevice: int('OPENFACTOR_CONNECTIONS_PER_DEVICE', 5, 1, 1000),
    connectionsPerProcess: int('OPENFACTOR_CONNECTIONS_PER_PROCESS', 10_000, 1, 1_000_000),
    hookRetryBaseMs: int('OPENFACTOR_HOOK_RETRY_BASE_MS', 5000, 10, 3_600_000),
    hookMaxAttempts: int('OPENFACTOR_HOOK_MAX_ATTEMPTS', 10, 1, 100),
    allowPrivateNetworks: parseNetworks(env.OPENFACTOR_ALLOW_PRIVATE_NETWORKS),
    dashboardNonceWindowS: int('OPENFACTOR_DASHBOARD_NONCE_WINDOW_S', 86_400, 60, 30 * 86_400),
    authFailures: int('OPENFACTOR_AUTH_FAILURES', 20, 1, 100_000),
    adminSessions: {
      lifetimeMs: int('OPENFACTOR_ADMIN_SESSION_HOURS', 8, 1, 720) * 3_600_000,
      idleMs: int('OPENFACTOR_ADMIN_SESSION_IDLE_MINUTES', 30, 1, 10_080) * 60_000,
      secondFactor: secondFactorRule(env.OPENFACTOR_ADMIN_SECOND_FACTOR),
    },
    adminSso: adminSso(env),
    authFailureWindowS: int('OPENFACTOR_AUTH_FAILURE_WINDOW_S', 300, 1, 86_400),
    authBlockS: int('OPENFACTOR_AUTH_BLOCK_S', 900, 1, 86_400),
    trustProxy: parseNetworks(env.OPENFACTOR_TRUST_PROXY, 'OPENFACTOR_TRUST_PROXY'),
    approvalSweepMs: int('OPENFACTOR_APPROVAL_SWEEP_MS', 1000, 10, 60_000),
    // At least two days: the send guard's daily caps and receipts that come late need the rows.
    retentionDays: retentionDays(env.OPENFACTOR_RETENTION_DAYS, 90, 'OPENFACTOR_RETENTION_DAYS'),
    auditRetentionDays: retentionDays(env.OPENFACTOR_AUDIT_RETENTION_DAYS, 365, 'OPENFACTOR_AUDIT_RETENTION_DAYS'),
    retentionSweepMs: int('OPENFACTOR_RETENTION_SWEEP_MS', 600_000, 1000, 86_400_000),
    deviceRegistrationsPerAddress: int('OPENFACTOR_DEVICE_REGISTRATIONS_PER_ADDRESS', 10, 1, 1_000_000),
    deviceRegistrationsPerHour: int('OPENFACTOR_DEVICE_REGISTRATIONS_PER_HOUR', 1000, 1, 100_000_000),
    accountRecoveryWaitS: int('OPENFACTOR_ACCOUNT_RECOVERY_WAIT_S', 86_400, 1, 30 * 86_400),
    phoneChangeWaitS: int('OPENFACTOR_PHONE_CHANGE_WAIT_S', 259_200, 1, 30 * 86_400),
    pg,
    configFile,
  });
}

function readConfigFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  readFileSync(file, 'utf8').split(/\r?\n/).forEach((line, i) => {
    const text = line.trim();
    if (!text || text.startsWith('#')) return;
    const m = /^([A-Z][A-Z0-9_]*)\s*=\s*(.*)$/.exec(text);
    if (!m) throw new Error(`${file}:${i + 1}: expected KEY=VALUE`);
    out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  });
  return out;
}

/** Whether a DATABASE_URL names PostgreSQL (anything else is a SQLite file). */
export const isPostgresUrl = (databaseUrl: string) => /^postgres(ql)?:\/\//.test(databaseUrl);

/** The file of a SQLite DATABASE_URL (`sqlite:PATH`, `sqlite://PATH` or a plain path). */
export const sqliteFileOf = (databaseUrl: string) => databaseUrl.replace(/^sqlite:(\/\/)?/, '');

/**
 * PostgreSQL (`postgres://`, `postgresql://`) or SQLite (a file path, or `sqlite:` and a path).
 * Anything else with a scheme (`mysql://`, a misspelt `postgress://`) would otherwise become a
 * SQLite file named after the URL: refused, naming the scheme only (the URL may hold a password).
 */
function checkDatabaseUrl(url: string): void {
  if (isPostgresUrl(url) || url.startsWith('sqlite:')) return; // as openStore reads them
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined) {
    throw new Error(`DATABASE_URL must be postgres://… or postgresql://… (PostgreSQL), or a file path or sqlite:PATH (SQLite); "${scheme}://…" is neither`);
  }
}

/**
 * The key that seals, then the previous ones, which still open what they sealed until
 * `openfactor keys reseal` has sealed it again with the current key (rotation without downtime).
 */
function masterKeysFrom(env: NodeJS.ProcessEnv, dataDir: string): MasterKey[] {
  const current = masterKeyFrom(env.OPENFACTOR_MASTER_KEY ? parseMasterKey(env.OPENFACTOR_MASTER_KEY) : keyFile(dataDir), sealFormat(env));
  const previous = (env.OPENFACTOR_PREVIOUS_MASTER_KEYS ?? '')
    .split(',')
    .filter((k) => k.trim())
    .map((k, i) => {
      try {
        return masterKeyFrom(parseMasterKey(k));
      } catch {
        throw new Error(`OPENFACTOR_PREVIOUS_MASTER_KEYS: key ${i + 1} must be 32 bytes, as 64 hex characters or base64`);
      }
    });
  return [current, ...previous.filter((k, i) => k.id !== current.id && previous.findIndex((p) => p.id === k.id) === i)];
}

/**
 * What new values are sealed as: `v2` unless OPENFACTOR_SEAL_FORMAT=v1, for a rolling upgrade while
 * nodes older than `v2` still run (they cannot open it). Every node opens both.
 */
function sealFormat(env: NodeJS.ProcessEnv): SealFormat {
  const raw = (env.OPENFACTOR_SEAL_FORMAT ?? '').trim() || 'v2';
  if ((SEAL_FORMATS as string[]).includes(raw)) return raw as SealFormat;
  throw new Error(`OPENFACTOR_SEAL_FORMAT must be v2 or v1, not ${raw}`);
}

/** The master key from `<data dir>/master.key`, created (mode 0600) on first use. */
function keyFile(dataDir: string): Buffer {
  return parseMasterKey(secretFile(dataDir, 'master.key', () => randomBytes(32).toString('hex')));
}

/** A secret kept in a 0600 file in the data dir, created on first use. */
function secretFile(dataDir: string, name: string, create: () => string): string {
  const file = join(dataDir, name);
  if (!existsSync(file)) {
    privateDir(dataDir);
    try {
      writeFileSync(file, create() + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another process (the CLI, a second server) created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  tighten(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

/** `OPENFACTOR_ALLOW_PRIVATE_NETWORKS` (or `name`): comma-separated CIDR blocks; a bare address is its own block. */
export function parseNetworks(raw: string | undefined, name = 'OPENFACTOR_ALLOW_PRIVATE_NETWORKS'): string[] {
  const list = (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return list.map((entry) => {
    const cidr = entry.includes('/') ? entry : `${entry}/${isIP(entry) === 6 ? 128 : 32}`;
    if (!ipaddr.isValidCIDR(cidr)) throw new Error(`${name}: ${entry} is not an address or CIDR block`);
    return cidr;
  });
}

/** On with 1/true/on, off with 0/false/off or unset; anything else stops the start. */
function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim();
  if (/^(1|true|on)$/i.test(raw)) return true;
  if (raw === '' || /^(0|false|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be 1 or 0 (true or false), not ${raw}`);
}

/** 0 (keep forever) or 2–36500 days. */
function retentionDays(raw: string | undefined, fallback: number, name: string): number {
  const v = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(v) || (v !== 0 && (v < 2 || v > 36_500))) throw new Error(`${name} must be 0 (keep forever) or a number of days from 2 to 36500, not ${raw}`);
  return v;
}
