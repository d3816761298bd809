// Building pages without HTML strings: every text goes in as text, so what customers and users
// typed (names, emails, approval messages) can never become markup or script.
export type Child = Node | string | null | undefined | false;

/** An element with attributes (`on…` functions become listeners) and children. */
export function h(tag: string, attrs: Record<string, unknown> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Replaces what `where` shows. */
export function show(where: HTMLElement, ...children: Child[]): void {
  where.replaceChildren(...(children.filter(Boolean) as (Node | string)[]));
}
