// Verify v2 entities, TOTP and push factors, challenges, notifications and service webhooks,
// declared on the /v2 scope of routes.ts (same credentials, error bodies and parameter rules).
import { Type, type TSchema } from '@sinclair/typebox';
import type { Params } from '../../core/params.ts';
import type { VerifyAccount } from './credentials.ts';
import type { Caller, VerifyFactors } from './factors.ts';
import type { Answer } from './service.ts';
import type { ServiceWebhooks } from './service-webhooks.ts';

type Handler = (a: VerifyAccount, p: Params, path: Record<string, string>, base: string) => Promise<Answer>;
export type RouteFn = (method: 'GET' | 'POST' | 'DELETE', url: string, summary: string, ok: Record<number, TSchema>, handler: Handler, input?: TSchema) => void;

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Sid = (prefix: string) => Type.String({ pattern: `^${prefix}[0-9a-f]{32}$` });
const Date_ = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$' });
const Json = Type.Record(Type.String(), Type.Unknown());
const Paging = { PageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })), Page: Type.Optional(Type.Integer({ minimum: 0 })), PageToken: Type.Optional(Type.String()) };

const Entity = Type.Object({
  sid: Sid('YE'),
  identity: Type.String(),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
  links: Type.Record(Type.String(), Type.String()),
});
const TotpConfig = Type.Object({ alg: Type.String(), skew: Type.Integer(), code_length: Type.Integer(), time_step: Type.Integer() });
const PushConfig = Type.Object({ sdk_version: Nullable(Type.String()), app_id: Nullable(Type.String()), notification_platform: Type.String(), notification_token: Nullable(Type.String()) });
const factorFields = {
  sid: Sid('YF'),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  entity_sid: Sid('YE'),
  identity: Type.String(),
  date_created: Date_,
  date_updated: Date_,
  friendly_name: Type.String(),
  status: Type.Union([Type.Literal('unverified'), Type.Literal('verified')]),
  factor_type: Type.Union([Type.Literal('totp'), Type.Literal('push')]),
  config: Type.Union([TotpConfig, PushConfig]),
  metadata: Nullable(Json),
  url: Type.String(),
};
const Factor = Type.Object(factorFields);
const NewFactor = Type.Object({
  ...factorFields,
  binding: Type.Union([Type.Object({ secret: Type.String(), uri: Type.String() }), Type.Object({ alg: Type.Literal('ES256'), public_key: Type.String() })], { description: 'Only in the answer to create' }),
  options: Type.Null(),
});
const Challenge = Type.Object({
  sid: Sid('YC'),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  entity_sid: Sid('YE'),
  identity: Type.String(),
  factor_sid: Sid('YF'),
  date_created: Date_,
  date_updated: Date_,
  date_responded: Nullable(Date_),
  expiration_date: Date_,
  status: Type.Union([Type.Literal('pending'), Type.Literal('expired'), Type.Literal('approved'), Type.Literal('denied')]),
  responded_reason: Type.String(),
  details: Type.Object({ message: Nullable(Type.String()), date: Type.Optional(Date_), fields: Type.Array(Type.Object({ label: Type.String(), value: Type.String() })) }),
  hidden_details: Nullable(Json),
  metadata: Nullable(Json),
  factor_type: Type.Union([Type.Literal('totp'), Type.Literal('push')]),
  url: Type.String(),
  links: Type.Record(Type.String(), Type.String()),
});
const Notification = Type.Object({
  sid: Sid('NT'),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  entity_sid: Sid('YE'),
  identity: Type.String(),
  challenge_sid: Sid('YC'),
  priority: Type.String(),
  ttl: Type.Integer(),
  date_created: Date_,
});
const Webhook = Type.Object({
  sid: Sid('YW'),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  friendly_name: Type.String(),
  event_types: Type.Array(Type.String()),
  webhook_method: Type.Literal('POST'),
  webhook_url: Type.String(),
  status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
  version: Type.Union([Type.Literal('v1'), Type.Literal('v2')]),
  date_created: Date_,
  date_updated: Date_,
  url: Type.String(),
});

const FactorConfig = {
  'Config.TimeStep': Type.Optional(Type.Integer({ minimum: 20, maximum: 60 })),
  'Config.Skew': Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
  'Config.CodeLength': Type.Optional(Type.Integer({ minimum: 3, maximum: 8 })),
  'Config.Alg': Type.Optional(Type.String({ description: 'sha1, sha256 or sha512' })),
  'Config.SdkVersion': Type.Optional(Type.String()),
  'Config.NotificationPlatform': Type.Optional(Type.String({ description: 'apn, fcm or none (OpenFactor sends no APNs/FCM pushes: devices list pending challenges)' })),
  'Config.NotificationToken': Type.Optional(Type.String()),
};
const NewFactorParams = Type.Object({
  FriendlyName: Type.String(),
  FactorType: Type.String({ description: 'totp or push' }),
  'Binding.Secret': Type.Optional(Type.String({ description: 'totp: base32; made here when absent' })),
  'Binding.Alg': Type.Optional(Type.String({ description: 'push: ES256' })),
  'Binding.PublicKey': Type.Optional(Type.String({ description: 'push: EC P-256 public key, base64 DER (SPKI)' })),
  'Config.AppId': Type.Optional(Type.String()),
  Metadata: Type.Optional(Type.String({ description: 'JSON object' })),
  ...FactorConfig,
});
const UpdateFactorParams = Type.Object({ AuthPayload: Type.Optional(Type.String({ description: 'totp: a code; push: an ES256 JWT signed by the factor key' })), FriendlyName: Type.Optional(Type.String()), ...FactorConfig });
const ChallengeParams = Type.Object({
  FactorSid: Type.String(),
  ExpirationDate: Type.Optional(Type.String({ description: 'ISO 8601; default five minutes, at most an hour' })),
  'Details.Message': Type.Optional(Type.String({ description: 'required for push' })),
  'Details.Fields': Type.Optional(Type.Array(Type.String({ description: 'JSON {"label","value"}, the key repeated' }))),
  HiddenDetails: Type.Optional(Type.String({ description: 'JSON object' })),
  AuthPayload: Type.Optional(Type.String({ description: 'totp: the code (the answer is then approved or pending)' })),
});
const AccessToken = Type.Object({
  sid: Sid('YK'),
  account_sid: Sid('AC'),
  service_sid: Sid('VA'),
  entity_identity: Type.String(),
  factor_type: Type.Literal('push'),
  factor_friendly_name: Nullable(Type.String()),
  token: Type.String({ description: 'A JWT: the device sends it as HTTP Basic `token:<jwt>` when it creates its factor, or to POST /device/v1/verify_factors' }),
  url: Type.String(),
  ttl: Type.Integer(),
  date_created: Date_,
});
const AccessTokenParams = Type.Object({
  Identity: Type.String(),
  FactorType: Type.String({ description: 'push' }),
  FactorFriendlyName: Type.Optional(Type.String()),
  Ttl: Type.Optional(Type.Integer({ minimum: 60, maximum: 300, default: 60 })),
});
const WebhookParams = Type.Object({
  FriendlyName: Type.String(),
  EventTypes: Type.Array(Type.String({ description: '*, factor.created, factor.verified, factor.deleted, challenge.approved, challenge.denied (the key repeated)' })),
  WebhookUrl: Type.String(),
  Status: Type.Optional(Type.String({ description: 'enabled or disabled' })),
  Version: Type.Optional(Type.String({ description: 'v1 or v2' })),
});

export function registerFactorRoutes(route: RouteFn, d: { factors: VerifyFactors; webhooks: ServiceWebhooks; Meta: TSchema }): void {
  const f = d.factors;
  const w = d.webhooks;
  const list = (key: string, item: TSchema) => Type.Object({ [key]: Type.Array(item), meta: d.Meta });
  const c = (a: VerifyAccount) => a as Caller;
  const E = '/Services/:ServiceSid/Entities';
  const I = `${E}/:Identity`;

  route('POST', E, 'Create an entity (a user of TOTP and push factors)', { 201: Entity }, (a, p, path, b) => f.createEntity(c(a), path.ServiceSid, p, b), Type.Object({ Identity: Type.String() }));
  route('GET', E, "The service's entities, oldest first", { 200: list('entities', Entity) }, (a, p, path, b) => f.listEntities(c(a), path.ServiceSid, p, b), Type.Object(Paging));
  route('GET', I, 'An entity, by its identity', { 200: Entity }, (a, _, path, b) => f.fetchEntity(c(a), path.ServiceSid, path.Identity, b));
  route('DELETE', I, 'Delete an entity with its factors and challenges', { 204: Type.Null() }, (a, _, path) => f.deleteEntity(c(a), path.ServiceSid, path.Identity));

  route('POST', `${I}/Factors`, 'Create a TOTP or push factor (the binding is answered only here)', { 201: NewFactor }, (a, p, path, b) => f.createFactor(c(a), path.ServiceSid, path.Identity, p, b), NewFactorParams);
  route('GET', `${I}/Factors`, "The entity's factors", { 200: list('factors', Factor) }, (a, p, path, b) => f.listFactors(c(a), path.ServiceSid, path.Identity, p, b), Type.Object(Paging));
  route('GET', `${I}/Factors/:Sid`, 'A factor', { 200: Factor }, (a, _, path, b) => f.fetchFactor(c(a), path.ServiceSid, path.Identity, path.Sid, b));
  route('POST', `${I}/Factors/:Sid`, 'Verify a factor (AuthPayload) or change it', { 200: Factor }, (a, p, path, b) => f.updateFactor(c(a), path.ServiceSid, path.Identity, path.Sid, p, b), UpdateFactorParams);
  route('DELETE', `${I}/Factors/:Sid`, 'Delete a factor', { 204: Type.Null() }, (a, _, path) => f.deleteFactor(c(a), path.ServiceSid, path.Identity, path.Sid));

  route('POST', `${I}/Challenges`, 'Create a challenge (TOTP with AuthPayload: answered approved or pending)', { 201: Challenge }, (a, p, path, b) => f.createChallenge(c(a), path.ServiceSid, path.Identity, p, b), ChallengeParams);
  route('GET', `${I}/Challenges`, "The entity's challenges", { 200: list('challenges', Challenge) }, (a, p, path, b) => f.listChallenges(c(a), path.ServiceSid, path.Identity, p, b), Type.Object({ ...Paging, FactorSid: Type.Optional(Type.String()), Status: Type.Optional(Type.String()), Order: Type.Optional(Type.String()) }));
  route('GET', `${I}/Challenges/:Sid`, 'A challenge (push: with the Twilio-Verify-Signature-Fields header)', { 200: Challenge }, (a, _, path, b) => f.fetchChallenge(c(a), path.ServiceSid, path.Identity, path.Sid, b));
  route('POST', `${I}/Challenges/:Sid`, 'Answer a challenge: a TOTP code, or the device’s signed JWT', { 200: Challenge }, (a, p, path, b) => f.updateChallenge(c(a), path.ServiceSid, path.Identity, path.Sid, p, b), Type.Object({ AuthPayload: Type.String(), Metadata: Type.Optional(Type.String()) }));
  route('POST', `${I}/Challenges/:Sid/Notifications`, 'Notify the device of a pending push challenge again', { 201: Notification }, (a, p, path, b) => f.notify(c(a), path.ServiceSid, path.Identity, path.Sid, p, b), Type.Object({ Ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })) }));

  const T = '/Services/:ServiceSid/AccessTokens';
  route('POST', T, 'An access token: one device may enrol one push factor for the identity with it, within its ttl', { 201: AccessToken }, (a, p, path, b) => f.accessTokens.create(a, path.ServiceSid, p, b), AccessTokenParams);
  route('GET', `${T}/:Sid`, 'An access token, while it lives', { 200: AccessToken }, (a, _, path, b) => f.accessTokens.fetch(a, path.ServiceSid, path.Sid, b));

  const W = '/Services/:ServiceSid/Webhooks';
  route('POST', W, 'Create a service webhook (factor and challenge events, signed with X-Twilio-Signature)', { 201: Webhook }, (a, p, path, b) => w.create(a, path.ServiceSid, p, b), WebhookParams);
  route('GET', W, "The service's webhooks", { 200: list('webhooks', Webhook) }, (a, p, path, b) => w.list(a, path.ServiceSid, p, b), Type.Object(Paging));
  route('GET', `${W}/:Sid`, 'A webhook', { 200: Webhook }, (a, _, path, b) => w.fetch(a, path.ServiceSid, path.Sid, b));
  route('POST', `${W}/:Sid`, 'Update a webhook (the parameters of create, all optional)', { 200: Webhook }, (a, p, path, b) => w.update(a, path.ServiceSid, path.Sid, p, b), Type.Partial(WebhookParams));
  route('DELETE', `${W}/:Sid`, 'Delete a webhook', { 204: Type.Null() }, (a, _, path) => w.remove(a, path.ServiceSid, path.Sid));
}
