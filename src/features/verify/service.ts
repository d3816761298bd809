// Twilio Verify v2: services, verifications and their checks, attempts. Each Verify service is
// backed by an OpenFactor application of its own (named "<friendly name> (VA…)"), so its codes go
// through the same outbox, providers, send guard, usage counts, retention and console lists as
// the Authy API's; deleting the service deletes that application with all its data.
//
// Verification rules (Twilio's, as phone verification's): ten minutes to live; a start within
// them for the same destination resends the same code under the same SID (at most five sends,
// then 60203); five checks, then 60202 and `max_attempts_reached`; an ended or expired
// verification is gone (404, 20404).
import { codeText, randomDigits, resendable, VERIFICATION_LIFETIME_MS, VERIFICATION_MAX_CHECKS } from '../../core/codes.ts';
import { constantTimeEqual, seal, unseal } from '../../core/crypto.ts';
import { asTwilio, twilioFail, twilioInvalid, type TwilioFailure } from '../../core/errors.ts';
import { resolveLocale } from '../../core/i18n.ts';
import type { Params } from '../../core/params.ts';
import { regionOf } from '../../core/phone.ts';
import type { Applications } from '../applications/service.ts';
import type { SendingDeps } from '../devices/proof-codes.ts';
import type { VerifyAccount } from './credentials.ts';
import { applyServiceParams, readCheck, readFriendlyName, readStart, readTo, type Channel, type StartInput } from './params.ts';
import * as q from './queries.ts';
import { VerifyRateLimits } from './rate-limits.ts';
import { defaultSettings, renderAttempt, renderCheck, renderService, renderVerification, type ServiceSettings, type VerificationDetails, type VerificationView } from './render.ts';
import { dateParam, isSid, listBody, newSid, notFound, readPaging, str } from './twilio.ts';

const MAX_SENDS = 5;
/** A number written as readTo writes it (E.164): `+`, then up to 15 digits. */
const E164 = /^\+[1-9]\d{1,14}$/;

export type Answer = { ok: true; status: number; body: unknown; headers?: Record<string, string> } | TwilioFailure;

/** What sends codes (app.ts builds it once), the applications that back services. */
export type VerifyDeps = Pick<SendingDeps, 'db' | 'keys' | 'contacts' | 'outbox' | 'wakeOutbox' | 'guard'> & {
  applications: Applications;
  /** Drops what the delivery router keeps of a deleted application. */
  forgetApplication(appId: number): void;
};

interface Service {
  id: number;
  sid: string;
  appId: number;
  settings: ServiceSettings;
  createdAt: number;
  updatedAt: number;
}

export const codeContext = (verificationSid: string) => `verify_verifications:${verificationSid}:code`;
export const toContext = (verificationSid: string) => `verify_verifications:${verificationSid}:to`;
/** The application behind a service: unique, as application names are, since the SID is. */
export const applicationNameOf = (friendlyName: string, serviceSid: string) => `${friendlyName} (${serviceSid})`;

const toService = (r: NonNullable<Awaited<ReturnType<typeof q.serviceBySid>>>): Service => ({
  id: r.id,
  sid: r.sid,
  appId: r.app_id,
  settings: JSON.parse(r.settings) as ServiceSettings,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export class Verify {
  /** Services' rate limits and buckets, applied to starts (rate-limits.ts). */
  readonly rateLimits: VerifyRateLimits;

  constructor(private readonly d: VerifyDeps) {
    this.rateLimits = new VerifyRateLimits(d);
  }

  // Services --------------------------------------------------------------------------------

  private async serviceOf(account: VerifyAccount, sid: string): Promise<Service | undefined> {
    if (!isSid('VA', sid)) return undefined;
    const row = await q.serviceBySid(this.d.db, account.id, sid);
    return row && toService(row);
  }

  /**
   * What a check needs of a service (its id and application), remembered: neither ever changes
   * for a SID, and a deleted service's verifications are deleted with it, so a check that still
   * finds it here finds no verification (404, as for an unknown service).
   */
  private async checkedServiceOf(account: VerifyAccount, sid: string): Promise<Pick<Service, 'id' | 'sid' | 'appId'> | undefined> {
    const key = `${account.id}:${sid}`;
    const known = this.servicesChecked.get(key);
    if (known) return known;
    const s = await this.serviceOf(account, sid);
    if (!s) return undefined;
    if (this.servicesChecked.size >= 10_000) this.servicesChecked.clear();
    this.servicesChecked.set(key, { id: s.id, sid: s.sid, appId: s.appId });
    return s;
  }
  private readonly servicesChecked = new Map<string, Pick<Service, 'id' | 'sid' | 'appId'>>();

  private serviceBody(account: VerifyAccount, s: Service, base: string) {
    return renderService({ sid: s.sid, accountSid: account.sid, settings: s.settings, createdAt: s.createdAt, updatedAt: s.updatedAt }, base);
  }

  async createService(account: VerifyAccount, params: Params, base: string): Promise<Answer> {
    const name = readFriendlyName(params, true);
    if (!name.ok) return name;
    const settings = applyServiceParams(defaultSettings(name.value!), params, undefined);
    if (!settings.ok) return settings;
    const sid = newSid('VA');
    const app = await this.d.applications.create(applicationNameOf(name.value!, sid));
    const now = Date.now();
    try {
      await q.insertService(this.d.db, { sid, accountId: account.id, appId: app.id, settings: JSON.stringify(settings.value), now });
    } catch (e) {
      await this.d.applications.remove(app.id);
      throw e;
    }
    return { ok: true, status: 201, body: this.serviceBody(account, { id: 0, sid, appId: app.id, settings: settings.value, createdAt: now, updatedAt: now }, base) };
  }

  async fetchService(account: VerifyAccount, sid: string, base: string): Promise<Answer> {
    const s = await this.serviceOf(account, sid);
    return s ? { ok: true, status: 200, body: this.serviceBody(account, s, base) } : notFound(`/Services/${sid}`);
  }

  async updateService(account: VerifyAccount, sid: string, params: Params, base: string): Promise<Answer> {
    const s = await this.serviceOf(account, sid);
    if (!s) return notFound(`/Services/${sid}`);
    const name = readFriendlyName(params, false);
    if (!name.ok) return name;
    const settings = applyServiceParams(s.settings, params, name.value);
    if (!settings.ok) return settings;
    const now = Date.now();
    if (name.value !== undefined && name.value !== s.settings.friendly_name) await this.d.applications.rename(s.appId, applicationNameOf(name.value, s.sid));
    await q.setServiceSettings(this.d.db, s.id, JSON.stringify(settings.value), now);
    return { ok: true, status: 200, body: this.serviceBody(account, { ...s, settings: settings.value, updatedAt: now }, base) };
  }

  async listServices(account: VerifyAccount, params: Params, base: string): Promise<Answer> {
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const rows = await q.servicesPage(this.d.db, account.id, paging.value.after, paging.value.pageSize + 1);
    return { ok: true, status: 200, body: listBody('services', rows.map(toService), (s) => this.serviceBody(account, s, base), paging.value, { base, path: '/v2/Services', filters: {} }) };
  }

  /** Deletes the service and its application with everything in it (verifications, attempts, messages). */
  async deleteService(account: VerifyAccount, sid: string): Promise<Answer> {
    const s = await this.serviceOf(account, sid);
    if (!s) return notFound(`/Services/${sid}`);
    await this.d.applications.remove(s.appId);
    this.d.forgetApplication(s.appId);
    return { ok: true, status: 204, body: undefined };
  }

  // Verifications: the hot path --------------------------------------------------------------

  /** `POST /v2/Services/{sid}/Verifications`: a new code, or the same one again within its lifetime. */
  async startVerification(account: VerifyAccount, serviceSid: string, params: Params, base: string, again = false): Promise<Answer> {
    const service = await this.serviceOf(account, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/Verifications`);
    const input = readStart(params, service.settings);
    if (!input.ok) return input;
    const app = await this.d.applications.find(service.appId);
    if (!app) return notFound(`/Services/${serviceSid}/Verifications`);
    // Counted once per request (not again when a lost race retries); only the values' HMACs are kept.
    const limited = await this.rateLimits.apply(service, input.value.details.rate_limits, !again);
    if (!limited.ok) return limited;
    input.value.details.rate_limits = limited.value;
    const { to, channel } = input.value;
    const now = Date.now();
    const toIndex = this.indexOf(to, channel);
    const open = await q.latestVerification(this.d.db, service.id, toIndex);
    const reuse = open && resendable(open, now) ? open : undefined;
    if (reuse && reuse.sends >= MAX_SENDS) return twilioFail('MAX_SENDS');
    const locale = resolveLocale(input.value.locale, channel === 'email' ? undefined : regionOf(to));
    if (channel !== 'email') {
      const guarded = await this.d.guard.check(app, { e164: to, channel: channel === 'call' ? 'voice' : 'sms', userId: null, locale });
      if (!guarded.ok) return asTwilio(guarded);
    }

    const sid = reuse?.sid ?? newSid('VE');
    const code = reuse ? unseal(this.d.keys, reuse.code_sealed!, codeContext(sid)).toString('utf8') : (input.value.customCode ?? randomDigits(service.settings.code_length));
    const details: VerificationDetails = reuse ? JSON.parse(reuse.details) : input.value.details;
    const text = messageText(input.value, service.settings, details, code, locale);
    const message = this.d.outbox.enqueueStep({ appId: app.id, userId: null, channel: channel === 'call' ? 'voice' : channel, destination: to, text, locale }, now);
    const id = await q.writeStart(this.d.db, {
      verification: reuse
        ? { resend: { id: reuse.id, maxSends: MAX_SENDS, channel, now } }
        : {
            fresh: {
              sid,
              app_id: app.id,
              service_id: service.id,
              to_index: toIndex,
              to_sealed: this.d.contacts.seal(to, toContext(sid)),
              channel,
              status: 'pending',
              code_sealed: seal(this.d.keys[0], code, codeContext(sid)),
              locale,
              details: JSON.stringify(details),
              created_at: now,
              updated_at: now,
              expires_at: now + VERIFICATION_LIFETIME_MS,
            },
          },
      message: message.step,
      attempt: { sid: newSid('VL'), appId: app.id, accountId: account.id, serviceId: service.id, toIndex, channel, country: channel === 'email' ? null : (regionOf(to) ?? null), messageSid: message.sid, now },
    });
    // Lost to a concurrent start: once more, now resending that one's code.
    if (id === undefined) return reuse ? twilioFail('MAX_SENDS') : again ? twilioFail('CONCURRENT_STARTS') : this.startVerification(account, serviceSid, params, base, true);
    this.d.wakeOutbox();
    const view = { sid, serviceSid: service.sid, accountSid: account.sid, to, channel, status: 'pending', details, createdAt: reuse ? Number(reuse.created_at) : now, updatedAt: now };
    return { ok: true, status: 201, body: renderVerification({ ...view, attempts: await q.attemptsOf(this.d.db, id) }, base) };
  }

  /** `POST /v2/Services/{sid}/VerificationCheck`: five checks per verification, approved once. */
  async checkVerification(account: VerifyAccount, serviceSid: string, params: Params): Promise<Answer> {
    const service = await this.checkedServiceOf(account, serviceSid);
    const gone = notFound(`/Services/${serviceSid}/VerificationCheck`);
    if (!service) return gone;
    const input = readCheck(params);
    if (!input.ok) return input;
    const found = await this.findVerification(service, input.value);
    if (!found.ok) return found;
    const row = found.row;
    const now = Date.now();
    if (row.status === 'max_attempts_reached' && Number(row.expires_at) > now) return twilioFail('MAX_CHECKS');
    if (row.status !== 'pending' || Number(row.expires_at) <= now) return gone;
    const code = unseal(this.d.keys, row.code_sealed!, codeContext(row.sid)).toString('utf8');
    const details = JSON.parse(row.details) as VerificationDetails;
    const right = constantTimeEqual(input.value.code, code) && (details.amount ?? undefined) === input.value.amount && (details.payee ?? undefined) === input.value.payee;
    const to = found.to ?? this.openTo(row);
    // A right code approves in the write that counts the check, which counts the number's
    // conversion too where it can (PostgreSQL).
    const conversion = right && row.channel !== 'email' ? { ...this.d.guard.conversionKeys(to), window: this.d.guard.conversionWindow() } : undefined;
    const counted = await q.countCheck(this.d.db, { id: row.id, max: VERIFICATION_MAX_CHECKS, right, now, conversion });
    if (counted === undefined) return (await q.verificationBySid(this.d.db, service.id, row.sid))?.status === 'max_attempts_reached' ? twilioFail('MAX_CHECKS') : gone;
    const status = counted.status;
    if (status === 'approved' && conversion && !counted.counted) await this.d.guard.convertedUnder(service.appId, conversion);
    const view = this.viewOf(account, service, row, to, details);
    return { ok: true, status: 200, body: renderCheck({ ...view, status, updatedAt: status === 'pending' ? view.updatedAt : now }) };
  }

  /**
   * The verification a check names: by SID, or the newest for `To`. Found by `To`, it also gives
   * the number or address: the start stored it as readTo gave it, and the blind index matched, so
   * it need not be unsealed (an AES-GCM open a check, two for a right one).
   */
  private async findVerification(service: Pick<Service, 'id' | 'sid'>, input: { verificationSid?: string; to?: string }): Promise<{ ok: true; row: q.VerificationRow; to?: string } | TwilioFailure> {
    const gone = notFound(`/Services/${service.sid}/VerificationCheck`);
    if (input.verificationSid !== undefined) {
      if (!isSid('VE', input.verificationSid)) return twilioInvalid('VerificationSid');
      const row = await q.verificationBySid(this.d.db, service.id, input.verificationSid);
      return row ? { ok: true, row } : gone;
    }
    const newest = await this.newestTo(service.id, input.to!);
    if (!newest.ok) return newest;
    return newest.row ? { ok: true, row: newest.row, to: newest.to } : gone;
  }

  /**
   * The newest verification to a number or address, and the number or address as the start
   * stored it. A number in E.164, as clients send it, is looked up as it is first: the start
   * stored readTo's E.164, so a row under its blind index was started for exactly this number,
   * and the check skips libphonenumber's parse and validation (13 µs a call, 7% of a v2 check's
   * profile on SQLite). Any other form, or no such row, is read as the start read it.
   */
  private async newestTo(serviceId: number, raw: string): Promise<{ ok: true; row?: q.VerificationRow; to: string } | TwilioFailure> {
    if (E164.test(raw)) {
      const row = await q.latestVerification(this.d.db, serviceId, this.indexOf(raw, 'sms'));
      if (row) return { ok: true, row, to: raw };
    }
    const channel: Channel = raw.startsWith('+') ? 'sms' : 'email';
    const to = readTo(raw, channel);
    if (!to.ok) return to;
    // Already looked up under this very number: nothing there.
    if (to.value === raw && E164.test(raw)) return { ok: true, to: raw };
    return { ok: true, row: await q.latestVerification(this.d.db, serviceId, this.indexOf(to.value, channel)), to: to.value };
  }

  /** `GET …/Verifications/{sid}`: only while pending (Twilio deletes ended verifications). */
  async fetchVerification(account: VerifyAccount, serviceSid: string, sid: string, base: string): Promise<Answer> {
    const live = await this.liveVerification(account, serviceSid, sid);
    if (!live.ok) return live;
    return { ok: true, status: 200, body: await this.verificationBody(account, live.service, live.row, base, live.to) };
  }

  /** `POST …/Verifications/{sid}` with `Status=canceled|approved`. */
  async updateVerification(account: VerifyAccount, serviceSid: string, sid: string, params: Params, base: string): Promise<Answer> {
    const statusR = str(params, 'Status', 40);
    if (!statusR.ok) return statusR;
    const status = statusR.value?.trim().toLowerCase();
    if (status !== 'canceled' && status !== 'approved') return twilioInvalid('Status', 'canceled or approved');
    const live = await this.liveVerification(account, serviceSid, sid);
    if (!live.ok) return live;
    const now = Date.now();
    if (!(await q.endVerification(this.d.db, live.row.id, status, now))) return notFound(`/Services/${serviceSid}/Verifications/${sid}`);
    if (status === 'approved' && live.row.channel !== 'email') await this.d.guard.converted(live.service.appId, live.to);
    return { ok: true, status: 200, body: await this.verificationBody(account, live.service, { ...live.row, status, updated_at: now }, base, live.to) };
  }

  /** A pending verification by SID or by number or address, with its number or address (opened once; given, when found by it: see findVerification). */
  private async liveVerification(account: VerifyAccount, serviceSid: string, sid: string): Promise<{ ok: true; service: Service; row: q.VerificationRow; to: string } | TwilioFailure> {
    const service = await this.serviceOf(account, serviceSid);
    // Twilio takes the number or address in place of the SID: the newest verification to it.
    const byTo = !service || isSid('VE', sid) ? undefined : await this.newestTo(service.id, sid);
    const row = !service ? undefined : byTo ? (byTo.ok ? byTo.row : undefined) : await q.verificationBySid(this.d.db, service.id, sid);
    if (!service || !row || row.status !== 'pending' || Number(row.expires_at) <= Date.now()) return notFound(`/Services/${serviceSid}/Verifications/${sid}`);
    return { ok: true, service, row, to: byTo?.ok ? byTo.to : this.openTo(row) };
  }

  private async verificationBody(account: VerifyAccount, service: Service, row: q.VerificationRow, base: string, to: string) {
    return renderVerification({ ...this.viewOf(account, service, row, to), attempts: await q.attemptsOf(this.d.db, row.id) }, base);
  }

  private viewOf(account: VerifyAccount, service: Pick<Service, 'sid'>, row: q.VerificationRow, to: string, details = JSON.parse(row.details) as VerificationDetails): Omit<VerificationView, 'attempts'> {
    return {
      sid: row.sid,
      serviceSid: service.sid,
      accountSid: account.sid,
      to,
      channel: row.channel,
      status: row.status,
      details,
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    };
  }

  private openTo(row: { sid: string; to_sealed: string }): string {
    return this.d.contacts.open(row.to_sealed, toContext(row.sid));
  }

  /** Numbers and addresses are found by their blind index (addresses in lower case). */
  private indexOf(to: string, channel: Channel): string {
    return channel === 'email' ? this.d.contacts.emailIndex(to) : this.d.contacts.phoneIndex(to);
  }

  // Attempts -----------------------------------------------------------------------------------

  /** `GET /v2/Attempts`: the account's sends, newest first. */
  async listAttempts(account: VerifyAccount, params: Params, base: string): Promise<Answer> {
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const filters = await this.attemptFilters(account, params, true);
    if (!filters.ok) return filters;
    const rows = await q.attemptsPage(this.d.db, account.id, filters.value, paging.value.after, paging.value.pageSize + 1);
    return { ok: true, status: 200, body: listBody('attempts', rows, (r) => this.attemptBody(account, r, base), paging.value, { base, path: '/v2/Attempts', filters: filters.echo }) };
  }

  async fetchAttempt(account: VerifyAccount, sid: string, base: string): Promise<Answer> {
    const row = isSid('VL', sid) ? await q.attemptBySid(this.d.db, account.id, sid) : undefined;
    return row ? { ok: true, status: 200, body: this.attemptBody(account, row, base) } : notFound(`/Attempts/${sid}`);
  }

  /** `GET /v2/Attempts/Summary`: totals and the conversion rate over the same filters. */
  async attemptsSummary(account: VerifyAccount, params: Params, base: string): Promise<Answer> {
    const filters = await this.attemptFilters(account, params, false);
    if (!filters.ok) return filters;
    const { total, converted } = await q.attemptCounts(this.d.db, account.id, filters.value);
    const rate = total === 0 ? '0' : String((converted / total) * 100);
    return { ok: true, status: 200, body: { total_attempts: total, total_converted: converted, total_unconverted: total - converted, conversion_rate_percentage: rate, url: `${base}/v2/Attempts/Summary` } };
  }

  private attemptBody(account: VerifyAccount, r: q.AttemptRow, base: string) {
    const converted = r.verification_status === 'approved';
    return renderAttempt(
      {
        sid: r.sid,
        accountSid: account.sid,
        serviceSid: r.service_sid,
        verificationSid: r.verification_sid,
        channel: r.channel,
        converted,
        to: this.openTo({ sid: r.verification_sid, to_sealed: r.to_sealed }),
        country: r.country,
        locale: r.locale,
        codeLength: (JSON.parse(r.details) as VerificationDetails).code_length,
        createdAt: Number(r.created_at),
        updatedAt: converted ? Number(r.verification_updated_at) : Number(r.created_at),
      },
      base,
    );
  }

  /** The filters of `/v2/Attempts` (and of its summary), with the values to carry in page URLs. */
  private async attemptFilters(account: VerifyAccount, params: Params, forList: boolean): Promise<{ ok: true; value: q.AttemptFilters; echo: Record<string, string | undefined> } | TwilioFailure> {
    const names = forList
      ? ['VerifyServiceSid', 'VerificationSid', 'ChannelData.To', 'Country', 'Channel', 'Status', 'DateCreatedAfter', 'DateCreatedBefore']
      : ['VerifyServiceSid', 'Country', 'Channel', 'DateCreatedAfter', 'DateCreatedBefore', 'DestinationPrefix'];
    const echo: Record<string, string | undefined> = {};
    for (const name of names) {
      const r = str(params, name, 400);
      if (!r.ok) return r;
      echo[name] = r.value?.trim() || undefined;
    }
    const f: q.AttemptFilters = {};
    if (echo.VerifyServiceSid !== undefined) {
      const s = await this.serviceOf(account, echo.VerifyServiceSid);
      if (!s && !isSid('VA', echo.VerifyServiceSid)) return twilioInvalid('VerifyServiceSid');
      f.serviceId = s?.id ?? -1; // another account's service: nothing
    }
    if (echo.VerificationSid !== undefined) {
      if (!isSid('VE', echo.VerificationSid)) return twilioInvalid('VerificationSid');
      f.verificationSid = echo.VerificationSid;
    }
    const to = echo['ChannelData.To'];
    if (to !== undefined) {
      const channel: Channel = to.startsWith('+') ? 'sms' : 'email';
      const parsed = readTo(to, channel, 'ChannelData.To');
      if (!parsed.ok) return parsed;
      f.toIndex = this.indexOf(parsed.value, channel);
    }
    if (echo.Country !== undefined) {
      if (!/^[A-Za-z]{2}$/.test(echo.Country)) return twilioInvalid('Country');
      f.country = echo.Country.toUpperCase();
    }
    if (echo.Channel !== undefined) {
      const c = echo.Channel.toLowerCase();
      if (!['sms', 'call', 'email', 'whatsapp', 'rbm', 'sna'].includes(c)) return twilioInvalid('Channel');
      f.channel = c;
    }
    if (echo.Status !== undefined) {
      const s = echo.Status.toLowerCase();
      if (s !== 'converted' && s !== 'unconverted') return twilioInvalid('Status', 'CONVERTED or UNCONVERTED');
      f.converted = s === 'converted';
    }
    for (const [name, key] of [['DateCreatedAfter', 'after'], ['DateCreatedBefore', 'before']] as const) {
      const d = dateParam(params, name);
      if (!d.ok) return d;
      if (d.value !== undefined) f[key] = d.value;
    }
    // Destinations are stored sealed, found only by their whole blind index: no prefix search.
    if (echo.DestinationPrefix !== undefined) return twilioInvalid('DestinationPrefix', 'not supported by OpenFactor');
    return { ok: true, value: f, echo };
  }
}

/** The code's text in the destination's language; PSD2's amount and payee follow it (Twilio shows them). */
function messageText(input: StartInput, settings: ServiceSettings, details: VerificationDetails, code: string, locale: string): string {
  const vars = { appName: details.custom_friendly_name ?? settings.friendly_name, code, minutes: VERIFICATION_LIFETIME_MS / 60_000 };
  const text = codeText(input.channel, locale, vars, input.customMessage);
  return details.amount || details.payee ? `${text}\nAmount: ${details.amount ?? ''}\nPayee: ${details.payee ?? ''}` : text;
}
