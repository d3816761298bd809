// Twilio Verify v2 beside the Authy applications: accounts (the credentials an application's
// twilio helper library signs in with), their API keys and services; each service's
// verifications on a page of the application that sends its codes.
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type Application, type VerifyAccount, type VerifyFactor, type VerifyKey, type VerifyService, type VerifyVerification } from '../api.ts';
import { may } from '../can.ts';
import { attempt, done, field, onSubmit, pagedTable, plainTable, secret, section, statusLine, when } from '../ui.ts';

/** The accounts, and a form that makes one (its auth token shown once). */
export async function verifyAccountsPage(): Promise<Child[]> {
  const status = statusLine();
  const holder = h('div');
  const created = h('div');
  const name = h('input', { name: 'verify_account_name', required: true, maxlength: 64 }) as HTMLInputElement;
  const fill = async () => {
    const accounts = await api.verifyAccounts();
    show(
      holder,
      plainTable<VerifyAccount>(
        'verify-accounts',
        'Verify accounts',
        [
          { label: 'Name', cell: (a) => h('a', { href: `#/verify/${a.sid}` }, a.name) },
          { label: 'Account SID', cell: (a) => h('code', {}, a.sid) },
          { label: 'Created', cell: (a) => a.date_created.slice(0, 10) },
        ],
        accounts,
        'No Verify accounts yet: create one below.',
      ),
    );
  };
  await attempt(status, fill);
  return [
    section(
      'Verify accounts',
      h('span', {}, 'Applications that call Twilio Verify v2 through the ', h('code', {}, 'twilio'), ' helper libraries sign in with an account SID and auth token (or an API key). See the README, "Point twilio Verify at OpenFactor".'),
      holder,
    ),
    may('POST', '/admin/verify/accounts') && section(
      'New Verify account',
      null,
      h(
        'form',
        {
          class: 'row-form',
          onsubmit: onSubmit(status, async () => {
            const r = await api.createVerifyAccount(name.value.trim());
            name.value = '';
            show(created, secret(`Account SID of “${r.account.name}”:`, r.account.sid, 'verify-account-sid'), secret('Its auth token, shown only now:', r.auth_token, 'verify-auth-token'));
            await fill();
            done(status, `Created “${r.account.name}”.`);
          }),
        },
        field('Name', name),
        h('button', { type: 'submit', class: 'primary' }, 'Create account'),
      ),
      created,
      status,
    ),
  ];
}

/** One account: its services (each links to its application's pages) and its API keys. */
export async function verifyAccountPage(sid: string): Promise<{ title: string; content: Child[] }> {
  const account = (await api.verifyAccounts()).find((a) => a.sid === sid);
  if (!account) throw new Error(`There is no Verify account ${sid}.`);
  const status = statusLine();
  const keysHolder = h('div');
  const shown = h('div');
  const keyName = h('input', { name: 'verify_key_name', maxlength: 64, placeholder: 'API key' }) as HTMLInputElement;
  const services = await api.verifyServices(sid);
  const fillKeys = async () => {
    const keys = await api.verifyKeys(sid);
    show(
      keysHolder,
      plainTable<VerifyKey>(
        'verify-keys',
        'API keys',
        [
          { label: 'Name', cell: (k) => k.name },
          { label: 'Key SID', cell: (k) => h('code', {}, k.sid) },
          { label: 'Created', cell: (k) => k.date_created.slice(0, 10) },
        ],
        keys,
        'No API keys: applications sign in with the account SID and auth token.',
      ),
    );
  };
  await fillKeys();
  return {
    title: account.name,
    content: [
      h('p', { class: 'meta' }, 'Account SID ', h('code', {}, account.sid), `, created ${account.date_created.slice(0, 10)}.`),
      section(
        'Services',
        'Made by the application through the API (POST /v2/Services). Each sends its codes through an OpenFactor application of the same name: its messages, pumping defence and settings are on that application\'s pages.',
        plainTable<VerifyService>(
          'verify-services',
          'Verify services',
          [
            { label: 'Name', cell: (v) => h('a', { href: `#/apps/${v.app_id}/verify` }, v.friendly_name) },
            { label: 'Service SID', cell: (v) => h('code', {}, v.sid) },
            { label: 'Code length', cell: (v) => String(v.code_length) },
            { label: 'Created', cell: (v) => v.date_created.slice(0, 10) },
          ],
          services,
          'No services yet.',
        ),
      ),
      section(
        'API keys',
        'An API key (SK…) and its secret sign in like the account SID and auth token, so that each application can have its own.',
        keysHolder,
        may('POST', '/admin/verify/accounts/:sid/keys') && h(
          'form',
          {
            class: 'row-form',
            onsubmit: onSubmit(status, async () => {
              const r = await api.createVerifyKey(sid, keyName.value.trim() || 'API key');
              keyName.value = '';
              show(shown, secret(`Key SID of “${r.key.name}”:`, r.key.sid, 'verify-key-sid'), secret('Its secret, shown only now:', r.secret, 'verify-key-secret'));
              await fillKeys();
              done(status, `Created “${r.key.name}”.`);
            }),
          },
          field('Name', keyName),
          h('button', { type: 'submit', class: 'primary' }, 'Create API key'),
        ),
        shown,
        status,
      ),
    ],
  };
}

const ANY = ['', 'Any'] as [string, string];

/** The verifications of the service an application backs. */
export async function verifyVerificationsPage(app: Application): Promise<Child[]> {
  const table = pagedTable<VerifyVerification>({
    testId: 'verify-verifications',
    caption: 'Verify verifications',
    noun: ['verification', 'verifications'],
    filters: [
      { name: 'status', label: 'Status', options: [ANY, ['pending', 'Pending'], ['approved', 'Approved'], ['canceled', 'Canceled'], ['max_attempts_reached', 'Too many checks'], ['expired', 'Expired']] },
      { name: 'channel', label: 'Channel', options: [ANY, ['sms', 'SMS'], ['call', 'Call'], ['email', 'Email']] },
    ],
    columns: [
      { label: 'Started (UTC)', cell: (v) => when(v.date_created, true) },
      { label: 'SID', cell: (v) => h('code', {}, v.sid) },
      { label: 'To', cell: (v) => v.to },
      { label: 'Channel', cell: (v) => v.channel },
      { label: 'Status', cell: (v) => h('span', { class: `badge ${v.status === 'approved' ? 'verified' : v.status === 'max_attempts_reached' ? 'failed' : v.status}` }, v.status) },
      { label: 'Sends', cell: (v) => String(v.sends) },
      { label: 'Checks', cell: (v) => String(v.checks) },
    ],
    load: (p) => api.list<VerifyVerification>(app.id, 'verify_verifications', p, 'verifications'),
    empty: 'No verifications match.',
  });
  await table.reload();
  return [section('Verify verifications', 'Started with POST /v2/Services/{sid}/Verifications; numbers masked, codes never shown.', table.element)];
}

/** The TOTP and push factors of the service an application backs, with their entities. */
export async function verifyFactorsPage(app: Application): Promise<Child[]> {
  const table = pagedTable<VerifyFactor>({
    testId: 'verify-factors',
    caption: 'Verify factors',
    noun: ['factor', 'factors'],
    filters: [
      { name: 'identity', label: 'Entity', placeholder: 'Identity' },
      { name: 'type', label: 'Type', options: [ANY, ['totp', 'TOTP'], ['push', 'Push']] },
      { name: 'status', label: 'Status', options: [ANY, ['verified', 'Verified'], ['unverified', 'Unverified']] },
    ],
    columns: [
      { label: 'Created (UTC)', cell: (f) => when(f.date_created) },
      { label: 'Entity', cell: (f) => f.identity },
      { label: 'Name', cell: (f) => f.friendly_name },
      { label: 'Type', cell: (f) => f.factor_type },
      { label: 'Status', cell: (f) => h('span', { class: `badge ${f.status === 'verified' ? 'verified' : ''}` }, f.status) },
      { label: 'Codes', cell: (f) => (f.locked_until ? h('span', { class: 'warn' }, `locked until ${when(f.locked_until)} UTC`) : 'open') },
      { label: 'Pending challenges', cell: (f) => String(f.pending_challenges) },
      { label: 'SID', cell: (f) => h('code', {}, f.sid) },
    ],
    load: (p) => api.list<VerifyFactor>(app.id, 'verify_factors', p, 'factors'),
    empty: 'No factors match.',
  });
  await table.reload();
  return [section('Verify factors', 'TOTP and push factors made through /v2/Services/{sid}/Entities/{identity}/Factors; secrets and device keys never shown.', table.element)];
}
