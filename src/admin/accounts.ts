// Administrators as people (issue 22): accounts with a password (argon2id) and an authenticator
// for the second factor, checked by OpenFactor's own TOTP code with its replay rule; console
// sessions held in an HttpOnly cookie, every change also carrying the session's CSRF token.
import argon2 from 'argon2';
import type { Kysely } from 'kysely';
import { constantTimeEqual, hashSecret, randomBytes, seal, unseal, type MasterKey } from '../core/crypto.ts';
import { findStep, newSecret, toBase32, totpStep } from '../core/otp.ts';
import type { DB } from '../store/schema.ts';
import { ROLES, type Principal, type Role } from './access.ts';
import * as q from './account-queries.ts';

/** When administrators must give a code after their password. */
export type SecondFactorRule = 'auto' | 'always' | 'off';

export interface SessionRules {
  /** A session ends this long after sign-in, whatever happens. */
  lifetimeMs: number;
  /** …or after this long without a request. */
  idleMs: number;
}

export const adminSeedContext = (email: string) => `admin-accounts:${email}:totp`;
const seedContext = adminSeedContext;
// At most an address's length: what a sign-in names is written to the audit trail. Lower case is
// ASCII's only: Unicode case folding would make another address (a Kelvin sign for a K) one of ours.
const normalEmail = (raw: unknown) => (typeof raw === 'string' ? raw.trim().slice(0, 254).replace(/[A-Z]/g, (c) => c.toLowerCase()) : '');
/** Longer passwords are refused unhashed: argon2 over a body-sized string is work an attacker chooses. */
const MAX_PASSWORD = 1024;
/** Printable ASCII only, one @, a dot in the domain. */
const EMAIL = /^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+\.[\x21-\x3f\x41-\x7e]+$/;
/** Compared against when the email is unknown, so that the time taken does not tell. */
let dummyHash: Promise<string> | undefined;

/** A sign-in waits this long for its second factor (a OneTouch request asked for lives as long). */
export const SECOND_FACTOR_WAIT_MS = 5 * 60_000;

/** OneTouch for the console: a request to an administrator's own user's devices, and its answer. */
export interface AdminApprovals {
  /** The user's registered device keys (none: no such user or device, or OneTouch off in the application). */
  devicesOf(appId: number, authyId: number): Promise<number[]>;
  request(appId: number, authyId: number, details: Record<string, string>): Promise<{ uuid: string; number?: number } | undefined>;
  /** The request's status, and for an approval the device key that gave it. */
  status(appId: number, uuid: string): Promise<{ status: 'pending' | 'approved' | 'denied' | 'expired'; deviceKeyId: number | null } | undefined>;
  cancel(appId: number, uuid: string): Promise<void>;
}

/** The devices pinned to an account's OneTouch link that are still registered to its user. */
const pinned = (a: { onetouch_device_keys: string | null }) => new Set<number>(a.onetouch_device_keys ? (JSON.parse(a.onetouch_device_keys) as number[]) : []);

export type Session = { ok: true; principal: Principal; session: string; csrf: string; expiresAt: number };
/** The first factor held and a second is asked: `ticket` (a cookie) carries the sign-in on. */
export type SecondFactorAsked = { ok: false; reason: 'code_required'; email: string; ticket: string; onetouch: boolean };
export type SignIn = Session | SecondFactorAsked | { ok: false; reason: 'bad_credentials' | 'bad_code' | 'no_account'; email: string };
export type SecondFactor =
  | Session
  | { ok: false; reason: 'waiting'; uuid: string; number?: number }
  | { ok: false; reason: 'bad_code' | 'denied' | 'expired' | 'unlinked_device' | 'no_device' | 'no_sign_in'; email: string };

/**
 * The CSRF token of a session, derived from it: the console, opened again or back from single
 * sign-on, asks for it with the cookie alone (a page of another site can send but never read).
 */
export const csrfOf = (session: string) => hashSecret(`admin-csrf:${session}`);

export class AdminAccounts {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
    private readonly rules: SessionRules & { secondFactor: SecondFactorRule },
    private readonly approvals?: AdminApprovals,
  ) {}

  /** A new account; the authenticator's otpauth URI is returned this once (for its QR code or app). */
  async add(input: { email: unknown; name?: unknown; password?: unknown; role: unknown; appId?: number | null }, now = Date.now()) {
    const email = normalEmail(input.email);
    if (!EMAIL.test(email) || email.length > 254) return { ok: false as const, field: 'email', reason: 'must be an email address' };
    if (typeof input.role !== 'string' || !(ROLES as readonly string[]).includes(input.role)) return { ok: false as const, field: 'role', reason: `must be one of ${ROLES.join(', ')}` };
    const appId = input.appId ?? null;
    if (appId !== null && input.role === 'owner') return { ok: false as const, field: 'app_id', reason: 'an owner is for the whole service' };
    const password = input.password;
    if (password !== undefined && (typeof password !== 'string' || password.length < 12 || password.length > MAX_PASSWORD)) {
      return { ok: false as const, field: 'password', reason: `must be 12 to ${MAX_PASSWORD} characters` };
    }
    if (await q.accountByEmail(this.db, email)) return { ok: false as const, field: 'email', reason: 'is taken by another administrator' };
    const seed = newSecret();
    const name = typeof input.name === 'string' && input.name.trim() ? input.name.trim().slice(0, 128) : email;
    const id = await q.insertAccount(this.db, {
      email,
      name,
      password_hash: password === undefined ? null : await argon2.hash(password as string, { type: argon2.argon2id }),
      role: input.role as Role,
      app_id: appId,
      totp_seed_sealed: seal(this.keys[0], seed, seedContext(email)),
      created_at: now,
    });
    const otpauth = `otpauth://totp/${encodeURIComponent(`OpenFactor console:${email}`)}?secret=${toBase32(seed)}&issuer=${encodeURIComponent('OpenFactor console')}&digits=6&period=30`;
    return { ok: true as const, id, email, otpauth };
  }

  /** Whether a second factor is asked of everyone now: always, or (auto) once there is more than one administrator. */
  async secondFactorRequired(): Promise<boolean> {
    if (this.rules.secondFactor === 'off') return false;
    return this.rules.secondFactor === 'always' || (await q.activeAccounts(this.db)) > 1;
  }

  /** Password, then the authenticator's code when it is asked for; a session when both hold. */
  async signIn(input: { email: unknown; password: unknown; code?: unknown; ip: string | null }, now = Date.now()): Promise<SignIn> {
    const email = normalEmail(input.email);
    const account = email ? await q.accountByEmail(this.db, email) : undefined;
    const password = typeof input.password === 'string' && input.password.length <= MAX_PASSWORD ? input.password : '';
    // An unknown email costs the same hash as a known one.
    const hash = account?.password_hash ?? (await (dummyHash ??= argon2.hash('no account has this password', { type: argon2.argon2id })));
    const good = (await argon2.verify(hash, password).catch(() => false)) && !!account?.password_hash && account.disabled_at === null;
    if (!account || !good) return { ok: false, reason: 'bad_credentials', email };
    if (await this.secondFactorRequired()) {
      const code = readCode(input.code);
      if (!code) return this.askSecondFactor(account, 'password', input.ip, now);
      if (!(await this.codeHolds(account, code, now))) return { ok: false, reason: 'bad_code', email };
    }
    return this.startSession(account, input.ip, now);
  }

  /** Signed in by the organisation's OpenID Connect provider as `email` (verified there). */
  async signInBySso(rawEmail: string, ip: string | null, now = Date.now()): Promise<SignIn> {
    // The provider's address as it is: no trimming, ASCII, an address's length.
    const email = rawEmail.length <= 254 && EMAIL.test(rawEmail) ? normalEmail(rawEmail) : '';
    const account = email ? await q.accountByEmail(this.db, email) : undefined;
    if (!account || account.disabled_at !== null) return { ok: false, reason: 'no_account', email };
    if (await this.secondFactorRequired()) return this.askSecondFactor(account, 'sso', ip, now);
    return this.startSession(account, ip, now);
  }

  /**
   * The second factor of a waiting sign-in: the authenticator's code, or a OneTouch approval
   * (the first call sends the request, later ones read its answer; approved gives the session).
   */
  async secondFactor(ticket: string, input: { code?: unknown; onetouch?: boolean; ip: string | null }, now = Date.now()): Promise<SecondFactor> {
    const waiting = await q.waitingSignIn(this.db, hashSecret(ticket), now);
    if (!waiting) return { ok: false, reason: 'no_sign_in', email: '' };
    const account = (await q.accountById(this.db, waiting.account_id))!;
    const end = async (reason: 'bad_code' | 'denied' | 'expired' | 'unlinked_device') => {
      await q.endSignIn(this.db, waiting.id);
      // A request still on the device is withdrawn: nothing there can finish this sign-in now.
      if (waiting.approval_uuid && account.onetouch_app_id !== null) await this.approvals?.cancel(Number(account.onetouch_app_id), waiting.approval_uuid).catch(() => {});
      return { ok: false as const, reason, email: account.email };
    };
    if (!input.onetouch) {
      const code = readCode(input.code);
      // One wrong code ends the wait: a guess needs the first factor again.
      if (!code || !(await this.codeHolds(account, code, now))) return end('bad_code');
    } else {
      const { onetouch_app_id: appId, onetouch_authy_id: authyId } = account;
      if (!this.approvals || appId === null || authyId === null || (await this.linkedDevices(account)).length === 0) return { ok: false, reason: 'no_device', email: account.email };
      if (waiting.approval_uuid === null) {
        const sent = await this.approvals.request(Number(appId), Number(authyId), {
          Administrator: account.email,
          'From address': input.ip ?? 'unknown',
          'Signed in by': waiting.via === 'sso' ? 'single sign-on' : 'password',
        });
        if (!sent) return { ok: false, reason: 'no_device', email: account.email };
        // Of two requests racing for the same sign-in, one keeps its approval; the other's is withdrawn.
        if (!(await q.noteApproval(this.db, waiting.id, sent.uuid))) {
          await this.approvals.cancel(Number(appId), sent.uuid);
          return { ok: false, reason: 'no_sign_in', email: account.email };
        }
        return { ok: false, reason: 'waiting', uuid: sent.uuid, ...(sent.number === undefined ? {} : { number: sent.number }) };
      }
      const answer = await this.approvals.status(Number(appId), waiting.approval_uuid);
      if (answer?.status === 'pending') return { ok: false, reason: 'waiting', uuid: waiting.approval_uuid };
      if (answer?.status !== 'approved') return end(answer?.status === 'denied' ? 'denied' : 'expired');
      // Approved, but by a device registered after the link was made: not the administrator's.
      if (answer.deviceKeyId === null || !pinned(account).has(answer.deviceKeyId)) return end('unlinked_device');
    }
    // The ticket is spent once: of two requests with it, one gets the session.
    if (!(await q.endSignIn(this.db, waiting.id))) return { ok: false, reason: 'no_sign_in', email: account.email };
    return this.startSession(account, waiting.ip, now);
  }

  private async askSecondFactor(account: q.AccountRow, via: 'password' | 'sso', ip: string | null, now: number): Promise<SecondFactorAsked> {
    const ticket = randomBytes(32).toString('base64url');
    await q.insertSignIn(this.db, { ticket_hash: hashSecret(ticket), account_id: account.id, via, ip, created_at: now, expires_at: now + SECOND_FACTOR_WAIT_MS }, now);
    const onetouch = (await this.linkedDevices(account)).length > 0;
    return { ok: false, reason: 'code_required', email: account.email, ticket, onetouch };
  }

  /** The authenticator's code, with the replay rule: a code used once is not taken again, even by a second request at the same moment. */
  private async codeHolds(account: q.AccountRow, code: string, now: number): Promise<boolean> {
    const seed = unseal(this.keys, account.totp_seed_sealed, seedContext(account.email));
    const step = findStep(seed, code, totpStep(now, 30), { behind: 1, ahead: 1 }, { digits: 6 });
    return step !== undefined && (await q.takeTotpStep(this.db, account.id, step));
  }

  private async startSession(account: q.AccountRow, ip: string | null, now: number): Promise<Session> {
    const session = randomBytes(32).toString('base64url');
    const csrf = csrfOf(session);
    const expiresAt = now + this.rules.lifetimeMs;
    await q.insertSession(this.db, { token_hash: hashSecret(session), csrf_hash: hashSecret(csrf), account_id: account.id, ip, created_at: now, expires_at: expiresAt, idle_until: Math.min(expiresAt, now + this.rules.idleMs) });
    await q.noteSignIn(this.db, account.id, now);
    return { ok: true, principal: principalOf(account), session, csrf, expiresAt };
  }

  /**
   * The administrator's own user whose devices approve their sign-ins (null: none). The devices it
   * has now are pinned: one registered for that user later does not count.
   */
  async linkDevice(id: number, device: { appId: number; authyId: number } | null): Promise<'done' | 'no_account' | 'no_device'> {
    if (!(await q.accountById(this.db, id))) return 'no_account';
    const keys = device ? ((await this.approvals?.devicesOf(device.appId, device.authyId)) ?? []) : [];
    if (device && keys.length === 0) return 'no_device';
    await q.setOneTouchUser(this.db, id, device && { ...device, deviceKeys: keys });
    return 'done';
  }

  /** The pinned devices of an account's link still registered to its user: where a OneTouch request may go. */
  private async linkedDevices(a: q.AccountRow): Promise<number[]> {
    if (!this.approvals || a.onetouch_app_id === null || a.onetouch_authy_id === null) return [];
    const keep = pinned(a);
    return (await this.approvals.devicesOf(Number(a.onetouch_app_id), Number(a.onetouch_authy_id))).filter((k) => keep.has(k));
  }

  /**
   * The principal of a session cookie, or undefined (unknown, ended, expired, idle too long, or
   * its account disabled). A change (`needsCsrf`) also needs the session's CSRF token.
   */
  async fromSession(session: string, csrf: string | undefined, needsCsrf: boolean, now = Date.now()): Promise<{ principal: Principal; sessionId: number } | 'csrf' | undefined> {
    const s = await q.liveSession(this.db, hashSecret(session), now);
    if (!s) return undefined;
    if (needsCsrf && !(csrf && constantTimeEqual(hashSecret(csrf), s.csrf_hash))) return 'csrf';
    // The idle deadline moves on, written at most once a minute.
    const idleUntil = now + this.rules.idleMs;
    if (idleUntil - Number(s.idle_until) > 60_000) await q.extendSession(this.db, s.session_id, idleUntil);
    return { principal: principalOf(s), sessionId: s.session_id };
  }

  signOut = (sessionId: number) => q.endSession(this.db, sessionId);

  list = () => q.listAccounts(this.db);
  find = (id: number) => q.accountById(this.db, id);

  /** Disabled: no sign-in, and its sessions end at once. */
  async disable(id: number, now = Date.now()): Promise<boolean> {
    const done = await q.disableAccount(this.db, id, now);
    if (done) await q.endSessionsOf(this.db, id);
    return done;
  }
}

const readCode = (raw: unknown) => (typeof raw === 'string' || typeof raw === 'number' ? String(raw).replace(/\s+/g, '') : '');

const principalOf = (a: { id: number; email: string; role: Role; app_id: number | null }): Principal => ({
  kind: 'admin',
  id: a.id,
  name: `admin ${a.id} (${a.email})`,
  role: a.role,
  ...(a.app_id === null ? {} : { appId: Number(a.app_id) }),
});

export const accountView = (a: Awaited<ReturnType<typeof q.listAccounts>>[number]) => ({
  id: Number(a.id),
  email: a.email,
  name: a.name,
  role: a.role,
  app_id: a.app_id === null ? null : Number(a.app_id),
  password: a.password_hash !== null,
  onetouch:
    a.onetouch_app_id === null || a.onetouch_authy_id === null ? null : { app_id: Number(a.onetouch_app_id), authy_id: Number(a.onetouch_authy_id), devices: [...pinned(a)] },
  created_at: new Date(Number(a.created_at)).toISOString(),
  last_sign_in_at: a.last_sign_in_at === null ? null : new Date(Number(a.last_sign_in_at)).toISOString(),
  disabled_at: a.disabled_at === null ? null : new Date(Number(a.disabled_at)).toISOString(),
});
