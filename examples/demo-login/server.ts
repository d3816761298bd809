// The demo login: a small website ("Example Bank") that adds a second factor the way an Authy
// customer does, through the official `authy-client` library pointed at OpenFactor. After the
// password it sends a OneTouch request to the user's devices and waits for the answer; the user
// may instead ask for a code by SMS or voice, or type one from an authenticator app.
//
//   npm start            # OpenFactor, in one terminal
//   npm run demo         # this site, at http://127.0.0.1:3000
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { build } from 'esbuild';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { Accounts } from './accounts.ts';

/** The part of authy-client (CommonJS, untyped) that the demo uses. */
interface AuthyClient {
  registerUser(u: { countryCode: string; email: string; phone: string }): Promise<{ user: { id: number } }>;
  createApprovalRequest(r: { authyId: number; message: string; details?: { visible?: Record<string, string>; hidden?: Record<string, string> } }, o?: { ttl?: number }): Promise<{ approval_request: { uuid: string; number?: number } }>;
  getApprovalRequest(r: { id: string }): Promise<{ approval_request: { status: string } }>;
  requestSms(r: { authyId: number }, o?: { force?: boolean }): Promise<{ cellphone: string }>;
  requestCall(r: { authyId: number }, o?: { force?: boolean }): Promise<{ cellphone: string }>;
  verifyToken(r: { authyId: number; token: string }, o?: { force?: boolean }): Promise<unknown>;
}
const { Client } = createRequire(import.meta.url)('authy-client') as { Client: new (o: { key: string }, p: { host: string }) => AuthyClient };

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
const CHALLENGE = 'demo_challenge';
const SESSION = 'demo_session';

export interface DemoOptions {
  /** OpenFactor's base URL. */
  openfactorUrl: string;
  /** The API key of the application the demo signs users into. */
  apiKey: string;
  /** Set `Secure` on cookies (behind HTTPS). */
  secureCookies?: boolean;
}

export async function createDemo(o: DemoOptions): Promise<FastifyInstance> {
  const authy = new Client({ key: o.apiKey }, { host: o.openfactorUrl });
  // Wrong passwords per email: 5 in 15 minutes, then 15 minutes of refusals (the second factor has
  // OpenFactor's own caps).
  const wrongPasswords = new RateLimiterMemory({ points: 5, duration: 900, blockDuration: 900 });
  const accounts = new Accounts();
  const server = Fastify({ logger: false });
  // The page's script, bundled once at start (it shares the DOM builder of OpenFactor's own pages).
  const script = await build({ entryPoints: [`${PUBLIC}app.ts`], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false });
  server.get('/app.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(script.outputFiles[0].text));
  await server.register(fastifyStatic, { root: PUBLIC, prefix: '/', allowedPath: (path) => !path.endsWith('.ts') });
  server.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', "default-src 'self'; frame-ancestors 'none'");
    reply.header('x-content-type-options', 'nosniff');
  });

  const cookie = (req: FastifyRequest, name: string) =>
    req.headers.cookie?.split(/;\s*/).find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1);
  const setCookie = (reply: FastifyReply, name: string, value: string, maxAge: number) =>
    reply.header('set-cookie', `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${o.secureCookies ? '; Secure' : ''}`);
  const field = (req: FastifyRequest, name: string) => {
    const v = (req.body as Record<string, unknown> | undefined)?.[name];
    return typeof v === 'string' ? v.trim() : '';
  };
  const refuse = (reply: FastifyReply, status: number, message: string) => reply.code(status).send({ message });
  /** The second factor passed: the challenge cookie gives way to a session cookie. */
  const signIn = (reply: FastifyReply, challengeId: string, email: string) => {
    reply.header('set-cookie', [
      `${CHALLENGE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
      `${SESSION}=${accounts.completeChallenge(challengeId, email)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800${o.secureCookies ? '; Secure' : ''}`,
    ]);
    return { status: 'signed_in', email };
  };
  /**
   * The OneTouch request of a sign-in that ended another way (a code, or Cancel) is moot: ended, so
   * the person's devices drop it. That is OpenFactor's addition to the API (authy-client has no
   * call for it), hence a plain request; a failure leaves it to expire.
   */
  const endApproval = async (uuid: string | null) => {
    if (!uuid) return;
    await fetch(`${o.openfactorUrl}/onetouch/json/approval_requests/${uuid}/cancel`, { method: 'POST', headers: { 'x-authy-api-key': o.apiKey } }).catch(() => {});
  };
  /** The sign-in waiting for its second factor, with its account. */
  const pending = (req: FastifyRequest) => {
    const id = cookie(req, CHALLENGE);
    const challenge = accounts.challenge(id);
    const account = challenge && accounts.get(challenge.email);
    return id && challenge && account ? { id, challenge, account } : undefined;
  };

  server.post('/api/signup', async (req, reply) => {
    const [email, password, countryCode, phone] = ['email', 'password', 'country_code', 'phone'].map((n) => field(req, n));
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) return refuse(reply, 400, 'Enter your email address.');
    if (password.length < 8) return refuse(reply, 400, 'Choose a password of at least 8 characters.');
    if (accounts.has(email)) return refuse(reply, 409, 'There is an account with that email already: sign in.');
    try {
      const { user } = await authy.registerUser({ countryCode, email, phone });
      await accounts.add(email, password, user.id, phone);
    } catch (e) {
      return refuse(reply, 400, authyMessage(e));
    }
    return { message: 'Account created: sign in.' };
  });

  server.post('/api/login', async (req, reply) => {
    const email = field(req, 'email').toLowerCase();
    const locked = await wrongPasswords.get(email);
    if (locked && locked.consumedPoints >= 5) return refuse(reply, 429, `Too many wrong passwords: try again in ${Math.ceil(locked.msBeforeNext / 60_000)} minutes.`);
    const account = await accounts.checkPassword(field(req, 'email'), field(req, 'password'));
    if (!account) {
      await wrongPasswords.consume(email).catch((e) => {
        if (!(e instanceof RateLimiterRes)) throw e;
      });
      return refuse(reply, 401, 'That email and password do not match.');
    }
    await wrongPasswords.delete(email);
    // OneTouch first: the request goes to the user's devices; without one the user picks a code.
    let uuid: string | null = null;
    let number: number | undefined;
    try {
      const created = await authy.createApprovalRequest(
        { authyId: account.authyId, message: 'Sign in to Example Bank', details: { visible: { Email: account.email, From: req.ip } } },
        { ttl: 120 },
      );
      uuid = created.approval_request.uuid;
      number = created.approval_request.number;
    } catch {
      // OneTouch unavailable: the codes still work.
    }
    setCookie(reply, CHALLENGE, accounts.startChallenge(account.email, uuid), 300);
    return { status: 'second_factor', onetouch: uuid !== null, number, phone_end: account.phoneEnd };
  });

  /** Polled by the page while the OneTouch request is out. */
  server.get('/api/login', async (req, reply) => {
    const p = pending(req);
    if (!p) return refuse(reply, 401, 'Sign in again.');
    if (!p.challenge.approvalUuid) return { status: 'second_factor' };
    let r: { status: string };
    try {
      r = (await authy.getApprovalRequest({ id: p.challenge.approvalUuid })).approval_request;
    } catch (e) {
      return refuse(reply, 502, authyMessage(e));
    }
    if (r.status === 'approved') return signIn(reply, p.id, p.account.email);
    return { status: r.status === 'pending' ? 'second_factor' : `onetouch_${r.status}` };
  });

  for (const via of ['sms', 'call'] as const) {
    server.post(`/api/login/${via}`, async (req, reply) => {
      const p = pending(req);
      if (!p) return refuse(reply, 401, 'Sign in again.');
      try {
        const { authyId } = p.account;
        await (via === 'sms' ? authy.requestSms({ authyId }, { force: true }) : authy.requestCall({ authyId }, { force: true }));
      } catch (e) {
        return refuse(reply, (e as { code?: unknown }).code === 429 ? 429 : 400, authyMessage(e));
      }
      return { message: via === 'sms' ? `We texted a code to your phone ending in ${p.account.phoneEnd}.` : `We are calling your phone ending in ${p.account.phoneEnd}.` };
    });
  }

  server.post('/api/login/verify', async (req, reply) => {
    const p = pending(req);
    if (!p) return refuse(reply, 401, 'Sign in again.');
    const token = field(req, 'token').replace(/\s/g, '');
    if (!/^\d{6,8}$/.test(token)) return refuse(reply, 400, 'Enter the 6 to 8 digits of your code.');
    try {
      await authy.verifyToken({ authyId: p.account.authyId, token }, { force: true });
    } catch (e) {
      return refuse(reply, 401, authyMessage(e));
    }
    await endApproval(p.challenge.approvalUuid);
    return signIn(reply, p.id, p.account.email);
  });

  // The person gave up on signing in: the challenge goes, and so does the request on their devices.
  server.post('/api/login/cancel', async (req, reply) => {
    const p = pending(req);
    reply.header('set-cookie', `${CHALLENGE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    if (!p) return { message: 'Nothing to cancel.' };
    accounts.dropChallenge(p.id);
    await endApproval(p.challenge.approvalUuid);
    return { message: 'Sign-in canceled.' };
  });

  server.get('/api/me', async (req, reply) => {
    const account = accounts.session(cookie(req, SESSION));
    return account ? { email: account.email } : refuse(reply, 401, 'Not signed in.');
  });

  server.post('/api/logout', async (req, reply) => {
    accounts.endSession(cookie(req, SESSION));
    setCookie(reply, SESSION, '', 0);
    return { message: 'Signed out.' };
  });

  return server;
}

/** What OpenFactor said, in words for the person signing in. */
function authyMessage(e: unknown): string {
  const err = e as { body?: { error_code?: string; message?: string }; errors?: Record<string, unknown>; message?: string };
  switch (err.body?.error_code) {
    case '60020':
      return 'That code is not right.';
    case '60019':
      return 'That code was used already: wait for the next one.';
    case '60003':
      return 'Too many attempts: try again later.';
  }
  if (err.body?.message) return err.body.message;
  if (err.errors) return `Check ${Object.keys(err.errors).join(', ')}.`;
  return 'OpenFactor could not be reached.';
}

/**
 * The API key: AUTHY_API_KEY, or the one saved by an earlier run, or a new application made with
 * the admin token of a local OpenFactor (OPENFACTOR_ADMIN_TOKEN or ./data/admin.token).
 */
async function demoKey(openfactorUrl: string): Promise<string> {
  if (process.env.AUTHY_API_KEY) return process.env.AUTHY_API_KEY;
  const saved = 'data/demo-login.json';
  if (existsSync(saved)) return (JSON.parse(readFileSync(saved, 'utf8')) as { api_key: string }).api_key;
  const admin = process.env.OPENFACTOR_ADMIN_TOKEN ?? (existsSync('data/admin.token') ? readFileSync('data/admin.token', 'utf8').trim() : '');
  if (!admin) throw new Error('Set AUTHY_API_KEY, or run this next to OpenFactor (npm start) so that it can make its own application.');
  const r = await fetch(`${openfactorUrl}/admin/applications`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Example Bank (demo)' }),
  });
  if (!r.ok) throw new Error(`OpenFactor refused to make the demo's application: ${r.status} ${await r.text()}`);
  const { api_key } = (await r.json()) as { api_key: string };
  writeFileSync(saved, JSON.stringify({ api_key }), { mode: 0o600 });
  return api_key;
}

/** The demo's own start: a sentence, never a stack trace, when something it needs is missing. */
async function main(): Promise<void> {
  const openfactorUrl = (process.env.OPENFACTOR_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const up = await fetch(`${openfactorUrl}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
  if (!up) throw new Error(`OpenFactor is not answering at ${openfactorUrl}: start it first (npm start in another terminal), or set OPENFACTOR_URL to where it runs.`);
  const demo = await createDemo({ openfactorUrl, apiKey: await demoKey(openfactorUrl) });
  const port = Number(process.env.DEMO_PORT ?? 3000);
  try {
    await demo.listen({ port, host: '127.0.0.1' });
  } catch (e) {
    if ((e as { code?: string }).code === 'EADDRINUSE') throw new Error(`port ${port} is already in use: set DEMO_PORT to a free port.`);
    throw e;
  }
  console.log(`Example Bank (the demo login) at http://127.0.0.1:${port}/, signing users in through OpenFactor at ${openfactorUrl}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main().catch((e: Error) => {
    console.error(`demo: ${e.message}`);
    process.exit(1);
  });
}
