// A webhook as a customer would keep one: a local receiver, and the events it got, each a JWT
// whose signature (HS256 with the webhook's signing key) is checked before it counts.
import { jwtVerify } from 'jose';
import type { TestApp } from './harness.ts';
import { Receiver } from './onetouch.ts';
import { until } from './wait.ts';

export interface HookEvent {
  event: string;
  objects: Record<string, Record<string, unknown>>;
  webhook_id: string;
}

export async function webhookReceiver(t: TestApp, appId: number, events: string[]) {
  const receiver = await new Receiver().start('/hooks');
  const app = (await t.of.services.applications.find(appId))!;
  const created = await t.of.services.webhooks.create(app, { name: 'test hooks', url: receiver.url, events });
  if (!created.ok) throw new Error(`webhook not created: ${JSON.stringify(created)}`);
  const hook = (created.body as { webhook: { id: string; signing_key: string } }).webhook;
  const key = new TextEncoder().encode(hook.signing_key);
  /** Events whose signature checks, in the order they came. */
  const received = async (): Promise<HookEvent[]> => {
    const out: HookEvent[] = [];
    for (const r of receiver.requests) {
      const { payload } = await jwtVerify(r.body, key, { algorithms: ['HS256'] }).catch(() => ({ payload: undefined }));
      if (payload && (payload as unknown as HookEvent).webhook_id === hook.id) out.push(payload as unknown as HookEvent);
    }
    return out;
  };
  return {
    received,
    /** Waits until `name` has arrived `count` times, and returns those events. */
    async waitFor(name: string, count = 1): Promise<HookEvent[]> {
      await until(`${count} × ${name}`, async () => (await received()).filter((e) => e.event === name).length >= count, 8000);
      return (await received()).filter((e) => e.event === name);
    },
    close: () => receiver.close(),
  };
}
