// Sends per user per hour, counted in the database (rate-limiter-flexible's SQLite or PostgreSQL
// store), so the cap holds across restarts and across every process sharing the database.
// (The verify attempt cap lives in the user's row instead: verify reads that row anyway.)
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { lazy } from '../../core/lazy.ts';

/** Loaded at the first count (a start-up counts nothing). */
export const limiters = lazy<typeof import('rate-limiter-flexible')>('rate-limiter-flexible');
import type { Contacts } from '../../store/contacts.ts';
import type { Store } from '../../store/db.ts';
import type { Settings } from '../applications/service.ts';

export class SafetyLimits {
  /** One limiter per (kind, points, duration): applications may differ in their settings. */
  private limiters = new Map<string, RateLimiterAbstract>();

  constructor(
    private readonly store: Store,
    /** Numbers are counted under their blind index: the table never holds one. */
    private readonly contacts: Pick<Contacts, 'phoneIndex'>,
  ) {}

  private limiter(kind: string, points: number, duration: number): RateLimiterAbstract {
    const id = `${kind}:${points}:${duration}`;
    let l = this.limiters.get(id);
    if (!l) {
      const { storeType, client } = this.store.limiterClient;
      const opts = { storeClient: client, storeType, tableName: 'rate_limits', tableCreated: true, keyPrefix: kind, points, duration };
      const { RateLimiterPostgres, RateLimiterSQLite } = limiters();
      l = storeType === 'postgres' ? new RateLimiterPostgres({ ...opts, clearExpiredByTimeout: false }) : new RateLimiterSQLite({ ...opts, clearExpiredByTimeout: false });
      this.limiters.set(id, l);
    }
    return l;
  }

  /** Takes one send from the user's hourly allowance; false when it is used up. */
  takeSend(s: Settings, userId: number): Promise<boolean> {
    return this.take('sends', String(userId), s.sendsPerHour, 3600);
  }

  /** Device registration by phone: codes sent to one number per hour. */
  takePhoneRegistration(e164: string): Promise<boolean> {
    return this.take('phone-registration', this.contacts.phoneIndex(e164), 5, 3600);
  }

  /** Sends of one application to one number (the SMS-pumping defence's per-number caps). */
  takeNumber(kind: string, appId: number, e164: string, points: number, duration: number): Promise<boolean> {
    return this.take(kind, `${appId}:${this.contacts.phoneIndex(e164)}`, points, duration);
  }

  /**
   * Device registration by phone, which anyone may call: starts per client address, then in all
   * (a client over its own allowance does not use up everyone's). `first`: the first refusal of
   * its window (worth a log line; the rest of a flood is not).
   */
  async takeRegistrationStart(address: string, perAddress: number, perHour: number): Promise<{ ok: boolean; first: boolean }> {
    const own = await this.takeRes('registration-address', address, perAddress, 3600);
    if (!own.ok) return own;
    return this.takeRes('registration-all', 'all', perHour, 3600);
  }

  private async takeRes(kind: string, key: string, points: number, duration: number): Promise<{ ok: boolean; first: boolean }> {
    try {
      await this.limiter(kind, points, duration).consume(key);
      return { ok: true, first: false };
    } catch (e) {
      if (e instanceof limiters().RateLimiterRes) return { ok: false, first: e.consumedPoints === points + 1 };
      throw e;
    }
  }

  /** Points of `key`'s allowance used in its current window. */
  async used(kind: string, key: string, points: number, duration: number): Promise<number> {
    return (await this.limiter(kind, points, duration).get(key))?.consumedPoints ?? 0;
  }

  /** Takes one point of `key`'s allowance (`points` per `duration` seconds); false when it is used up. */
  async take(kind: string, key: string, points: number, duration: number): Promise<boolean> {
    try {
      await this.limiter(kind, points, duration).consume(key);
      return true;
    } catch (e) {
      if (e instanceof limiters().RateLimiterRes) return false;
      throw e;
    }
  }
}
