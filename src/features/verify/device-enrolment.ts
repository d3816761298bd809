// The device API's side of Verify push factors (POST /device/v1/verify_factors and the event
// stream's catch-up), in the device API's Authy-style bodies rather than Twilio's.
import type { FastifyRequest } from 'fastify';
import { fail, invalidParameter, type Failure } from '../../core/errors.ts';
import type { Outcome } from '../../wire/route.ts';
import type { DeviceEvent } from '../devices/events.ts';
import type { Device } from '../devices/service.ts';
import type { VerifyFactors } from './factors.ts';
import { baseUrlOf } from './twilio.ts';

export function deviceVerify(factors: VerifyFactors, publicUrl: string | undefined) {
  return {
    async enrol(device: Device, params: Record<string, unknown>, req: FastifyRequest): Promise<Outcome | Failure> {
      const token = params.access_token;
      const name = params.friendly_name;
      if (typeof token !== 'string' || !token) return invalidParameter('access_token', 'Parameter is required');
      if (name !== undefined && typeof name !== 'string') return invalidParameter('friendly_name', 'a string');
      const a = await factors.enrolDevice(device, token, name, baseUrlOf(publicUrl, req));
      if (!a.ok) return a.twilio === 'AUTHENTICATE' ? fail('VERIFY_ACCESS_TOKEN_INVALID') : fail('INVALID_PARAMETER', { message: a.message ?? 'Invalid parameter' });
      const f = a.body as { sid: string; service_sid: string; service_name: string; entity_sid: string; identity: string; friendly_name: string; status: 'verified' };
      return {
        ok: true,
        body: { verify_factor: { sid: f.sid, service_sid: f.service_sid, service_name: f.service_name, entity_sid: f.entity_sid, identity: f.identity, friendly_name: f.friendly_name, status: f.status }, message: 'Push factor enrolled.', success: true },
      };
    },
    catchUp: (device: Device, shown: ReadonlySet<string>, req: FastifyRequest): Promise<DeviceEvent[]> => factors.catchUpForDevice(device.id, shown, baseUrlOf(publicUrl, req)),
  };
}
