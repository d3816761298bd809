// RFC 6238 Appendix B: the test seeds (ASCII) and the 8-digit TOTPs per time, for the server's
// OTP engine and the device SDK alike.
export const RFC6238_SEEDS = {
  sha1: '12345678901234567890',
  sha256: '12345678901234567890123456789012',
  sha512: '1234567890123456789012345678901234567890123456789012345678901234',
} as const;

/** [unix seconds, SHA1 code, SHA256 code, SHA512 code] */
export const RFC6238_ROWS: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];
