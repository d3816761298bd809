// Before this browser holds any account: add it by phone or with a registration token; when the
// person's other devices must approve it, or when it comes by an account recovery (no device
// left, or a new number and no device), wait here until it may show codes.
import { h } from '../../shared/dom.ts';
import { OpenFactorDevice, type RegisterOptions } from '../../../sdk/device/src/index.ts';
import { attempt, codeInput, errorCodeOf, field, locale, numberFields, onSubmit, show, storage, viaOf, when, type Ready } from './ui.ts';

const POLL_MS = 2000;

export function registerView(ready: Ready): void {
  const status = h('p', { role: 'alert' });
  const deviceName = h('input', { name: 'name', value: 'Web authenticator', maxlength: 64, required: true }) as HTMLInputElement;
  const options = (): RegisterOptions => ({ storage, osType: 'web', name: deviceName.value.trim() || 'Web authenticator' });
  const recoverButton = () => h('button', { type: 'button', onclick: () => recoveryView(ready, options()) }, 'Recover your account');
  // New devices turned off for this number: recovery is the way in.
  const orRecover = (e: unknown) => (errorCodeOf(e) === '60043' ? recoverButton() : null);
  const added = (device: OpenFactorDevice) => (device.status === 'active' ? ready(device) : waitingView(device, ready));

  const confirmForm = (registrationId: string, via: string) =>
    h('form', { onsubmit: onSubmit(status, async (f) => added(await OpenFactorDevice.confirmPhoneRegistration(location.origin, registrationId, field(f, 'code'), options())), orRecover) },
      h('p', {}, via === 'voice' ? 'We are calling you with a 6-digit code.' : 'We have sent you a 6-digit code by text message.'),
      codeInput('code', 'Code'),
      h('button', { type: 'submit' }, 'Add this browser'));

  const phoneForm = h('form', {
    onsubmit: onSubmit(status, async (f) => {
      const { registrationId } = await OpenFactorDevice.startPhoneRegistration(location.origin, {
        countryCode: field(f, 'country_code'), phoneNumber: field(f, 'phone_number'), via: viaOf(f), locale: locale(),
      });
      phoneForm.replaceWith(confirmForm(registrationId, viaOf(f)));
    }),
  }, ...numberFields(), h('button', { type: 'submit' }, 'Send code'));

  const tokenForm = h('form', { onsubmit: onSubmit(status, async (f) => added(await OpenFactorDevice.registerWithToken(location.origin, field(f, 'token'), options()))) },
    h('label', {}, 'Registration token', h('input', { name: 'token', autocomplete: 'off', required: true })),
    h('button', { type: 'submit' }, 'Add this browser'));

  show(
    h('h1', {}, 'Add this browser as your authenticator'),
    h('section', {}, h('label', {}, 'Name of this device', deviceName)),
    h('section', {}, h('h2', {}, 'With your phone number'),
      h('p', { class: 'muted' }, 'Every account of yours with this number comes to this browser. If you have other devices, one of them approves it first.'), phoneForm),
    h('section', {}, h('h2', {}, 'With a registration token'), h('p', { class: 'muted' }, 'A token an application gave you, for its account only.'), tokenForm),
    h('section', {}, h('h2', {}, 'Lost every device?'),
      h('p', { class: 'muted' }, 'Recover your accounts with your phone number and the email address on file. It takes effect after a waiting period, and any device you still have can cancel it.'),
      recoverButton()),
    status,
  );
}

/** Account recovery without any device; with a new number, a phone change without any device. */
function recoveryView(ready: Ready, options: RegisterOptions): void {
  const status = h('p', { role: 'alert' });
  // Hidden and disabled until asked for: a disabled fieldset's fields are neither required nor sent.
  const newFields = h('fieldset', { hidden: true, disabled: true }, h('legend', {}, 'Your new number'), ...numberFields('new_', false)) as HTMLFieldSetElement;
  const changed = h('input', {
    type: 'checkbox', name: 'changed',
    onchange: () => {
      newFields.hidden = !changed.checked;
      newFields.disabled = !changed.checked;
    },
  }) as HTMLInputElement;

  const codesForm = (id: string, newNumber: boolean) =>
    h('form', {
      onsubmit: onSubmit(status, async (f) => {
        const codes = { phoneCode: field(f, 'phone_code'), emailCode: field(f, 'email_code'), ...(newNumber ? { newPhoneCode: field(f, 'new_phone_code') } : {}) };
        waitingView(await OpenFactorDevice.confirmAccountRecovery(location.origin, id, codes, options), ready);
      }),
    },
      h('p', {}, newNumber
        ? 'If this number has an account, we have sent a code to it, another to your new number and another to the email address on file.'
        : 'If this number has an account, we have sent a code to it and another to the email address on file.'),
      codeInput('phone_code', newNumber ? 'Code sent to your old number' : 'Code sent to your phone'),
      newNumber && codeInput('new_phone_code', 'Code sent to your new number'),
      codeInput('email_code', 'Code sent by email'),
      h('button', { type: 'submit' }, 'Recover my account'));

  const form = h('form', {
    onsubmit: onSubmit(status, async (f) => {
      const newNumber = changed.checked ? { countryCode: field(f, 'new_country_code'), phoneNumber: field(f, 'new_phone_number') } : undefined;
      const { id } = await OpenFactorDevice.startAccountRecovery(location.origin, {
        countryCode: field(f, 'country_code'), phoneNumber: field(f, 'phone_number'), via: viaOf(f), locale: locale(), newNumber,
      });
      form.replaceWith(codesForm(id, newNumber !== undefined));
    }),
  },
    h('p', { class: 'muted' }, 'The number your accounts are registered with:'),
    ...numberFields(),
    h('label', { class: 'check' }, changed, 'My number has changed: I have a new one'),
    newFields,
    h('button', { type: 'submit' }, 'Send codes'));

  show(
    h('h1', {}, 'Recover your account'),
    h('section', {},
      h('p', {}, 'Codes go to your phone and to the email address on file. Then a waiting period starts (longer for a new number); every device you still have is told and can cancel it. When it ends, your accounts come to this browser and your old devices stop working.'),
      form),
    h('button', { type: 'button', onclick: () => registerView(ready) }, 'Back'),
    status,
  );
}

/** This browser is registered but may not show codes yet: it asks how it stands until it may (or is refused). */
export function waitingView(device: OpenFactorDevice, ready: Ready): void {
  const status = h('p', { role: 'alert' });
  const recovery = device.accountRecovery;
  const what = device.status === 'pending_recovery'
    ? h('div', {},
        h('h1', {}, recovery?.kind === 'phone_change' ? 'Your number is changing' : 'Your account is being recovered'),
        h('p', { id: 'completes' }, `Your accounts come to this browser on ${when(recovery?.completes_at)}.`),
        h('p', { class: 'muted' }, 'Your other devices have been told, and any of them can cancel it. Nobody can make it shorter. You can close this page and come back.'))
    : h('div', {},
        h('h1', {}, 'Waiting for approval'),
        h('p', {}, 'Open OpenFactor on one of your other devices and approve this browser under "New devices waiting for your approval".'));
  let timer: ReturnType<typeof setInterval> | undefined;
  const leave = () => clearInterval(timer);
  const check = () =>
    attempt(status, async () => {
      try {
        if ((await device.refreshStatus()) === 'active') {
          leave();
          ready(device);
        }
      } catch (e) {
        if (errorCodeOf(e) !== '60087') throw e;
        leave();
        await storage.clear();
        show(h('h1', {}, 'Not added'), h('p', { class: 'error' }, 'One of your devices refused or canceled this. This browser holds no account.'),
          h('button', { type: 'button', onclick: () => registerView(ready) }, 'Start again'));
      }
    });
  show(what,
    h('button', {
      type: 'button', class: 'deny',
      onclick: () => {
        if (!confirm('Give up and remove this browser?')) return;
        leave();
        void attempt(status, async () => {
          await device.unregister();
          registerView(ready);
        });
      },
    }, 'Give up'),
    status);
  timer = setInterval(() => void check(), POLL_MS);
  void check();
}

