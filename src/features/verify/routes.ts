// Twilio Verify v2 routes under /v2: HTTP Basic (`AC…:token` or `SK…:secret`) on every one, form
// parameters in, Twilio's JSON out, Twilio's error body for everything that goes wrong here.
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadInput, asTwilio, twilioFail } from '../../core/errors.ts';
import { mergeParams, type Params } from '../../core/params.ts';
import { isDatabaseUnavailable } from '../../store/db.ts';
import type { AuthFailures } from '../../wire/auth-failures.ts';
import { bodyParams, carriesBody, queryParams, repeatedFormValues } from '../../wire/body.ts';
import type { VerifyAccount, VerifyCredentials } from './credentials.ts';
import type { VerifyFactors } from './factors.ts';
import { registerFactorRoutes } from './factor-routes.ts';
import type { ServiceWebhooks } from './service-webhooks.ts';
import type { Answer, Verify } from './service.ts';
import { registerRateLimitRoutes } from './rate-limits.ts';
import { basicCredentials, baseUrlOf, sendTwilio, sendTwilioFailure } from './twilio.ts';

export interface VerifyRouteDeps {
  verify: Verify;
  credentials: VerifyCredentials;
  authFailures: AuthFailures;
  publicUrl: string | undefined;
  /** TOTP and push factors, challenges, service webhooks (factor-routes.ts). */
  factors?: VerifyFactors;
  serviceWebhooks?: ServiceWebhooks;
}

const TwilioError = Type.Object(
  { code: Type.Integer(), message: Type.String(), more_info: Type.String(), status: Type.Integer() },
  { additionalProperties: false, description: "Twilio's error body" },
);
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Sid = (prefix: string) => Type.String({ pattern: `^${prefix}[0-9a-f]{32}$` });
const Date_ = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$' });

const Service = Type.Object({
  sid: Sid('VA'),
  account_sid: Sid('AC'),
  friendly_name: Type.String(),
  code_length: Type.Integer({ minimum: 4, maximum: 10 }),
  lookup_enabled: Type.Boolean(),
  psd2_enabled: Type.Boolean(),
  skip_sms_to_landlines: Type.Boolean(),
  dtmf_input_required: Type.Boolean(),
  tts_name: Nullable(Type.String()),
  do_not_share_warning_enabled: Type.Boolean(),
  custom_code_enabled: Type.Boolean(),
  default_template_sid: Nullable(Type.String()),
  push: Type.Object({ include_date: Type.Boolean(), apn_credential_sid: Nullable(Type.String()), fcm_credential_sid: Nullable(Type.String()) }),
  totp: Type.Object({ issuer: Nullable(Type.String()), time_step: Type.Integer(), code_length: Type.Integer(), skew: Type.Integer() }),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
  links: Type.Record(Type.String(), Type.String()),
});
const Verification = Type.Object({
  sid: Sid('VE'),
  service_sid: Sid('VA'),
  account_sid: Sid('AC'),
  to: Type.String(),
  channel: Type.Union([Type.Literal('sms'), Type.Literal('call'), Type.Literal('email')]),
  status: Type.String(),
  valid: Type.Boolean(),
  amount: Nullable(Type.String()),
  payee: Nullable(Type.String()),
  send_code_attempts: Type.Array(Type.Object({ attempt_sid: Sid('VL'), channel: Type.String(), time: Date_ })),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
});
const Check = Type.Object({
  sid: Sid('VE'),
  service_sid: Sid('VA'),
  account_sid: Sid('AC'),
  to: Type.String(),
  channel: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('max_attempts_reached')]),
  valid: Type.Boolean(),
  date_created: Date_,
  date_updated: Date_,
});
const Attempt = Type.Object({
  sid: Sid('VL'),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  verification_sid: Sid('VE'),
  conversion_status: Type.Union([Type.Literal('converted'), Type.Literal('unconverted')]),
  channel: Type.String(),
  price: Type.Null(),
  channel_data: Type.Record(Type.String(), Type.Unknown()),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
});
const Meta = Type.Object({
  page: Type.Integer(),
  page_size: Type.Integer(),
  first_page_url: Type.String(),
  previous_page_url: Nullable(Type.String()),
  url: Type.String(),
  next_page_url: Nullable(Type.String()),
  key: Type.String(),
});
const Summary = Type.Object({
  total_attempts: Type.Integer(),
  total_converted: Type.Integer(),
  total_unconverted: Type.Integer(),
  conversion_rate_percentage: Type.String(),
  url: Type.String(),
});

const Paging = { PageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })), Page: Type.Optional(Type.Integer({ minimum: 0 })), PageToken: Type.Optional(Type.String()) };
const ServiceParams = Type.Object({
  FriendlyName: Type.String({ maxLength: 32 }),
  CodeLength: Type.Optional(Type.Integer({ minimum: 4, maximum: 10, default: 6 })),
  LookupEnabled: Type.Optional(Type.Boolean()),
  SkipSmsToLandlines: Type.Optional(Type.Boolean()),
  DtmfInputRequired: Type.Optional(Type.Boolean()),
  TtsName: Type.Optional(Type.String()),
  Psd2Enabled: Type.Optional(Type.Boolean()),
  DoNotShareWarningEnabled: Type.Optional(Type.Boolean()),
  CustomCodeEnabled: Type.Optional(Type.Boolean()),
  DefaultTemplateSid: Type.Optional(Type.String()),
  'Push.IncludeDate': Type.Optional(Type.Boolean()),
  'Totp.Issuer': Type.Optional(Type.String()),
  'Totp.TimeStep': Type.Optional(Type.Integer({ minimum: 20, maximum: 60 })),
  'Totp.CodeLength': Type.Optional(Type.Integer({ minimum: 3, maximum: 8 })),
  'Totp.Skew': Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
});
const StartParams = Type.Object({
  To: Type.String({ description: 'E.164 number, or an email address for the email channel' }),
  Channel: Type.String({ description: 'sms, call or email (whatsapp, sna, auto: 60223)' }),
  Locale: Type.Optional(Type.String()),
  CustomFriendlyName: Type.Optional(Type.String()),
  CustomMessage: Type.Optional(Type.String()),
  CustomCode: Type.Optional(Type.String({ description: 'when the service has custom_code_enabled' })),
  SendDigits: Type.Optional(Type.String()),
  Amount: Type.Optional(Type.String({ description: 'PSD2 (psd2_enabled): shown in the message' })),
  Payee: Type.Optional(Type.String()),
  RateLimits: Type.Optional(Type.String({ description: 'JSON object {unique_name: value}: each start counted against the named rate limits\' buckets (full: 429, 20429)' })),
  ChannelConfiguration: Type.Optional(Type.String({ description: 'JSON object; stored' })),
  Tags: Type.Optional(Type.String({ description: 'JSON object, or Tags[key]=value' })),
});
const CheckParams = Type.Object({ Code: Type.String(), To: Type.Optional(Type.String()), VerificationSid: Type.Optional(Type.String()), Amount: Type.Optional(Type.String()), Payee: Type.Optional(Type.String()) });
const AttemptFilters = {
  VerifyServiceSid: Type.Optional(Type.String()),
  Country: Type.Optional(Type.String()),
  Channel: Type.Optional(Type.String()),
  DateCreatedAfter: Type.Optional(Type.String()),
  DateCreatedBefore: Type.Optional(Type.String()),
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The Verify account a `/v2` request authenticated as (set by the auth hook). */
    verifyAccount: VerifyAccount | null;
  }
}

/** The parameters a route's input declares as lists (Twilio repeats the key for each item). */
const listsOf = (input: TSchema | undefined): string[] =>
  Object.entries((input?.properties ?? {}) as Record<string, TSchema>).flatMap(([name, s]) => (s.type === 'array' ? [name] : []));

/** The parameters of a request: query string, then the form body over it. */
async function paramsOf(req: FastifyRequest, lists: string[]): Promise<Params> {
  const params = carriesBody(req) ? mergeParams(queryParams(req), await bodyParams(req)) : queryParams(req);
  // Lists sent as a repeated key (the parser keeps only the last of them); only the routes that
  // take one look: each name is another parse of the body.
  for (const name of lists) {
    const all = repeatedFormValues(req, name);
    if (all && all.length > 1) params[name] = all;
  }
  return params;
}

export function registerVerifyRoutes(server: FastifyInstance, d: VerifyRouteDeps): void {
  server.register(
    async (v2) => {
      v2.decorateRequest('verifyAccount', null);
      const throttled = (reply: FastifyReply) => sendTwilioFailure(reply, twilioFail('TOO_MANY_REQUESTS', 'Too many requests: too many failed authentication attempts from this address. Try again later.'));
      v2.addHook('onRequest', async (req, reply) => {
        if (d.authFailures.refuseBlocked('api_key', req, reply, throttled)) return reply;
        const given = basicCredentials(req.headers.authorization);
        const account = given && ((await d.credentials.authenticate(given.user, given.password)) ?? (await d.factors?.authenticateDevice(given.password, `${req.method} ${req.routeOptions.url}`)));
        if (account) {
          req.verifyAccount = account;
          return;
        }
        // Like the Authy API's keys: only wrong credentials count against the address, not none.
        if (given && (await d.authFailures.failed('api_key', req.ip, reply, throttled))) return reply;
        return sendTwilioFailure(reply, twilioFail('AUTHENTICATE'));
      });
      v2.setNotFoundHandler((req, reply) => sendTwilioFailure(reply, { ok: false, twilio: 'NOT_FOUND', message: `The requested resource ${req.url.split('?')[0].replace(/^\/v2/, '')} was not found` }));
      v2.setErrorHandler((err: Error, req, reply) => {
        if (err instanceof BadInput) return sendTwilioFailure(reply, asTwilio(err.failure));
        const status = (err as { statusCode?: number }).statusCode ?? 500;
        if (status === 413) return sendTwilioFailure(reply, twilioFail('REQUEST_TOO_LARGE'));
        if (status >= 400 && status < 500) return sendTwilioFailure(reply, twilioFail('INVALID_PARAMETER', `Invalid parameter: ${err.message}`));
        if (isDatabaseUnavailable(err)) return sendTwilioFailure(reply, twilioFail('SERVICE_UNAVAILABLE'));
        req.log.error({ err }, 'unexpected error');
        return sendTwilioFailure(reply, twilioFail('INTERNAL'));
      });

      type Handler = (a: VerifyAccount, p: Params, path: Record<string, string>, base: string) => Promise<Answer>;
      const route = (method: 'GET' | 'POST' | 'DELETE', url: string, summary: string, ok: Record<number, TSchema>, handler: Handler, input?: TSchema) => {
        const pathParams = [...url.matchAll(/:(\w+)/g)].map((m) => m[1]);
        const lists = listsOf(input);
        v2.route({
          method,
          url,
          schema: {
            summary,
            tags: ['verify-v2'],
            security: [{ twilioBasic: [] }],
            ...(pathParams.length ? { params: Type.Object(Object.fromEntries(pathParams.map((p) => [p, Type.String()]))) } : {}),
            ...(input ? { [method === 'GET' ? 'querystring' : 'body']: input } : {}),
            response: { ...ok, '4xx': TwilioError, '5xx': TwilioError },
          },
          handler: async (req, reply) => {
            const answer = await handler(req.verifyAccount!, await paramsOf(req, lists), req.params as Record<string, string>, baseUrlOf(d.publicUrl, req));
            if (!answer.ok) return sendTwilioFailure(reply, answer);
            if (answer.headers) reply.headers(answer.headers);
            if (answer.status === 204) return reply.code(204).send();
            return sendTwilio(reply, answer.status, answer.body);
          },
        });
      };
      const v = d.verify;
      const list = (key: string, item: TSchema) => Type.Object({ [key]: Type.Array(item), meta: Meta });

      route('POST', '/Services', 'Create a Verify service (its own OpenFactor application)', { 201: Service }, (a, p, _, b) => v.createService(a, p, b), ServiceParams);
      route('GET', '/Services', "The account's services, oldest first", { 200: list('services', Service) }, (a, p, _, b) => v.listServices(a, p, b), Type.Object(Paging));
      route('GET', '/Services/:Sid', 'A service', { 200: Service }, (a, _, path, b) => v.fetchService(a, path.Sid, b));
      route('POST', '/Services/:Sid', 'Update a service (the parameters of create, all optional)', { 200: Service }, (a, p, path, b) => v.updateService(a, path.Sid, p, b), Type.Partial(ServiceParams));
      route('DELETE', '/Services/:Sid', 'Delete a service, its application and all their data', { 204: Type.Null() }, (a, _, path) => v.deleteService(a, path.Sid));

      route('POST', '/Services/:ServiceSid/Verifications', 'Send a code (a start within ten minutes resends the same code, at most five sends)', { 201: Verification }, (a, p, path, b) => v.startVerification(a, path.ServiceSid, p, b), StartParams);
      route('GET', '/Services/:ServiceSid/Verifications/:Sid', 'A pending verification', { 200: Verification }, (a, _, path, b) => v.fetchVerification(a, path.ServiceSid, path.Sid, b));
      route('POST', '/Services/:ServiceSid/Verifications/:Sid', 'Cancel or approve a pending verification (Status)', { 200: Verification }, (a, p, path, b) => v.updateVerification(a, path.ServiceSid, path.Sid, p, b), Type.Object({ Status: Type.Union([Type.Literal('canceled'), Type.Literal('approved')]) }));
      route('POST', '/Services/:ServiceSid/VerificationCheck', 'Check a code (five checks per verification)', { 200: Check }, (a, p, path) => v.checkVerification(a, path.ServiceSid, p), CheckParams);

      registerRateLimitRoutes(route, v.rateLimits, list);

      route('GET', '/Attempts', "The account's verification attempts (one per send), newest first", { 200: list('attempts', Attempt) }, (a, p, _, b) => v.listAttempts(a, p, b), Type.Object({ ...Paging, ...AttemptFilters, VerificationSid: Type.Optional(Type.String()), 'ChannelData.To': Type.Optional(Type.String()), Status: Type.Optional(Type.String({ description: 'CONVERTED or UNCONVERTED' })) }));
      route('GET', '/Attempts/Summary', 'Totals and conversion rate of the attempts', { 200: Summary }, (a, p, _, b) => v.attemptsSummary(a, p, b), Type.Object(AttemptFilters));
      route('GET', '/Attempts/:Sid', 'One attempt', { 200: Attempt }, (a, _, path, b) => v.fetchAttempt(a, path.Sid, b));
      if (d.factors && d.serviceWebhooks) registerFactorRoutes(route, { factors: d.factors, webhooks: d.serviceWebhooks, Meta });
    },
    { prefix: '/v2' },
  );
}
