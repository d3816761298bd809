import { Type } from '@sinclair/typebox';
import type { AuthyRoute } from '../../wire/route.ts';
import type { Application } from '../applications/service.ts';
import type { Phones } from './service.ts';

const Phone = {
  phone_number: Type.String({ description: 'national number; dashes allowed' }),
  country_code: Type.Union([Type.String(), Type.Integer()], { description: 'calling code, e.g. 1, 351' }),
};
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$' });

export function phoneRoutes(phones: Phones): AuthyRoute<Application>[] {
  return [
    {
      method: 'POST',
      paths: ['/phones/verification/start'],
      summary: 'Send a phone verification code by SMS or call (ten minutes; starting again resends the same code)',
      tags: ['phones'],
      input: Type.Object({
        ...Phone,
        via: Type.Optional(Type.Union([Type.Literal('sms'), Type.Literal('call')], { default: 'sms' })),
        locale: Type.Optional(Type.String()),
        code_length: Type.Optional(Type.Integer({ minimum: 4, maximum: 10, default: 4 })),
        custom_message: Type.Optional(Type.String({ description: 'application setting; {{code}} marks the code' })),
        custom_code: Type.Optional(Type.String({ pattern: '^\\d{4,10}$', description: 'application setting' })),
      }),
      output: Type.Object(
        {
          carrier: Type.String(),
          is_cellphone: Type.Boolean(),
          is_ported: Type.Boolean(),
          message: Type.String({ pattern: '^(Text message sent to \\+\\d+ [\\d-]+\\.|Call to \\+\\d+ [\\d-]+ initiated)$' }),
          seconds_to_expire: Type.Integer({ minimum: 0 }),
          uuid: Uuid,
          success: Type.Literal(true),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, params }) => phones.start(app, params),
    },
    {
      method: 'GET',
      paths: ['/phones/verification/check'],
      summary: 'Check a phone verification code (five checks per code)',
      tags: ['phones'],
      input: Type.Object({ ...Phone, verification_code: Type.String({ pattern: '^\\d{4,10}$' }) }),
      output: Type.Object({ message: Type.Literal('Verification code is correct.'), success: Type.Literal(true) }, { additionalProperties: false }),
      handle: ({ app, params }) => phones.check(app, params),
    },
    {
      method: 'GET',
      paths: ['/phones/verification/status'],
      summary: "A phone verification's status: pending, verified or expired",
      tags: ['phones'],
      input: Type.Object(Phone),
      output: Type.Object(
        {
          status: Type.Union([Type.Literal('pending'), Type.Literal('verified'), Type.Literal('expired')]),
          seconds_to_expire: Type.Integer({ minimum: 0 }),
          success: Type.Literal(true),
          message: Type.Literal('Phone verification status.'),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, params }) => phones.status(app, params),
    },
    {
      method: 'GET',
      paths: ['/phones/info'],
      summary: 'The type of a phone number (cellphone, landline, voip, …)',
      tags: ['phones'],
      input: Type.Object({ ...Phone, user_ip: Type.Optional(Type.String()) }),
      output: Type.Object(
        {
          message: Type.String({ pattern: '^Phone number information as of \\d+-\\d+-\\d+ \\d+:\\d+:\\d+ UTC$' }),
          type: Type.String(),
          provider: Type.String(),
          ported: Type.Boolean(),
          success: Type.Literal(true),
        },
        { additionalProperties: false },
      ),
      handle: ({ app, params }) => phones.info(app, params),
    },
  ];
}
