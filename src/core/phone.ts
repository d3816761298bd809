// Phone numbers: parsed and validated with libphonenumber-js ("max" metadata, which later issues
// need for number types), stored as E.164, shown masked.
import { getCountries, getCountryCallingCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

const CALLING_CODES = new Set(getCountries().map((c) => getCountryCallingCode(c)));

export interface Phone {
  countryCode: number;
  /** +<country code><national number> */
  e164: string;
  national: string;
}

export const isSupportedCallingCode = (cc: string): boolean => CALLING_CODES.has(cc);

/** Country code as clients send it ("1", 1, "+1", "001"): digits only, or undefined. */
export function normalizeCallingCode(raw: string): string | undefined {
  const m = /^\s*(?:\+|00)?(\d{1,4})\s*$/.exec(raw);
  return m ? String(Number(m[1])) : undefined;
}

/**
 * A national number "with optional dashes, dots or spaces" (Authy's wording; we also accept
 * parentheses and a leading +<country code>) in the given calling code, if it is a valid number.
 */
export function parsePhone(cellphone: string, callingCode: string): Phone | undefined {
  if (cellphone.length > 40 || !/^[\d\s().+-]+$/.test(cellphone)) return undefined;
  const digits = cellphone.replace(/[^\d+]/g, '');
  const parsed = parsePhoneNumberFromString(digits, { defaultCallingCode: callingCode });
  if (!parsed?.isValid() || parsed.countryCallingCode !== callingCode) return undefined;
  return { countryCode: Number(callingCode), e164: parsed.number, national: parsed.nationalNumber };
}

/** A number in international form (`+15017122661`, spaces and dashes allowed), if valid: its E.164. */
export function parseE164(text: string): string | undefined {
  if (text.length > 40 || !/^\+[\d\s().-]+$/.test(text)) return undefined;
  const parsed = parsePhoneNumberFromString(text.replace(/[^\d+]/g, ''));
  return parsed?.isValid() ? parsed.number : undefined;
}

/** `XXX-XXX-0142` (user status): the last four digits, the rest masked in groups of three. */
export function maskNational(national: string): string {
  const shown = national.slice(-4);
  const hidden = 'X'.repeat(Math.max(0, national.length - 4));
  const groups: string[] = [];
  for (let end = hidden.length; end > 0; end -= 3) groups.unshift(hidden.slice(Math.max(0, end - 3), end));
  return [...groups, shown].join('-');
}

export function nationalOf(e164: string, countryCode: number): string {
  return e164.slice(String(countryCode).length + 1);
}

/** `+1-XXX-XXX-XX42` (sms and call bodies, logs): the calling code and the last two digits. */
export function maskCellphone(countryCode: number, national: string): string {
  const hidden = 'X'.repeat(Math.max(0, national.length - 2));
  const groups: string[] = [];
  for (let i = 0; i < hidden.length; i += 3) groups.push(hidden.slice(i, i + 3));
  if (groups.length > 0) groups[groups.length - 1] += national.slice(-2);
  else groups.push(national);
  return `+${countryCode}-${groups.join('-')}`;
}

/** An E.164 number masked for a log line, when only the number is at hand. */
export function maskE164(e164: string): string {
  const parsed = parsePhoneNumberFromString(e164);
  return parsed ? maskCellphone(Number(parsed.countryCallingCode), parsed.nationalNumber) : 'X'.repeat(Math.max(0, e164.length - 2)) + e164.slice(-2);
}

// International services (+800 freephone, +881 satellite…): calling codes of no country.
const NON_GEOGRAPHIC_CODES = ['800', '808', '870', '878', '881', '882', '883', '888', '979'];
const ANY_CALLING_CODE = new Set([...CALLING_CODES, ...NON_GEOGRAPHIC_CODES]);

/**
 * The calling code an E.164 number begins with (`"1"` for +1…), when it begins with one. Calling
 * codes are a prefix code (none begins another), so the first one found is it: no parse, which
 * the send guard asks on every verify of a code.
 */
export function callingCodeOf(e164: string): string | undefined {
  if (!/^\+\d/.test(e164)) return undefined;
  for (let len = 1; len <= 3; len++) if (ANY_CALLING_CODE.has(e164.slice(1, 1 + len))) return e164.slice(1, 1 + len);
  return undefined;
}

// A code sent asks a number's region and line type three times (the guard, the locale), and a
// parse with the full metadata costs about 10 µs, its line type as much again: the last few
// hundred numbers' answers are kept.
type Described = { region?: string; type?: string | null; parsed?: ReturnType<typeof parsePhoneNumberFromString> };
const described = new Map<string, Described>();
function describe(e164: string): Described {
  let d = described.get(e164);
  if (d === undefined) {
    const parsed = parsePhoneNumberFromString(e164);
    d = { region: parsed?.country, parsed };
    if (described.size >= 512) described.clear();
    described.set(e164, d);
  }
  return d;
}

/** ISO 3166 region of an E.164 number (for the locale of its messages). */
export function regionOf(e164: string): string | undefined {
  return describe(e164).region;
}

/** libphonenumber's line type ("max" metadata); undefined when it cannot tell. */
export function lineTypeOf(e164: string): string | undefined {
  const d = describe(e164);
  if (d.type === undefined) d.type = d.parsed?.getType() ?? null;
  return d.type ?? undefined;
}

/** `+1 415-555-0142`: the calling code, a space, the national number in dash-separated groups (Authy's messages). */
export function displayPhone(e164: string): string {
  const p = parsePhoneNumberFromString(e164);
  if (!p) return e164;
  const intl = p.formatInternational();
  const space = intl.indexOf(' ');
  return space < 0 ? intl : `${intl.slice(0, space)} ${intl.slice(space + 1).replace(/[\s]+/g, '-')}`;
}

/** The block of numbers a number belongs to: all but its last four digits (SMS-pumping velocity). */
export const prefixOf = (e164: string) => e164.slice(0, Math.max(4, e164.length - 4));

const REGIONS = new Set<string>(getCountries());
/** An ISO 3166 alpha-2 region libphonenumber knows (PT, US, BR…). */
export const isRegion = (r: string) => REGIONS.has(r);
