// An application's people and their devices: users (search, lockouts, activity), devices,
// OneTouch requests, pending phone changes and recoveries, and importing users.
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type Application, type Approval, type Device, type Recovery, type User, type UserDetails } from '../api.ts';
import { may } from '../can.ts';
import { attempt, confirmDialog, done, field, checkbox, onSubmit, pagedTable, plainTable, section, statusLine, when } from '../ui.ts';

const ANY = ['', 'Any'] as [string, string];

export async function usersPage(app: Application): Promise<Child[]> {
  const status = statusLine();
  const details = h('div', { class: 'details', 'aria-live': 'polite' });
  // A user locked out of verification (too many wrong tokens), with the button that ends it.
  const lockCell = (u: User): Child => {
    if (!u.locked_until) return 'active';
    const cell = h('span', { class: 'warn' }, `locked until ${when(u.locked_until)} UTC `);
    if (!may('POST', '/admin/applications/:id/users/:user_id/unlock', app.id)) return cell;
    cell.append(h('button', { type: 'button', onclick: () => void attempt(status, async () => {
          await api.unlock(app.id, u.id);
          cell.replaceChildren('unlocked');
          cell.className = 'ok';
        }) }, `Unlock ${u.id}`));
    return cell;
  };
  // What the application recorded of the user (register_activity), and its other addresses.
  const open = (u: User) => async () => {
    const d: UserDetails = await api.user(app.id, u.id);
    const lines = d.activities.map((a) => h('li', {}, `${when(a.created_at)} UTC  ${a.type}${a.user_ip ? ` from ${a.user_ip}` : ''}  ${JSON.stringify(a.data)}`));
    show(
      details,
      h('h3', {}, `User ${u.id}`),
      h('p', {}, d.user.other_emails.length ? `Also registered as: ${d.user.other_emails.join(', ')}` : 'No other addresses.'),
      lines.length ? h('ul', { 'aria-label': `Activity of ${u.id}` }, ...lines) : h('p', {}, 'No activity recorded.'),
    );
    details.scrollIntoView({ block: 'nearest' });
  };
  const table = pagedTable<User>({
    testId: 'users',
    caption: 'Users',
    noun: ['user', 'users'],
    filters: [
      { name: 'q', label: 'Find a user', placeholder: 'Authy ID, email or +phone' },
      { name: 'locked', label: 'Verification', options: [ANY, ['true', 'Locked out now']] },
    ],
    columns: [
      { label: 'Authy ID', cell: (u) => String(u.id) },
      { label: 'Email', cell: (u) => u.email },
      { label: 'Phone', cell: (u) => u.cellphone },
      { label: 'Devices', cell: (u) => String(u.devices) },
      { label: 'Verification', cell: lockCell },
      { label: 'Created', cell: (u) => u.created_at.slice(0, 10) },
      { label: 'Activity', cell: (u) => h('button', { type: 'button', onclick: () => void attempt(status, open(u)) }, `Activity of ${u.id}`) },
    ],
    load: (p) => api.list<User>(app.id, 'users', p),
    empty: 'No users match.',
  });
  await table.reload();
  return [
    section('Users', 'Phones are masked. Search finds a user by Authy ID, by an email address or by a phone number in full (+country code), as registered.', table.element, status, details),
  ];
}

export async function devicesPage(app: Application): Promise<Child[]> {
  const table = pagedTable<Device>({
    testId: 'devices',
    caption: 'Devices',
    noun: ['device', 'devices'],
    filters: [
      { name: 'q', label: 'Authy ID', placeholder: 'Authy ID' },
      { name: 'include_deleted', label: 'Show', options: [['', 'Registered devices'], ['true', 'Also removed ones']] },
    ],
    columns: [
      { label: 'Device', cell: (d) => String(d.id) },
      { label: 'Authy ID', cell: (d) => String(d.authy_id) },
      { label: 'Name', cell: (d) => d.name ?? '' },
      { label: 'System', cell: (d) => d.os_type ?? '' },
      { label: 'Registered (UTC)', cell: (d) => when(d.registered_at) },
      { label: 'Last seen (UTC)', cell: (d) => (d.deleted_at ? `removed ${when(d.deleted_at)}` : when(d.last_seen_at)) },
    ],
    load: (p) => api.list<Device>(app.id, 'devices', p),
    empty: 'No devices match.',
  });
  await table.reload();
  return [section('Devices', 'Authenticators registered to this application\'s users (the device keys never leave the server sealed).', table.element)];
}

export async function approvalsPage(app: Application): Promise<Child[]> {
  const table = pagedTable<Approval>({
    testId: 'approvals',
    caption: 'OneTouch requests',
    noun: ['request', 'requests'],
    filters: [
      { name: 'status', label: 'Status', options: [ANY, ['pending', 'Pending'], ['approved', 'Approved'], ['denied', 'Denied'], ['expired', 'Expired']] },
      { name: 'q', label: 'Authy ID', placeholder: 'Authy ID' },
    ],
    columns: [
      { label: 'Sent (UTC)', cell: (a) => when(a.created_at, true) },
      { label: 'Authy ID', cell: (a) => String(a.authy_id) },
      { label: 'Message', cell: (a) => a.message },
      { label: 'Status', cell: (a) => h('span', { class: `badge ${a.status}` }, a.status) },
      { label: 'Answered (UTC)', cell: (a) => when(a.answered_at, true) },
      { label: 'By device', cell: (a) => (a.device ? `${a.device.name ?? `device ${a.device.id}`}${a.device.os_type ? ` (${a.device.os_type})` : ''}` : '') },
    ],
    load: (p) => api.list<Approval>(app.id, 'approvals', p),
    empty: 'No OneTouch requests match.',
  });
  await table.reload();
  return [section('OneTouch requests', 'Approval requests sent to users\' devices, newest first. Hidden details are never shown.', table.element)];
}

const KIND_LABELS: Record<string, string> = {
  account_recovery: 'Account recovery',
  phone_change: 'Phone change',
  phone_change_without_device: 'Phone change without a device',
};

/** Lost phones: pending phone changes and account recoveries; cancel, or shorten a wait with a reason. */
export async function recoveriesPage(app: Application): Promise<Child[]> {
  const status = statusLine();
  const holder = h('div');
  const fill = async () => {
    const list = await api.recoveries(app.id);
    show(
      holder,
      plainTable<Recovery>(
        'recoveries',
        'Pending phone changes and account recoveries',
        [
          { label: 'Kind', cell: (r) => (KIND_LABELS[r.kind] ? `${KIND_LABELS[r.kind]}${r.kind === 'phone_change' ? '' : ` (${r.status})`}` : r.kind) },
          { label: 'Users (Authy IDs)', cell: (r) => r.authy_ids.join(', ') },
          { label: 'Started (UTC)', cell: (r) => when(r.started_at) },
          { label: 'Ends (UTC)', cell: (r) => when(r.completes_at ?? r.expires_at) },
          { label: 'New device', cell: (r) => (r.device ? `${r.device.name ?? ''} (${r.device.os_type ?? ''})` : '') },
          {
            label: 'Actions',
            cell: (r) => {
              if (!may('POST', '/admin/applications/:id/recoveries/:rid/cancel', app.id)) return 'Your role may only look.';
              const reason = h('input', { type: 'text', placeholder: 'Reason (required to shorten)', 'aria-label': `Reason to shorten ${r.id}` }) as HTMLInputElement;
              return h(
                'div',
                { class: 'actions' },
                h('button', {
                  type: 'button',
                  class: 'danger',
                  onclick: async () => {
                    const what = KIND_LABELS[r.kind] ?? r.kind;
                    if (!(await confirmDialog({ title: `Cancel this ${what.toLowerCase()}?`, text: `Of Authy ID ${r.authy_ids.join(', ')}. It ends at once; a user who did ask for it has to start again.`, action: 'Cancel it' }))) return;
                    await attempt(status, async () => (await api.cancelRecovery(app.id, r.id), await fill()));
                  },
                }, 'Cancel'),
                ...(r.kind !== 'phone_change' && r.status === 'waiting'
                  ? [
                      reason,
                      h('button', {
                        type: 'button',
                        class: 'danger',
                        onclick: async () => {
                          // Ending the wait hands the accounts to the new device at once: asked first.
                          const what = (KIND_LABELS[r.kind] ?? r.kind).toLowerCase();
                          if (!(await confirmDialog({ title: `End the wait of this ${what} now?`, text: `The accounts of Authy ID ${r.authy_ids.join(', ')} go to the new device at once; the old one can no longer stop it.`, action: 'End the wait' }))) return;
                          await attempt(status, async () => (await api.shortenRecovery(app.id, r.id, 0, reason.value), await fill()));
                        },
                      }, 'End the wait now'),
                    ]
                  : []),
              );
            },
          },
        ],
        list,
        'Nothing is pending.',
      ),
    );
  };
  await fill();
  return [
    section(
      'Phone changes and account recoveries',
      'Pending requests of this application\'s users. Cancel one the user did not ask for. Shortening a recovery\'s wait is logged with your reason.',
      holder,
      status,
    ),
  ];
}

/** Users moved from Authy: a file of one JSON object per line (README "Moving your users from Authy"). */
export function importPage(app: Application): Child[] {
  const status = statusLine();
  const result = h('div');
  const file = h('input', { name: 'import_file', type: 'file', accept: '.jsonl,.ndjson,.txt,application/x-ndjson' }) as HTMLInputElement;
  const dry = h('input', { name: 'import_dry_run', type: 'checkbox', checked: true }) as HTMLInputElement;
  return [
    section(
      'Import users',
      h(
        'span',
        {},
        'One JSON object per line: ',
        h('code', {}, 'authy_id'), ' (kept), ', h('code', {}, 'email'), ', ', h('code', {}, 'cellphone'), ' and ', h('code', {}, 'country_code'), ' or ', h('code', {}, 'e164'),
        ', and optionally ', h('code', {}, 'authenticator_secret'), '. Up to 64 MiB; for more, use ', h('code', {}, 'openfactor users import'), '.',
      ),
      h(
        'form',
        {
          class: 'stack',
          onsubmit: onSubmit(status, async () => {
            const chosen = file.files?.[0];
            if (!chosen) throw new Error('Choose a file first.');
            status.textContent = 'Importing…';
            const r = await api.importUsers(app.id, chosen, dry.checked);
            const s = r.summary;
            show(
              result,
              h('p', { 'data-testid': 'import-summary' }, `${s.lines} lines: ${s.created} created, ${s.existing} already there, ${s.failed} failed.`),
              r.failed.length > 0 &&
                plainTable('import-failures', 'Lines that failed', [{ label: 'Line', cell: (f: { line: number }) => String(f.line) }, { label: 'Why', cell: (f: { reason: string }) => f.reason }], r.failed, ''),
            );
            done(status, r.message);
          }),
        },
        field('Users file (.jsonl)', file),
        checkbox('Dry run: check the file, write nothing', dry),
        h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Import')),
      ),
      result,
      status,
    ),
  ];
}
