// One interface for every SMS, voice and email provider. Each implementation passes the shared
// conformance suite (test/delivery/conformance.test.ts) against a local server of its protocol.
export type Channel = 'sms' | 'voice' | 'email';

export interface OutgoingMessage {
  /** Our message id (`SM…`, `CA…`, `EM…`). */
  id: string;
  channel: Channel;
  /** E.164 phone number, or an email address. */
  destination: string;
  /** SMS or spoken text; for email, the subject, a blank line, then the body. */
  text: string;
  locale: string;
  /** The same for every attempt at one message: a provider that honours it delivers at most once. */
  idempotencyKey: string;
  /** Where the provider may report delivery (`…/delivery/receipts/{id}`), when a public URL is set. */
  receiptUrl?: string;
}

export type SendResult =
  | { ok: true; providerMessageId: string }
  /** `permanent`: the destination or content is refused; another provider would refuse it too. */
  | { ok: false; error: string; permanent?: boolean };

/** What a delivery receipt says about a message the provider accepted. */
export type ReceiptStatus = 'sent' | 'delivered' | 'undelivered' | 'failed';

export interface Receipt {
  providerMessageId: string;
  status: ReceiptStatus;
  detail?: string;
}

/** A receipt request as it arrived at `/delivery/receipts/{id}`. */
export interface ReceiptRequest {
  /** The full URL the provider called (Twilio signs it). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

/** A receipt pushed over HTTP: `genuine` false when its signature does not hold (answered 403). */
export type ReceiptCheck = { genuine: false } | { genuine: true; receipt?: Receipt };

export interface Provider {
  /** The kind: console, twilio, smpp, smtp, http. */
  kind: string;
  /** Names this provider in records, logs and metrics; never holds a credential. */
  label: string;
  channels: readonly Channel[];
  /** Re-sending with the same idempotency key delivers at most once (safe after a crash). */
  idempotent: boolean;
  /** How long one call may take before the next provider is tried. */
  timeoutMs: number;
  send(message: OutgoingMessage, signal: AbortSignal): Promise<SendResult>;
  /** Checks a receipt pushed over HTTP (its signature) and reads it. */
  readReceipt?(req: ReceiptRequest): ReceiptCheck;
  /** Receipts the provider pushes over its own connection (SMPP deliver_sm). */
  onReceipt?(listener: (r: Receipt) => void): void;
  close?(): Promise<void>;
}
