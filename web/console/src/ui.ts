// The console's building blocks: status lines, confirmations, forms' fields, paged tables.
// Every text from the API goes in as text (h() never parses HTML).
import { h, type Child } from '../../shared/dom.ts';
import { ApiError, type Page } from './api.ts';

/** Called when the admin token is refused: back to the sign-in page. */
let onRefused: (problem: string) => void = () => {};
export const whenRefused = (f: (problem: string) => void) => {
  onRefused = f;
};

/** A status line: says what was done, or what went wrong; read out by screen readers. */
export const statusLine = () => h('p', { class: 'status', role: 'status' });

/** Says in `status` that the change was made. */
export function done(status: HTMLElement, text: string): void {
  status.className = 'status ok';
  status.textContent = text;
}

/** Runs `work`; an API refusal is shown in `where` (a 401 sends the operator back to sign in). */
export async function attempt(where: HTMLElement, work: () => Promise<void>): Promise<void> {
  where.textContent = '';
  where.className = 'status';
  try {
    await work();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return onRefused('That token was refused.');
    where.className = 'status error';
    where.textContent = e instanceof Error ? e.message : String(e);
  }
}

/** A form's submit handler: the page stays, and `work` runs as `attempt` runs it. */
export const onSubmit = (status: HTMLElement, work: () => Promise<void>) => (e: Event) => {
  e.preventDefault();
  void attempt(status, work);
};

/** "1 message", "3 messages". */
export const count = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** An ISO time as "2026-12-03 14:05 UTC" (the API's times are UTC). */
export const when = (iso: string | null | undefined, seconds = false) => (iso ? `${iso.replace('T', ' ').slice(0, seconds ? 19 : 16)}` : '');

/** A section with a heading, an optional line of help and its content. */
export const section = (title: string, help: Child, ...children: Child[]) =>
  h('section', { 'aria-labelledby': slug(title) }, h('h2', { id: slug(title) }, title), help ? h('p', { class: 'help' }, help) : null, ...children);

export const slug = (text: string) => `s-${text.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

let fieldIds = 0;
/** A labelled field: the label above the control, with an optional hint tied to it. */
export function field(label: string, control: HTMLElement, hint?: Child): HTMLElement {
  const id = control.id || `f${++fieldIds}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** A checkbox with its label right beside it, and an optional hint. */
export function checkbox(label: string, control: HTMLInputElement, hint?: Child): HTMLElement {
  const id = control.id || `f${++fieldIds}`;
  control.id = id;
  const hintEl = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field check' }, control, h('label', { for: id }, label), hintEl);
}

/**
 * Asks before something that cannot be undone, in a modal dialog (focus held inside, Escape
 * cancels). With `typeToConfirm`, the button works only once that text is typed.
 */
export function confirmDialog(opts: { title: string; text: string; action: string; typeToConfirm?: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const typed = opts.typeToConfirm === undefined ? null : (h('input', { name: 'confirm_text', autocomplete: 'off', spellcheck: 'false' }) as HTMLInputElement);
    const go = h('button', { type: 'submit', class: 'danger', disabled: typed !== null }, opts.action) as HTMLButtonElement;
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'confirm-title' }, opts.title),
        h('p', { id: 'confirm-text' }, opts.text),
        typed && field(`Type “${opts.typeToConfirm}” to confirm`, typed),
        h('div', { class: 'actions' }, h('button', { type: 'button', value: 'cancel', onclick: () => dialog.close('cancel') }, 'Cancel'), go),
      ),
    ) as HTMLDialogElement;
    typed?.addEventListener('input', () => (go.disabled = typed.value !== opts.typeToConfirm));
    // The page behind is inert, but Tab past the last button would leave for the browser's own
    // controls: it wraps around inside the dialog instead.
    dialog.addEventListener('keydown', (e) => {
      if (e.key !== 'Tab') return;
      const stops = [...dialog.querySelectorAll<HTMLElement>('input, button:not(:disabled)')];
      const at = stops.indexOf(document.activeElement as HTMLElement);
      const to = e.shiftKey ? (at <= 0 ? stops.length - 1 : at - 1) : at === stops.length - 1 ? 0 : at + 1;
      e.preventDefault();
      stops[to]?.focus();
    });
    go.addEventListener('click', (e) => {
      e.preventDefault();
      dialog.close('confirm');
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
    (typed ?? dialog.querySelector<HTMLButtonElement>('button[value=cancel]'))?.focus();
  });
}

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
}

export interface Filter {
  name: string;
  label: string;
  /** Choices of a select (the first, '', means any); none: a search box. */
  options?: [string, string][];
  placeholder?: string;
}

/**
 * A table of a list the admin API pages: filters and search sent to the server, a page at a
 * time (Previous / Next), "Showing 26–50 of 1,234". Never the whole list in the page.
 */
export function pagedTable<T>(opts: {
  testId: string;
  caption: string;
  noun: [string, string];
  columns: Column<T>[];
  filters?: Filter[];
  pageSize?: number;
  load: (params: URLSearchParams) => Promise<Page<T>>;
  empty: string;
}): { element: HTMLElement; reload: () => Promise<void> } {
  const status = statusLine();
  const body = h('tbody');
  const shown = h('p', { class: 'shown', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', disabled: true }, 'Previous') as HTMLButtonElement;
  const next = h('button', { type: 'button', disabled: true }, 'Next') as HTMLButtonElement;
  const size = opts.pageSize ?? 25;
  const inputs = (opts.filters ?? []).map((f) => {
    const control = (f.options
      ? h('select', { name: f.name }, ...f.options.map(([value, text]) => h('option', { value }, text)))
      : h('input', { name: f.name, type: 'search', placeholder: f.placeholder ?? '', autocomplete: 'off' })) as HTMLInputElement | HTMLSelectElement;
    return { f, control };
  });
  // Cursors of the pages before this one: Previous goes back without the server keeping state.
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  let first = 1;

  const fetchPage = async () => {
    const params = new URLSearchParams({ limit: String(size) });
    for (const { f, control } of inputs) if (control.value.trim()) params.set(f.name, control.value.trim());
    if (cursor) params.set('cursor', cursor);
    const page = await opts.load(params);
    body.replaceChildren(
      ...page.rows.map((row) => h('tr', {}, ...opts.columns.map((c) => h('td', { 'data-label': c.label }, c.cell(row))))),
    );
    if (page.rows.length === 0) body.replaceChildren(h('tr', {}, h('td', { colspan: opts.columns.length, class: 'empty' }, opts.empty)));
    const last = first + page.rows.length - 1;
    const [one, many] = opts.noun;
    shown.textContent =
      page.rows.length === 0 ? '' : page.total !== null ? `Showing ${first.toLocaleString('en')}–${last.toLocaleString('en')} of ${count(page.total, one, many)}` : `Showing ${first}–${last}`;
    prev.disabled = cursors.length === 0;
    next.disabled = page.next_cursor === null;
    next.onclick = () => {
      cursors.push(cursor);
      cursor = page.next_cursor;
      first += size;
      void attempt(status, fetchPage);
    };
  };
  prev.onclick = () => {
    cursor = cursors.pop() ?? null;
    first = Math.max(1, first - size);
    void attempt(status, fetchPage);
  };
  const restart = () => {
    cursors.length = 0;
    cursor = null;
    first = 1;
    return attempt(status, fetchPage);
  };
  const filterForm =
    inputs.length > 0 &&
    h(
      'form',
      { class: 'filters', role: 'search', 'aria-label': `Filter ${opts.caption.toLowerCase()}`, onsubmit: (e: Event) => (e.preventDefault(), void restart()) },
      ...inputs.map(({ f, control }) => {
        if (control instanceof HTMLSelectElement) control.addEventListener('change', () => void restart());
        return field(f.label, control);
      }),
      h('button', { type: 'submit' }, 'Search'),
    );
  const element = h(
    'div',
    { class: 'table-block' },
    filterForm,
    h(
      'table',
      { 'data-testid': opts.testId },
      h('caption', { class: 'visually-hidden' }, opts.caption),
      h('thead', {}, h('tr', {}, ...opts.columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      body,
    ),
    h('div', { class: 'pager' }, shown, h('div', { class: 'actions' }, prev, next)),
    status,
  );
  return { element, reload: restart };
}

/** A small table of a short list that needs no paging (quarantines, webhooks). */
export function plainTable<T>(testId: string, caption: string, columns: Column<T>[], rows: T[], empty: string): HTMLElement {
  return h(
    'table',
    { 'data-testid': testId },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h(
      'tbody',
      {},
      ...(rows.length
        ? rows.map((row) => h('tr', {}, ...columns.map((c) => h('td', { 'data-label': c.label }, c.cell(row)))))
        : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))]),
    ),
  );
}

/** A secret shown once, with a button that copies it. */
export function secret(label: string, value: string, testId?: string): HTMLElement {
  const copied = h('span', { class: 'hint', 'aria-live': 'polite' });
  return h(
    'div',
    { class: 'secret-box' },
    h('p', {}, label),
    h('p', { class: 'secret', 'data-testid': testId }, value),
    h('button', { type: 'button', onclick: () => void navigator.clipboard?.writeText(value).then(() => (copied.textContent = 'Copied.')) }, 'Copy'),
    ' ',
    copied,
  );
}
