// Users: enrolment by email + phone + country code, status, removal, activity.
import type { Contacts } from '../../store/contacts.ts';
import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { seal, type MasterKey } from '../../core/crypto.ts';
import { newSecret } from '../../core/otp.ts';
import { fail, invalidParameter, type Failure } from '../../core/errors.ts';
import { readBool, readHash, readString, type Params } from '../../core/params.ts';
import { displayPhone, isSupportedCallingCode, maskE164, maskNational, nationalOf, normalizeCallingCode, parsePhone } from '../../core/phone.ts';
import type { DB } from '../../store/schema.ts';
import type { Application } from '../applications/service.ts';
import { addUsage, monthOf } from '../applications/service.ts';
import * as q from './queries.ts';
import type { Webhooks } from '../webhooks/service.ts';

type Result<T> = { ok: true; value: T } | Failure;

// What other features read of a user: plain reads and the opening of its sealed contact, with
// no rule of this feature in them (re-exported: the verify path pays nothing for going through here).
export { activitiesOf, contactColumns, contactOf, emailOf, emailsOf, findUser, phoneOf } from './queries.ts';

const BLANK = "is invalid and can't be blank";
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
const ACTIVITY_TYPES = new Set(['password_reset', 'banned', 'unbanned', 'cookie_login']);
export const MAX_AUTHY_ID = 2 ** 31 - 1;

/** `users/{id}/…` ids are decimal text; anything else is an unknown user (404, like Authy). */
export function parseAuthyId(text: string | undefined): number | undefined {
  if (!text || !/^\d{1,10}$/.test(text)) return undefined;
  const id = Number(text);
  return id >= 1 && id <= MAX_AUTHY_ID ? id : undefined;
}

export interface UserInput {
  email: string;
  countryCode: number;
  e164: string;
  sendInstallLink: boolean;
}

/** Validates `user[email]`, `user[cellphone]`, `user[country_code]` with Authy's per-field messages. */
export function readNewUser(params: Params): Result<UserInput> {
  const userR = readHash(params, 'user');
  const user = userR.ok ? userR.value : (Object.create(null) as Params);
  const fields: Record<string, string> = {};
  const field = (name: string) => {
    const r = readString(user, name);
    if (!r.ok) {
      fields[name] = 'is invalid';
      return undefined;
    }
    if (r.value === undefined || !r.value.trim()) {
      fields[name] = BLANK;
      return undefined;
    }
    return r.value.trim();
  };
  const email = field('email');
  const cellphone = field('cellphone');
  const ccText = field('country_code');

  if (email !== undefined && (email.length > 254 || !EMAIL.test(email))) fields.email = 'is invalid';
  const cc = ccText === undefined ? undefined : normalizeCallingCode(ccText);
  if (ccText !== undefined && (cc === undefined || !isSupportedCallingCode(cc))) fields.country_code = 'is not supported';
  const phone = cellphone !== undefined && cc !== undefined && !fields.country_code ? parsePhone(cellphone, cc) : undefined;
  if (cellphone !== undefined && !fields.country_code && !phone) fields.cellphone = 'is invalid';

  // php nests the flag inside user[...]; node sends it at the top level.
  const link = readBool(params.send_install_link_via_sms !== undefined ? params : user, 'send_install_link_via_sms', true);
  if (!link.ok) return link;
  if (Object.keys(fields).length > 0 || !phone || !email) return fail('USER_INVALID', { fields });
  return { ok: true, value: { email, countryCode: phone.countryCode, e164: phone.e164, sendInstallLink: link.value } };
}

export class Users {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
    private readonly contacts: Contacts,
    private readonly webhooks?: Webhooks,
  ) {}

  async create(app: Application, input: UserInput): Promise<{ id: number; created: boolean }> {
    const now = Date.now();
    const user = { appId: app.id, countryCode: input.countryCode, e164: input.e164, email: input.email, now };
    return q.upsertUserByPhone(
      this.db,
      this.contacts,
      user,
      (id) => sealTotpSeed(this.keys[0], id, newSecret()),
      async (trx, id) => {
        // A new user counts in the month's usage, in the creating transaction.
        await addUsage(trx, app.id, monthOf(now), 'users', 1);
        await this.webhooks?.emit(trx, app.id, 'user_added', { user: { s_authy_id: String(id) } }, now);
      },
    );
  }

  async status(app: Application, idText: string) {
    const id = parseAuthyId(idText);
    const rows = id === undefined ? [] : await q.findUserWithDevices(this.db, { appId: app.id, id });
    const user = rows[0];
    if (!user) return fail('USER_NOT_FOUND');
    const devices = rows.filter((d) => d.device_id !== null);
    const active = devices.filter((d) => d.deleted_at === null);
    const detailed = (d: (typeof devices)[number]) => ({
      device_type: 'authy',
      os_type: d.os_type,
      registration_device_id: null,
      registration_method: d.registration_method,
      device_id: d.device_id,
      // OpenFactor: the name the person gave the device (null for a device from before keys).
      device_name: d.device_name,
      last_sync_date: d.last_sync_at === null ? null : Math.floor(Number(d.last_sync_at) / 1000),
      creation_date: Math.floor(Number(d.device_created_at) / 1000),
    });
    return {
      ok: true as const,
      body: {
        status: {
          authy_id: user.id,
          confirmed: user.confirmed === 1,
          registered: active.length > 0,
          country_code: user.country_code,
          phone_number: maskNational(nationalOf(q.phoneOf(this.contacts, user), user.country_code)),
          email: q.emailOf(this.contacts, user),
          devices: [...new Set(active.map((d) => d.os_type))],
          has_hard_token: false,
          account_disabled: false,
          // When the person last recovered their account without a device (Unix seconds), if ever.
          last_account_recovery_at: user.last_account_recovery_at === null ? null : Math.floor(Number(user.last_account_recovery_at) / 1000),
          detailed_devices: active.map(detailed),
          deleted_devices: devices.filter((d) => d.deleted_at !== null).map(detailed),
        },
        message: 'User status.',
        success: true,
      },
    };
  }

  /**
   * `GET users/{id}/phone_number`: the full number, for an application moving its users
   * elsewhere. Off unless the application turns it on; each answer is logged (masked).
   */
  async phoneNumber(app: Application, idText: string, log: Pick<FastifyBaseLogger, 'info'>) {
    if (!app.settings.phoneExportEnabled) return fail('PHONE_EXPORT_DISABLED');
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await q.findUser(this.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const e164 = q.phoneOf(this.contacts, user);
    log.info({ event: 'phone_exported', app_id: app.id, authy_id: user.id, destination: maskE164(e164) }, 'phone number exported');
    const national = displayPhone(e164).split(' ').slice(1).join(' ');
    return {
      ok: true as const,
      body: { phone_number: national, country_code: String(user.country_code), e164, updated_at: new Date(Number(user.created_at)).toISOString() },
    };
  }

  /** `POST users/{id}/update` (authy-ruby): a new email address. */
  async updateEmail(app: Application, idText: string, params: Params) {
    const id = parseAuthyId(idText);
    let user = id === undefined ? undefined : await q.findUser(this.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const r = readString(params, 'email');
    const email = r.ok ? r.value?.trim() : undefined;
    if (!r.ok || !email) return fail('USER_INVALID', { fields: { email: BLANK } });
    if (email.length > 254 || !EMAIL.test(email)) return fail('USER_INVALID', { fields: { email: 'is invalid' } });
    // The address is sealed with the number: written only over the value read, read again if it changed.
    while (Number((await q.updateEmail(this.db, this.contacts, user, email)).numUpdatedRows) === 0) {
      user = await q.findUser(this.db, app.id, user.id);
      if (!user) return fail('USER_NOT_FOUND');
    }
    return { ok: true as const, body: { message: 'User was updated successfully', success: true } };
  }

  async remove(app: Application, idText: string) {
    const id = parseAuthyId(idText);
    const removed =
      id !== undefined &&
      (await q.deleteUser(this.db, app.id, id, (trx) => this.webhooks?.emit(trx, app.id, 'user_removed', { user: { s_authy_id: String(id) } }) ?? Promise.resolve()));
    if (!removed) return fail('USER_NOT_FOUND');
    return { ok: true as const, body: { message: 'User was added to remove.', success: true } };
  }

  async registerActivity(app: Application, idText: string, params: Params) {
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await q.findUser(this.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const type = readString(params, 'type');
    if (!type.ok || !type.value || !ACTIVITY_TYPES.has(type.value)) return fail('ACTIVITY_INVALID');
    const data = readHash(params, 'data');
    if (!data.ok) return data;
    const ip = readString(params, 'user_ip');
    if (!ip.ok) return ip;
    if (ip.value !== undefined && ip.value !== '' && !isIP(ip.value)) return invalidParameter('user_ip', 'is not a valid IP address');
    await q.insertActivity(this.db, {
      appId: app.id,
      userId: user.id,
      type: type.value,
      data: JSON.stringify(data.value),
      userIp: ip.value || null,
      now: Date.now(),
    });
    return { ok: true as const, body: { message: 'Activity was created.', success: true } };
  }
}

/** The additional data that binds a user's sealed TOTP seed to its row. */
export const totpSeedContext = (userId: number) => `users:${userId}:totp_seed`;
export const sealTotpSeed = (mk: MasterKey, userId: number, seed: Buffer) => seal(mk, seed, totpSeedContext(userId));
