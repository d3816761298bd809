// The people and robots who run OpenFactor (owners only): administrators (added with their
// authenticator shown once as a QR code, disabled, their OneTouch device linked) and API tokens for
// automation (made and shown once, revoked).
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type AdminAccount, type ApiToken } from '../api.ts';
import { attempt, confirmDialog, done, field, onSubmit, plainTable, secret, section, statusLine, when } from '../ui.ts';

const ROLES: [string, string][] = [
  ['read_only', 'Read-only: looks, changes nothing'],
  ['support', 'Support: users and devices, unlocks and recoveries'],
  ['admin', 'Administrator: settings, keys, users, devices'],
  ['owner', 'Owner: everything'],
];
const roleSelect = (name: string) => h('select', { name }, ...ROLES.map(([v, label]) => h('option', { value: v }, label))) as HTMLSelectElement;
const appInput = (name: string) => h('input', { name, inputmode: 'numeric', pattern: '[0-9]*', placeholder: 'All applications' }) as HTMLInputElement;
const optionalId = (input: HTMLInputElement) => (input.value.trim() ? Number(input.value.trim()) : undefined);
const scope = (appId: number | null) => (appId === null ? 'all applications' : `application ${appId}`);

export async function adminsPage(): Promise<Child[]> {
  const status = statusLine();
  const holder = h('div');
  const fill = async () => {
    const accounts = await api.accounts();
    show(
      holder,
      plainTable<AdminAccount>(
        'admins',
        'Administrators',
        [
          { label: 'Email', cell: (a) => a.email },
          { label: 'Name', cell: (a) => a.name },
          { label: 'Role', cell: (a) => `${a.role}, ${scope(a.app_id)}` },
          { label: 'Signs in with', cell: (a) => `${a.password ? 'password' : 'single sign-on'}, then ${a.onetouch ? `OneTouch (user ${a.onetouch.authy_id} of application ${a.onetouch.app_id}) or code` : 'code'}` },
          { label: 'Last sign-in (UTC)', cell: (a) => when(a.last_sign_in_at) || 'never' },
          {
            label: 'Actions',
            cell: (a) =>
              a.disabled_at
                ? `disabled ${when(a.disabled_at)} UTC`
                : h('button', {
                    type: 'button',
                    class: 'danger',
                    onclick: async () => {
                      if (!(await confirmDialog({ title: `Disable ${a.email}?`, text: 'They can no longer sign in, and their sessions end at once.', action: `Disable ${a.email}` }))) return;
                      await attempt(status, async () => (await api.disableAccount(a.id), await fill(), done(status, `Disabled ${a.email}.`)));
                    },
                  }, `Disable ${a.email}`),
          },
        ],
        accounts,
        'No administrators yet: the console is opened with a token.',
      ),
    );
  };
  await attempt(status, fill);
  return [section('Administrators', 'People who sign in to this console. Their role decides what they may see and change; every change they make is in the audit trail.', holder, status), addSection(fill), oneTouchSection(fill)];
}

function addSection(fill: () => Promise<void>): HTMLElement {
  const status = statusLine();
  const shown = h('div');
  const email = h('input', { name: 'admin_email', type: 'email', required: true, autocomplete: 'off' }) as HTMLInputElement;
  const name = h('input', { name: 'admin_name', maxlength: 128 }) as HTMLInputElement;
  const role = roleSelect('admin_role');
  const app = appInput('admin_app');
  const password = h('input', { name: 'admin_password', type: 'password', minlength: 12, autocomplete: 'new-password' }) as HTMLInputElement;
  return section(
    'Add an administrator',
    'They get an authenticator for their second factor, shown here once: let them scan it.',
    h(
      'form',
      {
        class: 'stack-form',
        onsubmit: onSubmit(status, async () => {
          const r = await api.addAccount({ email: email.value.trim(), name: name.value.trim(), role: role.value, app_id: optionalId(app), ...(password.value ? { password: password.value } : {}) });
          // The QR code library is loaded only here, when an administrator is added.
          const qr = await (await import('qrcode')).default.toDataURL(r.otpauth_uri, { margin: 1, width: 200 });
          show(shown, h('img', { src: qr, alt: `QR code of the authenticator of ${r.account.email}`, width: 200, height: 200 }), secret(`The authenticator of ${r.account.email}, shown only now:`, r.otpauth_uri, 'admin-otpauth'));
          for (const i of [email, name, app, password]) i.value = '';
          await fill();
          done(status, `Added ${r.account.email}.`);
        }),
      },
      field('Email', email),
      field('Name', name),
      field('Role', role),
      field('Application (id)', app, 'Empty: every application. An owner is always for all.'),
      field('Password', password, 'At least 12 characters. Empty: they sign in through single sign-on only.'),
      h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Add administrator')),
    ),
    shown,
    status,
  );
}

/** Which user's devices approve an administrator's sign-ins by OneTouch. */
function oneTouchSection(fill: () => Promise<void>): HTMLElement {
  const status = statusLine();
  const who = h('input', { name: 'onetouch_admin', type: 'email', required: true }) as HTMLInputElement;
  const app = h('input', { name: 'onetouch_app', inputmode: 'numeric', pattern: '[0-9]*' }) as HTMLInputElement;
  const user = h('input', { name: 'onetouch_user', inputmode: 'numeric', pattern: '[0-9]*' }) as HTMLInputElement;
  return section(
    'OneTouch for an administrator',
    'Their own user, with OpenFactor’s authenticator or another device registered, in an application with OneTouch on: they may then approve a sign-in on it instead of typing a code. Both ids empty: unlink.',
    h(
      'form',
      {
        class: 'stack-form',
        onsubmit: onSubmit(status, async () => {
          const account = (await api.accounts()).find((a) => a.email === who.value.trim().toLowerCase());
          if (!account) throw new Error(`No administrator has the email ${who.value.trim()}.`);
          const [appId, authyId] = [optionalId(app), optionalId(user)];
          const r = await api.linkOneTouch(account.id, { app_id: appId, authy_id: authyId });
          await fill();
          done(status, r.account.onetouch ? `${r.account.email} approves sign-ins on the devices of user ${r.account.onetouch.authy_id}.` : `${r.account.email}: OneTouch unlinked.`);
        }),
      },
      field('Administrator (email)', who),
      h('div', { class: 'row-form' }, field('Application (id)', app), field('User (Authy ID)', user)),
      h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Save OneTouch device')),
    ),
    status,
  );
}

export async function tokensPage(): Promise<Child[]> {
  const status = statusLine();
  const holder = h('div');
  const shown = h('div');
  const fill = async () => {
    show(
      holder,
      plainTable<ApiToken>(
        'api-tokens',
        'API tokens',
        [
          { label: 'Name', cell: (t) => t.name },
          { label: 'Role', cell: (t) => `${t.role}, ${scope(t.app_id)}` },
          { label: 'Made by', cell: (t) => `${t.created_by}, ${when(t.created_at)} UTC` },
          { label: 'Last used (UTC)', cell: (t) => when(t.last_used_at) || 'never' },
          {
            label: 'Actions',
            cell: (t) =>
              t.revoked_at
                ? `revoked ${when(t.revoked_at)} UTC`
                : h('button', {
                    type: 'button',
                    class: 'danger',
                    onclick: async () => {
                      if (!(await confirmDialog({ title: `Revoke the token “${t.name}”?`, text: 'Whatever uses it is refused from now on.', action: `Revoke ${t.name}` }))) return;
                      await attempt(status, async () => (await api.revokeToken(t.id), await fill(), done(status, `Revoked ${t.name}.`)));
                    },
                  }, `Revoke ${t.name}`),
          },
        ],
        await api.tokens(),
        'No API tokens.',
      ),
    );
  };
  await attempt(status, fill);
  const name = h('input', { name: 'token_name', required: true, maxlength: 64 }) as HTMLInputElement;
  const role = roleSelect('token_role');
  const app = appInput('token_app');
  const made = statusLine();
  return [
    section('API tokens', 'For automation: a bearer token on the admin API, with a role and optionally one application. Every use is noted.', holder, status),
    section(
      'Make an API token',
      null,
      h(
        'form',
        {
          class: 'stack-form',
          onsubmit: onSubmit(made, async () => {
            const r = await api.createToken({ name: name.value.trim(), role: role.value, app_id: optionalId(app) });
            show(shown, secret(`The token “${r.api_token.name}”, shown only now:`, r.token, 'new-api-token'));
            name.value = '';
            app.value = '';
            await fill();
            done(made, `Made ${r.api_token.name}.`);
          }),
        },
        field('Name', name),
        field('Role', role),
        field('Application (id)', app, 'Empty: every application.'),
        h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Make token')),
      ),
      shown,
      made,
    ),
  ];
}
