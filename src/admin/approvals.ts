// OneTouch for the console itself: an administrator's sign-in is approved on the devices of their
// own user in one of the service's applications, through the same approval requests, device
// signatures and expiry that protect the customers' logins.
import type { Kysely } from 'kysely';
import type { Application, Applications } from '../features/applications/service.ts';
import { deviceKeysOfUser } from '../features/devices/queries.ts';
import type { OneTouch } from '../features/onetouch/service.ts';
import { findUser } from '../features/users/queries.ts';
import type { DB } from '../store/schema.ts';
import type { AdminApprovals } from './accounts.ts';
import { SECOND_FACTOR_WAIT_MS } from './accounts.ts';

export function consoleApprovals(db: Kysely<DB>, applications: Applications, oneTouch?: OneTouch): AdminApprovals {
  const appOf = async (appId: number): Promise<Application | undefined> => {
    const app = await applications.find(appId);
    return app?.onetouchEnabled ? app : undefined;
  };
  return {
    async canApprove(appId, authyId) {
      const user = (await appOf(appId)) && (await findUser(db, appId, authyId));
      return !!user && (await deviceKeysOfUser(db, user.id)).length > 0;
    },
    async request(appId, authyId, details) {
      const app = await appOf(appId);
      if (!app || !oneTouch) return undefined;
      const made = await oneTouch.create(app, String(authyId), { message: 'Sign in to the OpenFactor console', details, seconds_to_expire: SECOND_FACTOR_WAIT_MS / 1000 });
      if (!made.ok) return undefined;
      const r = made.body.approval_request as { uuid: string; number?: number };
      return { uuid: r.uuid, ...(r.number === undefined ? {} : { number: r.number }) };
    },
    async status(appId, uuid) {
      const app = await appOf(appId);
      const r = app && oneTouch ? await oneTouch.status(app, uuid) : undefined;
      return r?.ok ? ((r.body.approval_request as { status: 'pending' | 'approved' | 'denied' | 'expired' }).status) : undefined;
    },
  };
}
