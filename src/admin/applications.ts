// The admin API's applications: what the CLI's `apps` and `keys` commands do, over HTTP, plus
// the views an operator (and the admin console built on this) needs: users, traffic per day and
// callback/webhook deliveries. Behind the admin token (routes.ts).
import { verificationPhoneContext } from '../store/contacts.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail, invalidParameter, type Failure } from '../core/errors.ts';
import { maskE164 } from '../core/phone.ts';
import type { Params } from '../core/params.ts';
import { sendFailure } from '../wire/envelope.ts';
import { SETTING_BOUNDS, type Application, type Settings } from '../features/applications/service.ts';
import { activitiesOf, emailOf, emailsOf, findUser, parseAuthyId, phoneOf } from '../features/users/service.ts';
import type { Services } from '../app.ts';
import * as q from './queries.ts';
import * as C from './contracts.ts';
import { principalOf } from './principal.ts';
import type { MasterKey } from '../core/crypto.ts';
import type { Dialect } from '../store/db.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../store/schema.ts';
import { importUsers, largestAuthyId, type ImportOutcome } from '../features/users/import.ts';
import { EMITTED_WEBHOOK_EVENTS, WEBHOOK_EVENTS } from '../features/webhooks/service.ts';
import { VERIFY_EVENT_TYPES } from '../features/verify/service-webhooks.ts';
import { unlockVerification } from '../features/tokens/service.ts';
import { comparableName } from '../features/applications/service.ts';
import { authyIdParam, decodeCursor, encodeCursor, flag, isFailure, oneOf, userSearch, phoneOf as e164Of } from './paging.ts';
import { destinationContext } from '../store/contacts.ts';
import { toContext as verifyToContext } from '../features/verify/service.ts';
import { normalizeCallingCode, parsePhone } from '../core/phone.ts';
import { CHANNELS, readAppProviders, writeAppProviders } from '../delivery/routing.ts';
import { ProviderConfigError, redactProviderUrl, splitProviderList } from '../delivery/providers/index.ts';

type AdminServices = Pick<Services, 'applications' | 'destinations' | 'hooks' | 'outbox' | 'guard' | 'webhooks' | 'routing' | 'contacts' | 'recoveries' | 'phoneChanges' | 'usage'> & { db: Kysely<DB>; keys: MasterKey[]; dialect: Dialect };

const DAY = 86_400_000;
const MAX_DAYS = 90;
/** Every list's `limit`: 1–500, 50 when absent. */
const BAD_LIMIT = invalidParameter('limit', 'must be a whole number from 1 to 500');
/** An import sent over HTTP: the size of the body, and the failed lines told in the answer. */
const IMPORT_LIMIT = 64 * 1024 * 1024;
const MAX_FAILURES_SHOWN = 1000;

import { view } from './application-view.ts';

const send = (reply: FastifyReply, body: Record<string, unknown>) =>
  reply.type('application/json; charset=utf-8').send(JSON.stringify({ ...body, success: true }));
const refuse = (reply: FastifyReply, f: Failure) => sendFailure(reply, 'json', f);
const notFound = (reply: FastifyReply) => refuse(reply, fail('ADMIN_APP_NOT_FOUND'));

type AppRequest = FastifyRequest<{ Params: { id: string; user_id?: string; webhook_id?: string }; Querystring: Record<string, string> }>;

/** The answer to a change: the application as it now is, the service's reason as a 400 on `field`, or 404. */
const changed = (reply: FastifyReply, result: Application | string | undefined, field: string, message: string) =>
  typeof result === 'string' ? refuse(reply, invalidParameter(field, result)) : result ? send(reply, { application: view(result), message }) : notFound(reply);

/** `:id` (an application's or a user's) as a row id, or undefined: ids are 32-bit integers, as Authy ids are. */
const idOf = (raw: string) => parseAuthyId(raw);

/** A whole number query parameter within bounds, the fallback when absent, NaN when bad. */
function intParam(value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  return n >= min && n <= max ? n : NaN;
}

export function registerApplicationRoutes(admin: FastifyInstance, s: AdminServices): void {
  const h = handlersFor(s);
  registerSettingsRoutes(admin, s, h);
  registerUserRoutes(admin, s, h);
  registerRecoveryRoutes(admin, s, h);
  registerLogRoutes(admin, s, h);
  registerVerifyLogRoutes(admin, s, h);
  registerSendGuardRoutes(admin, s, h);
  registerIntegrationRoutes(admin, s, h);
}

type Handlers = ReturnType<typeof handlersFor>;

/** What every route below shares: the body as parameters, the application of the path, a list's limit. */
function handlersFor(s: AdminServices) {
  const body = (raw: unknown) => (raw && typeof raw === 'object' ? (raw as Params) : ({} as Params));
  const find = async (raw: string) => {
    const id = idOf(raw);
    return id === undefined ? undefined : s.applications.find(id);
  };
  /** A handler for `/admin/applications/:id/…`: 404 unless the application exists. */
  const forApp =
    (handle: (app: Application, req: AppRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    async (req: AppRequest, reply: FastifyReply) => {
      const app = await find(req.params.id);
      return app ? handle(app, req, reply) : notFound(reply);
    };
  /** A list's handler: `limit` (1–500, 50 when absent) read, or refused. */
  const forList = (handle: (app: Application, limit: number, req: AppRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    forApp(async (app, req, reply) => {
      const limit = intParam(req.query.limit, 50, 1, 500);
      return Number.isNaN(limit) ? refuse(reply, BAD_LIMIT) : handle(app, limit, req, reply);
    });

  /** A table's handler: `limit` (1–500, 50 when absent) and `cursor` (the id to start below) read, or refused. */
  const forTable = (handle: (app: Application, page: { limit: number; below?: number }, req: AppRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    forList(async (app, limit, req, reply) => {
      const below = decodeCursor(req.query.cursor);
      return isFailure(below) ? refuse(reply, below) : handle(app, { limit, below }, req, reply);
    });

  return { body, find, forApp, forList, forTable };
}

/** The delivery log's search: an Authy id (digits) or a message id (SM…, CA…, EM… as the API answered it). */
function messageSearch(raw: unknown): { userId?: number; sid?: string } | Failure {
  if (raw === undefined || raw === '') return {};
  const v = typeof raw === 'string' ? raw.trim() : '';
  if (/^\d{1,10}$/.test(v) && Number(v) >= 1 && Number(v) <= 2 ** 31 - 1) return { userId: Number(v) };
  if (/^(SM|CA|EM)[0-9a-f]{32}$/.test(v)) return { sid: v };
  return invalidParameter('q', 'must be an Authy id (digits) or a message id (SM…, CA… or EM… and 32 hex digits)');
}

/** The cursor of the page after one whose last row is `last`, or null at the end. */
const nextCursor = (page: { more: boolean; rows: { id: number }[] }) => (page.more ? encodeCursor(page.rows[page.rows.length - 1].id) : null);

/** A name as create and rename take it: trimmed, 1–64 printable characters; undefined if not. */
function nameOf(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.trim() && raw.trim().length <= 64 && !/[\u0000-\u001f\u007f]/.test(raw) ? raw.trim() : undefined;
}
const BAD_NAME = invalidParameter('name', 'is required (at most 64 printable characters)');
const nameTaken = (name: string) => fail('ADMIN_APP_NAME_TAKEN', { message: `Another application is already named "${name}" (names are compared trimmed and ignoring case): choose another name` });

/** The applications themselves: create, read, settings, keys, callback, allowed countries. */
function registerSettingsRoutes(admin: FastifyInstance, s: AdminServices, { body, find, forApp }: Handlers): void {
  admin.get<{ Querystring: Record<string, string> }>(
    '/admin/applications',
    {
      schema: {
        summary:
          'Applications, oldest first; `q`: only those whose name contains it (ignoring case) or whose id it is; `limit` (1–500) and `cursor` page them, every one when `limit` is absent',
        tags: ['admin'],
        response: { 200: C.ApplicationsBody },
      },
    },
    async (req, reply) => {
      const q = req.query.q;
      if (q !== undefined && (typeof q !== 'string' || q.length > 64)) return refuse(reply, invalidParameter('q', 'must be part of a name or an id (at most 64 characters)'));
      const limit = req.query.limit === undefined ? undefined : intParam(req.query.limit, 50, 1, 500);
      if (Number.isNaN(limit)) return refuse(reply, BAD_LIMIT);
      const after = decodeCursor(req.query.cursor);
      if (isFailure(after)) return refuse(reply, after);
      const wanted = q ? comparableName(q) : '';
      // Applications are few (one per customer application): read whole, filtered and paged here, the same on both dialects.
      const only = principalOf(req).appId; // a principal of one application sees only it
      const matching = (await s.applications.list()).filter((a) => (only === undefined || a.id === only) && (comparableName(a.name).includes(wanted) || String(a.id) === q?.trim()));
      const from = after === undefined ? matching : matching.filter((a) => a.id > after);
      const page = limit === undefined ? from : from.slice(0, limit);
      const more = page.length < from.length;
      return send(reply, { applications: page.map(view), total: matching.length, next_cursor: more ? encodeCursor(page[page.length - 1].id) : null, message: 'Applications.' });
    },
  );

  admin.post('/admin/applications', { schema: { summary: 'Create an application (names are unique, ignoring case); its API key is in the answer, and only there', tags: ['admin'], response: { 201: C.ApplicationCreatedBody } } }, async (req, reply) => {
    const name = nameOf(body(req.body).name);
    if (name === undefined) return refuse(reply, BAD_NAME);
    const made = await s.applications.add(name);
    if (made === 'name_taken') return refuse(reply, nameTaken(name));
    return send(reply.code(201), { application: view((await s.applications.find(made.id))!), api_key: made.apiKey, message: 'Application created.' });
  });

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/name',
    { schema: { summary: 'Rename (`name`, as for create; unique ignoring case: 409 when taken)', tags: ['admin'], response: { 200: C.ApplicationChangedBody } } },
    forApp(async (app, req, reply) => {
      const name = nameOf(body(req.body).name);
      if (name === undefined) return refuse(reply, BAD_NAME);
      const renamed = await s.applications.rename(app.id, name);
      if (renamed === 'name_taken') return refuse(reply, nameTaken(name));
      if (renamed) req.log.info({ event: 'application_renamed', app_id: app.id, from: app.name, to: name }, 'application renamed');
      return changed(reply, renamed, 'name', 'Application renamed.');
    }),
  );

  admin.delete<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id',
    {
      schema: {
        summary: "Delete the application and all its data (`confirm`: the application's exact name, in the query or the JSON body); its API key stops at once",
        tags: ['admin'],
        response: { 200: C.ApplicationDeletedBody },
      },
    },
    forApp(async (app, req, reply) => {
      const confirm = req.query.confirm ?? body(req.body).confirm;
      if (typeof confirm !== 'string' || confirm.trim() !== app.name) return refuse(reply, invalidParameter('confirm', "type the application's name to delete it"));
      const removed = await s.applications.remove(app.id);
      if (!removed) return notFound(reply);
      s.routing.forget(app.id);
      req.log.warn({ event: 'application_deleted', app_id: app.id, name: app.name, rows: removed }, 'application deleted with all its data');
      return send(reply, { message: 'Application deleted.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/admin/applications/:id', { schema: { summary: 'One application, with its settings', tags: ['admin'], response: { 200: C.ApplicationBody } } }, async (req, reply) => {
    const app = await find(req.params.id);
    if (!app) return notFound(reply);
    const backs = await q.verifyServiceOfApp(s.db, app.id);
    return send(reply, { application: view(app), verify_service: backs ? { sid: backs.sid, account_sid: backs.account_sid } : null, message: 'Application.' });
  });

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/settings',
    { schema: { summary: 'Change settings (the names `settings` shows; numbers or booleans)', tags: ['admin'], response: { 200: C.ApplicationChangedBody } } },
    forApp(async (app, req, reply) => {
      const patch: Partial<Record<keyof Settings, number | boolean>> = {};
      for (const [name, value] of Object.entries(body(req.body))) {
        if (!Object.hasOwn(SETTING_BOUNDS, name)) return refuse(reply, invalidParameter(name, `is not a setting (${Object.keys(SETTING_BOUNDS).join(', ')})`));
        const v = value === 'true' ? true : value === 'false' ? false : typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
        if (typeof v !== 'number' && typeof v !== 'boolean') return refuse(reply, invalidParameter(name, 'must be a number or a boolean'));
        patch[name as keyof Settings] = v;
      }
      const result = await s.applications.updateSettings(app.id, patch);
      return changed(reply, result, 'settings', 'Settings changed.');
    }),
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/api_key',
    { schema: { summary: 'Replace the API key (the old one stops working at once)', tags: ['admin'], response: { 200: C.ApiKeyBody } } },
    async (req, reply) => {
      const id = idOf(req.params.id);
      const apiKey = id === undefined ? undefined : await s.applications.rotateKey(id);
      return apiKey ? send(reply, { api_key: apiKey, message: 'API key replaced.' }) : notFound(reply);
    },
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/callback',
    { schema: { summary: 'Set (`url`, `method`) or remove (`url` null or empty) the OneTouch callback', tags: ['admin'], response: { 200: C.ApplicationChangedBody } } },
    forApp(async (app, req, reply) => {
      const { url, method = 'POST' } = body(req.body);
      if (url !== undefined && url !== null && typeof url !== 'string') return refuse(reply, invalidParameter('url', 'must be a URL, or null to remove the callback'));
      if (method !== 'POST' && method !== 'GET') return refuse(reply, invalidParameter('method', 'must be POST or GET'));
      const result = await s.applications.setCallback(app.id, url ? url.trim() : null, method, s.destinations);
      return changed(reply, result, 'url', 'Callback changed.');
    }),
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/countries',
    { schema: { summary: 'The countries messages may go to (`countries`: ISO codes like ["PT","BR"]; empty or null: everywhere)', tags: ['admin'], response: { 200: C.ApplicationChangedBody } } },
    forApp(async (app, req, reply) => {
      const { countries } = body(req.body);
      const list = countries === undefined || countries === null ? [] : typeof countries === 'string' ? countries.split(',') : countries;
      if (!Array.isArray(list) || list.some((c) => typeof c !== 'string')) return refuse(reply, invalidParameter('countries', 'must be a list of ISO 3166 codes'));
      const result = await s.applications.setAllowedCountries(app.id, list as string[]);
      return changed(reply, result, 'countries', 'Countries changed.');
    }),
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/dashboard_keys',
    { schema: { summary: 'New access key and API signing key for the webhooks API, shown only in this answer', tags: ['admin'], response: { 200: C.DashboardKeysBody } } },
    forApp(async (app, _req, reply) => {
      const keys = await s.applications.rotateDashboardKeys(app.id);
      return keys ? send(reply, { access_key: keys.accessKey, signing_key: keys.signingKey, message: 'Dashboard keys replaced.' }) : notFound(reply);
    }),
  );
}

/** Users: the list, one user, unlock, import. */
function registerUserRoutes(admin: FastifyInstance, s: AdminServices, { forApp, forTable }: Handlers): void {
  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/users',
    {
      schema: {
        summary:
          'Users, newest first, phones masked: `limit` (1–500, default 50), `cursor` (or the older `before_id`); `q`: an Authy id, an exact email address (ignoring case), or a phone number (+14155550100, or national with `country_code`); `locked=true`: locked out of verification now',
        tags: ['admin'],
        response: { 200: C.UsersBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const before = intParam(req.query.before_id, 0, 1, 2 ** 31 - 1);
      if (Number.isNaN(before)) return refuse(reply, invalidParameter('before_id', 'must be a user id'));
      const search = userSearch(req.query);
      if (isFailure(search)) return refuse(reply, search);
      const locked = flag(req.query, 'locked');
      if (isFailure(locked)) return refuse(reply, locked);
      const now = Date.now();
      let ids: number[] | undefined;
      if (search) {
        const found = await q.userIdsFound(s.db, app.id, {
          phoneIndex: search.e164 && s.contacts.phoneIndex(search.e164),
          // Addresses kept with users are indexed in lower case; extra ones (user_emails) as they were given.
          emailIndexes: search.email ? [...new Set([s.contacts.emailSearchIndex(search.email), s.contacts.emailIndex(search.email.trim())])] : undefined,
        });
        ids = search.id === undefined ? found : [search.id, ...found];
      }
      const below = page.below ?? (before || undefined);
      const result = await q.usersTable(s.db, app.id, { ids, locked: locked === undefined ? undefined : { now, value: locked } }, page.limit, below);
      const users = result.rows.map((u) => ({
        id: u.id,
        email: emailOf(s.contacts, u),
        cellphone: maskE164(phoneOf(s.contacts, u)),
        country_code: u.country_code,
        created_at: new Date(Number(u.created_at)).toISOString(),
        devices: Number(u.devices ?? 0),
        locked_until: u.verify_locked_until && Number(u.verify_locked_until) > now ? new Date(Number(u.verify_locked_until)).toISOString() : null,
      }));
      const next = nextCursor(result);
      return send(reply, { users, total: result.total, next_cursor: next, next_before_id: next ? result.rows[result.rows.length - 1].id : null, message: 'Users.' });
    }),
  );

  admin.post<{ Params: { id: string; user_id?: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/users/:user_id/unlock',
    { schema: { summary: 'End a user\'s verification lockout (too many wrong tokens) at once', tags: ['admin'], response: { 200: C.UserUnlockedBody } } },
    forApp(async (app, req, reply) => {
      const userId = idOf(req.params.user_id ?? '');
      if (userId === undefined || (await unlockVerification(s.db, app.id, userId)) === 0) return refuse(reply, fail('USER_NOT_FOUND'));
      req.log.warn({ event: 'verify_unlocked', app_id: app.id, authy_id: userId }, 'verification lockout ended by an operator');
      return send(reply, { message: 'User unlocked.' });
    }),
  );

  admin.get<{ Params: { id: string; user_id?: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/users/:user_id',
    { schema: { summary: "One user: addresses (the other ones it was registered with too), masked phone, and what the application recorded of it with register_activity, newest first (`limit` 1–500, default 50)", tags: ['admin'], response: { 200: C.UserBody } } },
    forApp(async (app, req, reply) => {
      const limit = intParam(req.query.limit, 50, 1, 500);
      if (Number.isNaN(limit)) return refuse(reply, BAD_LIMIT);
      const userId = idOf(req.params.user_id ?? '');
      const u = userId === undefined ? undefined : await findUser(s.db, app.id, userId);
      if (!u) return refuse(reply, fail('USER_NOT_FOUND'));
      const user = {
        id: u.id,
        email: emailOf(s.contacts, u),
        other_emails: (await emailsOf(s.db, s.contacts, u.id)).map((e) => e.email),
        cellphone: maskE164(phoneOf(s.contacts, u)),
        country_code: u.country_code,
        created_at: new Date(Number(u.created_at)).toISOString(),
      };
      const activities = (await activitiesOf(s.db, app.id, u.id, limit)).map((a) => ({
        type: a.type,
        data: JSON.parse(a.data) as unknown,
        user_ip: a.user_ip,
        created_at: new Date(Number(a.created_at)).toISOString(),
      }));
      return send(reply, { user, activities, message: 'User.' });
    }),
  );

  // Import (what `users import` does), for files a browser can send in one request.
  admin.addContentTypeParser('application/x-ndjson', { parseAs: 'string', bodyLimit: IMPORT_LIMIT }, (_req, text, done) => done(null, text));
  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/users/import',
    {
      bodyLimit: IMPORT_LIMIT,
      schema: { summary: 'Import users as `users import` does: one JSON object per line (`application/x-ndjson`, up to 64 MiB); `dry_run=true` writes nothing', tags: ['admin'], response: { 200: C.UsersImportedBody } },
    },
    forApp(async (app, req, reply) => {
      if (typeof req.body !== 'string') return refuse(reply, invalidParameter('body', 'send the users as application/x-ndjson, one JSON object per line'));
      const lines = req.body.split(/\r?\n/);
      const dryRun = req.query.dry_run === 'true';
      const failed: ImportOutcome[] = [];
      const summary = await importUsers({ db: s.db, dialect: s.dialect, key: s.keys[0], contacts: s.contacts }, app, lines, {
        dryRun,
        reserveUpTo: largestAuthyId(lines),
        inWorker: true,
        onOutcome: (o) => void (o.status === 'failed' && failed.length < MAX_FAILURES_SHOWN && failed.push(o)),
      });
      req.log.info({ event: 'users_imported', app_id: app.id, ...summary, dry_run: dryRun }, 'users imported');
      return send(reply, { summary, failed: failed.sort((a, b) => a.line - b.line), dry_run: dryRun, message: dryRun ? 'Dry run: nothing was written.' : 'Users imported.' });
    }),
  );
}

/** Support for lost phones (issue 17): what is pending, cancel, start, shorten (logged). */
function registerRecoveryRoutes(admin: FastifyInstance, s: AdminServices, { body, forApp }: Handlers): void {
  // Support for lost phones (issue 17): what is pending, cancel, start, shorten (logged).
  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/recoveries',
    { schema: { summary: "Pending phone changes and account recoveries of the application's users", tags: ['admin'], response: { 200: C.RecoveriesBody } } },
    forApp(async (app, _req, reply) => send(reply, { recoveries: [...(await s.recoveries.forApp(app.id)), ...(await s.phoneChanges.forApp(app.id))], message: 'Recoveries.' })),
  );
  admin.post<{ Params: { id: string; rid?: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/recoveries/:rid/cancel',
    { schema: { summary: 'Cancel a pending phone change or account recovery', tags: ['admin'], response: { 200: C.RecoveryCanceledBody } } },
    forApp(async (app, req, reply) => {
      const rid = String((req.params as { rid?: string }).rid ?? '');
      const by = `admin token from ${req.ip}`;
      const done = (await s.recoveries.cancelForApp(app.id, rid, by)) || (await s.phoneChanges.cancelForApp(app.id, rid));
      if (!done) return refuse(reply, fail('ACCOUNT_RECOVERY_NOT_FOUND'));
      req.log.warn({ event: 'recovery_canceled_by_admin', app_id: app.id, id: rid, by }, 'phone change or account recovery canceled by an administrator');
      return send(reply, { message: 'Canceled.' });
    }),
  );
  admin.post<{ Params: { id: string; rid?: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/recoveries/:rid/shorten',
    { schema: { summary: "Shorten a waiting account recovery's wait: `wait_seconds` (0–) from now and a `reason`, both logged with who", tags: ['admin'], response: { 200: C.RecoveryShortenedBody } } },
    forApp(async (app, req, reply) => {
      const b = body(req.body);
      const wait = typeof b.wait_seconds === 'number' ? b.wait_seconds : intParam(b.wait_seconds, NaN, 0, 30 * 86_400);
      if (!Number.isInteger(wait) || wait < 0) return refuse(reply, invalidParameter('wait_seconds', 'must be a whole number of seconds'));
      const reason = typeof b.reason === 'string' ? b.reason.trim().slice(0, 500) : '';
      if (!reason) return refuse(reply, invalidParameter('reason', 'is required: say why the wait is shortened'));
      const completesAt = await s.recoveries.shorten(app.id, String((req.params as { rid?: string }).rid ?? ''), wait, `admin token from ${req.ip}`, reason);
      if (!completesAt) return refuse(reply, fail('ACCOUNT_RECOVERY_NOT_FOUND'));
      return send(reply, { completes_at: completesAt, message: 'Wait shortened.' });
    }),
  );
  admin.post<{ Params: { id: string; user_id?: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/users/:user_id/account_recovery',
    { schema: { summary: "Start an account recovery on a user's behalf: the codes go to the user's phone and email; give the user the id", tags: ['admin'], response: { 200: C.RecoveryStartedBody } } },
    forApp(async (app, req, reply) => {
      const userId = idOf(req.params.user_id ?? '');
      const user = userId === undefined ? undefined : await findUser(s.db, app.id, userId);
      if (!user) return refuse(reply, fail('USER_NOT_FOUND'));
      const started = await s.recoveries.startForUser(app.id, user.id, phoneOf(s.contacts, user));
      return send(reply, { account_recovery: { id: started.id, seconds_to_expire: started.secondsToExpire }, message: 'Account recovery started: codes sent to the user.' });
    }),
  );
}

/** What happened: traffic per day, messages, phone verifications, callback and webhook deliveries. */
function registerLogRoutes(admin: FastifyInstance, s: AdminServices, { forApp, forTable }: Handlers): void {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/traffic',
    {
      schema: {
        summary: 'Messages by channel and status, approval requests by status, token verifications by result and phone verifications by status, per UTC day (`days`: 1–90, default 14)',
        tags: ['admin'],
        response: { 200: C.TrafficBody },
      },
    },
    forApp(async (app, req, reply) => {
      const days = intParam(req.query.days, 14, 1, MAX_DAYS);
      if (Number.isNaN(days)) return refuse(reply, invalidParameter('days', `must be a whole number from 1 to ${MAX_DAYS}`));
      const today = Math.floor(Date.now() / DAY);
      const first = today - days + 1;
      const now = Date.now();
      await s.usage.flush().catch(() => {}); // token checks are counted in memory: this second's too (a failed flush keeps them)
      const [messages, approvals, verifications, checks] = await Promise.all([
        q.messagesByDay(s.db, app.id, first * DAY),
        q.approvalsByDay(s.db, app.id, first * DAY),
        q.verificationsByDay(s.db, app.id, first * DAY, now),
        q.tokenChecksByDay(s.db, app.id, first),
      ]);
      // Every day appears, with zeros, so a chart needs no gap filling.
      const series = Array.from({ length: days }, (_, i) => ({
        date: new Date((first + i) * DAY).toISOString().slice(0, 10),
        messages: {} as Record<string, Record<string, number>>,
        approvals: {} as Record<string, number>,
        verifications: {} as Record<string, number>,
        token_checks: {} as Record<string, number>,
      }));
      for (const m of messages) {
        const day = series[Number(m.day) - first];
        if (!day) continue;
        (day.messages[m.channel] ??= {})[m.status] = Number(m.n);
      }
      for (const a of approvals) {
        const day = series[Number(a.day) - first];
        if (day) day.approvals[a.status] = Number(a.n);
      }
      for (const c of checks) {
        const day = series[Number(c.day) - first];
        if (day) day.token_checks[c.result] = Number(c.n);
      }
      for (const v of verifications) {
        const day = series[Number(v.day) - first];
        if (day) day.verifications[v.status] = (day.verifications[v.status] ?? 0) + Number(v.n);
      }
      return send(reply, { days: series, message: 'Traffic per day.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/messages',
    {
      schema: {
        summary:
          'The delivery log: messages newest first, phones masked, no texts (`limit` 1–500, default 50, `cursor`; `channel`, `status`; `q`: an Authy id or a message id). No search by number: destinations are sealed without an index',
        tags: ['admin'],
        response: { 200: C.MessagesBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const channel = oneOf(req.query, 'channel', MESSAGE_CHANNELS);
      if (isFailure(channel)) return refuse(reply, channel);
      const status = oneOf(req.query, 'status', MESSAGE_STATUSES);
      if (isFailure(status)) return refuse(reply, status);
      const found = messageSearch(req.query.q);
      if (isFailure(found)) return refuse(reply, found);
      const result = await q.messagesTable(s.db, app.id, { channel, status, ...found }, page.limit, page.below);
      const messages = result.rows.map((m) => {
        const to = s.contacts.open(m.destination, destinationContext(m.sid));
        return {
          id: m.sid,
          authy_id: m.user_id,
          channel: m.channel,
          to: m.channel === 'email' ? to : maskE164(to),
          locale: m.locale,
          status: m.status,
          provider: m.provider,
          provider_attempts: Number(m.provider_attempts),
          result: m.provider_result,
          created_at: iso(m.created_at),
        };
      });
      return send(reply, { messages, next_cursor: nextCursor(result), total: result.total, message: 'Messages.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/verifications',
    {
      schema: {
        summary: 'Phone verifications newest first, phones masked, never their codes (`limit` 1–500, default 50, `cursor`; `status` pending|verified|dead|expired, `via` sms|call, `q` a phone number: +14155550100, or national with `country_code`)',
        tags: ['admin'],
        response: { 200: C.VerificationsBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const now = Date.now();
      const status = oneOf(req.query, 'status', ['pending', 'verified', 'dead', 'expired'] as const);
      if (isFailure(status)) return refuse(reply, status);
      const via = oneOf(req.query, 'via', ['sms', 'call'] as const);
      if (isFailure(via)) return refuse(reply, via);
      const phone = phoneParam(req.query);
      if (isFailure(phone)) return refuse(reply, phone);
      const result = await q.verificationsTable(s.db, app.id, { status, via, phoneIndex: phone && s.contacts.phoneIndex(phone), now }, page.limit, page.below);
      const verifications = result.rows.map((v) => ({
        uuid: v.uuid,
        phone: maskE164(s.contacts.open(v.phone_sealed, verificationPhoneContext(v.uuid))),
        via: v.via,
        // A pending one past its expiry can no longer be checked.
        status: v.status === 'pending' && Number(v.expires_at) <= now ? 'expired' : v.status,
        checks: v.checks,
        created_at: iso(v.created_at),
        expires_at: iso(v.expires_at),
        verified_at: iso(v.verified_at),
      }));
      return send(reply, { verifications, next_cursor: nextCursor(result), total: result.total, message: 'Phone verifications.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/deliveries',
    {
      schema: {
        summary: 'Callback and webhook deliveries, newest first, with every attempt (`limit` 1–500, default 50, `cursor`; `kind` callback|webhook, `status` pending|delivered|failed, `event`)',
        tags: ['admin'],
        response: { 200: C.DeliveriesBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const kind = oneOf(req.query, 'kind', ['callback', 'webhook', 'verify_webhook'] as const);
      if (isFailure(kind)) return refuse(reply, kind);
      const status = oneOf(req.query, 'status', ['pending', 'delivered', 'failed'] as const);
      if (isFailure(status)) return refuse(reply, status);
      const event = oneOf(req.query, 'event', DELIVERY_EVENTS);
      if (isFailure(event)) return refuse(reply, event);
      const result = await q.deliveriesTable(s.db, app.id, { kind, status, event }, page.limit, page.below);
      const at = iso;
      const deliveries = result.rows.map((d) => ({
        id: d.id,
        kind: d.kind,
        event: d.event,
        url: d.url,
        method: d.method,
        status: d.status,
        attempts: d.tries.map((a) => ({ started_at: at(a.started_at), finished_at: at(a.finished_at), http_status: a.http_status, error: a.error })),
        created_at: at(d.created_at),
      }));
      return send(reply, { deliveries, next_cursor: nextCursor(result), total: result.total, message: 'Deliveries.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/approvals',
    {
      schema: {
        summary: 'The OneTouch request log, newest first, never hidden details (`limit` 1–500, default 50, `cursor`; `status` pending|approved|denied|expired, as the Authy API shows it; `q` an Authy id)',
        tags: ['admin'],
        response: { 200: C.ApprovalsBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const now = Date.now();
      const status = oneOf(req.query, 'status', ['pending', 'approved', 'denied', 'expired'] as const);
      if (isFailure(status)) return refuse(reply, status);
      const userId = authyIdParam(req.query, 'q');
      if (isFailure(userId)) return refuse(reply, userId);
      const result = await q.approvalsTable(s.db, app.id, { status, userId, now }, page.limit, page.below);
      const approvals = result.rows.map((a) => {
        // Between sweeps an overdue request already reads as expired (as the Authy API shows it).
        const overdue = a.status === 'pending' && a.expires_at !== null && Number(a.expires_at) <= now;
        const answered = a.status === 'approved' || a.status === 'denied';
        return {
          uuid: a.uuid,
          authy_id: a.user_id,
          message: a.message,
          status: overdue ? 'expired' : a.status,
          created_at: iso(a.created_at),
          expires_at: iso(a.expires_at),
          answered_at: answered ? iso(a.processed_at ?? null) : null,
          device: a.device_key_id !== null && a.device_name !== null ? { id: a.device_id === null ? null : Number(a.device_id), name: a.device_name, os_type: a.device_os_type } : null,
        };
      });
      return send(reply, { approvals, next_cursor: nextCursor(result), total: result.total, message: 'Approval requests.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/devices',
    {
      schema: {
        summary: "Devices of the application's users, newest first, never keys (`limit` 1–500, default 50, `cursor`; `q` an Authy id; `include_deleted=true` adds removed ones, with `deleted_at`)",
        tags: ['admin'],
        response: { 200: C.DevicesBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const userId = authyIdParam(req.query, 'q');
      if (isFailure(userId)) return refuse(reply, userId);
      const includeDeleted = flag(req.query, 'include_deleted');
      if (isFailure(includeDeleted)) return refuse(reply, includeDeleted);
      const result = await q.devicesTable(s.db, app.id, { userId, includeDeleted: includeDeleted === true }, page.limit, page.below);
      const devices = result.rows.map((d) => {
        const seen = [d.last_seen_at, d.last_sync_at].filter((t): t is number => t !== null).map(Number);
        return {
          id: d.id,
          authy_id: d.user_id,
          name: d.name,
          os_type: d.os_type,
          registration_method: d.registration_method,
          registered_at: iso(d.created_at),
          last_seen_at: seen.length ? iso(Math.max(...seen)) : null,
          pending_approval: d.pending_since !== null,
          ...(includeDeleted ? { deleted_at: iso(d.deleted_at) } : {}),
        };
      });
      return send(reply, { devices, next_cursor: nextCursor(result), total: result.total, message: 'Devices.' });
    }),
  );
}

const MESSAGE_CHANNELS = ['sms', 'voice', 'email'] as const;
const MESSAGE_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'blocked'] as const;
/** What a delivery may be about: OneTouch callbacks' one event, and webhooks' (all of Authy's list may have been asked for). */
const DELIVERY_EVENTS = ['approval_request_status', ...WEBHOOK_EVENTS, ...VERIFY_EVENT_TYPES] as const;

/** `q` as a phone number: E.164, or national digits with `country_code`; undefined when absent. */
function phoneParam(query: Record<string, unknown>): string | undefined | Failure {
  const raw = query.q;
  if (raw === undefined || raw === '') return undefined;
  const bad = invalidParameter('q', 'must be a phone number: +14155550100, or national digits with country_code');
  if (typeof raw !== 'string' || raw.length > 40) return bad;
  if (raw.trim().startsWith('+')) return e164Of(raw.trim()) ?? bad;
  const cc = typeof query.country_code === 'string' ? normalizeCallingCode(query.country_code) : undefined;
  if (!cc) return invalidParameter('country_code', 'is needed with a national number (or write the number as +14155550100)');
  return parsePhone(raw.trim(), cc)?.e164 ?? bad;
}

/** The SMS-pumping defence: quarantined prefixes, and lifting one. */
function registerSendGuardRoutes(admin: FastifyInstance, s: AdminServices, { body, forApp }: Handlers): void {
  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/quarantines',
    { schema: { summary: 'Number prefixes (`+1415555`) and countries (`cc:+1`) the SMS-pumping defence has closed, and until when', tags: ['admin'], response: { 200: C.QuarantinesBody } } },
    forApp(async (app, _req, reply) => {
      const rows = await s.guard.quarantines(app.id);
      const quarantines = rows.map((r) => ({ prefix: r.prefix, rule: r.rule, until: new Date(Number(r.until)).toISOString(), since: new Date(Number(r.created_at)).toISOString() }));
      return send(reply, { quarantines, message: 'Quarantines.' });
    }),
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/quarantines/lift',
    { schema: { summary: 'Reopen a quarantined prefix or country at once (`prefix`, as listed)', tags: ['admin'], response: { 200: C.QuarantineLiftedBody } } },
    forApp(async (app, req, reply) => {
      const { prefix } = body(req.body);
      if (typeof prefix !== 'string' || !/^(cc:)?\+\d{1,15}$/.test(prefix)) return refuse(reply, invalidParameter('prefix', 'must be a prefix or country as listed (+1415555, cc:+1)'));
      if (!(await s.guard.lift(app.id, prefix))) return refuse(reply, fail('ADMIN_QUARANTINE_NOT_FOUND'));
      return send(reply, { message: 'Quarantine lifted.' });
    }),
  );
}

/** The application's webhooks and its own delivery providers. */
function registerIntegrationRoutes(admin: FastifyInstance, s: AdminServices, { body, forApp }: Handlers): void {
  // Webhooks (what the customer's webhooks API does with dashboard keys), shown without their
  // signing keys: a new one's key is in the answer that makes it, and only there.
  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/webhooks',
    { schema: { summary: 'Webhooks of the application (without signing keys)', tags: ['admin'], response: { 200: C.WebhooksBody } } },
    forApp(async (app, _req, reply) => send(reply, { webhooks: await s.webhooks.summaries(app.id), events: EMITTED_WEBHOOK_EVENTS, accepted_events: WEBHOOK_EVENTS, message: 'Webhooks.' })),
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/webhooks',
    { schema: { summary: 'Create a webhook (`name`, `url`, `events`); its signing key is shown only in this answer', tags: ['admin'], response: { 201: C.WebhookCreatedBody } } },
    forApp(async (app, req, reply) => {
      const r = await s.webhooks.create(app, body(req.body));
      return r.ok ? send(reply.code(201), r.body as Record<string, unknown>) : refuse(reply, r);
    }),
  );

  admin.delete<{ Params: { id: string; webhook_id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/webhooks/:webhook_id',
    { schema: { summary: 'Delete a webhook', tags: ['admin'], response: { 200: C.WebhookDeletedBody } } },
    forApp(async (app, req, reply) => {
      const r = await s.webhooks.remove(app, req.params.webhook_id);
      return r.ok ? send(reply, r.body as Record<string, unknown>) : refuse(reply, r);
    }),
  );

  /** An application's own provider lists, credentials hidden; null where the service's are used. */
  const providerView = async (appId: number) => {
    const lists = await readAppProviders(s.db, s.keys, appId);
    return Object.fromEntries(CHANNELS.map((c) => [c, lists[c] ? splitProviderList(lists[c]!).map(redactProviderUrl) : null]));
  };

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/providers',
    { schema: { summary: "The application's own delivery providers per channel (credentials hidden)", tags: ['admin'], response: { 200: C.ProvidersBody } } },
    forApp(async (app, _req, reply) => send(reply, { providers: await providerView(app.id), message: 'Providers.' })),
  );

  admin.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/providers',
    { schema: { summary: 'Set `sms`, `voice`, `email` provider lists (comma-separated URLs; empty: the service\'s)', tags: ['admin'], response: { 200: C.ProvidersBody } } },
    forApp(async (app, req, reply) => {
      const lists = body(req.body);
      for (const channel of CHANNELS) {
        const list = lists[channel];
        if (list === undefined) continue;
        if (typeof list !== 'string') return refuse(reply, invalidParameter(channel, 'must be a comma-separated list of provider URLs'));
        try {
          await writeAppProviders(s.db, s.keys, app.id, channel, list, req.log);
        } catch (e) {
          if (e instanceof ProviderConfigError) return refuse(reply, invalidParameter(channel, e.message));
          throw e;
        }
      }
      s.routing.forget(app.id);
      return send(reply, { providers: await providerView(app.id), message: 'Providers saved.' });
    }),
  );
}

/** The verifications of the Twilio Verify service an application backs (issue 21; the console's page). */
function registerVerifyLogRoutes(admin: FastifyInstance, s: AdminServices, { forTable }: Handlers): void {
  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/verify_verifications',
    {
      schema: {
        summary: "Twilio Verify verifications of the service this application backs, newest first, numbers masked, never codes (`limit` 1–500, `cursor`; `status` pending|approved|canceled|max_attempts_reached|expired; `channel` sms|call|email)",
        tags: ['admin'],
        response: { 200: C.VerifyVerificationsBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const now = Date.now();
      const status = oneOf(req.query, 'status', ['pending', 'approved', 'canceled', 'max_attempts_reached', 'expired'] as const);
      if (isFailure(status)) return refuse(reply, status);
      const channel = oneOf(req.query, 'channel', ['sms', 'call', 'email'] as const);
      if (isFailure(channel)) return refuse(reply, channel);
      const result = await q.verifyVerificationsTable(s.db, app.id, { status, channel, now }, page.limit, page.below);
      const verifications = result.rows.map((v) => {
        const to = s.contacts.open(v.to_sealed, verifyToContext(v.sid));
        return {
          sid: v.sid,
          channel: v.channel,
          to: v.channel === 'email' ? to : maskE164(to),
          // Between sweeps an overdue one already reads as expired, as the /v2 API shows it.
          status: v.status === 'pending' && Number(v.expires_at) <= now ? 'expired' : v.status,
          sends: Number(v.sends),
          checks: Number(v.checks),
          date_created: new Date(Number(v.created_at)).toISOString(),
          date_updated: new Date(Number(v.updated_at)).toISOString(),
          expires_at: new Date(Number(v.expires_at)).toISOString(),
        };
      });
      return send(reply, { verifications, next_cursor: nextCursor(result), total: result.total, message: 'Verify verifications.' });
    }),
  );

  admin.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/admin/applications/:id/verify_factors',
    {
      schema: {
        summary: 'Twilio Verify TOTP and push factors of the service this application backs, newest first, never their secrets or keys (`limit`, `cursor`; `type` totp|push; `status` unverified|verified; `identity` an entity, exactly)',
        tags: ['admin'],
        response: { 200: C.VerifyFactorsBody },
      },
    },
    forTable(async (app, page, req, reply) => {
      const type = oneOf(req.query, 'type', ['totp', 'push'] as const);
      if (isFailure(type)) return refuse(reply, type);
      const status = oneOf(req.query, 'status', ['unverified', 'verified'] as const);
      if (isFailure(status)) return refuse(reply, status);
      const identity = typeof req.query.identity === 'string' && req.query.identity.trim() ? req.query.identity.trim() : undefined;
      if (identity !== undefined && identity.length > 256) return refuse(reply, invalidParameter('identity', 'is at most 256 characters'));
      const now = Date.now();
      const result = await q.verifyFactorsTable(s.db, app.id, { type, status, identity }, page.limit, page.below);
      const factors = result.rows.map((f) => ({
        sid: f.sid,
        identity: f.identity,
        factor_type: f.factor_type,
        friendly_name: f.friendly_name,
        status: f.status,
        locked_until: f.locked_until !== null && Number(f.locked_until) > now ? new Date(Number(f.locked_until)).toISOString() : null,
        pending_challenges: Number(f.pending_challenges ?? 0),
        date_created: new Date(Number(f.created_at)).toISOString(),
      }));
      return send(reply, { factors, next_cursor: nextCursor(result), total: result.total, message: 'Verify factors.' });
    }),
  );
}
