// @openfactor/device-sdk: an OpenFactor authenticator device (docs/device-api.md) for Node 20+
// and browsers, over standard web APIs only (WebCrypto, fetch, TextEncoder, ReadableStream).
export { OpenFactorDevice } from './client.ts';
export type { ClientOptions, FetchLike, ListenOptions, PhoneRegistrationRequest, RegisterOptions } from './client.ts';
export { OpenFactorError } from './errors.ts';
export { IndexedDbStorage, MemoryStorage, JsonStorage } from './storage.ts';
export type { DeviceStorage, StoredDevice, TextStore } from './storage.ts';
export type {
  Account,
  AccountRecovery,
  AnswerResult,
  ApprovalLogo,
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
export { ALGORITHMS, generateKeyPair, sign, verify } from './keys.ts';
export type { Algorithm, DeviceKeyPair } from './keys.ts';
export { hotp, totp } from './totp.ts';
export type { TotpAlgorithm, TotpOptions } from './totp.ts';
export { answerSignatureString, bodyHash, canonicalJson, deviceRequestSignatureString, signedString, transactionHash } from './signing.ts';
export type { SignedStringParts, TransactionContent } from './signing.ts';
export { base32Decode, base32Encode, base64url } from './base.ts';
export { EventStreamParser, parseEventStream } from './sse.ts';
export type { ServerSentEvent } from './sse.ts';
