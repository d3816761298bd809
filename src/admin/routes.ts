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
import { parseAuthyId } from '../features/users/service.ts';

/** An onRequest hook that lets through `Authorization: Bearer <one of tokens>`. */
function requireBearer(tokens: (string | undefined)[], refusal: ErrorName) {
  const accepted = tokens.filter((t): t is string => !!t);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    // Every token is compared, so the time taken does not say which one came close.
    const ok = m !== null && accepted.map((t) => constantTimeEqual(m[1], t)).includes(true);
    if (!ok) return sendFailure(reply.header('www-authenticate', 'Bearer'), 'json', fail(refusal));
  };
}

export function registerAdminRoutes(
  server: FastifyInstance,
  tokens: { admin: string; metrics?: string },
  services: Pick<Services, 'outbox' | 'metrics' | 'applications' | 'destinations' | 'hooks' | 'guard' | 'webhooks' | 'routing'>,
  db: Kysely<DB>,
  keys: MasterKey[],
  dialect: Dialect,
): void {
  server.register(async (admin) => {
    admin.addHook('onRequest', requireBearer([tokens.admin], 'ADMIN_UNAUTHORIZED'));
    registerApplicationRoutes(admin, { ...services, db, keys, dialect });

    admin.get(
      '/admin/outbox',
      { schema: { summary: 'Recent outbox messages, newest first (texts of console-delivered ones included)', tags: ['admin'] } },
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
    scrape.addHook('onRequest', requireBearer([tokens.admin, tokens.metrics], 'METRICS_UNAUTHORIZED'));
    scrape.get('/metrics', { schema: { summary: 'Prometheus metrics (bearer: the metrics or admin token)', tags: ['service'] } }, async (_req, reply) =>
      reply.type(services.metrics.registry.contentType).send(await services.metrics.text()),
    );
  });
}
