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

/**
 * Waits, if need be, until a burst of `needMs` fits before the SMS-pumping defence's 10-minute
 * window turns. Sends made before a turn become "the hour before": 30 unverified codes to one
 * prefix then close it (low conversion), which a test that sends many codes to one user must not
 * meet by chance of the clock.
 */
export async function clearOfWindowTurn(needMs: number): Promise<void> {
  const left = 600_000 - (Date.now() % 600_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}
