// Operator-only views, behind bearer tokens: the admin API (OPENFACTOR_ADMIN_TOKEN or the data
// dir's admin.token; the admin console, a later issue, is built on it) and Prometheus metrics
// (the admin token or OPENFACTOR_METRICS_TOKEN). Metrics name providers and accounts and show
// traffic volumes, so they are not public either.
import type { MasterKey } from '../core/crypto.ts';
import type { Dialect } from '../store/db.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual, deriveKey } from '../core/crypto.ts';
import type { AdminSso } from '../config.ts';
import { registerSsoRoutes } from './sso.ts';
import { fail, type ErrorName } from '../core/errors.ts';
import { sendFailure } from '../wire/envelope.ts';
import type { Services } from '../app.ts';
import type { DB } from '../store/schema.ts';
import type { Kysely } from 'kysely';
import { registerApplicationRoutes } from './applications.ts';
import { applicationChanges, view } from './application-view.ts';
import { accessOf, allowed, appOfRoute, type Principal, type RouteAccess } from './access.ts';
import { registerAccessRoutes, SESSION_COOKIE } from './access-routes.ts';
import { setPrincipal } from './principal.ts';
import fastifyCookie from '@fastify/cookie';
import { registerVerifyAdminRoutes } from './verify.ts';
import { OutboxBody } from './contracts.ts';
import { parseAuthyId } from '../features/users/service.ts';
import type { AuthFailures } from '../wire/auth-failures.ts';

/** An onRequest hook that lets through `Authorization: Bearer <one of tokens>`; wrong tokens count against the address. */
function requireBearer(tokens: (string | undefined)[], refusal: ErrorName, failures: AuthFailures) {
  const accepted = tokens.filter((t): t is string => !!t);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (failures.refuseBlocked('admin_token', req, reply, 'json')) return reply;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    // Every token is compared, so the time taken does not say which one came close.
    const ok = m !== null && accepted.map((t) => constantTimeEqual(m[1], t)).includes(true);
    if (ok) return;
    if (m !== null && (await failures.failed('admin_token', req.ip, reply, 'json'))) return reply;
    return sendFailure(reply.header('www-authenticate', 'Bearer'), 'json', fail(refusal));
  };
}

/** What the hooks below learn of a request: who asks, what the route needs, the application before a change. */
interface Asked {
  principal: Principal;
  access: RouteAccess;
  before?: ReturnType<typeof view>;
}

const BREAK_GLASS: Principal = { kind: 'break_glass', name: 'break-glass admin token', role: 'owner' };

/**
 * Authentication, the role check, and the audit trail of the admin API: the break-glass admin
 * token (owner) or an API token; every route's need from ROUTE_ACCESS (a route missing there
 * stops the server at start); every change, and every refusal of one, appended to the trail.
 */
function guardAdminRoutes(admin: FastifyInstance, adminToken: string, s: Pick<Services, 'audit' | 'adminTokens' | 'applications' | 'adminAccounts'>, failures: AuthFailures) {
  const asked = new WeakMap<FastifyRequest, Asked>();
  admin.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      if (method !== 'HEAD' && !accessOf(method, r.url ?? '')) throw new Error(`admin route without an access rule in ROUTE_ACCESS: ${method} ${r.url}`);
    }
  });
  admin.addHook('onRequest', async (req, reply) => {
    if (failures.refuseBlocked('admin_token', req, reply, 'json')) return reply;
    // Signing in is open: its route checks the password and counts failures itself.
    if (accessOf(req.method, req.routeOptions.url ?? '')?.need === 'public') return;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    let principal = m === null ? undefined : constantTimeEqual(m[1], adminToken) ? BREAK_GLASS : await s.adminTokens.principal(m[1]);
    const cookie = m === null ? req.cookies?.[SESSION_COOKIE] : undefined;
    if (cookie) {
      // A console session: a change must also carry the session's CSRF token.
      const csrf = req.headers['x-csrf-token'];
      const found = await s.adminAccounts.fromSession(cookie, typeof csrf === 'string' ? csrf : undefined, req.method !== 'GET' && req.method !== 'HEAD');
      if (found === 'csrf') return sendFailure(reply, 'json', fail('ADMIN_CSRF'));
      principal = found && { ...found.principal, sessionId: found.sessionId };
    }
    if (!principal) {
      if (m !== null || cookie) {
        await s.audit.append({ actor: 'unknown', actorKind: 'token', ip: req.ip, action: 'admin.sign_in_failed', detail: { method: req.method, path: req.routeOptions.url ?? null } });
        if (await failures.failed('admin_token', req.ip, reply, 'json')) return reply;
      }
      return sendFailure(reply.header('www-authenticate', 'Bearer'), 'json', fail('ADMIN_UNAUTHORIZED'));
    }
    const url = req.routeOptions.url ?? '';
    const access = accessOf(req.method, url);
    if (!access || !allowed(principal, access, url, req.params)) {
      if (access?.action) await audit(req, { principal, access }, 'forbidden');
      return sendFailure(reply, 'json', fail('ADMIN_FORBIDDEN', { message: `Your role (${principal.role}${principal.appId === undefined ? '' : ` of application ${principal.appId}`}) may not do this` }));
    }
    if (principal.kind === 'break_glass') req.log.info({ event: 'admin_break_glass', method: req.method, route: url }, 'admin API used with the break-glass admin token');
    asked.set(req, { principal, access });
    setPrincipal(req, principal);
  });
  // A change to one application: the application as it was, for the trail's before and after.
  admin.addHook('preHandler', async (req) => {
    const a = asked.get(req);
    // Ids past 32 bits are no application (PostgreSQL would refuse them in a query).
    const appId = a?.access.action ? parseAuthyId(appOfRoute(req.routeOptions.url ?? '', req.params) ?? '') : undefined;
    const app = appId === undefined ? undefined : await s.applications.find(appId);
    if (a && app) a.before = view(app);
  });
  // Written before the answer leaves: whoever reads the trail after an answer finds the change in it.
  admin.addHook('onSend', async (req, reply, payload) => {
    const a = asked.get(req);
    if (a?.access.action && reply.statusCode < 400) {
      await audit(req, a, 'done').catch((err) => req.log.error({ event: 'audit_append_failed', err: (err as Error).message }, 'audit entry not written'));
    }
    return payload;
  });

  async function audit(req: FastifyRequest, a: Asked, outcome: 'done' | 'forbidden') {
    const url = req.routeOptions.url ?? '';
    const appId = parseAuthyId(appOfRoute(url, req.params) ?? '');
    const after = a.before && outcome === 'done' ? await s.applications.find(a.before.id) : undefined;
    const changed = a.before ? applicationChanges(a.before, after ? view(after) : undefined) : undefined;
    const body = url.endsWith('/users/import') ? { bytes: Number(req.headers['content-length'] ?? 0) } : (req.body ?? undefined);
    await s.audit.append({
      actor: a.principal.name,
      actorKind: a.principal.kind,
      ip: req.ip,
      action: outcome === 'done' ? a.access.action! : `${a.access.action}.forbidden`,
      appId: appId ?? null,
      target: { ...(req.params as Record<string, unknown>) },
      detail: { ...(body === undefined ? {} : { request: body }), ...(changed ? { changed } : {}), ...(a.principal.kind === 'break_glass' ? { break_glass: true } : {}) },
    });
  }
}

export function registerAdminRoutes(
  server: FastifyInstance,
  tokens: { admin: string; metrics?: string; secureCookies?: boolean; sso?: AdminSso; publicUrl?: string },
  services: Pick<Services, 'outbox' | 'metrics' | 'applications' | 'destinations' | 'hooks' | 'guard' | 'webhooks' | 'routing' | 'contacts' | 'recoveries' | 'phoneChanges' | 'verifyCredentials' | 'usage' | 'audit' | 'adminTokens' | 'adminAccounts'>,
  db: Kysely<DB>,
  keys: MasterKey[],
  dialect: Dialect,
  failures: AuthFailures,
): void {
  server.register(async (admin) => {
    // Signed cookies: single sign-on's state between leaving for the provider and coming back.
    await admin.register(fastifyCookie, { secret: deriveKey(keys[0], 'admin-cookies').toString('base64') });
    guardAdminRoutes(admin, tokens.admin, services, failures);
    registerApplicationRoutes(admin, { ...services, db, keys, dialect });
    registerAccessRoutes(admin, services, { failures, secureCookies: tokens.secureCookies });
    registerSsoRoutes(admin, tokens.sso, services, { failures, secureCookies: tokens.secureCookies, publicUrl: tokens.publicUrl });
    registerVerifyAdminRoutes(admin, services.verifyCredentials, db);

    admin.get(
      '/admin/outbox',
      { schema: { summary: 'Recent outbox messages, newest first (texts of console-delivered ones included)', tags: ['admin'], response: { 200: OutboxBody } } },
      async (req, reply) => {
        const query = req.query as Record<string, unknown>;
        const limit = typeof query.limit === 'string' && /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : 50;
        const appId = typeof query.app_id === 'string' ? parseAuthyId(query.app_id) : undefined;
        const messages = await services.outbox.recent({ limit, appId });
        return reply.type('application/json; charset=utf-8').send(JSON.stringify({ messages, message: 'Outbox messages.', success: true }));
      },
    );
  });

  server.register(async (scrape) => {
    scrape.addHook('onRequest', requireBearer([tokens.admin, tokens.metrics], 'METRICS_UNAUTHORIZED', failures));
    scrape.get('/metrics', { schema: { summary: 'Prometheus metrics (bearer: the metrics or admin token)', tags: ['service'] } }, async (_req, reply) =>
      reply.type(services.metrics.registry.contentType).send(await services.metrics.text()),
    );
  });
}
