import { Type } from '@sinclair/typebox';
import type { AuthyRoute } from '../../wire/route.ts';
import { AuthyId } from '../../wire/contracts.ts';
import type { Application } from '../applications/service.ts';
import { readNewUser, type Users } from './service.ts';

const Ok = (message: string) =>
  Type.Object({ message: Type.Literal(message), success: Type.Literal(true) }, { additionalProperties: false });

const NewUserInput = Type.Object({
  user: Type.Object({
    email: Type.String({ format: 'email' }),
    cellphone: Type.String({ description: 'national number; digits with optional dashes, dots or spaces' }),
    country_code: Type.Union([Type.String(), Type.Integer()], { description: 'calling code, e.g. 1, 57, 351' }),
    send_install_link_via_sms: Type.Optional(Type.Boolean()),
  }),
  send_install_link_via_sms: Type.Optional(Type.Boolean({ default: true })),
});

const NewUserOutput = Type.Object({
  message: Type.Literal('User created successfully.'),
  user: Type.Object({ id: AuthyId }, { additionalProperties: false }),
  success: Type.Literal(true),
}, { additionalProperties: false });

const Status = Type.Object({
  status: Type.Object({
    authy_id: AuthyId,
    confirmed: Type.Boolean(),
    registered: Type.Boolean(),
    country_code: Type.Integer(),
    phone_number: Type.String({ pattern: '^[X-]*\\d{4}$' }),
    email: Type.String(),
    devices: Type.Array(Type.String()),
    has_hard_token: Type.Boolean(),
    account_disabled: Type.Boolean(),
    last_account_recovery_at: Type.Union([Type.Integer(), Type.Null()]),
    detailed_devices: Type.Array(Type.Object({})),
    deleted_devices: Type.Array(Type.Object({})),
  }, { additionalProperties: false }),
  message: Type.Literal('User status.'),
  success: Type.Literal(true),
}, { additionalProperties: false });

const PhoneNumber = Type.Object({
  phone_number: Type.String({ pattern: '^[\\d-]+$' }),
  country_code: Type.String({ pattern: '^\\d{1,4}$' }),
  e164: Type.String({ pattern: '^\\+\\d{6,15}$' }),
  updated_at: Type.String({ format: 'date-time' }),
}, { additionalProperties: false });

const ActivityInput = Type.Object({
  type: Type.Union(['password_reset', 'banned', 'unbanned', 'cookie_login'].map((t) => Type.Literal(t))),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  user_ip: Type.Optional(Type.String()),
});

export function userRoutes(users: Users): AuthyRoute<Application>[] {
  return [
    {
      method: 'POST',
      paths: ['/users/new'],
      summary: 'Enrol a user (same country code + phone → same id)',
      tags: ['users'],
      input: NewUserInput,
      output: NewUserOutput,
      handle: async ({ app, params }) => {
        const input = readNewUser(params);
        if (!input.ok) return input;
        const { id } = await users.create(app, input.value);
        return { ok: true, body: { message: 'User created successfully.', user: { id }, success: true } };
      },
    },
    {
      method: 'GET',
      paths: ['/users/:authy_id/status'],
      summary: "A user's status",
      tags: ['users'],
      input: Type.Object({ user_ip: Type.Optional(Type.String()) }),
      output: Status,
      handle: ({ app, path }) => users.status(app, path.authy_id),
    },
    {
      method: 'GET',
      paths: ['/users/:authy_id/phone_number'],
      summary: "A user's full phone number, for migrations (off unless the application's `phone_export` setting is on: 60154)",
      tags: ['users'],
      output: PhoneNumber,
      handle: ({ app, path, request }) => users.phoneNumber(app, path.authy_id, request.log),
    },
    {
      method: 'POST',
      // The current path and the two legacy ones clients still call (wire reference §2.5).
      paths: ['/users/:authy_id/remove', '/users/:authy_id/delete', '/users/delete/:authy_id'],
      summary: 'Remove a user from the application',
      tags: ['users'],
      input: Type.Object({ user_ip: Type.Optional(Type.String()) }),
      output: Ok('User was added to remove.'),
      handle: ({ app, path }) => users.remove(app, path.authy_id),
    },
    {
      method: 'POST',
      paths: ['/users/:authy_id/update'],
      summary: "Change a user's email address",
      tags: ['users'],
      input: Type.Object({ email: Type.String({ format: 'email' }) }),
      output: Ok('User was updated successfully'),
      handle: ({ app, path, params }) => users.updateEmail(app, path.authy_id, params),
    },
    {
      method: 'POST',
      paths: ['/users/:authy_id/register_activity'],
      summary: 'Record a user activity',
      tags: ['users'],
      input: ActivityInput,
      output: Ok('Activity was created.'),
      handle: ({ app, path, params }) => users.registerActivity(app, path.authy_id, params),
    },
  ];
}
