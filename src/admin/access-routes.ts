// Who am I, API tokens (made, listed, revoked) and the audit trail (searched, exported as JSON
// lines). Behind the admin API's authentication and role check (routes.ts, access.ts).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fail, invalidParameter, type Failure } from '../core/errors.ts';
import { sendFailure } from '../wire/envelope.ts';
import type { Services } from '../app.ts';
import { auditView } from './audit.ts';
import { tokenView } from './tokens.ts';
import { accountView, csrfOf, SECOND_FACTOR_WAIT_MS, type SecondFactorAsked, type Session } from './accounts.ts';
import type { AuthFailures } from '../wire/auth-failures.ts';
import { principalOf } from './principal.ts';
import { authyIdParam, decodeCursor, encodeCursor, isFailure } from './paging.ts';
import * as C from './contracts.ts';

const send = (reply: FastifyReply, body: Record<string, unknown>) => reply.type('application/json; charset=utf-8').send(JSON.stringify({ ...body, success: true }));
const refuse = (reply: FastifyReply, f: Failure) => sendFailure(reply, 'json', f);
const body = (raw: unknown) => (raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {});
/** A body's optional `app_id` (a token's or an administrator's one application): null when absent. */
const appIdIn = (b: Record<string, unknown>) => (b.app_id === undefined || b.app_id === null || b.app_id === '' ? null : authyIdParam({ app_id: String(b.app_id) }, 'app_id'));

/** The console session's cookie: HttpOnly, SameSite=Strict, only sent to /admin. */
export const SESSION_COOKIE = 'openfactor_admin';
/** A sign-in waiting for its second factor (after a password or single sign-on): the same kind of cookie, for minutes. */
export const PENDING_COOKIE = 'openfactor_admin_pending';

/** The first factor held: the sign-in goes on in a cookie, for minutes. */
export const holdSignIn = (reply: FastifyReply, r: SecondFactorAsked, secure?: boolean) =>
  reply.setCookie(PENDING_COOKIE, r.ticket, { path: '/admin', httpOnly: true, sameSite: 'strict', secure: secure === true, maxAge: SECOND_FACTOR_WAIT_MS / 1000 });

/** A session begins: its cookie (the waiting sign-in's is dropped). */
export const setSessionCookie = (reply: FastifyReply, r: Session, secure?: boolean) =>
  reply
    .setCookie(SESSION_COOKIE, r.session, { path: '/admin', httpOnly: true, sameSite: 'strict', secure: secure === true, expires: new Date(r.expiresAt) })
    .clearCookie(PENDING_COOKIE, { path: '/admin' });

export function registerAccessRoutes(admin: FastifyInstance, s: Pick<Services, 'audit' | 'adminTokens' | 'applications' | 'adminAccounts'>, o: { failures: AuthFailures; secureCookies?: boolean }): void {
  /** A session begins: its cookie, and the body the console keeps (the CSRF token). */
  const begin = async (reply: FastifyReply, r: Session, ip: string, via: string) => {
    await s.audit.append({ actor: r.principal.name, actorKind: 'admin', ip, action: 'admin.sign_in', appId: r.principal.appId ?? null, detail: { via } });
    setSessionCookie(reply, r, o.secureCookies);
    const p = r.principal;
    return send(reply, { principal: { kind: p.kind, name: p.name, role: p.role, app_id: p.appId ?? null }, csrf_token: r.csrf, expires_at: new Date(r.expiresAt).toISOString(), message: 'Signed in.' });
  };
  const refused = async (reply: FastifyReply, ip: string, email: string, reason: string) => {
    await s.audit.append({ actor: email || 'unknown', actorKind: 'admin', ip, action: 'admin.sign_in_failed', detail: { reason } });
    if (await o.failures.failed('admin_token', ip, reply, 'json')) return reply;
    const said: Record<string, string> = { denied: 'The sign-in was denied on your device', expired: 'The approval expired: sign in again', unlinked_device: 'Approved on a device not linked to your account: sign in again' };
    return refuse(reply, fail('ADMIN_SIGN_IN_FAILED', said[reason] ? { message: said[reason] } : {}));
  };

  admin.post(
    '/admin/session',
    {
      schema: {
        summary:
          'Sign in to the console (`email`, `password`, and `code` from the authenticator when a second factor is asked): a session cookie, and the CSRF token every change must carry (x-csrf-token). When a second factor is asked and no code came, the answer (401, `second_factor`: `code` or `code,onetouch`) sets a cookie that carries the sign-in on to `POST /admin/session/second_factor`',
        tags: ['admin'],
        response: { 200: C.SessionBody },
      },
    },
    async (req, reply) => {
      const b = body(req.body);
      const r = await s.adminAccounts.signIn({ email: b.email, password: b.password, code: b.code, ip: req.ip });
      if (r.ok) return begin(reply, r, req.ip, 'password');
      // The answer says which second factors there are; the sign-in goes on in its cookie.
      if (r.reason === 'code_required') return refuse(holdSignIn(reply, r, o.secureCookies), fail('ADMIN_CODE_REQUIRED', { head: { second_factor: r.onetouch ? 'code,onetouch' : 'code' } }));
      return refused(reply, req.ip, r.email, r.reason);
    },
  );

  admin.post(
    '/admin/session/second_factor',
    {
      schema: {
        summary:
          'The second factor of a sign-in whose first held (its cookie): `code` from the authenticator, or `method`: `onetouch`, which sends an approval request to the administrator’s device (202) and, asked again, gives the session once it is approved. A wrong code, a denial or an expiry ends the sign-in',
        tags: ['admin'],
        response: { 200: C.SessionBody, 202: C.ApprovalWaitBody },
      },
    },
    async (req, reply) => {
      const b = body(req.body);
      const ticket = req.cookies[PENDING_COOKIE];
      const r = ticket ? await s.adminAccounts.secondFactor(ticket, { code: b.code, onetouch: b.method === 'onetouch', ip: req.ip }) : undefined;
      if (!r || (!r.ok && r.reason === 'no_sign_in')) return refuse(reply, fail('ADMIN_SIGN_IN_EXPIRED'));
      if (r.ok) return begin(reply, r, req.ip, 'second_factor');
      if (r.reason === 'waiting') return send(reply.code(202), { approval_request: { uuid: r.uuid, ...(r.number === undefined ? {} : { number: r.number }) }, message: 'Approve the sign-in on your device.' });
      if (r.reason === 'no_device') return refuse(reply, fail('ADMIN_NO_ONETOUCH_DEVICE'));
      reply.clearCookie(PENDING_COOKIE, { path: '/admin' });
      return refused(reply, req.ip, r.email, r.reason);
    },
  );

  admin.get(
    '/admin/session',
    { schema: { summary: 'The session of this cookie (or token): who, and the CSRF token its changes carry', tags: ['admin'], response: { 200: C.SessionNowBody } } },
    async (req, reply) => {
      const p = principalOf(req);
      const cookie = p.sessionId === undefined ? undefined : req.cookies[SESSION_COOKIE];
      return send(reply, { principal: { kind: p.kind, name: p.name, role: p.role, app_id: p.appId ?? null }, csrf_token: cookie ? csrfOf(cookie) : null, expires_at: null, message: 'Your session.' });
    },
  );

  admin.delete('/admin/session', { schema: { summary: 'Sign out: the session ends now', tags: ['admin'], response: { 200: C.SignedOutBody } } }, async (req, reply) => {
    const p = principalOf(req);
    if (p.sessionId !== undefined) await s.adminAccounts.signOut(p.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: '/admin' });
    return send(reply, { message: 'Signed out.' });
  });

  admin.get('/admin/accounts', { schema: { summary: 'Administrators (never a password or an authenticator secret)', tags: ['admin'], response: { 200: C.AccountsBody } } }, async (_req, reply) =>
    send(reply, { accounts: (await s.adminAccounts.list()).map(accountView), message: 'Administrators.' }),
  );

  admin.post(
    '/admin/accounts',
    {
      schema: {
        summary: 'Add an administrator (`email`, `name`, `password` (12+ characters), `role`, `app_id`); the answer has the otpauth:// link of their authenticator, shown only now',
        tags: ['admin'],
        response: { 201: C.AccountCreatedBody },
      },
    },
    async (req, reply) => {
      const b = body(req.body);
      const appId = appIdIn(b);
      if (isFailure(appId)) return refuse(reply, appId);
      if (appId !== null && appId !== undefined && !(await s.applications.find(appId))) return refuse(reply, invalidParameter('app_id', 'is not an application'));
      const made = await s.adminAccounts.add({ email: b.email, name: b.name, password: b.password, role: b.role, appId: appId ?? null });
      if (!made.ok) return refuse(reply, invalidParameter(made.field, made.reason));
      const row = (await s.adminAccounts.find(made.id))!;
      return send(reply.code(201), { account: accountView(row), otpauth_uri: made.otpauth, message: 'Administrator added.' });
    },
  );

  admin.post<{ Params: { account_id: string } }>(
    '/admin/accounts/:account_id/disable',
    { schema: { summary: 'Disable an administrator: no more sign-in, and their sessions end now', tags: ['admin'], response: { 200: C.AccountDisabledBody } } },
    async (req, reply) => {
      const id = authyIdParam({ id: req.params.account_id }, 'id');
      if (isFailure(id) || id === undefined || !(await s.adminAccounts.disable(id))) return refuse(reply, fail('ADMIN_ACCOUNT_NOT_FOUND'));
      const row = (await s.adminAccounts.find(id))!;
      return send(reply, { account: accountView(row), message: 'Administrator disabled.' });
    },
  );

  admin.post<{ Params: { account_id: string } }>(
    '/admin/accounts/:account_id/onetouch',
    {
      schema: {
        summary:
          'Link the user (`app_id`, `authy_id`) whose registered devices approve this administrator’s sign-ins by OneTouch; without them, unlink. The application must have OneTouch on and the user a device',
        tags: ['admin'],
        response: { 200: C.AccountOneTouchBody },
      },
    },
    async (req, reply) => {
      const id = authyIdParam({ id: req.params.account_id }, 'id');
      if (isFailure(id) || id === undefined) return refuse(reply, fail('ADMIN_ACCOUNT_NOT_FOUND'));
      const b = body(req.body);
      const appId = appIdIn(b);
      if (isFailure(appId)) return refuse(reply, appId);
      const authyId = b.authy_id === undefined || b.authy_id === null || b.authy_id === '' ? undefined : authyIdParam({ authy_id: String(b.authy_id) }, 'authy_id');
      if (isFailure(authyId)) return refuse(reply, authyId);
      if ((appId === null) !== (authyId === undefined)) return refuse(reply, invalidParameter(appId === null ? 'app_id' : 'authy_id', 'is needed with the other (both, or neither to unlink)'));
      const done = await s.adminAccounts.linkDevice(id, appId === null || authyId === undefined ? null : { appId: appId!, authyId });
      if (done === 'no_account') return refuse(reply, fail('ADMIN_ACCOUNT_NOT_FOUND'));
      if (done === 'no_device') return refuse(reply, invalidParameter('authy_id', 'is not a user with a registered device in an application with OneTouch on'));
      const row = (await s.adminAccounts.find(id))!;
      return send(reply, { account: accountView(row), message: appId === null ? 'OneTouch device unlinked.' : 'OneTouch device linked.' });
    },
  );

  admin.get('/admin/me', { schema: { summary: 'Who is asking: the break-glass token or an API token, its role and application', tags: ['admin'], response: { 200: C.MeBody } } }, async (req, reply) => {
    const p = principalOf(req);
    return send(reply, { principal: { kind: p.kind, name: p.name, role: p.role, app_id: p.appId ?? null }, message: 'You.' });
  });

  admin.get('/admin/tokens', { schema: { summary: 'API tokens, oldest first, revoked ones too (never the token itself)', tags: ['admin'], response: { 200: C.TokensBody } } }, async (_req, reply) =>
    send(reply, { tokens: (await s.adminTokens.list()).map(tokenView), message: 'API tokens.' }),
  );

  admin.post(
    '/admin/tokens',
    { schema: { summary: 'Make an API token (`name`, `role`: owner, admin, support or read_only; `app_id`: only that application); the token is in the answer, and only there', tags: ['admin'], response: { 201: C.TokenCreatedBody } } },
    async (req, reply) => {
      const b = body(req.body);
      const appId = appIdIn(b);
      if (isFailure(appId)) return refuse(reply, appId);
      const made = await s.adminTokens.create({ name: b.name, role: b.role, appId: appId ?? null, createdBy: principalOf(req).name }, async (id) => (await s.applications.find(id)) !== undefined);
      if (!made.ok) return refuse(reply, invalidParameter(made.field, made.reason));
      const row = (await s.adminTokens.find(made.id))!;
      return send(reply.code(201), { api_token: tokenView(row), token: made.token, message: 'API token created.' });
    },
  );

  admin.delete<{ Params: { token_id: string } }>(
    '/admin/tokens/:token_id',
    { schema: { summary: 'Revoke an API token: it stops at once', tags: ['admin'], response: { 200: C.TokenRevokedBody } } },
    async (req, reply) => {
      const id = authyIdParam({ id: req.params.token_id }, 'id');
      const found = isFailure(id) || id === undefined ? undefined : await s.adminTokens.find(id);
      if (!found || found.revoked_at !== null || !(await s.adminTokens.revoke(found.id))) return refuse(reply, fail('ADMIN_TOKEN_NOT_FOUND'));
      const row = (await s.adminTokens.find(found.id))!;
      return send(reply, { api_token: tokenView(row), message: 'API token revoked.' });
    },
  );

  admin.get<{ Querystring: Record<string, string> }>(
    '/admin/audit',
    {
      schema: {
        summary:
          'The audit trail, newest first (`limit` 1–500, `cursor`; `app_id`, `action` (a prefix: `application.`), `actor`, `since` (ISO date)); `format=jsonl`: every matching entry as JSON lines, for export. A principal of one application sees only its entries',
        tags: ['admin'],
        response: { 200: C.AuditBody },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const query = req.query;
      const appId = authyIdParam(query, 'app_id');
      if (isFailure(appId)) return refuse(reply, appId);
      const limit = query.limit === undefined ? 50 : /^\d{1,3}$/.test(query.limit) && Number(query.limit) >= 1 && Number(query.limit) <= 500 ? Number(query.limit) : NaN;
      if (Number.isNaN(limit)) return refuse(reply, invalidParameter('limit', 'must be a whole number from 1 to 500'));
      const below = decodeCursor(query.cursor);
      if (isFailure(below)) return refuse(reply, below);
      const since = query.since === undefined || query.since === '' ? undefined : Date.parse(query.since);
      if (Number.isNaN(since)) return refuse(reply, invalidParameter('since', 'must be a date (2026-12-01 or an ISO time)'));
      for (const name of ['action', 'actor'] as const) {
        if (query[name] !== undefined && (typeof query[name] !== 'string' || query[name].length > 128)) return refuse(reply, invalidParameter(name, 'must be at most 128 characters'));
      }
      const filter = { appId: p.appId ?? appId, action: query.action || undefined, actor: query.actor || undefined, since };
      if (p.appId !== undefined && appId !== undefined && appId !== p.appId) return send(reply, { entries: [], next_cursor: null, total: 0, message: 'Audit trail.' });
      if (query.format === 'jsonl') {
        // The export: every matching entry, oldest last as the page goes, a line each.
        const lines: string[] = [];
        for (let at: number | undefined; ; ) {
          const page = await s.audit.search(filter, 500, at);
          lines.push(...page.rows.map((e) => JSON.stringify(auditView(e))));
          if (!page.more) break;
          at = Number(page.rows[page.rows.length - 1].id);
        }
        return reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', 'attachment; filename="openfactor-audit.jsonl"').send(lines.length ? `${lines.join('\n')}\n` : '');
      }
      const page = await s.audit.search(filter, limit, below);
      const next = page.more ? encodeCursor(Number(page.rows[page.rows.length - 1].id)) : null;
      return send(reply, { entries: page.rows.map(auditView), next_cursor: next, total: page.total, message: 'Audit trail.' });
    },
  );
}
