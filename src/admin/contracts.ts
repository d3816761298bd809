// Response contracts of the admin API (src/admin/routes.ts, src/admin/applications.ts): what each
// route answers on success, in TypeBox (→ OpenAPI, and checked in tests by
// src/wire/response-contracts.ts). Refusals are the one Authy error body (src/wire/contracts.ts).
import { Type, type TSchema } from '@sinclair/typebox';
import { EMITTED_WEBHOOK_EVENTS, WEBHOOK_EVENTS } from '../features/webhooks/service.ts';

const closed = { additionalProperties: false };

/** A moment, as the admin API writes every one: `new Date(ms).toISOString()`. */
const At = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });
const DateTime = At();
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const OneOf = (values: readonly string[], options = {}) => Type.Union(values.map((v) => Type.Literal(v)), options);

/** Row ids of applications and users are 32-bit integers, as Authy ids are. */
const IdOf = (description?: string) => Type.Integer({ minimum: 1, ...(description ? { description } : {}) });
const Id = IdOf();
/** A phone number shown to an operator: the national digits but the last two are `X`. */
const MaskedPhone = Type.String({ description: 'masked: calling code and the last two digits shown (+1-XXX-XXX-XX67)' });

/** A body: the given fields (all required unless marked), then `message` (one of these) and `success: true`. */
const Ok = <P extends Record<string, TSchema>>(message: string | readonly string[], fields: P) =>
  Type.Object({ ...fields, message: typeof message === 'string' ? Type.Literal(message) : OneOf(message), success: Type.Literal(true) }, closed);

// Applications ───────────────────────────────────────────────────────────────────────────────

/** What an operator may change per application (`POST …/settings` takes the same names). */
export const AppSettings = Type.Object(
  {
    tokenLength: Type.Integer({ description: 'digits of app TOTPs and of SMS, voice and email codes' }),
    codeTtlSeconds: Type.Integer({ description: 'how long an SMS, voice or email code verifies' }),
    genericTokensEnabled: Type.Boolean({ description: '`users/{id}/secret` (QR enrolment of generic authenticator apps)' }),
    verifyMaxFailures: Type.Integer({ description: 'wrong verifies within the window that lock the user…' }),
    verifyFailureWindowSeconds: Type.Integer(),
    verifyLockoutSeconds: Type.Integer({ description: '…for this long, even for a correct code' }),
    sendsPerHour: Type.Integer({ description: 'SMS, voice and email codes a user may request per hour' }),
    smsFallbackToVoice: Type.Boolean(),
    syncTokens: Type.Boolean({ description: 'devices registered by phone get this application\'s accounts' }),
    numberMatching: Type.Boolean(),
    customMessageAllowed: Type.Boolean(),
    customCodeAllowed: Type.Boolean(),
    phoneExportEnabled: Type.Boolean(),
    dailySendBudget: Type.Integer({ description: 'SMS-pumping defence: messages (SMS and calls) per day for the application' }),
    sendsPerNumberHour: Type.Integer(),
    sendsPerNumberDay: Type.Integer(),
    prefixSendsPerWindow: Type.Integer({ description: 'sends to one number prefix per ten minutes always allowed' }),
    countrySendsPerWindow: Type.Integer({ description: 'the same per calling code' }),
    unregisteredVerifyLegacy: Type.Boolean(),
    recoveryCodesOnDevices: Type.Boolean(),
  },
  closed,
);

/** An application as the admin API shows it: never its API key (shown once, when made or replaced). */
export const AdminApplication = Type.Object(
  {
    id: Id,
    name: Type.String(),
    created_at: DateTime,
    sms_enabled: Type.Boolean(),
    calls_enabled: Type.Boolean(),
    onetouch_enabled: Type.Boolean(),
    settings: AppSettings,
    allowed_countries: Type.Array(Type.String(), { description: 'ISO 3166 codes messages may go to; empty: everywhere' }),
    onetouch_callback: Nullable(Type.Object({ url: Type.String(), method: OneOf(['GET', 'POST']) }, closed)),
  },
  closed,
);

export const ApplicationCreatedBody = Ok('Application created.', { application: AdminApplication, api_key: Type.String({ description: 'shown in this answer only' }) });
export const ApplicationBody = Ok('Application.', {
  application: AdminApplication,
  verify_service: Nullable(
    Type.Object({ sid: Type.String({ pattern: '^VA[0-9a-f]{32}$' }), account_sid: Type.String({ pattern: '^AC[0-9a-f]{32}$' }) }, { ...closed, description: 'the Twilio Verify service this application backs' }),
  ),
});
/** Settings, callback and countries answer with the application as it now is. */
export const ApplicationChangedBody = Ok(['Settings changed.', 'Callback changed.', 'Countries changed.', 'Application renamed.'], { application: AdminApplication });
export const ApplicationDeletedBody = Ok('Application deleted.', {});
export const ApiKeyBody = Ok('API key replaced.', { api_key: Type.String({ description: 'shown in this answer only' }) });
export const DashboardKeysBody = Ok('Dashboard keys replaced.', {
  access_key: Type.String({ description: 'webhooks API access key, shown in this answer only' }),
  signing_key: Type.String({ description: 'webhooks API signing key, shown in this answer only' }),
});

/** Every table's paging: `next_cursor` (pass it as `cursor`), and how many rows match the filters. */
const Paging = {
  next_cursor: Nullable(Type.String({ description: 'pass as `cursor` for the next page; null on the last page' })),
  total: Type.Integer({ minimum: 0, description: 'rows matching the filters, all pages' }),
};

export const ApplicationsBody = Ok('Applications.', { applications: Type.Array(AdminApplication), ...Paging });

// Users ──────────────────────────────────────────────────────────────────────────────────────

const UserFields = {
  id: Id,
  email: Type.String(),
  cellphone: MaskedPhone,
  country_code: Type.Integer({ description: 'calling code, e.g. 1, 351' }),
  created_at: DateTime,
};

export const UsersBody = Ok('Users.', {
  users: Type.Array(
    Type.Object(
      {
        ...UserFields,
        devices: Type.Integer({ minimum: 0, description: 'registered (not removed) devices' }),
        locked_until: Nullable(At('verification lockout end; null when not locked')),
      },
      closed,
    ),
  ),
  ...Paging,
  next_before_id: Nullable(IdOf('`before_id` of the next page (the older way to page; `cursor` is the same); null on the last page')),
});

export const UserBody = Ok('User.', {
  user: Type.Object({ ...UserFields, other_emails: Type.Array(Type.String(), { description: 'other addresses the user was registered with' }) }, closed),
  activities: Type.Array(
    Type.Object(
      {
        type: Type.String(),
        data: Type.Unknown({ description: 'the JSON the application sent with register_activity' }),
        user_ip: Nullable(Type.String()),
        created_at: DateTime,
      },
      closed,
    ),
  ),
});

export const UserUnlockedBody = Ok('User unlocked.', {});

const ImportFailure = Type.Object({ line: Type.Integer({ minimum: 1 }), status: Type.Literal('failed'), reason: Type.String() }, closed);
export const UsersImportedBody = Ok(['Users imported.', 'Dry run: nothing was written.'], {
  summary: Type.Object(
    { lines: Type.Integer({ minimum: 0, description: 'non-blank lines read' }), created: Type.Integer({ minimum: 0 }), existing: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }) },
    closed,
  ),
  failed: Type.Array(ImportFailure, { description: 'the failed lines in line order, at most the first 1000' }),
  dry_run: Type.Boolean(),
});

// Lost phones: pending phone changes and account recoveries ──────────────────────────────────

const RecoveryFields = {
  id: Type.String(),
  authy_ids: Type.Array(Id, { description: "the application's users with the phone number concerned" }),
  started_at: DateTime,
};
const PendingRecovery = Type.Union([
  Type.Object(
    {
      ...RecoveryFields,
      kind: OneOf(['account_recovery', 'phone_change_without_device']),
      status: OneOf(['unconfirmed', 'waiting'], { description: 'unconfirmed: codes sent, not yet entered; waiting: the safety wait runs' }),
      completes_at: Nullable(At('end of the wait; null until confirmed')),
      device: Nullable(Type.Object({ name: Type.String(), os_type: Type.String() }, closed)),
    },
    closed,
  ),
  Type.Object({ ...RecoveryFields, kind: Type.Literal('phone_change'), status: Type.Literal('pending'), expires_at: DateTime }, closed),
]);

export const RecoveriesBody = Ok('Recoveries.', { recoveries: Type.Array(PendingRecovery, { description: 'account recoveries first, then phone changes' }) });
export const RecoveryCanceledBody = Ok('Canceled.', {});
export const RecoveryShortenedBody = Ok('Wait shortened.', { completes_at: DateTime });
export const RecoveryStartedBody = Ok('Account recovery started: codes sent to the user.', {
  account_recovery: Type.Object({ id: Type.String({ description: 'give it to the user' }), seconds_to_expire: Type.Integer({ minimum: 1 }) }, closed),
});

// Traffic, messages, verifications, quarantines ──────────────────────────────────────────────

const Count = Type.Integer({ minimum: 0 });
export const TrafficBody = Ok('Traffic per day.', {
  days: Type.Array(
    Type.Object(
      {
        date: Type.String({ format: 'date', description: 'UTC day, YYYY-MM-DD; every day of the range appears' }),
        messages: Type.Record(Type.String(), Type.Record(Type.String(), Count), { description: 'channel → status → count' }),
        approvals: Type.Record(Type.String(), Count, { description: 'approval request status → count' }),
        verifications: Type.Record(Type.String(), Count, { description: 'phone verifications started that day → status now (pending, verified, dead, expired) → count' }),
        token_checks: Type.Partial(Type.Object({ valid: Count, invalid: Count, reused: Count, locked: Count }, closed), {
          description: 'token verifications (GET verify) by result: valid, invalid, reused (a right token used before), locked (refused unchecked by the attempt cap) → count',
        }),
      },
      closed,
    ),
  ),
});

const MessageChannel = OneOf(['sms', 'voice', 'email']);
const MessageStatus = OneOf(['queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'blocked']);

/** `GET /admin/outbox`: the CLI's view, every application, destinations in full. */
export const OutboxBody = Ok('Outbox messages.', {
  messages: Type.Array(
    Type.Object(
      {
        id: Type.String(),
        app_id: Id,
        channel: MessageChannel,
        destination: Type.String({ description: 'phone number or address, in full' }),
        locale: Type.String(),
        status: MessageStatus,
        attempts: Type.Integer({ minimum: 0, description: 'provider calls made' }),
        rounds: Type.Integer({ minimum: 0, description: 'send rounds (each may try several providers)' }),
        provider: Nullable(Type.String()),
        provider_message_id: Nullable(Type.String()),
        provider_result: Nullable(Type.String()),
        created_at: DateTime,
        fallback_id: Nullable(Type.String({ description: 'the voice call made because this SMS failed' })),
        text: Type.Optional(Type.String({ description: 'only for messages the console provider kept (nothing real was sent)' })),
      },
      closed,
    ),
  ),
});

/** The delivery log of one application: phones masked, no texts. */
export const MessagesBody = Ok('Messages.', {
  messages: Type.Array(
    Type.Object(
      {
        id: Type.String(),
        authy_id: Nullable(Type.Integer({ description: 'the user it went to; null for a phone verification' })),
        channel: MessageChannel,
        to: Type.String({ description: 'phone masked; an email address in full' }),
        locale: Type.String(),
        status: MessageStatus,
        provider: Nullable(Type.String()),
        provider_attempts: Type.Integer({ minimum: 0 }),
        result: Nullable(Type.String({ description: "the provider's last answer" })),
        created_at: DateTime,
      },
      closed,
    ),
  ),
  ...Paging,
});

export const VerificationsBody = Ok('Phone verifications.', {
  verifications: Type.Array(
    Type.Object(
      {
        uuid: Type.String(),
        phone: MaskedPhone,
        via: OneOf(['sms', 'call']),
        status: OneOf(['pending', 'verified', 'dead', 'expired'], { description: 'expired: pending past its expiry' }),
        checks: Type.Integer({ minimum: 0 }),
        created_at: DateTime,
        expires_at: DateTime,
        verified_at: Nullable(DateTime),
      },
      closed,
    ),
  ),
  ...Paging,
});

export const QuarantinesBody = Ok('Quarantines.', {
  quarantines: Type.Array(
    Type.Object(
      {
        prefix: Type.String({ description: 'a number prefix (`+1415555`) or a country (`cc:+1`)' }),
        rule: Type.String({ description: 'the defence rule that closed it' }),
        until: DateTime,
        since: DateTime,
      },
      closed,
    ),
  ),
});
export const QuarantineLiftedBody = Ok('Quarantine lifted.', {});

// Callback and webhook deliveries, webhooks, providers ───────────────────────────────────────

export const DeliveriesBody = Ok('Deliveries.', {
  deliveries: Type.Array(
    Type.Object(
      {
        id: Id,
        kind: OneOf(['callback', 'webhook', 'verify_webhook']),
        event: Type.String(),
        url: Type.String(),
        method: OneOf(['GET', 'POST']),
        status: OneOf(['pending', 'delivered', 'failed']),
        attempts: Type.Array(
          Type.Object(
            {
              started_at: DateTime,
              finished_at: Nullable(At('null while in flight, or if the process died during it')),
              http_status: Nullable(Type.Integer()),
              error: Nullable(Type.String()),
            },
            closed,
          ),
        ),
        created_at: DateTime,
      },
      closed,
    ),
  ),
  ...Paging,
});

/** The OneTouch request log: never the hidden details. */
export const ApprovalsBody = Ok('Approval requests.', {
  approvals: Type.Array(
    Type.Object(
      {
        uuid: Type.String(),
        authy_id: Id,
        message: Type.String(),
        status: OneOf(['pending', 'approved', 'denied', 'expired'], { description: 'expired: past its expiry (as the Authy API shows it), or ended by a cancel' }),
        created_at: DateTime,
        expires_at: Nullable(At('null: the request never expires (seconds_to_expire 0)')),
        answered_at: Nullable(At('when the device approved or denied it')),
        device: Nullable(
          Type.Object(
            { id: Nullable(IdOf('the device as user status and the devices table show it; null if that link is gone')), name: Type.String(), os_type: Type.String() },
            { ...closed, description: 'the device that answered' },
          ),
        ),
      },
      closed,
    ),
  ),
  ...Paging,
});

/** Devices of the application's users: never keys. */
export const DevicesBody = Ok('Devices.', {
  devices: Type.Array(
    Type.Object(
      {
        id: IdOf('the device id user status shows'),
        authy_id: Id,
        name: Nullable(Type.String({ description: 'null for a device registered before devices had key pairs' })),
        os_type: Type.String(),
        registration_method: Type.String({ description: 'how it was registered: sdk, sms, voice, …' }),
        registered_at: DateTime,
        last_seen_at: Nullable(At("the handset's last signed call, or this application's last token sync")),
        pending_approval: Type.Boolean({ description: 'registered by phone, waiting for another of the person\'s devices to approve it' }),
        deleted_at: Type.Optional(Nullable(At('only with include_deleted=true'))),
      },
      closed,
    ),
  ),
  ...Paging,
});

const WebhookEvent = OneOf(WEBHOOK_EVENTS);
const WebhookId = Type.String({ pattern: '^WH_[0-9a-f-]{36}$' });

export const WebhooksBody = Ok('Webhooks.', {
  webhooks: Type.Array(Type.Object({ id: WebhookId, name: Type.String(), url: Type.String(), events: Type.Array(WebhookEvent), created_at: DateTime }, closed), {
    description: 'without their signing keys',
  }),
  events: Type.Array(OneOf(EMITTED_WEBHOOK_EVENTS), { description: 'the events OpenFactor sends (what a form should offer)' }),
  accepted_events: Type.Array(WebhookEvent, { description: "every event a webhook may ask for (Authy's list, accepted for compatibility; the others are never sent)" }),
});

/** As the dashboard webhooks API answers a creation (wire reference §2.21). */
export const WebhookCreatedBody = Ok('Webhook created', {
  webhook: Type.Object(
    {
      id: WebhookId,
      name: Type.String(),
      account_sid: Type.String({ pattern: '^AC[0-9a-f]{32}$' }),
      service_id: Type.String({ pattern: '^\\d+$', description: 'the application id' }),
      url: Type.String(),
      signing_key: Type.String({ description: "the webhook's own key, shown in this answer only" }),
      events: Type.Array(WebhookEvent),
      creation_date: DateTime,
    },
    closed,
  ),
});
export const WebhookDeletedBody = Ok('Webhook deleted', {});

const ProviderList = Nullable(Type.Array(Type.String(), { description: 'provider URLs, credentials hidden' }));
export const ProvidersBody = Ok(['Providers.', 'Providers saved.'], {
  providers: Type.Object({ sms: ProviderList, voice: ProviderList, email: ProviderList }, { ...closed, description: "per channel; null: the service's providers" }),
});

// Twilio Verify v2 credentials ───────────────────────────────────────────────────────────────

const VerifyAccount = Type.Object(
  { sid: Type.String({ pattern: '^AC[0-9a-f]{32}$' }), name: Type.String(), date_created: DateTime },
  { ...closed, description: 'never with its auth token' },
);
const VerifyKey = Type.Object(
  { sid: Type.String({ pattern: '^SK[0-9a-f]{32}$' }), account_sid: Type.String({ pattern: '^AC[0-9a-f]{32}$' }), name: Type.String(), date_created: DateTime },
  { ...closed, description: 'never with its secret' },
);
export const VerifyAccountCreatedBody = Ok('Verify account created.', { account: VerifyAccount, auth_token: Type.String({ description: 'shown in this answer only' }) });
export const VerifyAccountsBody = Ok('Verify accounts.', { accounts: Type.Array(VerifyAccount) });
export const VerifyKeyCreatedBody = Ok('Verify API key created.', { key: VerifyKey, secret: Type.String({ description: 'shown in this answer only' }) });
export const VerifyKeysBody = Ok('Verify API keys.', { keys: Type.Array(VerifyKey) });

/** A Verify service as the console lists it, with the application that sends its codes. */
const VerifyServiceRow = Type.Object(
  { sid: Type.String({ pattern: '^VA[0-9a-f]{32}$' }), friendly_name: Type.String(), code_length: Type.Integer(), app_id: Id, date_created: DateTime },
  closed,
);
export const VerifyServicesBody = Ok('Verify services.', { services: Type.Array(VerifyServiceRow) });
export const VerifyVerificationsBody = Ok('Verify verifications.', {
  verifications: Type.Array(
    Type.Object(
      {
        sid: Type.String({ pattern: '^VE[0-9a-f]{32}$' }),
        channel: OneOf(['sms', 'call', 'email']),
        to: Type.String({ description: 'a phone number masked (+1-XXX-XXX-XX67), or the email address' }),
        status: OneOf(['pending', 'approved', 'canceled', 'max_attempts_reached', 'expired']),
        sends: Type.Integer(),
        checks: Type.Integer(),
        date_created: DateTime,
        date_updated: DateTime,
        expires_at: DateTime,
      },
      closed,
    ),
  ),
  next_cursor: Nullable(Type.String()),
  total: Type.Integer(),
});
export const VerifyFactorsBody = Ok('Verify factors.', {
  factors: Type.Array(
    Type.Object(
      {
        sid: Type.String({ pattern: '^YF[0-9a-f]{32}$' }),
        identity: Type.String({ description: "the entity's identity, as the application gave it" }),
        factor_type: OneOf(['totp', 'push']),
        friendly_name: Type.String(),
        status: OneOf(['unverified', 'verified']),
        locked_until: Nullable(DateTime),
        pending_challenges: Type.Integer(),
        date_created: DateTime,
      },
      { ...closed, description: 'never the secret or public key' },
    ),
  ),
  next_cursor: Nullable(Type.String()),
  total: Type.Integer(),
});

// Administrators: who is asking, API tokens, the audit trail ────────────────────────────────

const RoleName = OneOf(['owner', 'admin', 'support', 'read_only']);
const PrincipalView = Type.Object(
  {
    kind: OneOf(['break_glass', 'token', 'admin']),
    name: Type.String(),
    role: RoleName,
    app_id: Nullable(Id),
  },
  closed,
);
export const SessionBody = Ok('Signed in.', { principal: PrincipalView, csrf_token: Type.String({ description: 'send as x-csrf-token with every change' }), expires_at: DateTime });
export const SessionNowBody = Ok('Your session.', { principal: PrincipalView, csrf_token: Nullable(Type.String({ description: 'a console session’s CSRF token; null for a bearer token' })), expires_at: Nullable(DateTime) });
export const ApprovalWaitBody = Ok('Approve the sign-in on your device.', {
  approval_request: Type.Object({ uuid: Type.String(), number: Type.Optional(Type.Integer({ description: 'number matching: the number to pick on the device' })) }, closed),
});
export const SignInOptionsBody = Ok('Ways to sign in.', {
  password: Type.Literal(true),
  sso: Nullable(Type.Object({ name: Type.String(), url: Type.String() }, closed)),
});
export const SignedOutBody = Ok('Signed out.', {});
const Account = Type.Object(
  {
    id: Id,
    email: Type.String(),
    name: Type.String(),
    role: RoleName,
    app_id: Nullable(Id),
    password: Type.Boolean({ description: 'whether a password is set' }),
    onetouch: Nullable(Type.Object({ app_id: Id, authy_id: Id, devices: Type.Array(Id, { description: 'the device keys pinned at linking: only their answers count' }) }, { ...closed, description: 'the user whose devices approve this administrator’s sign-ins' })),
    created_at: DateTime,
    last_sign_in_at: Nullable(DateTime),
    disabled_at: Nullable(DateTime),
  },
  closed,
);
export const AccountsBody = Ok('Administrators.', { accounts: Type.Array(Account) });
export const AccountCreatedBody = Ok('Administrator added.', { account: Account, otpauth_uri: Type.String({ description: 'the authenticator to add (QR code or app), shown only now' }) });
export const AccountDisabledBody = Ok('Administrator disabled.', { account: Account });
export const AccountOneTouchBody = Ok(['OneTouch device linked.', 'OneTouch device unlinked.'], { account: Account });
export const MeBody = Ok('You.', {
  principal: Type.Object(
    {
      kind: OneOf(['break_glass', 'token', 'admin']),
      name: Type.String(),
      role: RoleName,
      app_id: Nullable(Id),
    },
    closed,
  ),
});
const ApiToken = Type.Object(
  {
    id: Id,
    name: Type.String(),
    role: RoleName,
    app_id: Nullable(IdOf('the one application it reaches; null: all')),
    created_by: Type.String(),
    created_at: DateTime,
    last_used_at: Nullable(DateTime),
    revoked_at: Nullable(DateTime),
  },
  closed,
);
export const TokensBody = Ok('API tokens.', { tokens: Type.Array(ApiToken) });
export const TokenCreatedBody = Ok('API token created.', { api_token: ApiToken, token: Type.String({ description: 'shown in this answer only' }) });
export const TokenRevokedBody = Ok('API token revoked.', { api_token: ApiToken });
const AuditEntry = Type.Object(
  {
    id: Id,
    at: DateTime,
    actor: Type.String(),
    actor_kind: OneOf(['break_glass', 'token', 'cli', 'admin', 'device', 'service']),
    ip: Nullable(Type.String()),
    action: Type.String(),
    app_id: Nullable(Type.Integer()),
    target: Type.Record(Type.String(), Type.Unknown()),
    detail: Type.Record(Type.String(), Type.Unknown(), { description: 'what changed (before and after) and the request, secrets hidden' }),
    hash: Type.String({ description: 'this entry’s link in the chain' }),
  },
  closed,
);
export const AuditBody = Ok('Audit trail.', { entries: Type.Array(AuditEntry), next_cursor: Nullable(Type.String()), total: Type.Integer({ minimum: 0 }) });
