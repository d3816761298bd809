// The device API (docs/device-api.md): registration, then calls signed by the device's key.
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail, type Failure } from '../../core/errors.ts';
import { parseBody } from '../../wire/body.ts';
import { sendBody, sendFailure } from '../../wire/envelope.ts';
import type { Outcome } from '../../wire/route.ts';
import type { OneTouch } from '../onetouch/service.ts';
import type { DeviceEvent, DeviceEvents } from './events.ts';
import type { ConnectionSlots } from './slots.ts';
import type { Device, Devices } from './service.ts';
import type { PersonDevices } from './person-devices.ts';
import type { PhoneChanges } from './phone-change.ts';
import type { AccountRecoveries } from './account-recovery.ts';
import * as C from './contracts.ts';

const PREFIX = '/device/v1';
const HEARTBEAT_MS = 15_000;

const render = (reply: FastifyReply, o: Outcome | Failure) =>
  o.ok ? sendBody(reply, 'json', 200, o.body) : sendFailure(reply, 'json', o);

/** The moment this request's answer has gone out (or the client left). */
const SHUTDOWN_HINT = 'retry: 1000\n: closed: the server is shutting down; reconnect\n\n';
const answeredOf = (reply: FastifyReply) => (go: () => void) => void reply.raw.once('close', go);
const rawOf = (req: FastifyRequest) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
const paramsOf = (req: FastifyRequest) => parseBody(req.headers['content-type'] ?? 'application/json', rawOf(req).toString('utf8'));

export function registerDeviceRoutes(
  server: FastifyInstance,
  d: {
    devices: Devices;
    people: PersonDevices;
    phoneChanges: PhoneChanges;
    recoveries: AccountRecoveries;
    onetouch: OneTouch;
    /** Twilio Verify push factors served by this device (src/features/verify): enrolment, and its challenges on the event stream. */
    verify?: {
      enrol(device: Device, params: Record<string, unknown>, req: FastifyRequest): Promise<Outcome | Failure>;
      catchUp(device: Device, shown: ReadonlySet<string>, req: FastifyRequest): Promise<DeviceEvent[]>;
    };
    events: DeviceEvents;
    slots: ConnectionSlots;
    vapidPublicKey: string;
  },
): void {
  // Streams and long-polls end when the server closes (they would hold the close up). A stream is
  // told to come back in a second (the SSE `retry` field): to another node, or to this one restarted.
  const closing = new AbortController();
  server.addHook('preClose', async () => closing.abort());
  server.register(async (scope) => {
    // Signatures cover the exact bytes: the body stays raw until checked.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
    /** A route's documentation and its success contract (src/features/devices/contracts.ts); errors share the Authy one. */
    const doc = (summary: string, ok: TSchema | null, signed = true) => ({
      schema: { summary, tags: ['device API'], ...(signed ? { security: [{ deviceSignature: [] }] } : { security: [] }), ...(ok ? { response: { 200: ok } } : {}) },
    });

    /**
     * Runs `fn` for a correctly signed call, else answers 401 / 60087. A device waiting for
     * another's approval may only ask how it stands, or leave (`whilePending`).
     */
    const signed =
      (fn: (device: Device, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>, whilePending = false) =>
      async (req: FastifyRequest, reply: FastifyReply) => {
        const auth = await d.devices.authenticate(req.headers, req.method, req.url, rawOf(req));
        if (!auth.ok) return sendFailure(reply, 'json', auth);
        if (auth.device.pending_since !== null && !whilePending) return sendFailure(reply, 'json', fail('DEVICE_PENDING_APPROVAL'));
        return fn(auth.device, req, reply);
      };

    scope.post(`${PREFIX}/registrations`, doc('Register a device with a registration token (SDK flow)', C.Registered, false), async (req, reply) =>
      render(reply, await d.devices.registerWithToken(paramsOf(req), req.ip)),
    );
    scope.post(`${PREFIX}/phone_registrations`, doc('Start registering a device by phone: a code by SMS or voice', C.PhoneRegistrationStarted, false), async (req, reply) =>
      render(reply, await d.devices.startPhoneRegistration(paramsOf(req), req.ip, answeredOf(reply))),
    );
    scope.post<{ Params: { id: string } }>(`${PREFIX}/phone_registrations/:id/confirm`, doc('Finish registering by phone with the code', C.Registered, false), async (req, reply) =>
      render(reply, await d.devices.confirmPhoneRegistration(req.params.id, paramsOf(req), req.ip)),
    );
    scope.get(`${PREFIX}/push/vapid_public_key`, doc('The VAPID public key for Web Push subscriptions', C.VapidPublicKey, false), async (_req, reply) =>
      render(reply, { ok: true, body: { public_key: d.vapidPublicKey, message: 'VAPID public key.', success: true } }),
    );

    scope.get(`${PREFIX}/accounts`, doc('The accounts (users and their token seeds) on this device', C.Accounts), signed(async (device, _req, reply) => render(reply, await d.devices.accounts(device))));
    scope.get<{ Querystring: { wait?: string } }>(
      `${PREFIX}/approval_requests`,
      doc('Pending approval requests; with ?wait=N (≤ 30 s) held until one arrives', C.PendingApprovals),
      signed(async (device, req, reply) => {
        const raw = Number((req.query as { wait?: string }).wait ?? 0);
        const wait = Number.isFinite(raw) ? raw : 0;
        if (wait <= 0) return render(reply, await d.onetouch.pending(device, 0));
        // Held open: it takes a slot. Taken over by a newer one, it answers at once with what is pending.
        const gone = new AbortController();
        const release = d.slots.take(device.id, () => gone.abort());
        if (!release) return sendFailure(reply, 'json', fail('TOO_MANY_CONNECTIONS'));
        req.raw.on('close', () => gone.abort());
        try {
          return render(reply, await d.onetouch.pending(device, wait, AbortSignal.any([gone.signal, closing.signal])));
        } finally {
          release();
        }
      }),
    );
    scope.post<{ Params: { uuid: string } }>(
      `${PREFIX}/approval_requests/:uuid`,
      doc('Approve or deny, signed over the uuid, the answer and the transaction hash', C.ApprovalAnswered),
      signed(async (device, req, reply) => render(reply, await d.onetouch.answer(device, (req.params as { uuid: string }).uuid, paramsOf(req)))),
    );
    scope.post(
      `${PREFIX}/recovery_codes`,
      doc("A new set of recovery codes for one of this device's accounts, where its application allows it", C.RecoveryCodes),
      signed(async (device, req, reply) => render(reply, await d.devices.newRecoveryCodes(device, paramsOf(req)))),
    );
    scope.put(`${PREFIX}/push_subscription`, doc('Set or clear the Web Push subscription', C.Done), signed(async (device, req, reply) => render(reply, await d.devices.setPush(device, paramsOf(req)))));
    scope.delete(`${PREFIX}/device`, doc('Unregister this device', C.Done), signed(async (device, _req, reply) => render(reply, await d.devices.unregister(device)), true));
    scope.put(`${PREFIX}/device`, doc('Name this device: {"name": "Anna\'s laptop"} (1 to 64 characters, no control characters)', C.DeviceState), signed(async (device, req, reply) => render(reply, await d.devices.rename(device, paramsOf(req)))));
    scope.get(
      `${PREFIX}/device`,
      doc('This device: active, or waiting (for an approval, or for its account recovery to end)', C.DeviceState),
      signed(async (device, _req, reply) => render(reply, await d.recoveries.deviceStatus(device)), true),
    );

    // Account recovery without any device (issue 17).
    scope.post(`${PREFIX}/account_recoveries`, doc('Start an account recovery: a code to the phone, another by email', C.AccountRecoveryStarted, false), async (req, reply) =>
      render(reply, await d.recoveries.start(paramsOf(req), answeredOf(reply))),
    );
    scope.post<{ Params: { id: string } }>(`${PREFIX}/account_recoveries/:id/confirm`, doc('Both codes and the new device: the waiting period starts', C.RecoveryRegistered, false), async (req, reply) =>
      render(reply, await d.recoveries.confirm(req.params.id, paramsOf(req), req.ip)),
    );
    scope.get(`${PREFIX}/account_recoveries`, doc("This person's account recoveries now waiting", C.AccountRecoveries), signed(async (device, _req, reply) => render(reply, await d.recoveries.waiting(device))));
    scope.delete<{ Params: { id: string } }>(
      `${PREFIX}/account_recoveries/:id`,
      doc('Cancel an account recovery of this person', C.AccountRecoveryCanceled),
      signed(async (device, req, reply) => render(reply, await d.recoveries.cancel(device, (req.params as { id: string }).id))),
    );

    // The person's other devices (issue 17).
    scope.get(`${PREFIX}/devices`, doc("This person's devices, and whether new ones may join", C.PersonDevices), signed(async (device, _req, reply) => render(reply, await d.people.list(device))));
    scope.delete<{ Params: { id: string } }>(
      `${PREFIX}/devices/:id`,
      doc('Remove another device of this person', C.Done),
      signed(async (device, req, reply) => render(reply, await d.people.remove(device, (req.params as { id: string }).id))),
    );
    scope.put(`${PREFIX}/settings`, doc('Allow or refuse new devices: {"allow_new_devices": bool}', C.Settings), signed(async (device, req, reply) => render(reply, await d.people.updateSettings(device, paramsOf(req)))));
    scope.get(`${PREFIX}/device_requests`, doc('New devices of this person waiting for an approval', C.DeviceRequests), signed(async (device, _req, reply) => render(reply, await d.people.requests(device))));
    scope.post<{ Params: { id: string } }>(
      `${PREFIX}/device_requests/:id`,
      doc('Approve or deny a new device, signed over the request, the answer and its key', C.DeviceRequestAnswered),
      signed(async (device, req, reply) => render(reply, await d.people.answer(device, (req.params as { id: string }).id, paramsOf(req)))),
    );
    scope.post(`${PREFIX}/phone_changes`, doc('Move to a new number: a code to it, another by email', C.PhoneChangeRequested), signed(async (device, req, reply) => render(reply, await d.phoneChanges.request(device, paramsOf(req)))));
    scope.post<{ Params: { id: string } }>(
      `${PREFIX}/phone_changes/:id/confirm`,
      doc('Finish a phone change with both codes', C.PhoneChangeCompleted),
      signed(async (device, req, reply) => render(reply, await d.phoneChanges.confirm(device, (req.params as { id: string }).id, paramsOf(req)))),
    );
    scope.delete<{ Params: { id: string } }>(
      `${PREFIX}/phone_changes/:id`,
      doc('Cancel a phone change', C.PhoneChangeCanceled),
      signed(async (device, req, reply) => render(reply, await d.phoneChanges.cancel(device, (req.params as { id: string }).id))),
    );

    if (d.verify) {
      const verify = d.verify;
      scope.post(
        `${PREFIX}/verify_factors`,
        doc('Enrol a Twilio Verify push factor with an access token: {"access_token", "friendly_name"}; its challenges then come on the event stream', C.VerifyFactorEnrolled),
        signed(async (device, req, reply) => render(reply, await verify.enrol(device, paramsOf(req), req))),
      );
    }

    scope.get(
      `${PREFIX}/events`,
      doc('Server-Sent Events: approval_request, approval_request_updated, device_request, account_recovery, verify_challenge, verify_challenge_updated; ended with `retry` when the server stops', null), // a stream, not a JSON body: no contract
      signed(async (device, req, reply) => {
        const release = d.slots.take(device.id, () => end(': closed: a newer connection of this device took its place\n\n'));
        if (!release) return sendFailure(reply, 'json', fail('TOO_MANY_CONNECTIONS'));
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        // Each request is shown once, whether it came live or from the database (see catchUp).
        const shown = new Set<string>();
        let ended = false;
        const deliver = (e: DeviceEvent) => {
          if (ended) return;
          if (e.type === 'approval_request' || e.type === 'verify_challenge') {
            const id = String(e.type === 'approval_request' ? e.data.uuid : e.data.sid);
            if (shown.has(id)) return;
            shown.add(id);
          } else if (e.type === 'approval_request_updated') shown.delete(e.data.uuid);
          else if (e.type === 'verify_challenge_updated') shown.delete(e.data.sid);
          res.write(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
        };
        const catchUp = async () => {
          for (const e of await d.onetouch.catchUp(device, shown)) deliver(e);
          if (d.verify) for (const e of await d.verify.catchUp(device, shown, req)) deliver(e);
        };
        // Subscribe first, then send what is already pending: nothing falls between the two.
        const off = d.events.subscribe(device.id, deliver, catchUp);
        const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
        function end(why?: string) {
          if (ended) return;
          ended = true;
          release!(); // set: `end` runs only after the slot was taken
          off();
          clearInterval(beat);
          closing.signal.removeEventListener('abort', onClosing);
          res.end(why);
        }
        const onClosing = () => end(SHUTDOWN_HINT);
        req.raw.on('close', () => end());
        closing.signal.addEventListener('abort', onClosing);
        res.write(': connected\n\n');
        // What is pending now (the device is then notified of it); the device retries a stream that ends.
        await catchUp().catch((err: Error) => {
          req.log.warn({ err: err.message }, 'event stream: could not read pending requests');
          end();
        });
      }),
    );
  });
}

