// OneTouch approval requests: created by the customer's backend, pushed to the user's devices,
// answered and signed by one device, reported to the customer by a signed callback and a
// webhook, and expired on time whether or not anyone polls.
import type { Contacts } from '../../store/contacts.ts';
import { randomInt, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { answerString, transactionHash, verifyDeviceSignature } from '../../core/device-signature.ts';
import { fail, invalidParameter, type Failure } from '../../core/errors.ts';
import { readBool, readString, type Params, type Value } from '../../core/params.ts';
import type { Hooks } from '../../delivery/hooks.ts';
import type { ApprovalStatus, DB } from '../../store/schema.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Application, Applications } from '../applications/service.ts';
import { emailOf, findUser, parseAuthyId } from '../users/service.ts';
import type { Webhooks } from '../webhooks/service.ts';
import type { DeviceEvent, DeviceEvents } from '../devices/events.ts';
import type { WebPush } from '../devices/push.ts';
import type { Device, Devices } from '../devices/service.ts';
import * as q from './queries.ts';

const DEFAULT_TTL_S = 86_400;
const MAX_TTL_S = 366 * 86_400;
const MAX_MESSAGE = 200;
const MAX_DETAIL_KEY = 20;
const MAX_DETAIL_VALUE = 1000;
const MAX_DETAILS = 50;
const LOGO_RES = new Set(['default', 'low', 'med', 'high']);
/** Control characters (tab and line feed aside) are refused: devices show these texts, and PostgreSQL stores no NUL. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

export interface OneTouchDeps {
  db: Kysely<DB>;
  applications: Applications;
  devices: Devices;
  /** Users' addresses are sealed (store/contacts.ts). */
  contacts: Contacts;
  events: DeviceEvents;
  push: WebPush;
  hooks: Hooks;
  webhooks: Webhooks;
  log: FastifyBaseLogger;
}

interface Logo {
  res: string;
  url: string;
}

interface NewApproval {
  message: string;
  details: Record<string, string>;
  hidden: Record<string, string>;
  logos: Logo[] | null;
  ttl: number;
  numberMatching: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Unknown uuids are echoed as Authy did, printable characters only. */
const notFound = (uuid: string) =>
  fail('APPROVAL_NOT_FOUND', { message: `Approval request not found: ${uuid.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}`, emptyErrors: true });

/** A 24-hex id in the shape Authy's status body carries (MongoDB-style), stable per row. */
const hexId = (kind: number, id: number) => kind.toString(16) + id.toString(16).padStart(23, '0');
const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export class OneTouch {
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(private readonly d: OneTouchDeps) {
    // A device on another node heard of a request made here: it was notified.
    d.events.onRemoteDelivery = (e) => {
      if (e.type === 'approval_request') void this.markNotified(String(e.data.uuid));
    };
  }

  private async markNotified(uuid: string) {
    await q.markNotified(this.d.db, uuid).catch((err) => this.d.log.warn({ err }, 'could not mark an approval request notified'));
  }

  /** `POST /onetouch/{format}/users/{id}/approval_requests`. */
  async create(app: Application, idText: string, params: Params): Promise<Outcome> {
    const input = readApproval(params, app.settings.numberMatching);
    if (!input.ok) return input;
    const id = parseAuthyId(idText);
    const user = id === undefined ? undefined : await findUser(this.d.db, app.id, id);
    if (!user) return fail('USER_NOT_FOUND');
    if (!app.onetouchEnabled) return fail('ONETOUCH_DISABLED');
    const devices = await this.d.devices.keysOfUser(user.id);
    if (devices.length === 0) return fail('ONETOUCH_UNREGISTERED');

    const a = input.value;
    const now = Date.now();
    const uuid = randomUUID();
    const number = a.numberMatching ? randomInt(10, 100) : null;
    const row = {
      uuid,
      app_id: app.id,
      user_id: user.id,
      message: a.message,
      details: JSON.stringify(a.details),
      hidden_details: JSON.stringify(a.hidden),
      logos: a.logos ? JSON.stringify(a.logos) : null,
      seconds_to_expire: a.ttl,
      expires_at: a.ttl === 0 ? null : now + a.ttl * 1000,
      status: 'pending' as const,
      match_number: number,
      created_at: now,
      updated_at: now,
      processed_at: null,
      device_key_id: null,
      device_signature: null,
      transaction_hash: null,
      reason: null,
    };
    // Devices listening on this node hear of it at once; `notified` says whether any did.
    const shown = forDevice({ ...row, id: 0, notified: 0 }, app.name);
    await q.insertApproval(this.d.db, { ...row, notified: 0 });
    const reached = this.d.events.publish(devices.map((x) => x.id), { type: 'approval_request', data: shown });
    if (reached > 0) await this.markNotified(uuid);
    void this.pushTo(devices, uuid, app.name, a.message);

    const created: Record<string, unknown> = { uuid };
    if (number !== null) created.number = number;
    return { ok: true, body: { approval_request: created, success: true, message: 'Approval request created.' } };
  }

  /** Web Push to browser devices; a subscription the push service says is gone is dropped. */
  private async pushTo(devices: { id: number; push_subscription_sealed: string | null }[], uuid: string, appName: string, message: string) {
    for (const dev of devices) {
      if (!dev.push_subscription_sealed) continue;
      try {
        const sub = this.d.devices.pushSubscriptionOf(dev.id, dev.push_subscription_sealed);
        if (!sub) continue;
        const r = await this.d.push.send(sub, { type: 'approval_request', uuid, app_name: appName, message });
        if (r === 'sent') await this.markNotified(uuid);
        else if (r === 'gone') await this.d.devices.dropPushSubscription(dev.id);
      } catch (err) {
        this.d.log.warn({ err, device_id: dev.id }, 'web push to a device failed');
      }
    }
  }

  /** `GET /onetouch/{format}/approval_requests/{uuid}`: the customer's poll. */
  async status(app: Application, uuid: string): Promise<Outcome> {
    const row = UUID.test(uuid) ? await q.findStatus(this.d.db, app.id, uuid) : undefined;
    if (!row) return notFound(uuid);
    const now = Date.now();
    // Between sweeps an overdue request already reads as expired.
    const overdue = row.status === 'pending' && row.expires_at !== null && Number(row.expires_at) <= now;
    return {
      ok: true,
      body: {
        approval_request: {
          _app_name: row.app_name,
          _app_serial_id: row.app_id,
          _authy_id: row.user_id,
          _id: hexId(1, row.id),
          _user_email: emailOf(this.d.contacts, row),
          app_id: hexId(2, row.app_id),
          created_at: iso(row.created_at),
          notified: row.notified === 1,
          processed_at: overdue ? iso(row.expires_at) : iso(row.processed_at),
          seconds_to_expire: row.seconds_to_expire,
          status: overdue ? 'expired' : row.status,
          updated_at: iso(overdue ? Number(row.expires_at) : row.updated_at),
          user_id: hexId(3, row.user_id),
          uuid: row.uuid,
        },
        success: true,
      },
    };
  }

  /** `GET /device/v1/approval_requests`: pending requests; with `wait`, held until one arrives. */
  async pending(device: Device, waitSeconds: number, signal?: AbortSignal): Promise<Outcome> {
    const deadline = Date.now() + Math.min(30, Math.max(0, waitSeconds)) * 1000;
    for (;;) {
      const rows = await q.pendingForDevice(this.d.db, device.id, Date.now());
      const left = deadline - Date.now();
      if (rows.length > 0 || left <= 0 || signal?.aborted) {
        return { ok: true, body: { approval_requests: rows.map((r) => forDevice(r, r.app_name)), message: 'Pending approval requests.', success: true } };
      }
      // Woken by this node's events; re-read at least every 2 s for requests made on other nodes.
      await this.d.events.next(device.id, Math.min(left, 2000), signal);
    }
  }

  /**
   * What an event stream that has shown `shown` (uuids of requests) has yet to show, from the
   * database: requests now pending that it has not shown (all of them when it opens), and the
   * outcome of shown ones that are over (answered or expired while Redis was down).
   */
  async catchUp(device: Device, shown: ReadonlySet<string>): Promise<DeviceEvent[]> {
    const now = Date.now();
    const rows = await q.pendingForDevice(this.d.db, device.id, now);
    const out: DeviceEvent[] = [];
    for (const r of rows) {
      if (shown.has(r.uuid)) continue;
      out.push({ type: 'approval_request', data: forDevice(r, r.app_name) });
      if (!r.notified) await this.markNotified(r.uuid); // before it is shown: a status read after sees it
    }
    const pending = new Set(rows.map((r) => r.uuid));
    for (const uuid of [...shown].filter((u) => UUID.test(u) && !pending.has(u))) {
      const row = await q.findApproval(this.d.db, uuid);
      const overdue = row?.status === 'pending' && row.expires_at !== null && Number(row.expires_at) <= now;
      if (row && (row.status !== 'pending' || overdue)) out.push({ type: 'approval_request_updated', data: { uuid, status: overdue ? 'expired' : row.status } });
    }
    return out;
  }

  /** `POST /device/v1/approval_requests/{uuid}`: a device's signed answer; the first one counts. */
  async answer(device: Device, uuid: string, body: Params): Promise<Outcome> {
    const row = UUID.test(uuid) ? await q.findApproval(this.d.db, uuid) : undefined;
    if (!row || !(await q.deviceHoldsUser(this.d.db, device.id, row.user_id))) return notFound(uuid);
    const st = readString(body, 'status');
    const status = st.ok ? st.value : undefined;
    if (status !== 'approved' && status !== 'denied') return invalidParameter('status', 'must be approved or denied');
    const now = Date.now();
    if (row.status !== 'pending' || (row.expires_at !== null && Number(row.expires_at) <= now)) return fail('APPROVAL_NOT_PENDING');

    const sig = readString(body, 'signature');
    const hash = transactionHash(shownTransaction(row));
    if (!sig.ok || !sig.value || !verifyDeviceSignature(device.algorithm, device.publicKey, answerString(uuid, status, hash), sig.value)) {
      this.d.log.warn({ event: 'approval_bad_signature', device_id: device.id }, 'approval answer refused: bad signature');
      return fail('SIGNATURE_INVALID');
    }
    // Number matching: an approval with the wrong number is a denial (the user may be phished).
    let final: ApprovalStatus = status;
    let reason: string | null = null;
    if (row.match_number !== null && status === 'approved') {
      const n = body.number;
      const picked = typeof n === 'number' ? n : typeof n === 'string' && /^\d{1,3}$/.test(n) ? Number(n) : undefined;
      if (picked !== row.match_number) {
        final = 'denied';
        reason = 'number_mismatch';
      }
    }
    const app = await this.d.applications.find(row.app_id);
    const won = await this.d.db.transaction().execute(async (trx) => {
      if (!(await q.answer(trx, { id: row.id, status: final, deviceKeyId: device.id, signature: sig.value!, hash, reason, now }))) return false;
      await this.report(trx, app, { ...row, status: final, device_key_id: device.id, device_signature: sig.value!, reason, processed_at: now }, device, now);
      return true;
    });
    if (!won) return fail('APPROVAL_NOT_PENDING');
    this.d.hooks.wake();
    await this.broadcast(row.user_id, uuid, final);
    if (reason) return fail('APPROVAL_INVALID', { message: 'Approval request is invalid: the number does not match; the request was denied.' });
    return { ok: true, body: { approval_request: { uuid, status: final }, message: 'Answer recorded.', success: true } };
  }

  /** Other devices of the user drop the request from their screens. */
  private async broadcast(userId: number, uuid: string, status: string) {
    const keys = await this.d.devices.keysOfUser(userId);
    this.d.events.publish(keys.map((k) => k.id), { type: 'approval_request_updated', data: { uuid, status } });
  }

  /**
   * Queues the callback (if the application has one) and the webhook event, in the answer's
   * transaction (`app` is read before it: SQLite has one connection, the transaction holds it).
   */
  private async report(trx: Kysely<DB>, app: Application | undefined, row: q.ApprovalRow, device: Device | undefined, now: number) {
    if (!app) return;
    if (app.onetouchCallback) {
      await this.d.hooks.enqueue(trx, {
        appId: app.id,
        kind: 'callback',
        target: row.uuid,
        event: 'approval_request_status',
        url: app.onetouchCallback.url,
        method: app.onetouchCallback.method,
        payload: callbackBody(row, device),
      }, now);
    }
    await this.d.webhooks.emit(trx, app.id, 'one_touch_request_responded', {
      user: { s_authy_id: String(row.user_id) },
      onetouch_request: { s_uuid: row.uuid, s_status: row.status, i_device_id: device?.id ?? 0 },
    }, now);
  }

  /**
   * `POST /onetouch/{format}/approval_requests/{uuid}/cancel` (an OpenFactor addition): the
   * person signed in another way (a code), so the request ends now. It reads as `expired`, the
   * one ending every Authy client knows; the callback and webhook go out as for an expiry, and the
   * user's devices drop it at once. A request answered first keeps its answer.
   */
  async cancel(app: Application, uuid: string): Promise<Outcome> {
    const found = UUID.test(uuid) ? await q.findStatus(this.d.db, app.id, uuid) : undefined;
    if (!found) return notFound(uuid);
    const now = Date.now();
    const ended = await this.d.db.transaction().execute(async (trx) => {
      if (!(await q.expire(trx, found.id, now, now))) return undefined;
      const row = (await q.findApprovalById(trx, found.id))!;
      await this.report(trx, app, row, undefined, now);
      return row;
    });
    if (ended) {
      await this.broadcast(ended.user_id, ended.uuid, 'expired');
      this.d.hooks.wake();
    }
    return this.status(app, uuid);
  }

  /** Flips overdue pending requests to `expired` and reports each, once (any node may run it). */
  async expireDue(now = Date.now()): Promise<number> {
    let n = 0;
    for (const due of await q.dueForExpiry(this.d.db, now, 200)) {
      const app = await this.d.applications.find(due.app_id);
      const expired = await this.d.db.transaction().execute(async (trx) => {
        if (!(await q.expire(trx, due.id, Number(due.expires_at), now))) return undefined;
        const row = (await q.findApprovalById(trx, due.id))!;
        await this.report(trx, app, row, undefined, now);
        return row;
      });
      if (expired) {
        n++;
        await this.broadcast(expired.user_id, expired.uuid, 'expired');
      }
    }
    if (n > 0) this.d.hooks.wake();
    return n;
  }

  start(everyMs: number): void {
    this.timer = setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = true;
      Promise.all([this.expireDue(), this.d.devices.sweep()])
        .catch((err) => this.d.log.error({ err }, 'approval expiry sweep failed'))
        .finally(() => (this.sweeping = false));
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** What the device shows, and what its answer's signature covers. */
function shownTransaction(r: { message: string; details: string; logos: string | null }) {
  return { message: r.message, details: JSON.parse(r.details) as Record<string, string>, logos: r.logos ? (JSON.parse(r.logos) as Logo[]) : [] };
}

/** A DeviceApproval (docs/device-api.md). Number matching offers the right number among three. */
function forDevice(r: Omit<q.ApprovalRow, 'notified'> & { notified?: number }, appName: string) {
  const t = shownTransaction(r);
  const out: Record<string, unknown> = {
    uuid: r.uuid,
    authy_id: r.user_id,
    app_id: r.app_id,
    app_name: appName,
    message: t.message,
    details: t.details,
    logos: t.logos,
    created_at: iso(r.created_at),
    expires_at: iso(r.expires_at),
    status: r.status,
  };
  if (r.match_number !== null) out.number_choices = numberChoices(r.match_number, r.uuid);
  return out;
}

/** Three distinct two-digit numbers including the right one, in an order fixed per request. */
function numberChoices(right: number, uuid: string): number[] {
  let seed = parseInt(uuid.replace(/-/g, '').slice(0, 8), 16);
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const set = new Set([right]);
  while (set.size < 3) set.add(10 + (next() % 90));
  return [...set].sort((a, b) => a - b);
}

/** The callback body of wire reference §3.2; `device_uuid` a string (seegno's validator wants one). */
function callbackBody(row: q.ApprovalRow, device: Device | undefined) {
  const t = shownTransaction(row);
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(Number(ms) / 1000));
  return {
    authy_id: row.user_id,
    device_uuid: device ? String(device.id) : '',
    callback_action: 'approval_request_status',
    uuid: row.uuid,
    status: row.status,
    approval_request: {
      transaction: {
        details: t.details,
        device_details: {},
        device_geolocation: '',
        device_signing_time: device ? seconds(row.processed_at) : null,
        encrypted: false,
        flagged: false,
        hidden_details: JSON.parse(row.hidden_details) as Record<string, string>,
        message: t.message,
        reason: row.reason ?? '',
        requester_details: null,
        status: row.status,
        uuid: row.uuid,
        created_at_time: seconds(row.created_at),
        customer_uuid: row.app_id,
      },
      expiration_timestamp: seconds(row.expires_at),
      logos: t.logos.length ? t.logos.map((l) => ({ res: l.res, url: l.url })) : null,
      app_id: hexId(2, row.app_id),
    },
    // The device's own signature over the answer, in standard base64 as Authy sent it.
    signature: row.device_signature ? Buffer.from(row.device_signature, 'base64url').toString('base64') : '',
    device: device
      ? {
          city: null,
          country: null,
          ip: device.ip,
          region: null,
          registration_city: null,
          registration_country: null,
          registration_ip: device.ip,
          registration_method: device.registration_method,
          registration_region: null,
          os_type: device.os_type,
          last_account_recovery_at: null,
          id: device.id,
          registration_date: seconds(device.created_at),
          last_sync_date: seconds(device.last_seen_at),
        }
      : {},
  };
}

function readApproval(params: Params, appNumberMatching: boolean): { ok: true; value: NewApproval } | Failure {
  const msg = readString(params, 'message');
  if (!msg.ok) return msg;
  const message = msg.value?.trim();
  if (!message) return invalidParameter('message', "can't be blank");
  if (message.length > MAX_MESSAGE) return invalidParameter('message', `is too long (maximum is ${MAX_MESSAGE} characters)`);
  if (CONTROL.test(message)) return invalidParameter('message', 'contains control characters');
  const details = readDetails(params, 'details');
  if (!details.ok) return details;
  const hidden = readDetails(params, 'hidden_details');
  if (!hidden.ok) return hidden;
  const logos = readLogos(params.logos);
  if (!logos.ok) return logos;
  let ttl = DEFAULT_TTL_S;
  const raw = params.seconds_to_expire;
  if (raw !== undefined && raw !== '') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d{1,10}\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > MAX_TTL_S) return invalidParameter('seconds_to_expire', `must be a whole number of seconds from 0 to ${MAX_TTL_S}`);
    ttl = n;
  }
  const nm = readBool(params, 'number_matching', appNumberMatching);
  if (!nm.ok) return nm;
  return { ok: true, value: { message, details: details.value, hidden: hidden.value, logos: logos.value, ttl, numberMatching: nm.value } };
}

function readDetails(params: Params, name: string): { ok: true; value: Record<string, string> } | Failure {
  const v = params[name];
  const out: Record<string, string> = {};
  if (v === undefined || v === '') return { ok: true, value: out };
  if (typeof v !== 'object' || Array.isArray(v)) return invalidParameter(name, 'is not a valid Hash');
  const entries = Object.entries(v);
  if (entries.length > MAX_DETAILS) return invalidParameter(name, `has more than ${MAX_DETAILS} entries`);
  for (const [k, val] of entries) {
    if (k.length > MAX_DETAIL_KEY) return invalidParameter(`${name}[${k.slice(0, 40)}]`, `key is too long (maximum is ${MAX_DETAIL_KEY} characters)`);
    if (typeof val === 'object') return invalidParameter(`${name}[${k}]`, 'is not a valid String');
    const text = String(val);
    if (CONTROL.test(k) || CONTROL.test(text)) return invalidParameter(`${name}[${k.replace(CONTROL, '?').slice(0, 20)}]`, 'contains control characters');
    if (text.length > MAX_DETAIL_VALUE) return invalidParameter(`${name}[${k}]`, `is too long (maximum is ${MAX_DETAIL_VALUE} characters)`);
    out[k] = text;
  }
  return { ok: true, value: out };
}

function readLogos(v: Value | undefined): { ok: true; value: Logo[] | null } | Failure {
  if (v === undefined || v === '') return { ok: true, value: null };
  const list = Array.isArray(v) ? v : typeof v === 'object' ? Object.values(v) : undefined;
  if (!list) return invalidParameter('logos', 'is not a valid Array');
  if (list.length > 8) return invalidParameter('logos', 'has more than 8 entries');
  const out: Logo[] = [];
  for (const e of list) {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return invalidParameter('logos', 'each logo must have res and url');
    const { res, url } = e as Record<string, Value>;
    if (typeof res !== 'string' || !LOGO_RES.has(res)) return invalidParameter('logos', 'res must be one of default, low, med, high');
    if (typeof url !== 'string' || url.length > 500 || !/^https?:\/\/\S+$/.test(url)) return invalidParameter('logos', 'url must be an http(s) URL of at most 500 characters');
    out.push({ res, url });
  }
  return { ok: true, value: out.length ? out : null };
}
