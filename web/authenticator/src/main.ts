// The authenticator web app: this browser becomes an OpenFactor device (registered by phone or
// with an application's registration token, or by an account recovery; see register.ts). It shows each account's code, computed offline, and
// the sign-in requests sent to it, answered with the device's key. The key is made in the browser,
// kept in IndexedDB and cannot be read out, not even by this page's own script.
import { h, show as showIn, type Child } from '../../shared/dom.ts';
import { OpenFactorDevice, type Account, type DeviceApproval, type VerifyChallenge } from '../../../sdk/device/src/index.ts';
import { personSections, recoveryCodesButton } from './person.ts';
import { registerView, waitingView } from './register.ts';
import { thisDeviceSection } from './this-device.ts';
import { verifyCard, verifyEnrolment } from './verify-push.ts';
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
  /** Requests this browser is answering: their end is said by the answer, not as news from elsewhere. */
  const answering = new Set<string>();
  const requestsHeading = h('h2', { id: 'requests-heading', tabindex: -1 }, 'Sign-in requests');
  const removeRequest = (uuid: string) => {
    const card = pending.get(uuid);
    if (!card) return;
    // The keyboard's place is not lost with the card: it goes to the list's heading.
    const hadFocus = card.contains(document.activeElement) || card.dataset.focused !== undefined;
    card.remove();
    pending.delete(uuid);
    emptyNote.hidden = pending.size > 0;
    if (hadFocus) requestsHeading.focus();
  };
  /** A request ended elsewhere (another device answered, it expired, the application canceled it): it leaves at once, and the person is told. */
  const requestEnded = (uuid: string, how: string) => {
    const card = pending.get(uuid);
    if (!card || answering.has(uuid)) return removeRequest(uuid);
    removeRequest(uuid);
    status.className = 'muted';
    status.textContent = `${card.dataset.app}: ${how === 'expired' ? 'the sign-in request expired or was canceled' : `the sign-in request was ${how} on another device`}.`;
  };
  const emptyNote = h('p', { class: 'muted' }, 'No sign-in is waiting for you.');
  const addRequest = (a: DeviceApproval) => {
    if (a.status !== 'pending' || pending.has(a.uuid)) return;
    const card = requestCard(device, a, answering, (answer) => {
      removeRequest(a.uuid);
      // A denial is not a success: it reads in the colour of a refusal.
      status.className = answer === 'approved' ? 'ok' : 'denied';
      status.textContent = `${answer === 'approved' ? 'Approved' : 'Denied'}: ${a.app_name}, ${a.message}`;
    });
    pending.set(a.uuid, card);
    requests.append(card);
    emptyNote.hidden = true;
  };
  /** A Twilio Verify push challenge, kept in the same list (by its SID) as the OneTouch requests. */
  const addVerifyChallenge = (c: VerifyChallenge) => {
    if (c.status !== 'pending' || pending.has(c.sid)) return;
    const message = `${c.service_name ?? 'A service'}, ${c.details.message ?? 'sign-in request'}`;
    const card = verifyCard(device, c, answering, (answer) => {
      removeRequest(c.sid);
      status.className = answer === 'approved' ? 'ok' : 'denied';
      status.textContent = `${answer === 'approved' ? 'Approved' : 'Denied'}: ${message}`;
    }, () => requestEnded(c.sid, 'expired'));
    card.dataset.app = c.service_name ?? 'A service';
    pending.set(c.sid, card);
    requests.append(card);
    emptyNote.hidden = true;
  };

  /** After the stream was away: requests that ended meanwhile leave (the stream only tells what is still pending). */
  const resync = () => {
    // OneTouch requests only (those added later came from the stream, after this read began); a
    // Verify challenge leaves when told, answered, or at its expiry.
    const shown = [...pending.keys()].filter((id) => !id.startsWith('YC'));
    void device.pendingApprovals().then((now) => {
      const still = new Set(now.map((a) => a.uuid));
      for (const uuid of shown) if (!still.has(uuid)) requestEnded(uuid, 'expired');
    }, () => {}); // unreachable again: the next connection tries once more
  };

  // A service's enrolment link, whether the page opens with it or is open already.
  const enrolment = h('div');
  const offerEnrolment = () => showIn(enrolment, verifyEnrolment(device, status));
  stopListening = new AbortController();
  window.addEventListener('hashchange', offerEnrolment, { signal: stopListening.signal });
  offerEnrolment();
  show(
    enrolment,
    h('section', { 'aria-labelledby': 'requests-heading' },
      requestsHeading, emptyNote, requests),
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
    thisDeviceSection(device, () => void attempt(status, person.refresh)),
    ...person.sections.slice(2),
    h('p', { class: 'muted' }, 'Codes work offline: installed as an app, this page opens without a network too.'),
    status,
  );
  drawAccounts();
  ticking = setInterval(() => void tick(device, accounts), 1000);
  void tick(device, accounts);
  void listen(device, stopListening.signal, {
    add: addRequest,
    remove: requestEnded,
    addVerify: addVerifyChallenge,
    opened: resync,
    person: () => void attempt(status, person.refresh),
  }, status);
}

function stop(): void {
  stopListening?.abort();
  clearInterval(ticking);
  connection.textContent = '';
}

function accountRow(a: Account, extra: Child): HTMLElement {
  const code = h('div', { class: 'code' }, '');
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
  // The countdown: a bar and the seconds for the eye, a sentence for a screen reader; a timer
  // role is not announced at each tick.
  const left = h('div', { class: 'left', role: 'timer' },
    h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { class: 'fill' })),
    h('span', { class: 'secs', 'aria-hidden': 'true' }),
    h('span', { class: 'sr-only' }));
  return h('div', { class: 'account', role: 'group', 'aria-label': a.app_name, 'data-authy-id': a.authy_id, 'data-app-id': a.app_id },
    h('div', {}, h('strong', {}, a.app_name), left, extra),
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
    const left = a.period - (Math.floor(now / 1000) % a.period);
    row.querySelector('.code')!.textContent = code;
    row.querySelector('.secs')!.textContent = `${left} s`;
    row.querySelector('.sr-only')!.textContent = `${left} seconds left for this code`;
    const fill = row.querySelector<HTMLElement>('.fill')!;
    fill.style.width = `${(100 * left) / a.period}%`; // CSSOM, which the page's CSP allows (style attributes it does not)
    row.querySelector('.left')!.classList.toggle('ending', left <= 5);
  }
}

function requestCard(device: OpenFactorDevice, a: DeviceApproval, answering: Set<string>, answered: (answer: 'approved' | 'denied') => void): HTMLElement {
  const status = h('p', { role: 'alert' });
  const answer = (kind: 'approved' | 'denied', number?: number) =>
    attempt(status, async () => {
      // A disabled button loses the focus: it is given back, or moves on with the card (removeRequest).
      const focused = card.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
      if (focused) card.dataset.focused = '';
      for (const b of card.querySelectorAll('button')) b.disabled = true;
      answering.add(a.uuid);
      try {
        await (kind === 'approved' ? device.approve(a, { number }) : device.deny(a));
      } finally {
        answering.delete(a.uuid);
        for (const b of card.querySelectorAll('button')) b.disabled = false;
        if (focused?.isConnected) focused.focus();
      }
      answered(kind);
    });
  const details = Object.entries(a.details ?? {});
  const approveButtons: Child[] = a.number_choices?.length
    ? [h('p', {}, 'Pick the number shown where you are signing in:'), ...a.number_choices.map((n) => h('button', { type: 'button', class: 'approve', onclick: () => void answer('approved', n) }, String(n)))]
    : [h('button', { type: 'button', class: 'approve', onclick: () => void answer('approved') }, 'Approve')];
  const card = h('div', { class: 'request', role: 'group', 'aria-label': `Sign-in request from ${a.app_name}`, 'data-uuid': a.uuid, 'data-app': a.app_name },
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
  on: { add: (a: DeviceApproval) => void; remove: (uuid: string, status: string) => void; addVerify: (c: VerifyChallenge) => void; opened: () => void; person: () => void },
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
          // What came, or ended, while the stream was closed.
          on.opened();
          on.person();
        },
        onUpdate: (u) => u.status !== 'pending' && on.remove(u.uuid, u.status),
        onVerifyChallenge: on.addVerify,
        onVerifyChallengeUpdate: (u) => on.remove(u.sid, u.status),
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

// Installed or not, the page keeps its shell for offline use (src/sw.ts, built into /authenticator/sw.js).
// Without it (an old browser, a page not served over https) the page works as before, online.
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/authenticator/sw.js', { scope: '/authenticator/' }).catch(() => {});

const restored = await OpenFactorDevice.restore(storage);
if (!restored) registerView(started);
else if (restored.status !== 'active') waitingView(restored, started);
else started(restored);
