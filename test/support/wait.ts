// Waiting for something asynchronous (a worker, a provider, a receipt) without fixed sleeps.
import type { FastifyBaseLogger } from 'fastify';

/** Polls `f` until it returns something truthy, and returns that; fails naming `what` after `ms`. */
export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A logger for providers built outside a server. */
const noop = () => {};
export const quietLog = { level: 'silent', fatal: noop, error: noop, warn: noop, info: noop, debug: noop, trace: noop, silent: noop, child: () => quietLog } as unknown as FastifyBaseLogger;

