// Outbox throughput: SMS codes per second from the API request to the local SMSC's receipt of
// the submit_sm, through the real server, its database (SQLite or PostgreSQL) and the SMPP
// provider. Baseline, same run: the SMPP provider alone pushing the same number of messages into
// the same kind of SMSC from this process (no HTTP, no database), so the ratio is the price of
// the durable path (outbox row, attempt record, claim, status write).
import { join } from 'node:path';
import { openStore } from '../src/store/db.ts';
import { Applications } from '../src/features/applications/service.ts';
import { masterKeyFrom } from '../src/core/crypto.ts';
import { freePort, startNode, stop, waitForHttp, type Child } from './procs.ts';
import { seedPostgres, seedSqlite } from './seed.ts';
import { startFakeSmsc } from '../test/support/fakes/smsc.ts';
import { quietLog } from '../test/support/wait.ts';
import { createProvider } from '../src/delivery/providers/index.ts';
import { benchPhone, nationalNumber } from './factors.ts';

export interface OutboxFigures {
  name: string;
  messages: number;
  perSecond: number;
  /** Request sent → SMSC has the message. */
  p50Ms: number;
  p99Ms: number;
  baselinePerSecond: number;
  ratio: number;
}

const pct = (xs: number[], p: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** The SMPP provider alone: M messages, 32 at a time (the server's default concurrency). */
export async function bareSmppPerSecond(messages: number): Promise<number> {
  const smsc = await startFakeSmsc();
  smsc.receipts = false;
  const p = createProvider(smsc.url, 'sms', quietLog);
  try {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < messages) {
          const i = next++;
          const r = await p.send({ id: `SM${i}`, channel: 'sms', destination: `+1${nationalNumber(i)}`, text: `Your Bench code is ${String(1_000_000 + i)}`, locale: 'en', idempotencyKey: `k${i}` }, new AbortController().signal);
          if (!r.ok) throw new Error(r.error);
        }
      }),
    );
    return messages / ((performance.now() - t0) / 1000);
  } finally {
    await p.close?.();
    await smsc.close();
  }
}

export async function outboxThroughput(
  name: string,
  dialect: 'sqlite' | 'postgres',
  o: { tmp: string; masterKey: Buffer; messages: number; core?: number; pgAdmin: string; pgName: string; serverFlags: string[]; baselinePerSecond: number },
): Promise<OutboxFigures> {
  const smsc = await startFakeSmsc();
  const dataDir = join(o.tmp, name);
  const seeded = dialect === 'sqlite' ? await seedSqlite(dataDir, o.masterKey, o.messages) : await seedPostgres(o.pgAdmin, o.pgName, o.masterKey, o.messages);
  // The bench users' numbers are sequential in a few prefixes: exactly what the SMS-pumping
  // defence stops. The defence still runs on every message; its prefix allowance is raised.
  const store = openStore('databaseUrl' in seeded ? (seeded.databaseUrl as string) : `sqlite:${join(dataDir, 'openfactor.db')}`);
  await new Applications(store.db, masterKeyFrom(o.masterKey)).updateSettings(seeded.appId, { prefixSendsPerWindow: 1_000_000, countrySendsPerWindow: 1_000_000 });
  await store.close();
  const port = await freePort();
  let child: Child | undefined;
  try {
    child = startNode(name, [...o.serverFlags, 'build/cli.js', 'serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      OPENFACTOR_DATA_DIR: dataDir,
      ...('databaseUrl' in seeded ? { DATABASE_URL: seeded.databaseUrl as string } : {}),
      OPENFACTOR_MASTER_KEY: o.masterKey.toString('hex'),
      OPENFACTOR_SMS_PROVIDERS: smsc.url,
      LOG_LEVEL: 'warn',
    }, o.core);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/`, child);

    const sentAt = new Map<string, number>();
    let next = seeded.ids.lo;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next <= seeded.ids.hi) {
          const id = next++;
          sentAt.set(`1${benchPhone(id)}`, performance.now());
          const res = await fetch(`${url}/protected/json/sms/${id}?force=true`, { headers: { 'x-authy-api-key': seeded.apiKey } });
          if (res.status !== 200) throw new Error(`sms/${id}: ${res.status} ${await res.text()}`);
        }
      }),
    );
    const deadline = Date.now() + 180_000;
    while (smsc.messages.length < o.messages) {
      if (Date.now() > deadline) throw new Error(`${name}: only ${smsc.messages.length} of ${o.messages} messages reached the SMSC`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // SMSC times are Date.now(); convert the request times to the same clock.
    const offset = Date.now() - performance.now();
    const latencies = smsc.messages.map((m) => m.receivedAt - (sentAt.get(m.destination)! + offset));
    const last = Math.max(...smsc.messages.map((m) => m.receivedAt)) - offset;
    const perSecond = o.messages / ((last - t0) / 1000);
    return { name, messages: o.messages, perSecond, p50Ms: pct(latencies, 50), p99Ms: pct(latencies, 99), baselinePerSecond: o.baselinePerSecond, ratio: perSecond / o.baselinePerSecond };
  } finally {
    if (child) await stop(child);
    await smsc.close();
  }
}
