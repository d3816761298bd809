// Verify v2 credentials: accounts (AC…, with an auth token) and API keys (SK…, with a secret)
// that belong to an account. Requests use HTTP Basic with either pair.
//
// Secrets at rest follow the Authy API key's rule: a bearer secret is compared by its hash, and
// kept sealed only where the service must use it later. The auth token signs Verify webhooks
// (X-Twilio-Signature, HMAC-SHA1 with the token), so it is also sealed, bound to its SID; an API
// key's secret is only ever compared, so only its hash is kept.
import type { Kysely } from 'kysely';
import { constantTimeEqual, hashSecret, newApiKey, randomBytes, seal, unseal, type MasterKey } from '../../core/crypto.ts';
import type { DB } from '../../store/schema.ts';
import * as q from './queries.ts';
import { isSid, newSid } from './twilio.ts';

export interface VerifyAccount {
  id: number;
  sid: string;
}

export const authTokenContext = (accountSid: string) => `verify_accounts:${accountSid}:auth_token`;

/** Compared when the SID is unknown, so an unknown SID costs the same as a wrong secret. */
const NO_HASH = hashSecret('no such credential');
const CACHE_MAX = 10_000;

export class VerifyCredentials {
  /** Good credentials seen, by `sid:hash(secret)`: neither accounts nor keys can be deleted yet. */
  private readonly known = new Map<string, VerifyAccount>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
  ) {}

  /** A new account; its auth token is in the answer, and only there. */
  async createAccount(name: string): Promise<{ sid: string; authToken: string; name: string }> {
    const sid = newSid('AC');
    const authToken = randomBytes(16).toString('hex'); // 32 hex digits, Twilio's shape
    await q.insertAccount(this.db, { sid, name, tokenHash: hashSecret(authToken), tokenSealed: seal(this.keys[0], authToken, authTokenContext(sid)), now: Date.now() });
    return { sid, authToken, name };
  }

  /** A new API key of `accountSid`; its secret is in the answer, and only there. Undefined: no such account. */
  async createKey(accountSid: string, name: string): Promise<{ sid: string; secret: string; accountSid: string; name: string } | undefined> {
    const account = isSid('AC', accountSid) ? await q.accountBySid(this.db, accountSid) : undefined;
    if (!account) return undefined;
    const sid = newSid('SK');
    const secret = newApiKey();
    await q.insertKey(this.db, { sid, accountId: account.id, name, secretHash: hashSecret(secret), now: Date.now() });
    return { sid, secret, accountSid, name };
  }

  /** Accounts, oldest first, never with their tokens. */
  async accounts() {
    return (await q.listAccounts(this.db)).map((a) => ({ sid: a.sid, name: a.name, date_created: new Date(Number(a.created_at)).toISOString() }));
  }

  /** An account's API keys, oldest first, never with their secrets; undefined: no such account. */
  async keysOf(accountSid: string) {
    const account = isSid('AC', accountSid) ? await q.accountBySid(this.db, accountSid) : undefined;
    if (!account) return undefined;
    return (await q.listKeys(this.db, account.id)).map((k) => ({ sid: k.sid, account_sid: accountSid, name: k.name, date_created: new Date(Number(k.created_at)).toISOString() }));
  }

  /** The account an `AC…:token` or `SK…:secret` pair stands for, or undefined. Compared in constant time. */
  async authenticate(user: string, password: string): Promise<VerifyAccount | undefined> {
    if (password.length > 256 || !(isSid('AC', user) || isSid('SK', user))) return undefined;
    const hash = hashSecret(password);
    const cacheKey = `${user}:${hash}`;
    const hit = this.known.get(cacheKey);
    if (hit) return hit;
    const row = user.startsWith('AC')
      ? await q.accountBySid(this.db, user).then((a) => a && { hash: a.auth_token_hash, account: { id: a.id, sid: a.sid } })
      : await q.keyBySid(this.db, user).then((k) => k && { hash: k.secret_hash, account: { id: k.account_id, sid: k.account_sid } });
    const ok = constantTimeEqual(hash, row?.hash ?? NO_HASH) && row !== undefined;
    if (!ok) return undefined;
    if (this.known.size >= CACHE_MAX) this.known.clear();
    this.known.set(cacheKey, row.account);
    return row.account;
  }

  /** The account's auth token (it signs the account's webhooks). */
  async authToken(accountSid: string): Promise<string | undefined> {
    const account = await q.accountBySid(this.db, accountSid);
    return account && unseal(this.keys, account.auth_token_sealed, authTokenContext(account.sid)).toString('utf8');
  }
}
