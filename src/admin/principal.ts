// The principal of an admin request, set by the admin API's authentication hook (routes.ts) and
// read by the routes that depend on who asks (the applications list, /admin/me, tokens, audit).
import type { FastifyRequest } from 'fastify';
import type { Principal } from './access.ts';

const principals = new WeakMap<FastifyRequest, Principal>();

export const setPrincipal = (req: FastifyRequest, p: Principal) => void principals.set(req, p);

/** Only called on routes behind the hook, which refuses any request without a principal. */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (!p) throw new Error('admin route reached without a principal');
  return p;
}
