// What went out and what came back: messages (the delivery log), phone verifications, and the
// callbacks and webhooks delivered to the customer.
import { h, type Child } from '../../../shared/dom.ts';
import { api, type Application, type Delivery, type Message, type Verification } from '../api.ts';
import { pagedTable, section, when } from '../ui.ts';

const ANY = ['', 'Any'] as [string, string];
const options = (values: string[]) => [ANY, ...values.map((v) => [v, v[0].toUpperCase() + v.slice(1)] as [string, string])];
const badge = (status: string) => h('span', { class: `badge ${status}` }, status);

export async function messagesPage(app: Application): Promise<Child[]> {
  const table = pagedTable<Message>({
    testId: 'messages',
    caption: 'Messages',
    noun: ['message', 'messages'],
    filters: [
      { name: 'q', label: 'Authy ID or message id', placeholder: '1234 or SM…' },
      { name: 'channel', label: 'Channel', options: [ANY, ['sms', 'SMS'], ['voice', 'Voice'], ['email', 'Email']] },
      { name: 'status', label: 'Status', options: options(['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'blocked']) },
    ],
    columns: [
      { label: 'When (UTC)', cell: (m) => when(m.created_at, true) },
      { label: 'Authy ID', cell: (m) => (m.authy_id === null ? '' : String(m.authy_id)) },
      { label: 'Channel', cell: (m) => m.channel },
      { label: 'To', cell: (m) => m.to },
      { label: 'Status', cell: (m) => badge(m.status) },
      { label: 'Provider', cell: (m) => m.provider ?? '' },
      { label: 'Tries', cell: (m) => String(m.provider_attempts) },
      { label: 'Result', cell: (m) => m.result ?? '' },
    ],
    load: (p) => api.list<Message>(app.id, 'messages', p),
    empty: 'No messages match.',
  });
  await table.reload();
  return [section('Messages', 'Codes sent by SMS, voice and email, newest first; destinations masked, texts never shown. "blocked" ones were stopped by the SMS-pumping defence.', table.element)];
}

export async function verificationsPage(app: Application): Promise<Child[]> {
  const table = pagedTable<Verification>({
    testId: 'verifications',
    caption: 'Phone verifications',
    noun: ['verification', 'verifications'],
    filters: [
      { name: 'status', label: 'Status', options: options(['pending', 'verified', 'expired', 'dead']) },
      { name: 'via', label: 'Via', options: [ANY, ['sms', 'SMS'], ['call', 'Call']] },
    ],
    columns: [
      { label: 'Started (UTC)', cell: (v) => when(v.created_at, true) },
      { label: 'Phone', cell: (v) => v.phone },
      { label: 'Via', cell: (v) => v.via },
      { label: 'Status', cell: (v) => badge(v.status) },
      { label: 'Checks', cell: (v) => String(v.checks) },
      { label: 'Verified (UTC)', cell: (v) => when(v.verified_at, true) },
    ],
    load: (p) => api.list<Verification>(app.id, 'verifications', p),
    empty: 'No phone verifications match.',
  });
  await table.reload();
  return [section('Phone verifications', 'Started through the phone verification API; phones masked, codes never shown.', table.element)];
}

/** Callback and webhook deliveries with their last attempt. */
export async function deliveriesTable(app: Application): Promise<HTMLElement> {
  const table = pagedTable<Delivery>({
    testId: 'deliveries',
    caption: 'Callback and webhook deliveries',
    noun: ['delivery', 'deliveries'],
    filters: [
      { name: 'kind', label: 'Kind', options: [ANY, ['callback', 'OneTouch callback'], ['webhook', 'Webhook']] },
      { name: 'status', label: 'Status', options: options(['pending', 'delivered', 'failed']) },
    ],
    columns: [
      { label: 'When (UTC)', cell: (d) => when(d.created_at, true) },
      { label: 'Kind', cell: (d) => d.kind },
      { label: 'Event', cell: (d) => d.event },
      { label: 'URL', cell: (d) => h('span', { class: 'url' }, d.url) },
      { label: 'Status', cell: (d) => badge(d.status) },
      { label: 'Last attempt', cell: (d) => { const last = d.attempts.at(-1); return last ? (last.error ?? `HTTP ${last.http_status}`) : ''; } },
    ],
    load: (p) => api.list<Delivery>(app.id, 'deliveries', p),
    empty: 'Nothing delivered yet.',
  });
  await table.reload();
  return table.element;
}
