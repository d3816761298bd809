// One channel's providers in priority order. A message goes to the first provider that is not
// cooling down; an error or a timeout moves it to the next. A provider that fails repeatedly is
// taken out for a cool-down (circuit breaker), then probed by a single message.
import type { DeliveryMetrics } from './metrics.ts';
import type { Channel, OutgoingMessage, Provider, SendResult } from './provider.ts';
import type { AttemptOutcome } from '../store/schema.ts';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failures: number;
  coolDownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failures: 3, coolDownMs: 30_000 };

class Breaker {
  private consecutive = 0;
  private openUntil = 0;
  private probing = false;

  constructor(private readonly o: BreakerOptions) {}

  /** Closed: yes. Open: no, until the cool-down ends; then one probe at a time. */
  allow(now: number): boolean {
    if (this.consecutive < this.o.failures) return true;
    if (now < this.openUntil || this.probing) return false;
    this.probing = true;
    return true;
  }

  succeeded(): void {
    this.consecutive = 0;
    this.probing = false;
  }

  /** True when this failure opened (or re-opened) the circuit. */
  failed(now: number): boolean {
    this.consecutive++;
    this.probing = false;
    if (this.consecutive < this.o.failures) return false;
    this.openUntil = now + this.o.coolDownMs;
    return true;
  }
}

/** Records each provider call before it is made and its outcome after (see Outbox). */
export interface AttemptLog {
  start(provider: Provider): Promise<number>;
  finish(attemptId: number, outcome: AttemptOutcome, result: { providerMessageId?: string; error?: string }): Promise<void>;
}

export type RouteResult =
  | { ok: true; provider: Provider; providerMessageId: string }
  | { ok: false; permanent: boolean; error: string; provider?: Provider };

export class Router {
  private readonly breakers: Map<Provider, Breaker>;

  constructor(
    readonly channel: Channel,
    readonly providers: readonly Provider[],
    private readonly metrics: DeliveryMetrics,
    breaker: BreakerOptions = DEFAULT_BREAKER,
  ) {
    this.breakers = new Map(providers.map((p) => [p, new Breaker(breaker)]));
  }

  async send(m: OutgoingMessage, attempts: AttemptLog): Promise<RouteResult> {
    let last: RouteResult = { ok: false, permanent: false, error: 'every provider is cooling down after failures' };
    for (const p of this.providers) {
      const breaker = this.breakers.get(p)!;
      if (!breaker.allow(Date.now())) continue;
      const attemptId = await attempts.start(p);
      const { result, timedOut } = await callWithin(p, m);
      if (result.ok) {
        breaker.succeeded();
        this.metrics.count(p.label, m.channel, 'sent');
        await attempts.finish(attemptId, 'accepted', { providerMessageId: result.providerMessageId });
        return { ok: true, provider: p, providerMessageId: result.providerMessageId };
      }
      // A refused destination says nothing about the provider's health.
      if (result.permanent) breaker.succeeded();
      else if (breaker.failed(Date.now())) this.metrics.circuitOpened(p.label, m.channel);
      this.metrics.count(p.label, m.channel, timedOut ? 'timeout' : result.permanent ? 'refused' : 'error');
      await attempts.finish(attemptId, timedOut ? 'timeout' : 'error', { error: result.error });
      last = { ok: false, permanent: result.permanent === true, error: `${p.label}: ${result.error}`, provider: p };
      if (result.permanent) return last;
    }
    return last;
  }

  async close(): Promise<void> {
    await Promise.all(this.providers.map((p) => p.close?.()));
  }
}

/** The provider's answer, or a timeout after `timeoutMs` (the call is aborted; a late answer is dropped). */
async function callWithin(p: Provider, m: OutgoingMessage): Promise<{ result: SendResult; timedOut: boolean }> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ result: SendResult; timedOut: boolean }>((resolve) => {
    timer = setTimeout(() => {
      ac.abort(new Error('timeout'));
      resolve({ result: { ok: false, error: `no answer within ${p.timeoutMs} ms` }, timedOut: true });
    }, p.timeoutMs);
  });
  const call = p
    .send(m, ac.signal)
    .then((result) => ({ result, timedOut: false }))
    .catch((e: unknown) => ({ result: { ok: false as const, error: e instanceof Error ? e.message : String(e) }, timedOut: ac.signal.aborted }));
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
