// Recovery codes (issue 17; no Authy equivalent): ten single-use codes a user keeps on paper for
// the day every device is lost. The customer's backend asks for a set and shows it once; only
// keyed hashes are stored; `verify` accepts each once (factor `recovery`), under the attempt cap.
import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { fail } from '../../core/errors.ts';
import type { Contacts } from '../../store/contacts.ts';
import type { DB } from '../../store/schema.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Application } from '../applications/service.ts';
import { findUser, parseAuthyId } from '../users/service.ts';
import * as q from './queries.ts';

export const RECOVERY_CODES = 10;
/** Digits only, and 8 of them: authy-client refuses any token that is not 6 to 8 digits. */
export const RECOVERY_CODE_DIGITS = 8;

export class RecoveryCodes {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly contacts: Contacts,
  ) {}

  /** `POST users/{id}/recovery_codes`: a new set, shown this once; the old set stops working. */
  async create(app: Application, idText: string): Promise<Outcome> {
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await findUser(this.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const codes = new Set<string>();
    while (codes.size < RECOVERY_CODES) codes.add(String(randomInt(10 ** RECOVERY_CODE_DIGITS)).padStart(RECOVERY_CODE_DIGITS, '0'));
    const now = Date.now();
    await q.replaceRecoveryCodes(this.db, user.id, [...codes].map((c) => this.contacts.recoveryCodeIndex(user.id, c)), now);
    return {
      ok: true,
      body: {
        recovery_codes: [...codes],
        created_at: new Date(now).toISOString(),
        message: 'Recovery codes created. Show them to the user now: they are not kept and cannot be shown again.',
        success: true,
      },
    };
  }

  /** `GET users/{id}/recovery_codes`: how many of the set are left (never the codes). */
  async remaining(app: Application, idText: string): Promise<Outcome> {
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await findUser(this.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    const s = await q.recoveryCodeCounts(this.db, user.id);
    return {
      ok: true,
      body: { remaining: s.remaining, total: s.total, created_at: s.createdAt === null ? null : new Date(s.createdAt).toISOString(), message: 'Recovery codes.', success: true },
    };
  }

  /** Used once: `used`, `reused` (used before) or `unknown`. Held by the attempt cap like every factor. */
  use(userId: number, token: string, now: number): Promise<'used' | 'reused' | 'unknown'> {
    return q.useRecoveryCode(this.db, userId, this.contacts.recoveryCodeIndex(userId, token), now);
  }
}
