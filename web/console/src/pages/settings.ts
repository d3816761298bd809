// An application's settings, grouped by what they do for its users, and the SMS-pumping
// defence: allowed countries and what the defence has closed.
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type Application, type Quarantine } from '../api.ts';
import { attempt, checkbox, done, field, onSubmit, plainTable, section, statusLine, when } from '../ui.ts';
import { lookOnly, may } from '../can.ts';

interface Setting {
  name: string;
  label: string;
  hint: string;
}

/** Every setting, in the group where an operator looks for it; the hints say what it does. */
const GROUPS: { title: string; help: string; settings: Setting[] }[] = [
  {
    title: 'Codes by SMS, voice and email',
    help: 'One-time codes sent to users.',
    settings: [
      { name: 'tokenLength', label: 'Code length (digits)', hint: 'Of app TOTPs and of SMS, voice and email codes: 6 to 8.' },
      { name: 'codeTtlSeconds', label: 'Code validity (seconds)', hint: 'How long a sent code can be used: 60 to 3,600.' },
      { name: 'sendsPerHour', label: 'Codes per user per hour', hint: 'More are refused with Authy\'s "too many requests" (429).' },
      { name: 'smsFallbackToVoice', label: 'Call when an SMS cannot be delivered', hint: 'The code is read out by a voice call instead.' },
      { name: 'customMessageAllowed', label: 'Allow custom SMS texts', hint: 'Phone verification may carry custom_message.' },
      { name: 'customCodeAllowed', label: 'Allow custom codes', hint: 'Phone verification may carry custom_code.' },
    ],
  },
  {
    title: 'Authenticator apps',
    help: 'Soft tokens: OpenFactor\'s authenticator and Google-Authenticator-style apps.',
    settings: [
      { name: 'genericTokensEnabled', label: 'Allow authenticator apps by QR code', hint: 'users/{id}/secret gives a QR code for Google Authenticator, 1Password and the like.' },
      { name: 'syncTokens', label: 'Give devices registered by phone this application\'s accounts', hint: 'Authy\'s "Sync tokens in app": an authenticator registered with the user\'s phone number shows this application.' },
      { name: 'recoveryCodesOnDevices', label: 'Let users print recovery codes from their authenticator', hint: 'A new set replaces the one your backend made.' },
    ],
  },
  {
    title: 'Wrong codes and lockout',
    help: 'Guessing is stopped per user; an operator can unlock a user on the Users page.',
    settings: [
      { name: 'verifyMaxFailures', label: 'Wrong codes before lockout', hint: 'Counted within the window below.' },
      { name: 'verifyFailureWindowSeconds', label: 'Window for wrong codes (seconds)', hint: '' },
      { name: 'verifyLockoutSeconds', label: 'Lockout (seconds)', hint: 'Even a right code is refused meanwhile.' },
      { name: 'unregisteredVerifyLegacy', label: 'Authy\'s "Not checked" for users who never verified', hint: 'Off: such users are checked like any other.' },
    ],
  },
  {
    title: 'OneTouch',
    help: 'Push approvals to users\' devices.',
    settings: [{ name: 'numberMatching', label: 'Number matching on every request', hint: 'The person picks the number shown at sign-in, so a stray tap approves nothing.' }],
  },
  {
    title: 'SMS-pumping defence',
    help: 'Limits on SMS and calls, against fraud that sends codes to premium numbers.',
    settings: [
      { name: 'dailySendBudget', label: 'Messages per day (application)', hint: 'Then 429 / 60010 for SMS, 60012 for calls.' },
      { name: 'sendsPerNumberHour', label: 'Messages per number per hour', hint: '' },
      { name: 'sendsPerNumberDay', label: 'Messages per number per day', hint: '' },
      { name: 'prefixSendsPerWindow', label: 'Messages per number prefix per 10 minutes, always allowed', hint: 'Above it, a burst against the prefix\'s usual traffic closes it for an hour.' },
      { name: 'countrySendsPerWindow', label: 'Messages per country per 10 minutes, always allowed', hint: 'Likewise for a whole calling code.' },
    ],
  },
  {
    title: 'Data',
    help: '',
    settings: [{ name: 'phoneExportEnabled', label: 'Allow exporting users\' full phone numbers', hint: 'For moving users elsewhere; each export is logged with the number masked.' }],
  },
];

function settingsForm(app: Application, onSaved: (a: Application) => void): HTMLElement {
  const status = statusLine();
  const known = new Set(GROUPS.flatMap((g) => g.settings.map((s) => s.name)));
  // A setting the console does not know yet still shows, under its own name.
  const others = Object.keys(app.settings).filter((n) => !known.has(n)).map((name) => ({ name, label: name, hint: '' }));
  const groups = others.length ? [...GROUPS, { title: 'Other', help: '', settings: others }] : GROUPS;
  const inputs: { name: string; input: HTMLInputElement; boolean: boolean }[] = [];
  const control = (s: Setting) => {
    const value = app.settings[s.name];
    if (value === undefined) return null;
    const boolean = typeof value === 'boolean';
    const input = (boolean ? h('input', { type: 'checkbox', name: s.name, checked: value }) : h('input', { type: 'number', name: s.name, value, min: 0, step: 1, inputmode: 'numeric' })) as HTMLInputElement;
    inputs.push({ name: s.name, input, boolean });
    return boolean ? checkbox(s.label, input, s.hint || undefined) : field(s.label, input, s.hint || undefined);
  };
  return h(
    'form',
    {
      class: 'settings',
      onsubmit: onSubmit(status, async () => {
        const patch = Object.fromEntries(inputs.map((i) => [i.name, i.boolean ? i.input.checked : Number(i.input.value)]));
        onSaved(await api.saveSettings(app.id, patch));
        done(status, 'Saved.');
      }),
    },
    // A role that may not change settings sees them, greyed.
    ...groups.map((g) => h('fieldset', { disabled: !may('POST', '/admin/applications/:id/settings', app.id) }, h('legend', {}, g.title), g.help ? h('p', { class: 'help' }, g.help) : null, ...g.settings.map(control))),
    may('POST', '/admin/applications/:id/settings', app.id) ? h('div', { class: 'sticky-save' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings'), status) : lookOnly('change settings'),
  );
}

export function settingsPage(app: Application, onSaved: (a: Application) => void): Child[] {
  return [section('Settings', 'Changes apply at once on this node, and within seconds on the others.', settingsForm(app, onSaved))];
}

function countriesSection(app: Application): HTMLElement {
  const status = statusLine();
  const input = h('input', { name: 'countries', value: app.allowed_countries.join(', '), placeholder: 'PT, BR, US', readonly: !may('POST', '/admin/applications/:id/countries', app.id) }) as HTMLInputElement;
  return section(
    'Countries',
    'Codes go only to numbers in these countries. Empty: everywhere.',
    h(
      'form',
      {
        class: 'row-form',
        onsubmit: onSubmit(status, async () => {
          const list = input.value.split(/[\s,]+/).filter(Boolean);
          const saved = await api.setCountries(app.id, list);
          input.value = saved.allowed_countries.join(', ');
          done(status, saved.allowed_countries.length ? `Only ${saved.allowed_countries.join(', ')}.` : 'Everywhere.');
        }),
      },
      field('Allowed countries (ISO codes)', input),
      may('POST', '/admin/applications/:id/countries', app.id) ? h('button', { type: 'submit', class: 'primary' }, 'Save countries') : lookOnly('change the countries'),
    ),
    status,
  );
}

/** What the SMS-pumping defence closed, each with a button that reopens it. */
async function quarantinesSection(app: Application): Promise<HTMLElement> {
  const status = statusLine();
  const holder = h('div');
  const fill = async () => {
    const list = await api.quarantines(app.id);
    show(
      holder,
      plainTable<Quarantine>(
        'quarantines',
        'Closed prefixes and countries',
        [
          { label: 'Prefix or country', cell: (q) => q.prefix },
          { label: 'Rule', cell: (q) => q.rule },
          { label: 'Since (UTC)', cell: (q) => when(q.since) },
          { label: 'Until (UTC)', cell: (q) => when(q.until) },
          ...(may('POST', '/admin/applications/:id/quarantines/lift', app.id)
            ? [{ label: 'Actions', cell: (q: Quarantine) => h('button', { type: 'button', onclick: () => void attempt(status, async () => (await api.lift(app.id, q.prefix), await fill())) }, `Lift ${q.prefix}`) }]
            : []),
        ],
        list,
        'Nothing is closed.',
      ),
    );
  };
  await fill();
  return section('Closed by the SMS-pumping defence', 'Lifting reopens a prefix or country at once and forgets its recent traffic; if the traffic goes on as before, it closes again.', holder, status);
}

export async function defencePage(app: Application): Promise<Child[]> {
  return [await quarantinesSection(app), countriesSection(app)];
}
