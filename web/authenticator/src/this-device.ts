// This browser's own name ("Anna's laptop"), kept on the server: the person's other devices, and
// the applications' user status, list it by that name.
import { h } from '../../shared/dom.ts';
import type { OpenFactorDevice } from '../../../sdk/device/src/index.ts';
import { attempt, say } from './ui.ts';

export function thisDeviceSection(device: OpenFactorDevice, renamed: () => void): HTMLElement {
  const shown = h('strong', { id: 'device-name' }, device.name || 'Unnamed device');
  const status = h('p', { id: 'rename-status', role: 'alert' });
  const input = h('input', { name: 'device_name', id: 'device-name-input', value: device.name ?? '', autocomplete: 'off', 'aria-describedby': 'rename-hint rename-status' }) as HTMLInputElement;
  // No `required` or `maxlength`: the server's rule (1 to 64 characters, no control characters)
  // is said in words on the page, where the browser's own bubble would not be read by everyone.
  const form = h('form', {
    novalidate: true,
    onsubmit: (e: Event) => {
      e.preventDefault();
      void attempt(status, async () => {
        input.removeAttribute('aria-invalid');
        try {
          shown.textContent = await device.rename(input.value);
        } catch (err) {
          input.setAttribute('aria-invalid', 'true');
          throw err;
        }
        input.value = shown.textContent;
        say(status, 'Name saved.');
        renamed();
      });
    },
  },
    h('label', { for: 'device-name-input' }, 'New name'),
    input,
    h('p', { id: 'rename-hint', class: 'muted' }, 'Up to 64 characters. Your other devices see this browser by this name.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Rename')));
  return h('section', { id: 'this-device', 'aria-labelledby': 'this-device-heading' },
    h('h2', { id: 'this-device-heading' }, 'This device'),
    h('p', {}, 'Name: ', shown),
    form,
    status);
}
