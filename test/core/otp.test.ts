import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RFC6238_ROWS, RFC6238_SEEDS } from '../support/rfc6238.ts';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import { inCI } from '../support/ci.mjs';
import { findStep, fromBase32, hotp, newSecret, toBase32, totp, totpStep, type OtpAlgorithm } from '../../src/core/otp.ts';

const ALGORITHMS: OtpAlgorithm[] = ['sha1', 'sha256', 'sha512'];
const rfcSecret = Buffer.from('12345678901234567890', 'ascii');
const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)]!;

/** Counters that exercise both 32-bit halves of the 8-byte counter. */
function randomCounter(i: number): number {
  switch (i % 4) {
    case 0: return randomInt(0, 1000);
    case 1: return 2 ** 32 + randomInt(-1000, 1000);
    case 2: return randomInt(0, 2 ** 48 - 1) * 2 ** 5 + randomInt(32); // up to 2^53
    default: return randomInt(0, 2 ** 48 - 1);
  }
}

/** Times in ms: today-ish, past 2038, and far enough out that the step passes 2^32 at a 60 s step. */
function randomTimeMs(i: number): number {
  const seconds = [randomInt(0, 2_000_000_000), randomInt(2 ** 31, 2 ** 33), randomInt(2 ** 37, 2 ** 38)][i % 3]!;
  return seconds * 1000 + randomInt(1000);
}

test('RFC 4226 Appendix D: HOTP-SHA1, counters 0-9', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  for (const [counter, code] of expected.entries()) assert.equal(hotp(rfcSecret, counter), code, `counter ${counter}`);
});

test('RFC 6238 Appendix B: TOTP, 8 digits, all 18 rows', () => {
  const seeds = Object.fromEntries(ALGORITHMS.map((a) => [a, Buffer.from(RFC6238_SEEDS[a], 'ascii')])) as Record<OtpAlgorithm, Buffer>;
  assert.deepEqual(seeds.sha1, rfcSecret);
  const rows = RFC6238_ROWS;
  for (const [seconds, ...codes] of rows) {
    ALGORITHMS.forEach((algorithm, i) => {
      assert.equal(totp(seeds[algorithm], seconds * 1000, { digits: 8, algorithm }), codes[i], `${algorithm} at ${seconds}`);
    });
  }
});

test('totpStep floors time / step', () => {
  assert.equal(totpStep(0), 0);
  assert.equal(totpStep(29_999), 0);
  assert.equal(totpStep(30_000), 1);
  assert.equal(totpStep(59_999, 60), 0);
  assert.equal(totpStep(20_000_000_000_000), 666_666_666);
  assert.throws(() => totpStep(1000, 0), RangeError);
});

test('programming errors throw RangeError', () => {
  for (const digits of [5, 9, 6.5, 0]) {
    assert.throws(() => hotp(rfcSecret, 0, { digits }), RangeError, `digits ${digits}`);
    assert.throws(() => findStep(rfcSecret, '123456', 0, { behind: 1, ahead: 1 }, { digits }), RangeError, `findStep digits ${digits}`);
  }
  for (const counter of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => hotp(rfcSecret, counter), RangeError, `counter ${counter}`);
  }
  assert.throws(() => totp(rfcSecret, -1000), RangeError, 'a time before 1970 is a negative step');
});

test('matches the oathtool binary on random HOTP and TOTP cases', (t) => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
  } catch {
    if (inCI) assert.fail('oathtool is not installed; CI needs it for the OTP cross-check: apt-get install oathtool');
    t.skip('oathtool is not installed (apt-get install oathtool); skipping the cross-check against it');
    return;
  }
  const oathtool = (args: string[]) => execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
  for (let i = 0; i < 240; i++) {
    const secret = randomBytes(randomInt(1, 200)); // past both block sizes (64, 128): long keys are hashed first
    const hex = secret.toString('hex');
    const digits = randomInt(6, 9);
    if (i % 2 === 0) {
      // oathtool's --hotp mode is SHA-1 only; the TOTP cases below cover SHA-256/512 (TOTP is HOTP at the step).
      const counter = randomCounter(i / 2);
      const want = oathtool(['--hotp', `--digits=${digits}`, `--counter=${counter}`, hex]);
      assert.equal(hotp(secret, counter, { digits }), want, `hotp key=${hex} counter=${counter} digits=${digits}`);
    } else {
      const algorithm = pick(ALGORITHMS);
      const stepSeconds = pick([30, 60]);
      const timeMs = randomTimeMs((i - 1) / 2);
      const want = oathtool([
        `--totp=${algorithm.toUpperCase()}`, `--digits=${digits}`, `--time-step-size=${stepSeconds}s`,
        `--now=@${Math.floor(timeMs / 1000)}`, hex,
      ]);
      assert.equal(
        totp(secret, timeMs, { digits, algorithm, stepSeconds }), want,
        `totp key=${hex} ${algorithm} step=${stepSeconds} timeMs=${timeMs} digits=${digits}`,
      );
    }
  }
});

test('matches the otpauth package on random HOTP and TOTP cases', () => {
  for (let i = 0; i < 500; i++) {
    const secret = randomBytes(randomInt(1, 200)); // past both block sizes (64, 128): long keys are hashed first
    const theirs = new Secret({ buffer: Uint8Array.from(secret).buffer });
    const algorithm = pick(ALGORITHMS);
    const digits = randomInt(6, 9);
    const counter = randomCounter(i);
    const hex = secret.toString('hex');
    assert.equal(
      hotp(secret, counter, { digits, algorithm }),
      HOTP.generate({ secret: theirs, algorithm: algorithm.toUpperCase(), digits, counter }),
      `hotp key=${hex} ${algorithm} counter=${counter} digits=${digits}`,
    );
    const stepSeconds = pick([30, 60]);
    const timeMs = randomTimeMs(i);
    assert.equal(
      totp(secret, timeMs, { digits, algorithm, stepSeconds }),
      TOTP.generate({ secret: theirs, algorithm: algorithm.toUpperCase(), digits, period: stepSeconds, timestamp: timeMs }),
      `totp key=${hex} ${algorithm} step=${stepSeconds} timeMs=${timeMs} digits=${digits}`,
    );
  }
});

test('findStep finds each offset in the window and nothing outside it', () => {
  const center = 1_000_000;
  const window = { behind: 2, ahead: 2 };
  for (const algorithm of ALGORITHMS) {
    for (const digits of [6, 7, 8]) {
      const opts = { algorithm, digits };
      for (let off = -2; off <= 2; off++) {
        assert.equal(findStep(rfcSecret, hotp(rfcSecret, center + off, opts), center, window, opts), center + off, `${algorithm}/${digits} off ${off}`);
      }
      for (const off of [-4, -3, 3, 4]) {
        assert.equal(findStep(rfcSecret, hotp(rfcSecret, center + off, opts), center, window, opts), undefined, `${algorithm}/${digits} off ${off}`);
      }
    }
  }
  // Asymmetric windows.
  const ahead = hotp(rfcSecret, center + 1);
  const behind = hotp(rfcSecret, center - 1);
  assert.equal(findStep(rfcSecret, ahead, center, { behind: 0, ahead: 1 }), center + 1);
  assert.equal(findStep(rfcSecret, behind, center, { behind: 0, ahead: 1 }), undefined);
  assert.equal(findStep(rfcSecret, behind, center, { behind: 1, ahead: 0 }), center - 1);
  assert.equal(findStep(rfcSecret, ahead, center, { behind: 1, ahead: 0 }), undefined);
  // Near step 0 the window is clipped rather than reaching negative counters.
  assert.equal(findStep(rfcSecret, hotp(rfcSecret, 0), 1, { behind: 5, ahead: 0 }), 0);
  assert.equal(findStep(rfcSecret, hotp(rfcSecret, 7), 0, { behind: 5, ahead: 0 }), undefined);
});

test('findStep prefers the step nearest the center, +d before -d', () => {
  // Find two steps with the same 6-digit code an even distance apart (there are hundreds in 20,000 steps).
  const seen = new Map<string, number[]>();
  let pair: [number, number] | undefined;
  for (let s = 0; s < 20_000 && !pair; s++) {
    const code = hotp(rfcSecret, s);
    const earlier = seen.get(code) ?? [];
    const a = earlier.find((e) => (s - e) % 2 === 0 && s - e >= 4);
    if (a !== undefined) pair = [a, s];
    seen.set(code, [...earlier, s]);
  }
  assert.ok(pair, 'no colliding pair found');
  const [a, b] = pair;
  const token = hotp(rfcSecret, a);
  const w = { behind: b - a, ahead: b - a };
  assert.equal(findStep(rfcSecret, token, a + 1, w), a, 'nearer behind');
  assert.equal(findStep(rfcSecret, token, b - 1, w), b, 'nearer ahead');
  assert.equal(findStep(rfcSecret, token, (a + b) / 2, w), b, 'a tie goes to +d');
});

test('findStep rejects malformed tokens without computing', () => {
  // A null secret makes createHmac throw, so a clean undefined proves no code was computed.
  const noSecret = null as unknown as Buffer;
  const w = { behind: 1, ahead: 1 };
  for (const token of ['', '12345', '1234567', '12345a', ' 12345', '12345 ', '+12345', '-12345', '1e5000', '１２３４５６', '12345\n']) {
    assert.equal(findStep(noSecret, token, 10, w), undefined, JSON.stringify(token));
  }
  assert.equal(findStep(noSecret, '1234567', 10, w, { digits: 8 }), undefined);
  assert.equal(findStep(noSecret, '12345678', 10, w, { digits: 7 }), undefined);
  assert.throws(() => findStep(noSecret, '123456', 10, w), TypeError, 'a well-formed token is computed');
});

test('base32: RFC 4648 vectors, known secret, lenient input, round trip', () => {
  assert.equal(toBase32(rfcSecret), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'); // rfcSecret is a view into Node's pool
  assert.deepEqual(fromBase32('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'), rfcSecret);
  assert.deepEqual(fromBase32('gezd gnbv gy3t qojq gezd gnbv gy3t qojq'), rfcSecret);
  const vectors: [string, string][] = [
    ['', ''], ['f', 'MY======'], ['fo', 'MZXQ===='], ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI======'],
  ];
  for (const [plain, padded] of vectors) {
    const bytes = Buffer.from(plain, 'ascii');
    assert.equal(toBase32(bytes), padded.replace(/=+$/, ''), plain);
    assert.deepEqual(fromBase32(padded), bytes, padded);
    assert.deepEqual(fromBase32(padded.replace(/=+$/, '')), bytes, `${padded} unpadded`);
  }
  assert.throws(() => fromBase32('GEZDGNBV1'), TypeError);
  for (let n = 1; n <= 64; n++) {
    const secret = newSecret(n);
    assert.equal(secret.length, n);
    const text = toBase32(secret);
    assert.match(text, /^[A-Z2-7]*$/);
    assert.deepEqual(fromBase32(text), secret);
    assert.deepEqual(fromBase32(text.toLowerCase()), secret);
  }
  assert.equal(newSecret().length, 20);
  assert.notDeepEqual(newSecret(), newSecret());
});
