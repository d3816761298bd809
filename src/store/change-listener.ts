// A PostgreSQL LISTEN connection that counts notifications on one channel, so a per-process
// cache can tell that another node (or the CLI, or psql) changed what it holds.
import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';

const RETRY_MS = 1000;

export class ChangeListener {
  private version = 0;
  private live = false;
  private started = false;
  private closed = false;
  private client?: pg.Client;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly log?: Pick<FastifyBaseLogger, 'warn'>,
  ) {}

  /**
   * Changes with every notification; undefined while not listening (then nothing may be served
   * from a cache). The first call starts listening.
   */
  current(): number | undefined {
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
    return this.live ? this.version : undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url });
    this.client = client;
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.live = false;
      this.client = undefined;
      client.end().catch(() => {});
      if (this.closed) return;
      this.log?.warn({ event: 'change_listener_lost', channel: this.channel, err: err?.message }, 'not listening for changes; caches bypassed until reconnected');
      this.retry = setTimeout(() => void this.connect(), RETRY_MS);
      this.retry.unref();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (n) => {
      if (n.channel === this.channel) this.version++;
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (this.client !== client) return;
      // Whatever was cached before this connection may have changed unheard.
      this.version++;
      this.live = true;
    } catch (err) {
      lost(err as Error);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
