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
}

export interface DeviceInfo {
  id: number;
  name: string | null;
  os_type: string | null;
  algorithm: Algorithm;
  registration_method: 'sdk' | 'sms' | 'voice' | (string & {});
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

export interface RegistrationAnswer {
  device: DeviceInfo;
  accounts: Account[];
  message: string;
  success: true;
}
