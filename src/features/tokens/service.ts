// One-time passwords: codes sent by SMS, voice and email, app TOTPs, QR-enrolled authenticators,
// and the one verify that accepts any of them — with replay rejection and attempt caps.
import { auditForUsers, type ServiceAudit } from '../../admin/audit.ts';
import { RECOVERY_CODE_DIGITS, type RecoveryCodes } from './recovery-codes.ts';
import { createHmac, randomInt } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type QRCodeTypes from 'qrcode';
import { lazy } from '../../core/lazy.ts';

const QRCode = lazy<typeof QRCodeTypes>('qrcode');
import { deriveKey, randomBytes, seal, unseal, type MasterKey } from '../../core/crypto.ts';
import { fail, invalidParameter } from '../../core/errors.ts';
import { emailText, resolveLocale, smsActionText, smsText, voiceText } from '../../core/i18n.ts';
import { findStep, newSecret, totpStep } from '../../core/otp.ts';
import { readBool, readString, type Params } from '../../core/params.ts';
import { maskCellphone, nationalOf, regionOf } from '../../core/phone.ts';
import type { Outbox } from '../../delivery/outbox.ts';
import type { DB } from '../../store/schema.ts';
import { writeTogether } from '../../store/prepared.ts';
import type { Outcome } from '../../wire/route.ts';
import { SETTING_BOUNDS, type Application, type UsageCounter } from '../applications/service.ts';
import { qrLabelContext, type Contacts } from '../../store/contacts.ts';
import { emailOf, findUser, parseAuthyId, phoneOf, sealTotpSeed, totpSeedContext } from '../users/service.ts';
import type { SafetyLimits } from './limits.ts';
import * as q from './queries.ts';
import type { Webhooks } from '../webhooks/service.ts';
import type { ConversionKeys, SendGuard } from '../send-guard/service.ts';

/** App TOTPs and QR authenticators: 30 s steps; one step either side of the learned offset. */
const STEP_SECONDS = 30;
const WINDOW = { behind: 1, ahead: 1 };
/** The learned clock offset never exceeds this many steps (5 minutes) either way. */
export const MAX_DRIFT_STEPS = 10;
/** A token's step is at most this far from now; a used step matters until no such token is left that it refuses. */
const STEP_MATTERS_MS = (2 * (MAX_DRIFT_STEPS + WINDOW.ahead) + 2) * STEP_SECONDS * 1000;
/** A sent code's use matters while the code can verify: at most the largest TTL settings allow, plus a minute of clocks. */
const CODE_USE_MATTERS_MS = (SETTING_BOUNDS.codeTtlSeconds[1] + 60) * 1000;
const QR_DIGITS = 6;
/** Every token verify checks is 6 to 12 digits; anything else is wrong without a look. */
const CODE_SHAPED = /^\d{6,12}$/;
const QR_LIFETIME_MS = 24 * 3600_000;

const NOT_CHECKED =
  'Not checked. User has not yet finished the registration process. Pass force=true to this API to check regardless (more secure).';

export interface TokenDeps {
  db: Kysely<DB>;
  keys: MasterKey[];
  /** Users' numbers and addresses are sealed (store/contacts.ts). */
  contacts: Contacts;
  outbox: Outbox;
  /** Tells the delivery worker a message is waiting. */
  wakeOutbox(): void;
  limits: SafetyLimits;
  usage: UsageCounter;
  log: FastifyBaseLogger;
  /** Webhook events (totp_token_sent, token_verified, token_invalid). */
  webhooks?: Webhooks;
  /** The SMS-pumping defence; every SMS and call passes it. */
  guard: SendGuard;
  /** Lockouts go to the audit trail. */
  audit?: ServiceAudit;
  /** Single-use codes for the day every device is lost; `verify` accepts them too. */
  recoveryCodes: RecoveryCodes;
}

type Factor =
  | { kind: 'app'; step: number }
  | { kind: 'qr'; step: number; createdAt: number }
  | { kind: 'sms' | 'voice'; converts?: ConversionKeys; counted: boolean }
  | { kind: 'email' | 'recovery' };

type Check = { ok: true; factor: Factor } | { ok: false; reused: boolean };

export class Tokens {
  private readonly codeKey: Buffer;

  get recoveryCodes(): RecoveryCodes {
    return this.d.recoveryCodes;
  }

  constructor(private readonly d: TokenDeps) {
    this.codeKey = sentCodeKey(d.keys[0]);
  }

  private hashCode(userId: number, code: string): string {
    return sentCodeHash(this.codeKey, userId, code);
  }

  /** `GET sms/{id}` and `GET call/{id}`. */
  async send(app: Application, idText: string, params: Params, channel: 'sms' | 'voice'): Promise<Outcome> {
    const input = readSendParams(params);
    if (!input.ok) return input;
    const { force, action, actionMessage, locale } = input.value;
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await findUser(this.d.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    if (channel === 'sms' && !app.smsEnabled) return fail('SMS_DISABLED');
    if (channel === 'voice' && !app.callsEnabled) return fail('CALLS_DISABLED');

    const e164 = phoneOf(this.d.contacts, user);
    const cellphone = maskCellphone(user.country_code, nationalOf(e164, user.country_code));
    // Actions are SMS-only; an action-bound SMS is always sent.
    const boundAction = channel === 'sms' ? action : undefined;
    if (!force && boundAction === undefined) {
      const device = await q.findDevice(this.d.db, user.id);
      if (device) return { ok: true, body: ignoredBody(channel, cellphone, device.os_type) };
    }
    // The user's own hourly cap first: its message is the one Authy clients know.
    if (!(await this.d.limits.takeSend(app.settings, user.id))) return fail('DOS_SENDS');
    const loc = resolveLocale(locale, regionOf(e164));
    const guarded = await this.d.guard.check(app, { e164, channel, userId: user.id, locale: loc });
    if (!guarded.ok) return guarded;

    const code = randomCode(app.settings.tokenLength);
    const vars = { appName: app.name, code, minutes: Math.round(app.settings.codeTtlSeconds / 60) };
    const text =
      channel === 'voice' ? voiceText(loc, vars) : boundAction !== undefined && actionMessage ? smsActionText(loc, { ...vars, actionMessage }) : smsText(loc, vars);
    // The voice text rides along when the application wants a call if the SMS is not delivered.
    const fallbackText = channel === 'sms' && app.settings.smsFallbackToVoice && app.callsEnabled ? voiceText(loc, vars) : undefined;
    await this.record(app, user.id, channel, code, boundAction ?? null, { destination: e164, text, locale: loc, fallbackText });
    const message = channel === 'sms' ? 'SMS token was sent' : 'Call started...';
    return { ok: true, body: { success: true, message, cellphone } };
  }

  /** `POST email/{id}`: a code to the user's email address. */
  async sendEmail(app: Application, idText: string): Promise<Outcome> {
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await findUser(this.d.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    if (!(await this.d.limits.takeSend(app.settings, user.id))) return fail('DOS_SENDS');
    const code = randomCode(app.settings.tokenLength);
    const loc = resolveLocale(undefined, regionOf(phoneOf(this.d.contacts, user)));
    const email = emailOf(this.d.contacts, user);
    const mail = emailText(loc, { appName: app.name, code, minutes: Math.round(app.settings.codeTtlSeconds / 60) });
    const emailId = await this.record(app, user.id, 'email', code, null, { destination: email, text: `${mail.subject}\n\n${mail.text}`, locale: loc });
    return { ok: true, body: { success: true, message: 'Email token was sent', email, email_id: emailId } };
  }

  /** The code's hash, its outbox message and its webhook events, written together: all or none. */
  private async record(
    app: Application,
    userId: number,
    channel: 'sms' | 'voice' | 'email',
    code: string,
    action: string | null,
    message: { destination: string; text: string; locale: string; fallbackText?: string },
  ): Promise<string> {
    const now = Date.now();
    const { sid, step } = this.d.outbox.enqueueStep({ appId: app.id, userId, channel, ...message }, now);
    const events = (await this.d.webhooks?.eventSteps(this.d.db, app.id, 'totp_token_sent', { user: { s_authy_id: String(userId) }, message: { s_id: sid, s_channel: channel } }, now)) ?? [];
    const codeHash = this.hashCode(userId, code);
    const converts = channel === 'email' ? undefined : this.d.guard.conversionKeys(message.destination);
    await writeTogether(this.d.db, [q.sentCodeStep({ appId: app.id, userId, channel, codeHash, action, now, expiresAt: now + app.settings.codeTtlSeconds * 1000, converts }), step, ...events]);
    this.d.wakeOutbox();
    return sid;
  }

  /** `GET verify/{token}/{id}`: the hot path. One user read, the OTP maths, one conditional write. */
  async verify(app: Application, token: string, idText: string, params: Params): Promise<Outcome> {
    const force = readBool(params, 'force', false);
    if (!force.ok) return force;
    const action = readString(params, 'action');
    if (!action.ok) return action;
    const id = parseAuthyId(idText);
    // On PostgreSQL a token that could be a sent code is looked up by its hash in the same read.
    const codeHash = () => (id !== undefined && CODE_SHAPED.test(token) ? this.hashCode(id, token) : null);
    const user = id === undefined ? undefined : await q.findUserFactors(this.d.db, { appId: app.id, id, codeHash });
    if (!user) return fail('USER_DOES_NOT_EXIST');
    // Authy's answer for a user who never verified, kept for applications that ask for it: any
    // token gets a 200, which some clients take as a success (README, "Differences from Authy").
    if (app.settings.unregisteredVerifyLegacy && user.confirmed !== 1 && !force.value && user.device_id === null) {
      return { ok: true, body: { message: NOT_CHECKED, token: NOT_CHECKED } };
    }

    const now = Date.now();
    const usage = this.d.usage;
    if (user.verify_locked_until !== null && Number(user.verify_locked_until) > now) {
      usage.countCheck(app.id, 'locked', now);
      return fail('DOS_VERIFY');
    }
    const check = CODE_SHAPED.test(token) ? await this.check(app, user, token, action.value || undefined, now) : { ok: false as const, reused: false };
    if (!check.ok) {
      const counted = await this.countFailure(app, user.id, now);
      usage.countCheck(app.id, !counted ? 'locked' : check.reused ? 'reused' : 'invalid', now);
      // Not counted: the user was locked meanwhile, and this token is answered as if unchecked.
      if (!counted) return fail('DOS_VERIFY');
      await this.d.webhooks?.emit(this.d.db, app.id, 'token_invalid', { user: { s_authy_id: String(user.id) }, token: { b_reused: check.reused } }, now);
      return fail(check.reused ? 'TOKEN_REUSED' : 'TOKEN_INVALID', { head: { token: 'is invalid' } });
    }
    usage.count(app.id, 'auths');
    usage.countCheck(app.id, 'valid', now);
    if ((check.factor.kind === 'sms' || check.factor.kind === 'voice') && !check.factor.counted) {
      // Codes sent before their keys were kept (0044) open the number instead.
      const keys = check.factor.converts;
      await (keys ? this.d.guard.convertedUnder(app.id, keys) : this.d.guard.converted(app.id, phoneOf(this.d.contacts, user)));
    }
    await this.d.webhooks?.emit(this.d.db, app.id, 'token_verified', { user: { s_authy_id: String(user.id) }, token: { s_factor: check.factor.kind } }, now);
    const device = check.factor.kind === 'app' && user.device_id !== null ? await q.findDeviceById(this.d.db, user.device_id) : undefined;
    return { ok: true, body: { message: 'Token is valid.', token: 'is valid', success: 'true', device: deviceBody(check.factor, user, device) } };
  }

  /**
   * The attempt cap: N wrong tokens within the window lock verification for a while. False when
   * the user is locked already: the token does not count and must not be answered as checked.
   */
  private async countFailure(app: Application, userId: number, now: number): Promise<boolean> {
    const s = app.settings;
    const { counted, locked } = await q.recordFailure(this.d.db, userId, now, { max: s.verifyMaxFailures, windowMs: s.verifyFailureWindowSeconds * 1000, lockoutMs: s.verifyLockoutSeconds * 1000 });
    if (locked) {
      this.d.log.warn({ event: 'verify_lockout', app_id: app.id, authy_id: userId, failures: s.verifyMaxFailures }, 'verification locked: too many invalid tokens');
      await auditForUsers(this.d.audit, this.d.log, { actor: 'OpenFactor', actorKind: 'service', action: 'user.locked', target: {}, detail: { wrong_codes: s.verifyMaxFailures, within_seconds: s.verifyFailureWindowSeconds, locked_for_seconds: s.verifyLockoutSeconds } }, [{ app_id: app.id, id: userId }]);
    }
    return counted;
  }

  /**
   * Which factor `token` is, if any; marks it used. An action accepts only codes sent with it.
   * A right token is refused (as reused) when the user was locked since the read; the caller's
   * count of it then answers 429. Sent codes are looked at first: a hash, and on SQLite a read
   * only for a user who has any, where an app token's seed costs an unseal and three HMACs
   * (10 µs, most of what a right SMS code spent before its write). A token that is two factors
   * at once (one in ten million) is taken as the code, and once used is refused as reused: never
   * accepted a second time as the other factor.
   */
  private async check(app: Application, user: q.UserFactors, token: string, action: string | undefined, now: number): Promise<Check> {
    const code = await this.checkSentCode(user, token, action, now);
    if (code.ok || code.reused || action !== undefined) return code;
    const otp = await this.checkOtp(app, user, token, now);
    if (otp) return otp;
    // A recovery code: only a token of its length costs the lookup.
    if (token.length === RECOVERY_CODE_DIGITS) {
      const r = await this.d.recoveryCodes.use(user.id, token, now);
      if (r === 'used') return { ok: true, factor: { kind: 'recovery' } };
      return { ok: false, reused: r === 'reused' };
    }
    return code;
  }

  /** An SMS, voice or email code sent to the user (with `action`, when one is given). */
  private async checkSentCode(user: q.UserFactors, token: string, action: string | undefined, now: number): Promise<Check> {
    const sent = user.sent_codes ?? (user.has_sent_codes ? await q.findSentCodes(this.d.db, user.id, this.hashCode(user.id, token)) : []);
    if (sent.length === 0) return { ok: false, reused: false };
    const codes = sent.filter((c) => (c.action ?? undefined) === action);
    const usable = codes.find((c) => c.used_at === null && Number(c.expires_at) > now);
    if (!usable) return { ok: false, reused: codes.some((c) => c.used_at !== null) };
    // Where the code's use can count its conversion too (PostgreSQL), it does.
    const conversionWindow = usable.conversion_prefix !== null && usable.conversion_country !== null ? this.d.guard.conversionWindow() : undefined;
    const used = await q.useSentCode(this.d.db, { id: usable.id, userId: user.id, now, mattersMs: CODE_USE_MATTERS_MS, conversionWindow });
    if (used) return { ok: true, factor: factorOf(usable, used === 'counted') };
    return { ok: false, reused: true };
  }

  /** The app token or the QR authenticator's code: undefined when `token` is neither at any step of the window. */
  private async checkOtp(app: Application, user: q.UserFactors, token: string, now: number): Promise<Check | undefined> {
    const current = totpStep(now, STEP_SECONDS);
    if (token.length === app.settings.tokenLength) {
      const seed = user.totp_seed_sealed ? unseal(this.d.keys, user.totp_seed_sealed, totpSeedContext(user.id)) : await this.firstSeed(user);
      const step = findStep(seed, token, current + user.totp_drift, WINDOW, { digits: app.settings.tokenLength });
      if (step !== undefined && Math.abs(step - current) <= MAX_DRIFT_STEPS + WINDOW.ahead) {
        const fresh = user.totp_last_step === null || step > user.totp_last_step;
        if (fresh && (await q.acceptAppStep(this.d.db, { userId: user.id, step, drift: clampDrift(step - current), now, mattersMs: STEP_MATTERS_MS }))) return { ok: true, factor: { kind: 'app', step } };
        return { ok: false, reused: true };
      }
    }
    if (token.length === QR_DIGITS && user.qr_secret_sealed) {
      const secret = unseal(this.d.keys, user.qr_secret_sealed, qrSecretContext(user.id));
      const step = findStep(secret, token, current + (user.qr_drift ?? 0), WINDOW, { digits: QR_DIGITS });
      if (step !== undefined && Math.abs(step - current) <= MAX_DRIFT_STEPS + WINDOW.ahead) {
        const fresh = user.qr_last_step === null || step > user.qr_last_step;
        if (fresh && (await q.acceptQrStep(this.d.db, { userId: user.id, step, drift: clampDrift(step - current), now, mattersMs: STEP_MATTERS_MS }))) {
          return { ok: true, factor: { kind: 'qr', step, createdAt: Number(user.qr_created_at) } };
        }
        return { ok: false, reused: true };
      }
    }
    return undefined;
  }

  /** Users created before seeds existed get their app-TOTP seed on first use. */
  private async firstSeed(user: q.UserFactors): Promise<Buffer> {
    // Only where still empty: of two concurrent first uses, both end up with the one stored seed.
    await q.setTotpSeed(this.d.db, user.id, sealTotpSeed(this.d.keys[0], user.id, newSecret()));
    return unseal(this.d.keys, await q.readTotpSeed(this.d.db, user.id), totpSeedContext(user.id));
  }

  /** `POST users/{id}/secret`: a fresh generic-authenticator secret and a link to its QR code. */
  async createSecret(app: Application, idText: string, params: Params, baseUrl: string): Promise<Outcome> {
    if (!app.settings.genericTokensEnabled) return fail('GENERIC_TOKENS_DISABLED');
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await findUser(this.d.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const size = readQrSize(params);
    if (!size.ok) return size;
    const label = readString(params, 'label');
    if (!label.ok) return label;
    const name = label.value?.trim() || emailOf(this.d.contacts, user);
    if (name.length > 255) return invalidParameter('label', 'is too long (maximum is 255 characters)');

    const now = Date.now();
    const qrToken = randomBytes(24).toString('base64url');
    await storeAuthenticators(this.d.db, [sealAuthenticator(this.d.keys[0], {
      userId: user.id,
      appId: app.id,
      issuer: app.name,
      secret: newSecret(),
      label: name,
      qrToken,
      qrSize: size.value,
      qrExpiresAt: now + QR_LIFETIME_MS,
      now,
    })]);
    return {
      ok: true,
      body: { label: `${app.name}(${name})`, Issuer: app.name, qr_code: `${baseUrl}/qr/${qrToken}.png`, message: 'QR code generated.', success: true },
    };
  }

  /** The PNG behind a `qr_code` link, while it is valid (24 h); no API key needed. */
  async qrImage(qrToken: string): Promise<Buffer | undefined> {
    const row = await q.findQr(this.d.db, qrToken);
    if (!row || Number(row.qr_expires_at) <= Date.now()) return undefined;
    const secret = unseal(this.d.keys, row.secret_sealed, qrSecretContext(row.user_id));
    const uri = otpauthUri(secret, row.issuer, unseal(this.d.keys, row.label, qrLabelContext(row.user_id)).toString('utf8'));
    return QRCode().toBuffer(uri, { type: 'png', width: row.qr_size, margin: 2, errorCorrectionLevel: 'M' });
  }
}

/** The console's unlock: ends a verification lockout and forgets the wrong tokens counted towards the next; 0 if no such user. */
export const unlockVerification = (db: Kysely<DB>, appId: number, userId: number): Promise<number> => q.unlockVerification(db, appId, userId);

/** Sent codes are kept as a keyed hash (key: `sentCodeKey`): a database dump reveals none of them. */
export const sentCodeHash = (codeKey: Buffer, userId: number, code: string) => createHmac('sha256', codeKey).update(`${userId}:${code}`).digest('base64url');
export const sentCodeKey = (mk: MasterKey) => deriveKey(mk, 'sent-codes');

export const qrSecretContext = (userId: number) => `authenticators:${userId}:secret`;

interface NewAuthenticator {
  userId: number;
  appId: number;
  issuer: string;
  secret: Buffer;
  label: string;
  qrToken: string;
  qrSize: number;
  qrExpiresAt: number;
  now: number;
}

/** An authenticator ready to store: its secret and label sealed to the user's row. */
export type SealedAuthenticator = Parameters<typeof q.replaceAuthenticators>[1][number];

const sealAuthenticator = (key: MasterKey, a: NewAuthenticator): SealedAuthenticator => ({
  userId: a.userId,
  appId: a.appId,
  secretSealed: seal(key, a.secret, qrSecretContext(a.userId)),
  label: seal(key, a.label, qrLabelContext(a.userId)),
  issuer: a.issuer,
  qrToken: a.qrToken,
  qrSize: a.qrSize,
  qrExpiresAt: a.qrExpiresAt,
  now: a.now,
});

/** Each user's one QR authenticator, replaced. */
export const storeAuthenticators = (db: Kysely<DB>, list: SealedAuthenticator[]) => q.replaceAuthenticators(db, list);

/**
 * An authenticator whose secret the person's app already holds (`users import`): nothing to
 * enrol, so its QR link is expired from the start.
 */
export const sealKeptAuthenticator = (key: MasterKey, a: Omit<NewAuthenticator, 'qrToken' | 'qrSize' | 'qrExpiresAt'>) =>
  sealAuthenticator(key, { ...a, qrToken: keptQrToken(a.now), qrSize: 256, qrExpiresAt: a.now });

/**
 * Unique like any QR link, but it sorts after the links of earlier imports: the time comes first.
 * A million imported then go into the `qr_token` index at its end, not each onto a random page
 * that every commit writes out again (bench: the SQLite import took 10% less CPU).
 */
const keptQrToken = (now: number) => now.toString(16).padStart(12, '0') + randomBytes(16).toString('base64url');

/** The `otpauth://totp/…` URI every Google-Authenticator-style app reads. */
export const otpauthUri = (secret: Buffer, issuer: string, label: string) =>
  new TOTP({ issuer, label, secret: new Secret({ buffer: new Uint8Array(secret).buffer }), digits: QR_DIGITS, period: STEP_SECONDS, algorithm: 'SHA1' }).toString();

/** The factor a used sent code was, with where its conversion is counted (unless its use counted it). */
function factorOf(code: q.SentCode, counted: boolean): Factor {
  if (code.channel === 'email') return { kind: 'email' };
  const converts = code.conversion_prefix !== null && code.conversion_country !== null ? { prefix: code.conversion_prefix, country: code.conversion_country } : undefined;
  return { kind: code.channel, converts, counted };
}

const clampDrift = (d: number) => Math.max(-MAX_DRIFT_STEPS, Math.min(MAX_DRIFT_STEPS, d));

/** A uniformly random code of `digits` digits (leading zeros allowed). */
function randomCode(digits: number): string {
  let s = '';
  for (let i = 0; i < digits; i++) s += String(randomInt(10));
  return s;
}

function readSendParams(params: Params) {
  const force = readBool(params, 'force', false);
  if (!force.ok) return force;
  const out = { force: force.value } as { force: boolean; action?: string; actionMessage?: string; locale?: string };
  for (const [name, key] of [['action', 'action'], ['action_message', 'actionMessage'], ['locale', 'locale']] as const) {
    const v = readString(params, name);
    if (!v.ok) return v;
    if (v.value !== undefined && v.value.length > 255) return invalidParameter(name, 'is too long (maximum is 255 characters)');
    if (v.value) out[key] = v.value;
  }
  return { ok: true as const, value: out };
}

/** `qr_size`: default 256, at most 320 (larger asks get 320), at least 64. */
function readQrSize(params: Params) {
  const raw = params.qr_size;
  if (raw === undefined || raw === '') return { ok: true as const, value: 256 };
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d{1,6}\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1) return invalidParameter('qr_size', 'must be a whole number of pixels');
  return { ok: true as const, value: Math.max(64, Math.min(320, n)) };
}

function ignoredBody(channel: 'sms' | 'voice', cellphone: string, device: string) {
  const message =
    channel === 'sms'
      ? 'Ignored: SMS is not needed for smartphones. Pass force=true if you want to actually send it anyway.'
      : 'Call ignored. User is using  App Tokens and this call is not necessary. Pass force=true if you still want to call users that are using the App.';
  return { success: true, message, cellphone, device, ignored: true };
}

const secondsOf = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : Math.floor(Number(ms) / 1000));

/** Verify's `device` object, in the key order of Authy's own example. */
function deviceBody(factor: Factor, user: q.UserFactors, device: q.DeviceRow | undefined) {
  const d = factor.kind === 'app' ? device : undefined;
  // Authy reports SMS and voice codes alike as "sms" (wire reference §2.9).
  const osType = d ? d.os_type : factor.kind === 'app' ? 'authy' : factor.kind === 'qr' ? 'authenticator' : factor.kind === 'voice' ? 'sms' : factor.kind;
  const registered = d ? d.created_at : factor.kind === 'qr' ? factor.createdAt : user.created_at;
  return {
    city: d?.city ?? null,
    country: d?.country ?? null,
    ip: d?.ip ?? null,
    region: d?.region ?? null,
    registration_city: d?.city ?? null,
    registration_country: d?.country ?? null,
    registration_device_id: d?.id ?? null,
    registration_ip: d?.ip ?? null,
    registration_method: d ? d.registration_method : factor.kind === 'qr' ? 'qr' : null,
    registration_region: d?.region ?? null,
    os_type: osType,
    last_account_recovery_at: secondsOf(user.last_account_recovery_at),
    id: d?.id ?? null,
    registration_date: secondsOf(registered),
    last_sync_date: secondsOf(d?.last_sync_at),
  };
}
