// The dashboard webhooks API (wire reference §2.21): `app_api_key` + `access_key`, signed with
// the application's API signing key over the URL the client called.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { mergeParams } from '../../core/params.ts';
import { bodyParams, queryParams } from '../../wire/body.ts';
import { sendBody, sendFailure } from '../../wire/envelope.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Application } from '../applications/service.ts';
import type { Webhooks } from './service.ts';
import type { AuthFailures } from '../../wire/auth-failures.ts';

const BASE = '/dashboard/json/application/webhooks';

/** Refusals that mean a wrong credential (counted against the address), not a replay or a missing one. */
const GUESSES = new Set(['INVALID_API_KEY', 'DASHBOARD_KEY_INVALID', 'SIGNATURE_INVALID']);

export function registerWebhookRoutes(server: FastifyInstance, webhooks: Webhooks, publicUrl: string | undefined, failures: AuthFailures): void {
  const handle =
    (fn: (app: Application, req: FastifyRequest, params: Record<string, unknown>) => Promise<Outcome>) => async (req: FastifyRequest, reply: FastifyReply) => {
      if (failures.refuseBlocked('api_key', req, reply, 'json')) return reply;
      const params = mergeParams(queryParams(req), await bodyParams(req));
      const url = (publicUrl ?? `${req.protocol}://${req.host}`) + req.url.split('?')[0];
      const auth = await webhooks.authenticate(params, req.headers, req.method, url);
      if (!auth.ok) {
        const guessed = GUESSES.has(auth.error) && typeof params.app_api_key === 'string' && params.app_api_key !== '';
        if (guessed && (await failures.failed('api_key', req.ip, reply, 'json'))) return reply;
        return sendFailure(reply, 'json', auth);
      }
      const out = await fn(auth.app, req, params);
      return out.ok ? sendBody(reply, 'json', 200, out.body) : sendFailure(reply, 'json', out);
    };
  const doc = (summary: string) => ({ schema: { summary, tags: ['webhooks'], security: [{ dashboardSignature: [] }] } });

  server.post(BASE, doc('Create a webhook'), handle((app, _req, params) => webhooks.create(app, params as never)));
  server.get(BASE, doc('List webhooks'), handle((app) => webhooks.list(app)));
  server.delete<{ Params: { id: string } }>(`${BASE}/:id`, doc('Delete a webhook'), handle((app, req) => webhooks.remove(app, (req.params as { id: string }).id)));
  // One older sample DELETEs the collection with `webhook_id` in the body.
  server.delete(BASE, doc('Delete a webhook (webhook_id in the body)'), handle((app, _req, params) => webhooks.remove(app, typeof params.webhook_id === 'string' ? params.webhook_id : undefined)));
}
