// Prometheus counters for delivery, served at `/metrics`. One registry per server instance, so
// several servers in one process (tests) keep their own counts.
import { Counter, Registry } from 'prom-client';
import type { Channel } from './provider.ts';

/** `sent` accepted by a provider; `error`, `timeout`, `refused` a failed attempt; the rest from receipts or the final outcome. */
export type MetricStatus = 'sent' | 'error' | 'timeout' | 'refused' | 'delivered' | 'undelivered' | 'failed' | 'in_doubt';

export class DeliveryMetrics {
  readonly registry = new Registry();
  private readonly messages = new Counter({
    name: 'openfactor_delivery_messages_total',
    help: 'Delivery events per provider, channel and status (sent, error, timeout, refused, delivered, undelivered, failed, in_doubt)',
    labelNames: ['provider', 'channel', 'status'] as const,
    registers: [this.registry],
  });
  private readonly circuit = new Counter({
    name: 'openfactor_delivery_circuit_opened_total',
    help: 'Times a failing provider was taken out for a cool-down',
    labelNames: ['provider', 'channel'] as const,
    registers: [this.registry],
  });

  count(provider: string, channel: Channel, status: MetricStatus): void {
    this.messages.inc({ provider, channel, status });
  }

  circuitOpened(provider: string, channel: Channel): void {
    this.circuit.inc({ provider, channel });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
