// The demo's own accounts: what any website keeps before it adds a second factor. In memory, so a
// restart forgets them; a real site keeps them in its database.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const hash = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export interface Account {
  email: string;
  authyId: number;
  /** The last digits only, to say where a code went. */
  phoneEnd: string;
  salt: Buffer;
  passwordHash: Buffer;
}

/** A sign-in that passed the password and waits for its second factor. */
export interface Challenge {
  email: string;
  /** The OneTouch request sent to the user's devices, when it could be made. */
  approvalUuid: string | null;
  expiresAt: number;
}

const CHALLENGE_MS = 5 * 60_000;
const SESSION_MS = 8 * 3600_000;

export class Accounts {
  readonly #accounts = new Map<string, Account>();
  readonly #challenges = new Map<string, Challenge>();
  readonly #sessions = new Map<string, { email: string; expiresAt: number }>();
  /** Compared against when the email is unknown, so both answers take the same time. */
  readonly #decoy = { salt: randomBytes(16), passwordHash: randomBytes(32) };

  has(email: string): boolean {
    return this.#accounts.has(email);
  }

  async add(email: string, password: string, authyId: number, phone: string): Promise<void> {
    const salt = randomBytes(16);
    this.#accounts.set(email, { email, authyId, phoneEnd: phone.replace(/\D/g, '').slice(-2), salt, passwordHash: await hash(password, salt, 32) });
  }

  get(email: string): Account | undefined {
    return this.#accounts.get(email);
  }

  /** The account, when the password is its own. */
  async checkPassword(email: string, password: string): Promise<Account | undefined> {
    const a = this.#accounts.get(email);
    const against = a ?? this.#decoy;
    const ok = timingSafeEqual(await hash(password, against.salt, 32), against.passwordHash);
    return ok && a ? a : undefined;
  }

  startChallenge(email: string, approvalUuid: string | null): string {
    const id = randomBytes(24).toString('base64url');
    this.#challenges.set(id, { email, approvalUuid, expiresAt: Date.now() + CHALLENGE_MS });
    return id;
  }

  challenge(id: string | undefined): Challenge | undefined {
    const c = id ? this.#challenges.get(id) : undefined;
    if (c && c.expiresAt > Date.now()) return c;
    if (id) this.#challenges.delete(id);
    return undefined;
  }

  /** The sign-in was abandoned (Cancel): the challenge is gone. */
  dropChallenge(id: string): void {
    this.#challenges.delete(id);
  }

  /** The second factor passed: the challenge is spent and a session begins. */
  completeChallenge(id: string, email: string): string {
    this.#challenges.delete(id);
    const session = randomBytes(24).toString('base64url');
    this.#sessions.set(session, { email, expiresAt: Date.now() + SESSION_MS });
    return session;
  }

  session(id: string | undefined): Account | undefined {
    const s = id ? this.#sessions.get(id) : undefined;
    if (s && s.expiresAt > Date.now()) return this.#accounts.get(s.email);
    if (id) this.#sessions.delete(id);
    return undefined;
  }

  endSession(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }
}
