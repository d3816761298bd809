// Who may do what in the admin API: every route names what it needs, in one table; a route
// missing from it stops the server at start (fail closed), so no route is ever left unchecked.
// A role grants needs; a principal scoped to one application reaches only that application.

export const ROLES = ['owner', 'admin', 'support', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

/**
 * read: see what is there (no route ever answers a key or secret except when it is made);
 * support: what helps a user (unlock, lost-phone recoveries); manage: an application's settings,
 * keys, users, devices and integrations; owner: the whole service (applications made or deleted,
 * Twilio Verify accounts, API tokens, the cross-application outbox with full destinations).
 */
export type Need = 'read' | 'support' | 'manage' | 'owner';
/** Reached before anyone is known: signing in. */
type Open = 'public';

const GRANTS: Record<Role, readonly Need[]> = {
  owner: ['read', 'support', 'manage', 'owner'],
  admin: ['read', 'support', 'manage'],
  support: ['read', 'support'],
  read_only: ['read'],
};

export const roleMay = (role: Role, need: Need | Open) => need === 'public' || GRANTS[role].includes(need);

/** What a route needs, and for a change, the name its audit entries carry. */
export interface RouteAccess {
  need: Need | Open;
  action?: string;
}

const read: RouteAccess = { need: 'read' };
const change = (need: Need, action: string): RouteAccess => ({ need, action });

/** Every admin route, by method and URL as registered. */
export const ROUTE_ACCESS: Record<string, RouteAccess> = {
  'GET /admin/applications': read,
  'POST /admin/applications': change('owner', 'application.create'),
  'GET /admin/applications/:id': read,
  'DELETE /admin/applications/:id': change('owner', 'application.delete'),
  'POST /admin/applications/:id/name': change('manage', 'application.rename'),
  'POST /admin/applications/:id/settings': change('manage', 'application.settings'),
  'POST /admin/applications/:id/api_key': change('manage', 'application.api_key_replaced'),
  'POST /admin/applications/:id/callback': change('manage', 'application.callback'),
  'POST /admin/applications/:id/countries': change('manage', 'application.countries'),
  'POST /admin/applications/:id/dashboard_keys': change('manage', 'application.dashboard_keys_replaced'),
  'GET /admin/applications/:id/users': read,
  'GET /admin/applications/:id/users/:user_id': read,
  'POST /admin/applications/:id/users/:user_id/unlock': change('support', 'user.unlock'),
  'POST /admin/applications/:id/users/import': change('manage', 'users.import'),
  'GET /admin/applications/:id/recoveries': read,
  'POST /admin/applications/:id/recoveries/:rid/cancel': change('support', 'recovery.cancel'),
  'POST /admin/applications/:id/recoveries/:rid/shorten': change('support', 'recovery.shorten'),
  'POST /admin/applications/:id/users/:user_id/account_recovery': change('support', 'recovery.start'),
  'GET /admin/applications/:id/traffic': read,
  'GET /admin/applications/:id/messages': read,
  'GET /admin/applications/:id/verifications': read,
  'GET /admin/applications/:id/deliveries': read,
  'GET /admin/applications/:id/approvals': read,
  'GET /admin/applications/:id/devices': read,
  'GET /admin/applications/:id/quarantines': read,
  'POST /admin/applications/:id/quarantines/lift': change('manage', 'defence.quarantine_lifted'),
  'GET /admin/applications/:id/webhooks': read,
  'POST /admin/applications/:id/webhooks': change('manage', 'webhook.create'),
  'DELETE /admin/applications/:id/webhooks/:webhook_id': change('manage', 'webhook.delete'),
  'GET /admin/applications/:id/providers': read,
  'POST /admin/applications/:id/providers': change('manage', 'application.providers'),
  'GET /admin/applications/:id/verify_verifications': read,
  'GET /admin/applications/:id/verify_factors': read,
  'GET /admin/verify/accounts': read,
  'POST /admin/verify/accounts': change('owner', 'verify.account_create'),
  'GET /admin/verify/accounts/:sid/keys': read,
  'POST /admin/verify/accounts/:sid/keys': change('owner', 'verify.api_key_create'),
  'GET /admin/verify/accounts/:sid/services': read,
  'GET /admin/outbox': { need: 'owner' },
  'GET /admin/me': read,
  'GET /admin/tokens': { need: 'owner' },
  'POST /admin/tokens': change('owner', 'token.create'),
  'DELETE /admin/tokens/:token_id': change('owner', 'token.revoke'),
  'GET /admin/audit': read,
  'POST /admin/session': { need: 'public' },
  'POST /admin/session/second_factor': { need: 'public' },
  'GET /admin/session': read,
  'GET /admin/sign_in_options': { need: 'public' },
  'GET /admin/sso': { need: 'public' },
  'GET /admin/sso/callback': { need: 'public' },
  'DELETE /admin/session': change('read', 'admin.sign_out'),
  'GET /admin/accounts': { need: 'owner' },
  'POST /admin/accounts': change('owner', 'admin.account_create'),
  'POST /admin/accounts/:account_id/disable': change('owner', 'admin.account_disable'),
  'POST /admin/accounts/:account_id/onetouch': change('owner', 'admin.account_onetouch'),
};

/** The access of a route (HEAD is a GET), or undefined when the table does not name it. */
export function accessOf(method: string, url: string): RouteAccess | undefined {
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

/** Who is asking: the break-glass admin token, an API token, (later) a signed-in administrator. */
export interface Principal {
  kind: 'break_glass' | 'token' | 'admin';
  /** A console session's id (kind admin), so that signing out ends it. */
  sessionId?: number;
  /** Said in the audit trail: "break-glass admin token", "token 3 (ci-deploy)". */
  name: string;
  id?: number;
  role: Role;
  /** Only this application, when set. */
  appId?: number;
}

/** Routes about one application: the `:id` of `/admin/applications/:id…`. */
export const appOfRoute = (url: string, params: unknown): string | undefined =>
  url.startsWith('/admin/applications/:id') ? (params as { id?: string }).id : undefined;

/**
 * Whether `p` may call this route: its role grants the need, and a principal of one application
 * stays in it (its own application's routes; the applications list, filtered to it; its own
 * identity). Anything else outside its application is refused, even to read.
 */
export function allowed(p: Principal, access: RouteAccess, url: string, params: unknown): boolean {
  if (!roleMay(p.role, access.need)) return false;
  if (p.appId === undefined) return true;
  const app = appOfRoute(url, params);
  if (app !== undefined) return app === String(p.appId);
  return url === '/admin/applications' || url === '/admin/me' || url === '/admin/audit' || url === '/admin/session';
}
