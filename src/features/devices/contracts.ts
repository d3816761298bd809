// Response contracts of the device API (docs/device-api.md; the SDK's sdk/device/src/types.ts):
// one export per success body, built from the shared shapes below. Errors share the Authy error
// contract (src/wire/contracts.ts), checked without being declared here.
import { Type, type TProperties } from '@sinclair/typebox';
import { AuthyId } from '../../wire/contracts.ts';

/** An ISO 8601 instant (`Date.prototype.toISOString`). */
const DateTime = Type.String({ format: 'date-time' });
const OptionalDateTime = Type.Union([DateTime, Type.Null()]);
/** A UUID, or an opaque id in UUID form (registrations and account recoveries: not an RFC 4122 version). */
const UuidLike = Type.String({ pattern: '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$' });
const Base64Url = (description: string, minLength = 1) => Type.String({ pattern: '^[A-Za-z0-9_-]*$', minLength, description });
const Enum = <T extends string>(values: readonly T[], description?: string) => Type.Union(values.map((v) => Type.Literal(v)), description ? { description } : {});
const DeviceId = Type.Integer({ minimum: 1 });

/** Every success body: its own fields, a human-readable `message`, `success: true`, nothing else. */
const Answer = <T extends TProperties>(fields: T) =>
  Type.Object({ ...fields, message: Type.String(), success: Type.Literal(true) }, { additionalProperties: false });

/** A body with no field of its own. */
export const Done = Answer({});

// ---- shared shapes ------------------------------------------------------------------------------

const RegistrationMethod = Enum(['sdk', 'sms', 'voice']);
const DeviceStatus = Enum(
  ['active', 'pending_approval', 'pending_recovery'],
  '`pending_approval`: registered by phone while the person had other devices, one must approve it; `pending_recovery`: waits for its account recovery to end',
);
const RecoveryKind = Enum(['account_recovery', 'phone_change'], '`phone_change`: a phone change without any device; at its end the accounts move to the new number');

/** One user of one application on this device. */
export const Account = Type.Object(
  {
    authy_id: AuthyId,
    app_id: Type.Integer({ minimum: 1 }),
    app_name: Type.String(),
    seed: Type.String({ pattern: '^[A-Z2-7]+$', description: 'base32 (RFC 4648), no padding' }),
    digits: Type.Integer({ minimum: 6, maximum: 8 }),
    period: Type.Integer({ minimum: 1, description: 'seconds per TOTP step (30)' }),
    algorithm: Type.Literal('SHA1'),
    recovery_codes: Type.Boolean({ description: 'the application lets this device make the user a new set of recovery codes' }),
  },
  { additionalProperties: false },
);

/** This device as registered. */
export const Device = Type.Object(
  {
    id: DeviceId,
    name: Type.String(),
    os_type: Type.String(),
    algorithm: Enum(['ES256', 'Ed25519']),
    registration_method: RegistrationMethod,
    status: DeviceStatus,
  },
  { additionalProperties: false },
);

/** The account recovery a device registered by it waits for (or has just seen end). */
export const WaitingRecovery = Type.Object(
  {
    id: UuidLike,
    kind: RecoveryKind,
    status: Enum(['waiting', 'completed', 'canceled']),
    completes_at: Type.Union([DateTime, Type.Null()], { description: 'when the waiting period ends' }),
  },
  { additionalProperties: false },
);

const Logo = Type.Object({ res: Enum(['default', 'low', 'med', 'high']), url: Type.String() }, { additionalProperties: false });

/** An approval request as a device shows it (also the `data` of `approval_request` events). */
export const DeviceApproval = Type.Object(
  {
    uuid: UuidLike,
    authy_id: AuthyId,
    app_id: Type.Integer({ minimum: 1 }),
    app_name: Type.String(),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.String(), { description: '{} when none were given' }),
    logos: Type.Array(Logo, { description: '[] when none were given' }),
    created_at: DateTime,
    expires_at: Type.Union([DateTime, Type.Null()], { description: 'null: never expires' }),
    status: Enum(['pending', 'approved', 'denied', 'expired']),
    number_choices: Type.Optional(
      Type.Array(Type.Integer({ minimum: 10, maximum: 99 }), { minItems: 3, maxItems: 3, description: 'only with number matching: the right number among three' }),
    ),
  },
  { additionalProperties: false },
);

/** One of the person's devices (this one included). */
export const PersonDevice = Type.Object(
  {
    id: DeviceId,
    name: Type.String(),
    os_type: Type.String(),
    registration_method: RegistrationMethod,
    status: DeviceStatus,
    this_device: Type.Boolean(),
    created_at: DateTime,
    last_seen_at: OptionalDateTime,
  },
  { additionalProperties: false },
);

/** A new device of the person waiting for an approval. */
export const DeviceRequest = Type.Object(
  {
    id: DeviceId,
    name: Type.String(),
    os_type: Type.String(),
    created_at: DateTime,
    // The service answers '' for a row without a key; the key is written in the row's transaction.
    public_key: Base64Url("base64url SPKI of the new device's key; the approval signs its hash", 0),
  },
  { additionalProperties: false },
);

/** An account recovery of the person now waiting: an existing device may cancel it. */
export const AccountRecovery = Type.Object(
  {
    id: UuidLike,
    kind: RecoveryKind,
    status: Type.Literal('waiting'),
    started_at: DateTime,
    completes_at: OptionalDateTime,
    // From the waiting device's row (a left join: null only if that row were gone).
    device: Type.Object({ name: Type.Union([Type.String(), Type.Null()]), os_type: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

// ---- bodies -------------------------------------------------------------------------------------

/** `POST /device/v1/registrations`, `POST /device/v1/phone_registrations/{id}/confirm`. */
export const Registered = Answer({
  device: Device,
  accounts: Type.Array(Account, { description: 'empty while the device waits for an approval' }),
});

/** `POST /device/v1/account_recoveries/{id}/confirm`: registered, waiting for the recovery's end. */
export const RecoveryRegistered = Answer({
  device: Device,
  accounts: Type.Array(Account, { description: 'empty: the accounts come when the recovery ends' }),
  account_recovery: Type.Object(
    { id: UuidLike, kind: RecoveryKind, status: Type.Literal('waiting'), completes_at: DateTime },
    { additionalProperties: false },
  ),
});

/** `POST /device/v1/phone_registrations`: the same answer whether or not the number is known. */
export const PhoneRegistrationStarted = Answer({
  registration_id: UuidLike,
  seconds_to_expire: Type.Integer({ minimum: 1 }),
});

export const VapidPublicKey = Answer({ public_key: Base64Url('the VAPID public key (an uncompressed P-256 point) for PushManager.subscribe') });

/** `GET /device/v1/accounts`. */
export const Accounts = Answer({ accounts: Type.Array(Account) });

/** `GET /device/v1/approval_requests`. */
export const PendingApprovals = Answer({ approval_requests: Type.Array(DeviceApproval) });

/** `POST /device/v1/approval_requests/{uuid}`. */
export const ApprovalAnswered = Answer({
  approval_request: Type.Object({ uuid: UuidLike, status: Enum(['approved', 'denied']) }, { additionalProperties: false }),
});

/** `POST /device/v1/recovery_codes`: shown this once, never kept. */
export const RecoveryCodes = Answer({
  recovery_codes: Type.Array(Type.String({ pattern: '^\\d{8}$' }), { minItems: 10, maxItems: 10, uniqueItems: true }),
  created_at: DateTime,
});

/** `GET /device/v1/device`; `account_recovery` only for a device registered by one and waiting for it. */
export const DeviceState = Answer({ device: Device, account_recovery: Type.Optional(WaitingRecovery) });

/** `POST /device/v1/account_recoveries`: the same answer whether or not the number is known. */
export const AccountRecoveryStarted = Answer({
  account_recovery: Type.Object(
    { id: UuidLike, kind: RecoveryKind, status: Type.Literal('unconfirmed'), seconds_to_expire: Type.Integer({ minimum: 1 }) },
    { additionalProperties: false },
  ),
});

/** `GET /device/v1/account_recoveries`. */
export const AccountRecoveries = Answer({ account_recoveries: Type.Array(AccountRecovery) });

/** `DELETE /device/v1/account_recoveries/{id}`. */
export const AccountRecoveryCanceled = Answer({
  account_recovery: Type.Object({ id: UuidLike, status: Type.Literal('canceled') }, { additionalProperties: false }),
});

/** `GET /device/v1/devices`. */
export const PersonDevices = Answer({
  devices: Type.Array(PersonDevice),
  allow_new_devices: Type.Boolean({ description: 'false: registering another device by phone is refused' }),
});

/** `PUT /device/v1/settings`. */
export const Settings = Answer({ allow_new_devices: Type.Boolean() });

/** `GET /device/v1/device_requests`. */
export const DeviceRequests = Answer({ device_requests: Type.Array(DeviceRequest) });

/** `POST /device/v1/device_requests/{id}`: approved, the device is active; denied, it is removed. */
export const DeviceRequestAnswered = Answer({
  device: Type.Object({ id: DeviceId, status: Enum(['active', 'denied']) }, { additionalProperties: false }),
});

/** `POST /device/v1/phone_changes`. */
export const PhoneChangeRequested = Answer({
  phone_change: Type.Object({ id: UuidLike, status: Type.Literal('pending'), seconds_to_expire: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
});

const PhoneChangeEnded = (status: 'completed' | 'canceled') =>
  Answer({ phone_change: Type.Object({ id: UuidLike, status: Type.Literal(status) }, { additionalProperties: false }) });

/** `POST /device/v1/phone_changes/{id}/confirm`: every user of the old number now has the new one. */
export const PhoneChangeCompleted = PhoneChangeEnded('completed');

/** `DELETE /device/v1/phone_changes/{id}`. */
export const PhoneChangeCanceled = PhoneChangeEnded('canceled');

/** `POST /device/v1/verify_factors`: the Twilio Verify push factor this device now serves. */
export const VerifyFactorEnrolled = Answer({
  verify_factor: Type.Object(
    {
      sid: Type.String({ pattern: '^YF[0-9a-f]{32}$' }),
      service_sid: Type.String({ pattern: '^VA[0-9a-f]{32}$' }),
      service_name: Type.String({ description: "the Verify service's friendly name, as its owner set it" }),
      entity_sid: Type.String({ pattern: '^YE[0-9a-f]{32}$' }),
      identity: Type.String(),
      friendly_name: Type.String(),
      status: Type.Literal('verified'),
    },
    { additionalProperties: false },
  ),
});
