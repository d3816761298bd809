// Unit tests of the device SDK (sdk/device): TOTP against the RFCs and the server's engine,
// base32/base64url, canonical JSON and the transaction hash, request/answer signatures checked
// with node:crypto, the text/event-stream parser, and the client's wire behaviour through a fake
// fetch (no server needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RFC6238_ROWS, RFC6238_SEEDS } from '../support/rfc6238.ts';
import { createHash, createPublicKey, randomBytes, randomInt, verify as nodeVerify } from 'node:crypto';
import { fromBase32, toBase32, totp as serverTotp, type OtpAlgorithm } from '../../src/core/otp.ts';
import {
  answerSignatureString,
  base32Decode,
  base32Encode,
  base64url,
  bodyHash,
  canonicalJson,
  EventStreamParser,
  generateKeyPair,
  JsonStorage,
  MemoryStorage,
  OpenFactorDevice,
  OpenFactorError,
  parseEventStream,
  sign,
  signedString,
  totp,
  transactionHash,
  verify,
  type Account,
  type Algorithm,
  type DeviceApproval,
  type ServerSentEvent,
  type TotpAlgorithm,
} from '../../sdk/device/src/index.ts';

const ALGS: [TotpAlgorithm, OtpAlgorithm][] = [['SHA1', 'sha1'], ['SHA256', 'sha256'], ['SHA512', 'sha512']];

/** node:crypto check of an SDK signature with the SDK's SPKI public key. */
function nodeVerifies(algorithm: Algorithm, publicKey: string, data: string, signature: string): boolean {
  const key = createPublicKey({ key: Buffer.from(publicKey, 'base64url'), format: 'der', type: 'spki' });
  const sig = Buffer.from(signature, 'base64url');
  return algorithm === 'ES256'
    ? nodeVerify('sha256', Buffer.from(data, 'utf8'), { key, dsaEncoding: 'ieee-p1363' }, sig)
    : nodeVerify(null, Buffer.from(data, 'utf8'), key, sig);
}

// ---- TOTP -------------------------------------------------------------------------------------

test('totp: RFC 6238 Appendix B, SHA1/SHA256/SHA512, 8 digits, all 18 rows', async () => {
  const seeds = Object.fromEntries(ALGS.map(([sdk, server]) => [sdk, new TextEncoder().encode(RFC6238_SEEDS[server])])) as Record<TotpAlgorithm, Uint8Array>;
  const rows = RFC6238_ROWS;
  for (const [seconds, ...codes] of rows) {
    for (const [i, [algorithm]] of ALGS.entries()) {
      assert.equal(await totp(seeds[algorithm], seconds * 1000, { digits: 8, algorithm }), codes[i], `${algorithm} at ${seconds}`);
    }
  }
  // Defaults: SHA1, 6 digits, 30 s: the last 6 digits of the SHA1 row.
  assert.equal(await totp(seeds.SHA1, 59_000), '287082');
});

test('totp: equals the server engine (src/core/otp.ts) on random seeds, times, digits, periods, algorithms', async () => {
  for (let i = 0; i < 300; i++) {
    const seed = randomBytes(randomInt(10, 65));
    const seconds = [randomInt(0, 2_000_000_000), randomInt(2 ** 31, 2 ** 33), randomInt(2 ** 37, 2 ** 38)][i % 3]!;
    const timeMs = seconds * 1000 + randomInt(1000);
    const digits = randomInt(6, 9);
    const period = [30, 60, randomInt(1, 300)][i % 3]!;
    const [sdkAlg, serverAlg] = ALGS[i % 3]!;
    const want = serverTotp(seed, timeMs, { digits, algorithm: serverAlg, stepSeconds: period });
    const got = await totp(seed, timeMs, { digits, period, algorithm: sdkAlg });
    assert.equal(got, want, `case ${i}: ${sdkAlg} digits=${digits} period=${period} t=${timeMs} seed=${seed.toString('hex')}`);
  }
});

test('totp: bad options reject', async () => {
  const seed = new Uint8Array(20);
  await assert.rejects(totp(seed, 0, { algorithm: 'MD5' }), TypeError);
  await assert.rejects(totp(seed, 0, { digits: 0 }), RangeError);
  await assert.rejects(totp(seed, 0, { digits: 6.5 }), RangeError);
  await assert.rejects(totp(seed, 0, { period: 0 }), RangeError);
  await assert.rejects(totp(seed, -31_000), RangeError);
  // Tolerated spellings of the algorithm.
  assert.equal(await totp(seed, 1e12, { algorithm: 'sha-256' }), await totp(seed, 1e12, { algorithm: 'SHA256' }));
});

// ---- encodings --------------------------------------------------------------------------------

test('base32: RFC 4648 §10 vectors (unpadded), round trip, server compatibility, bad input', () => {
  const vectors: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
  for (const [plain, encoded] of vectors) {
    assert.equal(base32Encode(new TextEncoder().encode(plain)), encoded, `encode ${plain}`);
    assert.equal(new TextDecoder().decode(base32Decode(encoded)), plain, `decode ${encoded}`);
  }
  // Padding, lower case, spaces and dashes as users type seeds.
  assert.equal(new TextDecoder().decode(base32Decode('mzxw 6ytb-oi======')), 'foobar');
  for (let i = 0; i < 200; i++) {
    const bytes = randomBytes(randomInt(0, 70));
    const enc = base32Encode(bytes);
    assert.deepEqual(Buffer.from(base32Decode(enc)), bytes, `round trip ${bytes.toString('hex')}`);
    if (bytes.length > 0) {
      assert.equal(enc, toBase32(bytes).replace(/=+$/, ''), 'same text as the server');
      assert.deepEqual(Buffer.from(base32Decode(toBase32(bytes))), fromBase32(enc), 'each decodes the other');
    }
  }
  assert.throws(() => base32Decode('MZXW1'), TypeError);
  assert.throws(() => base32Decode('MZ*W6'), TypeError);
});

test('base64url: same as Buffer base64url (no padding), round trip, bad input', () => {
  for (let i = 0; i < 200; i++) {
    const bytes = randomBytes(randomInt(0, 100));
    const enc = base64url.encode(bytes);
    assert.equal(enc, bytes.toString('base64url'));
    assert.ok(!enc.includes('='));
    assert.deepEqual(Buffer.from(base64url.decode(enc)), bytes);
  }
  assert.deepEqual(Buffer.from(base64url.decode('Zm9vYg==')), Buffer.from('foob'));
  assert.throws(() => base64url.decode('ab+c'), TypeError);
  assert.throws(() => base64url.decode('abcde'), TypeError);
});

// ---- canonical JSON and hashes -----------------------------------------------------------------

test('canonicalJson: keys sorted at every depth by UTF-16 code unit, arrays keep order, no spaces', () => {
  const value = { z: 1, a: { y: [3, { b: 2, a: 1 }, 'x'], b: null, a: true }, M: 'é', m: -0.5 };
  assert.equal(canonicalJson(value), '{"M":"é","a":{"a":true,"b":null,"y":[3,{"a":1,"b":2},"x"]},"m":-0.5,"z":1}');
  // Code units, not code points: U+1F600 (surrogates D83D DE00) sorts before U+FF61.
  assert.equal(canonicalJson({ '\uff61': 1, '\u{1f600}': 2, ä: 3 }), '{"ä":3,"\u{1f600}":2,"\uff61":1}');
  // JSON.stringify semantics for the rest.
  assert.equal(canonicalJson({ u: undefined, f: () => 1, arr: [undefined, NaN], s: 'a"b\n' }), '{"arr":[null,null],"s":"a\\"b\\n"}');
  assert.equal(canonicalJson([]), '[]');
  assert.equal(canonicalJson({}), '{}');
  assert.equal(canonicalJson('x'), '"x"');
  assert.throws(() => canonicalJson(undefined), TypeError);
  // Key order of the input does not matter.
  assert.equal(canonicalJson({ b: { d: 1, c: 2 }, a: 0 }), canonicalJson({ a: 0, b: { c: 2, d: 1 } }));
});

test('transactionHash: base64url(SHA-256(canonical {message, details, logos})) computed independently', async () => {
  const approval = {
    uuid: 'f0c1e1a2-0000-4000-8000-000000000001',
    status: 'pending',
    message: 'Login requested',
    details: { Location: 'Zürich', Amount: '10 BTC', nested: { z: [2, 1], a: 'x' } },
    logos: [{ url: 'https://example.com/l.png', res: 'default' }],
  };
  const canonical = '{"details":{"Amount":"10 BTC","Location":"Zürich","nested":{"a":"x","z":[2,1]}},"logos":[{"res":"default","url":"https://example.com/l.png"}],"message":"Login requested"}';
  const expected = createHash('sha256').update(canonical, 'utf8').digest('base64url');
  assert.equal(await transactionHash(approval), expected);
  // Only message, details and logos count.
  const answered = { ...approval, uuid: 'other', status: 'approved' };
  assert.equal(await transactionHash(answered), expected);
  assert.notEqual(await transactionHash({ ...approval, details: { ...approval.details, Amount: '11 BTC' } }), expected);
  assert.equal(
    await transactionHash({ message: 'm', details: {}, logos: [] }),
    createHash('sha256').update('{"details":{},"logos":[],"message":"m"}').digest('base64url'),
  );
});

test('bodyHash and signedString follow the contract', async () => {
  assert.equal(await bodyHash(), createHash('sha256').update('').digest('base64url'));
  assert.equal(await bodyHash('{"a":"é"}'), createHash('sha256').update('{"a":"é"}', 'utf8').digest('base64url'));
  assert.equal(
    signedString({ timestamp: 1700000000, nonce: 'abcdefghijklmnopqrstuv', method: 'get', path: '/device/v1/approval_requests?wait=20', bodyHash: 'H' }),
    '1700000000\nabcdefghijklmnopqrstuv\nGET\n/device/v1/approval_requests?wait=20\nH',
  );
  assert.equal(answerSignatureString('u-1', 'denied', 'HASH'), 'u-1|denied|HASH');
});

// ---- signatures -------------------------------------------------------------------------------

for (const algorithm of ['ES256', 'Ed25519'] as const) {
  test(`${algorithm}: SDK signatures verify with node:crypto and the SPKI key; tampering does not`, async () => {
    const pair = await generateKeyPair(algorithm, true);
    const spki = Buffer.from(pair.publicKey, 'base64url');
    assert.equal(pair.publicKey, spki.toString('base64url'), 'public key is unpadded base64url');
    const keyObject = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    assert.equal(keyObject.asymmetricKeyType, algorithm === 'ES256' ? 'ec' : 'ed25519');
    if (algorithm === 'ES256') assert.equal(keyObject.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    const text = signedString({ timestamp: 1700000000, nonce: 'n0nce_n0nce-n0nce_n0nc', method: 'POST', path: '/device/v1/approval_requests/x', bodyHash: await bodyHash('{"a":1}') });
    const sig = await sign(pair.privateKey, algorithm, text);
    assert.equal(Buffer.from(sig, 'base64url').length, 64, 'r‖s / Ed25519: 64 bytes');
    assert.ok(!sig.includes('='));
    assert.ok(nodeVerifies(algorithm, pair.publicKey, text, sig), 'valid signature verifies');
    assert.ok(!nodeVerifies(algorithm, pair.publicKey, text.replace('POST', 'GET'), sig), 'tampered string does not verify');
    const flipped = Buffer.from(sig, 'base64url');
    flipped[10]! ^= 1;
    assert.ok(!nodeVerifies(algorithm, pair.publicKey, text, flipped.toString('base64url')), 'tampered signature does not verify');
    // The SDK's own verify agrees.
    assert.equal(await verify(pair.publicKey, algorithm, text, sig), true);
    assert.equal(await verify(pair.publicKey, algorithm, `${text}x`, sig), false);
    assert.equal(await verify(pair.publicKey, algorithm, text, 'garbage'), false);
    // Non-ASCII text is signed as UTF-8.
    const uni = answerSignatureString('ü-uuid', 'approved', 'hash✓');
    assert.ok(nodeVerifies(algorithm, pair.publicKey, uni, await sign(pair.privateKey, algorithm, uni)));
  });
}

// ---- event stream -----------------------------------------------------------------------------

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const ev of parseEventStream(stream)) out.push(ev);
  return out;
}

test('parseEventStream: every chunk split, multi-line data, comments, CRLF/CR/LF, UTF-8 across chunks', async () => {
  const text =
    '\uFEFF: hello comment\r\n' +
    'event: approval_request\r\n' +
    'data: {"uuid":"a",\r\n' +
    'data: "msg":"Zürich ✓"}\r\n' +
    '\r\n' +
    ':keep-alive\n\n' +
    'event: approval_request_updated\rdata:{"uuid":"a","status":"approved"}\r\r' +
    'data\n' + // a field with no colon: empty value
    'data:  two spaces\n' +
    'id: 7\n' +
    'retry: 1000\n' +
    'unknown: x\n\n' +
    'event: lost\ndata: incomplete at end of stream';
  const expected: ServerSentEvent[] = [
    { event: 'approval_request', data: '{"uuid":"a",\n"msg":"Zürich ✓"}' },
    { event: 'approval_request_updated', data: '{"uuid":"a","status":"approved"}' },
    { event: 'message', data: '\n two spaces', id: '7' },
  ];
  const bytes = new TextEncoder().encode(text);
  assert.deepEqual(await collect(streamOf([bytes])), expected, 'one chunk');
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(await collect(streamOf([bytes.slice(0, i), bytes.slice(i)])), expected, `split at byte ${i}`);
  }
  assert.deepEqual(await collect(streamOf([...bytes].map((b) => Uint8Array.of(b)))), expected, 'one byte per chunk');
  // JSON data parses back.
  assert.equal(JSON.parse(expected[0]!.data).msg, 'Zürich ✓');
});

test('EventStreamParser: `retry` sets the reconnection time, digits only (what a server shutting down sends)', () => {
  const p = new EventStreamParser();
  assert.equal(p.retryMs, undefined);
  p.feed('retry: 1000\n: closed: the server is shutting down; reconnect\n\n');
  assert.equal(p.retryMs, 1000);
  p.feed('retry: 5s\nretry: -3\n\n');
  assert.equal(p.retryMs, 1000, 'not digits: ignored, as the SSE rules say');
});

test('EventStreamParser: a CR at the end of one chunk and LF at the start of the next are one line break', () => {
  const p = new EventStreamParser();
  assert.deepEqual(p.feed('data: a\r'), []);
  assert.deepEqual(p.feed('\n'), [], 'the LF is not a blank line');
  assert.deepEqual(p.feed(''), []);
  assert.deepEqual(p.feed('\r\n'), [{ event: 'message', data: 'a' }]);
  assert.deepEqual(p.feed('data: b\n\n\n\n'), [{ event: 'message', data: 'b' }], 'extra blank lines dispatch nothing');
  assert.deepEqual(p.feed('event: x\n\ndata: c\n\n'), [{ event: 'message', data: 'c' }], 'event name resets at a blank line');
});

test('parseEventStream: aborting the signal ends the iteration of an open stream', async () => {
  const ac = new AbortController();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('data: 1\n\n'));
    }, // never closes
  });
  const seen: string[] = [];
  for await (const ev of parseEventStream(stream, ac.signal)) {
    seen.push(ev.data);
    setTimeout(() => ac.abort(), 10);
  }
  assert.deepEqual(seen, ['1']);
});

// ---- client over a fake fetch ------------------------------------------------------------------

interface Sent {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array | undefined;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** A fake fetch that records requests and answers with `handler`. */
function fakeFetch(handler: (req: Sent) => Response | Promise<Response>): { fetch: (url: string, init: RequestInit) => Promise<Response>; sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    fetch: async (url, init) => {
      const body = init.body === undefined || init.body === null ? undefined : new Uint8Array(init.body as Uint8Array);
      const req: Sent = { method: init.method ?? 'GET', url: new URL(url), headers: new Headers(init.headers), body };
      sent.push(req);
      return handler(req);
    },
  };
}

/** Checks a request's signature headers exactly as the contract describes, with node:crypto. */
function assertSigned(req: Sent, deviceId: number, algorithm: Algorithm, publicKey: string): void {
  const h = req.headers;
  assert.equal(h.get('x-openfactor-device'), String(deviceId));
  const ts = Number(h.get('x-openfactor-timestamp'));
  assert.ok(Number.isInteger(ts) && Math.abs(ts - Date.now() / 1000) < 5, 'timestamp in seconds, now');
  const nonce = h.get('x-openfactor-nonce')!;
  assert.match(nonce, /^[A-Za-z0-9_-]{22,64}$/);
  const hash = createHash('sha256').update(req.body ?? new Uint8Array()).digest('base64url');
  const text = `${ts}\n${nonce}\n${req.method}\n${req.url.pathname}${req.url.search}\n${hash}`;
  assert.ok(nodeVerifies(algorithm, publicKey, text, h.get('x-openfactor-signature')!), `${req.method} ${req.url.pathname} signature verifies`);
  if (req.body) assert.equal(h.get('content-type'), 'application/json');
  else assert.equal(h.get('content-type'), null, 'no Content-Type without a body');
}

const ACCOUNT: Account = { authy_id: 12, app_id: 3, app_name: 'Example Bank', seed: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', digits: 7, period: 30, algorithm: 'SHA256' };

for (const algorithm of ['ES256', 'Ed25519'] as const) {
  test(`client (${algorithm}): register by token, signed calls, approve/deny signatures, errors, restore, unregister`, async () => {
    const approval: DeviceApproval = {
      uuid: 'a1b2c3d4-0000-4000-8000-00000000abcd',
      authy_id: 12,
      app_id: 3,
      app_name: 'Example Bank',
      message: 'Login requested',
      details: { Amount: '10 BTC', Account: 'ü' },
      logos: [{ res: 'default', url: 'https://x/l.png' }],
      created_at: '2026-11-23T10:00:00.000Z',
      expires_at: null,
      status: 'pending',
      number_choices: [17, 42, 88],
    };
    const { fetch, sent } = fakeFetch((req) => {
      const path = req.url.pathname;
      if (path === '/of/device/v1/registrations') {
        return json(200, { device: { id: 41, name: 'Pixel 9', os_type: 'android', algorithm, registration_method: 'sdk' }, accounts: [ACCOUNT], message: 'Device registered.', success: true });
      }
      if (path === '/of/device/v1/accounts') return json(200, { accounts: [ACCOUNT, { ...ACCOUNT, app_id: 4, seed: 'GEZDGNBVGY3TQOJQ', digits: 6, algorithm: 'SHA1' }], message: 'Accounts.', success: true });
      if (path === '/of/device/v1/approval_requests') return json(200, { approval_requests: [approval], message: 'Pending approval requests.', success: true });
      if (path.startsWith('/of/device/v1/approval_requests/')) {
        const status = JSON.parse(new TextDecoder().decode(req.body)).status;
        return json(200, { approval_request: { uuid: approval.uuid, status }, message: 'Answer recorded.', success: true });
      }
      if (path === '/of/device/v1/push_subscription' || path === '/of/device/v1/device') return json(200, { message: 'OK.', success: true });
      return json(404, { message: 'Not found', success: false, errors: { message: 'Not found' }, error_code: '60000' });
    });
    // A localStorage-like text store over a Map.
    const map = new Map<string, string>();
    const jsonStorage = new JsonStorage({ getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) });

    const device = await OpenFactorDevice.registerWithToken('https://2fa.example.com/of/', 'tok-123', { algorithm, osType: 'android', name: 'Pixel 9', storage: jsonStorage, fetch });
    // Registration: unsigned, body per contract.
    const reg = sent[0]!;
    assert.equal(reg.method, 'POST');
    assert.equal(reg.headers.get('x-openfactor-signature'), null);
    const regBody = JSON.parse(new TextDecoder().decode(reg.body));
    assert.deepEqual(Object.keys(regBody).sort(), ['algorithm', 'name', 'os_type', 'public_key', 'push_subscription', 'registration_token']);
    assert.equal(regBody.registration_token, 'tok-123');
    assert.equal(regBody.algorithm, algorithm);
    assert.equal(regBody.push_subscription, null);
    assert.equal(regBody.public_key, device.publicKey);
    assert.equal(device.id, 41);
    assert.deepEqual(device.accounts, [ACCOUNT]);

    // The code is the server engine's TOTP of the seed.
    const at = 1_800_000_123_456;
    assert.equal(await device.code(12, undefined, at), serverTotp(fromBase32(ACCOUNT.seed), at, { digits: 7, algorithm: 'sha256', stepSeconds: 30 }));
    await assert.rejects(device.code(99), RangeError);

    // Storage holds a JWK (JSON storage), and a restored device signs with the same key.
    const stored = JSON.parse(map.get('openfactor-device')!);
    assert.equal(typeof stored.privateKey.kty, 'string');
    assert.equal(stored.deviceId, 41);
    const restored = (await OpenFactorDevice.restore(jsonStorage, { fetch }))!;
    assert.equal(restored.id, 41);

    // Signed GETs, with the base URL's path prefix and the query in the signed path.
    const accounts = await restored.refreshAccounts();
    assert.equal(accounts.length, 2);
    assert.equal(JSON.parse(map.get('openfactor-device')!).accounts.length, 2, 'refreshAccounts saved');
    await assert.rejects(restored.code(12), /several applications/);
    assert.equal(await restored.code(12, 4, at), serverTotp(fromBase32('GEZDGNBVGY3TQOJQ'), at, { digits: 6 }));
    const pending = await device.pendingApprovals(20);
    assert.deepEqual(pending, [approval]);
    const getReq = sent.at(-1)!;
    assert.equal(getReq.url.pathname + getReq.url.search, '/of/device/v1/approval_requests?wait=20');
    await assert.rejects(device.pendingApprovals(31), RangeError);

    // Number matching: refused locally without a number; approve with one.
    const before = sent.length;
    await assert.rejects(device.approve(approval), TypeError);
    assert.equal(sent.length, before, 'nothing sent');
    const ok = await device.approve(approval, { number: 42 });
    assert.deepEqual(ok.approval_request, { uuid: approval.uuid, status: 'approved' });
    const approveReq = sent.at(-1)!;
    const approveBody = JSON.parse(new TextDecoder().decode(approveReq.body));
    assert.equal(approveBody.number, 42);
    assert.equal(approveBody.status, 'approved');
    const canonical = JSON.stringify({ details: { Account: 'ü', Amount: '10 BTC' }, logos: [{ res: 'default', url: 'https://x/l.png' }], message: 'Login requested' });
    const txHash = createHash('sha256').update(canonical).digest('base64url');
    assert.ok(nodeVerifies(algorithm, device.publicKey, `${approval.uuid}|approved|${txHash}`, approveBody.signature), 'answer signature verifies');
    assert.ok(!nodeVerifies(algorithm, device.publicKey, `${approval.uuid}|denied|${txHash}`, approveBody.signature), 'not valid for another status');
    await restored.deny(approval);
    const denyBody = JSON.parse(new TextDecoder().decode(sent.at(-1)!.body));
    assert.deepEqual(Object.keys(denyBody).sort(), ['signature', 'status']);
    assert.ok(nodeVerifies(algorithm, device.publicKey, `${approval.uuid}|denied|${txHash}`, denyBody.signature));

    // Push subscription: PushSubscription-like objects are reduced to endpoint + keys.
    await device.setPushSubscription({ toJSON: () => ({ endpoint: 'https://push/x', expirationTime: null, keys: { p256dh: 'P', auth: 'A' } }) });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(sent.at(-1)!.body)), { push_subscription: { endpoint: 'https://push/x', keys: { p256dh: 'P', auth: 'A' } } });
    assert.equal(sent.at(-1)!.method, 'PUT');
    await device.setPushSubscription(null);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(sent.at(-1)!.body)), { push_subscription: null });

    // Every request after registration is signed per the contract (checked independently).
    const signedRequests = sent.slice(1);
    assert.deepEqual(signedRequests.map((r) => r.method), ['GET', 'GET', 'POST', 'POST', 'PUT', 'PUT']);
    for (const req of signedRequests) assertSigned(req, 41, algorithm, device.publicKey);
    const nonces = new Set(signedRequests.map((r) => r.headers.get('x-openfactor-nonce')));
    assert.equal(nonces.size, signedRequests.length, 'nonces are never reused');

    // Unregister: DELETE, storage cleared.
    await device.unregister();
    assert.equal(sent.at(-1)!.method, 'DELETE');
    assertSigned(sent.at(-1)!, 41, algorithm, device.publicKey);
    assert.equal(map.size, 0);
    assert.equal(await OpenFactorDevice.restore(jsonStorage), undefined);
  });
}

test('client: non-2xx answers throw OpenFactorError with status, Authy error_code and message', async () => {
  const answers: Response[] = [
    json(404, { message: 'Registration token not found.', success: false, errors: { message: 'Registration token not found.' }, error_code: '60035' }),
  ];
  const { fetch } = fakeFetch(() => answers.shift() ?? new Response('oops', { status: 502, statusText: 'Bad Gateway' }));
  const err = await OpenFactorDevice.registerWithToken('http://localhost:1', 'bad', { fetch }).catch((e: unknown) => e);
  assert.ok(err instanceof OpenFactorError);
  assert.equal(err.status, 404);
  assert.equal(err.code, '60035');
  assert.equal(err.message, 'Registration token not found.');
  const err2 = await OpenFactorDevice.startPhoneRegistration('http://localhost:1', { countryCode: 1, phoneNumber: '415-555-0142', via: 'sms' }, { fetch }).catch((e: unknown) => e);
  assert.ok(err2 instanceof OpenFactorError);
  assert.equal(err2.status, 502);
  assert.equal(err2.code, undefined);
  assert.equal(err2.body, 'oops');

  // A signed call answered 401/60087.
  const storage = new MemoryStorage();
  const ok = fakeFetch((req) =>
    req.url.pathname.endsWith('/registrations')
      ? json(200, { device: { id: 5, name: null, os_type: 'node', algorithm: 'ES256', registration_method: 'sdk' }, accounts: [], message: 'Device registered.', success: true })
      : json(401, { message: 'Invalid signature', success: false, errors: { message: 'Invalid signature' }, error_code: '60087' }),
  );
  const device = await OpenFactorDevice.registerWithToken('http://localhost:1', 't', { fetch: ok.fetch, storage });
  const err3 = await device.refreshAccounts().catch((e: unknown) => e);
  assert.ok(err3 instanceof OpenFactorError);
  assert.deepEqual([err3.status, err3.code, err3.message], [401, '60087', 'Invalid signature']);
  // Memory storage keeps a CryptoKey that cannot be exported.
  const kept = (await storage.load())!;
  assert.ok(kept.privateKey instanceof CryptoKey);
  assert.equal((kept.privateKey as CryptoKey).extractable, false);
});

test('client: phone registration start/confirm bodies; confirm registers the device', async () => {
  const { fetch, sent } = fakeFetch((req) => {
    if (req.url.pathname === '/device/v1/phone_registrations') return json(200, { registration_id: 'reg-uuid', seconds_to_expire: 600, message: 'Code sent.', success: true });
    return json(200, { device: { id: 9, name: 'iPhone', os_type: 'ios', algorithm: 'Ed25519', registration_method: 'sms' }, accounts: [ACCOUNT], message: 'Device registered.', success: true });
  });
  const started = await OpenFactorDevice.startPhoneRegistration('https://h', { countryCode: '1', phoneNumber: '415-555-0142', via: 'sms', locale: 'en' }, { fetch });
  assert.deepEqual(started, { registrationId: 'reg-uuid', secondsToExpire: 600 });
  assert.deepEqual(JSON.parse(new TextDecoder().decode(sent[0]!.body)), { country_code: '1', phone_number: '415-555-0142', via: 'sms', locale: 'en' });
  const device = await OpenFactorDevice.confirmPhoneRegistration('https://h', started.registrationId, '123456', { algorithm: 'Ed25519', osType: 'ios', name: 'iPhone', fetch });
  assert.equal(sent[1]!.url.pathname, '/device/v1/phone_registrations/reg-uuid/confirm');
  const body = JSON.parse(new TextDecoder().decode(sent[1]!.body));
  assert.deepEqual({ ...body, public_key: typeof body.public_key }, { code: '123456', public_key: 'string', algorithm: 'Ed25519', os_type: 'ios', name: 'iPhone' });
  assert.equal(createPublicKey({ key: Buffer.from(body.public_key, 'base64url'), format: 'der', type: 'spki' }).asymmetricKeyType, 'ed25519');
  assert.equal(device.id, 9);
  assert.equal(device.algorithm, 'Ed25519');
});

test('client: listen delivers approvals and updates from the event stream, resolves on abort and on end', async () => {
  const approval = { uuid: 'u1', authy_id: 12, app_id: 3, app_name: 'A', message: 'm', details: {}, logos: [], created_at: 'c', expires_at: null, status: 'pending' };
  const enc = new TextEncoder();
  let keepOpen = true;
  const { fetch, sent } = fakeFetch((req) => {
    if (req.url.pathname === '/device/v1/registrations') {
      return json(200, { device: { id: 3, name: null, os_type: 'node', algorithm: 'ES256', registration_method: 'sdk' }, accounts: [], message: 'ok', success: true });
    }
    const full = `: connected\n\nevent: approval_request\ndata: ${JSON.stringify(approval)}\n\nevent: approval_request_updated\ndata: {"uuid":"u1","status":"expired"}\n\nevent: other\ndata: 1\n\n`;
    const cut = 30;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode(full.slice(0, cut)));
        c.enqueue(enc.encode(full.slice(cut)));
        if (!keepOpen) c.close();
      },
    });
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  });
  const device = await OpenFactorDevice.registerWithToken('http://h', 't', { fetch });

  const ac = new AbortController();
  const got: DeviceApproval[] = [];
  const updates: { uuid: string; status: string }[] = [];
  await device.listen((a) => got.push(a), {
    signal: ac.signal,
    onUpdate: (u) => {
      updates.push(u);
      ac.abort();
    },
  });
  assert.deepEqual(got, [approval]);
  assert.deepEqual(updates, [{ uuid: 'u1', status: 'expired' }]);
  const req = sent.at(-1)!;
  assert.equal(req.url.pathname, '/device/v1/events');
  assert.equal(req.headers.get('accept'), 'text/event-stream');
  assertSigned(req, 3, 'ES256', device.publicKey);

  keepOpen = false;
  const got2: DeviceApproval[] = [];
  await device.listen((a) => got2.push(a));
  assert.equal(got2.length, 1, 'resolves when the stream ends');

  // Fetches that honour the signal like real ones: aborting errors the body stream, or rejects
  // the pending fetch, with an AbortError; listen still resolves.
  const abortError = (): DOMException => new DOMException('This operation was aborted', 'AbortError');
  const erroringBody = await deviceWith(async (_url, init) => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode(`event: approval_request\ndata: ${JSON.stringify(approval)}\n\n`));
        init.signal!.addEventListener('abort', () => c.error(abortError()));
      },
    });
    return new Response(body, { status: 200 });
  });
  const ac2 = new AbortController();
  let n = 0;
  await erroringBody.listen(() => {
    n++;
    queueMicrotask(() => ac2.abort());
  }, { signal: ac2.signal });
  assert.equal(n, 1);

  // Like a real fetch, it also rejects at once when the signal was aborted before the call (the
  // request is signed first, which can take longer than the 5 ms below on a loaded machine).
  const pendingFetch = await deviceWith(
    (_url, init) =>
      new Promise<Response>((_resolve, reject) => (init.signal!.aborted ? reject(abortError()) : init.signal!.addEventListener('abort', () => reject(abortError())))),
  );
  const ac3 = new AbortController();
  const listening = pendingFetch.listen(() => {}, { signal: ac3.signal });
  setTimeout(() => ac3.abort(), 5);
  await listening; // resolves instead of rejecting with the AbortError

  const err = await fakeDeviceListenError();
  assert.ok(err instanceof OpenFactorError && err.code === '60087');
});

/** A registered device (id 3, ES256) restored from memory, talking through `fetch`. */
async function deviceWith(fetch: (url: string, init: RequestInit) => Promise<Response>): Promise<OpenFactorDevice> {
  const pair = await generateKeyPair('ES256');
  const storage = new MemoryStorage();
  await storage.save({ baseUrl: 'http://h', deviceId: 3, algorithm: 'ES256', privateKey: pair.privateKey, publicKey: pair.publicKey, name: null, osType: null, registrationMethod: 'sdk', accounts: [] });
  return (await OpenFactorDevice.restore(storage, { fetch }))!;
}

async function fakeDeviceListenError(): Promise<unknown> {
  const { fetch } = fakeFetch((req) =>
    req.url.pathname === '/device/v1/registrations'
      ? json(200, { device: { id: 3, name: null, os_type: 'node', algorithm: 'ES256', registration_method: 'sdk' }, accounts: [], message: 'ok', success: true })
      : json(401, { message: 'Invalid signature', success: false, errors: {}, error_code: '60087' }),
  );
  const device = await OpenFactorDevice.registerWithToken('http://h', 't', { fetch });
  return device.listen(() => {}).catch((e: unknown) => e);
}
