// The admin API (README "Admin API"), called with the operator's token or session.
import type { PrincipalView } from './can.ts';

export interface Application {
  id: number;
  name: string;
  created_at: string;
  settings: Record<string, number | boolean>;
  allowed_countries: string[];
  onetouch_callback: { url: string; method: 'GET' | 'POST' } | null;
}

export interface User {
  id: number;
  email: string;
  cellphone: string;
  country_code: number;
  created_at: string;
  devices: number;
  locked_until: string | null;
}

export interface UserDetails {
  user: User & { other_emails: string[] };
  activities: { type: string; data: unknown; user_ip: string | null; created_at: string }[];
}

export interface TrafficDay {
  date: string;
  messages: Record<string, Record<string, number>>;
  approvals: Record<string, number>;
  /** Phone verifications started that day, by their status now. */
  verifications?: Record<string, number>;
  /** Token verifications (verify) by result: valid, invalid, reused, locked. */
  token_checks?: Record<string, number>;
}

/** One page of a list: its rows, where the next page starts (null: the last page) and how many match. */
export interface Page<T> {
  rows: T[];
  next_cursor: string | null;
  total: number | null;
}

export interface Approval {
  uuid: string;
  authy_id: number;
  message: string;
  status: string;
  created_at: string;
  expires_at: string | null;
  answered_at: string | null;
  device: { id: number; name: string | null; os_type: string | null } | null;
}

export interface VerifyAccount {
  sid: string;
  name: string;
  date_created: string;
}

export interface VerifyKey {
  sid: string;
  account_sid: string;
  name: string;
  date_created: string;
}

export interface VerifyService {
  sid: string;
  friendly_name: string;
  code_length: number;
  app_id: number;
  date_created: string;
}

export interface VerifyVerification {
  sid: string;
  channel: string;
  to: string;
  status: string;
  sends: number;
  checks: number;
  date_created: string;
  date_updated: string;
  expires_at: string;
}

export interface VerifyFactor {
  sid: string;
  identity: string;
  factor_type: string;
  friendly_name: string;
  status: string;
  locked_until: string | null;
  pending_challenges: number;
  date_created: string;
}

export interface Device {
  id: number;
  authy_id: number;
  name: string | null;
  os_type: string | null;
  registered_at: string;
  last_seen_at?: string | null;
  deleted_at?: string | null;
}

export interface Message {
  id: string;
  authy_id: number | null;
  channel: string;
  to: string;
  status: string;
  provider: string | null;
  provider_attempts: number;
  result: string | null;
  created_at: string;
}

export interface Quarantine {
  prefix: string;
  rule: string;
  until: string;
  since: string;
}

/** A pending phone change or account recovery of the application's users (issue 17). */
export interface Recovery {
  id: string;
  kind: 'account_recovery' | 'phone_change' | 'phone_change_without_device';
  status: string;
  authy_ids: number[];
  started_at: string;
  completes_at?: string | null;
  expires_at?: string;
  device?: { name: string | null; os_type: string | null } | null;
}

export interface Delivery {
  id: number;
  kind: string;
  event: string;
  url: string;
  status: string;
  attempts: { started_at: string; http_status: number | null; error: string | null }[];
  created_at: string;
}

const TOKEN = 'openfactor-admin-token';

export interface Webhook {
  id: string;
  name: string;
  url: string;
  events: string[];
  created_at: string;
}

export interface Verification {
  uuid: string;
  phone: string;
  via: string;
  status: string;
  checks: number;
  created_at: string;
  expires_at: string;
  verified_at: string | null;
}

export interface ImportAnswer {
  summary: { lines: number; created: number; existing: number; failed: number };
  failed: { line: number; reason: string }[];
  dry_run: boolean;
  message: string;
}

export type ProviderLists = Record<'sms' | 'voice' | 'email', string[] | null>;

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (t: string) => sessionStorage.setItem(TOKEN, t),
  clear: () => sessionStorage.removeItem(TOKEN),
};

const CSRF = 'openfactor-admin-csrf';
/** A signed-in administrator's session: the cookie is HttpOnly; its CSRF token goes with each change. */
export const session = {
  csrf: () => sessionStorage.getItem(CSRF),
  set: (csrf: string) => sessionStorage.setItem(CSRF, csrf),
  clear: () => sessionStorage.removeItem(CSRF),
};

/** A refusal of the admin API, with its message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: unknown, raw?: { type: string; data: Blob }): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      ...(token.get() ? { authorization: `Bearer ${token.get()}` } : {}),
      ...(session.csrf() ? { 'x-csrf-token': session.csrf()! } : {}),
      ...(raw ? { 'content-type': raw.type } : body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: raw ? raw.data : body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({ message: `HTTP ${res.status}` }))) as T & { message?: string };
  if (!res.ok) throw new ApiError(res.status, json.message ?? `HTTP ${res.status}`);
  return json;
}

/** A list route's page: `key` names the rows in the answer. */
async function page<T>(path: string, key: string, params: URLSearchParams): Promise<Page<T>> {
  const r = await call<Record<string, unknown> & { next_cursor?: string | null; next_before_id?: number | null; total?: number }>('GET', `${path}?${params}`);
  return { rows: r[key] as T[], next_cursor: r.next_cursor ?? (r.next_before_id ? String(r.next_before_id) : null), total: r.total ?? null };
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actor_kind: string;
  ip: string | null;
  action: string;
  app_id: number | null;
  target: Record<string, unknown>;
  detail: Record<string, unknown>;
}

export interface AdminAccount {
  id: number;
  email: string;
  name: string;
  role: string;
  app_id: number | null;
  password: boolean;
  onetouch: { app_id: number; authy_id: number } | null;
  created_at: string;
  last_sign_in_at: string | null;
  disabled_at: string | null;
}

export interface ApiToken {
  id: number;
  name: string;
  role: string;
  app_id: number | null;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** A refusal that asks for a second factor: which ones there are (`code`, `onetouch`). */
export class SecondFactorAsked extends ApiError {
  constructor(
    message: string,
    readonly methods: string[],
  ) {
    super(401, message);
  }
}

type SessionAnswer = { csrf_token: string; principal: PrincipalView };

export const api = {
  /** Who is signed in (a session cookie or a token), and for a session its CSRF token. */
  session: () => call<{ csrf_token: string | null; principal: PrincipalView }>('GET', '/admin/session'),
  signInOptions: () => call<{ sso: { name: string; url: string } | null }>('GET', '/admin/sign_in_options'),
  /** The second factor of a sign-in waiting in its cookie: a code, or OneTouch (202 while waiting). */
  secondFactor: async (body: { code: string } | { method: 'onetouch' }): Promise<SessionAnswer | { waiting: { uuid: string; number?: number } }> => {
    const res = await fetch('/admin/session/second_factor', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = await res.json().catch(() => ({ message: `HTTP ${res.status}` }));
    if (res.status === 202) return { waiting: json.approval_request };
    if (!res.ok) throw new Error(json.message ?? `HTTP ${res.status}`);
    return json;
  },
  accounts: () => call<{ accounts: AdminAccount[] }>('GET', '/admin/accounts').then((r) => r.accounts),
  addAccount: (body: { email: string; name: string; role: string; app_id?: number; password?: string }) =>
    call<{ account: AdminAccount; otpauth_uri: string }>('POST', '/admin/accounts', body),
  disableAccount: (id: number) => call<{ account: AdminAccount }>('POST', `/admin/accounts/${id}/disable`),
  linkOneTouch: (id: number, to: { app_id?: number; authy_id?: number }) => call<{ account: AdminAccount }>('POST', `/admin/accounts/${id}/onetouch`, to),
  tokens: () => call<{ tokens: ApiToken[] }>('GET', '/admin/tokens').then((r) => r.tokens),
  createToken: (body: { name: string; role: string; app_id?: number }) => call<{ api_token: ApiToken; token: string }>('POST', '/admin/tokens', body),
  revokeToken: (id: number) => call<{ api_token: ApiToken }>('DELETE', `/admin/tokens/${id}`),
  audit: (params: URLSearchParams) => page<AuditEntry>('/admin/audit', 'entries', params),
  /** The whole trail as JSON lines (the export), with the console's credentials. */
  auditExport: async (): Promise<Blob> => {
    const res = await fetch('/admin/audit?format=jsonl', { headers: token.get() ? { authorization: `Bearer ${token.get()}` } : {} });
    if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`);
    return res.blob();
  },
  /** Email and password (and the authenticator's code when asked): the session cookie, and its CSRF token. */
  signIn: async (email: string, password: string, code?: string): Promise<SessionAnswer> => {
    const res = await fetch('/admin/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password, ...(code ? { code } : {}) }) });
    const json = await res.json().catch(() => ({ message: `HTTP ${res.status}` }));
    if (res.ok) return json;
    if (typeof json.second_factor === 'string') throw new SecondFactorAsked(json.message, json.second_factor.split(','));
    throw new ApiError(res.status, json.message ?? `HTTP ${res.status}`);
  },
  /** Ends the session on the server (its CSRF token asked for again if the page lost it). */
  signOut: async () => {
    // A session already ended (401) is signed out; anything else left it open.
    const csrf = session.csrf() ?? (await api.session().then((r) => r.csrf_token, (e) => (e instanceof ApiError && e.status === 401 ? undefined : Promise.reject(e))));
    if (csrf === undefined) return;
    const res = await fetch('/admin/session', { method: 'DELETE', headers: csrf ? { 'x-csrf-token': csrf } : {} });
    if (!res.ok && res.status !== 401) throw new ApiError(res.status, `HTTP ${res.status}`);
  },
  /** A list of the application's: `users`, `devices`, `approvals`, `messages`, `deliveries`, `verifications`. */
  list: <T>(id: number, what: string, params: URLSearchParams, key = what) => page<T>(`/admin/applications/${id}/${what}`, key, params),
  rename: (id: number, name: string) => call<{ application: Application }>('POST', `/admin/applications/${id}/name`, { name }).then((r) => r.application),
  remove: (id: number, confirm: string) => call<{ message: string }>('DELETE', `/admin/applications/${id}?confirm=${encodeURIComponent(confirm)}`),
  /** The first applications, enough for the navigation's 'Switch to' list (12 besides the one open). */
  applications: () => call<{ applications: Application[] }>('GET', '/admin/applications?limit=13').then((r) => r.applications),
  applicationsPage: (params: URLSearchParams) => page<Application>('/admin/applications', 'applications', params),
  create: (name: string) => call<{ application: Application; api_key: string }>('POST', '/admin/applications', { name }),
  application: (id: number) => call<{ application: Application }>('GET', `/admin/applications/${id}`).then((r) => r.application),
  /** The application, and the Twilio Verify service it backs (null: an Authy application). */
  applicationAndService: (id: number) => call<{ application: Application; verify_service: { sid: string; account_sid: string } | null }>('GET', `/admin/applications/${id}`),
  verifyAccounts: () => call<{ accounts: VerifyAccount[] }>('GET', '/admin/verify/accounts').then((r) => r.accounts),
  createVerifyAccount: (name: string) => call<{ account: VerifyAccount; auth_token: string }>('POST', '/admin/verify/accounts', { name }),
  verifyKeys: (sid: string) => call<{ keys: VerifyKey[] }>('GET', `/admin/verify/accounts/${encodeURIComponent(sid)}/keys`).then((r) => r.keys),
  createVerifyKey: (sid: string, name: string) => call<{ key: VerifyKey; secret: string }>('POST', `/admin/verify/accounts/${encodeURIComponent(sid)}/keys`, { name }),
  verifyServices: (sid: string) => call<{ services: VerifyService[] }>('GET', `/admin/verify/accounts/${encodeURIComponent(sid)}/services`).then((r) => r.services),
  saveSettings: (id: number, settings: Record<string, number | boolean>) =>
    call<{ application: Application }>('POST', `/admin/applications/${id}/settings`, settings).then((r) => r.application),
  rotateKey: (id: number) => call<{ api_key: string }>('POST', `/admin/applications/${id}/api_key`).then((r) => r.api_key),
  setCallback: (id: number, url: string | null, method: string) =>
    call<{ application: Application }>('POST', `/admin/applications/${id}/callback`, { url, method }).then((r) => r.application),
  setCountries: (id: number, countries: string[]) =>
    call<{ application: Application }>('POST', `/admin/applications/${id}/countries`, { countries }).then((r) => r.application),
  user: (id: number, userId: number) => call<UserDetails>('GET', `/admin/applications/${id}/users/${userId}`),
  unlock: (id: number, userId: number) => call<{ message: string }>('POST', `/admin/applications/${id}/users/${userId}/unlock`),
  traffic: (id: number, days: number) => call<{ days: TrafficDay[] }>('GET', `/admin/applications/${id}/traffic?days=${days}`).then((r) => r.days),
  quarantines: (id: number) => call<{ quarantines: Quarantine[] }>('GET', `/admin/applications/${id}/quarantines`).then((r) => r.quarantines),
  lift: (id: number, prefix: string) => call<{ message: string }>('POST', `/admin/applications/${id}/quarantines/lift`, { prefix }),
  recoveries: (id: number) => call<{ recoveries: Recovery[] }>('GET', `/admin/applications/${id}/recoveries`).then((r) => r.recoveries),
  cancelRecovery: (id: number, rid: string) => call<{ message: string }>('POST', `/admin/applications/${id}/recoveries/${encodeURIComponent(rid)}/cancel`),
  shortenRecovery: (id: number, rid: string, waitSeconds: number, reason: string) =>
    call<{ completes_at: string }>('POST', `/admin/applications/${id}/recoveries/${encodeURIComponent(rid)}/shorten`, { wait_seconds: waitSeconds, reason }),
  /** The webhooks, and the events one may ask for. */
  webhooks: (id: number) => call<{ webhooks: Webhook[]; events: string[] }>('GET', `/admin/applications/${id}/webhooks`),
  createWebhook: (id: number, name: string, url: string, events: string[]) =>
    call<{ webhook: Webhook & { signing_key: string } }>('POST', `/admin/applications/${id}/webhooks`, { name, url, events }).then((r) => r.webhook),
  deleteWebhook: (id: number, webhookId: string) => call<{ message: string }>('DELETE', `/admin/applications/${id}/webhooks/${encodeURIComponent(webhookId)}`),
  providers: (id: number) => call<{ providers: ProviderLists }>('GET', `/admin/applications/${id}/providers`).then((r) => r.providers),
  setProviders: (id: number, lists: Partial<Record<'sms' | 'voice' | 'email', string>>) =>
    call<{ providers: ProviderLists }>('POST', `/admin/applications/${id}/providers`, lists).then((r) => r.providers),
  rotateDashboardKeys: (id: number) => call<{ access_key: string; signing_key: string }>('POST', `/admin/applications/${id}/dashboard_keys`),
  /** A file of one JSON object per line, as `openfactor users import` reads it. */
  importUsers: (id: number, file: Blob, dryRun: boolean) =>
    call<ImportAnswer>('POST', `/admin/applications/${id}/users/import${dryRun ? '?dry_run=true' : ''}`, undefined, { type: 'application/x-ndjson', data: file }),
};
