// Twilio Verify push on this browser: a service's link (`…/authenticator/#verify=<access token>`,
// made by its backend with /v2/Services/{VA}/AccessTokens) enrols this device once the person
// agrees; its challenges then come as cards beside the OneTouch requests, answered with the
// device's key as Twilio's SDK would.
import { h, type Child } from '../../shared/dom.ts';
import type { OpenFactorDevice, VerifyChallenge } from '../../../sdk/device/src/index.ts';
import { attempt, say } from './ui.ts';

/** The access token the page was opened with, if any. */
const tokenInLink = () => new URLSearchParams(location.hash.slice(1)).get('verify');

/** Drops the token from the address: it is good once, and a reload must not offer it again. */
const forgetLink = () => history.replaceState(null, '', location.pathname + location.search);

/** "Send sign-in approvals here?" when the page was opened with an enrolment link; else nothing. */
export function verifyEnrolment(device: OpenFactorDevice, status: HTMLElement): HTMLElement | null {
  const token = tokenInLink();
  if (!token) return null;
  const section: HTMLElement = h('section', { 'aria-labelledby': 'verify-enrol-heading', class: 'request' },
    h('h2', { id: 'verify-enrol-heading' }, 'Approve sign-ins from this browser?'),
    h('p', {}, 'You opened a link that asks to send a service’s sign-in approvals to this browser. Add it only if you asked for it; you will then approve or deny each sign-in here.'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'approve', onclick: (e: Event) => {
        const add = e.currentTarget as HTMLButtonElement;
        add.disabled = true; // the token is good once: a second click would only fail
        void attempt(status, async () => {
          try {
            const factor = await device.enrolVerifyFactor(token);
            section.remove();
            say(status, `Added: sign-in approvals from ${factor.service_name} (for ${factor.identity}) now come to this browser.`);
          } finally {
            forgetLink(); // spent or refused, it is no use in the address
            add.disabled = false;
          }
        });
      } }, 'Add'),
      h('button', { type: 'button', onclick: () => { forgetLink(); section.remove(); } }, 'Not now')));
  return section;
}

/** A Verify challenge: its message and fields; it leaves when answered, ended elsewhere, or past its expiry. */
export function verifyCard(device: OpenFactorDevice, c: VerifyChallenge, answering: Set<string>, answered: (answer: 'approved' | 'denied') => void, expired: () => void): HTMLElement {
  const status = h('p', { role: 'alert' });
  const answer = (kind: 'approved' | 'denied') =>
    attempt(status, async () => {
      // As for OneTouch cards: the keyboard's place survives the disabled button, and the end
      // of this challenge is said by the answer, not as news from another device.
      const focused = card.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
      if (focused) card.dataset.focused = '';
      for (const b of card.querySelectorAll('button')) b.disabled = true;
      answering.add(c.sid);
      try {
        await device.answerVerifyChallenge(c, kind);
      } finally {
        answering.delete(c.sid);
        for (const b of card.querySelectorAll('button')) b.disabled = false;
        if (focused?.isConnected) focused.focus();
      }
      answered(kind);
    });
  const fields: Child[] = c.details.fields.flatMap((f) => [h('dt', {}, f.label), h('dd', {}, f.value)]);
  const from = c.service_name ?? 'A service';
  const card = h('div', { class: 'request', role: 'group', 'aria-label': `Sign-in request from ${from}`, 'data-verify-sid': c.sid },
    h('strong', {}, from),
    h('p', {}, c.details.message ?? 'Sign-in request'),
    fields.length > 0 && h('dl', {}, ...fields),
    h('p', { class: 'muted' }, `Expires ${new Date(c.expiration_date).toLocaleTimeString()}`),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'approve', onclick: () => void answer('approved') }, 'Approve'),
      h('button', { type: 'button', class: 'deny', onclick: () => void answer('denied') }, 'Deny')),
    status);
  const left = Date.parse(c.expiration_date) - Date.now();
  setTimeout(() => card.isConnected && expired(), Math.max(0, Math.min(left, 2 ** 31 - 1)));
  return card;
}
