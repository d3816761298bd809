// Sends outbox rows through the channel's provider, with retries and exponential backoff.
// Runs in every server process; rows are claimed atomically, so several workers never send twice.
import type { FastifyBaseLogger } from 'fastify';
import type { Outbox, ClaimedMessage } from './outbox.ts';
import type { Channel, Provider } from './provider.ts';

export interface WorkerOptions {
  /** How often to look for due messages when nothing woke the worker. */
  pollMs?: number;
  batch?: number;
  maxAttempts?: number;
  /** Called once per message a provider accepted (app stats count real sends). */
  onSent?(m: ClaimedMessage): Promise<void>;
}

const backoffMs = (attempt: number) => Math.min(60_000, 1000 * 2 ** (attempt - 1));

export class OutboxWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;

  constructor(
    private readonly outbox: Outbox,
    private readonly providers: Record<Channel, Provider>,
    private readonly log: FastifyBaseLogger,
    private readonly opts: WorkerOptions = {},
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), this.opts.pollMs ?? 1000);
    this.wake();
  }

  /** Looks for due messages now (called after every enqueue). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err) => this.log.error({ err }, 'outbox worker failed; retrying on the next tick'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const batch = await this.outbox.claim(this.opts.batch ?? 20);
      if (batch.length === 0) return;
      await Promise.all(batch.map((m) => this.deliver(m)));
      if (this.stopped) return;
    }
  }

  private async deliver(m: ClaimedMessage): Promise<void> {
    const provider = this.providers[m.channel];
    const result = await provider
      .send({ id: m.id, channel: m.channel, destination: m.destination, text: m.text, locale: m.locale, attempt: m.attempts })
      .catch((err: unknown) => ({ ok: false as const, retryable: true, error: err instanceof Error ? err.message : String(err) }));
    if (result.ok) {
      await this.outbox.markSent(m.id, provider.name, result.providerMessageId);
      await this.opts.onSent?.(m);
      return;
    }
    const last = !result.retryable || m.attempts >= (this.opts.maxAttempts ?? 5);
    await this.outbox.markFailed(m.id, provider.name, result.error, last ? undefined : Date.now() + backoffMs(m.attempts));
    this.log.warn({ message_id: m.id, channel: m.channel, provider: provider.name, attempt: m.attempts, final: last }, 'delivery attempt failed');
  }
}
