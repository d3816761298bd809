import { Type } from '@sinclair/typebox';
import type { AuthyRoute } from '../../wire/route.ts';
import { AuthyId } from '../../wire/contracts.ts';
import type { Application } from '../applications/service.ts';
import type { Devices } from '../devices/service.ts';
import type { OneTouch } from './service.ts';

const Uuid = Type.String({ pattern: '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$' });
const Iso = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' });
const Hex24 = Type.String({ pattern: '^[0-9a-f]{24}$' });

const CreateInput = Type.Object({
  message: Type.String({ maxLength: 200, description: 'what the user is asked to approve' }),
  details: Type.Optional(Type.Record(Type.String({ maxLength: 20 }), Type.String(), { description: 'shown to the user' })),
  hidden_details: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'kept, not shown' })),
  logos: Type.Optional(Type.Array(Type.Object({ res: Type.Union(['default', 'low', 'med', 'high'].map((r) => Type.Literal(r))), url: Type.String({ maxLength: 500 }) }))),
  seconds_to_expire: Type.Optional(Type.Integer({ minimum: 0, default: 86400, description: '0 = never' })),
  number_matching: Type.Optional(Type.Boolean({ description: 'OpenFactor: the answer must pick the number in the response' })),
});

const Status = Type.Object(
  {
    approval_request: Type.Object(
      {
        _app_name: Type.String(),
        _app_serial_id: Type.Integer(),
        _authy_id: AuthyId,
        _id: Hex24,
        _user_email: Type.String(),
        app_id: Hex24,
        created_at: Iso,
        notified: Type.Boolean(),
        processed_at: Type.Union([Iso, Type.Null()]),
        seconds_to_expire: Type.Integer(),
        status: Type.Union(['pending', 'approved', 'denied', 'expired'].map((s) => Type.Literal(s))),
        updated_at: Iso,
        user_id: Hex24,
        uuid: Uuid,
      },
      { additionalProperties: false },
    ),
    success: Type.Literal(true),
  },
  { additionalProperties: false },
);

export function onetouchRoutes(onetouch: OneTouch): AuthyRoute<Application>[] {
  return [
    {
      method: 'POST',
      paths: ['/users/:authy_id/approval_requests'],
      summary: "Ask the user's devices to approve or deny something",
      tags: ['onetouch'],
      input: CreateInput,
      output: Type.Object(
        {
          approval_request: Type.Object({ uuid: Uuid, number: Type.Optional(Type.Integer({ minimum: 10, maximum: 99 })) }, { additionalProperties: false }),
          success: Type.Literal(true),
          message: Type.Literal('Approval request created.'),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, path, params }) => onetouch.create(app, path.authy_id, params),
    },
    {
      method: 'GET',
      paths: ['/approval_requests/:uuid'],
      summary: "An approval request's status",
      tags: ['onetouch'],
      output: Status,
      handle: ({ app, path }) => onetouch.status(app, path.uuid),
    },
    {
      method: 'POST',
      paths: ['/approval_requests/:uuid/cancel'],
      summary: 'Ends a pending approval request now (OpenFactor): it reads as expired, and devices drop it',
      tags: ['onetouch'],
      output: Status,
      handle: ({ app, path }) => onetouch.cancel(app, path.uuid),
    },
  ];
}

/** `/protected/json/sdk/registrations` and python's `registrations/status`. */
export function registrationRoutes(devices: Devices): AuthyRoute<Application>[] {
  return [
    {
      method: 'POST',
      paths: ['/sdk/registrations'],
      summary: "A single-use token with which one user's device registers (SDK flow)",
      tags: ['devices'],
      input: Type.Object({ authy_id: Type.Union([Type.Integer(), Type.String()]) }),
      output: Type.Object(
        { registration_token: Type.String({ minLength: 40 }), success: Type.Literal(true), message: Type.Literal('Registration token created.') },
        { additionalProperties: false },
      ),
      handle: ({ app, params }) => devices.createRegistrationToken(app, params),
    },
    {
      method: 'GET',
      paths: ['/registrations/status'],
      summary: 'Whether a user has registered a device (custom_user_id = the authy id)',
      tags: ['devices'],
      input: Type.Object({ custom_user_id: Type.String() }),
      output: Type.Object(
        { status: Type.Union([Type.Literal('pending'), Type.Literal('completed')]), message: Type.Literal('Registration status.'), success: Type.Literal(true) },
        { additionalProperties: false },
      ),
      handle: ({ app, params }) => devices.registrationStatus(app, params),
    },
  ];
}
