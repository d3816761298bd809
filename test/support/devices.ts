// A person's phone as the device SDK registers it: by phone number and the code texted to it.
import { OpenFactorDevice, OpenFactorError, type AccountRecovery } from '../../sdk/device/src/index.ts';
import type { TestApp } from './harness.ts';
import { codeIn, delivered } from './tokens.ts';

/** A US number as OpenFactor stores it (`415-555-0101` → `+14155550101`). */
export const e164 = (n: string) => `+1${n.replace(/\D/g, '')}`;

/** Registers a device by phone (a US number); `last` is the id of the SMS that carried its code. */
export async function phoneDevice(t: TestApp, base: string, number: string, name?: string): Promise<{ device: OpenFactorDevice; last: string }> {
  const start = await OpenFactorDevice.startPhoneRegistration(base, { countryCode: '1', phoneNumber: number, via: 'sms' });
  await t.of.services.devices.settled();
  const msg = await delivered(t, e164(number));
  const device = await OpenFactorDevice.confirmPhoneRegistration(base, start.registrationId, codeIn(msg.text, 6), name === undefined ? {} : { name });
  return { device, last: msg.id };
}

/** For `assert.rejects`: the SDK's error with this Authy error code. */
export const errorCode = (code: string) => (e: unknown) => e instanceof OpenFactorError && e.code === code;

/** Opens the device's event stream and collects the account recoveries it is told of, until `stop()`. */
export async function recoveriesToldTo(device: OpenFactorDevice): Promise<{ told: AccountRecovery[]; stop: () => Promise<void> }> {
  const told: AccountRecovery[] = [];
  const abort = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const listening = device.listen(() => {}, { signal: abort.signal, onOpen: () => opened(), onAccountRecovery: (r) => told.push(r) });
  await open;
  return { told, stop: async () => void (abort.abort(), await listening) };
}
