// Webhooks (wire reference §2.21): the dashboard API that manages them, signed with the
// application's API signing key; events queued as signed deliveries (a JWT, HS256, with the
// webhook's own signing key) in the same transaction as the change they report.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { SignJWT } from 'jose';
import { seal, unseal, type MasterKey } from '../../core/crypto.ts';
import { verifyAuthySignature } from '../../core/authy-signature.ts';
import { fail } from '../../core/errors.ts';
import type { Params, Value } from '../../core/params.ts';
import type { Destinations } from '../../delivery/destinations.ts';
import type { DueHook, Hooks, NewHook, SignedRequest } from '../../delivery/hooks.ts';
import { writeTogether, type WriteStep } from '../../store/prepared.ts';
import type { DB } from '../../store/schema.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Application, Applications } from '../applications/service.ts';
import * as q from './queries.ts';

/** The events a webhook may ask for (Authy's public list, wire reference §2.21). */
export const WEBHOOK_EVENTS = [
  'account_recovery_approved', 'account_recovery_canceled', 'account_recovery_started', 'custom_message_not_allowed',
  'device_registration_completed', 'one_touch_request_responded', 'phone_change_canceled', 'phone_change_pin_sent',
  'phone_change_requested', 'phone_verification_code_is_invalid', 'phone_verification_code_is_valid',
  'phone_verification_failed', 'phone_verification_not_found', 'phone_verification_started', 'suspended_account',
  'token_invalid', 'token_verified', 'too_many_code_verifications', 'too_many_phone_verifications', 'totp_token_sent',
  'user_added', 'user_phone_changed', 'user_removed',
] as const;
/**
 * The events OpenFactor sends: what a form should offer. The others in Authy's list are accepted
 * (a webhook made for Authy keeps working) but never happen here. `emit` takes only these, so the
 * compiler keeps the list honest one way; test/webhooks/events.test.ts checks each is emitted.
 */
export const EMITTED_WEBHOOK_EVENTS = [
  'account_recovery_approved', 'account_recovery_canceled', 'account_recovery_started', 'custom_message_not_allowed',
  'device_registration_completed', 'one_touch_request_responded', 'phone_change_canceled', 'phone_change_pin_sent',
  'phone_change_requested', 'phone_verification_code_is_invalid', 'phone_verification_code_is_valid',
  'phone_verification_started', 'token_invalid', 'token_verified', 'too_many_code_verifications', 'totp_token_sent',
  'user_added', 'user_phone_changed', 'user_removed',
] as const satisfies readonly (typeof WEBHOOK_EVENTS)[number][];
export type EmittedWebhookEvent = (typeof EMITTED_WEBHOOK_EVENTS)[number];
const EVENTS = new Set<string>(WEBHOOK_EVENTS);
const MAX_WEBHOOKS = 50;
const CACHE_MS = 5000;
const NONE = Promise.resolve();

type Db = Kysely<DB> | Transaction<DB>;
type Row = { id: string; name: string; url: string; events: string; signing_key_sealed: string; created_at: number };

export const signingKeyContext = (id: string) => `webhooks:${id}:signing_key`;

export class Webhooks {
  private cache = new Map<number, { at: number; rows: Row[] }>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly keys: MasterKey[],
    private readonly hooks: Hooks,
    private readonly applications: Applications,
    private readonly destinations: Pick<Destinations, 'check'>,
    /** How long a dashboard nonce is remembered (and how far a time nonce may be from now). */
    private readonly nonceWindowMs = 86_400_000,
  ) {}

  /** Queues `event` for every webhook of the application that asked for it (inside `db`'s transaction). */
  emit(db: Db, appId: number, event: EmittedWebhookEvent, objects: Record<string, Record<string, unknown>>, now = Date.now()): Promise<void> {
    // Most applications have none: then no promise chain (verify emits on every call).
    const hit = this.cache.get(appId);
    if (hit && now - hit.at < CACHE_MS && hit.rows.length === 0) return NONE;
    return this.queue(db, appId, event, objects, now);
  }

  private async queue(db: Db, appId: number, event: EmittedWebhookEvent, objects: Record<string, Record<string, unknown>>, now: number): Promise<void> {
    await writeTogether(db as Kysely<DB>, await this.eventSteps(db, appId, event, objects, now));
  }

  /** What `emit` queues, as steps of writeTogether (with the change the event reports); `db` reads the webhooks. */
  async eventSteps(db: Db, appId: number, event: EmittedWebhookEvent, objects: Record<string, Record<string, unknown>>, now = Date.now()): Promise<WriteStep[]> {
    const rows = await this.webhooksOf(db, appId, now);
    return rows.filter((w) => (JSON.parse(w.events) as string[]).includes(event)).map((w) => this.hooks.enqueueStep(this.delivery(appId, w, event, objects, now), now));
  }

  private delivery(appId: number, w: Row, event: EmittedWebhookEvent, objects: Record<string, Record<string, unknown>>, now: number): NewHook {
    const payload = { event, time: new Date(now).toISOString(), request: { id: randomUUID() }, objects: { app: { s_id: String(appId) }, ...objects } };
    return { appId, kind: 'webhook', target: w.id, event, url: w.url, method: 'POST', payload };
  }

  private async webhooksOf(db: Db, appId: number, now: number): Promise<Row[]> {
    const hit = this.cache.get(appId);
    if (hit && now - hit.at < CACHE_MS) return hit.rows;
    const rows = await q.webhooksOfApp(db, appId);
    this.cache.set(appId, { at: now, rows });
    return rows;
  }

  /** The body of a webhook delivery: a JWT signed with that webhook's key. */
  async sign(hook: DueHook): Promise<SignedRequest | undefined> {
    const row = await q.findSigningKey(this.db, hook.target);
    if (!row) return undefined;
    const key = unseal(this.keys, row.signing_key_sealed, signingKeyContext(hook.target));
    const jwt = await new SignJWT({ ...hook.payload, webhook_id: hook.target })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setJti(`${hook.id}`)
      .sign(key);
    return { url: hook.url, method: 'POST', headers: { 'content-type': 'application/jwt', 'user-agent': 'OpenFactor-Webhooks/1' }, body: jwt };
  }

  /**
   * Dashboard calls carry `app_api_key` and `access_key` and are signed (X-Authy-Signature over
   * the URL, the method and every parameter) with the application's API signing key.
   */
  async authenticate(params: Params, headers: Record<string, unknown>, method: string, url: string): Promise<{ ok: true; app: Application } | ReturnType<typeof fail>> {
    const apiKey = params.app_api_key;
    const access = params.access_key;
    const app = typeof apiKey === 'string' && apiKey ? await this.applications.authenticate(apiKey) : undefined;
    if (!app) return fail('INVALID_API_KEY');
    const signingKey = typeof access === 'string' && access.length <= 100 ? await this.applications.dashboardSigningKey(app.id, access) : undefined;
    if (!signingKey) return fail('DASHBOARD_KEY_INVALID');
    const nonce = headers['x-authy-signature-nonce'];
    const signature = headers['x-authy-signature'];
    if (typeof nonce !== 'string' || !nonce || nonce.length > 100 || typeof signature !== 'string' || !verifyAuthySignature(signingKey, nonce, method, url, params, signature)) {
      return fail('SIGNATURE_INVALID');
    }
    // Only a correctly signed call records its nonce: nobody else can fill the table.
    const replay = await this.useNonce(app.id, nonce);
    if (replay) return fail(replay);
    return { ok: true, app };
  }

  /**
   * Records a dashboard nonce; the refusal when it is in use (seen within the window, by any
   * process on this database) or is a time too far from now. Nonces may be any unique string
   * (samples use GUIDs and random numbers), so only the unmistakable time form (Unix seconds with
   * a fraction, as the docs' example) is held to the window; other nonces can be replayed only
   * once they have been forgotten, a window later.
   */
  private async useNonce(appId: number, nonce: string, now = Date.now()): Promise<'SIGNATURE_REPLAYED' | 'SIGNATURE_EXPIRED' | undefined> {
    const at = /^\d{9,11}\.\d{1,9}$/.test(nonce) ? Number(nonce) * 1000 : undefined;
    if (at !== undefined && Math.abs(now - at) > this.nonceWindowMs) return 'SIGNATURE_EXPIRED';
    // Whole milliseconds: a nonce with microseconds (Python's time.time()) a little ahead of this
    // clock gave a fraction, which PostgreSQL's bigint refused (a 500).
    const expiresAt = Math.ceil(Math.max(now, at ?? now) + this.nonceWindowMs);
    return (await q.useDashboardNonce(this.db, appId, nonce, expiresAt, now)) ? undefined : 'SIGNATURE_REPLAYED';
  }

  async create(app: Application, params: Params): Promise<Outcome> {
    const name = typeof params.name === 'string' ? params.name.trim() : '';
    const url = typeof params.url === 'string' ? params.url.trim() : '';
    const events = listOf(params.events);
    const bad = (why: string) => fail('WEBHOOK_NOT_CREATED', { message: `Webhook could not be created: ${why}` });
    if (!name || name.length > 64 || /[\u0000-\u001f\u007f]/.test(name)) return bad('name is required (at most 64 printable characters)');
    if (!isHttpUrl(url)) return bad('url must be an http or https URL');
    if (events.length === 0 || events.some((e) => !EVENTS.has(e))) return bad(`events must be one or more of ${WEBHOOK_EVENTS.join(', ')}`);
    const refused = await this.destinations.check(url);
    if (refused) return bad(`url cannot be called: ${refused}`);
    if ((await q.countWebhooks(this.db, app.id)) >= MAX_WEBHOOKS) return bad(`an application may have at most ${MAX_WEBHOOKS} webhooks`);
    const id = `WH_${randomUUID()}`;
    const signingKey = randomBytes(15).toString('base64url');
    const now = Date.now();
    await q.insertWebhook(this.db, { id, appId: app.id, name, url, events: JSON.stringify([...new Set(events)]), signingKeySealed: seal(this.keys[0], signingKey, signingKeyContext(id)), now });
    this.cache.delete(app.id);
    const row = (await this.rows(app.id)).find((r) => r.id === id)!;
    return { ok: true, body: { webhook: this.render(app, row), message: 'Webhook created', success: true } };
  }

  async list(app: Application): Promise<Outcome> {
    const rows = await this.rows(app.id);
    return { ok: true, body: { webhooks: rows.map((r) => this.render(app, r)), message: 'Webhooks list', success: true } };
  }

  /** The webhooks as an operator sees them: no signing keys. */
  async summaries(appId: number) {
    return (await this.rows(appId)).map((r) => ({ id: r.id, name: r.name, url: r.url, events: JSON.parse(r.events) as string[], created_at: new Date(Number(r.created_at)).toISOString() }));
  }

  async remove(app: Application, id: string | undefined): Promise<Outcome> {
    if (!id || !/^WH_[0-9a-f-]{36}$/.test(id)) return fail('WEBHOOK_NOT_DELETED', { message: 'Webhook could not be deleted: no such webhook' });
    if (!(await q.deleteWebhook(this.db, app.id, id))) return fail('WEBHOOK_NOT_DELETED', { message: 'Webhook could not be deleted: no such webhook' });
    this.cache.delete(app.id);
    return { ok: true, body: { message: 'Webhook deleted', success: true } };
  }

  private rows(appId: number) {
    return q.webhooksOfApp(this.db, appId);
  }

  private render(app: Application, r: Row) {
    return {
      id: r.id,
      name: r.name,
      account_sid: `AC${createHash('sha256').update(`account:${app.id}`).digest('hex').slice(0, 32)}`,
      service_id: String(app.id),
      url: r.url,
      signing_key: unseal(this.keys, r.signing_key_sealed, signingKeyContext(r.id)).toString('utf8'),
      events: JSON.parse(r.events) as string[],
      creation_date: new Date(Number(r.created_at)).toISOString(),
    };
  }
}

function listOf(v: Value | undefined): string[] {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v)) return v.filter((e): e is string => typeof e === 'string').map((s) => s.trim());
  return [];
}

export function isHttpUrl(s: string): boolean {
  if (s.length > 2000 || /[\u0000-\u0020\u007f]/.test(s)) return false;
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
