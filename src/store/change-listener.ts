// A PostgreSQL LISTEN connection that counts notifications on one channel, so a per-process
// cache can tell that another node (or the CLI, or psql) changed what it holds.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { pgClient } from './db.ts';

const RETRY_MS = 1000;
/** Payloads of the listeners' own heartbeats (a change notifies with an empty payload). */
const HEARTBEAT = 'heartbeat:';
export const LISTENER_NAME = 'openfactor change listener';

export interface ListenerOptions {
  /** A notification to itself this often… */
  heartbeatMs: number;
  /** …and none heard for this long: the connection is taken for dead (caches bypassed) and replaced. */
  staleMs: number;
  connectTimeoutMs: number;
}

type Log = { warn(obj: object, msg: string): void };

export class ChangeListener {
  private version = 0;
  private live = false;
  private started = false;
  private closed = false;
  private client?: pg.Client;
  private retry?: NodeJS.Timeout;
  private beat?: NodeJS.Timeout;
  /** When this listener last heard its own heartbeat (or started listening). */
  private heard = 0;
  private readonly me = HEARTBEAT + randomBytes(6).toString('hex');

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly opts: ListenerOptions,
    private readonly log: () => Log,
  ) {}

  /**
   * Changes with every notification; undefined while not listening (then nothing may be served
   * from a cache). The first call starts listening.
   */
  current(): number | undefined {
    if (!this.started) {
      this.started = true;
      void this.connect();
      // A LISTEN connection over a link that silently stopped answering looks alive and hears
      // nothing: without this, a key rotated on another node would be accepted here unbounded.
      this.beat = setInterval(() => this.heartbeat(), this.opts.heartbeatMs);
      this.beat.unref();
    }
    return this.live ? this.version : undefined;
  }

  private heartbeat(): void {
    const client = this.client;
    if (!client || !this.live) return;
    if (Date.now() - this.heard > this.opts.staleMs) {
      this.lose(client, new Error(`no heartbeat heard for ${this.opts.staleMs} ms`));
      return;
    }
    client.query('SELECT pg_notify($1, $2)', [this.channel, this.me]).catch(() => {});
  }

  /** Stops serving from caches at once, drops the connection and connects again shortly. */
  private lose(client: pg.Client, err?: Error): void {
    if (this.client !== client) return;
    this.live = false;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.closed) return;
    this.log().warn({ event: 'change_listener_lost', channel: this.channel, err: err?.message }, 'not listening for changes; caches bypassed until reconnected');
    this.retry = setTimeout(() => void this.connect(), RETRY_MS);
    this.retry.unref();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new (pgClient().Client)({
      connectionString: this.url,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      keepAlive: true,
      // Named, so that an operator (and a test) can tell it in pg_stat_activity.
      application_name: LISTENER_NAME,
    });
    this.client = client;
    client.on('error', (err) => this.lose(client, err));
    client.on('end', () => this.lose(client));
    client.on('notification', (n) => {
      if (n.channel !== this.channel) return;
      if (n.payload === this.me) this.heard = Date.now();
      else if (!n.payload?.startsWith(HEARTBEAT)) this.version++;
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.client !== client) return;
      // Whatever was cached before this connection may have changed unheard.
      this.version++;
      this.heard = Date.now();
      this.live = true;
    } catch (err) {
      this.lose(client, err as Error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    clearTimeout(this.retry);
    clearInterval(this.beat);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
