// The admin console: sign in with the admin token; the applications; per application a page for
// each concern (overview, users, devices, OneTouch requests, messages, phone verifications, lost
// phones, webhooks and callbacks, providers, the pumping defence, settings, keys), reached from
// the navigation. Every text that comes from the API goes into the page as text.
import { h, show as showIn, type Child } from '../../shared/dom.ts';
import { api, ApiError, SecondFactorAsked, session, token, type Application } from './api.ts';
import { may, who } from './can.ts';
import { adminsPage, tokensPage } from './pages/admins.ts';
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

/** What single sign-on's return (`#/sign-in/…`) says. */
const SIGN_IN_NOTES: Record<string, string> = {
  'sso-failed': 'Single sign-on did not complete. Try again, or sign in with your password.',
  'sso-no-account': 'Single sign-on worked, but no active administrator here has that email. Ask an owner to add you.',
  'sso-unreachable': 'The single sign-on provider could not be reached. Try again in a moment.',
  'sign-out-failed': 'Signing out failed on the server: your session may still be open. Sign out again, or close the browser.',
};

/** The pages of an application, in the order of the navigation (some only for who may use them). */
const PAGES: { path: string; title: string; page: PageOf; verifyOnly?: true; only?: [string, string] }[] = [
  { path: '', title: 'Overview', page: overviewPage },
  { path: 'users', title: 'Users', page: usersPage },
  { path: 'devices', title: 'Devices', page: devicesPage },
  { path: 'approvals', title: 'OneTouch requests', page: approvalsPage },
  { path: 'messages', title: 'Messages', page: messagesPage },
  { path: 'verifications', title: 'Phone verifications', page: verificationsPage },
  { path: 'verify', title: 'Verify verifications', page: verifyVerificationsPage, verifyOnly: true },
  { path: 'verify_factors', title: 'Verify factors', page: verifyFactorsPage, verifyOnly: true },
  { path: 'recoveries', title: 'Lost phones', page: recoveriesPage },
  { path: 'import', title: 'Import users', page: importPage, only: ['POST', '/admin/applications/:id/users/import'] },
  { path: 'webhooks', title: 'Webhooks and callbacks', page: integrationsPage },
  { path: 'providers', title: 'Providers', page: providersPage },
  { path: 'defence', title: 'Pumping defence', page: defencePage },
  { path: 'settings', title: 'Settings', page: settingsPage },
  { path: 'security', title: 'Keys and deletion', page: securityPage, only: ['POST', '/admin/applications/:id/api_key'] },
];

/** Signed in: the session's CSRF token kept for changes, who it is known, and the console opens. */
function enter(r: { csrf_token: string | null; principal: Parameters<typeof who.set>[0] }): void {
  if (r.csrf_token) session.set(r.csrf_token);
  who.set(r.principal);
  location.hash = '#/';
  route();
}

/**
 * The second factor of a sign-in waiting in its cookie (after the password or single sign-on):
 * a OneTouch approval asked on the administrator's phone, answered there; polled here each second.
 */
function oneTouchButton(status: HTMLElement): HTMLElement {
  const button = h('button', { type: 'button' }, 'Approve on my phone instead') as HTMLButtonElement;
  button.addEventListener('click', () => {
    button.disabled = true;
    void attempt(status, async () => {
      try {
        // Asked until answered, or until this screen is left ("Start again", another page).
        for (let number: number | undefined; button.isConnected; ) {
          const r = await api.secondFactor({ method: 'onetouch' });
          if (!('waiting' in r)) return enter(r);
          number = r.waiting.number ?? number;
          status.className = 'status';
          status.textContent = `Approve the sign-in on your phone${number === undefined ? '' : `: choose ${number}`}…`;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      } finally {
        button.disabled = false;
      }
    });
  });
  return button;
}

/** After single sign-on, when OpenFactor asks its own second factor too. */
function secondFactorView(onetouch: boolean): void {
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]{6,7}', required: true }) as HTMLInputElement;
  const status = h('p', { class: 'status', role: 'status' });
  document.title = 'One more step · OpenFactor console';
  show(
    h(
      'section',
      { class: 'sign-in' },
      h('h1', {}, 'One more step'),
      h('p', {}, 'Your organisation signed you in. OpenFactor asks its own second factor too.'),
      h(
        'form',
        {
          class: 'stack-form',
          'aria-label': 'Your second factor',
          onsubmit: onSubmit(status, async () => {
            try {
              enter((await api.secondFactor({ code: code.value.replace(/\s+/g, '') })) as Parameters<typeof enter>[0]);
            } catch (e) {
              throw new Error(`${(e as Error).message}. Sign in again.`);
            }
          }),
        },
        field('Code from your authenticator app', code),
        h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
      ),
      onetouch && oneTouchButton(status),
      status,
      h('p', {}, h('a', { href: '#/sign-in' }, 'Start again')),
    ),
  );
  code.focus();
}

function signInView(problem?: string): void {
  token.clear();
  session.clear();
  who.clear();
  signOut.hidden = true;
  menu.hidden = true;
  nav.replaceChildren();
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true }) as HTMLInputElement;
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true }) as HTMLInputElement;
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]{6,7}' }) as HTMLInputElement;
  const status = h('p', { class: problem ? 'status error' : 'status', role: 'status' }, problem);
  const oneTouch = h('div', { hidden: true }, oneTouchButton(status));
  const codeField = field('Code from your authenticator app', code);
  codeField.hidden = true;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true }) as HTMLInputElement;
  const tokenStatus = h('p', { class: 'status', role: 'status' });
  const sso = h('div');
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
              enter(await api.signIn(email.value.trim(), password.value, code.value.trim() || undefined));
            } catch (e) {
              // The password was right and a second factor is asked: the code field appears, with
              // the focus, and OneTouch beside it when the administrator has a device for it.
              if (e instanceof SecondFactorAsked && codeField.hidden) {
                codeField.hidden = false;
                code.required = true;
                oneTouch.hidden = !e.methods.includes('onetouch');
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
      oneTouch,
      status,
      sso,
      h('h2', {}, 'Or with a token'),
      h('p', {}, 'An API token (', h('code', {}, 'openfactor tokens create'), '), or the break-glass admin token in ', h('code', {}, 'data/admin.token'), ' or ', h('code', {}, 'OPENFACTOR_ADMIN_TOKEN'), '. What you may do follows its role.'),
      h(
        'form',
        {
          class: 'row-form',
          'aria-label': 'Sign in with a token',
          onsubmit: onSubmit(tokenStatus, async () => {
            token.set(input.value.trim());
            enter(await api.session());
          }),
        },
        field('Token', input),
        h('button', { type: 'submit' }, 'Use the token'),
      ),
      tokenStatus,
    ),
  );
  // Single sign-on, when the service has a provider: a link away to it.
  void api
    .signInOptions()
    .then((o) => o.sso && showIn(sso, h('h2', {}, 'Or through your organisation'), h('p', {}, h('a', { class: 'button', href: o.sso.url }, `Sign in with ${o.sso.name}`))))
    .catch(() => {});
  email.focus();
}
whenRefused((problem) => signInView(session.csrf() ? 'Your session has ended: sign in again.' : problem));

/** The navigation: the applications and Twilio Verify, and the pages of the application open. */
function drawNav(apps: Application[], current?: { app: Application; path: string; verify: boolean }, top: 'apps' | 'verify' | 'audit' | 'admins' | 'tokens' | null = current ? null : 'apps'): void {
  const link = (href: string, text: string, here: boolean) => h('li', {}, h('a', { href, 'aria-current': here ? 'page' : false }, text));
  showIn(
    nav,
    h(
      'ul',
      {},
      link('#/', 'Applications', top === 'apps'),
      link('#/verify', 'Twilio Verify', top === 'verify'),
      link('#/audit', 'Audit trail', top === 'audit'),
      may('GET', '/admin/accounts') && link('#/admins', 'Administrators', top === 'admins'),
      may('GET', '/admin/tokens') && link('#/tokens', 'API tokens', top === 'tokens'),
    ),
    h('p', { class: 'nav-who', 'data-testid': 'signed-in-as' }, `${who.get()?.name ?? ''} · ${who.get()?.role.replace('_', '-') ?? ''}`),
    current &&
      h(
        'div',
        { class: 'app-nav' },
        h('p', { class: 'nav-title', id: 'nav-app' }, current.app.name),
        h(
          'ul',
          { 'aria-labelledby': 'nav-app' },
          ...pagesOf(current.app, current.verify).map((p) => link(`#/apps/${current.app.id}${p.path ? `/${p.path}` : ''}`, p.title, p.path === current.path)),
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
    may('POST', '/admin/applications') && section(
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
/** The pages of an application this principal may open. */
const pagesOf = (app: Application, verify: boolean) => PAGES.filter((p) => (verify || !p.verifyOnly) && (!p.only || may(p.only[0], p.only[1], app.id)));
async function applicationView(id: number, path: string): Promise<void> {
  const status = statusLine();
  show(h('p', {}, 'Loading…'), status);
  await attempt(status, async () => {
    const [{ application: app, verify_service }, all] = await Promise.all([api.applicationAndService(id), apps.length ? Promise.resolve(apps) : api.applications()]);
    apps = all;
    const verify = verify_service !== null;
    const page = pagesOf(app, verify).find((p) => p.path === path) ?? PAGES[0];
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

/** The owners' pages: administrators, API tokens. */
async function peopleView(top: 'admins' | 'tokens'): Promise<void> {
  const status = statusLine();
  show(h('p', {}, 'Loading…'), status);
  await attempt(status, async () => {
    apps = apps.length ? apps : await api.applications();
    drawNav(apps, undefined, top);
    const title = top === 'admins' ? 'Administrators' : 'API tokens';
    document.title = `${title} · OpenFactor console`;
    show(h('h1', {}, title), ...(await (top === 'admins' ? adminsPage() : tokensPage())));
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
  const signIn = /^#\/sign-in(?:\/([a-z-]+))?$/.exec(location.hash);
  if (signIn) {
    if (signIn[1]?.startsWith('second-factor')) secondFactorView(signIn[1] === 'second-factor-onetouch');
    else signInView(SIGN_IN_NOTES[signIn[1] ?? '']);
    return;
  }
  // Opened again, or back from single sign-on: the session cookie (or the token kept) says who.
  if (!who.get()) {
    void api.session().then(
      (r) => {
        if (r.csrf_token) session.set(r.csrf_token);
        who.set(r.principal);
        route();
      },
      () => signInView(token.get() || session.csrf() ? 'Your session has ended: sign in again.' : undefined),
    );
    return;
  }
  signOut.hidden = false;
  menu.hidden = false;
  const m = /^#\/apps\/(\d+)(?:\/([a-z_]+))?$/.exec(location.hash);
  const v = /^#\/verify(?:\/(AC[0-9a-f]{32}))?$/.exec(location.hash);
  if (!m && !v) apps = [];
  const top = location.hash === '#/audit' ? auditView() : location.hash === '#/admins' || location.hash === '#/tokens' ? peopleView(location.hash === '#/admins' ? 'admins' : 'tokens') : undefined;
  void (m ? applicationView(Number(m[1]), m[2] ?? '') : v ? verifyView(v[1]) : (top ?? applicationsView())).then(() => {
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
signOut.addEventListener('click', async () => {
  // A session ends on the server too; a token is simply forgotten.
  const failed = !token.get() && (await api.signOut().then(() => false, () => true));
  location.hash = failed ? '#/sign-in/sign-out-failed' : '#/sign-in';
});
window.addEventListener('hashchange', route);
route();
