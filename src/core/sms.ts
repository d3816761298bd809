// How an SMS text travels: GSM-7 when every character is in the GSM 03.38 alphabet (extension
// characters cost two septets), UCS-2 otherwise; long texts split into concatenated parts.
// Pure code: the SMPP provider encodes the parts, the tests reassemble them.

const GSM_BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';
const BASIC = new Set(GSM_BASIC);
const EXTENSION = new Set(GSM_EXTENSION);

export type SmsEncoding = 'gsm7' | 'ucs2';

export const isGsm7 = (text: string) => [...text].every((c) => BASIC.has(c) || EXTENSION.has(c));

/** Single-message and per-part capacities (septets for GSM-7, UTF-16 units for UCS-2). */
const CAPACITY: Record<SmsEncoding, { single: number; part: number }> = { gsm7: { single: 160, part: 153 }, ucs2: { single: 70, part: 67 } };

const unitsOf = (c: string, encoding: SmsEncoding) => (encoding === 'gsm7' ? (EXTENSION.has(c) ? 2 : 1) : c.length);

/** The text's encoding and its parts: one when it fits, else parts that fit beside a concatenation header. */
export function smsParts(text: string): { encoding: SmsEncoding; parts: string[] } {
  const encoding: SmsEncoding = isGsm7(text) ? 'gsm7' : 'ucs2';
  const chars = [...text]; // whole code points: a surrogate pair or an escape pair is never split
  const total = chars.reduce((n, c) => n + unitsOf(c, encoding), 0);
  if (total <= CAPACITY[encoding].single) return { encoding, parts: [text] };
  const parts: string[] = [];
  let part = '';
  let used = 0;
  for (const c of chars) {
    const u = unitsOf(c, encoding);
    if (used + u > CAPACITY[encoding].part) {
      parts.push(part);
      part = '';
      used = 0;
    }
    part += c;
    used += u;
  }
  parts.push(part);
  return { encoding, parts };
}

/** The 8-bit-reference concatenation UDH (IEI 0x00): reference, total, sequence (from 1). */
export const concatHeader = (ref: number, total: number, seq: number) => Buffer.from([0x05, 0x00, 0x03, ref & 0xff, total, seq]);
