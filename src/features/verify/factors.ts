// Twilio Verify v2 TOTP and push factors (issue 21 point 5): entities, factors, challenges and
// notifications under /v2/Services/{VA}/Entities/{Identity}.
//
// TOTP: the factor's secret is made here (or given as Binding.Secret), answered once in `binding`
// with its otpauth:// URI, and kept sealed (context: the factor SID). Codes are RFC 6238 with the
// factor's step, length and algorithm, within ±skew steps.
//   - Replay: a code is good once per factor and time step (the step must be above the last one
//     accepted, one conditional UPDATE), as on the Authy routes.
//   - Attempt caps, Twilio's documented ones: five wrong codes while verifying a factor, then
//     429/60310 (the factor is spent: make a new one); five wrong codes on a challenge, then
//     429/60308. And OpenFactor's verify lockout over them, since a new challenge is a new five:
//     ten wrong codes in a row on a verified factor lock its codes for fifteen minutes (60308).
//
// Push: the factor's binding is the device's ES256 public key (base64 DER SPKI), sealed like every
// OpenFactor device key. The device answers a challenge the way Twilio's mobile SDK does: it
// fetches it (the answer carries `Twilio-Verify-Signature-Fields`), signs a JWT with those fields
// and the status it chose, and posts it as `AuthPayload`. It authenticates either with the
// account's credentials (a backend relaying for it) or, as Twilio's SDK does, with HTTP Basic
// whose password is a JWT signed by the factor's key with a `verify_push` grant; such a caller
// reaches only its own factor and that factor's challenges. An OpenFactor device that enrolled
// the factor with an access token (`enrolDevice`) hears of its challenges on its event stream;
// OpenFactor has no APNs/FCM transport, so a device of Twilio's SDK lists the pending ones
// (Twilio's own fallback when a notification is missed).
import { createPublicKey, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { HOTP, Secret } from 'otpauth';
import { seal, unseal, type MasterKey } from '../../core/crypto.ts';
import { twilioFail, twilioInvalid, type TwilioFailure } from '../../core/errors.ts';
import { fromBase32, newSecret, toBase32, totpStep, type OtpAlgorithm } from '../../core/otp.ts';
import type { Params } from '../../core/params.ts';
import type { DB } from '../../store/schema.ts';
import type { FastifyBaseLogger } from 'fastify';
import type { DeviceEvent } from '../devices/events.ts';
import { pushToDevices, type WebPush } from '../devices/push.ts';
import type { Enrolment, VerifyAccessTokens } from './access-tokens.ts';
import type { VerifyAccount } from './credentials.ts';
import * as fq from './factors-queries.ts';
import { serviceBySid } from './queries.ts';
import type { ServiceSettings } from './render.ts';
import type { Answer } from './service.ts';
import type { ServiceWebhooks } from './service-webhooks.ts';
import { dateParam, int, isoDate, isSid, jsonObject, listBody, newSid, notFound, readPaging, str } from './twilio.ts';

/** What a device's JWT lets it reach: its own factor (and that factor's challenges). */
export interface DeviceGrant {
  factorSid: string;
  serviceSid: string;
  identity: string;
}
/** `enrol`: a device holding a Verify access token, which may create that one push factor. */
export type Caller = VerifyAccount & { device?: DeviceGrant; enrol?: Enrolment };

export const bindingContext = (factorSid: string) => `verify_factors:${factorSid}:binding`;

const FACTOR_MAX_TRIES = 5;
const CHALLENGE_MAX_TRIES = 5;
const LOCK_AFTER = 10;
const LOCK_MS = 15 * 60_000;
const CHALLENGE_TTL_MS = 5 * 60_000;
const CHALLENGE_MAX_TTL_MS = 60 * 60_000;
/** A spent factor (five wrong codes before it was verified) stays locked. */
const FOREVER = 8_000_000_000_000_000;
/** What a device signs when it answers a push challenge (besides `status`). */
export const SIGNATURE_FIELDS = ['sid', 'account_sid', 'service_sid', 'entity_sid', 'identity', 'factor_sid', 'date_created', 'expiration_date', 'details', 'hidden_details'];
/** The routes a device's JWT may call (Twilio's SDK calls these with it). */
const DEVICE_ROUTES = new Set([
  'GET /v2/Services/:ServiceSid/Entities/:Identity/Factors/:Sid',
  'POST /v2/Services/:ServiceSid/Entities/:Identity/Factors/:Sid',
  'GET /v2/Services/:ServiceSid/Entities/:Identity/Challenges',
  'GET /v2/Services/:ServiceSid/Entities/:Identity/Challenges/:Sid',
  'POST /v2/Services/:ServiceSid/Entities/:Identity/Challenges/:Sid',
]);

interface Service {
  id: number;
  sid: string;
  appId: number;
  settings: ServiceSettings;
}

interface TotpConfig {
  alg: OtpAlgorithm;
  skew: number;
  code_length: number;
  time_step: number;
}
interface PushConfig {
  sdk_version: string | null;
  app_id: string | null;
  notification_platform: 'apn' | 'fcm' | 'none';
  notification_token: string | null;
}
interface Details {
  message: string | null;
  date?: string;
  fields: { label: string; value: string }[];
}

const IDENTITY = /^[A-Za-z0-9][A-Za-z0-9-]{7,63}$/;
const printable = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

/** JSON with sorted keys: what a device re-serialised is compared by value, not by key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** An EC P-256 public key from base64 DER SPKI (how Twilio's SDKs send Binding.PublicKey). */
function readPublicKey(b64: string): KeyObject | undefined {
  if (!/^[A-Za-z0-9+/=\s]{40,400}$/.test(b64)) return undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** The payload of an ES256 JWS signed by `key`, or undefined. */
async function verifiedJwt(token: string, key: KeyObject): Promise<Record<string, unknown> | undefined> {
  if (token.length > 5456 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return undefined;
  try {
    const { payload, protectedHeader } = await compactVerify(token, key, { algorithms: ['ES256'] });
    if (protectedHeader.alg !== 'ES256') return undefined;
    const doc = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
    const claims = doc as Record<string, unknown>;
    const now = Date.now() / 1000;
    if (typeof claims.exp === 'number' && claims.exp < now - 60) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf > now + 60) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}

export interface FactorDeps {
  db: Kysely<DB>;
  keys: MasterKey[];
  webhooks: ServiceWebhooks;
  accessTokens: VerifyAccessTokens;
  /** OpenFactor's device event streams: a push factor enrolled by an OpenFactor device hears of its challenges there. */
  events?: { publish(deviceKeyIds: number[], event: DeviceEvent): number };
  /** And by Web Push, when that device (a browser) has a subscription. */
  push?: WebPush;
  log?: FastifyBaseLogger;
}

/** The route Twilio's SDK creates a push factor on, with an access token as its password. */
const ENROL_ROUTE = 'POST /v2/Services/:ServiceSid/Entities/:Identity/Factors';

export class VerifyFactors {
  constructor(private readonly d: FactorDeps) {}

  /** `/v2/Services/{VA}/AccessTokens` (access-tokens.ts): how a device may enrol a push factor. */
  get accessTokens(): VerifyAccessTokens {
    return this.d.accessTokens;
  }

  // Lookups ----------------------------------------------------------------------------------

  private async serviceOf(caller: Caller, sid: string): Promise<Service | undefined> {
    if (!isSid('VA', sid)) return undefined;
    if ((caller.device ?? caller.enrol) && (caller.device ?? caller.enrol)!.serviceSid !== sid) return undefined;
    const row = await serviceBySid(this.d.db, caller.id, sid);
    return row && { id: row.id, sid: row.sid, appId: row.app_id, settings: JSON.parse(row.settings) as ServiceSettings };
  }

  private async entityOf(caller: Caller, serviceSid: string, identity: string, path: string): Promise<{ ok: true; service: Service; entity: fq.EntityRow } | TwilioFailure> {
    const service = await this.serviceOf(caller, serviceSid);
    if (!service || !IDENTITY.test(identity) || (caller.device && caller.device.identity !== identity) || caller.enrol) return notFound(path);
    const entity = await fq.entityByIdentity(this.d.db, service.id, identity);
    return entity ? { ok: true, service, entity } : notFound(path);
  }

  private base(service: Pick<Service, 'sid'>, identity: string, base: string) {
    return `${base}/v2/Services/${service.sid}/Entities/${identity}`;
  }

  // Entities --------------------------------------------------------------------------------

  private entityBody(caller: Caller, service: Service, e: fq.EntityRow, base: string) {
    const url = this.base(service, e.identity, base);
    return {
      sid: e.sid,
      identity: e.identity,
      account_sid: caller.sid,
      service_sid: service.sid,
      date_created: isoDate(e.created_at),
      date_updated: isoDate(e.updated_at),
      url,
      links: { factors: `${url}/Factors`, new_factors: `${url}/Factors`, challenges: `${url}/Challenges` },
    };
  }

  private readIdentity(params: Params): { ok: true; value: string } | TwilioFailure {
    const r = str(params, 'Identity', 200);
    if (!r.ok) return r;
    const identity = r.value?.trim() ?? '';
    return IDENTITY.test(identity) ? { ok: true, value: identity } : twilioInvalid('Identity', '8 to 64 letters, digits and dashes');
  }

  async createEntity(caller: Caller, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = await this.serviceOf(caller, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/Entities`);
    const identity = this.readIdentity(params);
    if (!identity.ok) return identity;
    const { row, created } = await fq.ensureEntity(this.d.db, { sid: newSid('YE'), appId: service.appId, serviceId: service.id, identity: identity.value, now: Date.now() });
    if (!created) return twilioInvalid('Identity', 'an entity with this identity already exists');
    return { ok: true, status: 201, body: this.entityBody(caller, service, row, base) };
  }

  async fetchEntity(caller: Caller, serviceSid: string, identity: string, base: string): Promise<Answer> {
    const found = await this.entityOf(caller, serviceSid, identity, `/Services/${serviceSid}/Entities/${identity}`);
    if (!found.ok) return found;
    return { ok: true, status: 200, body: this.entityBody(caller, found.service, found.entity, base) };
  }

  async listEntities(caller: Caller, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = await this.serviceOf(caller, serviceSid);
    if (!service) return notFound(`/Services/${serviceSid}/Entities`);
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const rows = await fq.entitiesPage(this.d.db, service.id, paging.value.after, paging.value.pageSize + 1);
    return { ok: true, status: 200, body: listBody('entities', rows, (e) => this.entityBody(caller, service, e, base), paging.value, { base, path: `/v2/Services/${service.sid}/Entities`, filters: {} }) };
  }

  async deleteEntity(caller: Caller, serviceSid: string, identity: string): Promise<Answer> {
    const found = await this.entityOf(caller, serviceSid, identity, `/Services/${serviceSid}/Entities/${identity}`);
    if (!found.ok) return found;
    const factors = await fq.factorsPage(this.d.db, found.entity.id, undefined, 1000);
    await fq.deleteEntity(this.d.db, found.entity.id);
    for (const f of factors) await this.d.webhooks.emit(found.service, 'factor.deleted', this.factorEvent(caller, found.service, found.entity, f));
    return { ok: true, status: 204, body: undefined };
  }

  // Factors ---------------------------------------------------------------------------------

  private factorBody(caller: Caller, service: Service, e: fq.EntityRow, f: fq.FactorRow, base: string) {
    return {
      sid: f.sid,
      account_sid: caller.sid,
      service_sid: service.sid,
      entity_sid: e.sid,
      identity: e.identity,
      date_created: isoDate(f.created_at),
      date_updated: isoDate(f.updated_at),
      friendly_name: f.friendly_name,
      status: f.status,
      factor_type: f.factor_type,
      config: JSON.parse(f.config) as TotpConfig | PushConfig,
      metadata: f.metadata === null ? null : (JSON.parse(f.metadata) as Record<string, unknown>),
      url: `${this.base(service, e.identity, base)}/Factors/${f.sid}`,
    };
  }

  private factorEvent(caller: Caller, service: Service, e: fq.EntityRow, f: fq.FactorRow): Record<string, string> {
    return { account_sid: caller.sid, service_sid: service.sid, entity_identity: e.identity, factor_sid: f.sid, factor_type: f.factor_type, factor_friendly_name: f.friendly_name };
  }

  private readTotpConfig(params: Params, defaults: TotpConfig): { ok: true; value: TotpConfig } | TwilioFailure {
    const step = int(params, 'Config.TimeStep', 20, 60);
    if (!step.ok) return step;
    const skew = int(params, 'Config.Skew', 0, 2);
    if (!skew.ok) return skew;
    const len = int(params, 'Config.CodeLength', 3, 8);
    if (!len.ok) return len;
    const alg = str(params, 'Config.Alg', 20);
    if (!alg.ok) return alg;
    const a = alg.value?.trim().toLowerCase() || undefined;
    if (a !== undefined && a !== 'sha1' && a !== 'sha256' && a !== 'sha512') return twilioInvalid('Config.Alg', 'sha1, sha256 or sha512');
    return { ok: true, value: { alg: a ?? defaults.alg, skew: skew.value ?? defaults.skew, code_length: len.value ?? defaults.code_length, time_step: step.value ?? defaults.time_step } };
  }

  private readPushConfig(params: Params, current: PushConfig | undefined): { ok: true; value: PushConfig } | TwilioFailure {
    const out: PushConfig = current ? { ...current } : { sdk_version: null, app_id: null, notification_platform: 'none', notification_token: null };
    for (const [name, key, max] of [['Config.SdkVersion', 'sdk_version', 64], ['Config.AppId', 'app_id', 100]] as const) {
      const r = str(params, name, max);
      if (!r.ok) return twilioInvalid(name, `at most ${max} characters`);
      if (r.value !== undefined) {
        if (!printable(r.value)) return twilioInvalid(name);
        out[key] = r.value.trim() || null;
      }
    }
    const platform = str(params, 'Config.NotificationPlatform', 10);
    if (!platform.ok) return platform;
    if (platform.value !== undefined) {
      const p = platform.value.trim().toLowerCase();
      if (p !== 'apn' && p !== 'fcm' && p !== 'none') return twilioInvalid('Config.NotificationPlatform', 'apn, fcm or none');
      out.notification_platform = p;
    }
    const token = str(params, 'Config.NotificationToken', 255);
    if (!token.ok) return twilioInvalid('Config.NotificationToken', '32 to 255 characters');
    if (token.value !== undefined) {
      const t = token.value.trim();
      if (t && (t.length < 32 || !printable(t))) return twilioInvalid('Config.NotificationToken', '32 to 255 characters');
      out.notification_token = t || null;
    }
    if (out.notification_platform !== 'none' && !out.notification_token) return twilioInvalid('Config.NotificationToken', `required for ${out.notification_platform}`);
    if (!current && !out.app_id) return twilioInvalid('Config.AppId');
    return { ok: true, value: out };
  }

  /**
   * `POST …/Factors`. With an access token (`caller.enrol`): only its identity, only push, once.
   * `deviceKeyId`: an OpenFactor device enrols with its own key (its signed call proved it holds
   * the key, so the factor is verified at once) and hears of the factor's challenges.
   */
  async createFactor(caller: Caller, serviceSid: string, identity: string, params: Params, base: string, deviceKeyId?: number): Promise<Answer> {
    const path = `/Services/${serviceSid}/Entities/${identity}/Factors`;
    const service = await this.serviceOf(caller, serviceSid);
    if (!service || (caller.enrol && caller.enrol.identity !== identity)) return notFound(path);
    if (!IDENTITY.test(identity)) return twilioInvalid('Identity', '8 to 64 letters, digits and dashes');
    const nameR = str(params, 'FriendlyName', 1000);
    if (!nameR.ok) return nameR;
    const friendlyName = nameR.value?.trim() || caller.enrol?.friendlyName || '';
    if (!friendlyName || friendlyName.length > 64 || !printable(friendlyName)) return twilioInvalid('FriendlyName', '1 to 64 characters');
    const typeR = str(params, 'FactorType', 20);
    if (!typeR.ok) return typeR;
    const type = typeR.value?.trim().toLowerCase();
    if (type !== 'totp' && type !== 'push') return twilioInvalid('FactorType', 'totp or push');
    if (caller.enrol && type !== 'push') return twilioInvalid('FactorType', 'an access token enrols a push factor');
    const metadata = jsonObject(params, 'Metadata');
    if (!metadata.ok) return metadata;
    if (metadata.value && JSON.stringify(metadata.value).length > 1024) return twilioInvalid('Metadata', 'at most 1024 characters');

    let binding: string;
    let config: TotpConfig | PushConfig;
    let answerBinding: Record<string, string>;
    if (type === 'totp') {
      const t = service.settings.totp;
      const cfg = this.readTotpConfig(params, { alg: 'sha1', skew: t.skew, code_length: t.code_length, time_step: t.time_step });
      if (!cfg.ok) return cfg;
      const given = str(params, 'Binding.Secret', 200);
      if (!given.ok) return given;
      let secret: string;
      if (given.value?.trim()) {
        try {
          const bytes = fromBase32(given.value.replace(/\s+/g, ''));
          if (bytes.length < 10) return twilioInvalid('Binding.Secret', 'at least 80 bits of base32');
          secret = toBase32(bytes);
        } catch {
          return twilioInvalid('Binding.Secret', 'base32');
        }
      } else secret = toBase32(newSecret(20));
      config = cfg.value;
      binding = secret;
      const issuer = service.settings.totp.issuer ?? service.settings.friendly_name;
      const q = new URLSearchParams({ secret, issuer, algorithm: cfg.value.alg.toUpperCase(), digits: String(cfg.value.code_length), period: String(cfg.value.time_step) });
      answerBinding = { secret, uri: `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(friendlyName)}?${q.toString().replace(/\+/g, '%20')}` };
    } else {
      const alg = str(params, 'Binding.Alg', 20);
      if (!alg.ok) return alg;
      if (alg.value?.trim() !== 'ES256') return twilioInvalid('Binding.Alg', 'ES256');
      const pk = str(params, 'Binding.PublicKey', 1000);
      if (!pk.ok) return pk;
      const publicKey = pk.value?.trim() ?? '';
      if (!readPublicKey(publicKey)) return twilioInvalid('Binding.PublicKey', 'an EC P-256 public key, base64 DER (SPKI)');
      const cfg = this.readPushConfig(params, undefined);
      if (!cfg.ok) return cfg;
      config = cfg.value;
      binding = publicKey;
      answerBinding = { alg: 'ES256', public_key: publicKey };
    }

    const now = Date.now();
    if (caller.enrol && !(await this.d.accessTokens.redeem(caller.enrol.tokenSid, now))) return twilioFail('AUTHENTICATE', 'Authenticate: this access token was already used');
    const { row: entity } = await fq.ensureEntity(this.d.db, { sid: newSid('YE'), appId: service.appId, serviceId: service.id, identity, now });
    const sid = newSid('YF');
    const values = {
      sid,
      app_id: service.appId,
      service_id: service.id,
      entity_id: entity.id,
      factor_type: type as 'totp' | 'push',
      friendly_name: friendlyName,
      status: deviceKeyId === undefined ? ('unverified' as const) : ('verified' as const),
      binding_sealed: seal(this.d.keys[0], binding, bindingContext(sid)),
      config: JSON.stringify(config),
      metadata: metadata.value ? JSON.stringify(metadata.value) : null,
      locked_until: null,
      last_step: null,
      device_key_id: deviceKeyId ?? null,
      created_at: now,
      updated_at: now,
    };
    const { id } = await fq.insertFactor(this.d.db, values);
    const row: fq.FactorRow = { ...values, id, failures: 0 };
    await this.d.webhooks.emit(service, 'factor.created', this.factorEvent(caller, service, entity, row));
    if (row.status === 'verified') await this.d.webhooks.emit(service, 'factor.verified', this.factorEvent(caller, service, entity, row));
    return { ok: true, status: 201, body: { ...this.factorBody(caller, service, entity, row, base), binding: answerBinding, options: null } };
  }

  private async factorOf(caller: Caller, serviceSid: string, identity: string, sid: string) {
    const path = `/Services/${serviceSid}/Entities/${identity}/Factors/${sid}`;
    const found = await this.entityOf(caller, serviceSid, identity, path);
    if (!found.ok) return found;
    if (!isSid('YF', sid) || (caller.device && caller.device.factorSid !== sid)) return notFound(path);
    const factor = await fq.factorBySid(this.d.db, found.entity.id, sid);
    return factor ? { ...found, ok: true as const, factor } : notFound(path);
  }

  async fetchFactor(caller: Caller, serviceSid: string, identity: string, sid: string, base: string): Promise<Answer> {
    const f = await this.factorOf(caller, serviceSid, identity, sid);
    if (!f.ok) return f;
    return { ok: true, status: 200, body: this.factorBody(caller, f.service, f.entity, f.factor, base) };
  }

  async listFactors(caller: Caller, serviceSid: string, identity: string, params: Params, base: string): Promise<Answer> {
    const found = await this.entityOf(caller, serviceSid, identity, `/Services/${serviceSid}/Entities/${identity}/Factors`);
    if (!found.ok) return found;
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const rows = await fq.factorsPage(this.d.db, found.entity.id, paging.value.after, paging.value.pageSize + 1);
    return {
      ok: true,
      status: 200,
      body: listBody('factors', rows, (f) => this.factorBody(caller, found.service, found.entity, f, base), paging.value, { base, path: `/v2/Services/${found.service.sid}/Entities/${identity}/Factors`, filters: {} }),
    };
  }

  async deleteFactor(caller: Caller, serviceSid: string, identity: string, sid: string): Promise<Answer> {
    const f = await this.factorOf(caller, serviceSid, identity, sid);
    if (!f.ok) return f;
    await fq.deleteFactor(this.d.db, f.factor.id);
    await this.d.webhooks.emit(f.service, 'factor.deleted', this.factorEvent(caller, f.service, f.entity, f.factor));
    return { ok: true, status: 204, body: undefined };
  }

  /** `POST …/Factors/{YF}`: `AuthPayload` verifies it; `FriendlyName` and `Config.*` change it. */
  async updateFactor(caller: Caller, serviceSid: string, identity: string, sid: string, params: Params, base: string): Promise<Answer> {
    const f = await this.factorOf(caller, serviceSid, identity, sid);
    if (!f.ok) return f;
    let factor = f.factor;
    const now = Date.now();
    const set: Parameters<typeof fq.updateFactor>[2] = {};
    const nameR = str(params, 'FriendlyName', 1000);
    if (!nameR.ok) return nameR;
    if (nameR.value !== undefined) {
      const name = nameR.value.trim();
      if (!name || name.length > 64 || !printable(name)) return twilioInvalid('FriendlyName', '1 to 64 characters');
      set.friendly_name = name;
    }
    const cfg = factor.factor_type === 'totp' ? this.readTotpConfig(params, JSON.parse(factor.config) as TotpConfig) : this.readPushConfig(params, JSON.parse(factor.config) as PushConfig);
    if (!cfg.ok) return cfg;
    if (JSON.stringify(cfg.value) !== factor.config) set.config = JSON.stringify(cfg.value);
    const payload = str(params, 'AuthPayload', 5456);
    if (!payload.ok) return payload;
    const auth = payload.value?.trim();
    if (auth !== undefined && auth !== '' && factor.status === 'unverified') {
      if (factor.locked_until !== null && Number(factor.locked_until) > now) return twilioFail('FACTOR_MAX_TRIES');
      // A code checked against the config asked for now (Twilio checks the new config too).
      const good = factor.factor_type === 'totp' ? await this.takeTotp({ ...factor, config: set.config ?? factor.config }, auth, now) : await this.pushProof(factor, auth);
      if (good) {
        if (await fq.markVerified(this.d.db, factor.id, now)) {
          factor = { ...factor, status: 'verified' };
          await this.d.webhooks.emit(f.service, 'factor.verified', this.factorEvent(caller, f.service, f.entity, factor));
        }
      } else {
        await fq.addFactorFailure(this.d.db, factor.id, FACTOR_MAX_TRIES, FOREVER);
        // A wrong code leaves a TOTP factor unverified (200); a bad proof of a push key is refused.
        if (factor.factor_type === 'push') return twilioFail('FACTOR_VERIFICATION_FAILED');
      }
    } else if (auth !== undefined && auth === '') return twilioInvalid('AuthPayload');
    if (Object.keys(set).length) {
      set.updated_at = now;
      await fq.updateFactor(this.d.db, factor.id, set);
    }
    const fresh = (await fq.factorById(this.d.db, factor.id)) ?? factor;
    return { ok: true, status: 200, body: this.factorBody(caller, f.service, f.entity, fresh, base) };
  }

  private secretOf(factor: fq.FactorRow): string {
    return unseal(this.d.keys, factor.binding_sealed, bindingContext(factor.sid)).toString('utf8');
  }

  /** Whether `code` is the factor's TOTP within ±skew steps and its step not yet used (then it is taken). */
  private async takeTotp(factor: fq.FactorRow, code: string, now: number): Promise<boolean> {
    const cfg = JSON.parse(factor.config) as TotpConfig;
    if (!/^\d{3,8}$/.test(code) || code.length !== cfg.code_length) return false;
    const secret = Secret.fromBase32(this.secretOf(factor));
    const center = totpStep(now, cfg.time_step);
    const want = Buffer.from(code);
    for (const d of [0, 1, -1, 2, -2]) {
      if (Math.abs(d) > cfg.skew || center + d < 0) continue;
      const got = Buffer.from(HOTP.generate({ secret, algorithm: cfg.alg.toUpperCase(), digits: cfg.code_length, counter: center + d }));
      if (got.length === want.length && timingSafeEqual(got, want)) return fq.takeStep(this.d.db, factor.id, center + d, now);
    }
    return false;
  }

  /** A push factor's proof of its key: an ES256 JWT, or a base64 DER signature of the factor SID (older SDKs). */
  private async pushProof(factor: fq.FactorRow, payload: string): Promise<boolean> {
    const key = readPublicKey(this.secretOf(factor));
    if (!key) return false;
    if (await verifiedJwt(payload, key)) return true;
    if (!/^[A-Za-z0-9+/=]{20,200}$/.test(payload)) return false;
    try {
      return verifySignature('sha256', Buffer.from(factor.sid), { key, dsaEncoding: 'der' }, Buffer.from(payload, 'base64'));
    } catch {
      return false;
    }
  }

  // Challenges ------------------------------------------------------------------------------

  private challengeView<C extends Pick<fq.ChallengeRow, 'status' | 'expires_at'>>(c: C, now = Date.now()): C {
    return c.status === 'pending' && Number(c.expires_at) <= now ? { ...c, status: 'expired' as const } : c;
  }

  private challengeBody(caller: Pick<Caller, 'sid'>, service: Pick<Service, 'sid'>, e: Pick<fq.EntityRow, 'sid' | 'identity'>, factor: Pick<fq.FactorRow, 'sid' | 'factor_type'>, c: fq.ChallengeRow, base: string) {
    const v = this.challengeView(c);
    const url = `${this.base(service, e.identity, base)}/Challenges/${c.sid}`;
    return {
      sid: c.sid,
      account_sid: caller.sid,
      service_sid: service.sid,
      entity_sid: e.sid,
      identity: e.identity,
      factor_sid: factor.sid,
      date_created: isoDate(c.created_at),
      date_updated: isoDate(c.updated_at),
      date_responded: c.responded_at === null ? null : isoDate(c.responded_at),
      expiration_date: isoDate(c.expires_at),
      status: v.status,
      responded_reason: c.responded_reason,
      details: JSON.parse(c.details) as Details,
      hidden_details: c.hidden_details === null ? null : (JSON.parse(c.hidden_details) as Record<string, unknown>),
      metadata: c.metadata === null ? null : (JSON.parse(c.metadata) as Record<string, unknown>),
      factor_type: factor.factor_type,
      url,
      links: { notifications: `${url}/Notifications` },
    };
  }

  private challengeEvent(caller: Caller, service: Service, e: fq.EntityRow, factor: fq.FactorRow, c: fq.ChallengeRow, status: string): Record<string, string> {
    const out: Record<string, string> = { ...this.factorEvent(caller, service, e, factor), challenge_sid: c.sid, challenge_status: status, challenge_responded_reason: c.responded_reason, challenge_details: c.details };
    if (c.hidden_details !== null) out.challenge_hidden_details = c.hidden_details;
    if (c.metadata !== null) out.challenge_metadata = c.metadata;
    return out;
  }

  private readDetails(params: Params, factorType: 'totp' | 'push', settings: ServiceSettings, now: number): { ok: true; value: Details } | TwilioFailure {
    const msg = str(params, 'Details.Message', 1000);
    if (!msg.ok) return msg;
    const message = msg.value?.trim() || null;
    if (message !== null && (message.length > 256 || !printable(message))) return twilioFail('CHALLENGE_DETAILS', 'Challenge details invalid: Details.Message is at most 256 characters');
    if (factorType === 'push' && message === null) return twilioFail('CHALLENGE_DETAILS', 'Challenge details invalid or not provided: Details.Message is required for a push factor');
    const raw = params['Details.Fields'];
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (list.length > 20) return twilioFail('CHALLENGE_DETAILS', 'Challenge details invalid: at most 20 Details.Fields');
    const fields: Details['fields'] = [];
    for (const item of list) {
      let doc: unknown = item;
      if (typeof item === 'string') {
        try {
          doc = JSON.parse(item);
        } catch {
          return twilioFail('CHALLENGE_DETAILS', 'Challenge details invalid: each Details.Fields is a JSON object {"label","value"}');
        }
      }
      const f = doc as { label?: unknown; value?: unknown };
      if (!f || typeof f !== 'object' || Array.isArray(f) || typeof f.label !== 'string' || typeof f.value !== 'string' || !f.label || f.label.length > 36 || f.value.length > 128 || !printable(f.label) || !printable(f.value))
        return twilioFail('CHALLENGE_DETAILS', 'Challenge details invalid: each Details.Fields is {"label" (1-36 characters), "value" (at most 128)}');
      fields.push({ label: f.label, value: f.value });
    }
    const details: Details = { message, fields };
    if (settings.push.include_date) details.date = isoDate(now);
    return { ok: true, value: details };
  }

  async createChallenge(caller: Caller, serviceSid: string, identity: string, params: Params, base: string): Promise<Answer> {
    const path = `/Services/${serviceSid}/Entities/${identity}/Challenges`;
    const found = await this.entityOf(caller, serviceSid, identity, path);
    if (!found.ok) return found;
    const { service, entity } = found;
    const factorSid = str(params, 'FactorSid', 100);
    if (!factorSid.ok) return factorSid;
    if (!isSid('YF', factorSid.value?.trim())) return twilioInvalid('FactorSid');
    const factor = await fq.factorBySid(this.d.db, entity.id, factorSid.value!.trim());
    if (!factor) return notFound(`${path.replace(/Challenges$/, 'Factors')}/${factorSid.value!.trim()}`);
    const now = Date.now();
    const exp = dateParam(params, 'ExpirationDate');
    if (!exp.ok) return exp;
    if (exp.value !== undefined && (exp.value <= now || exp.value > now + CHALLENGE_MAX_TTL_MS)) return twilioInvalid('ExpirationDate', 'in the future, at most an hour away');
    const details = this.readDetails(params, factor.factor_type, service.settings, now);
    if (!details.ok) return details;
    const hidden = jsonObject(params, 'HiddenDetails');
    if (!hidden.ok) return hidden;
    if (hidden.value && JSON.stringify(hidden.value).length > 1024) return twilioInvalid('HiddenDetails', 'at most 1024 characters');
    const payload = str(params, 'AuthPayload', 100);
    if (!payload.ok) return payload;
    const code = payload.value?.trim() || undefined;
    if (code !== undefined && (factor.factor_type !== 'totp' || !/^\d{3,8}$/.test(code))) return twilioInvalid('AuthPayload', factor.factor_type === 'totp' ? 'a code of 3 to 8 digits' : 'only for totp factors');
    if (factor.status !== 'verified') return twilioFail('FACTOR_UNVERIFIED');
    if (code !== undefined && factor.locked_until !== null && Number(factor.locked_until) > now) return this.lockedOut();

    const values = {
      sid: newSid('YC'),
      app_id: service.appId,
      service_id: service.id,
      entity_id: entity.id,
      factor_id: factor.id,
      status: 'pending' as const,
      responded_reason: 'none' as const,
      details: JSON.stringify(details.value),
      hidden_details: hidden.value ? JSON.stringify(hidden.value) : null,
      metadata: null,
      expires_at: exp.value ?? now + CHALLENGE_TTL_MS,
      responded_at: null,
      created_at: now,
      updated_at: now,
    };
    const { id } = await fq.insertChallenge(this.d.db, values);
    let row: fq.ChallengeRow = { ...values, id, failures: 0 };
    if (code !== undefined) {
      const checked = await this.checkTotp(caller, found, factor, row, code, now);
      if (!checked.ok) return checked;
      row = checked.row;
    }
    const body = this.challengeBody(caller, service, entity, factor, row, base);
    await this.tellDevice(factor, { type: 'verify_challenge', data: { ...body, service_name: service.settings.friendly_name } });
    return { ok: true, status: 201, body };
  }

  private lockedOut(): TwilioFailure {
    return twilioFail('CHALLENGE_MAX_TRIES', 'Challenge verification attempts limit reached: too many wrong codes for this factor in a row, try again later');
  }

  /** A TOTP code for a pending challenge: approved, or still pending (a wrong or replayed code). */
  private async checkTotp(caller: Caller, at: { service: Service; entity: fq.EntityRow }, factor: fq.FactorRow, c: fq.ChallengeRow, code: string, now: number): Promise<{ ok: true; row: fq.ChallengeRow } | TwilioFailure> {
    if (factor.locked_until !== null && Number(factor.locked_until) > now) return this.lockedOut();
    if (c.failures >= CHALLENGE_MAX_TRIES) return twilioFail('CHALLENGE_MAX_TRIES');
    if (await this.takeTotp(factor, code, now)) {
      if (!(await fq.endChallenge(this.d.db, c.id, 'approved', now))) return twilioFail('CHALLENGE_ANSWERED');
      const row = { ...c, status: 'approved' as const, responded_at: now, updated_at: now };
      await this.d.webhooks.emit(at.service, 'challenge.approved', this.challengeEvent(caller, at.service, at.entity, factor, row, 'approved'));
      return { ok: true, row };
    }
    await fq.addFactorFailure(this.d.db, factor.id, LOCK_AFTER, now + LOCK_MS);
    const tries = await fq.takeChallengeTry(this.d.db, c.id, CHALLENGE_MAX_TRIES);
    if (tries === undefined) return twilioFail('CHALLENGE_MAX_TRIES');
    return { ok: true, row: { ...c, failures: tries } };
  }

  private async challengeOf(caller: Caller, serviceSid: string, identity: string, sid: string) {
    const path = `/Services/${serviceSid}/Entities/${identity}/Challenges/${sid}`;
    const found = await this.entityOf(caller, serviceSid, identity, path);
    if (!found.ok) return found;
    const challenge = isSid('YC', sid) ? await fq.challengeBySid(this.d.db, found.entity.id, sid) : undefined;
    const factor = challenge && (await fq.factorById(this.d.db, challenge.factor_id));
    if (!challenge || !factor || (caller.device && caller.device.factorSid !== factor.sid)) return notFound(path);
    return { ...found, ok: true as const, challenge, factor };
  }

  /** Marks a pending challenge past its expiration as expired (it reads so either way). */
  private async settleExpiry(c: fq.ChallengeRow, now: number) {
    if (c.status === 'pending' && Number(c.expires_at) <= now) await fq.endChallenge(this.d.db, c.id, 'expired', now);
  }

  async fetchChallenge(caller: Caller, serviceSid: string, identity: string, sid: string, base: string): Promise<Answer> {
    const c = await this.challengeOf(caller, serviceSid, identity, sid);
    if (!c.ok) return c;
    await this.settleExpiry(c.challenge, Date.now());
    const headers = c.factor.factor_type === 'push' ? { 'twilio-verify-signature-fields': SIGNATURE_FIELDS.join(',') } : undefined;
    return { ok: true, status: 200, body: this.challengeBody(caller, c.service, c.entity, c.factor, c.challenge, base), headers };
  }

  async listChallenges(caller: Caller, serviceSid: string, identity: string, params: Params, base: string): Promise<Answer> {
    const path = `/Services/${serviceSid}/Entities/${identity}/Challenges`;
    const found = await this.entityOf(caller, serviceSid, identity, path);
    if (!found.ok) return found;
    const paging = readPaging(params);
    if (!paging.ok) return paging;
    const echo: Record<string, string | undefined> = {};
    for (const name of ['FactorSid', 'Status', 'Order']) {
      const r = str(params, name, 100);
      if (!r.ok) return r;
      echo[name] = r.value?.trim() || undefined;
    }
    let factorSid = echo.FactorSid;
    if (caller.device) {
      if (factorSid !== undefined && factorSid !== caller.device.factorSid) return twilioInvalid('FactorSid');
      factorSid = caller.device.factorSid;
    }
    let factorId: number | undefined;
    if (factorSid !== undefined) {
      if (!isSid('YF', factorSid)) return twilioInvalid('FactorSid');
      factorId = (await fq.factorBySid(this.d.db, found.entity.id, factorSid))?.id ?? -1;
    }
    const status = echo.Status?.toLowerCase();
    if (status !== undefined && !['pending', 'expired', 'approved', 'denied'].includes(status)) return twilioInvalid('Status', 'pending, expired, approved or denied');
    const order = echo.Order?.toLowerCase() ?? 'asc';
    if (order !== 'asc' && order !== 'desc') return twilioInvalid('Order', 'asc or desc');
    const now = Date.now();
    const rows = await fq.challengesPage(this.d.db, found.entity.id, { factorId, status: status as fq.ChallengeRow['status'] | undefined, desc: order === 'desc', now }, paging.value.after, paging.value.pageSize + 1);
    const factors = new Map<number, fq.FactorRow>();
    for (const r of rows) if (!factors.has(r.factor_id)) factors.set(r.factor_id, (await fq.factorById(this.d.db, r.factor_id))!);
    return {
      ok: true,
      status: 200,
      body: listBody('challenges', rows, (c) => this.challengeBody(caller, found.service, found.entity, factors.get(c.factor_id) ?? { sid: '', factor_type: 'totp' }, c, base), paging.value, {
        base,
        path: `/v2/Services/${found.service.sid}/Entities/${identity}/Challenges`,
        filters: echo,
      }),
    };
  }

  /** `POST …/Challenges/{YC}`: a TOTP code, or a push device's signed answer. */
  async updateChallenge(caller: Caller, serviceSid: string, identity: string, sid: string, params: Params, base: string): Promise<Answer> {
    const c = await this.challengeOf(caller, serviceSid, identity, sid);
    if (!c.ok) return c;
    const now = Date.now();
    const payload = str(params, 'AuthPayload', 5456);
    if (!payload.ok) return twilioInvalid('AuthPayload', 'at most 5456 characters');
    const auth = payload.value?.trim() ?? '';
    if (!auth) return twilioInvalid('AuthPayload');
    const metadata = jsonObject(params, 'Metadata');
    if (!metadata.ok) return metadata;
    if (metadata.value && JSON.stringify(metadata.value).length > 1024) return twilioInvalid('Metadata', 'at most 1024 characters');
    const view = this.challengeView(c.challenge, now);
    if (view.status === 'expired') {
      await this.settleExpiry(c.challenge, now);
      return twilioFail('CHALLENGE_EXPIRED');
    }
    if (view.status !== 'pending') return twilioFail('CHALLENGE_ANSWERED');
    let row = c.challenge;
    if (c.factor.factor_type === 'totp') {
      if (!/^\d{3,8}$/.test(auth)) return twilioInvalid('AuthPayload', 'a code of 3 to 8 digits');
      const checked = await this.checkTotp(caller, c, c.factor, row, auth, now);
      if (!checked.ok) return checked;
      row = checked.row;
      if (row.status === 'approved' && metadata.value) await fq.updateChallengeMetadata(this.d.db, row.id, JSON.stringify(metadata.value));
      if (metadata.value && row.status === 'approved') row = { ...row, metadata: JSON.stringify(metadata.value) };
    } else {
      if (row.failures >= CHALLENGE_MAX_TRIES) return twilioFail('CHALLENGE_MAX_TRIES');
      const answer = await this.pushAnswer(caller, c, auth, base);
      if (!answer) {
        const tries = await fq.takeChallengeTry(this.d.db, row.id, CHALLENGE_MAX_TRIES);
        return tries === undefined ? twilioFail('CHALLENGE_MAX_TRIES') : twilioFail('CHALLENGE_VERIFICATION_FAILED');
      }
      const meta = metadata.value ? JSON.stringify(metadata.value) : undefined;
      if (!(await fq.endChallenge(this.d.db, row.id, answer, now, meta))) return twilioFail('CHALLENGE_ANSWERED');
      row = { ...row, status: answer, responded_at: now, updated_at: now, ...(meta !== undefined ? { metadata: meta } : {}) };
      await this.tellDevice(c.factor, { type: 'verify_challenge_updated', data: { sid: row.sid, status: answer } });
      await this.d.webhooks.emit(c.service, `challenge.${answer}`, this.challengeEvent(caller, c.service, c.entity, c.factor, row, answer));
    }
    return { ok: true, status: 200, body: this.challengeBody(caller, c.service, c.entity, c.factor, row, base) };
  }

  /** The status a device's JWT answers with, if it is signed by the factor's key over the challenge as it is. */
  private async pushAnswer(caller: Caller, c: { service: Service; entity: fq.EntityRow; factor: fq.FactorRow; challenge: fq.ChallengeRow }, jwt: string, base: string): Promise<'approved' | 'denied' | undefined> {
    const key = readPublicKey(this.secretOf(c.factor));
    const claims = key && (await verifiedJwt(jwt, key));
    if (!claims) return undefined;
    const status = claims.status;
    if (status !== 'approved' && status !== 'denied') return undefined;
    const body = this.challengeBody(caller, c.service, c.entity, c.factor, c.challenge, base) as Record<string, unknown>;
    for (const field of SIGNATURE_FIELDS) if (canonical(claims[field]) !== canonical(body[field])) return undefined;
    return status;
  }

  // Notifications ---------------------------------------------------------------------------

  /** `POST …/Challenges/{YC}/Notifications`: a pending push challenge, told again. */
  async notify(caller: Caller, serviceSid: string, identity: string, sid: string, params: Params, base: string): Promise<Answer> {
    const c = await this.challengeOf(caller, serviceSid, identity, sid);
    if (!c.ok) return c;
    const ttl = int(params, 'Ttl', 0, 300);
    if (!ttl.ok) return ttl;
    if (c.factor.factor_type !== 'push') return twilioInvalid('Sid', 'notifications are for push challenges');
    const now = Date.now();
    const view = this.challengeView(c.challenge, now);
    if (view.status === 'expired') return twilioFail('CHALLENGE_EXPIRED');
    if (view.status !== 'pending') return twilioFail('CHALLENGE_ANSWERED');
    await this.tellDevice(c.factor, { type: 'verify_challenge', data: { ...this.challengeBody(caller, c.service, c.entity, c.factor, c.challenge, base), service_name: c.service.settings.friendly_name } });
    return {
      ok: true,
      status: 201,
      body: { sid: newSid('NT'), account_sid: caller.sid, service_sid: c.service.sid, entity_sid: c.entity.sid, identity: c.entity.identity, challenge_sid: c.challenge.sid, priority: 'high', ttl: ttl.value ?? 300, date_created: isoDate(now) },
    };
  }

  // OpenFactor devices ----------------------------------------------------------------------

  /** A push factor an OpenFactor device enrolled: that device hears of it on its event stream. */
  private async tellDevice(factor: Pick<fq.FactorRow, 'factor_type' | 'device_key_id'>, event: DeviceEvent): Promise<void> {
    const id = factor.device_key_id;
    if (factor.factor_type !== 'push' || id === null) return;
    // Telling is best effort: the challenge stands, and the device also finds it when it connects.
    if (!(await fq.deviceLive(this.d.db, id).catch(() => false))) return;
    this.d.events?.publish([id], event);
    const { push, log } = this.d;
    if (event.type === 'verify_challenge' && push && log) {
      // What a notification shows; the device reads the rest (hidden details too) over the API.
      const details = event.data.details as Details;
      void pushToDevices({ db: this.d.db, keys: this.d.keys, push, log }, [id], { type: 'verify_challenge', sid: event.data.sid, service_sid: event.data.service_sid, service_name: event.data.service_name, identity: event.data.identity, message: details.message });
    }
  }

  /**
   * `POST /device/v1/verify_factors`: an OpenFactor device (ES256 key) enrols a push factor with
   * a Verify access token. The factor's binding is the device's own key, so it answers challenges
   * the way Twilio's SDK does (a JWT signed by that key), and hears of them on its event stream.
   */
  async enrolDevice(device: { id: number; algorithm: string; name: string; publicKey: KeyObject }, accessToken: string, friendlyName: string | undefined, base: string): Promise<Answer> {
    const enrol = await this.d.accessTokens.check(accessToken);
    if (!enrol) return twilioFail('AUTHENTICATE', 'Authenticate: the access token is not valid, or expired, or was already used');
    if (device.algorithm !== 'ES256') return twilioInvalid('algorithm', 'a Verify push factor needs an ES256 device key');
    const publicKey = device.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const params: Params = { FactorType: 'push', 'Binding.Alg': 'ES256', 'Binding.PublicKey': publicKey, 'Config.AppId': 'openfactor-device', 'Config.NotificationPlatform': 'none' };
    params.FriendlyName = friendlyName?.trim() || enrol.friendlyName || device.name.slice(0, 64);
    const made = await this.createFactor({ id: enrol.accountId, sid: enrol.accountSid, enrol }, enrol.serviceSid, enrol.identity, params, base, device.id);
    if (!made.ok) return made;
    // The person is told whose sign-ins will come here: the service's name, as its owner set it.
    const service = await serviceBySid(this.d.db, enrol.accountId, enrol.serviceSid);
    const serviceName = service ? (JSON.parse(service.settings) as ServiceSettings).friendly_name : enrol.serviceSid;
    return { ...made, body: { ...(made.body as Record<string, unknown>), service_name: serviceName } };
  }

  /** What a device's event stream has yet to show: its pending challenges, and the end of those it showed. */
  async catchUpForDevice(deviceKeyId: number, shown: ReadonlySet<string>, base: string): Promise<DeviceEvent[]> {
    const now = Date.now();
    const rows = await fq.pendingChallengesOfDevice(this.d.db, deviceKeyId, now);
    const out: DeviceEvent[] = [];
    for (const r of rows) {
      if (shown.has(r.challenge.sid)) continue;
      const serviceName = (JSON.parse(r.service_settings) as ServiceSettings).friendly_name;
      out.push({ type: 'verify_challenge', data: { ...this.challengeBody({ sid: r.account_sid }, { sid: r.service_sid }, r.entity, r.factor, r.challenge, base), service_name: serviceName } });
    }
    const pending = new Set(rows.map((r) => r.challenge.sid));
    for (const sid of shown) {
      if (!isSid('YC', sid) || pending.has(sid)) continue;
      const c = await fq.challengeStatusForDevice(this.d.db, deviceKeyId, sid);
      if (c) out.push({ type: 'verify_challenge_updated', data: { sid, status: this.challengeView(c, now).status } });
    }
    return out;
  }

  // Device authentication -------------------------------------------------------------------

  /**
   * A caller from Twilio's device SDK: HTTP Basic whose password is an ES256 JWT signed by a push
   * factor's key, `{sub: AC…, grants: {verify_push: {factor_sid, entity_sid, service_sid}}}`. Only
   * for the routes the SDK calls (`route`: `METHOD /v2/...` as declared).
   */
  async authenticateDevice(token: string, route: string): Promise<Caller | undefined> {
    if (route === ENROL_ROUTE) {
      const enrol = await this.d.accessTokens.check(token);
      return enrol && { id: enrol.accountId, sid: enrol.accountSid, enrol };
    }
    if (!DEVICE_ROUTES.has(route) || token.length > 5456 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return undefined;
    let claims: Record<string, unknown>;
    try {
      if (decodeProtectedHeader(token).alg !== 'ES256') return undefined;
      claims = decodeJwt(token);
    } catch {
      return undefined;
    }
    const grant = (claims.grants as { verify_push?: Record<string, unknown> } | undefined)?.verify_push;
    const factorSid = grant?.factor_sid;
    const serviceSid = grant?.service_sid;
    const identity = grant?.entity_sid;
    if (!isSid('YF', factorSid) || !isSid('VA', serviceSid) || typeof identity !== 'string' || !isSid('AC', claims.sub) || typeof claims.exp !== 'number') return undefined;
    const row = await fq.factorForDevice(this.d.db, factorSid);
    if (!row || row.service_sid !== serviceSid || row.identity !== identity || row.account_sid !== claims.sub || row.factor_type !== 'push') return undefined;
    // A factor an OpenFactor device enrolled dies with the device: a removed (lost) phone's key answers nothing.
    if (row.device_key_id !== null && (row.device_found === null || row.device_deleted_at !== null)) return undefined;
    const key = readPublicKey(unseal(this.d.keys, row.binding_sealed, bindingContext(factorSid)).toString('utf8'));
    if (!key || !(await verifiedJwt(token, key))) return undefined;
    return { id: row.account_id, sid: row.account_sid, device: { factorSid, serviceSid, identity } };
  }
}
