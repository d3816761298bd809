// The one error table: every expected failure has a stable name, an Authy error code,
// an HTTP status and a message. Services return these names; wire/ renders them.
export const ERRORS = {
  GENERIC: { code: '60000', status: 400, message: 'An error occurred' },
  INVALID_API_KEY: { code: '60001', status: 401, message: 'Invalid API key' },
  INVALID_REQUEST: { code: '60002', status: 400, message: 'Invalid request' },
  INVALID_PARAMETER: { code: '60004', status: 400, message: 'Invalid parameter' },
  INVALID_ENCODING: { code: '60005', status: 400, message: 'Invalid encoding' },
  USER_NOT_FOUND: { code: '60026', status: 404, message: 'User not found.' },
  USER_INVALID: { code: '60027', status: 400, message: 'User was not valid' },
  ACTIVITY_INVALID: {
    code: '60029',
    status: 400,
    message: 'You can only create the following activities: password_reset, banned, unbanned, cookie_login.',
  },
  DOS_SENDS: { code: '60003', status: 429, message: 'DoS protection: User has requested too many tokens in the last hour.' },
  DOS_VERIFY: {
    code: '60003',
    status: 429,
    message: 'DoS protection: Too many invalid tokens were verified for this user. Try again later.',
  },
  CALLS_DISABLED: {
    code: '60006',
    status: 503,
    message: 'The calls add-on is not enabled on this App. To enable please contact support@authy.com',
  },
  SMS_DISABLED: {
    code: '60007',
    status: 503,
    message:
      'The text-message addon is not enabled for this app. Upgrade at least to Starter Plan to use SMS, see https://www.authy.com/pricing',
  },
  DAILY_SMS_LIMIT: { code: '60010', status: 429, message: 'The daily SMS limit of this application has been reached.' },
  DAILY_CALL_LIMIT: { code: '60012', status: 429, message: 'The daily call limit of this application has been reached.' },
  COUNTRY_NOT_ALLOWED: { code: '60013', status: 400, message: 'Messages to this country are not allowed for this application.' },
  DOS_DESTINATION: { code: '60003', status: 429, message: 'DoS protection: Too many messages were sent to this phone number. Try again later.' },
  DOS_PREFIX: { code: '60003', status: 429, message: 'DoS protection: Too many messages to numbers like this one. Try again later.' },
  DOS_AUTH: { code: '60003', status: 429, message: 'DoS protection: Too many failed authentication attempts from this address. Try again later.' },
  DOS_COUNTRY: { code: '60003', status: 429, message: 'DoS protection: Too many messages to this country. Try again later.' },
  DOS_REGISTRATIONS: { code: '60003', status: 429, message: 'DoS protection: Too many registration requests. Try again later.' },
  TOO_MANY_CONNECTIONS: { code: '60003', status: 429, message: 'DoS protection: Too many event streams and long-polls are open on this server. Try again later.' },
  USER_DOES_NOT_EXIST: { code: '60016', status: 401, message: "User doesn't exist" },
  TOKEN_REUSED: { code: '60019', status: 401, message: 'Token is invalid. Token was used recently.' },
  TOKEN_INVALID: { code: '60020', status: 401, message: 'Token is invalid' },
  GENERIC_TOKENS_DISABLED: {
    code: '60123',
    status: 400,
    message: 'Generic authenticator tokens are disabled for this application.',
  },
  VERIFICATION_NOT_CREATED: { code: '60021', status: 400, message: "Phone verification couldn't be created" },
  VERIFICATION_INCORRECT: { code: '60022', status: 401, message: 'Verification code is incorrect' },
  VERIFICATION_NOT_FOUND: { code: '60023', status: 404, message: 'No pending verifications found.' },
  PHONE_INVALID: { code: '60033', status: 400, message: 'Phone number is invalid' },
  LANDLINE_SMS: { code: '60082', status: 400, message: 'Cannot send SMS to landline.' },
  NOT_PROVISIONED: { code: '60083', status: 400, message: 'Phone number not provisioned: messages to premium-rate, toll-free and other non-personal numbers are refused.' },
  CUSTOM_MESSAGE_DISALLOWED: { code: '60091', status: 400, message: 'Custom messages are not allowed for this application.' },
  REGISTRATION_INVALID: { code: '60034', status: 400, message: 'Registration request is invalid' },
  REGISTRATION_NOT_FOUND: { code: '60035', status: 404, message: 'Registration request not found.' },
  REGISTRATION_INVALID_PIN: { code: '60036', status: 401, message: 'Registration PIN is invalid' },
  REGISTRATION_EXPIRED: { code: '60037', status: 400, message: 'Registration request expired.' },
  NEW_DEVICES_NOT_ALLOWED: {
    code: '60043',
    status: 403,
    message: 'New devices are not allowed for this phone: allow them from one of your registered devices, or start account recovery if you have none.',
  },
  DEVICE_PENDING_APPROVAL: { code: '60044', status: 403, message: 'This device is waiting for approval from another of your devices.' },
  DEVICE_NOT_FOUND: { code: '60045', status: 404, message: 'Device not found.' },
  PHONE_CHANGE_NOT_FOUND: { code: '60039', status: 404, message: 'Phone change not found, finished or expired.' },
  PHONE_CHANGE_INVALID_CODE: { code: '60040', status: 401, message: 'Phone change codes are invalid: send the code sent to the new number and the code sent by email.' },
  RECOVERY_CODES_NOT_ALLOWED: { code: '60047', status: 403, message: "This application does not let devices make recovery codes: ask the application's support." },
  ACCOUNT_RECOVERY_NOT_FOUND: { code: '60046', status: 404, message: 'Account recovery not found, finished or expired.' },
  ACCOUNT_RECOVERY_INVALID_CODE: { code: '60048', status: 401, message: 'Account recovery codes are invalid: send the code sent to the phone and the code sent by email (and, for a phone change, the code sent to the new number).' },
  PHONE_CHANGE_CONFLICT: { code: '60041', status: 409, message: 'The new number already belongs to another user of one of your applications.' },
  APPROVAL_NOT_FOUND: { code: '60049', status: 404, message: 'Approval request not found' },
  ONETOUCH_UNREGISTERED: { code: '60050', status: 400, message: 'The user has no device registered for OneTouch.' },
  ONETOUCH_DISABLED: { code: '60064', status: 400, message: 'OneTouch is not enabled for this application.' },
  DASHBOARD_KEY_INVALID: { code: '60072', status: 401, message: 'Invalid access key' },
  APPROVAL_NOT_PENDING: { code: '60079', status: 400, message: 'Approval request is not pending.' },
  APPROVAL_INVALID: { code: '60080', status: 400, message: 'Approval request is invalid.' },
  SIGNATURE_INVALID: { code: '60087', status: 401, message: 'Invalid signature' },
  SIGNATURE_REPLAYED: { code: '60087', status: 401, message: 'Invalid signature: this nonce was already used' },
  SIGNATURE_EXPIRED: { code: '60087', status: 401, message: 'Invalid signature: the nonce is a time outside the accepted window' },
  /** OpenFactor's own (device API): a Twilio Verify access token that is expired, used, or not ours. */
  VERIFY_ACCESS_TOKEN_INVALID: { code: '60092', status: 401, message: 'The Verify access token is not valid: it expired, was used already, or was not issued by this server.' },
  REGISTRATION_NOT_CREATED: { code: '60090', status: 400, message: 'Registration request could not be created.' },
  WEBHOOK_NOT_CREATED: { code: '60098', status: 400, message: 'Webhook could not be created' },
  WEBHOOK_NOT_DELETED: { code: '60100', status: 400, message: 'Webhook could not be deleted' },
  PHONE_EXPORT_DISABLED: { code: '60154', status: 400, message: 'Phone number export is not enabled for this application.' },
  // Beyond Authy's table but in its shape: routes we do not have, oversized requests, bugs.
  ROUTE_NOT_FOUND: { code: '60000', status: 404, message: 'Resource not found' },
  QR_NOT_FOUND: { code: '60000', status: 404, message: 'QR code not found or expired' },
  ADMIN_UNAUTHORIZED: { code: '60001', status: 401, message: 'Invalid admin token' },
  ADMIN_FORBIDDEN: { code: '60001', status: 403, message: 'Your role may not do this' },
  ADMIN_SIGN_IN_FAILED: { code: '60001', status: 401, message: 'Wrong email, password or code' },
  ADMIN_CODE_REQUIRED: { code: '60001', status: 401, message: 'Enter the code your authenticator app shows for the OpenFactor console' },
  ADMIN_SIGN_IN_EXPIRED: { code: '60001', status: 401, message: 'This sign-in has ended or expired: sign in again' },
  ADMIN_NO_ONETOUCH_DEVICE: { code: '60001', status: 409, message: 'OneTouch cannot reach this administrator (no linked device registered, or OneTouch off in its application): enter the code from your authenticator app' },
  ADMIN_SSO_OFF: { code: '60000', status: 404, message: 'Single sign-on is not configured (OPENFACTOR_ADMIN_OIDC_ISSUER)' },
  ADMIN_CSRF: { code: '60001', status: 403, message: 'This change needs the session’s CSRF token (x-csrf-token): sign in again' },
  ADMIN_ACCOUNT_NOT_FOUND: { code: '60000', status: 404, message: 'No such administrator' },
  ADMIN_TOKEN_NOT_FOUND: { code: '60000', status: 404, message: 'No such API token' },
  ADMIN_APP_NOT_FOUND: { code: '60000', status: 404, message: 'Application not found' },
  ADMIN_QUARANTINE_NOT_FOUND: { code: '60000', status: 404, message: 'No such quarantine' },
  ADMIN_APP_NAME_TAKEN: { code: '60000', status: 409, message: 'Another application already has this name (names are compared trimmed and ignoring case)' },
  ADMIN_VERIFY_ACCOUNT_NOT_FOUND: { code: '60000', status: 404, message: 'Verify account not found' },
  METRICS_UNAUTHORIZED: { code: '60001', status: 401, message: 'Invalid metrics token' },
  REQUEST_TOO_LARGE: { code: '60002', status: 413, message: 'Invalid request: the request is too large' },
  URI_TOO_LONG: { code: '60002', status: 414, message: 'Invalid request: the request line is too long (send parameters in the body)' },
  HEADERS_TOO_LARGE: { code: '60002', status: 431, message: 'Invalid request: the request headers are too large' },
  DATABASE_UNAVAILABLE: { code: '60000', status: 503, message: 'Service temporarily unavailable: the database did not answer. Try again shortly.' },
  INTERNAL: { code: '60000', status: 500, message: 'An internal error occurred' },
} as const satisfies Record<string, { code: string; status: number; message: string }>;

export type ErrorName = keyof typeof ERRORS;

/** A failure a service reports as a value (an expected outcome, not a bug). */
export interface Failure {
  ok: false;
  error: ErrorName;
  /** Replaces the table's message (e.g. "Invalid parameter: x - reason"). */
  message?: string;
  /** Per-field messages, rendered inside `errors` and at the top level (Authy does both). */
  fields?: Record<string, string>;
  /** Top-level only, right after `message` (verify's `"token":"is invalid"`). */
  head?: Record<string, string>;
  /** `errors` stays `{}` (OneTouch's 60049 body has it so). */
  emptyErrors?: boolean;
}

export const fail = (error: ErrorName, extra: Omit<Failure, 'ok' | 'error'> = {}): Failure => ({
  ok: false,
  error,
  ...extra,
});

/** Thrown for malformed input found before any service runs (bad body, bad query). */
export class BadInput extends Error {
  constructor(
    readonly failure: Failure,
  ) {
    super(failure.message ?? ERRORS[failure.error].message);
  }
}

export const invalidParameter = (name: string, reason: string): Failure =>
  fail('INVALID_PARAMETER', { message: `Invalid parameter: ${name} - ${reason}` });

// ---------------------------------------------------------------------------------------------
// The Twilio Verify v2 wire (src/features/verify): its own codes, the same shape of table.
// Bodies are `{code, message, more_info, status}` (features/verify/twilio.ts renders them).

export const TWILIO_ERRORS = {
  INVALID_PARAMETER: { code: 60200, status: 400, message: 'Invalid parameter' },
  AUTHENTICATE: { code: 20003, status: 401, message: 'Authenticate' },
  NOT_FOUND: { code: 20404, status: 404, message: 'The requested resource was not found' },
  METHOD_NOT_ALLOWED: { code: 20004, status: 405, message: 'Method not allowed' },
  MAX_CHECKS: { code: 60202, status: 429, message: 'Max check attempts reached' },
  MAX_SENDS: { code: 60203, status: 429, message: 'Max send attempts reached' },
  CONCURRENT_STARTS: { code: 60212, status: 429, message: 'Too many concurrent requests for phone number' },
  LANDLINE_SMS: { code: 60205, status: 403, message: 'SMS is not supported by landline phone number' },
  CHANNEL_DISABLED: { code: 60223, status: 400, message: 'Delivery channel disabled' },
  /** The send guard's fraud rules (quarantined prefixes and countries, velocity, non-personal numbers). */
  BLOCKED: { code: 60410, status: 403, message: 'Verification delivery attempt blocked' },
  /** The service's application allows no messages to the number's country (geo permissions). */
  COUNTRY_BLOCKED: { code: 60605, status: 403, message: 'Verification delivery attempt blocked: messages to this country are not allowed' },
  TOO_MANY_REQUESTS: { code: 20429, status: 429, message: 'Too many requests' },
  // Factors and challenges (TOTP and push); 60308/60310/60318/60323/60324/60368 from Twilio's error pages.
  FACTOR_MAX_TRIES: { code: 60310, status: 429, message: 'Factor verification attempts reached' },
  FACTOR_VERIFICATION_FAILED: { code: 60311, status: 403, message: 'Factor verification failed' },
  FACTOR_UNVERIFIED: { code: 60318, status: 403, message: 'Factor is unverified' },
  CHALLENGE_MAX_TRIES: { code: 60308, status: 429, message: 'Challenge verification attempts limit reached' },
  CHALLENGE_EXPIRED: { code: 60323, status: 403, message: 'Challenge expired' },
  CHALLENGE_VERIFICATION_FAILED: { code: 60324, status: 403, message: 'Challenge verification failed: AuthPayload is invalid' },
  /** Twilio's code for answering a challenge twice is not documented; 60324 (403) with this message. */
  CHALLENGE_ANSWERED: { code: 60324, status: 403, message: 'Challenge verification failed: the challenge is no longer pending' },
  CHALLENGE_DETAILS: { code: 60368, status: 400, message: 'Challenge details invalid or not provided' },
  /** A service rate limit's bucket is full for the key value given (RateLimits); Twilio's page for 20429 names these. */
  RATE_LIMITED: { code: 20429, status: 429, message: 'Too many requests' },
  MAX_RATE_LIMITS: { code: 60207, status: 400, message: 'Max rate limits per service reached' },
  RATE_LIMIT_EXISTS: { code: 60208, status: 400, message: 'Rate limit with that UniqueName already exists' },
  UNIQUE_NAME_FORMAT: { code: 60209, status: 400, message: 'UniqueName format is invalid' },
  MAX_BUCKETS: { code: 60210, status: 400, message: 'Max Buckets per Rate limit reached' },
  BUCKET_EXISTS: { code: 60211, status: 400, message: 'Bucket with the given Interval already exists' },
  REQUEST_TOO_LARGE: { code: 20001, status: 413, message: 'Request entity too large' },
  SERVICE_UNAVAILABLE: { code: 20503, status: 503, message: 'Service unavailable: the database did not answer. Try again shortly.' },
  INTERNAL: { code: 20500, status: 500, message: 'Internal server error' },
} as const satisfies Record<string, { code: number; status: number; message: string }>;

export type TwilioErrorName = keyof typeof TWILIO_ERRORS;

/** A Verify v2 failure, as a value; `message` replaces the table's. */
export interface TwilioFailure {
  ok: false;
  twilio: TwilioErrorName;
  message?: string;
}

export const twilioFail = (twilio: TwilioErrorName, message?: string): TwilioFailure => ({ ok: false, twilio, ...(message ? { message } : {}) });

/** Twilio's wording: `Invalid parameter: To`, optionally with why. */
export const twilioInvalid = (name: string, why?: string): TwilioFailure => twilioFail('INVALID_PARAMETER', `Invalid parameter: ${name}${why ? ` (${why})` : ''}`);

/** The Authy-side failures that shared code (the send guard, the parameter parser) returns, in Twilio's terms. */
export const TWILIO_OF_AUTHY: Partial<Record<ErrorName, TwilioErrorName>> = {
  COUNTRY_NOT_ALLOWED: 'COUNTRY_BLOCKED',
  LANDLINE_SMS: 'LANDLINE_SMS',
  NOT_PROVISIONED: 'BLOCKED',
  DOS_PREFIX: 'BLOCKED',
  DOS_COUNTRY: 'BLOCKED',
  DOS_DESTINATION: 'MAX_SENDS',
  DAILY_SMS_LIMIT: 'TOO_MANY_REQUESTS',
  DAILY_CALL_LIMIT: 'TOO_MANY_REQUESTS',
  DOS_AUTH: 'TOO_MANY_REQUESTS',
  INVALID_REQUEST: 'INVALID_PARAMETER',
  INVALID_PARAMETER: 'INVALID_PARAMETER',
  REQUEST_TOO_LARGE: 'REQUEST_TOO_LARGE',
  ROUTE_NOT_FOUND: 'NOT_FOUND',
  DATABASE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

/** An Authy-side failure from shared code as a Twilio one (message kept only for parameter errors). */
export function asTwilio(f: Failure): TwilioFailure {
  const name = TWILIO_OF_AUTHY[f.error] ?? 'INTERNAL';
  return twilioFail(name, name === 'INVALID_PARAMETER' ? f.message?.replace(/^Invalid (request|parameter): ?/, 'Invalid parameter: ') : undefined);
}
