// Phone change with a device in hand (issue 17): from a registered device the person asks to
// move to a new number; a code goes to the new number (through the send guard) and another to
// the address on file; with both, every user with the old number, in every application, moves to
// the new one and keeps its Authy ID. Applications hear of each step by webhook.
import { auditForUsers } from '../../admin/audit.ts';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { constantTimeEqual, deriveKey } from '../../core/crypto.ts';
import { fail } from '../../core/errors.ts';
import { resolveLocale } from '../../core/i18n.ts';
import { readString, type Params } from '../../core/params.ts';
import { regionOf } from '../../core/phone.ts';
import { phoneChangeContext } from '../../store/contacts.ts';
import type { DB } from '../../store/schema.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Applications } from '../applications/service.ts';
import { contactOf } from '../users/service.ts';
import { moveToNumber } from './number-move.ts';
import * as people from './person-queries.ts';
import * as q from './phone-change-queries.ts';
import { ProofCodes, readNumberAndChannel, type SendingDeps } from './proof-codes.ts';
import type { Device } from './service.ts';

const TTL_MS = 30 * 60_000;
const MAX_FAILURES = 5;
/** Phone changes a device may start per hour (each sends an SMS or call and an email). */
const PER_DEVICE_HOUR = 3;

export type PhoneChangeDeps = SendingDeps & { applications: Applications };

export class PhoneChanges {
  private readonly codes: ProofCodes;

  constructor(private readonly d: PhoneChangeDeps) {
    this.codes = new ProofCodes(deriveKey(d.keys[0], 'phone-change'));
  }

  /** `POST /device/v1/phone_changes` `{"country_code","phone_number","via":"sms"|"voice","locale"?}`. */
  async request(device: Device, body: Params): Promise<Outcome> {
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    if (phones.length !== 1) return fail('INVALID_PARAMETER', { message: 'Invalid parameter: this device holds accounts of several phone numbers; change each from a device of that number' });
    const [oldIndex] = phones;
    const phone = readNumberAndChannel(body);
    if (!phone.ok) return phone;
    const channel = phone.channel;
    const newIndex = this.d.contacts.phoneIndex(phone.e164);
    if (newIndex === oldIndex) return fail('INVALID_PARAMETER', { message: 'Invalid parameter: phone_number - is the number you have now' });
    const users = await this.usersOf(oldIndex);
    if (users.length === 0) return fail('PHONE_CHANGE_NOT_FOUND');
    if (!(await this.d.limits.take('phone-change', String(device.id), PER_DEVICE_HOUR, 3600))) return fail('DOS_SENDS');
    const app = (await this.d.applications.find(users[0].app_id))!;
    const locale = readString(body, 'locale');
    const loc = resolveLocale(locale.ok ? locale.value : undefined, regionOf(phone.e164));
    const guard = await this.d.guard.check(app, { e164: phone.e164, channel, userId: users[0].id, locale: loc });
    if (!guard.ok) return guard;

    const id = randomUUID();
    const now = Date.now();
    const pin = this.codes.newCode();
    const emailCode = this.codes.newCode();
    const emails = [...new Set(users.map((u) => contactOf(this.d.contacts, u).email).filter(Boolean))];
    await this.d.db.transaction().execute(async (trx) => {
      await q.cancelPendingPhoneChangesOf(trx, device.id, now);
      await q.insertPhoneChange(trx, {
        id,
        device_key_id: device.id,
        old_index: oldIndex,
        new_index: newIndex,
        phone_sealed: this.d.contacts.seal(phone.e164, phoneChangeContext(id)),
        country_code: Number(phone.countryCode),
        pin_hash: this.codes.hash(id, 'pin', pin),
        email_code_hash: this.codes.hash(id, 'email', emailCode),
        status: 'pending',
        created_at: now,
        expires_at: now + TTL_MS,
        finished_at: null,
      });
      await this.codes.enqueue(trx, this.d.outbox, { appId: app.id, phones: [{ e164: phone.e164, code: pin }], channel, emails, emailCode, locale: loc, minutes: TTL_MS / 60_000, now });
      for (const u of users) {
        const objects = { user: { s_authy_id: String(u.id) }, phone_change: { s_id: id } };
        await this.d.webhooks.emit(trx, u.app_id, 'phone_change_requested', objects, now);
        await this.d.webhooks.emit(trx, u.app_id, 'phone_change_pin_sent', { ...objects, message: { s_channel: channel } }, now);
      }
    });
    this.d.wakeOutbox();
    this.d.log.info({ event: 'phone_change_requested', device: device.id, users: users.length, via: channel }, 'phone change requested from a device');
    await auditForUsers(this.d.audit, this.d.log, { actor: `device ${device.id}`, actorKind: 'device', action: 'phone_change.requested', target: { phone_change: id }, detail: { via: channel } }, users);
    return {
      ok: true,
      body: {
        phone_change: { id, status: 'pending', seconds_to_expire: TTL_MS / 1000 },
        message: `A code was sent to the new number by ${channel}, and another to the email address on file.`,
        success: true,
      },
    };
  }

  /** `POST /device/v1/phone_changes/{id}/confirm` `{"phone_code","email_code"}`: both, or nothing changes. */
  async confirm(device: Device, id: string, body: Params): Promise<Outcome> {
    const now = Date.now();
    const row = await this.pending(device, id, now);
    if (!row) return fail('PHONE_CHANGE_NOT_FOUND');
    const pin = readString(body, 'phone_code');
    const mail = readString(body, 'email_code');
    const pinOk = pin.ok && !!pin.value && constantTimeEqual(this.codes.hash(id, 'pin', pin.value.trim()), row.pin_hash);
    const mailOk = mail.ok && !!mail.value && constantTimeEqual(this.codes.hash(id, 'email', mail.value.trim()), row.email_code_hash);
    if (!pinOk || !mailOk) {
      // Counted by the write, so concurrent guesses cannot pass the cap.
      const failures = await q.countPhoneChangeFailure(this.d.db, id, MAX_FAILURES);
      if (failures === undefined) return fail('PHONE_CHANGE_NOT_FOUND');
      this.d.log.warn({ event: 'phone_change_wrong_code', device: device.id, failures }, 'phone change: wrong code');
      if (failures >= MAX_FAILURES && (await this.finish(row, 'canceled', now))) {
        await auditForUsers(this.d.audit, this.d.log, { actor: 'OpenFactor', actorKind: 'service', action: 'phone_change.canceled', target: { phone_change: id }, detail: { reason: `${MAX_FAILURES} wrong codes` } }, await this.usersOf(row.old_index));
      }
      return fail('PHONE_CHANGE_INVALID_CODE');
    }
    const e164 = this.d.contacts.open(row.phone_sealed, phoneChangeContext(id));
    const moved = await this.d.db.transaction().execute(async (trx) => {
      if (!(await q.finishPhoneChange(trx, id, 'completed', now))) return 'gone' as const;
      const n = await moveToNumber(trx, this.d, { oldIndex: row.old_index, newIndex: row.new_index, e164, countryCode: row.country_code, changeId: id, now });
      if (n === 'conflict') throw new Conflict(); // undoes the status change
      return n;
    }).catch((e: unknown) => {
      if (e instanceof Conflict) return 'conflict' as const;
      throw e;
    });
    if (moved === 'gone') return fail('PHONE_CHANGE_NOT_FOUND');
    if (moved === 'conflict') {
      this.d.log.warn({ event: 'phone_change_conflict', device: device.id }, 'phone change refused: the new number belongs to another user');
      return fail('PHONE_CHANGE_CONFLICT');
    }
    this.d.log.info({ event: 'user_phone_changed', device: device.id, users: moved }, 'phone changed from a device');
    await auditForUsers(this.d.audit, this.d.log, { actor: `device ${device.id}`, actorKind: 'device', action: 'phone_change.completed', target: { phone_change: id }, detail: {} }, await this.usersOf(row.new_index));
    return { ok: true, body: { phone_change: { id, status: 'completed' }, message: 'Phone number changed.', success: true } };
  }

  /** `DELETE /device/v1/phone_changes/{id}`. */
  async cancel(device: Device, id: string): Promise<Outcome> {
    const now = Date.now();
    const row = await this.pending(device, id, now);
    if (!row || !(await this.finish(row, 'canceled', now))) return fail('PHONE_CHANGE_NOT_FOUND');
    await auditForUsers(this.d.audit, this.d.log, { actor: `device ${device.id}`, actorKind: 'device', action: 'phone_change.canceled', target: { phone_change: id }, detail: {} }, await this.usersOf(row.old_index));
    return { ok: true, body: { phone_change: { id, status: 'canceled' }, message: 'Phone change canceled.', success: true } };
  }

  /** Support (admin API): pending changes of this application's users. */
  async forApp(appId: number) {
    const rows = await q.pendingPhoneChangesOfApp(this.d.db, appId, Date.now());
    const out = [];
    for (const r of rows) {
      const users = (await this.usersOf(r.old_index)).filter((u) => u.app_id === appId);
      out.push({ id: r.id, kind: 'phone_change', status: 'pending', authy_ids: users.map((u) => u.id), started_at: new Date(Number(r.created_at)).toISOString(), expires_at: new Date(Number(r.expires_at)).toISOString() });
    }
    return out;
  }

  /** An administrator cancels a pending change of one of the application's users. */
  async cancelForApp(appId: number, id: string): Promise<boolean> {
    const row = await q.findPendingPhoneChange(this.d.db, id);
    if (!row || !(await this.usersOf(row.old_index)).some((u) => u.app_id === appId)) return false;
    return this.finish(row, 'canceled', Date.now());
  }

  private async pending(device: Device, id: string, now: number) {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    const row = await q.findPendingPhoneChangeOf(this.d.db, id, device.id);
    return row && Number(row.expires_at) > now ? row : undefined;
  }

  /** Ends a pending change once; the applications hear `phone_change_canceled`. */
  private async finish(row: { id: string; old_index: string }, status: 'canceled', now: number): Promise<boolean> {
    return this.d.db.transaction().execute(async (trx) => {
      if (!(await q.finishPhoneChange(trx, row.id, status, now))) return false;
      for (const u of await this.usersOf(row.old_index, trx)) {
        await this.d.webhooks.emit(trx, u.app_id, 'phone_change_canceled', { user: { s_authy_id: String(u.id) }, phone_change: { s_id: row.id } }, now);
      }
      this.d.log.info({ event: 'phone_change_canceled', phone_change: row.id }, 'phone change canceled');
      return true;
    });
  }

  private usersOf(phoneIndex: string, db: Kysely<DB> = this.d.db) {
    return people.usersOfPhone(db, phoneIndex);
  }
}

class Conflict extends Error {}
