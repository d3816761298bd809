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

async function api(method: string, path: string, body?: Record<string, string>, signal?: AbortSignal): Promise<{ ok: boolean; status: number; json: Answer }> {
  const res = await fetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal,
  });
  return { ok: res.ok, status: res.status, json: (await res.json().catch(() => ({}))) as Answer };
}

const say = (where: HTMLElement, text: string, kind: 'error' | 'ok' | 'muted') => {
  where.className = kind;
  where.textContent = text;
};

/** A form whose fields go to `path`; `then` gets the answer when it is a success. */
function form(path: string, fields: HTMLElement[], submit: string, then: (a: Answer) => void, sending?: (busy: boolean) => void): HTMLElement {
  const status = h('p', { role: 'alert' });
  const el = h('form', {
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const data = Object.fromEntries([...new FormData(el as HTMLFormElement)].map(([k, v]) => [k, String(v)]));
      sending?.(true);
      const r = await api('POST', path, data).finally(() => sending?.(false));
      if (!r.ok) return say(status, r.json.message ?? `Refused (${r.status})`, 'error');
      say(status, r.json.message ?? '', 'ok');
      // Nothing typed stays in a form that did its job (a password least of all).
      (el as HTMLFormElement).reset();
      then(r.json);
    },
  }, ...fields, h('button', { type: 'submit', class: 'primary' }, submit), status);
  return el;
}

const input = (label: string, attrs: Record<string, unknown>) => h('label', {}, label, h('input', { required: true, ...attrs }));

function signedOut(): void {
  closeModal();
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
  closeModal();
  show(view, h('section', {}, h('h2', { tabindex: '-1' }, `Welcome, ${email}`), h('p', {}, 'You are signed in with two factors.'),
    h('button', { type: 'button', onclick: async () => { await api('POST', '/api/logout'); signedOut(); } }, 'Sign out')));
  view.querySelector<HTMLElement>('h2')?.focus();
}

// ---- the modal: focus moves in, stays in (Tab wraps, the page behind is inert), Escape closes
// it, and focus goes back where it was.

/** What had focus when the modal opened; the modal's end, while it is open. */
let returnFocus: HTMLElement | null = null;
let endSecondFactor: (() => void) | undefined;

const focusable = () =>
  [...modal.querySelectorAll<HTMLElement>('button, input, select, textarea, a[href], [tabindex]:not([tabindex="-1"])')].filter((e) => !e.hasAttribute('disabled') && e.offsetParent !== null);

function openModal(): void {
  returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  modal.hidden = false;
  view.inert = true;
  focusable()[0]?.focus();
}

function closeModal(): void {
  endSecondFactor?.();
  endSecondFactor = undefined;
  if (modal.hidden) return;
  modal.hidden = true;
  view.inert = false;
  // Back where it was; if that is gone (the page changed under it), to the page's first heading.
  const back = returnFocus?.isConnected ? returnFocus : view.querySelector<HTMLElement>('h2');
  if (back && !back.hasAttribute('tabindex') && back.tagName === 'H2') back.setAttribute('tabindex', '-1');
  back?.focus();
  returnFocus = null;
}

/** Cancel or Escape: the modal closes, and the site drops the sign-in and its OneTouch request. */
function cancelSignIn(): void {
  closeModal();
  void api('POST', '/api/login/cancel');
}

modal.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    e.preventDefault();
    cancelSignIn();
    return;
  }
  if (e.key !== 'Tab') return;
  const items = focusable();
  if (items.length === 0) return;
  const [first, last] = [items[0], items[items.length - 1]];
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
});

/** The two-factor modal. */
function secondFactor(a: Answer): void {
  // Everything the modal started (the OneTouch poll, a request still out) ends with it: an
  // answer that comes back after a code signed in, or after Cancel, is never acted on.
  const ended = new AbortController();
  let polling: ReturnType<typeof setTimeout> | undefined;
  endSecondFactor = () => {
    ended.abort();
    clearTimeout(polling);
  };
  const status = h('p', { role: 'status' });
  const codeForm = h('div');
  // While a code is being checked the sign-in challenge may be used up under a poll: what such a
  // poll answers (401, or the request ended) says nothing about this sign-in, so it is not shown.
  let verifying = false;
  const askCode = (via: 'sms' | 'call' | 'app') => async () => {
    if (via !== 'app') {
      const r = await api('POST', `/api/login/${via}`);
      say(status, r.json.message ?? '', r.ok ? 'ok' : 'error');
      if (!r.ok) return;
    } else say(status, 'Open your authenticator app and type the code it shows for Example Bank.', 'muted');
    show(codeForm, form('/api/login/verify', [input('Code', { name: 'token', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]{6,9}' })], 'Verify', done, (busy) => {
      verifying = busy;
    }));
    codeForm.querySelector<HTMLElement>('input')?.focus();
  };
  const done = (r: Answer) => {
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
    h('button', { type: 'button', onclick: cancelSignIn }, 'Cancel'));
  openModal();

  // While the OneTouch request is out, ask the site every second whether it was answered.
  const poll = async () => {
    const r = await api('GET', '/api/login', undefined, ended.signal).catch(() => undefined);
    if (!r || ended.signal.aborted) return;
    if (r.json.status === 'signed_in') return done(r.json);
    if (verifying) {
      polling = setTimeout(poll, 1000);
      return;
    }
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
