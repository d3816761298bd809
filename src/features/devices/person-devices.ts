// A person's devices (issue 17, multi-device): from any of their registered devices they list
// and remove the others, allow or refuse new ones, and approve or deny a device that registered
// by phone while others existed. An approval is signed by the approving device and kept.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { unseal, type MasterKey } from '../../core/crypto.ts';
import { verifyDeviceSignature } from '../../core/device-signature.ts';
import { fail } from '../../core/errors.ts';
import { readBool, readString, type Params } from '../../core/params.ts';
import type { DB } from '../../store/schema.ts';
import type { Outcome } from '../../wire/route.ts';
import type { Webhooks } from '../webhooks/service.ts';
import type { DeviceEvents } from './events.ts';
import * as people from './person-queries.ts';
import { pushToDevices, type WebPush } from './push.ts';
import * as q from './queries.ts';
import { publicKeyContext, type Device } from './service.ts';

/**
 * What an approving device signs: the request, the answer, and a hash of the new device's public
 * key as the approver was shown it (an approval cannot be moved to another key).
 */
export const deviceApprovalString = (id: number, status: 'approved' | 'denied', publicKey: string) =>
  `device-request|${id}|${status}|${createHash('sha256').update(publicKey, 'utf8').digest('base64url')}`;

export interface PersonDeviceDeps {
  db: Kysely<DB>;
  keys: MasterKey[];
  events: DeviceEvents;
  webhooks: Webhooks;
  push: WebPush;
  log: FastifyBaseLogger;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export class PersonDevices {
  constructor(private readonly d: PersonDeviceDeps) {}

  /** The other live devices of a phone, before a new one registers with it (pending ones aside). */
  async activeDevicesOfPhone(phoneIndex: string) {
    return (await people.devicesOfPhones(this.d.db, [phoneIndex])).filter((r) => r.pending_since === null);
  }

  allowsNewDevices(phoneIndex: string): Promise<boolean> {
    return people.allowsNewDevices(this.d.db, [phoneIndex]);
  }

  /** A device registered by phone while others exist waits (created pending); they are told at once. */
  async askOthers(id: number, others: { id: number }[], now: number): Promise<void> {
    const row = (await q.findDeviceKey(this.d.db, id))!;
    const data = { id, name: row.name, os_type: row.os_type, created_at: iso(now) };
    this.d.events.publish(
      others.map((o) => o.id),
      { type: 'device_request', data },
    );
    void pushToDevices(this.d, others.map((o) => o.id), { type: 'device_request', ...data });
    this.d.log.info({ event: 'device_pending_approval', device: id, others: others.length }, 'a new device waits for approval from another device');
  }

  /** `GET /device/v1/devices`: this person's devices, and whether new ones may join. */
  async list(device: Device): Promise<Outcome> {
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    const rows = await people.devicesOfPhones(this.d.db, phones);
    return {
      ok: true,
      body: {
        devices: rows.map((r) => ({
          id: r.id,
          name: r.name,
          os_type: r.os_type,
          registration_method: r.registration_method,
          status: r.pending_since === null ? 'active' : r.recovery_id !== null ? 'pending_recovery' : 'pending_approval',
          this_device: r.id === device.id,
          created_at: iso(r.created_at),
          last_seen_at: iso(r.last_seen_at),
        })),
        allow_new_devices: await people.allowsNewDevices(this.d.db, phones),
        message: 'Devices.',
        success: true,
      },
    };
  }

  /** `DELETE /device/v1/devices/{id}`: another device of this person stops working. */
  async remove(device: Device, idText: string): Promise<Outcome> {
    const target = await this.otherDevice(device, idText);
    if (!target) return fail('DEVICE_NOT_FOUND');
    await q.removeDevice(this.d.db, target.id, Date.now());
    this.d.log.info({ event: 'device_removed_by_other', device: target.id, by: device.id }, 'a device was removed from another device of the same person');
    return { ok: true, body: { message: 'Device removed.', success: true } };
  }

  /** `PUT /device/v1/settings` `{"allow_new_devices": false}`. */
  async updateSettings(device: Device, body: Params): Promise<Outcome> {
    const allow = readBool(body, 'allow_new_devices', true);
    if (!allow.ok) return allow;
    if (!('allow_new_devices' in body)) return fail('INVALID_PARAMETER', { message: 'Invalid parameter: allow_new_devices - is missing' });
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    await people.setAllowNewDevices(this.d.db, phones, allow.value, Date.now());
    this.d.log.info({ event: 'allow_new_devices_changed', device: device.id, allow: allow.value }, 'new devices allowed or refused');
    return { ok: true, body: { allow_new_devices: allow.value, message: 'Settings saved.', success: true } };
  }

  /** `GET /device/v1/device_requests`: devices of this person waiting for an approval. */
  async requests(device: Device): Promise<Outcome> {
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    // A device in account recovery waits for the recovery's end: no other device may speed it up.
    const rows = (await people.devicesOfPhones(this.d.db, phones)).filter((r) => r.pending_since !== null && r.recovery_id === null && r.id !== device.id);
    return {
      ok: true,
      body: {
        device_requests: rows.map((r) => ({ id: r.id, name: r.name, os_type: r.os_type, created_at: iso(r.created_at), public_key: this.publicKeyOf(r) })),
        message: 'Device requests.',
        success: true,
      },
    };
  }

  /** `POST /device/v1/device_requests/{id}` `{"status":"approved"|"denied","signature":"…"}`. */
  async answer(device: Device, idText: string, body: Params): Promise<Outcome> {
    const target = await this.otherDevice(device, idText);
    if (!target || target.pending_since === null || target.recovery_id !== null) return fail('DEVICE_NOT_FOUND');
    const status = readString(body, 'status');
    if (!status.ok || (status.value !== 'approved' && status.value !== 'denied')) {
      return fail('INVALID_PARAMETER', { message: 'Invalid parameter: status - must be approved or denied' });
    }
    const signature = readString(body, 'signature');
    const signed = deviceApprovalString(target.id, status.value, this.publicKeyOf(target));
    if (!signature.ok || !signature.value || !verifyDeviceSignature(device.algorithm, device.publicKey, signed, signature.value)) return fail('SIGNATURE_INVALID');
    const now = Date.now();
    if (status.value === 'denied') {
      await q.removeDevice(this.d.db, target.id, now);
      this.d.log.info({ event: 'device_request_denied', device: target.id, by: device.id }, 'a new device was denied');
      return { ok: true, body: { device: { id: target.id, status: 'denied' }, message: 'Device denied.', success: true } };
    }
    const linked = await this.d.db.transaction().execute(async (trx) => {
      if (!(await people.approvePending(trx, target.id, device.id, signature.value!))) return false;
      const key = (await q.findDeviceKey(trx, target.id))!;
      for (const u of key.phone_index ? await q.syncableUsers(trx, key.phone_index) : []) {
        await q.linkDevice(trx, { deviceKeyId: key.id, appId: u.app_id, userId: u.user_id, osType: key.os_type, method: key.registration_method, ip: key.ip, now });
        await this.d.webhooks.emit(trx, u.app_id, 'device_registration_completed', { user: { s_authy_id: String(u.user_id) }, device: { i_id: key.id } }, now);
      }
      return true;
    });
    if (!linked) return fail('DEVICE_NOT_FOUND');
    this.d.log.info({ event: 'device_request_approved', device: target.id, by: device.id }, 'a new device was approved by another device');
    return { ok: true, body: { device: { id: target.id, status: 'active' }, message: 'Device approved.', success: true } };
  }

  /** Another live device of the same person, by id; undefined for any other id. */
  private async otherDevice(device: Device, idText: string): Promise<people.PersonDeviceRow | undefined> {
    if (!/^\d{1,10}$/.test(idText) || Number(idText) === device.id) return undefined;
    const phones = await people.phonesOfDevice(this.d.db, device.id);
    return (await people.devicesOfPhones(this.d.db, phones)).find((r) => r.id === Number(idText));
  }

  private publicKeyOf(r: { id: number; public_key_sealed: string | null }): string {
    return r.public_key_sealed ? unseal(this.d.keys, r.public_key_sealed, publicKeyContext(r.id)).toString('utf8') : '';
  }
}
