/** A non-2xx answer (or an unusable one) from OpenFactor. */
export class OpenFactorError extends Error {
  override readonly name = 'OpenFactorError';
  /** HTTP status. */
  readonly status: number;
  /** The Authy `error_code` (a string such as `"60087"`), when the body had one. */
  readonly code: string | undefined;
  /** The parsed body, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(status: number, message: string, code?: string, body?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}
