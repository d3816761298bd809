// Entry point: `openfactor serve | migrate | apps create|list | keys rotate`.
// Every command opens the same store from the same environment, so the CLI works whether or not
// a server is running (SQLite in WAL mode and PostgreSQL both take concurrent writers).
import { parseArgs } from 'node:util';
import { loadConfig } from './config.ts';
import { migrate, openStore } from './store/db.ts';
import { buildServer } from './app.ts';
import { Applications } from './features/applications/service.ts';

const USAGE = `Usage: openfactor <command>

  serve                          run the HTTP server (default)
  migrate                        create or upgrade the database schema
  apps create --name NAME [--json]   create an application and print its API key
  apps list [--json]             list applications
  keys rotate --app ID [--json]  replace an application's API key (the old one stops working)

Environment: PORT, HOST, OPENFACTOR_DATA_DIR, DATABASE_URL, OPENFACTOR_MASTER_KEY, LOG_LEVEL`;

const out = (line: string) => process.stdout.write(line + '\n');

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, app: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  const [command = 'serve', sub] = positionals;
  if (values.help || command === 'help') {
    out(USAGE);
    return 0;
  }
  const config = loadConfig();
  const store = openStore(config.databaseUrl);
  try {
    await migrate(store);
    const apps = new Applications(store.db, config.masterKeys[0]);

    if (command === 'serve') return await serve(config, store, apps);
    if (command === 'migrate') {
      out('Database is up to date.');
      return 0;
    }
    if (command === 'apps' && sub === 'create') {
      const name = values.name?.trim();
      if (!name) return usageError('apps create needs --name NAME');
      const { id, apiKey } = await apps.create(name);
      out(values.json ? JSON.stringify({ id, api_key: apiKey }) : `Created application ${id} "${name}".\nAPI key: ${apiKey}\nKeep it secret: it is shown only now.`);
      return 0;
    }
    if (command === 'apps' && sub === 'list') {
      const list = await apps.list();
      if (values.json) for (const a of list) out(JSON.stringify({ id: a.id, name: a.name, created_at: new Date(a.createdAt).toISOString() }));
      else for (const a of list) out(`${a.id}\t${a.name}\t${new Date(a.createdAt).toISOString()}`);
      return 0;
    }
    if (command === 'keys' && sub === 'rotate') {
      const id = Number(values.app);
      if (!Number.isInteger(id) || id < 1) return usageError('keys rotate needs --app ID');
      const apiKey = await apps.rotateKey(id);
      if (!apiKey) {
        process.stderr.write(`No application ${id}.\n`);
        return 1;
      }
      out(values.json ? JSON.stringify({ id, api_key: apiKey }) : `New API key for application ${id}: ${apiKey}\nThe old key no longer works.`);
      return 0;
    }
    return usageError(`unknown command: ${positionals.join(' ')}`);
  } finally {
    if (command !== 'serve') await store.close();
  }
}

function usageError(message: string): number {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  return 2;
}

async function serve(config: ReturnType<typeof loadConfig>, store: ReturnType<typeof openStore>, apps: Applications): Promise<number> {
  const first = await apps.bootstrap();
  if (first) {
    // Printed once, to the terminal, never to the log.
    out(`Created the application "Default" (id ${first.id}). Its API key, shown only now:\n\n  ${first.apiKey}\n\nMake more with: npx openfactor apps create --name NAME`);
  }
  const of = await buildServer(config, store);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await of.close();
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const address = await of.server.listen({ port: config.port, host: config.host });
  of.server.log.info(`OpenFactor listening on ${address} (${store.dialect})`);
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`openfactor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
