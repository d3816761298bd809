// Devices: registration (by a token the customer's backend asks for, or by phone), signed
// device calls, the accounts a device holds, Web Push subscriptions, unregistering.
import { createHmac, randomInt } from 'node:crypto';
import { registrationPhoneContext, type Contacts } from '../../store/contacts.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { KeyObject } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { addressKey } from '../../core/client-address.ts';
import { Secret } from 'otpauth';
import { constantTimeEqual, deriveKey, hashSecret, randomBytes, seal, unseal, type MasterKey } from '../../core/crypto.ts';
import { DEVICE_ALGORITHMS, readPublicKey, signedRequestString, verifyDeviceSignature } from '../../core/device-signature.ts';
import { fail, invalidParameter, type Failure } from '../../core/errors.ts';
import { resolveLocale, smsText, voiceText } from '../../core/i18n.ts';
import { readString, type Params } from '../../core/params.ts';
import { maskE164, normalizeCallingCode, parsePhone, regionOf } from '../../core/phone.ts';
import type { Outbox } from '../../delivery/outbox.ts';
import type { DB, DeviceAlgorithm } from '../../store/schema.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Application } from '../applications/service.ts';
import { findUser, parseAuthyId, totpSeedContext } from '../users/service.ts';
import type { SafetyLimits } from '../tokens/limits.ts';
import type { Webhooks } from '../webhooks/service.ts';
import type { SendGuard } from '../send-guard/service.ts';
import type { Applications } from '../applications/service.ts';
import { pushContext, readPushSubscription } from './push.ts';
import * as q from './queries.ts';
import { expiryOfOpaqueId, opaqueId } from './opaque-id.ts';
import type { PersonDevices } from './person-devices.ts';
import type { RecoveryCodes } from '../tokens/recovery-codes.ts';

const REGISTRATION_TOKEN_TTL_MS = 10 * 60_000;
const PHONE_CODE_TTL_MS = 10 * 60_000;
const PHONE_CODE_MAX_FAILURES = 5;
const CLOCK_SKEW_S = 300;
/** App tokens on devices: the step every app TOTP uses (tokens/service.ts). */
const PERIOD = 30;

export interface DeviceDeps {
  db: Kysely<DB>;
  keys: MasterKey[];
  /** Phone numbers are kept sealed, looked up by their blind index. */
  contacts: Contacts;
  outbox: Outbox;
  wakeOutbox(): void;
  limits: SafetyLimits;
  webhooks: Webhooks;
  guard: SendGuard;
  applications: Applications;
  log: FastifyBaseLogger;
  /** Phone registrations started per client address and in all, per hour (unauthenticated). */
  registrationLimits: { perAddress: number; perHour: number };
  /** The person's other devices: whether a new one may join, and who approves it. */
  people: PersonDevices;
  /** A device may make its user a new set where the application allows it. */
  recoveryCodes: RecoveryCodes;
}

/**
 * Calls `go` once the answer has gone out (the route knows: the response's `close`). Work that
 * must not show in an answer's time waits for it: on SQLite a lookup blocks the event loop, and
 * run before the answer is written it would delay it.
 */
export type WhenAnswered = (go: () => void) => void;
const now: WhenAnswered = (go) => go();

/** An authenticated device, with the public key its call was checked with (its answers are too). */
export type Device = q.DeviceKeyRow & { publicKey: KeyObject };
type Authenticated = { ok: true; device: Device } | Failure;

export interface Registration {
  publicKey: string;
  algorithm: DeviceAlgorithm;
  osType: string;
  name: string;
  push: string | null;
}

export const publicKeyContext = (id: number) => `device_keys:${id}:public_key`;
export { pushContext };

export class Devices {
  private readonly codeKey: Buffer;

  constructor(private readonly d: DeviceDeps) {
    this.codeKey = deriveKey(d.keys[0], 'phone-registration');
  }

  /** `POST /protected/json/sdk/registrations`: a single-use token for one user's device. */
  async createRegistrationToken(app: Application, params: Params): Promise<Outcome> {
    const raw = params.authy_id;
    const id = parseAuthyId(typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined);
    const user = id === undefined ? undefined : await findUser(this.d.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const token = randomBytes(32).toString('base64url');
    const now = Date.now();
    await q.insertRegistrationToken(this.d.db, { hash: hashSecret(token), appId: app.id, userId: user.id, now, expiresAt: now + REGISTRATION_TOKEN_TTL_MS });
    return { ok: true, body: { registration_token: token, success: true, message: 'Registration token created.' } };
  }

  /** `GET /protected/json/registrations/status` (authy-python): `custom_user_id` is the authy id. */
  async registrationStatus(app: Application, params: Params): Promise<Outcome> {
    const raw = readString(params, 'custom_user_id');
    const id = raw.ok ? parseAuthyId(raw.value?.trim()) : undefined;
    const user = id === undefined ? undefined : await findUser(this.d.db, app.id, id);
    if (!user) return fail('REGISTRATION_NOT_FOUND');
    const done = await q.hasRegisteredDevice(this.d.db, app.id, user.id);
    return { ok: true, body: { status: done ? 'completed' : 'pending', message: 'Registration status.', success: true } };
  }

  /** `POST /device/v1/registrations`. */
  async registerWithToken(body: Params, ip: string): Promise<Outcome> {
    const token = readString(body, 'registration_token');
    if (!token.ok || !token.value || token.value.length > 100) return fail('REGISTRATION_NOT_FOUND');
    const reg = readRegistration(body);
    if (!reg.ok) return reg;
    const now = Date.now();
    const taken = await q.takeRegistrationToken(this.d.db, hashSecret(token.value), now);
    if (!taken.found) return fail('REGISTRATION_NOT_FOUND');
    if (taken.expired) return fail('REGISTRATION_EXPIRED');
    const id = await this.d.db.transaction().execute(async (trx) => {
      const id = await this.createKey(trx, reg.value, 'sdk', null, ip, now);
      await q.linkDevice(trx, { deviceKeyId: id, appId: taken.appId, userId: taken.userId, osType: reg.value.osType, method: 'sdk', ip, now });
      await this.d.webhooks.emit(trx, taken.appId, 'device_registration_completed', { user: { s_authy_id: String(taken.userId) }, device: { i_id: id } }, now);
      return id;
    });
    return this.registered(id);
  }

  /**
   * `POST /device/v1/phone_registrations`: a code to the phone, if any application knows it.
   * Unauthenticated, so the answer must not tell whether one does: it is given from the input and
   * the caller's allowance alone, and the lookup, the row and the code come after it (`afterAnswer`),
   * so neither its body nor its time depends on the number.
   */
  async startPhoneRegistration(body: Params, ip: string, answered: WhenAnswered = now): Promise<Outcome> {
    const cc = readString(body, 'country_code');
    const number = readString(body, 'phone_number');
    const via = readString(body, 'via');
    const locale = readString(body, 'locale');
    const code = cc.ok && cc.value !== undefined ? normalizeCallingCode(cc.value) : undefined;
    const phone = code !== undefined && number.ok && number.value ? parsePhone(number.value, code) : undefined;
    if (!phone) return fail('PHONE_INVALID');
    const channel = via.ok && (via.value ?? 'sms') === 'voice' ? 'voice' : via.ok && (via.value ?? 'sms') === 'sms' ? 'sms' : undefined;
    if (!channel) return fail('REGISTRATION_INVALID', { message: 'Registration request is invalid: via must be sms or voice' });
    const { perAddress, perHour } = this.d.registrationLimits;
    const allowed = await this.d.limits.takeRegistrationStart(addressKey(ip), perAddress, perHour);
    if (!allowed.ok) {
      if (allowed.first) this.d.log.warn({ event: 'device_phone_registration_throttled', ip }, 'device registration by phone: too many requests');
      return fail('DOS_REGISTRATIONS');
    }
    const expiresAt = Math.floor((Date.now() + PHONE_CODE_TTL_MS) / 1000) * 1000;
    const id = this.registrationId(expiresAt);
    const loc = resolveLocale(locale.ok ? locale.value : undefined, regionOf(phone.e164));
    this.afterAnswer(answered, () => this.sendRegistrationCode(id, expiresAt, phone.e164, channel, loc));
    return {
      ok: true,
      body: { registration_id: id, seconds_to_expire: PHONE_CODE_TTL_MS / 1000, message: `A registration code was sent via ${channel}.`, success: true },
    };
  }

  /**
   * The work behind a phone registration's answer. Nothing is stored or sent for a phone no
   * application knows (SMS pumping, rows made at will), nor past the number's hourly allowance:
   * confirming such a registration is answered as for a stored one (`confirmUnstored`).
   */
  private async sendRegistrationCode(id: string, expiresAt: number, e164: string, channel: 'sms' | 'voice', loc: string): Promise<void> {
    const users = await q.syncableUsers(this.d.db, this.d.contacts.phoneIndex(e164));
    const app = users.length > 0 ? await this.d.applications.find(users[0].app_id) : undefined;
    if (!app || !(await this.d.limits.takePhoneRegistration(e164))) return;
    if (!(await this.d.guard.check(app, { e164, channel, userId: null, locale: loc })).ok) return;
    const now = Date.now();
    const pin = String(randomInt(1_000_000)).padStart(6, '0');
    const vars = { appName: 'OpenFactor', code: pin, minutes: PHONE_CODE_TTL_MS / 60_000 };
    await this.d.db.transaction().execute(async (trx) => {
      await q.insertPhoneRegistration(trx, this.d.contacts, { id, e164, via: channel, codeHash: this.hashPin(id, pin), now, expiresAt });
      const text = channel === 'voice' ? voiceText(loc, vars) : smsText(loc, vars);
      await this.d.outbox.enqueue(trx, { appId: users[0].app_id, userId: null, channel, destination: e164, text, locale: loc }, now);
    });
    this.d.wakeOutbox();
    this.d.log.info({ event: 'device_phone_registration', phone: maskE164(e164), via: channel }, 'device registration code sent');
  }

  /** Work started by answers still running (or waiting for `defer`). */
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * When work after an answer starts: on the next turn of the event loop, after the answer has
   * been written. A test may replace it to hold the work and see that the answer came first.
   */
  defer: (start: () => void) => void = (start) => setImmediate(start);

  /** Runs `job` after the answer; its failure is logged (the caller has had its answer). */
  private afterAnswer(answered: WhenAnswered, job: () => Promise<void>): void {
    const run = new Promise<void>((resolve) => answered(() => this.defer(resolve)))
      .then(job)
      .catch((err: unknown) => this.d.log.error({ event: 'device_phone_registration_failed', error: err instanceof Error ? err.message : String(err) }, 'device registration by phone failed'))
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  /** Resolves once the work started by earlier answers has finished (closing, tests). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** `POST /device/v1/phone_registrations/{id}/confirm`: the code proves the phone. */
  async confirmPhoneRegistration(regId: string, body: Params, ip: string): Promise<Outcome> {
    const now = Date.now();
    const row = /^[0-9a-f-]{36}$/.test(regId) ? await q.findPhoneRegistration(this.d.db, regId) : undefined;
    if (!row) return this.confirmUnstored(regId, body, now);
    // Wrong codes tried before the row was stored (that work runs after the answer) count too.
    const missed = await this.d.limits.used('registration-missed', regId, PHONE_CODE_MAX_FAILURES, PHONE_CODE_TTL_MS / 1000);
    // The cap left for this row; the writes below hold it however many requests race.
    const cap = PHONE_CODE_MAX_FAILURES - missed;
    if (row.used_at !== null || Number(row.expires_at) <= now || row.failures >= cap || !row.code_hash) {
      return fail('REGISTRATION_NOT_FOUND');
    }
    const reg = readRegistration(body);
    if (!reg.ok) return reg;
    const pin = readString(body, 'code');
    if (!pin.ok || !pin.value || !constantTimeEqual(this.hashPin(regId, pin.value.trim()), row.code_hash)) {
      const failures = await q.failPhoneRegistration(this.d.db, regId, cap);
      if (failures === undefined) return fail('REGISTRATION_NOT_FOUND');
      this.d.log.warn({ event: 'device_registration_wrong_code', failures }, 'device registration: wrong code');
      return fail('REGISTRATION_INVALID_PIN');
    }
    // The phone is proven. A person who has devices decides whether another may join (issue 17).
    const others = await this.d.people.activeDevicesOfPhone(row.phone_index);
    if (others.length > 0 && !(await this.d.people.allowsNewDevices(row.phone_index))) {
      this.d.log.info({ event: 'device_registration_refused', reason: 'new_devices_not_allowed' }, 'device registration by phone refused: new devices are not allowed');
      return fail('NEW_DEVICES_NOT_ALLOWED');
    }
    if (!(await q.usePhoneRegistration(this.d.db, regId, now, cap))) return fail('REGISTRATION_NOT_FOUND');
    const apps = new Set((await q.syncableUsers(this.d.db, row.phone_index)).map((u) => u.app_id));
    const e164 = this.d.contacts.open(row.phone_sealed, registrationPhoneContext(row.id));
    for (const appId of apps) await this.d.guard.converted(appId, e164);
    if (others.length > 0) {
      const pending = await this.d.db.transaction().execute((trx) => this.createKey(trx, reg.value, row.via, row.phone_index, ip, now, true));
      await this.d.people.askOthers(pending, others, now);
      return this.registered(pending);
    }
    const id = await this.d.db.transaction().execute(async (trx) => {
      const id = await this.createKey(trx, reg.value, row.via, row.phone_index, ip, now);
      for (const u of await q.syncableUsers(trx, row.phone_index)) {
        await q.linkDevice(trx, { deviceKeyId: id, appId: u.app_id, userId: u.user_id, osType: reg.value.osType, method: row.via, ip, now });
        await this.d.webhooks.emit(trx, u.app_id, 'device_registration_completed', { user: { s_authy_id: String(u.user_id) }, device: { i_id: id } }, now);
      }
      return id;
    });
    return this.registered(id);
  }

  /**
   * A registration id we gave out with nothing stored behind it (a number no application knows,
   * or past its allowance) answers as a stored one whose code nobody has: 60036 for five wrong
   * codes, then 60035, and 60035 once expired. Else confirming would tell which numbers are known.
   * Its wrong codes are counted by id, in the rate-limit table; ids we never gave out (the MAC
   * does not match) cost nothing.
   */
  private async confirmUnstored(regId: string, body: Params, now: number): Promise<Outcome> {
    const expiresAt = this.expiryOf(regId);
    if (expiresAt === undefined || expiresAt <= now) return fail('REGISTRATION_NOT_FOUND');
    const ttl = PHONE_CODE_TTL_MS / 1000;
    if ((await this.d.limits.used('registration-missed', regId, PHONE_CODE_MAX_FAILURES, ttl)) >= PHONE_CODE_MAX_FAILURES) return fail('REGISTRATION_NOT_FOUND');
    const reg = readRegistration(body);
    if (!reg.ok) return reg;
    if (!(await this.d.limits.take('registration-missed', regId, PHONE_CODE_MAX_FAILURES, ttl))) return fail('REGISTRATION_NOT_FOUND');
    this.d.log.warn({ event: 'device_registration_wrong_code' }, 'device registration: wrong code');
    return fail('REGISTRATION_INVALID_PIN');
  }

  /** A registration id: its expiry, 8 random bytes and a MAC of both, as a UUID. */
  private registrationId(expiresAt: number): string {
    return opaqueId(this.codeKey, 'registration-id', expiresAt);
  }

  private expiryOf(regId: string): number | undefined {
    return expiryOfOpaqueId(this.codeKey, 'registration-id', regId);
  }

  /**
   * `pending`: created waiting for another device's approval (never usable before); with
   * `recoveryId`, waiting for that account recovery's end instead.
   */
  async createKey(trx: Kysely<DB>, r: Registration, method: 'sdk' | 'sms' | 'voice', phoneIndex: string | null, ip: string, now: number, pending = false, recoveryId: string | null = null) {
    const id = await q.insertDeviceKey(trx, {
      pending_since: pending ? now : null,
      recovery_id: recoveryId,
      algorithm: r.algorithm,
      os_type: r.osType,
      name: r.name,
      registration_method: method,
      phone_index: phoneIndex,
      push_subscription_sealed: null,
      ip,
      created_at: now,
    });
    await q.setPublicKey(trx, id, seal(this.d.keys[0], r.publicKey, publicKeyContext(id)));
    if (r.push) await q.setPushSubscription(trx, id, seal(this.d.keys[0], r.push, pushContext(id)));
    return id;
  }

  async registered(id: number): Promise<Outcome> {
    const device = (await q.findDeviceKey(this.d.db, id))!;
    const pending = device.pending_since !== null;
    return {
      ok: true,
      body: {
        device: deviceBody(device),
        accounts: pending ? [] : await this.accountList(id),
        message: !pending
          ? 'Device registered.'
          : device.recovery_id !== null
            ? 'Device registered: it gets your accounts when the account recovery ends.'
            : 'Device registered: waiting for approval from another of your devices.',
        success: true,
      },
    };
  }

  /** `GET /device/v1/device`: this device, and whether it is still waiting for an approval. */
  self(device: Device): Outcome {
    return { ok: true, body: { device: deviceBody(device), message: 'Device.', success: true } };
  }

  /** `PUT /device/v1/device` `{"name": "Anna's laptop"}`: the device names itself; every list of devices shows it. */
  async rename(device: Device, body: Params): Promise<Outcome> {
    const name = readDeviceName(body);
    if (!name.ok) return name;
    await q.renameDevice(this.d.db, device.id, name.value);
    this.d.log.info({ event: 'device_renamed', device: device.id }, 'a device renamed itself');
    return { ok: true, body: { device: deviceBody({ ...device, name: name.value }), message: 'Device renamed.', success: true } };
  }

  /**
   * Checks a signed device call (docs/device-api.md): known device, fresh timestamp, unused
   * nonce, signature by the device's key over the exact bytes sent.
   */
  async authenticate(headers: IncomingHttpHeaders, method: string, pathAndQuery: string, body: Buffer): Promise<Authenticated> {
    const h = (name: string) => {
      const v = headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const idText = h('x-openfactor-device');
    const ts = h('x-openfactor-timestamp');
    const nonce = h('x-openfactor-nonce');
    const signature = h('x-openfactor-signature');
    // One answer for every reason (a caller learns nothing); the reason goes to the debug log.
    const deny = (reason: string) => {
      this.d.log.debug({ event: 'device_signature_refused', device: idText, reason }, 'device request refused');
      return fail('SIGNATURE_INVALID');
    };
    if (!idText || !/^\d{1,10}$/.test(idText) || !ts || !/^\d{1,12}$/.test(ts) || !nonce || !/^[A-Za-z0-9_-]{16,64}$/.test(nonce) || !signature) return deny('malformed headers');
    const now = Date.now();
    if (Math.abs(Number(ts) - now / 1000) > CLOCK_SKEW_S) return deny('timestamp outside the window');
    const device = await q.findDeviceKey(this.d.db, Number(idText));
    if (!device?.public_key_sealed) return deny('unknown device');
    const key = readPublicKey(device.algorithm, unseal(this.d.keys, device.public_key_sealed, publicKeyContext(device.id)).toString('utf8'));
    if (!key || !verifyDeviceSignature(device.algorithm, key, signedRequestString(ts, nonce, method, pathAndQuery, body), signature)) return deny('bad signature');
    if (!(await q.useNonce(this.d.db, device.id, nonce, now + 2 * CLOCK_SKEW_S * 1000))) return deny('nonce used before');
    await q.touchDevice(this.d.db, device.id, now);
    return { ok: true, device: { ...device, publicKey: key } };
  }

  /** `GET /device/v1/accounts`; a phone-registered device also gets users added since. */
  async accounts(device: Device): Promise<Outcome> {
    if (device.phone_index && device.pending_since === null) {
      const now = Date.now();
      for (const u of await q.syncableUsers(this.d.db, device.phone_index)) {
        await q.linkDevice(this.d.db, { deviceKeyId: device.id, appId: u.app_id, userId: u.user_id, osType: device.os_type, method: device.registration_method, ip: device.ip, now });
      }
    }
    return { ok: true, body: { accounts: await this.accountList(device.id), message: 'Accounts.', success: true } };
  }

  private async accountList(deviceKeyId: number) {
    const rows = await q.accountsOf(this.d.db, deviceKeyId);
    return rows
      .filter((r) => r.totp_seed_sealed)
      .map((r) => ({
        authy_id: r.user_id,
        app_id: r.app_id,
        app_name: r.app_name,
        seed: new Secret({ buffer: new Uint8Array(unseal(this.d.keys, r.totp_seed_sealed!, totpSeedContext(r.user_id))).buffer }).base32.replace(/=+$/, ''),
        digits: r.token_length,
        period: PERIOD,
        algorithm: 'SHA1',
        recovery_codes: r.recovery_codes_on_devices === 1,
      }));
  }

  /**
   * `POST /device/v1/recovery_codes` `{"app_id","authy_id"}`: a new set for one of this device's
   * accounts (the authenticator's printable list), where its application allows it; the old set
   * stops working, as when the backend asks.
   */
  async newRecoveryCodes(device: Device, body: Params): Promise<Outcome> {
    const appId = Number(readString(body, 'app_id').ok ? body.app_id : NaN);
    const authyId = Number(readString(body, 'authy_id').ok ? body.authy_id : NaN);
    const account = (await q.accountsOf(this.d.db, device.id)).find((r) => r.app_id === appId && r.user_id === authyId);
    if (!account) return fail('USER_NOT_FOUND');
    if (account.recovery_codes_on_devices !== 1) return fail('RECOVERY_CODES_NOT_ALLOWED');
    const app = await this.d.applications.find(appId);
    if (!app) return fail('USER_NOT_FOUND');
    const made = await this.d.recoveryCodes.create(app, String(authyId));
    if (made.ok) this.d.log.info({ event: 'recovery_codes_created', by: 'device', device: device.id, app_id: appId, authy_id: authyId }, 'recovery codes made from a device');
    return made;
  }

  /** `PUT /device/v1/push_subscription`. */
  async setPush(device: Device, body: Params): Promise<Outcome> {
    const raw = (body as Record<string, unknown>).push_subscription;
    if (raw === null || raw === undefined || raw === '') {
      await q.setPushSubscription(this.d.db, device.id, null);
      return { ok: true, body: { message: 'Push subscription removed.', success: true } };
    }
    const sub = readPushSubscription(raw);
    if (!sub) return fail('INVALID_PARAMETER', { message: 'Invalid parameter: push_subscription - is not a Web Push subscription' });
    await q.setPushSubscription(this.d.db, device.id, seal(this.d.keys[0], JSON.stringify(sub), pushContext(device.id)));
    return { ok: true, body: { message: 'Push subscription saved.', success: true } };
  }

  /** The devices that hold an account of this user (approval requests go to each), with their push subscriptions. */
  keysOfUser(userId: number) {
    return q.deviceKeysOfUser(this.d.db, userId);
  }

  /** The push service says the device's subscription no longer exists. */
  async dropPushSubscription(id: number): Promise<void> {
    await q.setPushSubscription(this.d.db, id, null);
  }

  pushSubscriptionOf(id: number, sealed: string) {
    return readPushSubscription(JSON.parse(unseal(this.d.keys, sealed, pushContext(id)).toString('utf8')));
  }

  /** `DELETE /device/v1/device`. */
  async unregister(device: Device): Promise<Outcome> {
    await q.removeDevice(this.d.db, device.id, Date.now());
    return { ok: true, body: { message: 'Device removed.', success: true } };
  }

  /** Old nonces and registrations need not be kept. */
  async sweep(now = Date.now()): Promise<void> {
    await q.forgetNonces(this.d.db, now);
  }

  private hashPin(regId: string, pin: string): string {
    return createHmac('sha256', this.codeKey).update(`${regId}:${pin}`).digest('base64url');
  }
}

const deviceBody = (d: q.DeviceKeyRow) => ({
  id: d.id,
  name: d.name,
  os_type: d.os_type,
  algorithm: d.algorithm,
  registration_method: d.registration_method,
  status: d.pending_since === null ? 'active' : d.recovery_id !== null ? 'pending_recovery' : 'pending_approval',
});

/** The longest name a device may give itself, in characters (code points). */
export const DEVICE_NAME_MAX = 64;
// Control characters, line and paragraph separators, and the bidirectional overrides and
// isolates (which could make a name read as another in a list): refused, never silently dropped.
const UNSHOWABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** A name a person gives their device: trimmed, 1 to 64 characters, nothing that cannot be shown as text. */
export function readDeviceName(body: Params): { ok: true; value: string } | Failure {
  const raw = readString(body, 'name');
  if (!raw.ok) return raw;
  if (raw.value === undefined) return invalidParameter('name', 'is missing');
  if (UNSHOWABLE.test(raw.value)) return invalidParameter('name', 'must not contain control characters (line breaks, tabs and the like)');
  const name = raw.value.normalize('NFC').trim();
  if (name === '') return invalidParameter('name', 'is empty');
  if ([...name].length > DEVICE_NAME_MAX) return invalidParameter('name', `is longer than ${DEVICE_NAME_MAX} characters`);
  return { ok: true, value: name };
}

export function readRegistration(body: Params): { ok: true; value: Registration } | Failure {
  const invalid = (why: string) => fail('REGISTRATION_INVALID', { message: `Registration request is invalid: ${why}` });
  const alg = readString(body, 'algorithm');
  const algorithm = (alg.ok ? (alg.value ?? 'ES256') : '') as DeviceAlgorithm;
  if (!DEVICE_ALGORITHMS.includes(algorithm)) return invalid('algorithm must be ES256 or Ed25519');
  const pk = readString(body, 'public_key');
  if (!pk.ok || !pk.value || !readPublicKey(algorithm, pk.value)) return invalid(`public_key is not an ${algorithm} public key (SPKI, base64url)`);
  const os = readString(body, 'os_type');
  const osType = os.ok && os.value ? os.value.trim().toLowerCase() : 'unknown';
  if (!/^[a-z0-9_]{1,32}$/.test(osType)) return invalid('os_type must be a short name like android, ios or chrome');
  const nm = readString(body, 'name');
  // Shown in lists; control characters (and NUL, which PostgreSQL refuses) are dropped.
  const name = nm.ok && nm.value ? nm.value.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 100) || osType : osType;
  const rawPush = (body as Record<string, unknown>).push_subscription;
  let push: string | null = null;
  if (rawPush !== undefined && rawPush !== null && rawPush !== '') {
    const sub = readPushSubscription(rawPush);
    if (!sub) return invalid('push_subscription is not a Web Push subscription');
    push = JSON.stringify(sub);
  }
  return { ok: true, value: { publicKey: pk.value, algorithm, osType, name, push } };
}
