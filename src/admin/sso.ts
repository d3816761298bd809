// Administrators' single sign-on through the organisation's OpenID Connect provider (openid-client):
// the authorization code flow with PKCE, state and nonce; the provider's verified email names the
// administrator, who must already have an account here (no one is added by signing in). The
// second factor, when asked, still comes from OpenFactor itself.
import type { FastifyInstance, FastifyReply } from 'fastify';
import * as oidc from 'openid-client';
import type { AdminSso } from '../config.ts';
import type { Services } from '../app.ts';
import { fail } from '../core/errors.ts';
import { sendFailure } from '../wire/envelope.ts';
import { holdSignIn, setSessionCookie } from './access-routes.ts';
import type { AuthFailures } from '../wire/auth-failures.ts';
import * as C from './contracts.ts';

/** The flow's state, nonce and PKCE verifier, between leaving for the provider and coming back. */
const FLOW_COOKIE = 'openfactor_admin_sso';
const FLOW_SECONDS = 600;
const CONSOLE = '/console/';

/** The provider's metadata, fetched once it is first needed (and again after a failure). */
function providerOf(sso: AdminSso): () => Promise<oidc.Configuration> {
  let found: Promise<oidc.Configuration> | undefined;
  return () => {
    found ??= oidc
      .discovery(new URL(sso.issuer), sso.clientId, sso.clientSecret, undefined, sso.issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err) => {
        found = undefined;
        throw err;
      });
    return found;
  };
}

export function registerSsoRoutes(
  admin: FastifyInstance,
  sso: AdminSso | undefined,
  s: Pick<Services, 'audit' | 'adminAccounts'>,
  o: { failures: AuthFailures; secureCookies?: boolean; publicUrl?: string },
): void {
  const provider = sso && providerOf(sso);
  // Configured, never taken from the request's Host header (config.ts requires one of the two).
  const redirectUri = () => sso?.redirectUri ?? `${o.publicUrl}/admin/sso/callback`;
  /** Back to the console, which says what happened (`#/sign-in/…`) or opens. */
  const toConsole = (reply: FastifyReply, hash: string) => reply.clearCookie(FLOW_COOKIE, { path: '/admin/sso' }).redirect(`${CONSOLE}${hash}`, 303);

  admin.get(
    '/admin/sign_in_options',
    { schema: { summary: 'How administrators may sign in: a password, and single sign-on when configured', tags: ['admin'], response: { 200: C.SignInOptionsBody } } },
    async (_req, reply) =>
      reply.type('application/json; charset=utf-8').send(JSON.stringify({ password: true, sso: sso ? { name: sso.name, url: '/admin/sso' } : null, message: 'Ways to sign in.', success: true })),
  );

  // What these answers carry (a redirect with a state, a cookie) is for one browser, once.
  admin.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/admin/sso')) reply.header('cache-control', 'no-store');
    return payload;
  });

  admin.get('/admin/sso', { schema: { summary: 'Single sign-on: off to the OpenID Connect provider, back at /admin/sso/callback', tags: ['admin'] } }, async (req, reply) => {
    if (!sso || !provider) return sendFailure(reply, 'json', fail('ADMIN_SSO_OFF'));
    let config: oidc.Configuration;
    try {
      config = await provider();
    } catch (err) {
      req.log.warn({ event: 'admin_sso_discovery_failed', err: (err as Error).message }, 'the OpenID Connect provider could not be reached');
      return toConsole(reply, '#/sign-in/sso-unreachable');
    }
    const flow = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri(),
      scope: 'openid email',
      response_type: 'code',
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
    });
    // Lax, not Strict: the provider's redirect back is a navigation from another site.
    reply.setCookie(FLOW_COOKIE, JSON.stringify(flow), { path: '/admin/sso', httpOnly: true, sameSite: 'lax', secure: o.secureCookies === true, maxAge: FLOW_SECONDS, signed: true });
    return reply.redirect(url.href, 303);
  });

  admin.get('/admin/sso/callback', { schema: { summary: 'Where the OpenID Connect provider sends the administrator back', tags: ['admin'] } }, async (req, reply) => {
    if (!sso || !provider) return sendFailure(reply, 'json', fail('ADMIN_SSO_OFF'));
    const signed = req.unsignCookie(req.cookies[FLOW_COOKIE] ?? '');
    let flow: { state: string; nonce: string; verifier: string } | undefined;
    try {
      flow = signed.valid && signed.value ? JSON.parse(signed.value) : undefined;
    } catch {
      flow = undefined;
    }
    let email: string | undefined;
    try {
      if (!flow) throw new Error('no sign-in was started from this browser, or it took over ten minutes');
      const config = await provider();
      // The redirect URI as registered (a proxy may have cut a prefix from the path), with the provider's answer.
      const here = new URL(redirectUri());
      here.search = new URL(req.url, 'http://callback.invalid').search;
      const tokens = await oidc.authorizationCodeGrant(config, here, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      let found = { email: claims.email, verified: claims.email_verified };
      if (typeof found.email !== 'string') {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        found = { email: info.email, verified: info.email_verified };
      }
      // An address the provider has not verified could be anyone's: it names no administrator.
      if (typeof found.email !== 'string' || found.verified !== true) throw new Error('the provider gave no verified email');
      email = found.email;
    } catch (err) {
      req.log.warn({ event: 'admin_sso_failed', err: (err as Error).message }, 'single sign-on did not complete');
      await s.audit.append({ actor: 'unknown', actorKind: 'admin', ip: req.ip, action: 'admin.sign_in_failed', detail: { via: 'sso', reason: 'provider' } });
      if (await o.failures.failed('admin_token', req.ip, reply.clearCookie(FLOW_COOKIE, { path: '/admin/sso' }), 'json')) return reply;
      return toConsole(reply, '#/sign-in/sso-failed');
    }
    const r = await s.adminAccounts.signInBySso(email, req.ip);
    if (r.ok) {
      await s.audit.append({ actor: r.principal.name, actorKind: 'admin', ip: req.ip, action: 'admin.sign_in', appId: r.principal.appId ?? null, detail: { via: 'sso' } });
      return toConsole(setSessionCookie(reply, r, o.secureCookies), '#/');
    }
    if (r.reason === 'code_required') return toConsole(holdSignIn(reply, r, o.secureCookies), `#/sign-in/second-factor${r.onetouch ? '-onetouch' : ''}`);
    await s.audit.append({ actor: r.email || 'unknown', actorKind: 'admin', ip: req.ip, action: 'admin.sign_in_failed', detail: { via: 'sso', reason: r.reason } });
    if (await o.failures.failed('admin_token', req.ip, reply.clearCookie(FLOW_COOKIE, { path: '/admin/sso' }), 'json')) return reply;
    return toConsole(reply, '#/sign-in/sso-no-account');
  });
}
