// Applications: creation with an API key, key rotation, authentication, details and stats.
import type { Kysely } from 'kysely';
import { hashApiKey, newApiKey, seal, type MasterKey } from '../../core/crypto.ts';
import type { DB } from '../../store/schema.ts';
import * as q from './queries.ts';

export interface Application {
  id: number;
  name: string;
  plan: string;
  smsEnabled: boolean;
  callsEnabled: boolean;
  onetouchEnabled: boolean;
  createdAt: number;
}

const toApplication = (r: NonNullable<Awaited<ReturnType<typeof q.findApplication>>>): Application => ({
  id: r.id,
  name: r.name,
  plan: r.plan,
  smsEnabled: r.sms_enabled === 1,
  callsEnabled: r.calls_enabled === 1,
  onetouchEnabled: r.onetouch_enabled === 1,
  createdAt: Number(r.created_at),
});

/** The sealed copy of the key is bound to its row; callbacks are signed with it later. */
const keyContext = (appId: number) => `applications:${appId}:api_key`;

/** `YYYY-MM` in UTC. */
export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

export class Applications {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly masterKey: MasterKey,
  ) {}

  async create(name: string): Promise<{ id: number; apiKey: string }> {
    const apiKey = newApiKey();
    const hash = hashApiKey(apiKey);
    const id = await this.db.transaction().execute(async (trx) => {
      const id = await q.insertApplication(trx, name, hash, Date.now());
      await q.setApiKey(trx, id, hash, seal(this.masterKey, apiKey, keyContext(id)));
      return id;
    });
    return { id, apiKey };
  }

  /** A new key for the application; the old one stops working at once. */
  async rotateKey(appId: number): Promise<string | undefined> {
    if (!(await q.findApplication(this.db, appId))) return undefined;
    const apiKey = newApiKey();
    const hash = hashApiKey(apiKey);
    await q.setApiKey(this.db, appId, hash, seal(this.masterKey, apiKey, keyContext(appId)));
    return apiKey;
  }

  async authenticate(apiKey: string): Promise<Application | undefined> {
    if (apiKey.length > 256) return undefined;
    const row = await q.findApplicationByKeyHash(this.db, hashApiKey(apiKey));
    return row && toApplication(row);
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

/**
 * Per-application API call counts, kept in memory and added to the database about once a
 * second, so that counting costs the hot paths no write.
 */
export class UsageCounter {
  private pending = new Map<number, number>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly db: Kysely<DB>) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  countApiCall(appId: number): void {
    this.pending.set(appId, (this.pending.get(appId) ?? 0) + 1);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const month = monthOf(Date.now());
    for (const [appId, n] of batch) await q.addUsage(this.db, appId, month, 'api_calls', n);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
