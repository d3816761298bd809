// What every screen of the authenticator shares: where it draws, how it says what went wrong.
import { h, show as showIn, type Child } from '../../shared/dom.ts';
import { IndexedDbStorage, OpenFactorError, type OpenFactorDevice } from '../../../sdk/device/src/index.ts';

export const storage = new IndexedDbStorage('openfactor-authenticator');
export const view = document.getElementById('view')!;
export const connection = document.getElementById('connection')!;
/**
 * A new screen. The keyboard's place would be lost with the old one: it goes to the new screen's
 * title, so Tab continues from there and a screen reader reads where the person now is.
 */
export const show = (...children: Child[]) => {
  const hadFocus = view.contains(document.activeElement);
  showIn(view, ...children);
  const title = view.querySelector<HTMLElement>('h1, h2');
  if (hadFocus && title) {
    title.tabIndex = -1;
    title.focus();
  }
};

/** What to do with a device once it may show codes. */
export type Ready = (device: OpenFactorDevice) => void;

/** Runs `work`; what goes wrong is said in `where`, followed by `more(error)` if that gives something (a way out). */
export async function attempt(where: HTMLElement, work: () => Promise<void>, more?: (e: unknown) => Child): Promise<void> {
  where.className = '';
  where.textContent = '';
  try {
    await work();
  } catch (e) {
    where.className = 'error';
    showIn(where, e instanceof Error ? e.message : String(e), more?.(e) ? ' ' : null, more?.(e));
  }
}

export const onSubmit = (status: HTMLElement, work: (form: FormData) => Promise<void>, more?: (e: unknown) => Child) => (e: Event) => {
  e.preventDefault();
  const form = new FormData(e.currentTarget as HTMLFormElement);
  void attempt(status, () => work(form), more);
};

export const field = (form: FormData, name: string) => String(form.get(name) ?? '').trim();
export const errorCodeOf = (e: unknown) => (e instanceof OpenFactorError ? e.code : undefined);
export const say = (where: HTMLElement, text: string) => {
  where.className = 'ok';
  where.textContent = text;
};
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : 'soon');

/** A 6-digit code field. */
export const codeInput = (name: string, label: string) =>
  h('label', {}, label, h('input', { name, inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true }));

/** Country code, number and (with `via`) how the code is sent. */
export const numberFields = (prefix = '', via = true) => [
  h('label', {}, 'Country code', h('input', { name: `${prefix}country_code`, inputmode: 'numeric', value: '1', maxlength: 4, required: true })),
  h('label', {}, 'Phone number', h('input', { name: `${prefix}phone_number`, type: 'tel', autocomplete: 'tel-national', required: true })),
  via && h('label', {}, 'Send the code by', h('select', { name: 'via' }, h('option', { value: 'sms' }, 'Text message'), h('option', { value: 'voice' }, 'Phone call'))),
];

export const viaOf = (form: FormData) => (field(form, 'via') === 'voice' ? ('voice' as const) : ('sms' as const));
export const locale = () => navigator.language.slice(0, 2);
