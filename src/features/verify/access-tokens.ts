// Verify v2 access tokens (`/v2/Services/{VA}/AccessTokens`): the customer's backend lets one
// device enrol one push factor for one identity, within the token's ttl (60–300 s). Twilio's
// mobile SDK sends it as HTTP Basic `token:<jwt>` when it creates the factor; an OpenFactor
// device sends it to `POST /device/v1/verify_factors`. Either way it is good once.
//
// The JWT (HS256, key derived from the master key) carries the token's SID; the row holds the
// rest, so a fetch signs the same JWT again instead of keeping it.
import type { Kysely } from 'kysely';
import { SignJWT, decodeProtectedHeader, jwtVerify } from 'jose';
import { deriveKey, type MasterKey } from '../../core/crypto.ts';
import { twilioInvalid } from '../../core/errors.ts';
import type { Params } from '../../core/params.ts';
import type { DB } from '../../store/schema.ts';
import type { VerifyAccount } from './credentials.ts';
import * as tq from './access-token-queries.ts';
import { serviceBySid } from './queries.ts';
import type { Answer } from './service.ts';
import { int, isoDate, isSid, newSid, notFound, str } from './twilio.ts';

const IDENTITY = /^[A-Za-z0-9][A-Za-z0-9-]{7,63}$/;

/** What a valid, unused access token lets its bearer do. */
export interface Enrolment {
  tokenSid: string;
  accountId: number;
  accountSid: string;
  serviceSid: string;
  identity: string;
  friendlyName: string | null;
}

const row = tq.accessTokenBySid;
type Row = tq.AccessTokenRow;

export class VerifyAccessTokens {
  private readonly key: Uint8Array;
  constructor(private readonly db: Kysely<DB>, keys: MasterKey[]) {
    this.key = deriveKey(keys[0], 'verify-access-tokens');
  }

  private sign(r: Row): Promise<string> {
    const iat = Math.floor(Number(r.created_at) / 1000);
    return new SignJWT({ grants: { verify: { identity: r.identity, factor: r.factor_type, service_sid: r.service_sid } } })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', cty: 'twilio-fpa;v=1' })
      .setJti(r.sid)
      .setSubject(r.account_sid)
      .setIssuer(r.service_sid)
      .setIssuedAt(iat)
      .setExpirationTime(iat + r.ttl)
      .sign(this.key);
  }

  private async body(r: Row, base: string) {
    return {
      sid: r.sid,
      account_sid: r.account_sid,
      service_sid: r.service_sid,
      entity_identity: r.identity,
      factor_type: r.factor_type,
      factor_friendly_name: r.friendly_name,
      token: await this.sign(r),
      url: `${base}/v2/Services/${r.service_sid}/AccessTokens/${r.sid}`,
      ttl: r.ttl,
      date_created: isoDate(r.created_at),
    };
  }

  /** `POST /v2/Services/{VA}/AccessTokens`: Identity, FactorType=push, FactorFriendlyName, Ttl. */
  async create(account: VerifyAccount, serviceSid: string, params: Params, base: string): Promise<Answer> {
    const service = isSid('VA', serviceSid) ? await serviceBySid(this.db, account.id, serviceSid) : undefined;
    if (!service) return notFound(`/Services/${serviceSid}/AccessTokens`);
    const identity = str(params, 'Identity', 200);
    if (!identity.ok) return identity;
    if (!IDENTITY.test(identity.value?.trim() ?? '')) return twilioInvalid('Identity', '8 to 64 letters, digits and dashes');
    const type = str(params, 'FactorType', 20);
    if (!type.ok) return type;
    if (type.value?.trim().toLowerCase() !== 'push') return twilioInvalid('FactorType', 'push');
    const name = str(params, 'FactorFriendlyName', 200);
    if (!name.ok) return name;
    const friendlyName = name.value?.trim() || null;
    if (friendlyName !== null && (friendlyName.length > 64 || /[\u0000-\u001f\u007f]/.test(friendlyName))) return twilioInvalid('FactorFriendlyName', '1 to 64 characters');
    const ttl = int(params, 'Ttl', 60, 300);
    if (!ttl.ok) return ttl;
    const values = { sid: newSid('YK'), app_id: service.app_id, service_id: service.id, identity: identity.value!.trim(), factor_type: 'push' as const, friendly_name: friendlyName, ttl: ttl.value ?? 60, created_at: Date.now(), used_at: null };
    await tq.insertAccessToken(this.db, values);
    return { ok: true, status: 201, body: await this.body({ ...values, service_sid: service.sid, account_id: account.id, account_sid: account.sid }, base) };
  }

  /** `GET /v2/Services/{VA}/AccessTokens/{YK}`, while it lives (unused or not). */
  async fetch(account: VerifyAccount, serviceSid: string, sid: string, base: string): Promise<Answer> {
    const r = isSid('YK', sid) ? await row(this.db, sid) : undefined;
    if (!r || r.account_id !== account.id || r.service_sid !== serviceSid || Number(r.created_at) + r.ttl * 1000 <= Date.now()) return notFound(`/Services/${serviceSid}/AccessTokens/${sid}`);
    return { ok: true, status: 200, body: await this.body(r, base) };
  }

  /** The enrolment a JWT grants, if it is ours, alive and unused (it is not used up here: see `redeem`). */
  async check(jwt: string): Promise<Enrolment | undefined> {
    if (jwt.length > 4096 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(jwt)) return undefined;
    try {
      if (decodeProtectedHeader(jwt).alg !== 'HS256') return undefined;
      const { payload } = await jwtVerify(jwt, this.key, { algorithms: ['HS256'] });
      const r = isSid('YK', payload.jti) ? await row(this.db, payload.jti) : undefined;
      if (!r || r.used_at !== null || Number(r.created_at) + r.ttl * 1000 <= Date.now()) return undefined;
      return { tokenSid: r.sid, accountId: r.account_id, accountSid: r.account_sid, serviceSid: r.service_sid, identity: r.identity, friendlyName: r.friendly_name };
    } catch {
      return undefined;
    }
  }

  /** Uses the token up: true for exactly one caller, however many come at once. */
  async redeem(tokenSid: string, now: number): Promise<boolean> {
    return tq.useAccessToken(this.db, tokenSid, now);
  }
}
