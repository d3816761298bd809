// The SMS-pumping defence, on every path that sends a code to a phone (sms, call, phone
// verification, device registration by phone). Bots send codes to premium or sequential numbers
// so that someone earns from the traffic; every rule below bounds what such a run can cost.
// A block is an Authy-style error plus an audit entry naming the rule: a log line and a
// `blocked` row in the outbox (`openfactor outbox` shows it).
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { fail, type Failure } from '../../core/errors.ts';
import { callingCodeOf, lineTypeOf, maskE164, prefixOf, regionOf } from '../../core/phone.ts';
import type { Outbox } from '../../delivery/outbox.ts';
import type { DB } from '../../store/schema.ts';
import type { Application } from '../applications/service.ts';
import type { SafetyLimits } from '../tokens/limits.ts';
import type { Contacts } from '../../store/contacts.ts';
import * as q from './queries.ts';

/** For a write of another feature that verifies codes and counts their conversions itself (PostgreSQL). */
export { conversionsCountedIn } from './queries.ts';

const WINDOW_MS = 10 * 60_000;
/** The baseline is the average window of the hour before the current one. */
const BASELINE_WINDOWS = 6;
/** A prefix may always take the application's `prefixSendsPerWindow`; more only if its baseline is higher… */
const VELOCITY_FACTOR = 5;
/** …and three times as many when its codes come back verified (≥ 50% of ≥ 10 sends last hour). */
const TRUSTED_BOOST = 3;
/** Last hour's sends to a prefix of which fewer than 10% were verified: pumping, not users. */
const LOW_CONVERSION_MIN_SENDS = 30;
const LOW_CONVERSION_RATE = 0.1;
const QUARANTINE_MS = 60 * 60_000;

/** Line types no code goes to by SMS (non-personal numbers) and by voice (premium). */
const NO_SMS = new Set(['PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'UAN', 'VOICEMAIL', 'PAGER']);
const NO_VOICE = new Set(['PREMIUM_RATE', 'SHARED_COST', 'UAN']);

export type Rule =
  | 'country_not_allowed'
  | 'landline_sms'
  | 'non_personal_number'
  | 'prefix_quarantined'
  | 'number_hourly_cap'
  | 'number_daily_cap'
  | 'app_daily_budget'
  | 'prefix_velocity'
  | 'prefix_low_conversion'
  | 'country_quarantined'
  | 'country_velocity';

export type GuardResult = { ok: true } | (Failure & { rule: Rule });

export interface Destination {
  e164: string;
  channel: 'sms' | 'voice';
  userId: number | null;
  locale: string;
}

/**
 * Where a verified code of a number is counted: its country's key, and its prefix's keyed index
 * (`ix:…`) rather than the prefix, so a sent code can keep both and a verify counts without
 * opening the number. A prefix's traffic is its sends (under the prefix) with its conversions
 * (under the index; under the prefix too for those counted before 0044).
 */
export interface ConversionKeys {
  prefix: string;
  country: string;
}

export const conversionKeysOf = (contacts: Contacts, e164: string): ConversionKeys => ({ prefix: prefixKeyOf(contacts, prefixOf(e164)), country: countryKey(e164) });
const prefixKeyOf = (contacts: Contacts, prefix: string) => `ix:${contacts.prefixIndex(prefix)}`;

export class SendGuard {
  private readonly past = new Map<string, { window: number; traffic: { sends: number; conversions: number } }>();

  /** The time the windows are counted in: injectable, so tests need not wait for a window to turn. */
  private readonly clock: () => number;

  constructor(
    private readonly d: { db: Kysely<DB>; contacts: Contacts; limits: SafetyLimits; outbox: Outbox; log: FastifyBaseLogger; clock?: () => number },
  ) {
    this.clock = d.clock ?? Date.now;
  }

  /** Whether a code may go to this number now; a refusal is audited before it is returned. */
  async check(app: Application, to: Destination, now = this.clock()): Promise<GuardResult> {
    const rule = await this.firstRule(app, to, now);
    if (!rule) return { ok: true };
    const [name, failure] = rule;
    this.d.log.warn({ event: 'send_blocked', rule: name, app_id: app.id, channel: to.channel, destination: maskE164(to.e164) }, `send blocked: ${name}`);
    // The row says when it happened (the wall clock); the guard's own clock only places counts in
    // its windows (tests move it up to ten minutes on, which near midnight was tomorrow's traffic).
    await this.d.outbox.recordBlocked(this.d.db, { appId: app.id, userId: to.userId, channel: to.channel, destination: to.e164, locale: to.locale }, name);
    return { ...failure, rule: name };
  }

  private async firstRule(app: Application, to: Destination, now: number): Promise<[Rule, Failure] | undefined> {
    const s = app.settings;
    const region = regionOf(to.e164);
    if (app.allowedCountries && (!region || !app.allowedCountries.includes(region))) return ['country_not_allowed', fail('COUNTRY_NOT_ALLOWED')];
    const type = lineTypeOf(to.e164);
    if (to.channel === 'sms' && type === 'FIXED_LINE') return ['landline_sms', fail('LANDLINE_SMS')];
    if (type && (to.channel === 'sms' ? NO_SMS : NO_VOICE).has(type)) return ['non_personal_number', fail('NOT_PROVISIONED')];

    const prefix = prefixOf(to.e164);
    const country = countryKey(to.e164);
    const closed = await q.findQuarantines(this.d.db, app.id, country, prefix, now);
    if (closed.country) return ['country_quarantined', fail('DOS_COUNTRY')];
    if (closed.prefix) return ['prefix_quarantined', fail('DOS_PREFIX')];
    if (!(await this.d.limits.takeNumber('number-hour', app.id, to.e164, s.sendsPerNumberHour, 3600))) return ['number_hourly_cap', fail('DOS_DESTINATION')];
    if (!(await this.d.limits.takeNumber('number-day', app.id, to.e164, s.sendsPerNumberDay, 86_400))) return ['number_daily_cap', fail('DOS_DESTINATION')];
    if (!(await this.d.limits.take('app-day', String(app.id), s.dailySendBudget, 86_400))) {
      return ['app_daily_budget', fail(to.channel === 'sms' ? 'DAILY_SMS_LIMIT' : 'DAILY_CALL_LIMIT')];
    }

    // Velocity per prefix, and per country for attacks spread over many prefixes, each against its
    // own recent baseline and weighed by how often its codes come back verified.
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const byPrefix = await this.velocity(app.id, prefix, s.prefixSendsPerWindow, window, prefixKeyOf(this.d.contacts, prefix));
    if (byPrefix) return this.quarantine(app.id, prefix, byPrefix === 'velocity' ? 'prefix_velocity' : 'prefix_low_conversion', now);
    const byCountry = await this.velocity(app.id, country, s.countrySendsPerWindow, window, country);
    if (byCountry === 'velocity') return this.quarantine(app.id, country, 'country_velocity', now);
    return undefined;
  }

  /** Counts a send for `key` in this window; says whether it is over its allowance or its codes (counted under `converts`) never come back. */
  private async velocity(appId: number, key: string, floor: number, window: number, converts: string): Promise<'velocity' | 'low_conversion' | undefined> {
    const sends = await q.countSend(this.d.db, appId, key, window);
    const past = await this.pastHour(appId, key, converts, window);
    const trusted = past.sends >= 10 && past.conversions / past.sends >= 0.5;
    const limit = Math.max(floor, VELOCITY_FACTOR * (past.sends / BASELINE_WINDOWS)) * (trusted ? TRUSTED_BOOST : 1);
    if (sends > limit) return 'velocity';
    if (past.sends >= LOW_CONVERSION_MIN_SENDS && past.conversions / past.sends < LOW_CONVERSION_RATE) return 'low_conversion';
    return undefined;
  }

  /**
   * The hour before the current window. Closed windows no longer change (sends and conversions
   * are counted in the window they happen in), so each is read once per window and key.
   */
  private async pastHour(appId: number, key: string, converts: string, window: number) {
    const id = `${appId}|${key}`;
    const hit = this.past.get(id);
    if (hit && hit.window === window) return hit.traffic;
    const traffic = await q.traffic(this.d.db, appId, key === converts ? [key] : [key, converts], window - BASELINE_WINDOWS * WINDOW_MS, window);
    if (this.past.size >= 100_000) this.past.clear();
    this.past.set(id, { window, traffic });
    return traffic;
  }

  private async quarantine(appId: number, key: string, rule: Rule, now: number): Promise<[Rule, Failure]> {
    await q.quarantine(this.d.db, appId, key, rule, now + QUARANTINE_MS, now);
    this.d.log.warn({ event: 'quarantined', rule, app_id: appId, prefix: maskPrefix(key) }, 'number prefix or country quarantined');
    return [rule, fail(rule === 'country_velocity' ? 'DOS_COUNTRY' : 'DOS_PREFIX')];
  }

  /** A code sent to this number came back verified: the prefix's traffic is real users. */
  async converted(appId: number, e164: string, now = this.clock()): Promise<void> {
    await this.convertedUnder(appId, this.conversionKeys(e164), now);
  }

  /** A verified code whose keys its send kept (conversionKeys): counted without the number. */
  async convertedUnder(appId: number, keys: ConversionKeys, now = this.clock()): Promise<void> {
    const window = this.conversionWindow(now);
    // Both in this turn's one write of conversions.
    await Promise.all([q.countConversion(this.d.db, appId, keys.prefix, window), q.countConversion(this.d.db, appId, keys.country, window)]);
  }

  /** The window a conversion now is counted in, for a write that counts it itself (a sent code's use on PostgreSQL). */
  conversionWindow(now = this.clock()): number {
    return Math.floor(now / WINDOW_MS) * WINDOW_MS;
  }

  /** What a sent code keeps so that its verify can count the conversion (convertedUnder). */
  conversionKeys(e164: string): ConversionKeys {
    return conversionKeysOf(this.d.contacts, e164);
  }

  quarantines(appId: number, now = this.clock()) {
    return q.quarantinesOf(this.d.db, appId, now);
  }

  /**
   * An operator reopens a prefix or country: the quarantine goes, and so does its recent traffic,
   * so the defence judges it afresh (otherwise the next send would close it again at once). Other
   * nodes forget their cached hour when the 10-minute window turns. False if it was not closed.
   */
  async lift(appId: number, prefix: string, now = this.clock()): Promise<boolean> {
    const [lifted] = await q.liftQuarantine(this.d.db, appId, prefix);
    if (Number(lifted?.numDeletedRows ?? 0) === 0) return false;
    const window = Math.floor(now / WINDOW_MS) * WINDOW_MS;
    const keys = prefix.startsWith('cc:') ? [prefix] : [prefix, prefixKeyOf(this.d.contacts, prefix)];
    await q.forgetTraffic(this.d.db, appId, keys, window - BASELINE_WINDOWS * WINDOW_MS);
    this.past.delete(`${appId}|${prefix}`);
    this.d.log.warn({ event: 'quarantine_lifted', app_id: appId, prefix: maskPrefix(prefix) }, 'quarantine lifted by an operator');
    return true;
  }
}

/** A country's traffic is kept under its calling code (`cc:+351`), beside the prefixes. */
const countryKey = (e164: string) => `cc:+${callingCodeOf(e164) ?? e164.slice(1, 2)}`;

/** For log lines: a country key as it is, a number prefix without its last two digits. */
export const maskPrefix = (prefix: string) => (prefix.startsWith('cc:') ? prefix : prefix.slice(0, -2) + 'XX');
