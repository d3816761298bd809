// Account recovery without any device (issue 17). From a new device: the phone number; a code
// to it and another to the address on file; with both, the new device is registered waiting, and
// a waiting period starts (OPENFACTOR_ACCOUNT_RECOVERY_WAIT_S, 24 h) that every existing device
// hears of and may cancel. When it ends, the old devices are removed and the new one holds the
// accounts. Nobody can shorten the wait from a device; the answers never tell whether a number
// is known (they are given before the lookup, and unknown ids answer as known ones).
// A phone change without any device is the same recovery with a new number, proven by a code
// of its own, and a longer wait (OPENFACTOR_PHONE_CHANGE_WAIT_S, 72 h); at its end the person's
// users move to the new number too.
import { auditForUsers } from '../../admin/audit.ts';
import { constantTimeEqual, deriveKey } from '../../core/crypto.ts';
import { fail, type Failure } from '../../core/errors.ts';
import { resolveLocale } from '../../core/i18n.ts';
import { readString, type Params } from '../../core/params.ts';
import { maskE164, regionOf } from '../../core/phone.ts';
import { recoveryNewPhoneContext as newPhoneContext, recoveryPhoneContext } from '../../store/contacts.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Applications } from '../applications/service.ts';
import { contactOf } from '../users/service.ts';
import type { DeviceEvents } from './events.ts';
import { moveToNumber } from './number-move.ts';
import { expiryOfOpaqueId, opaqueId } from './opaque-id.ts';
import * as people from './person-queries.ts';
import { ProofCodes, readNumberAndChannel, type Channel, type SendingDeps } from './proof-codes.ts';
import { pushToDevices, type WebPush } from './push.ts';
import * as q from './queries.ts';
import * as recoveries from './recovery-queries.ts';
import { readRegistration, type Device, type Devices, type WhenAnswered } from './service.ts';

const CODE_TTL_MS = 10 * 60_000;
/** Confirm attempts per recovery (a right one ends it sooner). */
const MAX_ATTEMPTS = 5;
/** Recoveries a number may start per hour (each sends an SMS or call and an email). */
const PER_NUMBER_HOUR = 3;
const ID_LABEL = 'account-recovery';
/** Compared against when nothing is stored: no code hashes to it. */
const NEVER = 'x'.repeat(43);

export type AccountRecoveryDeps = SendingDeps & {
  applications: Applications;
  push: WebPush;
  events: DeviceEvents;
  devices: Devices;
  /** How long a confirmed recovery waits before it takes effect (ms). */
  waitMs: number;
  /** The same for a phone change without any device. */
  phoneChangeWaitMs: number;
};

type NewNumber = { e164: string; countryCode: number };
const kindOf = (r: { new_phone_index: string | null }) => (r.new_phone_index === null ? 'account_recovery' : 'phone_change');

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export class AccountRecoveries {
  private readonly codeKey: Buffer;
  private readonly codes: ProofCodes;
  private timer?: NodeJS.Timeout;
  /** Work started after an answer, still running. */
  private readonly inFlight = new Set<Promise<void>>();

  /** Resolves once the work started by earlier answers has finished (tests, closing). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  constructor(private readonly d: AccountRecoveryDeps) {
    this.codeKey = deriveKey(d.keys[0], 'account-recovery');
    this.codes = new ProofCodes(this.codeKey);
  }

  /**
   * `POST /device/v1/account_recoveries` `{"country_code","phone_number","via","locale"?}` (not
   * signed); with `new_country_code` and `new_phone_number`, a phone change without any device.
   */
  async start(body: Params, answered: WhenAnswered = (go) => go()): Promise<Outcome> {
    const phone = readNumberAndChannel(body);
    if (!phone.ok) return phone;
    const newNumber = readNewNumber(body, phone.e164);
    if (newNumber !== undefined && !('e164' in newNumber)) return newNumber;
    const channel = phone.channel;
    const locale = readString(body, 'locale');
    const loc = resolveLocale(locale.ok ? locale.value : undefined, regionOf(phone.e164));
    const expiresAt = Math.floor((Date.now() + CODE_TTL_MS) / 1000) * 1000;
    const id = opaqueId(this.codeKey, ID_LABEL, expiresAt);
    // The answer comes first: neither it nor its time depends on whether the number is known.
    const work = new Promise<void>((resolve) => answered(() => setImmediate(resolve)))
      .then(() => this.sendCodes(id, expiresAt, phone.e164, channel, loc, newNumber))
      .catch((err: Error) => this.d.log.error({ event: 'account_recovery_failed', error: err.message }, 'account recovery: codes not sent'))
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
    return {
      ok: true,
      body: {
        account_recovery: { id, kind: newNumber ? 'phone_change' : 'account_recovery', status: 'unconfirmed', seconds_to_expire: CODE_TTL_MS / 1000 },
        message: newNumber
          ? `If this number has an account, a code was sent to it by ${channel}, another to the new number and another to the email address on file.`
          : `If this number has an account, a code was sent to it by ${channel} and another to the email address on file.`,
        success: true,
      },
    };
  }

  private async sendCodes(id: string, expiresAt: number, e164: string, channel: Channel, loc: string, newNumber?: NewNumber): Promise<void> {
    const index = this.d.contacts.phoneIndex(e164);
    const users = await usersOf(this.d.db, index);
    if (users.length === 0) return;
    if (!(await this.d.limits.take('account-recovery', index, PER_NUMBER_HOUR, 3600))) return;
    const app = (await this.d.applications.find(users[0].app_id))!;
    for (const to of newNumber ? [e164, newNumber.e164] : [e164]) {
      if (!(await this.d.guard.check(app, { e164: to, channel, userId: users[0].id, locale: loc })).ok) return;
    }
    const now = Date.now();
    const pin = this.codes.newCode();
    const newPin = newNumber ? this.codes.newCode() : undefined;
    const emailCode = this.codes.newCode();
    const emails = [...new Set(users.map((u) => contactOf(this.d.contacts, u).email).filter(Boolean))];
    await this.d.db.transaction().execute(async (trx) => {
      await recoveries.insertRecovery(trx, {
        id,
        phone_index: index,
        phone_sealed: this.d.contacts.seal(e164, recoveryPhoneContext(id)),
        via: channel,
        pin_hash: this.codes.hash(id, 'pin', pin),
        email_code_hash: this.codes.hash(id, 'email', emailCode),
        status: 'unconfirmed',
        device_key_id: null,
        created_at: now,
        expires_at: expiresAt,
        completes_at: null,
        finished_at: null,
        canceled_by: null,
        new_phone_index: newNumber ? this.d.contacts.phoneIndex(newNumber.e164) : null,
        new_phone_sealed: newNumber ? this.d.contacts.seal(newNumber.e164, newPhoneContext(id)) : null,
        new_country_code: newNumber ? newNumber.countryCode : null,
        new_pin_hash: newPin ? this.codes.hash(id, 'new_pin', newPin) : null,
      });
      const phones = [{ e164, code: pin }, ...(newNumber && newPin ? [{ e164: newNumber.e164, code: newPin }] : [])];
      await this.codes.enqueue(trx, this.d.outbox, { appId: app.id, phones, channel, emails, emailCode, locale: loc, minutes: CODE_TTL_MS / 60_000, now });
    });
    this.d.wakeOutbox();
    this.d.log.info({ event: 'account_recovery_codes_sent', phone: maskE164(e164), new_phone: newNumber ? maskE164(newNumber.e164) : undefined, via: channel }, 'account recovery: codes sent');
    const step = { actor: 'a new device (not yet proven)', actorKind: 'device' as const, action: 'recovery.requested', target: { account_recovery: id } };
    await auditForUsers(this.d.audit, this.d.log, { ...step, detail: { kind: newNumber ? 'phone_change' : 'account_recovery', via: channel, phone: maskE164(e164) } }, users);
  }

  /**
   * `POST /device/v1/account_recoveries/{id}/confirm` with both codes and the new device's key
   * (as in a registration): the device is registered waiting, and the wait starts.
   */
  async confirm(id: string, body: Params, ip: string): Promise<Outcome> {
    const now = Date.now();
    const expiry = expiryOfOpaqueId(this.codeKey, ID_LABEL, id);
    if (expiry === undefined || expiry <= now) return fail('ACCOUNT_RECOVERY_NOT_FOUND');
    const reg = readRegistration(body);
    if (!reg.ok) return reg;
    // Every attempt, right or wrong, for a stored recovery or not, takes one of five first: the
    // cap is exact under concurrency, and both kinds of id do the same write (same timing).
    if (!(await this.d.limits.take('recovery-attempts', id, MAX_ATTEMPTS, CODE_TTL_MS / 1000))) return fail('ACCOUNT_RECOVERY_NOT_FOUND');
    const row = await recoveries.findRecovery(this.d.db, id);
    if (row && row.status !== 'unconfirmed') return fail('ACCOUNT_RECOVERY_NOT_FOUND'); // confirmed or canceled already
    // Every code is hashed and compared, stored recovery or not: the work is the same either way.
    const matches = (field: string, what: 'pin' | 'email' | 'new_pin', stored: string | null | undefined) => {
      const given = readString(body, field);
      const code = given.ok && given.value ? given.value.trim() : '';
      return constantTimeEqual(this.codes.hash(id, what, code), stored ?? NEVER) && code !== '';
    };
    const pinOk = matches('phone_code', 'pin', row?.pin_hash);
    const mailOk = matches('email_code', 'email', row?.email_code_hash);
    const newOk = matches('new_phone_code', 'new_pin', row?.new_pin_hash);
    const right = row !== undefined && pinOk && mailOk && (row.new_pin_hash === null || newOk);
    if (!right) {
      this.d.log.warn({ event: 'account_recovery_wrong_code' }, 'account recovery: wrong code');
      return fail('ACCOUNT_RECOVERY_INVALID_CODE');
    }
    const kind = kindOf(row);
    // Every code proven: saying the new number is taken reveals nothing to a stranger.
    if (row.new_phone_index !== null && (await people.numberTaken(this.d.db, row.phone_index, row.new_phone_index))) return fail('PHONE_CHANGE_CONFLICT');
    const waitUntil = now + (kind === 'phone_change' ? this.d.phoneChangeWaitMs : this.d.waitMs);
    let users: { app_id: number; id: number }[] = [];
    const started = await this.d.db.transaction().execute(async (trx) => {
      if (!(await recoveries.startRecoveryWait(trx, id, waitUntil))) return undefined;
      const deviceId = await this.d.devices.createKey(trx, reg.value, row!.via, row!.phone_index, ip, now, true, id);
      await recoveries.setRecoveryDevice(trx, id, deviceId);
      users = await usersOf(trx, row!.phone_index);
      for (const u of users) {
        await this.d.webhooks.emit(trx, u.app_id, 'account_recovery_started', { user: { s_authy_id: String(u.id) }, account_recovery: { s_id: id, s_kind: kind, s_completes_at: iso(waitUntil) } }, now);
      }
      return deviceId;
    });
    if (started === undefined) return fail('ACCOUNT_RECOVERY_NOT_FOUND');
    const others = (await people.devicesOfPhones(this.d.db, [row!.phone_index])).filter((r) => r.id !== started && r.pending_since === null);
    const told = { id, kind, status: 'waiting', completes_at: iso(waitUntil), device: { name: reg.value.name, os_type: reg.value.osType } };
    this.d.events.publish(
      others.map((o) => o.id),
      { type: 'account_recovery', data: told },
    );
    // Devices not streaming now hear of it by Web Push, if they have a subscription.
    void pushToDevices(this.d, others.map((o) => o.id), { type: 'account_recovery', ...told });
    this.d.log.info({ event: 'account_recovery_started', kind, device: started, devices_told: others.length }, 'account recovery started: waiting period running');
    await auditForUsers(this.d.audit, this.d.log, { actor: `device ${started} (new)`, actorKind: 'device', ip, action: 'recovery.waiting', target: { account_recovery: id }, detail: { kind, completes_at: iso(waitUntil), device: { name: reg.value.name, os_type: reg.value.osType } } }, users);
    const answer = await this.d.devices.registered(started);
    if (!answer.ok) return answer;
    return { ok: true, body: { ...answer.body, account_recovery: { id, kind, status: 'waiting', completes_at: iso(waitUntil) } } };
  }

  /** `GET /device/v1/account_recoveries` (signed, an existing device): recoveries of this person now waiting. */
  async waiting(device: Device): Promise<Outcome> {
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    const rows = phones.length ? await recoveries.waitingRecoveriesOf(this.d.db, phones) : [];
    return {
      ok: true,
      body: {
        account_recoveries: rows.map((r) => ({ id: r.id, kind: kindOf(r), status: 'waiting', started_at: iso(r.created_at), completes_at: iso(r.completes_at), device: { name: r.name, os_type: r.os_type } })),
        message: 'Account recoveries.',
        success: true,
      },
    };
  }

  /** `DELETE /device/v1/account_recoveries/{id}` (signed): an existing device stops it; the new device is removed. */
  async cancel(device: Device, id: string): Promise<Outcome> {
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    const row = await recoveries.findWaitingRecovery(this.d.db, id);
    if (!row || !phones.includes(row.phone_index) || row.device_key_id === device.id) return fail('ACCOUNT_RECOVERY_NOT_FOUND');
    if (!(await this.end(row, 'canceled', `device:${device.id}`, true))) return fail('ACCOUNT_RECOVERY_NOT_FOUND');
    return { ok: true, body: { account_recovery: { id, status: 'canceled' }, message: 'Account recovery canceled.', success: true } };
  }

  /**
   * Ends a waiting recovery once: canceled (its device removed) or completed (the old devices
   * removed; for a phone change, the users moved to the new number, or, if it was taken
   * meanwhile, canceled instead).
   */
  private async end(row: EndingRow, wanted: 'canceled' | 'completed', by: string | null, audited = by === null): Promise<boolean> {
    const now = Date.now();
    let status = wanted;
    let users: { app_id: number; id: number }[] = [];
    const done = await this.d.db.transaction().execute(async (trx) => {
      if (status === 'completed' && row.new_phone_index !== null && (await people.numberTaken(trx, row.phone_index, row.new_phone_index))) {
        status = 'canceled';
        by = 'conflict';
      }
      if (!(await recoveries.finishRecovery(trx, row.id, status, now, status === 'canceled' ? by : null))) return false;
      users = await usersOf(trx, row.phone_index);
      const fresh = row.device_key_id === null ? undefined : await q.findDeviceKey(trx, row.device_key_id);
      if (status === 'canceled' || !fresh) {
        if (fresh) await q.removeDeviceIn(trx, fresh.id, now);
        for (const u of users) await this.d.webhooks.emit(trx, u.app_id, 'account_recovery_canceled', { user: { s_authy_id: String(u.id) }, account_recovery: { s_id: row.id } }, now);
        return true;
      }
      for (const old of await people.devicesOfPhones(trx, [row.phone_index])) if (old.id !== fresh.id) await q.removeDeviceIn(trx, old.id, now);
      await q.clearPending(trx, fresh.id);
      for (const u of await q.syncableUsers(trx, row.phone_index)) {
        await q.linkDevice(trx, { deviceKeyId: fresh.id, appId: u.app_id, userId: u.user_id, osType: fresh.os_type, method: fresh.registration_method, ip: fresh.ip, now });
      }
      await people.markAccountRecovered(trx, row.phone_index, now);
      if (row.new_phone_index !== null) {
        const e164 = this.d.contacts.open(row.new_phone_sealed!, newPhoneContext(row.id));
        const move = { oldIndex: row.phone_index, newIndex: row.new_phone_index, e164, countryCode: Number(row.new_country_code), changeId: row.id, now };
        if ((await moveToNumber(trx, this.d, move)) === 'conflict') throw new Error('new number taken after the check'); // cannot happen in the transaction
      }
      for (const u of users) {
        await this.d.webhooks.emit(trx, u.app_id, 'account_recovery_approved', { user: { s_authy_id: String(u.id) }, account_recovery: { s_id: row.id }, device: { i_id: fresh.id } }, now);
      }
      return true;
    });
    if (done) this.d.log.info({ event: `account_recovery_${status}`, account_recovery: row.id, by }, `account recovery ${status}`);
    // A device's cancel, a conflict, or the wait ending; an administrator's own step is in the trail already.
    if (done && (audited || by === 'conflict')) {
      const actor = by?.startsWith('device:') ? { actor: `device ${by.slice(7)}`, actorKind: 'device' as const } : { actor: 'OpenFactor', actorKind: 'service' as const };
      await auditForUsers(this.d.audit, this.d.log, { ...actor, action: `recovery.${status}`, target: { account_recovery: row.id }, detail: by === 'conflict' ? { reason: 'the new number was taken meanwhile' } : {} }, users);
    }
    return done;
  }

  // ---- support (admin API): per application ------------------------------------------------

  /** Recoveries of this application's users, not yet finished. */
  async forApp(appId: number) {
    const rows = await recoveries.openRecoveriesOfApp(this.d.db, appId);
    const now = Date.now();
    const out = [];
    for (const r of rows) {
      if (r.status === 'unconfirmed' && Number(r.expires_at) <= now) continue;
      const users = (await usersOf(this.d.db, r.phone_index)).filter((u) => u.app_id === appId);
      out.push({
        id: r.id,
        kind: r.new_phone_index === null ? 'account_recovery' : 'phone_change_without_device',
        status: r.status,
        authy_ids: users.map((u) => u.id),
        started_at: iso(r.created_at),
        completes_at: iso(r.completes_at),
        device: r.name === null ? null : { name: r.name, os_type: r.os_type },
      });
    }
    return out;
  }

  private async ofApp(appId: number, id: string) {
    const row = await recoveries.findOpenRecovery(this.d.db, id);
    if (!row) return undefined;
    const users = (await usersOf(this.d.db, row.phone_index)).filter((u) => u.app_id === appId);
    return users.length > 0 ? row : undefined;
  }

  /** An administrator cancels a recovery of one of the application's users. */
  async cancelForApp(appId: number, id: string, by: string): Promise<boolean> {
    const row = await this.ofApp(appId, id);
    if (!row) return false;
    if (row.status === 'unconfirmed') {
      return recoveries.cancelUnconfirmedRecovery(this.d.db, id, Date.now(), by);
    }
    return this.end(row, 'canceled', by);
  }

  /**
   * An administrator shortens a waiting recovery's wait, explicitly and with a reason; logged
   * with who did it. The person asking never can.
   */
  async shorten(appId: number, id: string, waitSeconds: number, by: string, reason: string): Promise<string | undefined> {
    const row = await this.ofApp(appId, id);
    if (row?.status !== 'waiting') return undefined;
    const completesAt = Math.min(Number(row.completes_at), Date.now() + waitSeconds * 1000);
    await recoveries.shortenRecoveryWait(this.d.db, id, completesAt);
    this.d.log.warn({ event: 'account_recovery_shortened', account_recovery: id, app_id: appId, by, reason, completes_at: iso(completesAt) }, 'account recovery wait shortened by an administrator');
    await this.completeDue(Date.now(), id); // a wait ended now takes effect now
    return iso(completesAt)!;
  }

  /** An administrator starts a recovery on a user's behalf: the codes go to the user's phone and address as usual. */
  async startForUser(appId: number, userId: number, e164: string): Promise<{ id: string; secondsToExpire: number }> {
    const expiresAt = Math.floor((Date.now() + CODE_TTL_MS) / 1000) * 1000;
    const id = opaqueId(this.codeKey, ID_LABEL, expiresAt);
    await this.sendCodes(id, expiresAt, e164, 'sms', resolveLocale(undefined, regionOf(e164)));
    this.d.log.info({ event: 'account_recovery_started_by_admin', app_id: appId, authy_id: userId }, 'account recovery started by an administrator');
    return { id, secondsToExpire: CODE_TTL_MS / 1000 };
  }

  /** Completes every recovery whose wait is over (a sweep, and the waiting device asking how it stands). */
  async completeDue(now = Date.now(), id?: string): Promise<number> {
    let n = 0;
    for (const row of await recoveries.dueRecoveries(this.d.db, now, 100, id)) if (await this.end(row, 'completed', null)) n++;
    return n;
  }

  startSweeps(everyMs: number): void {
    this.timer = setInterval(() => void this.completeDue().catch((err: Error) => this.d.log.error({ err: err.message }, 'account recovery sweep failed')), everyMs);
    this.timer.unref();
  }

  stopSweeps(): void {
    clearInterval(this.timer);
  }

  /** `GET /device/v1/device` for a device in recovery: it completes here once the wait is over. */
  async deviceStatus(device: Device): Promise<Outcome> {
    if (device.recovery_id === null || device.pending_since === null) return this.d.devices.self(device);
    await this.completeDue(Date.now(), device.recovery_id);
    const now = await q.findDeviceKey(this.d.db, device.id);
    if (!now) return fail('SIGNATURE_INVALID'); // canceled meanwhile: the device is gone
    const r = await recoveries.recoveryStatus(this.d.db, device.recovery_id);
    const answer = this.d.devices.self({ ...device, ...now });
    if (!answer.ok) return answer;
    return { ok: true, body: { ...answer.body, account_recovery: { id: device.recovery_id, kind: r ? kindOf(r) : undefined, status: r?.status, completes_at: iso(r?.completes_at ?? null) } } };
  }
}

const usersOf = people.usersOfPhone;

type EndingRow = { id: string; phone_index: string; device_key_id: number | null; new_phone_index: string | null; new_phone_sealed: string | null; new_country_code: number | null };

/** The new number of a phone change without any device, if the request names one. */
function readNewNumber(body: Params, oldE164: string): NewNumber | Failure | undefined {
  if (body.new_phone_number === undefined && body.new_country_code === undefined) return undefined;
  const read = readNumberAndChannel(body, 'new_');
  if (!read.ok) return fail('PHONE_INVALID', { message: 'New phone number is invalid' });
  if (read.e164 === oldE164) return fail('INVALID_PARAMETER', { message: 'Invalid parameter: new_phone_number - is the number on the account' });
  return { e164: read.e164, countryCode: read.countryCode };
}
