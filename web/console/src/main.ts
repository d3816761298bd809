// The admin console: sign in with the admin token; the applications; per application a page for
// each concern (overview, users, devices, OneTouch requests, messages, phone verifications, lost
// phones, webhooks and callbacks, providers, the pumping defence, settings, keys), reached from
// the navigation. Every text that comes from the API goes into the page as text.
import { h, show as showIn, type Child } from '../../shared/dom.ts';
import { api, ApiError, session, token, type Application } from './api.ts';
import { attempt, done, field, onSubmit, pagedTable, secret, section, statusLine, whenRefused } from './ui.ts';
import { overviewPage } from './pages/overview.ts';
import { approvalsPage, devicesPage, importPage, recoveriesPage, usersPage } from './pages/people.ts';
import { messagesPage, verificationsPage } from './pages/logs.ts';
import { integrationsPage, providersPage } from './pages/integrations.ts';
import { defencePage, settingsPage } from './pages/settings.ts';
import { securityPage } from './pages/security.ts';
import { auditPage } from './pages/audit.ts';
import { verifyAccountPage, verifyAccountsPage, verifyFactorsPage, verifyVerificationsPage } from './pages/verify.ts';

const view = document.getElementById('view')!;
const nav = document.getElementById('nav')!;
const menu = document.getElementById('menu')!;
const signOut = document.getElementById('sign-out')!;
const NOTICE = 'openfactor-console-notice';

const show = (...children: Child[]) => showIn(view, ...children);

type PageOf = (app: Application, changed: (a: Application) => void) => Child[] | Promise<Child[]>;

/** The pages of an application, in the order of the navigation. */
const PAGES: { path: string; title: string; page: PageOf; verifyOnly?: true }[] = [
  { path: '', title: 'Overview', page: overviewPage },
  { path: 'users', title: 'Users', page: usersPage },
  { path: 'devices', title: 'Devices', page: devicesPage },
  { path: 'approvals', title: 'OneTouch requests', page: approvalsPage },
  { path: 'messages', title: 'Messages', page: messagesPage },
  { path: 'verifications', title: 'Phone verifications', page: verificationsPage },
  { path: 'verify', title: 'Verify verifications', page: verifyVerificationsPage, verifyOnly: true },
  { path: 'verify_factors', title: 'Verify factors', page: verifyFactorsPage, verifyOnly: true },
  { path: 'recoveries', title: 'Lost phones', page: recoveriesPage },
  { path: 'import', title: 'Import users', page: importPage },
  { path: 'webhooks', title: 'Webhooks and callbacks', page: integrationsPage },
  { path: 'providers', title: 'Providers', page: providersPage },
  { path: 'defence', title: 'Pumping defence', page: defencePage },
  { path: 'settings', title: 'Settings', page: settingsPage },
  { path: 'security', title: 'Keys and deletion', page: securityPage },
];

function signInView(problem?: string): void {
  token.clear();
  session.clear();
  signOut.hidden = true;
  menu.hidden = true;
  nav.replaceChildren();
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true }) as HTMLInputElement;
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true }) as HTMLInputElement;
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]{6,7}' }) as HTMLInputElement;
  const codeField = field('Code from your authenticator app', code);
  codeField.hidden = true;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true }) as HTMLInputElement;
  const status = h('p', { class: problem ? 'status error' : 'status', role: 'status' }, problem);
  const tokenStatus = h('p', { class: 'status', role: 'status' });
  const enter = () => {
    location.hash = '#/';
    route();
  };
  document.title = 'Sign in · OpenFactor console';
  show(
    h(
      'section',
      { class: 'sign-in' },
      h('h1', {}, 'Sign in'),
      h(
        'form',
        {
          class: 'stack-form',
          'aria-label': 'Sign in with your email and password',
          onsubmit: onSubmit(status, async () => {
            try {
              const r = await api.signIn(email.value.trim(), password.value, code.value.trim() || undefined);
              session.set(r.csrf_token);
              enter();
            } catch (e) {
              // The password was right and a code is asked for: the field appears, with the focus.
              if (e instanceof ApiError && /code your authenticator/.test(e.message) && codeField.hidden) {
                codeField.hidden = false;
                code.required = true;
                code.focus();
              }
              // Said beside the form: a refused sign-in is not a session that ended.
              throw e instanceof ApiError ? new Error(e.message) : e;
            }
          }),
        },
        field('Email', email),
        field('Password', password),
        codeField,
        h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
      ),
      status,
      h('h2', {}, 'Or with a token'),
      h('p', {}, 'An API token (', h('code', {}, 'openfactor tokens create'), '), or the break-glass admin token in ', h('code', {}, 'data/admin.token'), ' or ', h('code', {}, 'OPENFACTOR_ADMIN_TOKEN'), '. What you may do follows its role.'),
      h(
        'form',
        {
          class: 'row-form',
          'aria-label': 'Sign in with a token',
          onsubmit: onSubmit(tokenStatus, async () => {
            token.set(input.value.trim());
            await api.applications();
            enter();
          }),
        },
        field('Token', input),
        h('button', { type: 'submit' }, 'Use the token'),
      ),
      tokenStatus,
    ),
  );
  email.focus();
}
whenRefused((problem) => signInView(session.csrf() ? 'Your session has ended: sign in again.' : problem));

/** The navigation: the applications and Twilio Verify, and the pages of the application open. */
function drawNav(apps: Application[], current?: { app: Application; path: string; verify: boolean }, top: 'apps' | 'verify' | 'audit' | null = current ? null : 'apps'): void {
  const link = (href: string, text: string, here: boolean) => h('li', {}, h('a', { href, 'aria-current': here ? 'page' : false }, text));
  showIn(
    nav,
    h('ul', {}, link('#/', 'Applications', top === 'apps'), link('#/verify', 'Twilio Verify', top === 'verify'), link('#/audit', 'Audit trail', top === 'audit')),
    current &&
      h(
        'div',
        { class: 'app-nav' },
        h('p', { class: 'nav-title', id: 'nav-app' }, current.app.name),
        h(
          'ul',
          { 'aria-labelledby': 'nav-app' },
          ...PAGES.filter((p) => current.verify || !p.verifyOnly).map((p) => link(`#/apps/${current.app.id}${p.path ? `/${p.path}` : ''}`, p.title, p.path === current.path)),
        ),
      ),
    apps.length > 1 &&
      h(
        'div',
        { class: 'app-switch' },
        h('p', { class: 'nav-title', id: 'nav-apps' }, 'Switch to'),
        h('ul', { 'aria-labelledby': 'nav-apps' }, ...apps.filter((a) => a.id !== current?.app.id).slice(0, 12).map((a) => link(`#/apps/${a.id}${current?.path ? `/${current.path}` : ''}`, a.name, false))),
      ),
  );
}

async function applicationsView(): Promise<void> {
  const status = statusLine();
  const name = h('input', { name: 'name', required: true, maxlength: 64 }) as HTMLInputElement;
  const created = h('div');
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  // Searched and paged by the admin API, like every other table.
  const table = pagedTable<Application>({
    testId: 'applications',
    caption: 'Applications',
    noun: ['application', 'applications'],
    columns: [
      { label: 'Name', cell: (a) => h('a', { href: `#/apps/${a.id}` }, a.name) },
      { label: 'Id', cell: (a) => String(a.id) },
      { label: 'Created', cell: (a) => a.created_at.slice(0, 10) },
    ],
    filters: [{ name: 'q', label: 'Find an application', placeholder: 'Name or id' }],
    load: (params) => api.applicationsPage(params),
    empty: 'No application matches (or none yet: create the first below).',
  });
  const fill = async () => {
    apps = await api.applications();
    drawNav(apps);
  };
  document.title = 'Applications · OpenFactor console';
  show(
    h('h1', {}, 'Applications'),
    notice && h('p', { class: 'status ok', role: 'status' }, notice),
    section('Your applications', null, table.element),
    section(
      'New application',
      'Each application has its own API key, users and settings.',
      h(
        'form',
        {
          class: 'row-form',
          onsubmit: onSubmit(status, async () => {
            const r = await api.create(name.value.trim());
            name.value = '';
            showIn(created, secret(`Created “${r.application.name}”. Its API key, shown only now:`, r.api_key, 'new-api-key'));
            done(status, `Created “${r.application.name}”.`);
            await Promise.all([fill(), table.reload()]);
          }),
        },
        field('Name', name),
        h('button', { type: 'submit', class: 'primary' }, 'Create'),
      ),
      created,
      status,
    ),
  );
  await attempt(status, fill);
  await table.reload();
}

let apps: Application[] = [];
async function applicationView(id: number, path: string): Promise<void> {
  const status = statusLine();
  show(h('p', {}, 'Loading…'), status);
  await attempt(status, async () => {
    const [{ application: app, verify_service }, all] = await Promise.all([api.applicationAndService(id), apps.length ? Promise.resolve(apps) : api.applications()]);
    apps = all;
    const verify = verify_service !== null;
    const page = PAGES.find((p) => p.path === path && (verify || !p.verifyOnly)) ?? PAGES[0];
    const title = h('h1', {}, app.name);
    const changed = (a: Application) => {
      title.textContent = a.name;
      apps = apps.map((x) => (x.id === a.id ? a : x));
      drawNav(apps, { app: a, path: page.path, verify });
    };
    drawNav(apps, { app, path: page.path, verify });
    document.title = `${page.title} · ${app.name} · OpenFactor console`;
    const content = await page.page(app, changed);
    const service = verify_service && h('p', { class: 'meta' }, 'Sends the codes of the Twilio Verify service ', h('code', {}, verify_service.sid), ' of account ', h('a', { href: `#/verify/${verify_service.account_sid}` }, verify_service.account_sid), '.');
    show(h('div', { class: 'page-head' }, title, h('p', { class: 'page-name' }, page.title)), service, ...content);
  });
  if (status.textContent) show(h('p', {}, h('a', { href: '#/' }, '← Applications')), status);
}

/** The audit trail. */
async function auditView(): Promise<void> {
  const status = statusLine();
  show(h('p', {}, 'Loading…'), status);
  await attempt(status, async () => {
    apps = apps.length ? apps : await api.applications();
    drawNav(apps, undefined, 'audit');
    document.title = 'Audit trail · OpenFactor console';
    show(h('h1', {}, 'Audit trail'), ...(await auditPage()));
  });
}

/** Twilio Verify: the accounts, or one account. */
async function verifyView(sid: string | undefined): Promise<void> {
  const status = statusLine();
  show(h('p', {}, 'Loading…'), status);
  await attempt(status, async () => {
    apps = apps.length ? apps : await api.applications();
    drawNav(apps, undefined, 'verify');
    if (sid === undefined) {
      document.title = 'Twilio Verify · OpenFactor console';
      show(h('h1', {}, 'Twilio Verify'), ...(await verifyAccountsPage()));
      return;
    }
    const { title, content } = await verifyAccountPage(sid);
    document.title = `${title} · Twilio Verify · OpenFactor console`;
    show(h('p', {}, h('a', { href: '#/verify' }, '← Verify accounts')), h('div', { class: 'page-head' }, h('h1', {}, title), h('p', { class: 'page-name' }, 'Verify account')), ...content);
  });
  if (status.textContent) show(h('p', {}, h('a', { href: '#/verify' }, '← Verify accounts')), status);
}

function route(): void {
  nav.classList.remove('open');
  menu.setAttribute('aria-expanded', 'false');
  if (!token.get() && !session.csrf()) {
    signInView();
    return;
  }
  signOut.hidden = false;
  menu.hidden = false;
  const m = /^#\/apps\/(\d+)(?:\/([a-z_]+))?$/.exec(location.hash);
  const v = /^#\/verify(?:\/(AC[0-9a-f]{32}))?$/.exec(location.hash);
  if (!m && !v) apps = [];
  void (m ? applicationView(Number(m[1]), m[2] ?? '') : v ? verifyView(v[1]) : location.hash === '#/audit' ? auditView() : applicationsView()).then(() => {
    // After a navigation the page's heading takes the focus, so a screen reader reads the new page.
    const h1 = view.querySelector('h1');
    if (h1 && document.activeElement === document.body) {
      h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: true });
    }
  });
}

menu.addEventListener('click', () => {
  const open = nav.classList.toggle('open');
  menu.setAttribute('aria-expanded', String(open));
});
document.getElementById('skip')!.addEventListener('click', (e) => {
  e.preventDefault();
  view.focus();
});
// A choice in the navigation closes the menu, even the page already shown (no hashchange then).
nav.addEventListener('click', (e) => {
  if (!(e.target as Element).closest('a')) return;
  nav.classList.remove('open');
  menu.setAttribute('aria-expanded', 'false');
});
signOut.addEventListener('click', () => {
  // A session ends on the server too; a token is simply forgotten.
  if (session.csrf()) void api.signOut().catch(() => {});
  signInView();
});
window.addEventListener('hashchange', route);
route();
