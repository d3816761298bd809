// Applications: creation with an API key, key rotation, authentication, details and stats.
import type { Kysely } from 'kysely';
import { randomBytes } from 'node:crypto';
import { constantTimeEqual, hashApiKey, newApiKey, seal, unseal, type MasterKey } from '../../core/crypto.ts';
import type { DB, TokenCheckResult } from '../../store/schema.ts';
import * as q from './queries.ts';
import { rerunIfEndedForAnother } from '../../store/rerun.ts';
import { isRegion } from '../../core/phone.ts';
import type { Destinations } from '../../delivery/destinations.ts';

export interface Application {
  id: number;
  name: string;
  plan: string;
  smsEnabled: boolean;
  callsEnabled: boolean;
  onetouchEnabled: boolean;
  createdAt: number;
  settings: Settings;
  /** ISO 3166 regions messages may go to; undefined = everywhere. */
  allowedCountries: string[] | undefined;
  /** Where answered and expired approval requests are reported (wire reference §3). */
  onetouchCallback: { url: string; method: 'GET' | 'POST' } | undefined;
}

/** What an operator may change per application (`openfactor apps settings`). */
export interface Settings {
  /** Digits of app TOTPs and of SMS, voice and email codes (6–8). */
  tokenLength: number;
  /** How long an SMS, voice or email code verifies. */
  codeTtlSeconds: number;
  /** `users/{id}/secret` (QR enrolment of Google-Authenticator-style apps). */
  genericTokensEnabled: boolean;
  /** Attempt cap: this many wrong verifies within the window lock the user's verification… */
  verifyMaxFailures: number;
  verifyFailureWindowSeconds: number;
  /** …for this long, even for a correct code. */
  verifyLockoutSeconds: number;
  /** SMS, voice and email codes a user may request per hour. */
  sendsPerHour: number;
  /** An SMS code that cannot be delivered is read out by a voice call instead. */
  smsFallbackToVoice: boolean;
  /** Devices registered by phone get this application's accounts ("Sync tokens in app"). */
  syncTokens: boolean;
  /** Every approval request uses number matching (a request can also ask for it). */
  numberMatching: boolean;
  /** Phone verification: `custom_message` and `custom_code` (off: 60091 / 60021). */
  customMessageAllowed: boolean;
  customCodeAllowed: boolean;
  /** `users/{id}/phone_number` answers (a migration's export); off: 60154. */
  phoneExportEnabled: boolean;
  /** SMS-pumping defence: messages (SMS and calls) per day for the application… */
  dailySendBudget: number;
  /** …and per destination number per hour and per day. */
  sendsPerNumberHour: number;
  sendsPerNumberDay: number;
  /** Sends to one number prefix (all but the last four digits) per ten minutes that are always allowed; above it, five times the prefix's recent average. */
  prefixSendsPerWindow: number;
  /** The same per calling code: an attack spread over many prefixes of one country. */
  countrySendsPerWindow: number;
  /**
   * Verify for a user who never verified, without `force`: Authy's 200 "Not checked" answer for
   * any token (on), or checked like any other (off, the default): several clients send no
   * `force`, and some take that 200 as a success.
   */
  unregisteredVerifyLegacy: boolean;
  /**
   * The user's own devices may make a new set of recovery codes (the authenticator's printable
   * list), replacing the set the backend made. Off: only the backend makes them.
   */
  recoveryCodesOnDevices: boolean;
}

/** Bounds operators may set; outside them the CLI refuses. */
export const SETTING_BOUNDS: Record<keyof Settings, [number, number]> = {
  tokenLength: [6, 8],
  codeTtlSeconds: [60, 3600],
  genericTokensEnabled: [0, 1],
  verifyMaxFailures: [1, 1000],
  verifyFailureWindowSeconds: [10, 86_400],
  verifyLockoutSeconds: [1, 86_400],
  sendsPerHour: [1, 10_000],
  smsFallbackToVoice: [0, 1],
  syncTokens: [0, 1],
  numberMatching: [0, 1],
  customMessageAllowed: [0, 1],
  customCodeAllowed: [0, 1],
  phoneExportEnabled: [0, 1],
  dailySendBudget: [1, 10_000_000],
  sendsPerNumberHour: [1, 1000],
  sendsPerNumberDay: [1, 10_000],
  prefixSendsPerWindow: [1, 1_000_000],
  countrySendsPerWindow: [1, 10_000_000],
  unregisteredVerifyLegacy: [0, 1],
  recoveryCodesOnDevices: [0, 1],
};

const SETTING_COLUMNS: Record<keyof Settings, q.SettingsColumn> = {
  tokenLength: 'token_length',
  codeTtlSeconds: 'code_ttl_seconds',
  genericTokensEnabled: 'generic_tokens_enabled',
  verifyMaxFailures: 'verify_max_failures',
  verifyFailureWindowSeconds: 'verify_failure_window_seconds',
  verifyLockoutSeconds: 'verify_lockout_seconds',
  sendsPerHour: 'sends_per_hour',
  smsFallbackToVoice: 'sms_fallback_to_voice',
  syncTokens: 'sync_tokens',
  numberMatching: 'number_matching',
  customMessageAllowed: 'custom_message_allowed',
  customCodeAllowed: 'custom_code_allowed',
  phoneExportEnabled: 'phone_export_enabled',
  dailySendBudget: 'daily_send_budget',
  sendsPerNumberHour: 'sends_per_number_hour',
  sendsPerNumberDay: 'sends_per_number_day',
  prefixSendsPerWindow: 'prefix_sends_per_window',
  countrySendsPerWindow: 'country_sends_per_window',
  unregisteredVerifyLegacy: 'unregistered_verify_legacy',
  recoveryCodesOnDevices: 'recovery_codes_on_devices',
};

const toApplication = (r: NonNullable<Awaited<ReturnType<typeof q.findApplication>>>): Application => ({
  id: r.id,
  name: r.name,
  plan: r.plan,
  smsEnabled: r.sms_enabled === 1,
  callsEnabled: r.calls_enabled === 1,
  onetouchEnabled: r.onetouch_enabled === 1,
  createdAt: Number(r.created_at),
  settings: {
    tokenLength: r.token_length,
    codeTtlSeconds: r.code_ttl_seconds,
    genericTokensEnabled: r.generic_tokens_enabled === 1,
    verifyMaxFailures: r.verify_max_failures,
    verifyFailureWindowSeconds: r.verify_failure_window_seconds,
    verifyLockoutSeconds: r.verify_lockout_seconds,
    sendsPerHour: r.sends_per_hour,
    smsFallbackToVoice: r.sms_fallback_to_voice === 1,
    syncTokens: r.sync_tokens === 1,
    numberMatching: r.number_matching === 1,
    customMessageAllowed: r.custom_message_allowed === 1,
    customCodeAllowed: r.custom_code_allowed === 1,
    phoneExportEnabled: r.phone_export_enabled === 1,
    dailySendBudget: r.daily_send_budget,
    sendsPerNumberHour: r.sends_per_number_hour,
    sendsPerNumberDay: r.sends_per_number_day,
    prefixSendsPerWindow: r.prefix_sends_per_window,
    countrySendsPerWindow: r.country_sends_per_window,
    unregisteredVerifyLegacy: r.unregistered_verify_legacy === 1,
    recoveryCodesOnDevices: r.recovery_codes_on_devices === 1,
  },
  allowedCountries: r.allowed_countries ? r.allowed_countries.split(',') : undefined,
  onetouchCallback: r.onetouch_callback_url
    ? { url: r.onetouch_callback_url, method: r.onetouch_callback_method === 'GET' ? 'GET' : 'POST' }
    : undefined,
});

/** Cached applications are shared by every request: no caller may change one. */
function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

/**
 * Whether another application (not `exceptId`) has this name, trimmed and ignoring case. Names are
 * unique by this rule since issue 20, enforced here rather than by a unique index: databases made
 * before may hold duplicates, which stay readable (renaming one of them is how an operator ends
 * it). On PostgreSQL a transaction-scoped advisory lock makes the check and the write one step
 * across nodes; SQLite has one writer at a time. Applications are few: compared in JavaScript,
 * the same on both dialects (SQLite's lower() knows only ASCII).
 */
async function nameTaken(trx: Kysely<DB>, name: string, exceptId?: number): Promise<boolean> {
  await q.lockApplicationNames(trx);
  const wanted = comparableName(name);
  return (await q.applicationNames(trx)).some((a) => a.id !== exceptId && comparableName(a.name) === wanted);
}
export const comparableName = (name: string) => name.trim().normalize('NFC').toLowerCase();

/** The sealed copy of the key is bound to its row; callbacks are signed with it later. */
export const keyContext = (appId: number) => `applications:${appId}:api_key`;
export const dashboardKeyContext = (appId: number) => `applications:${appId}:dashboard_signing_key`;

/** Counts in an application's month (users created, messages sent): for the features that make them. */
export { addUsage, usageStep, type UsageColumn } from './queries.ts';

/** `YYYY-MM` in UTC. */
export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

/** Applications by API-key hash. Unknown keys are never cached: guessing must not fill memory. */
const CACHE_MAX = 10_000;

export class Applications {
  private readonly byKeyHash = new Map<string, { app: Application; version: number; writes: number }>();
  /**
   * This instance's own writes. Another node's write reaches the version by a notification, a few
   * ms later on PostgreSQL; this process's must be seen by its very next request.
   */
  private writes = 0;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly masterKey: MasterKey,
    /** Keys that may still open older sealed values (rotation). */
    private readonly olderKeys: MasterKey[] = [],
    /**
     * Changes whenever anyone writes to `applications` (Store.applicationsVersion); without it,
     * or while it answers undefined, every request reads the row.
     */
    private readonly version: () => number | undefined = () => undefined,
  ) {}

  /** A new application; throws if the name is taken (callers that take names from people use `add`). */
  async create(name: string): Promise<{ id: number; apiKey: string }> {
    const made = await this.add(name);
    if (made === 'name_taken') throw new Error(`an application named "${name}" exists already`);
    return made;
  }

  /** A new application named `name` (trimmed), or 'name_taken' if another has it, ignoring case. */
  async add(name: string): Promise<{ id: number; apiKey: string } | 'name_taken'> {
    const apiKey = newApiKey();
    const hash = hashApiKey(apiKey);
    const id = await this.db.transaction().execute(async (trx) => {
      if (await nameTaken(trx, name)) return undefined;
      const id = await q.insertApplication(trx, name.trim(), hash, Date.now());
      await q.setApiKey(trx, id, hash, seal(this.masterKey, apiKey, keyContext(id)));
      return id;
    });
    return id === undefined ? 'name_taken' : { id, apiKey };
  }

  /** A new name (trimmed); 'name_taken' if another application has it, ignoring case; undefined if no such application. */
  async rename(id: number, name: string): Promise<Application | 'name_taken' | undefined> {
    const outcome = await this.db.transaction().execute(async (trx) => {
      if (!(await q.findApplication(trx, id))) return undefined;
      if (await nameTaken(trx, name, id)) return 'name_taken' as const;
      await q.setName(trx, id, name.trim());
      return 'renamed' as const;
    });
    if (outcome !== 'renamed') return outcome;
    this.writes++;
    return this.find(id);
  }

  /**
   * Removes the application and everything stored for it, in one transaction (all or nothing):
   * its API key stops working at once here, and on other nodes when they hear of the write to
   * `applications` (the same path as a key rotation). Rows deleted per table; undefined if there was no such application.
   */
  async remove(id: number): Promise<Record<string, number> | undefined> {
    // It locks rows of many tables in turn, and a request of the application's on another node may
    // hold one it wants next: if PostgreSQL ends the deletion to break the circle, it runs again.
    const removed = await rerunIfEndedForAnother(() => this.db.transaction().execute((trx) => q.deleteApplication(trx, id)));
    this.writes++;
    return removed;
  }

  /** A new key for the application; the old one stops working at once. */
  async rotateKey(appId: number): Promise<string | undefined> {
    if (!(await q.findApplication(this.db, appId))) return undefined;
    const apiKey = newApiKey();
    const hash = hashApiKey(apiKey);
    await q.setApiKey(this.db, appId, hash, seal(this.masterKey, apiKey, keyContext(appId)));
    this.writes++;
    return apiKey;
  }

  async authenticate(apiKey: string): Promise<Application | undefined> {
    if (apiKey.length > 256) return undefined;
    const hash = hashApiKey(apiKey);
    // Read before the row: a write between the two makes the entry stale at once.
    const version = this.version();
    const writes = this.writes;
    const hit = this.byKeyHash.get(hash);
    if (hit && version !== undefined && hit.version === version && hit.writes === writes) return hit.app;
    const row = await q.findApplicationByKeyHash(this.db, hash);
    if (!row) return undefined;
    const app = deepFreeze(toApplication(row));
    if (version !== undefined) {
      if (this.byKeyHash.size >= CACHE_MAX) this.byKeyHash.clear();
      this.byKeyHash.set(hash, { app, version, writes });
    }
    return app;
  }

  async find(id: number): Promise<Application | undefined> {
    const row = await q.findApplication(this.db, id);
    return row && toApplication(row);
  }

  /** Changes settings; returns the application as it now is, or a message naming a bad value. */
  async updateSettings(id: number, patch: Partial<Record<keyof Settings, number | boolean>>): Promise<Application | string | undefined> {
    const values: Partial<Record<q.SettingsColumn, number>> = {};
    for (const [name, raw] of Object.entries(patch) as [keyof Settings, number | boolean][]) {
      const value = typeof raw === 'boolean' ? Number(raw) : raw;
      const [lo, hi] = SETTING_BOUNDS[name];
      if (!Number.isInteger(value) || value < lo || value > hi) return `${name} must be an integer from ${lo} to ${hi}`;
      values[SETTING_COLUMNS[name]] = value;
    }
    if (Object.keys(values).length > 0) await q.updateSettings(this.db, id, values);
    this.writes++;
    return this.find(id);
  }

  /** The OneTouch callback URL (http or https, a destination `destinations` allows) and method; null removes it. */
  async setCallback(id: number, url: string | null, method: 'GET' | 'POST', destinations: Pick<Destinations, 'check'>): Promise<Application | string | undefined> {
    if (url !== null) {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return 'the callback URL is not a valid URL';
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'the callback URL must be http or https';
      const refused = await destinations.check(url);
      if (refused) return `the callback URL cannot be called: ${refused}`;
    }
    await q.setCallback(this.db, id, url, method);
    this.writes++;
    return this.find(id);
  }

  /** Regions messages may go to (ISO 3166 alpha-2, e.g. ['PT', 'BR']); empty or null: everywhere. */
  async setAllowedCountries(id: number, regions: string[] | null): Promise<Application | string | undefined> {
    const list = (regions ?? []).map((r) => r.trim().toUpperCase()).filter(Boolean);
    const bad = list.find((r) => !isRegion(r));
    if (bad) return `${bad} is not an ISO 3166 region code (like PT, US, BR)`;
    await q.setAllowedCountries(this.db, id, list.length ? [...new Set(list)].join(',') : null);
    this.writes++;
    return this.find(id);
  }

  /** New dashboard credentials (webhooks API): an access key and an API signing key, shown once. */
  async rotateDashboardKeys(id: number): Promise<{ accessKey: string; signingKey: string } | undefined> {
    if (!(await q.findApplication(this.db, id))) return undefined;
    const accessKey = randomBytes(24).toString('base64url');
    const signingKey = randomBytes(24).toString('base64url');
    await q.setDashboardKeys(this.db, id, hashApiKey(accessKey), seal(this.masterKey, signingKey, dashboardKeyContext(id)));
    return { accessKey, signingKey };
  }

  /** Whether `accessKey` is the application's, and if so its API signing key. */
  async dashboardSigningKey(id: number, accessKey: string): Promise<string | undefined> {
    const row = await q.dashboardKeys(this.db, id);
    if (!row?.dashboard_access_key_hash || !row.dashboard_signing_key_sealed) return undefined;
    if (!constantTimeEqual(hashApiKey(accessKey), row.dashboard_access_key_hash)) return undefined;
    return unseal([this.masterKey, ...this.olderKeys], row.dashboard_signing_key_sealed, dashboardKeyContext(id)).toString('utf8');
  }

  /** The application's API key, which signs its callbacks (wire reference §3.3). */
  async apiKeyOf(id: number): Promise<string | undefined> {
    const row = await q.sealedApiKey(this.db, id);
    return row?.api_key_sealed ? unseal([this.masterKey, ...this.olderKeys], row.api_key_sealed, keyContext(id)).toString('utf8') : undefined;
  }

  async list(): Promise<Application[]> {
    return (await q.listApplications(this.db)).map(toApplication);
  }

  /** Creates the "Default" application on the very first start; returns its key that once. */
  async bootstrap(): Promise<{ id: number; apiKey: string } | undefined> {
    if (!(await q.claimOnce(this.db, 'bootstrapped'))) return undefined;
    if ((await this.list()).length > 0) return undefined;
    return this.create('Default');
  }

  details(app: Application) {
    return {
      app: {
        name: app.name,
        plan: app.plan,
        sms_enabled: app.smsEnabled,
        phone_calls_enabled: app.callsEnabled,
        app_id: app.id,
        onetouch_enabled: app.onetouchEnabled,
        white_label: false,
      },
      message: 'Application information.',
      success: true,
    };
  }

  /** One entry per month from the application's first month (at most the last 12) to now. */
  async stats(app: Application, now = Date.now()) {
    const months = monthsBetween(app.createdAt, now, 12);
    const rows = new Map((await q.usageSince(this.db, app.id, months[0])).map((r) => [r.month, r]));
    const stats = months.map((month) => {
      const r = rows.get(month);
      const [year, mm] = month.split('-').map(Number);
      return {
        sms_count: Number(r?.sms ?? 0),
        calls_count: Number(r?.calls ?? 0),
        users_count: Number(r?.users ?? 0),
        auths_count: Number(r?.auths ?? 0),
        month: MONTH_NAMES[mm - 1],
        api_calls_count: Number(r?.api_calls ?? 0),
        year,
      };
    });
    return {
      stats,
      message: 'Monthly statistics.',
      count: stats.length,
      total_users: await q.countUsers(this.db, app.id),
      app_id: app.id,
      success: true,
    };
  }
}

/** A write refused because a row it refers to is gone (SQLite, PostgreSQL 23503). */
const isForeignKeyViolation = (err: unknown) => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
};

const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function monthsBetween(fromMs: number, toMs: number, max: number): string[] {
  const out: string[] = [];
  const d = new Date(toMs);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  const first = monthOf(Math.min(fromMs, toMs));
  for (;;) {
    const month = `${y}-${String(m + 1).padStart(2, '0')}`;
    out.unshift(month);
    if (month <= first || out.length >= max) return out;
    if (--m < 0) {
      m = 11;
      y--;
    }
  }
}

/** What one pending count adds to: a column of the month's usage, or a result of the day's token checks. */
type Tally = { appId: number; usage: 'api_calls' | 'auths' } | { appId: number; day: number; check: TokenCheckResult };
const DAY_MS = 86_400_000;

/**
 * Per-application counts (API calls, successful verifies, token checks by result and UTC day),
 * kept in memory and added to the database about once a second, so that counting costs the hot
 * paths no write. A count the database refused is kept and added with the next flush (memory
 * stays bounded: one number per application and column, or result and day, whatever the outage's
 * length).
 */
export class UsageCounter {
  private pending = new Map<string, { tally: Tally; n: number }>();
  private timer?: NodeJS.Timeout;
  /** Flushes failed in a row (logged on the first and on recovery, not every second). */
  private failures = 0;
  private flushing?: Promise<void>;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
  ) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  countApiCall(appId: number): void {
    this.count(appId, 'api_calls');
  }

  count(appId: number, column: 'api_calls' | 'auths', n = 1): void {
    this.add(`${appId}:${column}`, { appId, usage: column }, n);
  }

  /** A token verification's result, on the UTC day it was made. */
  countCheck(appId: number, result: TokenCheckResult, now = Date.now()): void {
    const day = Math.floor(now / DAY_MS);
    this.add(`${appId}:${day}:${result}`, { appId, day, check: result }, 1);
  }

  private add(key: string, tally: Tally, n: number): void {
    const p = this.pending.get(key);
    if (p) p.n += n;
    else this.pending.set(key, { tally, n });
  }

  /** One flush at a time: `stop` waits for the one under way, then writes what is left. */
  flush(): Promise<void> {
    const next = (this.flushing ?? Promise.resolve()).catch(() => {}).then(() => this.write());
    this.flushing = next;
    return next;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const month = monthOf(Date.now());
    const entries = [...batch];
    let done = 0;
    try {
      for (const [, { tally, n }] of entries) {
        try {
          if ('usage' in tally) await q.addUsage(this.db, tally.appId, month, tally.usage, n);
          else await q.addTokenChecks(this.db, tally.appId, tally.day, tally.check, n);
        } catch (err) {
          // The application was deleted since these were counted: nothing to add them to (kept, they would fail every flush).
          if (!isForeignKeyViolation(err)) throw err;
          this.log?.info({ event: 'usage_dropped', app_id: tally.appId, column: 'usage' in tally ? tally.usage : tally.check, n }, 'usage counts of a deleted application dropped');
        }
        done++;
      }
    } catch (err) {
      // What was not written goes back, to be added with the next flush.
      for (const [key, { tally, n }] of entries.slice(done)) this.add(key, tally, n);
      if (this.failures++ === 0) this.log?.warn({ event: 'usage_flush_failed', err: (err as Error).message, kept: entries.length - done }, 'usage counts not saved; kept for the next try');
      throw err;
    }
    if (this.failures > 0) this.log?.info({ event: 'usage_flush_recovered', failed_tries: this.failures }, 'usage counts saved again');
    this.failures = 0;
  }

  /**
   * The last flush. A connection the database dropped is replaced on the next query, so a failed
   * one is tried once more; then the counts are given up, and said so, rather than failing the
   * shutdown half done (the rest of it, timers included, would never stop and the process hangs).
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.flush();
    } catch {
      await this.flush().catch((err: Error) => {
        const lost = [...this.pending.values()].reduce((sum, p) => sum + p.n, 0);
        this.pending.clear();
        this.log?.warn({ event: 'usage_lost', err: err.message, lost }, 'usage counts not saved at shutdown: lost');
      });
    }
  }
}
