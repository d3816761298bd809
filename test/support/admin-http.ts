// The admin API as the console's browser calls it: a session cookie, its CSRF token, or a bearer
// token; JSON in and out, with the cookies the answer sets.
export type Json = Record<string, any>;

export interface AdminCall {
  body?: unknown;
  cookie?: string;
  csrf?: string;
  bearer?: string;
}

/** `base()`: the listening server's address, known once the test's server listens. */
export const adminHttp =
  (base: () => string) =>
  async (method: string, path: string, o: AdminCall = {}) => {
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.cookie) headers.cookie = o.cookie;
    if (o.csrf) headers['x-csrf-token'] = o.csrf;
    if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
    const res = await fetch(`${base()}${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    const text = await res.text();
    return { status: res.status, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Json, setCookie: res.headers.get('set-cookie') ?? '' };
  };
