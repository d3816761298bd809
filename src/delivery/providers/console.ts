// The development provider: nothing leaves the machine. The message stays readable in the outbox
// (`npx openfactor outbox`, `GET /admin/outbox`); the log line names it but never shows its text.
import type { FastifyBaseLogger } from 'fastify';
import { maskE164 } from '../../core/phone.ts';
import type { OutgoingMessage, Provider, SendResult } from '../provider.ts';

export const maskDestination = (m: { channel: string; destination: string }) =>
  m.channel === 'email' ? m.destination.replace(/^(.).*@/, '$1…@') : maskE164(m.destination);

export function consoleProvider(log: FastifyBaseLogger): Provider {
  return {
    kind: 'console',
    label: 'console',
    channels: ['sms', 'voice', 'email'],
    idempotent: true,
    timeoutMs: 1000,
    async send(m: OutgoingMessage): Promise<SendResult> {
      log.info({ message_id: m.id, channel: m.channel, to: maskDestination(m) }, 'console delivery: message kept in the outbox (read it with `npx openfactor outbox`)');
      return { ok: true, providerMessageId: `console-${m.id}` };
    },
  };
}
