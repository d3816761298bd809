// What the signed-in administrator (or token) may do, by the admin API's own table of routes and
// needs (src/admin/access.ts): the console offers only the changes the role allows, and the server
// still checks every one.
import { h } from '../../shared/dom.ts';
import { accessOf, allowed, type Principal } from '../../../src/admin/access.ts';

export interface PrincipalView {
  kind: Principal['kind'];
  name: string;
  role: Principal['role'];
  app_id: number | null;
}

let me: Principal | undefined;

export const who = {
  get: () => me,
  set: (p: PrincipalView) => {
    me = { kind: p.kind, name: p.name, role: p.role, ...(p.app_id === null ? {} : { appId: p.app_id }) };
  },
  clear: () => {
    me = undefined;
  },
};

/** Whether the route `method url` (as the admin API registers it) is open to who is signed in, for application `appId`. */
export function may(method: string, url: string, appId?: number): boolean {
  const access = accessOf(method, url);
  return !!me && !!access && allowed(me, access, url, { id: appId === undefined ? undefined : String(appId) });
}

/** Said where a change would be, for a role that may only look. */
export const lookOnly = (what: string) => h('p', { class: 'help look-only' }, `Your role (${me?.role ?? 'none'}) may look here, not ${what}.`);
