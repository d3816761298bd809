// Operator-only views, behind bearer tokens: the admin API (OPENFACTOR_ADMIN_TOKEN or the data
// dir's admin.token; the admin console, a later issue, is built on it) and Prometheus metrics
// (the admin token or OPENFACTOR_METRICS_TOKEN). Metrics name providers and accounts and show
// traffic volumes, so they are not public either.
import type { MasterKey } from '../core/crypto.ts';
import type { Dialect } from '../store/db.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../core/crypto.ts';
import { fail, type ErrorName } from '../core/errors.ts';
import { sendFailure } from '../wire/envelope.ts';
import type { Services } from '../app.ts';
import type { DB } from '../store/schema.ts';
import type { Kysely } from 'kysely';
import { registerApplicationRoutes } from './applications.ts';
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

export function registerAdminRoutes(
  server: FastifyInstance,
  tokens: { admin: string; metrics?: string },
  services: Pick<Services, 'outbox' | 'metrics' | 'applications' | 'destinations' | 'hooks' | 'guard' | 'webhooks' | 'routing' | 'contacts' | 'recoveries' | 'phoneChanges' | 'verifyCredentials' | 'usage'>,
  db: Kysely<DB>,
  keys: MasterKey[],
  dialect: Dialect,
  failures: AuthFailures,
): void {
  server.register(async (admin) => {
    admin.addHook('onRequest', requireBearer([tokens.admin], 'ADMIN_UNAUTHORIZED', failures));
    registerApplicationRoutes(admin, { ...services, db, keys, dialect });
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
