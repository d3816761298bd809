// The authenticator web app: this browser becomes an OpenFactor device (registered by phone or
// with an application's registration token, or by an account recovery; see register.ts). It shows each account's code, computed offline, and
// the sign-in requests sent to it, answered with the device's key. The key is made in the browser,
// kept in IndexedDB and cannot be read out, not even by this page's own script.
import { h, show as showIn, type Child } from '../../shared/dom.ts';
import { OpenFactorDevice, type Account, type DeviceApproval } from '../../../sdk/device/src/index.ts';
import { personSections, recoveryCodesButton } from './person.ts';
import { registerView, waitingView } from './register.ts';
import { attempt, connection, show, storage } from './ui.ts';

// ---- the device --------------------------------------------------------------------------------

let stopListening: AbortController | undefined;
let ticking: ReturnType<typeof setInterval> | undefined;

function started(device: OpenFactorDevice): void {
  const status = h('p', { role: 'alert' });
  const accounts = h('div');
  const person = personSections(device, status);
  const requests = h('div');
  const pending = new Map<string, HTMLElement>();

  const drawAccounts = () => {
    if (device.accounts.length === 0) return showIn(accounts, h('p', { class: 'muted' }, 'No accounts yet.'));
    showIn(accounts, ...device.accounts.map((a) => accountRow(a, a.recovery_codes ? recoveryCodesButton(device, a, status, accounts) : null)));
  };
  const removeRequest = (uuid: string) => {
    pending.get(uuid)?.remove();
    pending.delete(uuid);
    emptyNote.hidden = pending.size > 0;
  };
  const emptyNote = h('p', { class: 'muted' }, 'No sign-in is waiting for you.');
  const addRequest = (a: DeviceApproval) => {
    if (a.status !== 'pending' || pending.has(a.uuid)) return;
    const card = requestCard(device, a, (answer) => {
      removeRequest(a.uuid);
      // A denial is not a success: it reads in the colour of a refusal.
      status.className = answer === 'approved' ? 'ok' : 'denied';
      status.textContent = `${answer === 'approved' ? 'Approved' : 'Denied'}: ${a.app_name}, ${a.message}`;
    });
    pending.set(a.uuid, card);
    requests.append(card);
    emptyNote.hidden = true;
  };

  show(
    h('section', {},
      h('h2', {}, 'Sign-in requests'), emptyNote, requests),
    ...person.sections.slice(0, 2),
    h('section', {},
      h('h2', {}, 'Your codes'), accounts,
      h('div', { class: 'actions' },
        h('button', { type: 'button', onclick: () => void attempt(status, async () => { await device.refreshAccounts(); drawAccounts(); }) }, 'Look for new accounts'),
        h('button', {
          type: 'button',
          onclick: () => {
            if (!confirm('Remove this browser? Its codes stop working and sign-ins will no longer come here.')) return;
            void attempt(status, async () => {
              await device.unregister();
              stop();
              registerView(started);
            });
          },
        }, 'Remove this browser'))),
    ...person.sections.slice(2),
    h('p', { class: 'muted' }, 'Codes work offline.'),
    status,
  );
  drawAccounts();
  ticking = setInterval(() => void tick(device, accounts), 1000);
  void tick(device, accounts);
  stopListening = new AbortController();
  void listen(device, stopListening.signal, { add: addRequest, remove: removeRequest, person: () => void attempt(status, person.refresh) }, status);
}

function stop(): void {
  stopListening?.abort();
  clearInterval(ticking);
  connection.textContent = '';
}

function accountRow(a: Account, extra: Child): HTMLElement {
  const code = h('div', { class: 'code', 'aria-label': `${a.app_name} code` }, '');
  const copied = h('span', { class: 'copied', role: 'status' });
  const copy = async () => {
    const text = code.textContent ?? '';
    try {
      await navigator.clipboard.writeText(text);
      copied.textContent = 'Copied';
    } catch {
      copied.textContent = 'Could not copy: select the code instead';
    }
    setTimeout(() => (copied.textContent = ''), 2000);
  };
  return h('div', { class: 'account', 'data-authy-id': a.authy_id, 'data-app-id': a.app_id },
    h('div', {}, h('strong', {}, a.app_name), h('div', { class: 'left' }), extra),
    h('div', { class: 'code-box' }, code,
      h('button', { type: 'button', class: 'small copy', 'aria-label': `Copy the ${a.app_name} code`, onclick: () => void copy() }, 'Copy'), copied));
}

/** Each second: every account's code (WebCrypto, no network) and the seconds it has left. */
async function tick(device: OpenFactorDevice, accounts: HTMLElement): Promise<void> {
  const now = Date.now();
  for (const row of accounts.querySelectorAll<HTMLElement>('.account')) {
    const a = device.accounts.find((x) => String(x.authy_id) === row.dataset.authyId && String(x.app_id) === row.dataset.appId);
    if (!a) continue;
    const code = await device.code(a.authy_id, a.app_id, now);
    row.querySelector('.code')!.textContent = code;
    row.querySelector('.left')!.textContent = `${a.period - (Math.floor(now / 1000) % a.period)} s left`;
  }
}

function requestCard(device: OpenFactorDevice, a: DeviceApproval, answered: (answer: 'approved' | 'denied') => void): HTMLElement {
  const status = h('p', { role: 'alert' });
  const answer = (kind: 'approved' | 'denied', number?: number) =>
    attempt(status, async () => {
      for (const b of card.querySelectorAll('button')) b.disabled = true;
      try {
        await (kind === 'approved' ? device.approve(a, { number }) : device.deny(a));
      } finally {
        for (const b of card.querySelectorAll('button')) b.disabled = false;
      }
      answered(kind);
    });
  const details = Object.entries(a.details ?? {});
  const approveButtons: Child[] = a.number_choices?.length
    ? [h('p', {}, 'Pick the number shown where you are signing in:'), ...a.number_choices.map((n) => h('button', { type: 'button', class: 'approve', onclick: () => void answer('approved', n) }, String(n)))]
    : [h('button', { type: 'button', class: 'approve', onclick: () => void answer('approved') }, 'Approve')];
  const card = h('div', { class: 'request', 'data-uuid': a.uuid },
    h('strong', {}, a.app_name),
    h('p', {}, a.message),
    details.length > 0 && h('dl', {}, ...details.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])),
    a.expires_at && h('p', { class: 'muted' }, `Expires ${new Date(a.expires_at).toLocaleTimeString()}`),
    h('div', { class: 'actions' }, ...approveButtons, h('button', { type: 'button', class: 'deny', onclick: () => void answer('denied') }, 'Deny')),
    status);
  return card;
}

/**
 * The device's event stream: each request as it is made (and those already waiting, on every
 * connection). A dropped stream is opened again, waiting longer each time up to 15 s.
 */
async function listen(
  device: OpenFactorDevice,
  signal: AbortSignal,
  on: { add: (a: DeviceApproval) => void; remove: (uuid: string) => void; person: () => void },
  status: HTMLElement,
): Promise<void> {
  for (let failures = 0; !signal.aborted; ) {
    let asked: number | undefined; // a server shutting down says when to come back
    try {
      ({ retryMs: asked } = await device.listen(on.add, {
        signal,
        onOpen: () => {
          failures = 0;
          connection.className = 'live';
          connection.textContent = 'Connected';
          on.person(); // what came while the stream was closed
        },
        onUpdate: (u) => u.status !== 'pending' && on.remove(u.uuid),
        onDeviceRequest: on.person,
        onAccountRecovery: on.person,
      }));
    } catch (e) {
      // A device removed elsewhere is refused for good (401): say so instead of retrying.
      if ((e as { status?: number }).status === 401) {
        stop();
        status.className = 'error';
        showIn(status, 'This browser is no longer registered. ',
          h('button', { type: 'button', onclick: () => void storage.clear().then(() => registerView(started)) }, 'Start again'));
        return;
      }
      failures++;
    }
    if (signal.aborted) return;
    connection.className = 'offline';
    connection.textContent = 'Offline: codes still work';
    await new Promise((r) => setTimeout(r, asked ?? Math.min(15_000, 1000 * 2 ** Math.min(failures, 4))));
  }
}

const restored = await OpenFactorDevice.restore(storage);
if (!restored) registerView(started);
else if (restored.status !== 'active') waitingView(restored, started);
else started(restored);
