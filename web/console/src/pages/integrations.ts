// How OpenFactor talks to the customer and to providers: the OneTouch callback, webhooks and
// what was delivered to them, and the application's own delivery providers.
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type Application, type Webhook } from '../api.ts';
import { attempt, confirmDialog, done, field, onSubmit, plainTable, secret, section, statusLine } from '../ui.ts';
import { deliveriesTable } from './logs.ts';
import { lookOnly, may } from '../can.ts';

function callbackSection(app: Application): HTMLElement {
  const status = statusLine();
  const url = h('input', { name: 'callback_url', type: 'url', value: app.onetouch_callback?.url ?? '', placeholder: 'https://you.example/authy/callback' }) as HTMLInputElement;
  const method = h('select', { name: 'callback_method' }, h('option', {}, 'POST'), h('option', {}, 'GET')) as HTMLSelectElement;
  method.value = app.onetouch_callback?.method ?? 'POST';
  if (!may('POST', '/admin/applications/:id/callback', app.id)) {
    const now = app.onetouch_callback;
    return section('OneTouch callback', null, h('p', {}, now ? `Answers go to ${now.method} ${now.url}.` : 'No callback: the status is polled.'), lookOnly('change the callback'));
  }
  return section(
    'OneTouch callback',
    'Where each answer to an approval request is sent, signed with the API key (X-Authy-Signature). Empty: no callback, the status is polled.',
    h(
      'form',
      {
        class: 'row-form',
        onsubmit: onSubmit(status, async () => {
          const saved = await api.setCallback(app.id, url.value.trim() || null, method.value);
          done(status, saved.onetouch_callback ? `Answers go to ${saved.onetouch_callback.method} ${saved.onetouch_callback.url}.` : 'No callback.');
        }),
      },
      field('Callback URL', url),
      field('Method', method),
      h('button', { type: 'submit', class: 'primary' }, 'Save callback'),
    ),
    status,
  );
}

async function webhooksSection(app: Application): Promise<HTMLElement> {
  const status = statusLine();
  const list = h('div');
  const shown = h('div');
  const { events } = await api.webhooks(app.id);
  const manage = may('POST', '/admin/applications/:id/webhooks', app.id);
  const name = h('input', { name: 'webhook_name', required: true, maxlength: 64 }) as HTMLInputElement;
  const url = h('input', { name: 'webhook_url', type: 'url', placeholder: 'https://you.example/authy/events', required: true }) as HTMLInputElement;
  const picks = events.map((e) => ({ e, box: h('input', { type: 'checkbox', name: 'webhook_events', value: e, id: `ev-${e}` }) as HTMLInputElement }));
  const fill = async () => {
    const { webhooks } = await api.webhooks(app.id);
    show(
      list,
      plainTable<Webhook>(
        'webhooks',
        'Webhooks',
        [
          { label: 'Name', cell: (w) => w.name },
          { label: 'URL', cell: (w) => h('span', { class: 'url' }, w.url) },
          { label: 'Events', cell: (w) => w.events.join(', ') },
          { label: 'Created', cell: (w) => w.created_at.slice(0, 10) },
          ...(manage ? [{
            label: 'Actions',
            cell: (w: Webhook) =>
              h('button', {
                type: 'button',
                class: 'danger',
                onclick: async () => {
                  if (!(await confirmDialog({ title: `Delete the webhook “${w.name}”?`, text: 'Its events stop at once; deliveries already queued are dropped.', action: `Delete ${w.name}` }))) return;
                  await attempt(status, async () => (await api.deleteWebhook(app.id, w.id), await fill(), done(status, `Deleted ${w.name}.`)));
                },
              }, `Delete ${w.name}`),
          }] : []),
        ],
        webhooks,
        'No webhooks.',
      ),
    );
  };
  await fill();
  return section(
    'Webhooks',
    'Events of this application posted to your URL, each signed with the webhook\'s own key.',
    list,
    !manage ? lookOnly('add or delete webhooks') : h(
      'form',
      {
        class: 'stack',
        onsubmit: onSubmit(status, async () => {
          const chosen = picks.filter((p) => p.box.checked).map((p) => p.e);
          if (chosen.length === 0) throw new Error('Choose at least one event.');
          const made = await api.createWebhook(app.id, name.value.trim(), url.value.trim(), chosen);
          show(shown, secret(`Signing key of ${made.name}, shown only now:`, made.signing_key, 'webhook-signing-key'));
          for (const p of picks) p.box.checked = false;
          name.value = '';
          url.value = '';
          await fill();
          done(status, `Made ${made.name}.`);
        }),
      },
      h('h3', {}, 'Add a webhook'),
      h('div', { class: 'row-form' }, field('Name', name), field('URL', url)),
      h('fieldset', { class: 'events' }, h('legend', {}, 'Events'), ...picks.map((p) => h('div', { class: 'event' }, p.box, h('label', { for: p.box.id }, p.e)))),
      h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Add webhook')),
    ),
    shown,
    status,
  );
}

/** The application's own delivery providers per channel (empty: the service's). */
async function providersSection(app: Application): Promise<HTMLElement> {
  const status = statusLine();
  const lists = await api.providers(app.id);
  const channels = ['sms', 'voice', 'email'] as const;
  const current = h('ul', { 'data-testid': 'providers' });
  const draw = (l: typeof lists) => current.replaceChildren(...channels.map((c) => h('li', {}, `${c}: ${l[c]?.join(', ') ?? 'the service\'s providers'}`)));
  draw(lists);
  const inputs = Object.fromEntries(channels.map((c) => [c, h('input', { name: `providers_${c}`, placeholder: 'provider URLs, comma-separated' }) as HTMLInputElement]));
  return section(
    'Delivery providers',
    'Credentials are never shown back. A channel left empty keeps its list; "-" returns it to the service\'s providers.',
    current,
    !may('POST', '/admin/applications/:id/providers', app.id) ? lookOnly('change the providers') : h(
      'form',
      {
        class: 'stack',
        onsubmit: onSubmit(status, async () => {
          const patch = Object.fromEntries(channels.filter((c) => inputs[c].value.trim()).map((c) => [c, inputs[c].value.trim() === '-' ? '' : inputs[c].value.trim()]));
          draw(await api.setProviders(app.id, patch));
          for (const c of channels) inputs[c].value = '';
          done(status, 'Providers saved.');
        }),
      },
      field('SMS providers', inputs.sms),
      field('Voice providers', inputs.voice),
      field('Email providers', inputs.email),
      h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Save providers')),
    ),
    status,
  );
}

export async function integrationsPage(app: Application): Promise<Child[]> {
  const [webhooks, deliveries] = await Promise.all([webhooksSection(app), deliveriesTable(app)]);
  return [callbackSection(app), webhooks, section('Deliveries', 'Callbacks and webhook events sent, newest first, with the result of the last attempt (each is retried with backoff).', deliveries)];
}

export const providersPage = async (app: Application): Promise<Child[]> => [await providersSection(app)];
