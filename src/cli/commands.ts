// The CLI's commands: `openfactor serve | migrate | apps … | keys rotate | outbox | users import | tokens | audit`.
// Every command opens the same store from the same environment, so the CLI works whether or not
// a server is running (SQLite in WAL mode and PostgreSQL both take concurrent writers).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config.ts';
import { migrate, openStore } from '../store/db.ts';
import { takeFileModeNotes } from '../store/private-files.ts';
import { openContacts, type Contacts } from '../store/contacts.ts';
import { Destinations } from '../delivery/destinations.ts';
import { Applications, SETTING_BOUNDS, type Application, type Settings } from '../features/applications/service.ts';
import type { MasterKey } from '../core/crypto.ts';
import type { FastifyBaseLogger } from 'fastify';
import { SETTING_FLAGS, SETTING_WORDS, USAGE, type Args } from './usage.ts';
import { VerifyCredentials } from '../features/verify/credentials.ts';
import { AuditTrail, auditView } from '../admin/audit.ts';
import { applicationChanges, view } from '../admin/application-view.ts';
import { AdminTokens, tokenView } from '../admin/tokens.ts';
import { userInfo, hostname } from 'node:os';

const out = (line: string) => process.stdout.write(line + '\n');

const appIdOf = (raw: string | undefined) => {
  const id = Number(raw);
  return Number.isInteger(id) && id >= 1 ? id : undefined;
};

function noApplication(id: number): number {
  process.stderr.write(`No application ${id}.\n`);
  return 1;
}

/** Providers built only to check their URLs log nothing. */
const noop = () => {};
const silentLog = { level: 'silent', fatal: noop, error: noop, warn: noop, info: noop, debug: noop, trace: noop, silent: noop, child: () => silentLog } as unknown as FastifyBaseLogger;

/** Runs one command (not `--help`); a negative result means the process keeps running (serve). */
export async function runCommand({ values, positionals }: Args): Promise<number> {
  const [command = 'serve', sub] = positionals;
  const config = loadConfig();
  // These two work on the database file itself, never through an open store.
  if (command === 'backup' || command === 'restore') {
    const { backup, restore } = await import('./backup.ts');
    return command === 'backup' ? backup(config, values.to) : restore(config, values.from);
  }
  const store = openStore(config.databaseUrl, { pg: config.pg, sqliteCacheMiB: config.sqliteCacheMiB });
  // The server logs these; a one-off command says them on stderr.
  if (command !== 'serve') for (const note of takeFileModeNotes()) process.stderr.write(`openfactor: data at rest: ${note}\n`);
  try {
    await migrate(store, config.masterKeys);
    // Numbers and addresses stored before migration 0020 are sealed at the first command that
    // needs them (`keys reseal` tries, and reports what it cannot open if the key is wrong).
    let opened: Promise<Contacts> | undefined;
    const contacts = () => (opened ??= openContacts(store.db, config.masterKeys, store.dialect));
    const apps = new Applications(store.db, config.masterKeys[0], config.masterKeys.slice(1));
    // Every change made here is in the audit trail, as one made through the admin API is.
    const trail = new AuditTrail(store.db, config.masterKeys, store.dialect);
    const record = (action: string, appId: number | null, target: Record<string, unknown>, detail: Record<string, unknown> = {}) =>
      trail.append({ actor: cliActor(), actorKind: 'cli', action, appId, target, detail });
    const before = async (id: number) => {
      const app = await apps.find(id);
      return app && view(app);
    };
    const recordChange = async (action: string, id: number, was: ReturnType<typeof view> | undefined) => {
      const now = await apps.find(id);
      const changed = was ? applicationChanges(was, now && view(now)) : {};
      if (Object.keys(changed).length > 0) await record(action, id, { id }, { changed });
    };

    if (command === 'serve') return await (await import('./serve.ts')).serve(config, store);
    if (command === 'migrate') {
      await contacts();
      out('Database is up to date.');
      return 0;
    }
    if (command === 'apps' && sub === 'create') {
      const name = values.name?.trim();
      if (!name) return usageError('apps create needs --name NAME');
      const made = await apps.add(name);
      if (made !== 'name_taken') await record('application.create', made.id, { id: made.id }, { name });
      if (made === 'name_taken') return nameTaken(name);
      const { id, apiKey } = made;
      out(values.json ? JSON.stringify({ id, api_key: apiKey }) : `Created application ${id} "${name}".\nAPI key: ${apiKey}\nKeep it secret: it is shown only now.`);
      return 0;
    }
    if (command === 'apps' && sub === 'rename') {
      const id = appIdOf(values.app);
      const name = values.name?.trim();
      if (id === undefined || !name) return usageError('apps rename needs --app ID --name NAME');
      const was = await before(id);
      const renamed = await apps.rename(id, name);
      if (renamed === 'name_taken') return nameTaken(name);
      await recordChange('application.rename', id, was);
      if (!renamed) return noApplication(id);
      out(values.json ? JSON.stringify({ id, name: renamed.name }) : `Application ${id} is now "${renamed.name}".`);
      return 0;
    }
    if (command === 'apps' && sub === 'delete') {
      const id = appIdOf(values.app);
      if (id === undefined || values.confirm === undefined) return usageError('apps delete needs --app ID --confirm NAME (the application\'s name)');
      const app = await apps.find(id);
      if (!app) return noApplication(id);
      if (values.confirm.trim() !== app.name) {
        process.stderr.write(`--confirm must be the application's name ("${app.name}"): nothing was deleted.\n`);
        return 1;
      }
      const removed = (await apps.remove(id))!;
      await record('application.delete', id, { id }, { changed: { application: [app.name, null] }, removed });
      if (values.json) out(JSON.stringify({ id, deleted: removed }));
      else {
        out(`Deleted application ${id} "${app.name}" and all its data:`);
        for (const [table, n] of Object.entries(removed)) if (n > 0) out(`  ${table}\t${n}`);
      }
      return 0;
    }
    if (command === 'apps' && sub === 'list') {
      const list = await apps.list();
      if (values.json) for (const a of list) out(JSON.stringify({ id: a.id, name: a.name, created_at: new Date(a.createdAt).toISOString() }));
      else for (const a of list) out(`${a.id}\t${a.name}\t${new Date(a.createdAt).toISOString()}`);
      return 0;
    }
    if (command === 'apps' && sub === 'settings') {
      const id = appIdOf(values.app);
      if (id === undefined) return usageError('apps settings needs --app ID');
      const patch: Partial<Record<keyof Settings, number>> = {};
      for (const [flag, name] of Object.entries(SETTING_FLAGS)) {
        const raw = (values as Record<string, unknown>)[flag];
        if (typeof raw !== 'string') continue;
        const words = SETTING_WORDS[name];
        const value = words
          ? (words[raw.toLowerCase()] ?? NaN)
          : /^(on|true|yes)$/i.test(raw) ? 1 : /^(off|false|no)$/i.test(raw) ? 0 : /^\d+$/.test(raw) ? Number(raw) : NaN;
        if (Number.isNaN(value)) return usageError(`--${flag} ${raw}: expected ${words ? Object.keys(words).join(' or ') : SETTING_BOUNDS[name].join('..')}`);
        patch[name] = value;
      }
      const was = await before(id);
      let result = await apps.updateSettings(id, patch);
      if (typeof result === 'string') return usageError(result);
      if (!result) return noApplication(id);
      if (values.countries !== undefined) {
        result = await apps.setAllowedCountries(id, values.countries ? values.countries.split(',') : null);
        if (typeof result === 'string') return usageError(`--countries: ${result}`);
      }
      await recordChange('application.settings', id, was);
      const shown = { ...result!.settings, allowedCountries: result!.allowedCountries?.join(',') ?? 'all' };
      if (values.json) out(JSON.stringify({ id, ...shown }));
      else for (const [k, v] of Object.entries(shown)) out(`${k}\t${v}`);
      return 0;
    }
    if (command === 'apps' && sub === 'providers') {
      const id = appIdOf(values.app);
      if (id === undefined) return usageError('apps providers needs --app ID');
      if (!(await apps.find(id))) return noApplication(id);
      // Delivery code (providers, their clients) is loaded only by the commands that use it.
      const { CHANNELS, readAppProviders, writeAppProviders } = await import('../delivery/routing.ts');
      const { ProviderConfigError, redactProviderUrl, splitProviderList } = await import('../delivery/providers/index.ts');
      for (const channel of CHANNELS) {
        const list = values[channel];
        if (list === undefined) continue;
        try {
          await writeAppProviders(store.db, config.masterKeys, id, channel, list, silentLog);
        } catch (e) {
          if (e instanceof ProviderConfigError) return usageError(`--${channel}: ${e.message}`);
          throw e;
        }
      }
      const lists = await readAppProviders(store.db, config.masterKeys, id);
      const shown = Object.fromEntries(CHANNELS.map((c) => [c, lists[c] ? splitProviderList(lists[c]!).map(redactProviderUrl) : null]));
      const given = CHANNELS.filter((c) => values[c] !== undefined);
      if (given.length > 0) await record('application.providers', id, { id }, { providers: Object.fromEntries(given.map((c) => [c, shown[c]])) });
      if (values.json) out(JSON.stringify({ id, ...shown }));
      else for (const c of CHANNELS) out(`${c}\t${shown[c]?.join(', ') ?? '(service providers)'}`);
      return 0;
    }
    if (command === 'apps' && sub === 'callback') {
      const id = appIdOf(values.app);
      if (id === undefined) return usageError('apps callback needs --app ID');
      let app = await apps.find(id);
      if (!app) return noApplication(id);
      const method = (values.method ?? app.onetouchCallback?.method ?? 'POST').toUpperCase();
      if (method !== 'GET' && method !== 'POST') return usageError('--method must be POST or GET');
      if (values.url !== undefined || values.method !== undefined) {
        const url = values.url === undefined ? (app.onetouchCallback?.url ?? null) : values.url.trim() || null;
        const was = view(app);
        const result = await apps.setCallback(id, url, method, new Destinations(config.allowPrivateNetworks));
        if (typeof result === 'string') return usageError(result);
        app = result!;
        await recordChange('application.callback', id, was);
      }
      const cb = app.onetouchCallback;
      out(values.json ? JSON.stringify({ id, url: cb?.url ?? null, method: cb?.method ?? null }) : cb ? `${cb.method} ${cb.url}` : 'No OneTouch callback.');
      return 0;
    }
    if (command === 'apps' && sub === 'dashboard-keys') {
      const id = appIdOf(values.app);
      if (id === undefined) return usageError('apps dashboard-keys needs --app ID');
      const keys = await apps.rotateDashboardKeys(id);
      if (!keys) return noApplication(id);
      await record('application.dashboard_keys_replaced', id, { id });
      out(values.json ? JSON.stringify({ id, access_key: keys.accessKey, signing_key: keys.signingKey }) : `Access key: ${keys.accessKey}\nAPI signing key: ${keys.signingKey}\nKeep them secret: they are shown only now.`);
      return 0;
    }
    if (command === 'outbox') {
      const appId = values.app === undefined ? undefined : Number(values.app);
      const limit = values.limit === undefined ? 20 : Number(values.limit);
      if ((appId !== undefined && !Number.isInteger(appId)) || !Number.isInteger(limit) || limit < 1) return usageError('outbox [--app ID] [--limit N]');
      await contacts();
      const { Outbox } = await import('../delivery/outbox.ts');
      const messages = await new Outbox(store.db, store.dialect, config.masterKeys).recent({ appId, limit });
      for (const m of messages) {
        if (values.json) out(JSON.stringify(m));
        else out(`${m.created_at}  ${m.id}  ${m.channel}  ${m.destination}  ${m.status}  ${m.provider ?? '-'}  attempts ${m.attempts}${m.provider_result ? `  (${m.provider_result})` : ''}${m.fallback_id ? `  → ${m.fallback_id}` : ''}${m.text === undefined ? '' : `\n    ${m.text.replace(/\n/g, '\n    ')}`}`);
      }
      if (!values.json && messages.length === 0) out('The outbox is empty.');
      return 0;
    }
    if (command === 'users' && sub === 'import') {
      const id = appIdOf(values.app);
      if (id === undefined || !values.file) return usageError('users import needs --app ID and --file FILE (- for standard input)');
      const app = await apps.find(id);
      if (!app) return noApplication(id);
      const code = await importUsersCommand(store, config.masterKeys[0], await contacts(), app, values.file, values['dry-run'] === true, values.json === true);
      if (values['dry-run'] !== true) await record('users.import', id, { id }, { file: values.file === '-' ? 'standard input' : values.file, exit_code: code });
      return code;
    }
    if (command === 'keys' && sub === 'reseal') {
      const { resealAll, sealedByKey } = await import('../admin/reseal.ts');
      await contacts().catch(() => undefined); // a key that opens nothing: the report below says so
      const reports = await resealAll(store.db, config.masterKeys, (r) => {
        if (values.json) out(JSON.stringify(r));
        else if (r.resealed || r.failed) out(`${r.table}.${r.column}: ${r.resealed} sealed again${r.failed ? `, ${r.failed} could not be opened` : ''}`);
      });
      const failed = reports.reduce((n, r) => n + r.failed, 0);
      // The audit trail is chained again under the current key, once it verifies with the keys that wrote it.
      const chained = await trail.rechain();
      if (chained.report) process.stderr.write(`The audit trail does not verify (${chained.report.problems.length} problems: see openfactor audit verify): left chained as it was; keep the previous keys.\n`);
      else if (values.json) out(JSON.stringify({ table: 'audit_log', rechained: chained.rechained }));
      else if (chained.rechained) out(`audit_log: ${chained.rechained} entries chained again`);
      await record('keys.reseal', null, { key: config.masterKeys[0].id }, { resealed: reports.reduce((n, r) => n + r.resealed, 0), failed, audit_entries_chained_again: chained.rechained, audit_refused: chained.report !== undefined, ...(chained.before ? { audit_head_before: chained.before.head, audit_entries_by_key_before: chained.before.byKey } : {}) });
      const left = Object.entries(await sealedByKey(store.db)).filter(([kid]) => kid !== config.masterKeys[0].id);
      const summary = `${reports.reduce((n, r) => n + r.resealed, 0)} values sealed again with key ${config.masterKeys[0].id}; ${
        left.length
          ? `still sealed with other keys: ${left.map(([kid, n]) => `${kid} (${n})`).join(', ')}`
          : chained.report
            ? 'no value is sealed with another key, but the audit trail is still chained with them: keep them'
            : 'no value is sealed with another key: previous keys can be dropped'
      }.`;
      if (values.json) out(JSON.stringify({ key: config.masterKeys[0].id, failed, others: Object.fromEntries(left) }));
      else out(summary);
      return failed > 0 || chained.report ? 1 : 0;
    }
    if (command === 'keys' && sub === 'rotate') {
      const id = appIdOf(values.app);
      if (id === undefined) return usageError('keys rotate needs --app ID');
      const apiKey = await apps.rotateKey(id);
      if (!apiKey) return noApplication(id);
      await record('application.api_key_replaced', id, { id });
      out(values.json ? JSON.stringify({ id, api_key: apiKey }) : `New API key for application ${id}: ${apiKey}\nThe old key no longer works.`);
      return 0;
    }
    if (command === 'verify') return await verifyCommand(new VerifyCredentials(store.db, config.masterKeys), positionals.slice(1), values, record);
    if (command === 'audit') return await auditCommand(trail, sub, values);
    if (command === 'admins') {
      const { AdminAccounts } = await import('../admin/accounts.ts');
      const { consoleApprovals } = await import('../admin/approvals.ts');
      return await adminsCommand(new AdminAccounts(store.db, config.masterKeys, config.adminSessions, consoleApprovals(store.db, apps)), apps, sub, values, record);
    }
    if (command === 'tokens') return await tokensCommand(new AdminTokens(store.db), apps, sub, values, record);
    return usageError(`unknown command: ${positionals.join(' ')}`);
  } finally {
    if (command !== 'serve') await store.close();
  }
}

/** `users import`: progress on stderr once a second, failures (or with --json every outcome) on stdout. */
async function importUsersCommand(store: ReturnType<typeof openStore>, key: MasterKey, contacts: Contacts, app: Application, file: string, dryRun: boolean, json: boolean): Promise<number> {
  const { importUsers, largestAuthyId } = await import('../features/users/import.ts');
  // A generator opens the file only when iteration begins: readline drops lines nobody iterates yet.
  async function* read() {
    yield* createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
  }
  // Kept ids are reserved before the first line goes in, so the API cannot hand one out meanwhile:
  // a file is read twice; standard input, once, into memory.
  let lines: AsyncIterable<string> | string[] = read();
  let reserveUpTo = 0;
  if (file === '-') {
    const all: string[] = [];
    for await (const l of lines) all.push(l);
    lines = all;
    reserveUpTo = largestAuthyId(all);
  } else {
    for await (const l of lines) reserveUpTo = Math.max(reserveUpTo, largestAuthyId([l]));
    lines = read();
  }
  const start = performance.now();
  let last = start;
  let done = 0;
  const progress = (s: { created: number; existing: number; failed: number }, final = false) => {
    const secs = (performance.now() - start) / 1000;
    process.stderr.write(`${dryRun ? '[dry run] ' : ''}${done.toLocaleString('en')} users: ${s.created.toLocaleString('en')} created, ${s.existing.toLocaleString('en')} already there, ${s.failed.toLocaleString('en')} failed (${Math.round(done / Math.max(secs, 0.001)).toLocaleString('en')}/s)${final ? '' : '…'}\n`);
  };
  const counts = { created: 0, existing: 0, failed: 0 };
  const summary = await importUsers({ db: store.db, dialect: store.dialect, key, contacts }, app, lines, {
    dryRun,
    reserveUpTo,
    inWorker: true,
    onOutcome: (o) => {
      done++;
      counts[o.status]++;
      if (json) out(JSON.stringify(o));
      else if (o.status === 'failed') out(`line ${o.line}: ${o.reason}`);
      if (performance.now() - last >= 1000) {
        last = performance.now();
        progress(counts);
      }
    },
  });
  progress(summary, true);
  if (dryRun) process.stderr.write('Dry run: nothing was written.\n');
  return summary.failed > 0 ? 1 : 0;
}

function nameTaken(name: string): number {
  process.stderr.write(`Another application is already named "${name}" (names are compared trimmed and ignoring case).\n`);
  return 1;
}

function usageError(message: string): number {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  return 2;
}

/** `verify accounts create|list`, `verify keys create|list`: Twilio Verify v2 credentials; secrets are printed once. */
type Record_ = (action: string, appId: number | null, target: Record<string, unknown>, detail?: Record<string, unknown>) => Promise<number>;

/** Who made a change from the command line, as the audit trail names them. */
function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return `cli (${user}@${hostname()})`;
}

async function verifyCommand(credentials: VerifyCredentials, [what, action]: string[], values: Args['values'], record: Record_): Promise<number> {
  if (what === 'accounts' && action === 'create') {
    const name = values.name?.trim();
    if (!name) return usageError('verify accounts create needs --name NAME');
    const a = await credentials.createAccount(name);
    await record('verify.account_create', null, { sid: a.sid }, { name });
    out(values.json ? JSON.stringify({ account_sid: a.sid, auth_token: a.authToken, name }) : `Created Verify account ${a.sid} "${name}".\nAuth token: ${a.authToken}\nKeep it secret: it is shown only now.`);
    return 0;
  }
  if (what === 'accounts' && action === 'list') {
    for (const a of await credentials.accounts()) out(values.json ? JSON.stringify(a) : `${a.sid}\t${a.name}\t${a.date_created}`);
    return 0;
  }
  if (what === 'keys' && (action === 'create' || action === 'list')) {
    const account = values.account?.trim();
    if (!account) return usageError(`verify keys ${action} needs --account AC…`);
    if (action === 'list') {
      const keys = await credentials.keysOf(account);
      if (!keys) return noVerifyAccount(account);
      for (const k of keys) out(values.json ? JSON.stringify(k) : `${k.sid}\t${k.name}\t${k.date_created}`);
      return 0;
    }
    const name = values.name?.trim() || 'API key';
    const k = await credentials.createKey(account, name);
    if (!k) return noVerifyAccount(account);
    await record('verify.api_key_create', null, { sid: account, key: k.sid }, { name });
    out(values.json ? JSON.stringify({ sid: k.sid, secret: k.secret, account_sid: k.accountSid, name }) : `Created API key ${k.sid} "${name}" of ${k.accountSid}.\nSecret: ${k.secret}\nKeep it secret: it is shown only now.`);
    return 0;
  }
  return usageError(`unknown command: verify ${[what, action].filter(Boolean).join(' ')}`);
}

/** `audit verify` (the chain whole, or where it breaks: exit 1) and `audit export` (JSON lines). */
async function auditCommand(trail: AuditTrail, sub: string | undefined, values: Args['values']): Promise<number> {
  if (sub === 'verify') {
    const r = await trail.verify();
    if (values.json) out(JSON.stringify(r));
    else {
      out(`${r.entries} entries${r.first_id === null ? '' : ` (${r.first_id}–${r.last_id})`}: ${r.problems.length === 0 ? 'the chain is whole.' : `${r.problems.length} problem(s):`}`);
      for (const p of r.problems) out(`  ${p.id === null ? '' : `entry ${p.id}: `}${p.problem.replace(/_/g, ' ')}`);
    }
    return r.problems.length === 0 ? 0 : 1;
  }
  if (sub === 'export') {
    const appId = values.app === undefined ? undefined : appIdOf(values.app);
    if (values.app !== undefined && appId === undefined) return usageError('audit export [--app ID]');
    // Oldest first, a page at a time: the file grows in the trail's order.
    const all: string[] = [];
    for (let below: number | undefined; ; ) {
      const page = await trail.search({ appId }, 500, below);
      all.push(...page.rows.map((e) => JSON.stringify(auditView(e))));
      if (!page.more) break;
      below = Number(page.rows[page.rows.length - 1].id);
    }
    for (const line of all.reverse()) out(line);
    return 0;
  }
  return usageError(`unknown command: audit ${sub ?? ''}`.trim());
}

/** `admins add|list|disable`: administrators' accounts; add reads the password from standard input. */
async function adminsCommand(accounts: import('../admin/accounts.ts').AdminAccounts, apps: Applications, sub: string | undefined, values: Args['values'], record: Record_): Promise<number> {
  const { accountView } = await import('../admin/accounts.ts');
  if (sub === 'add') {
    const appId = values.app === undefined ? null : (appIdOf(values.app) ?? -1);
    if (appId === -1 || (appId !== null && !(await apps.find(appId)))) return usageError('--app must be an application id');
    // The password comes on standard input (never on the command line, where `ps` would show it).
    const password = values['sso-only'] ? undefined : process.stdin.isTTY ? undefined : (await readStdin()).split(/\r?\n/)[0];
    if (!password && !values['sso-only']) return usageError('admins add reads the password from standard input: printf %s "$PASSWORD" | openfactor admins add --email … --role …');
    const made = await accounts.add({ email: values.email, name: values.name, password, role: values.role, appId });
    if (!made.ok) return usageError(`--${made.field} ${made.reason}`);
    await record('admin.account_create', appId, { account_id: made.id }, { email: made.email, role: values.role });
    if (values.json) out(JSON.stringify({ id: made.id, email: made.email, otpauth_uri: made.otpauth }));
    else {
      const QRCode = (await import('qrcode')).default;
      out(`Added administrator ${made.id} (${made.email}).\nTheir authenticator (scan it, or add the link to the app), shown only now:\n${made.otpauth}\n${await QRCode.toString(made.otpauth, { type: 'terminal', small: true })}`);
    }
    return 0;
  }
  if (sub === 'list') {
    for (const a of (await accounts.list()).map(accountView)) {
      out(values.json ? JSON.stringify(a) : `${a.id}\t${a.email}\t${a.role}${a.app_id === null ? '' : ` (application ${a.app_id})`}\t${a.disabled_at ? `disabled ${a.disabled_at}` : `last sign-in ${a.last_sign_in_at ?? 'never'}`}`);
    }
    return 0;
  }
  if (sub === 'onetouch') {
    const id = appIdOf(values.id);
    const device = values.off ? null : { appId: appIdOf(values.app), authyId: appIdOf(values['authy-id']) };
    if (id === undefined || (device && (device.appId === undefined || device.authyId === undefined))) return usageError('admins onetouch needs --id ID and --app ID --authy-id ID, or --off');
    const done = await accounts.linkDevice(id, device && { appId: device.appId!, authyId: device.authyId! });
    if (done !== 'done') {
      process.stderr.write(done === 'no_account' ? `No administrator ${id}.\n` : 'That user has no registered device, or the application has OneTouch off.\n');
      return 1;
    }
    await record('admin.account_onetouch', null, { account_id: id }, device ? { app_id: device.appId, authy_id: device.authyId } : { off: true });
    out(device ? `Administrator ${id} approves sign-ins on the devices of user ${device.authyId} (application ${device.appId}).` : `Administrator ${id}: OneTouch unlinked; the authenticator's code remains.`);
    return 0;
  }
  if (sub === 'disable') {
    const id = appIdOf(values.id);
    if (id === undefined) return usageError('admins disable needs --id ID');
    if (!(await accounts.disable(id))) {
      process.stderr.write(`No active administrator ${id}.\n`);
      return 1;
    }
    await record('admin.account_disable', null, { account_id: id });
    out(values.json ? JSON.stringify({ id, disabled: true }) : `Administrator ${id} disabled; their sessions ended.`);
    return 0;
  }
  return usageError(`unknown command: admins ${sub ?? ''}`.trim());
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `tokens create|list|revoke`: API tokens for automation. */
async function tokensCommand(tokens: AdminTokens, apps: Applications, sub: string | undefined, values: Args['values'], record: Record_): Promise<number> {
  if (sub === 'create') {
    const appId = values.app === undefined ? null : (appIdOf(values.app) ?? -1);
    if (appId === -1) return usageError('--app must be an application id');
    const made = await tokens.create({ name: values.name, role: values.role, appId, createdBy: cliActor() }, async (id) => (await apps.find(id)) !== undefined);
    if (!made.ok) return usageError(`--${made.field === 'app_id' ? 'app' : made.field} ${made.reason}`);
    await record('token.create', appId, { token_id: made.id }, { name: values.name, role: values.role });
    out(values.json ? JSON.stringify({ id: made.id, token: made.token }) : `Created API token ${made.id}.
Token: ${made.token}
Keep it secret: it is shown only now.`);
    return 0;
  }
  if (sub === 'list') {
    for (const t of (await tokens.list()).map(tokenView)) {
      out(values.json ? JSON.stringify(t) : `${t.id}	${t.name}	${t.role}${t.app_id === null ? '' : ` (application ${t.app_id})`}	${t.revoked_at ? `revoked ${t.revoked_at}` : `last used ${t.last_used_at ?? 'never'}`}`);
    }
    return 0;
  }
  if (sub === 'revoke') {
    const id = appIdOf(values.id);
    if (id === undefined) return usageError('tokens revoke needs --id ID');
    if (!(await tokens.revoke(id))) {
      process.stderr.write(`No live API token ${id}.\n`);
      return 1;
    }
    await record('token.revoke', null, { token_id: id });
    out(values.json ? JSON.stringify({ id, revoked: true }) : `API token ${id} revoked.`);
    return 0;
  }
  return usageError(`unknown command: tokens ${sub ?? ''}`.trim());
}

function noVerifyAccount(sid: string): number {
  process.stderr.write(`No Verify account ${sid}.\n`);
  return 1;
}
