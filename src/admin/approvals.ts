// OneTouch for the console itself: an administrator's sign-in is approved on one of the devices
// linked to their account, through the same approval requests, device signatures and expiry that
// protect the customers' logins. The devices are pinned when an owner links them: a device
// registered later for the same user (by whoever holds that application's API key) is not one.
import type { Kysely } from 'kysely';
import type { Application, Applications } from '../features/applications/service.ts';
import type { OneTouch } from '../features/onetouch/service.ts';
import type { DB } from '../store/schema.ts';
import type { AdminApprovals } from './accounts.ts';
import { SECOND_FACTOR_WAIT_MS } from './accounts.ts';
import { answeringDevice, deviceKeysOfUser } from './account-queries.ts';

type Status = 'pending' | 'approved' | 'denied' | 'expired';

export function consoleApprovals(db: Kysely<DB>, applications: Applications, oneTouch?: OneTouch): AdminApprovals {
  const appOf = async (appId: number): Promise<Application | undefined> => {
    const app = await applications.find(appId);
    return app?.onetouchEnabled ? app : undefined;
  };
  return {
    async devicesOf(appId, authyId) {
      return (await appOf(appId)) ? deviceKeysOfUser(db, appId, authyId) : [];
    },
    async request(appId, authyId, details) {
      const app = await appOf(appId);
      if (!app || !oneTouch) return undefined;
      // Number matching always: a push sent by someone who has only the password is not approved by a tap.
      const made = await oneTouch.create(app, String(authyId), { message: 'Sign in to the OpenFactor console', details, seconds_to_expire: SECOND_FACTOR_WAIT_MS / 1000, number_matching: true });
      if (!made.ok) return undefined;
      const r = made.body.approval_request as { uuid: string; number?: number };
      return { uuid: r.uuid, ...(r.number === undefined ? {} : { number: r.number }) };
    },
    async status(appId, uuid) {
      const app = await appOf(appId);
      const r = app && oneTouch ? await oneTouch.status(app, uuid) : undefined;
      if (!r?.ok) return undefined;
      const status = (r.body.approval_request as { status: Status }).status;
      return { status, deviceKeyId: status === 'approved' ? await answeringDevice(db, uuid) : null };
    },
    async cancel(appId, uuid) {
      const app = await appOf(appId);
      if (app && oneTouch) await oneTouch.cancel(app, uuid);
    },
  };
}
