// Delivery's HTTP side: receipts pushed by providers (Twilio status callbacks, the generic
// gateway's), checked against the sending provider's signature. (Metrics: admin/routes.ts.)
import type { FastifyInstance } from 'fastify';
import type { Outbox } from './outbox.ts';
import type { Routing } from './routing.ts';
import type { OutboxWorker } from './worker.ts';

const json = (ok: boolean, message: string) => JSON.stringify({ message, success: ok });

export function registerDeliveryRoutes(
  server: FastifyInstance,
  d: { outbox: Outbox; routing: Routing; worker: OutboxWorker; publicUrl?: string },
): void {
  server.register(async (scope) => {
    // Signatures are over the exact bytes: keep the body raw, whatever its type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    scope.post<{ Params: { id: string } }>(
      '/delivery/receipts/:id',
      { schema: { summary: 'Delivery receipt from the provider that sent a message (signed by that provider)', tags: ['delivery'] } },
      async (req, reply) => {
        reply.type('application/json; charset=utf-8');
        const message = /^(SM|CA|EM)[0-9a-f]{32}$/.test(req.params.id) ? await d.outbox.find(req.params.id) : undefined;
        const provider = message?.provider ? await d.routing.findProvider(message.app_id, message.channel, message.provider) : undefined;
        if (!message || !provider?.readReceipt) return reply.code(404).send(json(false, 'No such message.'));
        const base = d.publicUrl ?? `${req.protocol}://${req.host}`;
        const check = provider.readReceipt({ url: base + req.url, headers: req.headers, rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) });
        if (!check.genuine) {
          req.log.warn({ message_id: message.sid, provider: provider.label }, 'delivery receipt refused: bad signature');
          return reply.code(403).send(json(false, 'Signature does not match.'));
        }
        if (check.receipt && check.receipt.providerMessageId === message.provider_message_id) await d.worker.receive(provider.label, check.receipt);
        return reply.send(json(true, 'Receipt recorded.'));
      },
    );
  });
}
