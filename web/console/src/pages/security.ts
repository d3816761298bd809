// Keys and the application itself: replace the API key or the webhooks API keys, rename,
// delete. Each destructive action is confirmed in a dialog; delete asks for the name.
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type Application } from '../api.ts';
import { may } from '../can.ts';
import { attempt, confirmDialog, done, field, onSubmit, secret, section, statusLine } from '../ui.ts';

/** A section whose button replaces secrets after a confirmation and shows the new ones once. */
function replaceSection(title: string, intro: string, button: string, question: { title: string; text: string }, replace: () => Promise<Node[]>): HTMLElement {
  const status = statusLine();
  const shown = h('div');
  return section(
    title,
    intro,
    h('button', {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        if (!(await confirmDialog({ ...question, action: button }))) return;
        await attempt(status, async () => show(shown, ...(await replace())));
      },
    }, button),
    shown,
    status,
  );
}

function renameSection(app: Application, onRenamed: (a: Application) => void): HTMLElement {
  const status = statusLine();
  const name = h('input', { name: 'app_name', value: app.name, required: true, maxlength: 64 }) as HTMLInputElement;
  return section(
    'Name',
    'Shown in the console and, to users, in authenticator apps and OneTouch requests. Names are unique.',
    h(
      'form',
      {
        class: 'row-form',
        onsubmit: onSubmit(status, async () => {
          const renamed = await api.rename(app.id, name.value.trim());
          onRenamed(renamed);
          done(status, `Renamed to “${renamed.name}”.`);
        }),
      },
      field('Application name', name),
      h('button', { type: 'submit', class: 'primary' }, 'Rename'),
    ),
    status,
  );
}

/** `app()`: the application as it is now (a rename on this page changes the name to type). */
function deleteSection(current: () => Application): HTMLElement {
  const status = statusLine();
  return h(
    'section',
    { class: 'danger-zone', 'aria-labelledby': 'delete-title' },
    h('h2', { id: 'delete-title' }, 'Delete this application'),
    h('p', {}, 'Its API key stops working at once, and its users, devices, codes, approval requests, messages, webhooks and logs are deleted. This cannot be undone.'),
    h('button', {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        const app = current();
        const ok = await confirmDialog({
          title: `Delete “${app.name}”?`,
          text: 'Everything the application holds is deleted, and clients using its API key are refused from then on.',
          action: 'Delete the application',
          typeToConfirm: app.name,
        });
        if (!ok) return;
        await attempt(status, async () => {
          await api.remove(app.id, app.name);
          sessionStorage.setItem('openfactor-console-notice', `Deleted “${app.name}”.`);
          location.hash = '#/';
        });
      },
    }, 'Delete the application'),
    status,
  );
}

export function securityPage(app: Application, onRenamed: (a: Application) => void): Child[] {
  let now = app;
  const renamed = (a: Application) => {
    now = a;
    onRenamed(a);
  };
  // The page is in the navigation only for who may manage the application; deleting is the owner's.
  return [
    replaceSection(
      'API key',
      'A new key works at once; the old one is refused from then on.',
      'Replace the API key',
      { title: `Replace the API key of “${app.name}”?`, text: 'Clients using the old key stop working at once.' },
      async () => [secret('The new key, shown only now:', await api.rotateKey(app.id), 'rotated-api-key')],
    ),
    replaceSection(
      'Webhooks API keys',
      'For the webhooks API (Authy\'s dashboard keys); the old ones stop working at once.',
      'Replace the webhooks API keys',
      { title: 'Replace the webhooks API keys?', text: 'The old access key and signing key stop working at once.' },
      async () => {
        const k = await api.rotateDashboardKeys(app.id);
        return [secret('Access key, shown only now:', k.access_key, 'access-key'), secret('API signing key:', k.signing_key, 'signing-key'), h('p', { class: 'ok' }, 'Keys replaced.')];
      },
    ),
    renameSection(app, renamed),
    may('DELETE', '/admin/applications/:id', app.id) && deleteSection(() => now),
  ];
}
