// The admin API: operator-only views, behind a bearer token (OPENFACTOR_ADMIN_TOKEN or the
// data dir's admin.token). The admin console (a later issue) is built on it.
import type { FastifyInstance } from 'fastify';
import { constantTimeEqual } from '../core/crypto.ts';
import { fail } from '../core/errors.ts';
import { sendFailure } from '../wire/envelope.ts';
import type { Services } from '../app.ts';

export function registerAdminRoutes(server: FastifyInstance, adminToken: string, services: Pick<Services, 'outbox'>): void {
  server.register(async (admin) => {
    admin.addHook('onRequest', async (req, reply) => {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!m || !constantTimeEqual(m[1], adminToken)) return sendFailure(reply, 'json', fail('ADMIN_UNAUTHORIZED'));
    });

    admin.get(
      '/admin/outbox',
      { schema: { summary: 'Recent outbox messages, newest first (texts of console-delivered ones included)', tags: ['admin'] } },
      async (req, reply) => {
        const query = req.query as Record<string, unknown>;
        const limit = typeof query.limit === 'string' && /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : 50;
        const appId = typeof query.app_id === 'string' && /^\d{1,10}$/.test(query.app_id) ? Number(query.app_id) : undefined;
        const messages = await services.outbox.recent({ limit, appId });
        return reply.type('application/json; charset=utf-8').send(JSON.stringify({ messages, message: 'Outbox messages.', success: true }));
      },
    );
  });
}
