import { Type } from '@sinclair/typebox';
import type { AuthyRoute } from '../../wire/route.ts';
import type { Application, Applications, UsageCounter } from './service.ts';

const UserIp = Type.Object({ user_ip: Type.Optional(Type.String({ description: 'IP of the end user' })) });

const AppDetails = Type.Object({
  app: Type.Object({
    name: Type.String(),
    plan: Type.String(),
    sms_enabled: Type.Boolean(),
    phone_calls_enabled: Type.Boolean(),
    app_id: Type.Integer(),
    onetouch_enabled: Type.Boolean(),
    white_label: Type.Boolean(),
  }, { additionalProperties: false }),
  message: Type.Literal('Application information.'),
  success: Type.Literal(true),
}, { additionalProperties: false });

const MonthStats = Type.Object({
  sms_count: Type.Integer({ minimum: 0 }),
  calls_count: Type.Integer({ minimum: 0 }),
  users_count: Type.Integer({ minimum: 0 }),
  auths_count: Type.Integer({ minimum: 0 }),
  month: Type.String(),
  api_calls_count: Type.Integer({ minimum: 0 }),
  year: Type.Integer(),
}, { additionalProperties: false });

const AppStats = Type.Object({
  stats: Type.Array(MonthStats),
  message: Type.Literal('Monthly statistics.'),
  count: Type.Integer(),
  total_users: Type.Integer(),
  app_id: Type.Integer(),
  success: Type.Literal(true),
}, { additionalProperties: false });

export function applicationRoutes(apps: Applications, usage: UsageCounter): AuthyRoute<Application>[] {
  return [
    {
      method: 'GET',
      paths: ['/app/details'],
      summary: 'The application bound to the API key',
      tags: ['applications'],
      input: UserIp,
      output: AppDetails,
      handle: ({ app }) => ({ ok: true, body: apps.details(app) }),
    },
    {
      method: 'GET',
      paths: ['/app/stats'],
      summary: 'Monthly usage of the application',
      tags: ['applications'],
      input: UserIp,
      output: AppStats,
      handle: async ({ app }) => {
        await usage.flush(); // so the count includes the calls made so far
        return { ok: true, body: await apps.stats(app) };
      },
    },
  ];
}
