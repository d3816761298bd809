// OpenFactorDevice: one registered device talking to OpenFactor's /device/v1 API.
import { base32Decode, base64url, randomNonce, utf8 } from './base.ts';
import { OpenFactorError } from './errors.ts';
import { exportPrivateKey, generateKeyPair, importPrivateKey, sign, type Algorithm } from './keys.ts';
import { EventStreamParser, parseEventStream } from './sse.ts';
import { answerSignatureString, bodyHash, deviceRequestSignatureString, signedString, transactionHash } from './signing.ts';
import { isJwk, MemoryStorage, type DeviceStorage, type StoredDevice } from './storage.ts';
import { totp } from './totp.ts';
import type {
  Account,
  AccountRecovery,
  AnswerResult,
  ApprovalUpdate,
  DeviceApproval,
  DeviceInfo,
  DeviceRequest,
  DeviceStatus,
  PersonDevice,
  RegistrationAnswer,
  VerifyChallenge,
  VerifyChallengeUpdate,
  VerifyFactor,
  WaitingRecovery,
  WebPushSubscription,
} from './types.ts';

/** `fetch` or anything with its shape (a test double, a fetch with a custom agent…). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Default: the global `fetch`. */
  fetch?: FetchLike;
}

export interface RegisterOptions extends ClientOptions {
  /** Default ES256. */
  algorithm?: Algorithm;
  /** Sent as `os_type`. Default `web` in a browser, `node` elsewhere. */
  osType?: string;
  /** Sent as `name`. Default `OpenFactor device`. */
  name?: string;
  /** Web Push subscription to receive approval requests while not listening. */
  pushSubscription?: WebPushSubscription | null;
  /** Default: a new MemoryStorage. */
  storage?: DeviceStorage;
}

export interface PhoneRegistrationRequest {
  countryCode: string | number;
  phoneNumber: string;
  via: 'sms' | 'voice';
  locale?: string;
}

export interface ListenOptions {
  /** Called with `approval_request_updated` events (answered elsewhere, expired). */
  onUpdate?(update: ApprovalUpdate): void;
  /** Called once the stream is open (OpenFactor has accepted the device's signature). */
  onOpen?(): void;
  /** Called when a new device of this person waits for an approval ({@link OpenFactorDevice.deviceRequests} has its key). */
  onDeviceRequest?(request: Omit<DeviceRequest, 'public_key'>): void;
  /** Called when an account recovery of this person starts: cancel it if the person did not ask for it. */
  onAccountRecovery?(recovery: AccountRecovery): void;
  /** Called with a Twilio Verify push challenge for a factor this device enrolled ({@link OpenFactorDevice.answerVerifyChallenge}). */
  onVerifyChallenge?(challenge: VerifyChallenge): void;
  /** Called when such a challenge is answered (here or elsewhere) or expires. */
  onVerifyChallengeUpdate?(update: VerifyChallengeUpdate): void;
  /** Aborting ends the stream; `listen` then resolves. */
  signal?: AbortSignal;
}

interface ApiAnswer {
  message: string;
  success: boolean;
}

const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

function normalizeBaseUrl(baseUrl: string): string {
  const url = new URL(baseUrl); // throws TypeError on a malformed URL
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`baseUrl must be http(s), got ${baseUrl}`);
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function defaultOsType(): string {
  return typeof (globalThis as { document?: unknown }).document !== 'undefined' ? 'web' : 'node';
}

/** A Verify API answer: the JSON body, or an OpenFactorError with Twilio's code and message. */
async function readVerify<T>(res: Response): Promise<T> {
  const body = (await res.json().catch(() => undefined)) as ({ code?: number; message?: string } & T) | undefined;
  if (!res.ok || !body || typeof body !== 'object') throw new OpenFactorError(res.status, body?.message ?? `HTTP ${res.status}`, body?.code === undefined ? undefined : String(body.code), undefined);
  return body;
}

/** The parsed JSON body; a non-2xx status, or a 2xx without a JSON object, throws OpenFactorError. */
async function readAnswer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  const obj = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
  if (!res.ok) {
    const message = typeof obj?.message === 'string' ? obj.message : `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    const code = obj?.error_code === undefined || obj.error_code === null ? undefined : String(obj.error_code);
    throw new OpenFactorError(res.status, message, code, body);
  }
  if (!obj) throw new OpenFactorError(res.status, 'OpenFactor answered without a JSON object', undefined, body);
  return obj as T;
}

async function postJson<T>(fetchFn: FetchLike, url: string, body: unknown): Promise<T> {
  const res = await fetchFn(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: utf8(JSON.stringify(body)),
  });
  return readAnswer<T>(res);
}

function pushSubscriptionJson(sub: WebPushSubscription | { toJSON(): unknown } | null | undefined): WebPushSubscription | null {
  if (!sub) return null;
  const json = ('toJSON' in sub && typeof sub.toJSON === 'function' ? sub.toJSON() : sub) as Partial<WebPushSubscription>;
  if (typeof json.endpoint !== 'string' || typeof json.keys?.p256dh !== 'string' || typeof json.keys?.auth !== 'string') {
    throw new TypeError('A push subscription needs endpoint, keys.p256dh and keys.auth');
  }
  return { endpoint: json.endpoint, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } };
}

export class OpenFactorDevice {
  #state: StoredDevice;
  #key: CryptoKey;
  #storage: DeviceStorage;
  #fetch: FetchLike;

  private constructor(state: StoredDevice, key: CryptoKey, storage: DeviceStorage, fetchFn: FetchLike) {
    this.#state = state;
    this.#key = key;
    this.#storage = storage;
    this.#fetch = fetchFn;
  }

  // ---- registration ------------------------------------------------------------------------

  /** Registers with a `registration_token` from the customer's backend (SDK flow). */
  static async registerWithToken(baseUrl: string, registrationToken: string, opts: RegisterOptions = {}): Promise<OpenFactorDevice> {
    return OpenFactorDevice.#register(baseUrl, '/device/v1/registrations', opts, (key) => ({
      registration_token: registrationToken,
      ...key,
      push_subscription: pushSubscriptionJson(opts.pushSubscription),
    }));
  }

  /** Step 1 of the authenticator flow: OpenFactor texts or calls a 6-digit code to the phone. */
  static async startPhoneRegistration(
    baseUrl: string,
    req: PhoneRegistrationRequest,
    opts: ClientOptions = {},
  ): Promise<{ registrationId: string; secondsToExpire: number }> {
    const body: Record<string, string> = { country_code: String(req.countryCode), phone_number: req.phoneNumber, via: req.via };
    if (req.locale !== undefined) body.locale = req.locale;
    const answer = await postJson<{ registration_id: string; seconds_to_expire: number }>(
      opts.fetch ?? defaultFetch,
      `${normalizeBaseUrl(baseUrl)}/device/v1/phone_registrations`,
      body,
    );
    return { registrationId: answer.registration_id, secondsToExpire: answer.seconds_to_expire };
  }

  /** Step 2: the code the user received; registers the device with every synced account. */
  static async confirmPhoneRegistration(baseUrl: string, registrationId: string, code: string, opts: RegisterOptions = {}): Promise<OpenFactorDevice> {
    const device = await OpenFactorDevice.#register(
      baseUrl,
      `/device/v1/phone_registrations/${encodeURIComponent(registrationId)}/confirm`,
      opts,
      (key) => ({ code, ...key }),
    );
    if (opts.pushSubscription) await device.setPushSubscription(opts.pushSubscription);
    return device;
  }

  /**
   * Account recovery without any device, step 1: a code goes to the phone and another to the
   * email address on file (if the number has an account; the answer is the same either way).
   */
  static async startAccountRecovery(
    baseUrl: string,
    req: PhoneRegistrationRequest & { newNumber?: { countryCode: string | number; phoneNumber: string } },
    opts: ClientOptions = {},
  ): Promise<{ id: string; secondsToExpire: number }> {
    const body: Record<string, string> = { country_code: String(req.countryCode), phone_number: req.phoneNumber, via: req.via };
    if (req.locale !== undefined) body.locale = req.locale;
    // A phone change without any device: the new number gets a code of its own, and the wait is longer.
    if (req.newNumber) Object.assign(body, { new_country_code: String(req.newNumber.countryCode), new_phone_number: req.newNumber.phoneNumber });
    const answer = await postJson<{ account_recovery: { id: string; seconds_to_expire: number } }>(opts.fetch ?? defaultFetch, `${normalizeBaseUrl(baseUrl)}/device/v1/account_recoveries`, body);
    return { id: answer.account_recovery.id, secondsToExpire: answer.account_recovery.seconds_to_expire };
  }

  /**
   * Step 2: both codes register this device with `status === 'pending_recovery'`; it gets the
   * accounts when the waiting period ends (see {@link refreshStatus}), unless an existing device
   * cancels the recovery meanwhile.
   */
  static async confirmAccountRecovery(
    baseUrl: string,
    id: string,
    codes: { phoneCode: string; emailCode: string; newPhoneCode?: string },
    opts: RegisterOptions = {},
  ): Promise<OpenFactorDevice> {
    return OpenFactorDevice.#register(baseUrl, `/device/v1/account_recoveries/${encodeURIComponent(id)}/confirm`, opts, (key) => ({
      phone_code: codes.phoneCode,
      email_code: codes.emailCode,
      ...(codes.newPhoneCode === undefined ? {} : { new_phone_code: codes.newPhoneCode }),
      ...key,
    }));
  }

  static async #register(
    baseUrl: string,
    path: string,
    opts: RegisterOptions,
    makeBody: (key: { public_key: string; algorithm: Algorithm; os_type: string; name: string }) => object,
  ): Promise<OpenFactorDevice> {
    const base = normalizeBaseUrl(baseUrl);
    const storage = opts.storage ?? new MemoryStorage();
    const fetchFn = opts.fetch ?? defaultFetch;
    const algorithm = opts.algorithm ?? 'ES256';
    // A storage that keeps CryptoKeys gets a key that can never be exported; otherwise it is saved as JWK.
    const keepKey = storage.keepsCryptoKeys === true;
    const pair = await generateKeyPair(algorithm, !keepKey);
    const body = makeBody({
      public_key: pair.publicKey,
      algorithm,
      os_type: opts.osType ?? defaultOsType(),
      name: opts.name ?? 'OpenFactor device',
    });
    const answer = await postJson<RegistrationAnswer>(fetchFn, base + path, body);
    let key = pair.privateKey;
    let stored: CryptoKey | JsonWebKey = key;
    if (!keepKey) {
      stored = await exportPrivateKey(key);
      key = await importPrivateKey(stored, algorithm); // keep only a non-extractable copy in memory
    }
    const state: StoredDevice = {
      baseUrl: base,
      deviceId: answer.device.id,
      algorithm,
      privateKey: stored,
      publicKey: pair.publicKey,
      name: answer.device.name ?? null,
      osType: answer.device.os_type ?? null,
      registrationMethod: answer.device.registration_method,
      accounts: answer.accounts ?? [],
      status: answer.device.status ?? 'active',
      ...(answer.account_recovery ? { recovery: answer.account_recovery } : {}),
    };
    await storage.save(state);
    return new OpenFactorDevice(state, key, storage, fetchFn);
  }

  /** The device saved in `storage`, or undefined when there is none. */
  static async restore(storage: DeviceStorage, opts: ClientOptions = {}): Promise<OpenFactorDevice | undefined> {
    const state = await storage.load();
    if (!state) return undefined;
    const key = isJwk(state.privateKey) ? await importPrivateKey(state.privateKey, state.algorithm) : state.privateKey;
    return new OpenFactorDevice(state, key, storage, opts.fetch ?? defaultFetch);
  }

  /** OpenFactor's VAPID public key (base64url) for `PushManager.subscribe`. Not signed. */
  static async vapidPublicKey(baseUrl: string, opts: ClientOptions = {}): Promise<string> {
    const res = await (opts.fetch ?? defaultFetch)(`${normalizeBaseUrl(baseUrl)}/device/v1/push/vapid_public_key`, {
      method: 'GET',
      headers: { Accept: 'application/json' },
    });
    return (await readAnswer<{ public_key: string }>(res)).public_key;
  }

  // ---- state -------------------------------------------------------------------------------

  get id(): number {
    return this.#state.deviceId;
  }
  get algorithm(): Algorithm {
    return this.#state.algorithm;
  }
  /** base64url SPKI of the device key. */
  get publicKey(): string {
    return this.#state.publicKey;
  }
  /** The name this device gave itself (at registration or with {@link rename}). */
  get name(): string | null {
    return this.#state.name;
  }
  get baseUrl(): string {
    return this.#state.baseUrl;
  }
  /**
   * `pending_approval` after registering by phone while the person had other devices: until one
   * of them approves it (see {@link refreshStatus}), the device holds no accounts.
   */
  get status(): DeviceStatus {
    return this.#state.status ?? 'active';
  }

  /** While `status === 'pending_recovery'`: the recovery this device waits for, and when it ends. */
  get accountRecovery(): WaitingRecovery | undefined {
    return this.#state.recovery ? { ...this.#state.recovery } : undefined;
  }

  /** Copies of the accounts, seeds included. */
  get accounts(): Account[] {
    return this.#state.accounts.map((a) => ({ ...a }));
  }

  /**
   * The current TOTP code of an account, computed offline. `appId` picks the account when the
   * same `authyId` is on this device for several applications.
   */
  async code(authyId: number, appId?: number, at: number = Date.now()): Promise<string> {
    const matches = this.#state.accounts.filter((a) => a.authy_id === authyId && (appId === undefined || a.app_id === appId));
    if (matches.length === 0) throw new RangeError(`No account for authy_id ${authyId}${appId === undefined ? '' : ` and app_id ${appId}`} on this device`);
    if (matches.length > 1) throw new RangeError(`authy_id ${authyId} is on this device for several applications: pass appId`);
    const a = matches[0]!;
    return totp(base32Decode(a.seed), at, { digits: a.digits, period: a.period, algorithm: a.algorithm });
  }

  // ---- signed calls ------------------------------------------------------------------------

  /** Fetches the accounts (a phone-registered device also gets users added since) and saves them. */
  async refreshAccounts(): Promise<Account[]> {
    const answer = await this.#call<{ accounts: Account[] } & ApiAnswer>('GET', '/device/v1/accounts');
    this.#state = { ...this.#state, accounts: answer.accounts };
    await this.#storage.save(this.#state);
    return this.accounts;
  }

  /**
   * The pending approval requests of every account. With `waitSeconds` (at most 30) and none
   * pending, OpenFactor holds the answer until one arrives (long-poll).
   */
  async pendingApprovals(waitSeconds = 0, opts: { signal?: AbortSignal } = {}): Promise<DeviceApproval[]> {
    if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 30) throw new RangeError(`waitSeconds must be an integer 0..30, got ${waitSeconds}`);
    const path = waitSeconds > 0 ? `/device/v1/approval_requests?wait=${waitSeconds}` : '/device/v1/approval_requests';
    const answer = await this.#call<{ approval_requests: DeviceApproval[] } & ApiAnswer>('GET', path, undefined, opts.signal);
    return answer.approval_requests;
  }

  /**
   * Streams `GET /device/v1/events`: `onApproval` for each new approval request, `onUpdate` when
   * one is answered or expires. Resolves when `signal` is aborted or the server ends the stream,
   * with `retryMs` when the server said how soon to reconnect (it does when it shuts down);
   * rejects on an error answer, a network error, or an exception thrown by a callback.
   */
  async listen(onApproval: (approval: DeviceApproval) => void, opts: ListenOptions = {}): Promise<{ retryMs?: number }> {
    const { signal } = opts;
    if (signal?.aborted) return {};
    const parser = new EventStreamParser();
    try {
      const res = await this.#signedFetch('GET', '/device/v1/events', undefined, signal, 'text/event-stream');
      if (!res.ok) await readAnswer(res); // throws OpenFactorError
      if (!res.body) throw new OpenFactorError(res.status, 'The event stream has no body', undefined, undefined);
      opts.onOpen?.();
      for await (const ev of parseEventStream(res.body, signal, parser)) {
        if (ev.event === 'approval_request') onApproval(JSON.parse(ev.data) as DeviceApproval);
        else if (ev.event === 'approval_request_updated') opts.onUpdate?.(JSON.parse(ev.data) as ApprovalUpdate);
        else if (ev.event === 'device_request') opts.onDeviceRequest?.(JSON.parse(ev.data) as Omit<DeviceRequest, 'public_key'>);
        else if (ev.event === 'account_recovery') opts.onAccountRecovery?.(JSON.parse(ev.data) as AccountRecovery);
        else if (ev.event === 'verify_challenge') opts.onVerifyChallenge?.(JSON.parse(ev.data) as VerifyChallenge);
        else if (ev.event === 'verify_challenge_updated') opts.onVerifyChallengeUpdate?.(JSON.parse(ev.data) as VerifyChallengeUpdate);
      }
      return parser.retryMs === undefined ? {} : { retryMs: parser.retryMs };
    } catch (e) {
      if (signal?.aborted && !(e instanceof OpenFactorError)) return {};
      throw e;
    }
  }

  /** Approves; with number matching, `number` is the one the user picked among `number_choices`. */
  approve(approval: DeviceApproval, opts: { number?: number } = {}): Promise<AnswerResult> {
    if (approval.number_choices?.length && opts.number === undefined) {
      // A wrong or missing number denies the request server-side: refuse before sending.
      return Promise.reject(new TypeError('This request uses number matching: pass the number the user picked'));
    }
    return this.#answer(approval, 'approved', opts.number);
  }

  deny(approval: DeviceApproval): Promise<AnswerResult> {
    return this.#answer(approval, 'denied', undefined);
  }

  async #answer(approval: DeviceApproval, status: 'approved' | 'denied', number: number | undefined): Promise<AnswerResult> {
    const hash = await transactionHash(approval);
    const signature = await sign(this.#key, this.#state.algorithm, answerSignatureString(approval.uuid, status, hash));
    const body: { status: string; signature: string; number?: number } = { status, signature };
    if (number !== undefined) body.number = number;
    return this.#call<AnswerResult>('POST', `/device/v1/approval_requests/${encodeURIComponent(approval.uuid)}`, body);
  }

  /**
   * Enrols a Twilio Verify push factor with an access token the application's backend made
   * (`POST /v2/Services/{VA}/AccessTokens`); needs an ES256 device. Its challenges then come to
   * {@link listen}'s `onVerifyChallenge`.
   */
  async enrolVerifyFactor(accessToken: string, opts: { friendlyName?: string } = {}): Promise<VerifyFactor> {
    const body: { access_token: string; friendly_name?: string } = { access_token: accessToken };
    if (opts.friendlyName !== undefined) body.friendly_name = opts.friendlyName;
    return (await this.#call<{ verify_factor: VerifyFactor }>('POST', '/device/v1/verify_factors', body)).verify_factor;
  }

  /**
   * Answers a Verify push challenge the way Twilio's device SDK does: fetches it (the answer names
   * the fields to sign), signs them and the status as an ES256 JWT with this device's key, and
   * posts that as `AuthPayload`, authenticated by a JWT with the factor's `verify_push` grant.
   */
  async answerVerifyChallenge(challenge: Pick<VerifyChallenge, 'sid' | 'factor_sid' | 'identity' | 'service_sid' | 'account_sid'>, status: 'approved' | 'denied'): Promise<VerifyChallenge> {
    if (this.#state.algorithm !== 'ES256') throw new TypeError('Verify push factors need an ES256 device key');
    const sid = (prefix: string, v: string) => new RegExp(`^${prefix}[0-9a-f]{32}$`).test(v);
    if (!sid('YC', challenge.sid) || !sid('YF', challenge.factor_sid) || !sid('VA', challenge.service_sid) || !sid('AC', challenge.account_sid) || !/^[A-Za-z0-9-]{1,64}$/.test(challenge.identity)) {
      throw new TypeError('Not a Verify challenge of this server');
    }
    // The address is this device's server, never one an event names: the key signs only there.
    const url = `${this.#state.baseUrl}/v2/Services/${challenge.service_sid}/Entities/${challenge.identity}/Challenges/${challenge.sid}`;
    const now = Math.floor(Date.now() / 1000);
    const grant = { grants: { verify_push: { factor_sid: challenge.factor_sid, entity_sid: challenge.identity, service_sid: challenge.service_sid } }, sub: challenge.account_sid, nbf: now - 60, exp: now + 300 };
    const authorization = `Basic ${btoa(`token:${await this.#jwt(grant)}`)}`; // a JWT is ASCII
    const got = await this.#fetch(url, { method: 'GET', headers: { Accept: 'application/json', Authorization: authorization } });
    const current = await readVerify<VerifyChallenge>(got);
    if (current.sid !== challenge.sid || current.factor_sid !== challenge.factor_sid || current.service_sid !== challenge.service_sid) {
      throw new OpenFactorError(502, 'The server answered with another challenge than the one asked for', undefined, undefined);
    }
    const payload: Record<string, unknown> = {};
    for (const f of (got.headers.get('twilio-verify-signature-fields') ?? '').split(',').filter(Boolean)) payload[f] = current[f];
    payload.status = status;
    const form = new URLSearchParams({ AuthPayload: await this.#jwt(payload) });
    const res = await this.#fetch(url, { method: 'POST', headers: { Accept: 'application/json', Authorization: authorization, 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    return readVerify<VerifyChallenge>(res);
  }

  /** An ES256 JWS of `claims`, signed by this device's key (WebCrypto's r‖s is JWS's form). */
  async #jwt(claims: Record<string, unknown>): Promise<string> {
    const input = `${base64url.encode(utf8(JSON.stringify({ alg: 'ES256', typ: 'JWT' })))}.${base64url.encode(utf8(JSON.stringify(claims)))}`;
    return `${input}.${await sign(this.#key, 'ES256', input)}`;
  }

  /**
   * Names this device ("Anna's laptop"): 1 to 64 characters, no control characters, or
   * OpenFactor refuses it (OpenFactorError, 400). Every list of the person's devices shows it.
   */
  async rename(name: string): Promise<string> {
    const answer = await this.#call<{ device: DeviceInfo } & ApiAnswer>('PUT', '/device/v1/device', { name });
    this.#state = { ...this.#state, name: answer.device.name };
    await this.#storage.save(this.#state);
    return answer.device.name ?? name;
  }

  /** Asks OpenFactor how this device stands; once approved, fetches its accounts. */
  async refreshStatus(): Promise<DeviceStatus> {
    const answer = await this.#call<{ device: DeviceInfo; account_recovery?: WaitingRecovery } & ApiAnswer>('GET', '/device/v1/device');
    const status = answer.device.status ?? 'active';
    const was = this.status;
    this.#state = { ...this.#state, status, recovery: status === 'pending_recovery' ? answer.account_recovery : undefined };
    await this.#storage.save(this.#state);
    if (status === 'active' && was !== 'active') await this.refreshAccounts();
    return status;
  }

  // ---- the person's other devices (multi-device) ------------------------------------------

  /** Every device of this person (this one included), and whether new ones may join. */
  async devices(): Promise<{ devices: PersonDevice[]; allowNewDevices: boolean }> {
    const answer = await this.#call<{ devices: PersonDevice[]; allow_new_devices: boolean } & ApiAnswer>('GET', '/device/v1/devices');
    return { devices: answer.devices, allowNewDevices: answer.allow_new_devices };
  }

  /** Removes another device of this person (a lost phone); it stops working at once. */
  async removeDevice(id: number): Promise<void> {
    await this.#call<ApiAnswer>('DELETE', `/device/v1/devices/${encodeURIComponent(String(id))}`);
  }

  /** Off: registering another device by phone is refused (account recovery remains). */
  async setAllowNewDevices(allow: boolean): Promise<void> {
    await this.#call<ApiAnswer>('PUT', '/device/v1/settings', { allow_new_devices: allow });
  }

  /** New devices of this person waiting for an approval. */
  async deviceRequests(): Promise<DeviceRequest[]> {
    return (await this.#call<{ device_requests: DeviceRequest[] } & ApiAnswer>('GET', '/device/v1/device_requests')).device_requests;
  }

  approveDevice(request: DeviceRequest): Promise<ApiAnswer> {
    return this.#answerDevice(request, 'approved');
  }

  denyDevice(request: DeviceRequest): Promise<ApiAnswer> {
    return this.#answerDevice(request, 'denied');
  }

  async #answerDevice(request: DeviceRequest, status: 'approved' | 'denied'): Promise<ApiAnswer> {
    const signature = await sign(this.#key, this.#state.algorithm, await deviceRequestSignatureString(request.id, status, request.public_key));
    return this.#call<ApiAnswer>('POST', `/device/v1/device_requests/${encodeURIComponent(String(request.id))}`, { status, signature });
  }

  /** Account recoveries of this person now waiting (an existing device may cancel one it did not start). */
  async accountRecoveries(): Promise<AccountRecovery[]> {
    return (await this.#call<{ account_recoveries: AccountRecovery[] } & ApiAnswer>('GET', '/device/v1/account_recoveries')).account_recoveries;
  }

  async cancelAccountRecovery(id: string): Promise<void> {
    await this.#call<ApiAnswer>('DELETE', `/device/v1/account_recoveries/${encodeURIComponent(id)}`);
  }

  // ---- phone change (a device in hand) ----------------------------------------------------

  /** Asks to move to a new number: a code goes to it, another to the email address on file. */
  async requestPhoneChange(req: { countryCode: string | number; phoneNumber: string; via: 'sms' | 'voice'; locale?: string }): Promise<{ id: string; secondsToExpire: number }> {
    const body: Record<string, string> = { country_code: String(req.countryCode), phone_number: req.phoneNumber, via: req.via };
    if (req.locale !== undefined) body.locale = req.locale;
    const answer = await this.#call<{ phone_change: { id: string; seconds_to_expire: number } } & ApiAnswer>('POST', '/device/v1/phone_changes', body);
    return { id: answer.phone_change.id, secondsToExpire: answer.phone_change.seconds_to_expire };
  }

  /** Both codes; then every account of the old number moves to the new one (same Authy IDs). */
  async confirmPhoneChange(id: string, codes: { phoneCode: string; emailCode: string }): Promise<void> {
    await this.#call<ApiAnswer>('POST', `/device/v1/phone_changes/${encodeURIComponent(id)}/confirm`, { phone_code: codes.phoneCode, email_code: codes.emailCode });
  }

  async cancelPhoneChange(id: string): Promise<void> {
    await this.#call<ApiAnswer>('DELETE', `/device/v1/phone_changes/${encodeURIComponent(id)}`);
  }

  /**
   * A new set of ten single-use recovery codes for one account, where its application allows it
   * (`account.recovery_codes`); the old set stops working. Show them once: they are not kept.
   */
  async newRecoveryCodes(account: Pick<Account, 'authy_id' | 'app_id'>): Promise<string[]> {
    const body = { app_id: account.app_id, authy_id: account.authy_id };
    return (await this.#call<{ recovery_codes: string[] } & ApiAnswer>('POST', '/device/v1/recovery_codes', body)).recovery_codes;
  }

  /** Sets (or with null, removes) the Web Push subscription; `PushSubscription` objects are accepted. */
  async setPushSubscription(sub: WebPushSubscription | { toJSON(): unknown } | null): Promise<void> {
    await this.#call<ApiAnswer>('PUT', '/device/v1/push_subscription', { push_subscription: pushSubscriptionJson(sub) });
  }

  /** Unregisters the device (it stops working) and clears the storage. */
  async unregister(): Promise<void> {
    await this.#call<ApiAnswer>('DELETE', '/device/v1/device');
    await this.#storage.clear();
  }

  async #call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return readAnswer<T>(await this.#signedFetch(method, path, body, signal, 'application/json'));
  }

  /** One signed request: the JSON body is serialized once; its bytes are both hashed and sent. */
  async #signedFetch(method: string, path: string, body: unknown, signal: AbortSignal | undefined, accept: string): Promise<Response> {
    const url = new URL(this.#state.baseUrl + path);
    const bytes = body === undefined ? undefined : utf8(JSON.stringify(body));
    const timestamp = Math.floor(Date.now() / 1000);
    const nonce = randomNonce();
    const toSign = signedString({ timestamp, nonce, method, path: url.pathname + url.search, bodyHash: await bodyHash(bytes ?? '') });
    const headers: Record<string, string> = {
      Accept: accept,
      'X-OpenFactor-Device': String(this.#state.deviceId),
      'X-OpenFactor-Timestamp': String(timestamp),
      'X-OpenFactor-Nonce': nonce,
      'X-OpenFactor-Signature': await sign(this.#key, this.#state.algorithm, toSign),
    };
    if (bytes) headers['Content-Type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (bytes) init.body = bytes;
    if (signal) init.signal = signal;
    return this.#fetch(url.href, init);
  }
}
