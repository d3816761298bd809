// Failed credentials (API keys, dashboard keys, the admin and metrics tokens) per client address:
// past `failures` within `windowS` the address is blocked for `blockS` and gets 429 (60003),
// whatever it sends, right key or wrong. The counts live in the database (rate-limiter-flexible's
// SQLite or PostgreSQL store, table `rate_limits`), so a guesser spreading its attempts over
// several nodes is counted once.
//
// Only a failure costs a limiter call. A request with a good key reads one in-process map of the
// addresses this process knows to be blocked, and only when that map is not empty. An address
// blocked through another node is learnt here at its next failure; until then its good keys pass.
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { limiters as rateLimiters } from '../features/tokens/limits.ts';
import { addressKey } from '../core/client-address.ts';
import { fail } from '../core/errors.ts';
import type { Store } from '../store/db.ts';
import { sendFailure, type Format } from './envelope.ts';

export type CredentialKind = 'api_key' | 'admin_token';

/** How a refusal is answered: an Authy body in a format, or another wire's own (Twilio's). */
export type Refusal = Format | ((reply: FastifyReply) => FastifyReply);

export interface AuthFailureLimits {
  /** Failed attempts allowed per address within the window; the next one blocks it. */
  failures: number;
  windowS: number;
  blockS: number;
}

/** Blocked addresses remembered per process; beyond this the soonest to expire are forgotten first. */
const MAX_REMEMBERED = 100_000;

export class AuthFailures {
  private readonly limiters = new Map<CredentialKind, RateLimiterAbstract>();
  /** `kind address` → when its block ends (ms), for the blocks this process has seen. */
  private readonly blockedUntil = new Map<string, number>();
  private readonly failuresTotal: Counter<'kind'>;
  private readonly blocksTotal: Counter<'kind'>;
  private readonly throttledTotal: Counter<'kind'>;

  constructor(
    private readonly store: Pick<Store, 'limiterClient'>,
    private readonly limits: AuthFailureLimits,
    registry: Registry,
    private readonly log: FastifyBaseLogger,
  ) {
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['kind'] as const, registers: [registry] });
    this.failuresTotal = counter('openfactor_auth_failures_total', 'Requests refused for a wrong API key, dashboard key or admin/metrics token (kind: api_key, admin_token)');
    this.blocksTotal = counter('openfactor_auth_blocks_total', 'Client addresses blocked after repeated authentication failures (counted by the node that blocked them)');
    this.throttledTotal = counter('openfactor_auth_throttled_total', 'Requests answered 429 because their address is blocked after authentication failures');
  }

  /**
   * Answers 429 when `ip` is blocked for `kind` as far as this process knows (no I/O; nothing at all
   * while no address is blocked). True when it answered.
   */
  refuseBlocked(kind: CredentialKind, req: { ip: string }, reply: FastifyReply, format: Refusal): boolean {
    if (this.blockedUntil.size === 0) return false;
    const key = `${kind} ${addressKey(req.ip)}`;
    const until = this.blockedUntil.get(key);
    if (until === undefined) return false;
    if (until <= Date.now()) {
      this.blockedUntil.delete(key);
      return false;
    }
    this.throttledTotal.inc({ kind });
    this.sendThrottled(reply, format, until);
    return true;
  }

  /**
   * Counts a failed attempt from `ip`. When that blocks it (or it already was, through another
   * node) answers 429 and returns true; otherwise the caller answers its usual 401.
   */
  async failed(kind: CredentialKind, ip: string, reply: FastifyReply, format: Refusal): Promise<boolean> {
    this.failuresTotal.inc({ kind });
    const address = addressKey(ip);
    try {
      await this.limiter(kind).consume(address);
      return false;
    } catch (e) {
      // The store is unreachable: the attempt was refused anyway; say so and answer 401.
      if (!(e instanceof rateLimiters().RateLimiterRes)) {
        this.log.error({ err: e, event: 'auth_failure_count_failed', kind }, 'could not count an authentication failure');
        return false;
      }
      const until = Date.now() + e.msBeforeNext;
      this.remember(`${kind} ${address}`, until);
      // Exactly one request, on one node, is the one past the limit: it logs the block.
      if (e.consumedPoints === this.limits.failures + 1) {
        this.blocksTotal.inc({ kind });
        this.log.warn(
          { event: 'auth_blocked', kind, address, failures: this.limits.failures, windowS: this.limits.windowS, blockS: this.limits.blockS },
          'client address blocked after repeated authentication failures',
        );
      }
      this.throttledTotal.inc({ kind });
      this.sendThrottled(reply, format, until);
      return true;
    }
  }

  private sendThrottled(reply: FastifyReply, format: Refusal, until: number): void {
    reply.header('retry-after', String(Math.max(1, Math.ceil((until - Date.now()) / 1000))));
    if (typeof format === 'function') format(reply);
    else sendFailure(reply, format, fail('DOS_AUTH'));
  }

  private remember(key: string, until: number): void {
    this.blockedUntil.delete(key); // re-inserted last: the map stays in order of insertion
    this.blockedUntil.set(key, until);
    if (this.blockedUntil.size <= MAX_REMEMBERED) return;
    const now = Date.now();
    for (const [k, t] of this.blockedUntil) if (t <= now) this.blockedUntil.delete(k);
    for (const k of this.blockedUntil.keys()) {
      if (this.blockedUntil.size <= MAX_REMEMBERED) break;
      this.blockedUntil.delete(k);
    }
  }

  private limiter(kind: CredentialKind): RateLimiterAbstract {
    let l = this.limiters.get(kind);
    if (!l) {
      const { storeType, client } = this.store.limiterClient;
      const { failures, windowS, blockS } = this.limits;
      const opts = { storeClient: client, storeType, tableName: 'rate_limits', tableCreated: true, clearExpiredByTimeout: false, keyPrefix: `auth-${kind}`, points: failures, duration: windowS, blockDuration: blockS };
      const { RateLimiterPostgres, RateLimiterSQLite } = rateLimiters();
      l = storeType === 'postgres' ? new RateLimiterPostgres(opts) : new RateLimiterSQLite(opts);
      this.limiters.set(kind, l);
    }
    return l;
  }
}
