// `openfactor serve`: listen, say where everything is, create the first application once the
// server is listening (its key is never printed by a start that then fails), and stop gracefully.
import { sqliteFileOf, type Config } from '../config.ts';
import type { Store } from '../store/db.ts';
import { postgresTarget } from './postgres-url.ts';

const out = (text: string) => process.stdout.write(text + '\n');

export async function serve(config: Readonly<Config>, store: Store): Promise<number> {
  // Loaded only here: the other commands start in a fraction of the time without the server.
  const { buildServer } = await import('../app.ts');
  const of = await buildServer(config, store);
  if (config.sqlitePrewarm) {
    // Before listening: the first requests find their pages in memory, not the start's reads.
    const warm = store.prewarm?.();
    if (warm) of.server.log.info({ event: 'sqlite_prewarm', ...warm, cache_mib: config.sqliteCacheMiB }, `SQLite: ${warm.btrees} tables and indexes read into memory in ${warm.ms} ms`);
    else of.server.log.warn({ event: 'sqlite_prewarm' }, 'OPENFACTOR_SQLITE_PREWARM is for SQLite; PostgreSQL keeps its own buffers');
  }
  const address = await of.server.listen({ port: config.port, host: config.host });
  of.server.log.info(`OpenFactor listening on ${address} (${store.dialect})`);
  const first = await of.services.applications.bootstrap();
  out(whereThingsAre(config, config.publicUrl ?? address));
  if (first) {
    // Printed once, to the terminal, never to the log.
    out(`Created the application "Default" (id ${first.id}). Its API key, shown only now:\n\n  ${first.apiKey}\n\nMake more with: npx openfactor apps create --name NAME`);
  }

  // SIGTERM (systemd, Kubernetes, docker stop) or Ctrl-C: stop accepting, let requests and
  // deliveries in flight finish within the grace period, then exit. A second Ctrl-C exits at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === 'SIGINT') process.exit(130);
      return;
    }
    stopping = true;
    of.server.log.info({ event: 'shutdown', signal, grace_ms: config.shutdownGraceMs }, `${signal}: stopping; in-flight work gets ${config.shutdownGraceMs} ms`);
    // Whatever hangs past the grace (and a few seconds to close the database) is cut short.
    setTimeout(() => {
      of.server.log.error({ event: 'shutdown_forced' }, 'did not stop in time; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 5000).unref();
    of.close(config.shutdownGraceMs)
      .then(() => store.close())
      .then(
        () => {
          of.server.log.info({ event: 'stopped' }, 'OpenFactor stopped');
          process.exit(0);
        },
        (err: Error) => {
          of.server.log.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1; // keep running
}

/** The first lines an operator reads: addresses, and where the data and the secrets are. */
function whereThingsAre(config: Readonly<Config>, base: string): string {
  const pg = postgresTarget(config.databaseUrl);
  const database = pg ? `PostgreSQL, ${pg.host}:${pg.port}/${pg.database}` : `SQLite, ${sqliteFileOf(config.databaseUrl)}`;
  const rows: [string, string][] = [
    ['API', `${base}  (health: /healthz, readiness: /readyz)`],
    ['Admin console', `${base}/console/`],
    ['Admin token', config.adminTokenFile ?? 'OPENFACTOR_ADMIN_TOKEN (from the environment)'],
    ['Data directory', config.dataDir],
    ['Database', database],
    ['Master key', config.masterKeyFile ? `${config.masterKeyFile} (back it up apart from the database: it opens the secrets)` : 'OPENFACTOR_MASTER_KEY (from the environment)'],
  ];
  return `OpenFactor is ready.\n${rows.map(([k, v]) => `  ${(k + ':').padEnd(16)}${v}`).join('\n')}\n`;
}
