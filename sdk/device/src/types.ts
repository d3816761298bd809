// Wire shapes of the device API (docs/device-api.md).
import type { Algorithm } from './keys.ts';
import type { TotpAlgorithm } from './totp.ts';

/** One user of one application on this device. */
export interface Account {
  authy_id: number;
  app_id: number;
  app_name: string;
  /** base32 (RFC 4648, no padding). */
  seed: string;
  digits: number;
  period: number;
  algorithm: TotpAlgorithm;
  /** The application lets this device make the user a new set of recovery codes ({@link OpenFactorDevice.newRecoveryCodes}). */
  recovery_codes?: boolean;
}

export interface DeviceInfo {
  id: number;
  name: string | null;
  os_type: string | null;
  algorithm: Algorithm;
  registration_method: 'sdk' | 'sms' | 'voice' | (string & {});
  /** `pending_approval`: registered by phone while the person had other devices; one must approve it. */
  status?: DeviceStatus;
}

export type DeviceStatus = 'active' | 'pending_approval' | 'pending_recovery';

/** An account recovery now waiting (`GET /device/v1/account_recoveries`, `account_recovery` events). */
export interface AccountRecovery {
  id: string;
  /** `phone_change`: a phone change without any device; at its end the accounts move to the new number too. */
  kind: 'account_recovery' | 'phone_change';
  status: 'waiting' | (string & {});
  started_at?: string;
  completes_at: string | null;
  device: { name: string | null; os_type: string | null };
}

/** One of the person's devices (`GET /device/v1/devices`). */
export interface PersonDevice {
  id: number;
  name: string;
  os_type: string;
  registration_method: string;
  status: DeviceStatus;
  this_device: boolean;
  created_at: string;
  last_seen_at: string | null;
}

/** A new device waiting for this person's approval (`GET /device/v1/device_requests`). */
export interface DeviceRequest {
  id: number;
  name: string;
  os_type: string;
  created_at: string;
  /** base64url SPKI of the new device's key: the approval signs its hash. */
  public_key: string;
}

export interface ApprovalLogo {
  res: string;
  url: string;
}

export interface DeviceApproval {
  uuid: string;
  authy_id: number;
  app_id: number;
  app_name: string;
  message: string;
  details: Record<string, unknown>;
  logos: ApprovalLogo[];
  created_at: string;
  expires_at: string | null;
  status: 'pending' | 'approved' | 'denied' | 'expired' | (string & {});
  number_choices?: number[];
}

export interface ApprovalUpdate {
  uuid: string;
  status: string;
}

/** Answer to `POST /device/v1/approval_requests/{uuid}`. */
export interface AnswerResult {
  approval_request: { uuid: string; status: string };
  message: string;
  success: true;
}

/** A Web Push subscription as the API takes it (`PushSubscription.toJSON()` fits). */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** The account recovery a device registered by it waits for. */
export interface WaitingRecovery {
  id: string;
  kind: 'account_recovery' | 'phone_change';
  status: 'waiting' | 'completed' | 'canceled' | (string & {});
  completes_at: string | null;
}

export interface RegistrationAnswer {
  device: DeviceInfo;
  accounts: Account[];
  /** Registered by an account recovery: the recovery it waits for. */
  account_recovery?: WaitingRecovery;
  message: string;
  success: true;
}

/** A Twilio Verify push factor this device serves (`enrolVerifyFactor`). */
export interface VerifyFactor {
  sid: string;
  service_sid: string;
  /** The service's friendly name, as its owner set it. */
  service_name: string;
  entity_sid: string;
  identity: string;
  friendly_name: string;
  status: 'verified';
}

/** A Twilio Verify push challenge for one of this device's factors, as the Verify API answers it. */
export interface VerifyChallenge {
  sid: string;
  account_sid: string;
  service_sid: string;
  entity_sid: string;
  identity: string;
  factor_sid: string;
  status: string;
  details: { message: string | null; date?: string; fields: { label: string; value: string }[] };
  hidden_details: Record<string, unknown> | null;
  expiration_date: string;
  /** The service's friendly name, as its owner set it (OpenFactor's event, not Twilio's challenge). */
  service_name?: string;
  /** The challenge's Verify API address as the server saw its creator call it (the SDK answers at its own base URL). */
  url: string;
  [field: string]: unknown;
}

/** A Verify challenge answered (here or elsewhere) or expired. */
export interface VerifyChallengeUpdate {
  sid: string;
  status: 'approved' | 'denied' | 'expired' | (string & {});
}
