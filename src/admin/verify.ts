// Twilio Verify v2 credentials in the admin API: accounts (AC…) and their API keys (SK…). A
// secret (auth token, key secret) is in the answer that makes it, and never again.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fail, invalidParameter } from '../core/errors.ts';
import type { VerifyCredentials } from '../features/verify/credentials.ts';
import { sendFailure } from '../wire/envelope.ts';
import * as C from './contracts.ts';
import * as q from './queries.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../store/schema.ts';

const send = (reply: FastifyReply, body: Record<string, unknown>) => reply.type('application/json; charset=utf-8').send(JSON.stringify({ ...body, success: true }));

/** 1–64 printable characters, trimmed; `fallback` when absent. */
function nameOf(raw: unknown, fallback?: string): string | undefined {
  if (raw === undefined && fallback !== undefined) return fallback;
  return typeof raw === 'string' && raw.trim() && raw.trim().length <= 64 && !/[\u0000-\u001f\u007f]/.test(raw) ? raw.trim() : undefined;
}
const BAD_NAME = invalidParameter('name', 'is required (at most 64 printable characters)');
const bodyOf = (raw: unknown) => (raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {});

export function registerVerifyAdminRoutes(admin: FastifyInstance, credentials: VerifyCredentials, db: Kysely<DB>): void {
  admin.post('/admin/verify/accounts', { schema: { summary: 'Create a Twilio Verify account (`name`); its auth token is in the answer, and only there', tags: ['admin'], response: { 201: C.VerifyAccountCreatedBody } } }, async (req, reply) => {
    const name = nameOf(bodyOf(req.body).name);
    if (name === undefined) return sendFailure(reply, 'json', BAD_NAME);
    const made = await credentials.createAccount(name);
    const account = (await credentials.accounts()).find((a) => a.sid === made.sid)!;
    return send(reply.code(201), { account, auth_token: made.authToken, message: 'Verify account created.' });
  });

  admin.get('/admin/verify/accounts', { schema: { summary: 'Twilio Verify accounts, oldest first (never their auth tokens)', tags: ['admin'], response: { 200: C.VerifyAccountsBody } } }, async (_req, reply) =>
    send(reply, { accounts: await credentials.accounts(), message: 'Verify accounts.' }),
  );

  admin.post<{ Params: { sid: string } }>(
    '/admin/verify/accounts/:sid/keys',
    { schema: { summary: 'Create an API key (SK…) of the account (`name`, optional); its secret is in the answer, and only there', tags: ['admin'], response: { 201: C.VerifyKeyCreatedBody } } },
    async (req, reply) => {
      const name = nameOf(bodyOf(req.body).name, 'API key');
      if (name === undefined) return sendFailure(reply, 'json', BAD_NAME);
      const made = await credentials.createKey(req.params.sid, name);
      if (!made) return sendFailure(reply, 'json', fail('ADMIN_VERIFY_ACCOUNT_NOT_FOUND'));
      const key = (await credentials.keysOf(made.accountSid))!.find((k) => k.sid === made.sid)!;
      return send(reply.code(201), { key, secret: made.secret, message: 'Verify API key created.' });
    },
  );

  admin.get<{ Params: { sid: string } }>(
    '/admin/verify/accounts/:sid/keys',
    { schema: { summary: "The account's API keys, oldest first (never their secrets)", tags: ['admin'], response: { 200: C.VerifyKeysBody } } },
    async (req, reply) => {
      const keys = await credentials.keysOf(req.params.sid);
      return keys ? send(reply, { keys, message: 'Verify API keys.' }) : sendFailure(reply, 'json', fail('ADMIN_VERIFY_ACCOUNT_NOT_FOUND'));
    },
  );

  admin.get<{ Params: { sid: string } }>(
    '/admin/verify/accounts/:sid/services',
    { schema: { summary: "The account's Verify services, oldest first, each with the application that sends its codes", tags: ['admin'], response: { 200: C.VerifyServicesBody } } },
    async (req, reply) => {
      const rows = await q.verifyServicesOf(db, req.params.sid);
      if (!rows) return sendFailure(reply, 'json', fail('ADMIN_VERIFY_ACCOUNT_NOT_FOUND'));
      const services = rows.map((r) => {
        const settings = JSON.parse(r.settings) as { friendly_name: string; code_length: number };
        return { sid: r.sid, friendly_name: settings.friendly_name, code_length: settings.code_length, app_id: r.app_id, date_created: new Date(Number(r.created_at)).toISOString() };
      });
      return send(reply, { services, message: 'Verify services.' });
    },
  );
}
