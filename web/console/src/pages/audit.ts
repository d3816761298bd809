// The audit trail: who changed what, when, from where; searched and paged by the admin API, and
// exported as JSON lines. A principal of one application sees only that application's entries.
import { h, type Child } from '../../../shared/dom.ts';
import { api, type AuditEntry } from '../api.ts';
import { attempt, pagedTable, section, statusLine, when } from '../ui.ts';

/** "settings.codeTtlSeconds: 600 → 300; name: Shop → Shop B" (what changed), or the request's fields. */
function changeOf(e: AuditEntry): string {
  const changed = e.detail.changed as Record<string, [unknown, unknown]> | undefined;
  const show = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  if (changed && Object.keys(changed).length > 0) return Object.entries(changed).map(([k, [a, b]]) => `${k}: ${show(a)} → ${show(b)}`).join('; ');
  const request = e.detail.request as Record<string, unknown> | undefined;
  return request && Object.keys(request).length > 0 ? Object.entries(request).map(([k, v]) => `${k}: ${show(v)}`).join('; ') : '';
}

export async function auditPage(): Promise<Child[]> {
  const status = statusLine();
  const table = pagedTable<AuditEntry>({
    testId: 'audit',
    caption: 'Audit trail',
    noun: ['entry', 'entries'],
    filters: [
      { name: 'action', label: 'Action (its start)', placeholder: 'application.' },
      { name: 'actor', label: 'Who (exactly)', placeholder: 'admin 1 (ana@example.com)' },
      { name: 'app_id', label: 'Application id', placeholder: '1' },
    ],
    columns: [
      { label: 'When (UTC)', cell: (e) => when(e.at, true) },
      { label: 'Who', cell: (e) => e.actor },
      { label: 'From', cell: (e) => e.ip ?? '' },
      { label: 'Action', cell: (e) => h('code', {}, e.action) },
      { label: 'Application', cell: (e) => (e.app_id === null ? '' : h('a', { href: `#/apps/${e.app_id}` }, String(e.app_id))) },
      { label: 'What changed', cell: (e) => changeOf(e) },
    ],
    load: (p) => api.audit(p),
    empty: 'No entries match.',
  });
  // The export goes through the same credentials as every call (a token or the session).
  const exportButton = h(
    'button',
    {
      type: 'button',
      onclick: () =>
        void attempt(status, async () => {
          const blob = await api.auditExport();
          const a = h('a', { href: URL.createObjectURL(blob), download: 'openfactor-audit.jsonl' }) as HTMLAnchorElement;
          a.click();
          URL.revokeObjectURL(a.href);
        }),
    },
    'Export as JSON lines',
  );
  await table.reload();
  return [
    section(
      'Audit trail',
      h('span', {}, 'Every change through the console, the admin API and the command line, every sign-in and failed one; secrets are never kept. Each entry is chained to the one before: ', h('code', {}, 'openfactor audit verify'), ' finds one edited or deleted.'),
      table.element,
      h('div', { class: 'actions' }, exportButton),
      status,
    ),
  ];
}
