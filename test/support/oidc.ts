// A local OpenID Connect provider (the `oidc-provider` package, as an organisation's identity
// provider would answer), started and stopped by the test, and a browser-like walk through its
// sign-in page for tests that speak HTTP: cookies kept per origin, redirects followed, the login
// form filled.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** People at the provider, by login: the claims it gives about them. */
export type People = Record<string, { email: string; email_verified: boolean }>;

export interface LocalProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Answers from now on, for a client that comes back at `redirectUri`. */
  serve(redirectUri: string, people: People): void;
  close(): Promise<void>;
}

/** A port free now, for a server whose address must be configured before it listens (its public URL). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The provider's address first (OpenFactor's configuration names it), its answers once OpenFactor listens. */
export async function startOidcProvider(): Promise<LocalProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'openfactor-console';
  const clientSecret = 'a-client-secret-of-at-least-32-characters';
  return {
    issuer,
    clientId,
    clientSecret,
    serve(redirectUri, people) {
      const provider = new Provider(issuer, {
        clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
        claims: { openid: ['sub'], email: ['email', 'email_verified'] },
        // The dev login page takes any login; only the people above have an account.
        findAccount: async (_ctx, sub) => (people[sub] ? { accountId: sub, claims: async () => ({ sub, ...people[sub] }) } : undefined),
        // The organisation has consented for its console: no consent page after the login.
        loadExistingGrant: async (ctx) => {
          const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
          grant.addOIDCScope('openid email');
          await grant.save();
          return grant;
        },
        pkce: { required: () => true },
        cookies: { keys: ['local-provider-cookie-key'] },
        features: { devInteractions: { enabled: true } },
      });
      server.on('request', provider.callback());
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Cookies per origin, as a browser keeps them (paths aside). */
export class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();
  header(url: string): string {
    return [...(this.jars.get(new URL(url).origin) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(url: string, res: Response): void {
    const jar = this.jars.get(new URL(url).origin) ?? new Map<string, string>();
    this.jars.set(new URL(url).origin, jar);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      const gone = value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now()));
      if (gone) jar.delete(name);
      else jar.set(name, value);
    }
  }
  get(url: string, name: string): string | undefined {
    return this.jars.get(new URL(url).origin)?.get(name);
  }
}

/**
 * From `start` (the console's single sign-on link) through the provider's login form as `login`,
 * to where it all lands: the last response's URL (a redirect to the console) and status.
 */
export async function walkSignIn(start: string, login: string, jar = new CookieJar(), stopAt = (u: URL) => u.pathname.startsWith('/console')): Promise<{ landed: string; jar: CookieJar; status: number }> {
  let url = start;
  let init: RequestInit = {};
  for (let hops = 0; hops < 20; hops++) {
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) } });
    jar.take(url, res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url).href;
      // The console is a page: where the walk ends (or earlier, where the test wants to look).
      if (stopAt(new URL(next))) return { landed: next, jar, status: res.status };
      url = next;
      init = {};
      continue;
    }
    const html = await res.text();
    const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
    if (!form) return { landed: url, jar, status: res.status };
    const fields = new URLSearchParams();
    for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) fields.set(m[1], m[2]);
    fields.set('login', login);
    fields.set('password', 'any password: the dev login takes any');
    url = new URL(form[1].replace(/&amp;/g, '&'), url).href;
    init = { method: 'POST', body: fields.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error('the sign-in did not land within 20 steps');
}
