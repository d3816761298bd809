// Helpers for one-time-password tests: users, the codes a user was sent (read back from the
// outbox as a developer would), app TOTPs computed from the user's sealed seed, devices.
import { unseal } from '../../src/core/crypto.ts';
import { totp } from '../../src/core/otp.ts';
import { totpSeedContext } from '../../src/features/users/service.ts';
import type { MessageView } from '../../src/delivery/outbox.ts';
import type { TestApp } from './harness.ts';
import { call, userForm } from './http.ts';

export async function createUser(t: TestApp, email: string, phone: string, cc = '1', key = t.apiKey): Promise<number> {
  const r = await call(t.of.server, 'POST', '/protected/json/users/new', { key, form: userForm(email, phone, cc) });
  if (r.status !== 200) throw new Error(`users/new: ${r.status} ${r.text}`);
  return r.json.user.id;
}

/** The newest message to `destination` once the worker has handed it to the console provider. */
export async function delivered(t: TestApp, destination: string, after?: string): Promise<MessageView & { text: string }> {
  for (let i = 0; i < 200; i++) {
    const [m] = (await t.of.services.outbox.recent({ limit: 200 })).filter((m) => m.destination === destination);
    if (m && m.id !== after && m.status === 'sent' && m.text !== undefined) return m as MessageView & { text: string };
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no message delivered to ${destination}`);
}

/** The code in an SMS or email text: the only run of `digits` digits. */
export function codeIn(text: string, digits: number): string {
  const m = text.match(new RegExp(`(?<!\\d)\\d{${digits}}(?!\\d)`, 'g'));
  if (!m || new Set(m).size !== 1) throw new Error(`no single ${digits}-digit code in: ${text}`);
  return m[0];
}

/** The code a voice call reads out digit by digit ("1, 2, 3…"): the first run of `digits` lone digits. */
export function spokenCode(text: string, digits: number): string {
  const m = text.match(new RegExp(`(?<!\\d)\\d(?:\\D{1,4}\\d(?!\\d)){${digits - 1}}`));
  if (!m) throw new Error(`no spoken ${digits}-digit code in: ${text}`);
  return m[0].replace(/\D/g, '');
}

export async function userSeed(t: TestApp, userId: number): Promise<Buffer> {
  const row = await t.store.db.selectFrom('users').select('totp_seed_sealed').where('id', '=', userId).executeTakeFirstOrThrow();
  return unseal(t.config.masterKeys, row.totp_seed_sealed!, totpSeedContext(userId));
}

/** The app TOTP the user's authenticator shows `offsetSteps` 30-second steps from now. */
export async function appToken(t: TestApp, userId: number, digits = 7, offsetSteps = 0): Promise<string> {
  return totp(await userSeed(t, userId), Date.now() + offsetSteps * 30_000, { digits });
}

/** A registered authenticator device (issue 5 registers them through its API). */
export async function addDevice(t: TestApp, userId: number, osType = 'android'): Promise<number> {
  const row = await t.store.db
    .insertInto('devices')
    .values({ app_id: t.appId, user_id: userId, os_type: osType, registration_method: 'sms', ip: '198.51.100.7', city: 'Lisbon', region: 'Lisbon', country: 'Portugal', created_at: Date.now(), last_sync_at: Date.now(), deleted_at: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export const verifyUrl = (token: string, id: number, query = '') => `/protected/json/verify/${token}/${id}${query}`;
