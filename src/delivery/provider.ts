// One interface per channel; issue 4 adds Twilio, SMPP, SMTP and HTTP behind it.
export type Channel = 'sms' | 'voice' | 'email';

export interface OutgoingMessage {
  id: string;
  channel: Channel;
  /** E.164 phone number, or an email address. */
  destination: string;
  text: string;
  locale: string;
  /** 1 for the first try; providers that take an idempotency key use `${id}:${attempt}`. */
  attempt: number;
}

export type SendResult =
  | { ok: true; providerMessageId: string }
  | { ok: false; retryable: boolean; error: string };

export interface Provider {
  /** Short name recorded on each message (`console`, `twilio`, …). */
  name: string;
  send(message: OutgoingMessage): Promise<SendResult>;
}
