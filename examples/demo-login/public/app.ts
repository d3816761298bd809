// The demo's page: sign up, sign in with a password, then the two-factor modal. OneTouch first
// (the page polls the site's backend while the request is out on the user's devices); SMS, a call
// or an authenticator app's code at any moment instead.
import { h, show } from '../../../web/shared/dom.ts';

const view = document.getElementById('view')!;
const modal = document.getElementById('modal')!;
const modalBody = document.getElementById('modal-body')!;

interface Answer {
  status?: string;
  message?: string;
  email?: string;
  onetouch?: boolean;
  number?: number;
  phone_end?: string;
}

async function api(method: string, path: string, body?: Record<string, string>): Promise<{ ok: boolean; status: number; json: Answer }> {
  const res = await fetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { ok: res.ok, status: res.status, json: (await res.json().catch(() => ({}))) as Answer };
}

const say = (where: HTMLElement, text: string, kind: 'error' | 'ok' | 'muted') => {
  where.className = kind;
  where.textContent = text;
};

/** A form whose fields go to `path`; `then` gets the answer when it is a success. */
function form(path: string, fields: HTMLElement[], submit: string, then: (a: Answer) => void): HTMLElement {
  const status = h('p', { role: 'alert' });
  const el = h('form', {
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const data = Object.fromEntries([...new FormData(el as HTMLFormElement)].map(([k, v]) => [k, String(v)]));
      const r = await api('POST', path, data);
      if (!r.ok) return say(status, r.json.message ?? `Refused (${r.status})`, 'error');
      say(status, r.json.message ?? '', 'ok');
      then(r.json);
    },
  }, ...fields, h('button', { type: 'submit', class: 'primary' }, submit), status);
  return el;
}

const input = (label: string, attrs: Record<string, unknown>) => h('label', {}, label, h('input', { required: true, ...attrs }));

function signedOut(): void {
  modal.hidden = true;
  show(view,
    h('section', {}, h('h2', {}, 'Sign in'),
      form('/api/login', [input('Email', { name: 'email', type: 'email', autocomplete: 'username' }), input('Password', { name: 'password', type: 'password', autocomplete: 'current-password' })], 'Sign in', secondFactor)),
    h('section', {}, h('h2', {}, 'Open an account'),
      form('/api/signup', [
        input('Email', { name: 'email', type: 'email' }),
        input('Password', { name: 'password', type: 'password', minlength: 8, autocomplete: 'new-password' }),
        input('Country code', { name: 'country_code', inputmode: 'numeric', value: '1' }),
        input('Mobile phone', { name: 'phone', type: 'tel' }),
      ], 'Open account', () => {})));
}

function signedIn(email: string): void {
  modal.hidden = true;
  show(view, h('section', {}, h('h2', {}, `Welcome, ${email}`), h('p', {}, 'You are signed in with two factors.'),
    h('button', { type: 'button', onclick: async () => { await api('POST', '/api/logout'); signedOut(); } }, 'Sign out')));
}

let polling: ReturnType<typeof setTimeout> | undefined;

/** The two-factor modal. */
function secondFactor(a: Answer): void {
  const status = h('p', { role: 'status' });
  const codeForm = h('div');
  const askCode = (via: 'sms' | 'call' | 'app') => async () => {
    if (via !== 'app') {
      const r = await api('POST', `/api/login/${via}`);
      say(status, r.json.message ?? '', r.ok ? 'ok' : 'error');
      if (!r.ok) return;
    } else say(status, 'Open your authenticator app and type the code it shows for Example Bank.', 'muted');
    show(codeForm, form('/api/login/verify', [input('Code', { name: 'token', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]{6,9}' })], 'Verify', done));
  };
  const done = (r: Answer) => {
    clearTimeout(polling);
    if (r.status === 'signed_in' && r.email) signedIn(r.email);
  };
  const waiting = a.onetouch
    ? h('div', { class: 'onetouch' },
      h('div', { class: 'waiting' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'We sent a sign-in request to your phone. Approve it there.'),
      a.number !== undefined && h('p', {}, 'Pick this number on your device: ', h('span', { class: 'number' }, String(a.number))))
    : h('p', {}, 'Choose how to get your code.');
  show(modalBody,
    waiting,
    h('p', { class: 'muted' }, a.onetouch ? 'Or get a code another way:' : ''),
    h('div', { class: 'others' },
      h('button', { type: 'button', onclick: askCode('sms') }, 'Text me a code'),
      h('button', { type: 'button', onclick: askCode('call') }, 'Call me'),
      h('button', { type: 'button', onclick: askCode('app') }, 'Use my authenticator app')),
    codeForm,
    status,
    h('button', { type: 'button', onclick: () => { clearTimeout(polling); signedOut(); } }, 'Cancel'));
  modal.hidden = false;

  // While the OneTouch request is out, ask the site every second whether it was answered.
  const poll = async () => {
    const r = await api('GET', '/api/login');
    if (r.json.status === 'signed_in') return done(r.json);
    if (r.status === 401) return signedOut();
    if (r.json.status === 'onetouch_denied' || r.json.status === 'onetouch_expired') {
      waiting.remove();
      return say(status, r.json.status === 'onetouch_denied' ? 'The request was denied on your device. Use a code instead, or cancel.' : 'The request expired. Use a code instead.', 'error');
    }
    polling = setTimeout(poll, 1000);
  };
  if (a.onetouch) polling = setTimeout(poll, 1000);
}

const me = await api('GET', '/api/me');
if (me.ok && me.json.email) signedIn(me.json.email);
else signedOut();
