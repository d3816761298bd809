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
// At most an address's length: what a sign-in names is written to the audit trail.
const normalEmail = (raw: unknown) => (typeof raw === 'string' ? raw.trim().toLowerCase().slice(0, 254) : '');
/** Longer passwords are refused unhashed: argon2 over a body-sized string is work an attacker chooses. */
const MAX_PASSWORD = 1024;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Compared against when the email is unknown, so that the time taken does not tell. */
let dummyHash: Promise<string> | undefined;

export type SignIn =
  | { ok: true; principal: Principal; session: string; csrf: string; expiresAt: number }
  | { ok: false; reason: 'bad_credentials' | 'code_required' | 'bad_code'; email: string };

export class AdminAccounts {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
    private readonly rules: SessionRules & { secondFactor: SecondFactorRule },
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
      const code = typeof input.code === 'string' || typeof input.code === 'number' ? String(input.code).replace(/\s+/g, '') : '';
      if (!code) return { ok: false, reason: 'code_required', email };
      const seed = unseal(this.keys, account.totp_seed_sealed, seedContext(email));
      const current = totpStep(now, 30);
      const step = findStep(seed, code, current, { behind: 1, ahead: 1 }, { digits: 6 });
      // A code used once is not taken again (replay), even by a second request at the same moment.
      if (step === undefined || !(await q.takeTotpStep(this.db, account.id, step))) return { ok: false, reason: 'bad_code', email };
    }
    const session = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const expiresAt = now + this.rules.lifetimeMs;
    await q.insertSession(this.db, { token_hash: hashSecret(session), csrf_hash: hashSecret(csrf), account_id: account.id, ip: input.ip, created_at: now, expires_at: expiresAt, idle_until: Math.min(expiresAt, now + this.rules.idleMs) });
    await q.noteSignIn(this.db, account.id, now);
    return { ok: true, principal: principalOf(account), session, csrf, expiresAt };
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
  created_at: new Date(Number(a.created_at)).toISOString(),
  last_sign_in_at: a.last_sign_in_at === null ? null : new Date(Number(a.last_sign_in_at)).toISOString(),
  disabled_at: a.disabled_at === null ? null : new Date(Number(a.disabled_at)).toISOString(),
});
