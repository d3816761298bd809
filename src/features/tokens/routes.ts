import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthyRoute } from '../../wire/route.ts';
import { sendFailure } from '../../wire/envelope.ts';
import { fail } from '../../core/errors.ts';
import type { Application } from '../applications/service.ts';
import type { Tokens } from './service.ts';

const Bool = Type.Union([Type.Boolean(), Type.String({ enum: ['true', 'True', '1', 'false', 'False', '0'] })]);
const SendInput = Type.Object({
  force: Type.Optional(Bool),
  action: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'SMS only: the code verifies only with this action' })),
  action_message: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  locale: Type.Optional(Type.String({ description: 'one of the 35 locales; default from the phone country, else en' })),
});
const Cellphone = Type.String({ pattern: '^\\+\\d{1,4}-[X\\d-]*\\d{2}$' });
const Sent = (message: string) =>
  Type.Union([
    Type.Object({ success: Type.Literal(true), message: Type.Literal(message), cellphone: Cellphone }, { additionalProperties: false }),
    Type.Object(
      { success: Type.Literal(true), message: Type.String(), cellphone: Cellphone, device: Type.String(), ignored: Type.Literal(true) },
      { additionalProperties: false },
    ),
  ]);

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Device = Type.Object({
  city: Nullable(Type.String()),
  country: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  region: Nullable(Type.String()),
  registration_city: Nullable(Type.String()),
  registration_country: Nullable(Type.String()),
  registration_device_id: Type.Union([Type.Integer(), Type.Null()]),
  registration_ip: Nullable(Type.String()),
  registration_method: Nullable(Type.String()),
  registration_region: Nullable(Type.String()),
  os_type: Type.String(),
  last_account_recovery_at: Type.Union([Type.Integer(), Type.Null()]),
  id: Type.Union([Type.Integer(), Type.Null()]),
  registration_date: Type.Union([Type.Integer(), Type.Null()]),
  last_sync_date: Type.Union([Type.Integer(), Type.Null()]),
}, { additionalProperties: false });
const Verified = Type.Union([
  Type.Object(
    { message: Type.Literal('Token is valid.'), token: Type.Literal('is valid'), success: Type.Literal('true'), device: Device },
    { additionalProperties: false },
  ),
  Type.Object({ message: Type.String(), token: Type.String({ pattern: '^Not checked' }) }, { additionalProperties: false }),
]);

export function tokenRoutes(tokens: Tokens, publicUrl: string | undefined): AuthyRoute<Application>[] {
  return [
    {
      method: 'GET',
      paths: ['/sms/:authy_id'],
      summary: 'Send a code by SMS (ignored for users with the app unless force)',
      tags: ['tokens'],
      input: SendInput,
      output: Sent('SMS token was sent'),
      handle: ({ app, path, params }) => tokens.send(app, path.authy_id, params, 'sms'),
    },
    {
      method: 'GET',
      paths: ['/call/:authy_id'],
      summary: 'Read a code out in a voice call (ignored for users with the app unless force)',
      tags: ['tokens'],
      input: SendInput,
      output: Sent('Call started...'),
      handle: ({ app, path, params }) => tokens.send(app, path.authy_id, params, 'voice'),
    },
    {
      method: 'GET',
      paths: ['/verify/:token/:authy_id'],
      summary: 'Verify an app, SMS, voice, email or authenticator code',
      tags: ['tokens'],
      input: Type.Object({ force: Type.Optional(Bool), action: Type.Optional(Type.String()) }),
      output: Verified,
      handle: ({ app, path, params }) => tokens.verify(app, path.token, path.authy_id, params),
    },
    {
      method: 'POST',
      paths: ['/users/:authy_id/recovery_codes'],
      summary:
        'OpenFactor: a new set of ten single-use recovery codes (8 digits) for the user, shown in this answer only; the previous set stops working. `verify` accepts each once (factor `recovery`).',
      tags: ['tokens'],
      output: Type.Object(
        {
          recovery_codes: Type.Array(Type.String({ pattern: '^\\d{8}$' }), { minItems: 10, maxItems: 10 }),
          created_at: Type.String(),
          message: Type.String(),
          success: Type.Literal(true),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, path }) => tokens.recoveryCodes.create(app, path.authy_id),
    },
    {
      method: 'GET',
      paths: ['/users/:authy_id/recovery_codes'],
      summary: "OpenFactor: how many of the user's recovery codes are left (never the codes)",
      tags: ['tokens'],
      output: Type.Object(
        { remaining: Type.Integer(), total: Type.Integer(), created_at: Type.Union([Type.String(), Type.Null()]), message: Type.String(), success: Type.Literal(true) },
        { additionalProperties: false },
      ),
      handle: ({ app, path }) => tokens.recoveryCodes.remaining(app, path.authy_id),
    },
    {
      method: 'POST',
      paths: ['/users/:authy_id/secret'],
      summary: 'A new Google-Authenticator-style secret, as a link to its QR code (valid 24 h)',
      tags: ['tokens'],
      input: Type.Object({
        qr_size: Type.Optional(Type.Union([Type.Integer({ maximum: 320 }), Type.String()])),
        label: Type.Optional(Type.String()),
      }),
      output: Type.Object(
        {
          label: Type.String(),
          Issuer: Type.String(),
          qr_code: Type.String({ pattern: '^https?://.+/qr/[\\w-]+\\.png$' }),
          message: Type.Literal('QR code generated.'),
          success: Type.Literal(true),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, path, params, request }) => tokens.createSecret(app, path.authy_id, params, publicUrl ?? `${request.protocol}://${request.host}`),
    },
    {
      method: 'POST',
      paths: ['/email/:authy_id'],
      summary: "Send a code to the user's email address",
      tags: ['tokens'],
      output: Type.Object(
        {
          success: Type.Literal(true),
          message: Type.Literal('Email token was sent'),
          email: Type.String(),
          email_id: Type.String({ pattern: '^EM[0-9a-f]{32}$' }),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, path }) => tokens.sendEmail(app, path.authy_id),
    },
  ];
}

/** The QR images behind `qr_code` links: no API key, an unguessable name, 24 hours. */
export function registerQrRoute(server: FastifyInstance, tokens: Tokens): void {
  server.get('/qr/:name', { schema: { summary: 'QR code of a generic-authenticator secret (PNG)', tags: ['tokens'] } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const m = /^([\w-]{16,64})\.png$/.exec(name);
    const png = m ? await tokens.qrImage(m[1]) : undefined;
    if (!png) return sendFailure(reply, 'json', fail('QR_NOT_FOUND'));
    return reply.header('cache-control', 'no-store').type('image/png').send(png);
  });
}
