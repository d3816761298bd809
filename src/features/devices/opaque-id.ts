// Ids handed out before anything is stored (phone registrations, account recoveries): in UUID
// form, they carry their expiry and 8 random bytes under a MAC, so a later call can be answered
// as for a stored one whether or not anything was stored (the answer tells nothing).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomBytes } from '../../core/crypto.ts';

const mac = (key: Buffer, label: string, data: Buffer) => createHmac('sha256', key).update(`${label}:`).update(data).digest().subarray(0, 4);

export function opaqueId(key: Buffer, label: string, expiresAt: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(Math.floor(expiresAt / 1000), 0);
  randomBytes(8).copy(b, 4);
  mac(key, label, b.subarray(0, 12)).copy(b, 12);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The expiry (ms) of an id `opaqueId` gave out with this key and label; undefined for any other string. */
export function expiryOfOpaqueId(key: Buffer, label: string, id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return undefined;
  const b = Buffer.from(id.replace(/-/g, ''), 'hex');
  return timingSafeEqual(mac(key, label, b.subarray(0, 12)), b.subarray(12)) ? b.readUInt32BE(0) * 1000 : undefined;
}
