// The admin console: sign in with the admin token, then applications (create, settings, API key,
// OneTouch callback), their users, traffic per day and callback deliveries. Every text that comes
// from the API goes into the page as text (never as HTML): names and emails are customers' input.
import { h, show as showIn, type Child } from '../../shared/dom.ts';
import { api, ApiError, token, type Application, type TrafficDay, type User } from './api.ts';

const view = document.getElementById('view')!;
const signOut = document.getElementById('sign-out')!;

const show = (...children: Child[]) => showIn(view, ...children);

/** Says in `status` that the change was made. */
function done(status: HTMLElement, text: string): void {
  status.className = 'ok';
  status.textContent = text;
}

/** A form's submit handler: the page stays, and `work` runs as `attempt` runs it. */
const onSubmit = (status: HTMLElement, work: () => Promise<void>) => (e: Event) => {
  e.preventDefault();
  void attempt(status, work);
};

/** Runs `work`; an API refusal is shown in `where` (a 401 sends the operator back to sign in). */
async function attempt(where: HTMLElement, work: () => Promise<void>): Promise<void> {
  where.textContent = '';
  try {
    await work();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signInView('That token was refused.');
    where.className = 'error';
    where.textContent = e instanceof Error ? e.message : String(e);
  }
}

const SETTING_LABELS: Record<string, string> = {
  tokenLength: 'Token length (digits)',
  codeTtlSeconds: 'SMS/voice code validity (s)',
  genericTokensEnabled: 'Authenticator apps by QR',
  verifyMaxFailures: 'Wrong tokens before lockout',
  verifyFailureWindowSeconds: '…within (s)',
  verifyLockoutSeconds: 'Lockout (s)',
  sendsPerHour: 'Codes per user per hour',
  smsFallbackToVoice: 'Call when an SMS fails',
  syncTokens: 'Authenticators registered by phone get this application\'s accounts',
  numberMatching: 'OneTouch number matching',
  customMessageAllowed: 'Custom SMS texts',
  customCodeAllowed: 'Custom codes',
  phoneExportEnabled: 'Phone-number export (migrations)',
  dailySendBudget: 'Messages per day',
  sendsPerNumberHour: 'Messages per number per hour',
  sendsPerNumberDay: 'Messages per number per day',
  prefixSendsPerWindow: 'Messages per prefix per 10 min (floor)',
  countrySendsPerWindow: 'Messages per country per 10 min (floor)',
  unregisteredVerifyLegacy: 'Authy\'s "Not checked" for unregistered users',
  recoveryCodesOnDevices: 'Users may print recovery codes from the authenticator',
};

function signInView(problem?: string): void {
  token.clear();
  signOut.hidden = true;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, 'aria-label': 'Admin token' }) as HTMLInputElement;
  const status = h('p', { class: problem ? 'error' : '' }, problem);
  show(
    h(
      'section',
      {},
      h('h1', {}, 'Sign in'),
      h('p', {}, 'The admin token is in ', h('code', {}, 'data/admin.token'), ' or OPENFACTOR_ADMIN_TOKEN.'),
      h(
        'form',
        {
          onsubmit: onSubmit(status, async () => {
            token.set(input.value.trim());
            await api.applications();
            location.hash = '#/';
            route();
          }),
        },
        input,
        ' ',
        h('button', { type: 'submit' }, 'Sign in'),
      ),
      status,
    ),
  );
}

async function applicationsView(): Promise<void> {
  const status = h('p');
  const list = h('tbody');
  const name = h('input', { name: 'name', required: true, maxlength: 64, 'aria-label': 'New application name', placeholder: 'Name' }) as HTMLInputElement;
  const created = h('div');
  show(
    h('h1', {}, 'Applications'),
    h(
      'section',
      {},
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Name'), h('th', {}, 'Created'))), list),
    ),
    h(
      'section',
      {},
      h('h2', {}, 'New application'),
      h(
        'form',
        {
          onsubmit: onSubmit(status, async () => {
            const r = await api.create(name.value);
            name.value = '';
            created.replaceChildren(
              h('p', {}, `Created “${r.application.name}”. Its API key, shown only now:`),
              h('p', { class: 'secret', 'data-testid': 'new-api-key' }, r.api_key),
            );
            await fill();
          }),
        },
        name,
        ' ',
        h('button', { type: 'submit' }, 'Create'),
      ),
      created,
      status,
    ),
  );
  const fill = async () => {
    const apps = await api.applications();
    list.replaceChildren(
      ...apps.map((a) => h('tr', {}, h('td', {}, String(a.id)), h('td', {}, h('a', { href: `#/apps/${a.id}` }, a.name)), h('td', {}, a.created_at.slice(0, 10)))),
    );
  };
  await attempt(status, fill);
}

function settingsForm(app: Application, onSaved: (a: Application) => void): HTMLElement {
  const status = h('p');
  const inputs = Object.entries(app.settings).map(([name, value]) => {
    const input = (typeof value === 'boolean'
      ? h('input', { type: 'checkbox', name, checked: value })
      : h('input', { type: 'number', name, value, min: 0, step: 1 })) as HTMLInputElement;
    return { name, input, boolean: typeof value === 'boolean' };
  });
  return h(
    'section',
    {},
    h('h2', {}, 'Settings'),
    h(
      'form',
      {
        class: 'settings',
        onsubmit: onSubmit(status, async () => {
          const patch = Object.fromEntries(inputs.map((i) => [i.name, i.boolean ? i.input.checked : Number(i.input.value)]));
          onSaved(await api.saveSettings(app.id, patch));
          done(status, 'Saved.');
        }),
      },
      ...inputs.map((i) => h('label', {}, SETTING_LABELS[i.name] ?? i.name, i.input)),
      h('div', {}, h('button', { type: 'submit' }, 'Save settings')),
    ),
    status,
  );
}

/** A section whose button replaces secrets after a confirmation and shows the new ones once. */
function replaceSection(title: string, intro: string, button: string, question: string, replace: () => Promise<Node[]>): HTMLElement {
  const status = h('p');
  const shown = h('div');
  return h(
    'section',
    {},
    h('h2', {}, title),
    h('p', {}, intro),
    h('button', {
      onclick: () => {
        if (!confirm(question)) return;
        void attempt(status, async () => shown.replaceChildren(...(await replace())));
      },
    }, button),
    shown,
    status,
  );
}

const keySection = (app: Application) =>
  replaceSection('API key', 'A new key works at once; the old one is refused from then on.', 'Replace the API key',
    `Replace the API key of “${app.name}”? Clients using the old key stop working.`,
    async () => [h('p', {}, 'The new key, shown only now:'), h('p', { class: 'secret', 'data-testid': 'rotated-api-key' }, await api.rotateKey(app.id))]);

/** The webhooks API's access key and signing key. */
const dashboardKeysSection = (app: Application) =>
  replaceSection('Webhooks API keys', 'For the webhooks API (Authy\'s dashboard keys); the old ones stop working at once.', 'Replace the webhooks API keys',
    'Replace the webhooks API keys? The old ones stop working at once.',
    async () => {
      const k = await api.rotateDashboardKeys(app.id);
      return [h('p', {}, 'Access key, shown only now:'), h('p', { class: 'secret' }, k.access_key), h('p', {}, 'API signing key:'), h('p', { class: 'secret' }, k.signing_key), h('p', { class: 'ok' }, 'Keys replaced.')];
    });

function callbackSection(app: Application): HTMLElement {
  const status = h('p');
  const url = h('input', { name: 'callback_url', type: 'url', size: 50, value: app.onetouch_callback?.url ?? '', placeholder: 'https://you.example/authy/callback', 'aria-label': 'Callback URL' }) as HTMLInputElement;
  const method = h('select', { name: 'callback_method', 'aria-label': 'Callback method' }, h('option', {}, 'POST'), h('option', {}, 'GET')) as HTMLSelectElement;
  method.value = app.onetouch_callback?.method ?? 'POST';
  return h(
    'section',
    {},
    h('h2', {}, 'OneTouch callback'),
    h(
      'form',
      {
        onsubmit: onSubmit(status, async () => {
          const saved = await api.setCallback(app.id, url.value.trim() || null, method.value);
          done(status, saved.onetouch_callback ? `Answers go to ${saved.onetouch_callback.method} ${saved.onetouch_callback.url}.` : 'No callback.');
        }),
      },
      url,
      ' ',
      method,
      ' ',
      h('button', { type: 'submit' }, 'Save callback'),
    ),
    status,
  );
}

function countriesSection(app: Application): HTMLElement {
  const status = h('p');
  const input = h('input', { name: 'countries', size: 40, value: app.allowed_countries.join(', '), placeholder: 'PT, BR, US (empty: everywhere)', 'aria-label': 'Allowed countries' }) as HTMLInputElement;
  return h(
    'section',
    {},
    h('h2', {}, 'Countries'),
    h('p', {}, 'Codes go only to numbers in these countries (ISO codes). Empty: everywhere.'),
    h(
      'form',
      {
        onsubmit: onSubmit(status, async () => {
          const list = input.value.split(/[\s,]+/).filter(Boolean);
          const saved = await api.setCountries(app.id, list);
          input.value = saved.allowed_countries.join(', ');
          done(status, saved.allowed_countries.length ? `Only ${saved.allowed_countries.join(', ')}.` : 'Everywhere.');
        }),
      },
      input,
      ' ',
      h('button', { type: 'submit' }, 'Save countries'),
    ),
    status,
  );
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Messages per day, stacked by channel: one bar a day. */
function trafficChart(days: TrafficDay[]): SVGElement {
  const channels = ['sms', 'voice', 'email'];
  const total = (d: TrafficDay, c: string) => Object.values(d.messages[c] ?? {}).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...days.map((d) => channels.reduce((a, c) => a + total(d, c), 0)));
  const width = 640;
  const height = 160;
  const bar = width / days.length;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height + 16}`, width: '100%', role: 'img', 'aria-label': 'Messages per day' });
  days.forEach((d, i) => {
    let y = height;
    for (const c of channels) {
      const n = total(d, c);
      if (n === 0) continue;
      const hgt = (n / max) * (height - 12);
      y -= hgt;
      const rect = svg('rect', { class: c, x: i * bar + 2, y, width: bar - 4, height: hgt, 'data-date': d.date, 'data-count': n });
      rect.append(svg('title', {}, `${d.date}: ${n} ${c}`));
      chart.append(rect);
    }
    if (days.length <= 31 && (i % Math.ceil(days.length / 8) === 0 || i === days.length - 1)) chart.append(svg('text', { x: i * bar + 2, y: height + 12 }, d.date.slice(5)));
  });
  chart.append(svg('text', { x: 2, y: 10 }, `max ${max}`));
  return chart;
}

async function trafficSection(app: Application): Promise<HTMLElement> {
  const days = await api.traffic(app.id, 14);
  const sum = (pick: (d: TrafficDay) => number) => days.reduce((a, d) => a + pick(d), 0);
  const messages = sum((d) => Object.values(d.messages).reduce((a, by) => a + Object.values(by).reduce((x, y) => x + y, 0), 0));
  const blocked = sum((d) => Object.values(d.messages).reduce((a, by) => a + (by.blocked ?? 0), 0));
  const approvals = sum((d) => Object.values(d.approvals).reduce((a, b) => a + b, 0));
  return h(
    'section',
    {},
    h('h2', {}, 'Traffic, last 14 days'),
    h('p', { 'data-testid': 'traffic-summary' }, `${messages} messages (${blocked} blocked by the pumping defence), ${approvals} approval requests.`),
    trafficChart(days),
    h('p', { class: 'legend' }, h('span', { class: 'sms' }, '■ SMS'), h('span', { class: 'voice' }, '■ voice'), h('span', { class: 'email' }, '■ email')),
  );
}

async function usersSection(app: Application): Promise<HTMLElement> {
  const body = h('tbody');
  const more = h('button', { hidden: true }, 'More');
  const count = h('p');
  let next: number | null = null;
  const status = h('p');
  // A user locked out of verification (too many wrong tokens), with the button that ends it.
  const lockCell = (u: User): Child => {
    if (!u.locked_until) return '';
    const cell = h('span', {}, `locked until ${u.locked_until.replace('T', ' ').slice(0, 16)} UTC `);
    cell.append(h('button', { onclick: () => void attempt(status, async () => (await api.unlock(app.id, u.id), cell.replaceChildren('unlocked'))) }, `Unlock ${u.id}`));
    return cell;
  };
  // Opened below its row: the other addresses, and what the application recorded (register_activity).
  const details = (u: User, row: HTMLElement) => async () => {
    const open = row.nextElementSibling?.classList.contains('details') ? row.nextElementSibling : undefined;
    if (open) return void open.remove();
    const d = await api.user(app.id, u.id);
    const lines = d.activities.map((a) => h('li', {}, `${a.created_at.replace('T', ' ').slice(0, 16)} UTC  ${a.type}${a.user_ip ? ` from ${a.user_ip}` : ''}  ${JSON.stringify(a.data)}`));
    row.after(
      h('tr', { class: 'details' }, h('td', { colspan: '7' },
        h('p', {}, d.user.other_emails.length ? `Also registered as: ${d.user.other_emails.join(', ')}` : 'No other addresses.'),
        lines.length ? h('ul', { 'aria-label': `Activity of ${u.id}` }, ...lines) : h('p', {}, 'No activity recorded.'))),
    );
  };
  const load = async () => {
    const page = await api.users(app.id, next ?? undefined);
    count.textContent = `${page.total} users`;
    body.append(
      ...page.users.map((u) => {
        const row = h('tr', {}, h('td', {}, String(u.id)), h('td', {}, u.email), h('td', {}, u.cellphone), h('td', {}, String(u.devices)), h('td', {}, lockCell(u)), h('td', {}, u.created_at.slice(0, 10)));
        row.append(h('td', {}, h('button', { onclick: () => void attempt(status, details(u, row)) }, `Activity of ${u.id}`)));
        return row;
      }),
    );
    next = page.next_before_id;
    more.hidden = next === null;
  };
  more.addEventListener('click', () => void load());
  await load();
  return h(
    'section',
    {},
    h('h2', {}, 'Users'),
    count,
    h('table', { 'data-testid': 'users' }, h('thead', {}, h('tr', {}, ...['Authy id', 'Email', 'Phone', 'Devices', 'Verification', 'Created', ''].map((t) => h('th', {}, t)))), body),
    more,
    status,
  );
}

/** A section with a table of `rows` (cells as text), or "None yet." */
function listSection(title: string, testId: string, headers: string[], rows: string[][]): HTMLElement {
  return h(
    'section',
    {},
    h('h2', {}, title),
    rows.length === 0
      ? h('p', {}, 'None yet.')
      : h(
          'table',
          { 'data-testid': testId },
          h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))),
          h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c))))),
        ),
  );
}

async function messagesSection(app: Application): Promise<HTMLElement> {
  const list = await api.messages(app.id);
  return listSection(
    'Messages',
    'messages',
    ['When (UTC)', 'Channel', 'To', 'Status', 'Provider', 'Tries', 'Result'],
    list.map((m) => [m.created_at.replace('T', ' ').slice(0, 19), m.channel, m.to, m.status, m.provider ?? '', String(m.provider_attempts), m.result ?? '']),
  );
}

/** Users moved from Authy: a file of one JSON object per line (README "Moving your users from Authy"). */
function importSection(app: Application): HTMLElement {
  const status = h('p');
  const result = h('div');
  const file = h('input', { name: 'import_file', type: 'file', accept: '.jsonl,.ndjson,.txt,application/x-ndjson', 'aria-label': 'Users file' }) as HTMLInputElement;
  const dry = h('input', { name: 'import_dry_run', type: 'checkbox', checked: true }) as HTMLInputElement;
  return h(
    'section',
    {},
    h('h2', {}, 'Import users'),
    h('p', {}, 'One JSON object per line: authy_id (kept), email, cellphone and country_code or e164, and optionally authenticator_secret. Up to 64 MiB; for more, use `openfactor users import`.'),
    h(
      'form',
      {
        onsubmit: onSubmit(status, async () => {
          const chosen = file.files?.[0];
          if (!chosen) throw new Error('Choose a file first.');
          status.textContent = 'Importing…';
          const r = await api.importUsers(app.id, chosen, dry.checked);
          const s = r.summary;
          showIn(
            result,
            h('p', { 'data-testid': 'import-summary' }, `${s.lines} lines: ${s.created} created, ${s.existing} already there, ${s.failed} failed.`),
            r.failed.length > 0 &&
              h('table', { 'data-testid': 'import-failures' }, h('thead', {}, h('tr', {}, h('th', {}, 'Line'), h('th', {}, 'Why'))), h('tbody', {}, ...r.failed.map((f) => h('tr', {}, h('td', {}, String(f.line)), h('td', {}, f.reason))))),
          );
          done(status, r.message);
        }),
      },
      file,
      ' ',
      h('label', {}, dry, ' Dry run (write nothing)'),
      ' ',
      h('button', { type: 'submit' }, 'Import'),
    ),
    result,
    status,
  );
}

async function verificationsSection(app: Application): Promise<HTMLElement> {
  const list = await api.verifications(app.id);
  const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');
  return listSection(
    'Phone verifications',
    'verifications',
    ['Started (UTC)', 'Phone', 'Via', 'Status', 'Checks', 'Verified (UTC)'],
    list.map((v) => [when(v.created_at), v.phone, v.via, v.status, String(v.checks), when(v.verified_at)]),
  );
}

/** What the SMS-pumping defence closed, each with a button that reopens it. */
async function quarantinesSection(app: Application): Promise<HTMLElement> {
  const status = h('p');
  const body = h('tbody');
  const section = h(
    'section',
    {},
    h('h2', {}, 'Closed by the SMS-pumping defence'),
    h('p', {}, 'Lifting reopens a prefix or country at once and forgets its recent traffic; if the traffic goes on as before, it closes again.'),
    h('table', { 'data-testid': 'quarantines' }, h('thead', {}, h('tr', {}, ...['Prefix or country', 'Rule', 'Since (UTC)', 'Until (UTC)', ''].map((t) => h('th', {}, t)))), body),
    status,
  );
  const fill = async () => {
    const list = await api.quarantines(app.id);
    body.replaceChildren(
      ...list.map((q) =>
        h(
          'tr',
          {},
          h('td', {}, q.prefix),
          h('td', {}, q.rule),
          h('td', {}, q.since.replace('T', ' ').slice(0, 16)),
          h('td', {}, q.until.replace('T', ' ').slice(0, 16)),
          h('td', {}, h('button', { onclick: () => void attempt(status, async () => (await api.lift(app.id, q.prefix), await fill())) }, `Lift ${q.prefix}`)),
        ),
      ),
    );
    if (list.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, 'Nothing is closed.')));
  };
  await fill();
  return section;
}

const KIND_LABELS: Record<string, string> = {
  account_recovery: 'Account recovery',
  phone_change: 'Phone change',
  phone_change_without_device: 'Phone change without a device',
};

/** Lost phones (issue 17): pending phone changes and account recoveries; cancel, or shorten a wait with a reason. */
async function recoveriesSection(app: Application): Promise<HTMLElement> {
  const status = h('p');
  const body = h('tbody');
  const section = h(
    'section',
    {},
    h('h2', {}, 'Phone changes and account recoveries'),
    h('p', {}, 'Pending requests of this application\'s users. Cancel one the user did not ask for. Shortening a recovery\'s wait is logged with your reason.'),
    h('table', { 'data-testid': 'recoveries' }, h('thead', {}, h('tr', {}, ...['Kind', 'Users (Authy IDs)', 'Started (UTC)', 'Ends (UTC)', 'New device', ''].map((t) => h('th', {}, t)))), body),
    status,
  );
  const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').slice(0, 16) : '');
  const fill = async () => {
    const list = await api.recoveries(app.id);
    body.replaceChildren(
      ...list.map((r) => {
        const reason = h('input', { type: 'text', placeholder: 'Reason (required to shorten)', 'aria-label': `Reason to shorten ${r.id}` }) as HTMLInputElement;
        const actions = h(
          'td',
          {},
          h('button', { onclick: () => void attempt(status, async () => (await api.cancelRecovery(app.id, r.id), await fill())) }, 'Cancel'),
          ...(r.kind !== 'phone_change' && r.status === 'waiting'
            ? [reason, h('button', { onclick: () => void attempt(status, async () => (await api.shortenRecovery(app.id, r.id, 0, reason.value), await fill())) }, 'End the wait now')]
            : []),
        );
        return h(
          'tr',
          {},
          h('td', {}, KIND_LABELS[r.kind] ? `${KIND_LABELS[r.kind]}${r.kind === 'phone_change' ? '' : ` (${r.status})`}` : r.kind),
          h('td', {}, r.authy_ids.join(', ')),
          h('td', {}, when(r.started_at)),
          h('td', {}, when(r.completes_at ?? r.expires_at)),
          h('td', {}, r.device ? `${r.device.name ?? ''} (${r.device.os_type ?? ''})` : ''),
          actions,
        );
      }),
    );
    if (list.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 6 }, 'Nothing is pending.')));
  };
  await fill();
  return section;
}

async function deliveriesSection(app: Application): Promise<HTMLElement> {
  const list = await api.deliveries(app.id);
  return listSection(
    'Callbacks and webhooks',
    'deliveries',
    ['Kind', 'Event', 'URL', 'Status', 'Last attempt'],
    list.map((d) => {
      const last = d.attempts.at(-1);
      return [d.kind, d.event, d.url, d.status, last ? (last.error ?? `HTTP ${last.http_status}`) : ''];
    }),
  );
}

/** Webhooks: listed, made (the signing key shown once) and deleted. */
async function webhooksSection(app: Application): Promise<HTMLElement> {
  const status = h('p');
  const body = h('tbody');
  const shown = h('div');
  const { events } = await api.webhooks(app.id);
  const name = h('input', { name: 'webhook_name', placeholder: 'Name', 'aria-label': 'Webhook name', required: true }) as HTMLInputElement;
  const url = h('input', { name: 'webhook_url', type: 'url', size: 40, placeholder: 'https://you.example/authy/events', 'aria-label': 'Webhook URL', required: true }) as HTMLInputElement;
  const picks = h('select', { name: 'webhook_events', multiple: true, size: 6, 'aria-label': 'Webhook events' }, ...events.map((e) => h('option', { value: e }, e))) as HTMLSelectElement;
  const fill = async () => {
    const { webhooks } = await api.webhooks(app.id);
    body.replaceChildren(
      ...webhooks.map((w) =>
        h('tr', {}, h('td', {}, w.name), h('td', {}, w.url), h('td', {}, w.events.join(', ')), h('td', {}, w.created_at.slice(0, 10)),
          h('td', {}, h('button', { onclick: () => void attempt(status, async () => (await api.deleteWebhook(app.id, w.id), done(status, `Deleted ${w.name}.`), await fill())) }, `Delete ${w.name}`))),
      ),
    );
    if (webhooks.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, 'No webhooks.')));
  };
  await fill();
  return h(
    'section',
    {},
    h('h2', {}, 'Webhooks'),
    h('table', { 'data-testid': 'webhooks' }, h('thead', {}, h('tr', {}, ...['Name', 'URL', 'Events', 'Created', ''].map((t) => h('th', {}, t)))), body),
    h(
      'form',
      {
        onsubmit: onSubmit(status, async () => {
          const made = await api.createWebhook(app.id, name.value.trim(), url.value.trim(), [...picks.selectedOptions].map((o) => o.value));
          shown.replaceChildren(h('p', {}, `Signing key of ${made.name}, shown only now: `), h('p', { class: 'secret' }, made.signing_key));
          done(status, `Made ${made.name}.`);
          await fill();
        }),
      },
      name, ' ', url, ' ', picks, ' ',
      h('button', { type: 'submit' }, 'Add webhook'),
    ),
    shown,
    status,
  );
}

/** The application's own delivery providers per channel (empty: the service's). */
async function providersSection(app: Application): Promise<HTMLElement> {
  const status = h('p');
  const lists = await api.providers(app.id);
  const channels = ['sms', 'voice', 'email'] as const;
  const current = h('ul', { 'data-testid': 'providers' });
  const draw = (l: typeof lists) => current.replaceChildren(...channels.map((c) => h('li', {}, `${c}: ${l[c]?.join(', ') ?? 'the service\'s providers'}`)));
  draw(lists);
  const inputs = Object.fromEntries(channels.map((c) => [c, h('input', { name: `providers_${c}`, size: 50, placeholder: `${c}: provider URLs, comma-separated (empty: the service's)`, 'aria-label': `${c} providers` }) as HTMLInputElement]));
  return h(
    'section',
    {},
    h('h2', {}, 'Delivery providers'),
    h('p', {}, 'Credentials are never shown back. A channel left empty keeps its list; "-" returns it to the service\'s providers.'),
    current,
    h(
      'form',
      {
        onsubmit: onSubmit(status, async () => {
          const patch = Object.fromEntries(channels.filter((c) => inputs[c].value.trim()).map((c) => [c, inputs[c].value.trim() === '-' ? '' : inputs[c].value.trim()]));
          draw(await api.setProviders(app.id, patch));
          for (const c of channels) inputs[c].value = '';
          done(status, 'Providers saved.');
        }),
      },
      ...channels.flatMap((c) => [inputs[c], h('br')]),
      h('button', { type: 'submit' }, 'Save providers'),
    ),
    status,
  );
}

async function applicationView(id: number): Promise<void> {
  const status = h('p');
  show(h('p', {}, 'Loading…'), status);
  await attempt(status, async () => {
    const app = await api.application(id);
    const title = h('h1', {}, app.name);
    const [traffic, users, recoveries, messages, verifications, quarantines, deliveries, webhooks, providers] = await Promise.all([
      trafficSection(app),
      usersSection(app),
      recoveriesSection(app),
      messagesSection(app),
      verificationsSection(app),
      quarantinesSection(app),
      deliveriesSection(app),
      webhooksSection(app),
      providersSection(app),
    ]);
    show(
      h('p', {}, h('a', { href: '#/' }, '← Applications')),
      title,
      h('p', {}, `Application ${app.id}, created ${app.created_at.slice(0, 10)}.`),
      traffic,
      settingsForm(app, (saved) => (title.textContent = saved.name)),
      countriesSection(app),
      keySection(app),
      callbackSection(app),
      webhooks,
      dashboardKeysSection(app),
      providers,
      users,
      recoveries,
      importSection(app),
      messages,
      verifications,
      quarantines,
      deliveries,
    );
  });
  if (status.textContent) show(h('p', {}, h('a', { href: '#/' }, '← Applications')), status);
}

function route(): void {
  if (!token.get()) {
    signInView();
    return;
  }
  signOut.hidden = false;
  const m = /^#\/apps\/(\d+)$/.exec(location.hash);
  void (m ? applicationView(Number(m[1])) : applicationsView());
}

signOut.addEventListener('click', () => signInView());
window.addEventListener('hashchange', route);
route();
