// Small request helper over fastify.inject for wire-level tests.
import type { FastifyInstance } from 'fastify';

export interface Reply {
  status: number;
  text: string;
  json: any;
  contentType: string;
}

export interface CallOptions {
  key?: string;
  keyIn?: 'header' | 'query' | 'form';
  form?: string;
  json?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export async function call(server: FastifyInstance, method: string, url: string, o: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  let target = url;
  let payload: string | undefined;
  const keyIn = o.keyIn ?? 'header';
  if (o.key !== undefined && keyIn === 'header') headers['x-authy-api-key'] = o.key;
  if (o.key !== undefined && keyIn === 'query') target += (target.includes('?') ? '&' : '?') + `api_key=${encodeURIComponent(o.key)}`;
  let form = o.form;
  if (o.key !== undefined && keyIn === 'form') form = (form ? form + '&' : '') + `api_key=${encodeURIComponent(o.key)}`;
  if (form !== undefined) {
    payload = form;
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (o.json !== undefined) {
    payload = JSON.stringify(o.json);
    headers['content-type'] = 'application/json';
  } else if (o.rawBody !== undefined) {
    payload = o.rawBody;
  }
  if (o.contentType) headers['content-type'] = o.contentType;
  const res = await server.inject({ method: method as 'GET', url: target, headers, payload });
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, text: res.body, json, contentType: String(res.headers['content-type'] ?? '') };
}

export const userForm = (email: string, cellphone: string, cc = '1') =>
  `user[email]=${encodeURIComponent(email)}&user[cellphone]=${encodeURIComponent(cellphone)}&user[country_code]=${cc}`;

/** `app/details` on a real listening server (spawned processes), with the key in the header. */
export const appDetails = (url: string, key: string) => fetch(`${url}/protected/json/app/details`, { headers: { 'x-authy-api-key': key } });
