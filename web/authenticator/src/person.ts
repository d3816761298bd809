// What a registered browser does for its person, beside codes and sign-ins (issue 17): approve
// or refuse a new device, cancel an account recovery the person did not ask for, list and remove
// devices, turn new devices off, and move to a new phone number.
import { h, show as showIn } from '../../shared/dom.ts';
import type { Account, OpenFactorDevice } from '../../../sdk/device/src/index.ts';
import { attempt, codeInput, field, locale, numberFields, onSubmit, say, viaOf, when } from './ui.ts';

export interface PersonSections {
  sections: HTMLElement[];
  /** Reads new-device requests and recoveries again (an event said so, or the stream reopened). */
  refresh(): Promise<void>;
}

export function personSections(device: OpenFactorDevice, status: HTMLElement): PersonSections {
  const requestList = h('div');
  const requests = h('section', { id: 'device-requests', hidden: true }, h('h2', {}, 'New devices waiting for your approval'), requestList);
  const recoveryList = h('div');
  const recoveries = h('section', { id: 'account-recoveries', hidden: true }, h('h2', {}, 'Account recoveries under way'), recoveryList);
  const deviceList = h('div');
  const allow = h('input', { type: 'checkbox', name: 'allow_new_devices', onchange: () => void attempt(status, async () => {
    await device.setAllowNewDevices(allow.checked);
    say(status, allow.checked ? 'New devices may be added (you approve each one here).' : 'New devices are turned off.');
  }) }) as HTMLInputElement;
  const devices = h('section', { id: 'devices' }, h('h2', {}, 'Your devices'), deviceList,
    h('label', { class: 'check' }, allow, 'Allow new devices (each must be approved from a device you have)'));

  const drawDevices = async () => {
    const { devices: all, allowNewDevices } = await device.devices();
    allow.checked = allowNewDevices;
    showIn(deviceList, ...all.map((d) => h('div', { class: 'row', 'data-device-id': d.id },
      h('div', {}, h('strong', {}, d.name || 'Unnamed device'), ' ', h('span', { class: 'muted' }, `${d.os_type}${d.status === 'active' ? '' : `, ${d.status.replace('_', ' ')}`}`)),
      d.this_device
        ? h('span', { class: 'muted' }, 'This browser')
        : h('button', { type: 'button', class: 'deny', onclick: () => {
            if (!confirm(`Remove "${d.name}"? It stops working at once.`)) return;
            void attempt(status, async () => {
              await device.removeDevice(d.id);
              say(status, `Removed: ${d.name}`);
              await drawDevices();
            });
          } }, 'Remove'))));
  };

  const drawRequests = async () => {
    const list = await device.deviceRequests();
    requests.hidden = list.length === 0;
    showIn(requestList, ...list.map((r) => {
      const answer = (kind: 'approved' | 'denied') => void attempt(status, async () => {
        await (kind === 'approved' ? device.approveDevice(r) : device.denyDevice(r));
        say(status, `${kind === 'approved' ? 'Approved' : 'Refused'}: ${r.name}`);
        await Promise.all([drawRequests(), drawDevices()]);
      });
      return h('div', { class: 'request', 'data-device-request': r.id },
        h('strong', {}, r.name || 'Unnamed device'), h('p', { class: 'muted' }, `${r.os_type}, asked ${when(r.created_at)}`),
        h('p', {}, 'Approve only if you are adding this device yourself.'),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'approve', onclick: () => answer('approved') }, 'Approve'),
          h('button', { type: 'button', class: 'deny', onclick: () => answer('denied') }, 'Refuse')));
    }));
  };

  const drawRecoveries = async () => {
    const list = await device.accountRecoveries();
    recoveries.hidden = list.length === 0;
    showIn(recoveryList, ...list.map((r) => h('div', { class: 'request warning', 'data-recovery': r.id },
      h('strong', {}, r.kind === 'phone_change' ? 'Someone is moving your accounts to a new number' : 'Someone is recovering your accounts'),
      h('p', {}, `On "${r.device.name ?? 'a new device'}" (${r.device.os_type ?? 'unknown'}). It takes effect ${when(r.completes_at)}, and this device then stops working.`),
      h('p', {}, 'If this was not you, cancel it now.'),
      h('button', { type: 'button', class: 'deny', onclick: () => void attempt(status, async () => {
        await device.cancelAccountRecovery(r.id);
        say(status, 'Recovery canceled: the new device was removed.');
        await Promise.all([drawRecoveries(), drawDevices()]);
      }) }, 'Cancel this recovery'))));
  };

  return {
    sections: [requests, recoveries, devices, phoneChangeSection(device, status)],
    refresh: async () => {
      await Promise.all([drawRequests(), drawRecoveries(), drawDevices()]);
    },
  };
}

/** A new number, with this device in hand: a code to the new number and another by email. */
function phoneChangeSection(device: OpenFactorDevice, status: HTMLElement): HTMLElement {
  const section = h('section', { id: 'phone-change' }, h('h2', {}, 'Change your phone number'));
  const start = () => {
    const form = h('form', {
      onsubmit: onSubmit(status, async (f) => {
        const number = `+${field(f, 'country_code')} ${field(f, 'phone_number')}`;
        const change = await device.requestPhoneChange({ countryCode: field(f, 'country_code'), phoneNumber: field(f, 'phone_number'), via: viaOf(f), locale: locale() });
        form.replaceWith(confirmForm(change.id, number));
      }),
    }, h('p', { class: 'muted' }, 'Your accounts, in every application, move to the new number and keep working here.'),
      ...numberFields(), h('button', { type: 'submit' }, 'Send codes'));
    showIn(section, section.firstChild, form);
  };
  const confirmForm = (id: string, number: string) =>
    h('form', {
      onsubmit: onSubmit(status, async (f) => {
        await device.confirmPhoneChange(id, { phoneCode: field(f, 'phone_code'), emailCode: field(f, 'email_code') });
        say(status, `Your phone number is now ${number}.`);
        start();
      }),
    },
      h('p', {}, `We have sent a code to ${number} and another to the email address on file.`),
      codeInput('phone_code', 'Code sent to the new number'),
      codeInput('email_code', 'Code sent by email'),
      h('div', { class: 'actions' },
        h('button', { type: 'submit' }, 'Change my number'),
        h('button', { type: 'button', onclick: () => void attempt(status, async () => {
          await device.cancelPhoneChange(id);
          say(status, 'Phone change canceled.');
          start();
        }) }, 'Cancel')));
  start();
  return section;
}

/**
 * A new set of recovery codes for one account, shown once as a sheet to print: each works once in
 * place of a code, the day every device is lost. Printing shows the sheet alone.
 */
export function recoveryCodesButton(device: OpenFactorDevice, a: Account, status: HTMLElement, where: HTMLElement): HTMLElement {
  return h('button', {
    type: 'button', class: 'small',
    onclick: () => {
      if (!confirm(`New recovery codes for ${a.app_name}? Any you kept before stop working.`)) return;
      void attempt(status, async () => {
        const codes = await device.newRecoveryCodes(a);
        where.querySelector('.print-sheet')?.remove();
        const sheet = h('section', { class: 'print-sheet', 'aria-label': `Recovery codes for ${a.app_name}` },
          h('h2', {}, `Recovery codes for ${a.app_name}`),
          h('p', {}, 'If you lose every device, sign in with one of these in place of a code. Each works once. Keep this sheet somewhere safe; these codes are not shown again.'),
          h('ol', { class: 'recovery-codes' }, ...codes.map((c) => h('li', {}, c))),
          h('p', { class: 'muted' }, `Made ${new Date().toLocaleString()}`),
          h('div', { class: 'actions' },
            h('button', { type: 'button', onclick: () => print() }, 'Print'),
            h('button', { type: 'button', onclick: () => sheet.remove() }, 'Done')));
        where.prepend(sheet);
      });
    },
  }, 'Recovery codes');
}
