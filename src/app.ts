// Composition root: store + services + wire → one Fastify server.
import { AuditTrail } from './admin/audit.ts';
import { AdminTokens } from './admin/tokens.ts';
import { AdminAccounts } from './admin/accounts.ts';
import { consoleApprovals } from './admin/approvals.ts';
import { indexUserEmails, openContacts, type Contacts } from './store/contacts.ts';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { BadInput, fail, twilioFail } from './core/errors.ts';
import type { Config } from './config.ts';
import { isDatabaseUnavailable, notReadyBecause, type Store } from './store/db.ts';
import { takeFileModeNotes } from './store/private-files.ts';
import { BODY_LIMIT, parseQuery, registerBodyParsers } from './wire/body.ts';
import { errorBody, formatOfUrl, sendBody, sendFailure } from './wire/envelope.ts';
import { registerAuthyRoutes } from './wire/route.ts';
import { checkResponseContracts } from './wire/response-contracts.ts';
import { PARSER_LIMIT, answerClientError, refuseOversized } from './wire/oversized.ts';
import { AuthFailures } from './wire/auth-failures.ts';
import { Applications, UsageCounter } from './features/applications/service.ts';
import { applicationRoutes } from './features/applications/routes.ts';
import { Users } from './features/users/service.ts';
import { userRoutes } from './features/users/routes.ts';
import { Tokens } from './features/tokens/service.ts';
import { RecoveryCodes } from './features/tokens/recovery-codes.ts';
import { registerQrRoute, tokenRoutes } from './features/tokens/routes.ts';
import { SafetyLimits } from './features/tokens/limits.ts';
import { Outbox } from './delivery/outbox.ts';
import { OutboxWorker } from './delivery/worker.ts';
import { Routing } from './delivery/routing.ts';
import { DeliveryMetrics } from './delivery/metrics.ts';
import { Destinations } from './delivery/destinations.ts';
import { Retention } from './store/retention.ts';
import { registerDeliveryRoutes } from './delivery/routes.ts';
import { registerAdminRoutes } from './admin/routes.ts';
import { registerBuiltPage } from './web/built-page.ts';
import { Hooks } from './delivery/hooks.ts';
import { Webhooks } from './features/webhooks/service.ts';
import { registerWebhookRoutes } from './features/webhooks/routes.ts';
import { DeviceEvents } from './features/devices/events.ts';
import { ConnectionSlots } from './features/devices/slots.ts';
import { registerConnectionMetrics } from './features/devices/metrics.ts';
import { loadVapidKeys, WebPush } from './features/devices/push.ts';
import { Devices } from './features/devices/service.ts';
import { registerDeviceRoutes } from './features/devices/routes.ts';
import { PersonDevices } from './features/devices/person-devices.ts';
import { PhoneChanges } from './features/devices/phone-change.ts';
import { AccountRecoveries } from './features/devices/account-recovery.ts';
import { OneTouch } from './features/onetouch/service.ts';
import { onetouchRoutes, registrationRoutes } from './features/onetouch/routes.ts';
import { callbackSigner } from './features/onetouch/callback.ts';
import { SendGuard } from './features/send-guard/service.ts';
import { Phones } from './features/phones/service.ts';
import { phoneRoutes } from './features/phones/routes.ts';
import { VerifyCredentials } from './features/verify/credentials.ts';
import { Verify } from './features/verify/service.ts';
import { registerVerifyRoutes } from './features/verify/routes.ts';
import { VerifyFactors } from './features/verify/factors.ts';
import { VerifyAccessTokens } from './features/verify/access-tokens.ts';
import { deviceVerify } from './features/verify/device-enrolment.ts';
import { ServiceWebhooks } from './features/verify/service-webhooks.ts';
import { sendTwilioFailure } from './features/verify/twilio.ts';

export interface Services {
  applications: Applications;
  /** Phone numbers and email addresses: sealed at rest, looked up by blind index. */
  contacts: Contacts;
  /** Which addresses callbacks, webhooks and Web Push may reach. */
  destinations: Destinations;
  /** Drops old records of finished work. */
  retention: Retention;
  users: Users;
  usage: UsageCounter;
  tokens: Tokens;
  outbox: Outbox;
  worker: OutboxWorker;
  routing: Routing;
  metrics: DeliveryMetrics;
  hooks: Hooks;
  webhooks: Webhooks;
  devices: Devices;
  /** Lost phones (issue 17): changes of number from a device, and recoveries without one. */
  phoneChanges: PhoneChanges;
  recoveries: AccountRecoveries;
  events: DeviceEvents;
  onetouch: OneTouch;
  push: WebPush;
  guard: SendGuard;
  /** A person's devices (multi-device), the device API's connection slots, phone verification. */
  people: PersonDevices;
  slots: ConnectionSlots;
  phones: Phones;
  /** Twilio Verify v2 (issue 21): its credentials, and its services and verifications. */
  verifyCredentials: VerifyCredentials;
  /** The administrators' audit trail (issue 22). */
  audit: AuditTrail;
  /** API tokens for automation. */
  adminTokens: AdminTokens;
  /** Administrators' accounts and console sessions. */
  adminAccounts: AdminAccounts;
  verify: Verify;
  /** Verify v2 TOTP and push factors, their challenges, and service webhooks. */
  verifyFactors: VerifyFactors;
  verifyWebhooks: ServiceWebhooks;
}

export interface OpenFactor {
  server: FastifyInstance;
  services: Services;
  /** Stops serving; messages still with a provider after `graceMs` are left to other nodes. */
  close(graceMs?: number): Promise<void>;
}

/** Paths only: query strings carry API keys and phone numbers, verify paths carry tokens, QR links open a secret. */
export const loggablePath = (url: string) =>
  url
    .split('?')[0]
    .replace(/\/verify\/[^/]*\//, '/verify/[token]/')
    .replace(/\/qr\/[^/]+/, '/qr/[redacted]')
    // Verify v2 takes a number or address in place of a verification's SID.
    .replace(/\/Verifications\/(?!VE[0-9a-fA-F]{32}(?:\/|$))[^/]+/, '/Verifications/[to]');

/** What a test may put in place of the real thing (nothing in production). */
export interface Overrides {
  /** The send guard's clock (its 10-minute windows). */
  sendGuardClock?: () => number;
}

export async function buildServer(config: Config, store: Store, overrides: Overrides = {}): Promise<OpenFactor> {
  const server = httpServer(config);
  refuseOversized(server.server);
  for (const note of takeFileModeNotes()) server.log.warn({ event: 'file_mode' }, `data at rest: ${note}`);
  store.logTo(server.log);
  const services = await buildServices(config, store, server.log, overrides);
  const state = { closing: false };
  await registerRoutes(server, config, store, services, state);
  const background = startBackgroundWork(config, services, store, server.log);
  return {
    server,
    services,
    close: async (graceMs = Infinity) => {
      state.closing = true;
      await stopEverything(server, services, Date.now() + graceMs);
      await background.stop();
    },
  };
}

/** Fastify as the Authy wire needs it: logs without secrets, Authy bodies for framework errors. */
function httpServer(config: Config): FastifyInstance {
  return Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers["x-authy-api-key"]', 'headers["x-authy-api-key"]'], censor: '[redacted]' },
      serializers: {
        req: (req) => ({ method: req.method, url: loggablePath(req.url), remoteAddress: req.ip }),
      },
    },
    // Fastify's own per-request lines are off: they would carry URLs; see accessLog below.
    logController: new LogController({ disableRequestLogging: true }),
    // A pino child per request costs more than a status lookup; the request id is bound on demand.
    childLoggerFactory: (logger) => logger,
    bodyLimit: BODY_LIMIT,
    // Behind trusted reverse proxies, request.ip is the client they name (auth failures count per client).
    ...(config.trustProxy.length ? { trustProxy: config.trustProxy } : {}),
    routerOptions: {
      ignoreDuplicateSlashes: true, // a base URL with a trailing slash yields `//protected/...`
      ignoreTrailingSlash: true,
      querystringParser: parseQuery,
    },
    clientErrorHandler: answerClientError,
    http: { maxHeaderSize: PARSER_LIMIT },
    // Errors Fastify finds before routing (malformed or over-long paths) get Authy bodies too.
    frameworkErrors: (err, req, reply) => {
      const notFound = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      // The Twilio Verify v2 paths answer in Twilio's shape, as their routes do.
      if (/^\/+v2(\/|\?|$)/.test(req.url)) return void sendTwilioFailure(reply, twilioFail(notFound ? 'NOT_FOUND' : 'INVALID_PARAMETER', notFound ? undefined : 'Invalid parameter: the request path is malformed'));
      sendFailure(reply, formatOfUrl(req.url), fail(notFound ? 'ROUTE_NOT_FOUND' : 'INVALID_REQUEST'));
    },
  });
}

/** Every service, wired to the ones it needs. */
async function buildServices(config: Config, store: Store, log: FastifyBaseLogger, overrides: Overrides): Promise<Services> {
  const usage = new UsageCounter(store.db, log);
  const outbox = new Outbox(store.db, store.dialect, config.masterKeys, config.outboxLeaseMs);
  const metrics = new DeliveryMetrics();
  const routing = new Routing(store.db, config.masterKeys, config.providers, metrics, log, {
    failures: config.providerFailures,
    coolDownMs: config.providerCoolDownMs,
  });
  const worker = new OutboxWorker(outbox, routing, metrics, log, {
    concurrency: config.outboxConcurrency,
    publicUrl: config.publicUrl,
  });
  const applications = new Applications(store.db, config.masterKeys[0], config.masterKeys.slice(1), store.applicationsVersion);
  const signCallback = callbackSigner(applications);
  // The webhook signer is bound below: webhooks and their deliveries need each other.
  const hookSigners: { webhook?: Webhooks; verify?: ServiceWebhooks } = {};
  const destinations = new Destinations(config.allowPrivateNetworks);
  const hooks = new Hooks(store.db, store.dialect, (h) => (h.kind === 'callback' ? signCallback(h) : h.kind === 'verify_webhook' ? hookSigners.verify!.sign(h) : hookSigners.webhook!.sign(h)), log, destinations, {
    retryBaseMs: config.hookRetryBaseMs,
    maxAttempts: config.hookMaxAttempts,
  });
  const webhooks = (hookSigners.webhook = new Webhooks(store.db, config.masterKeys, hooks, applications, destinations, config.dashboardNonceWindowS * 1000));
  const contacts = await openContacts(store.db, config.masterKeys, store.dialect);
  const limits = new SafetyLimits(store, contacts);
  const guard = new SendGuard({ db: store.db, contacts, limits, outbox, log: log, clock: overrides.sendGuardClock });
  const events = new DeviceEvents();
  // Not awaited: a node starts without Redis, logs it, and joins the others once it can.
  if (config.redisUrl) events.connect(config.redisUrl, config.redisPrefix, log);
  const slots = new ConnectionSlots(config.connectionsPerDevice, config.connectionsPerProcess);
  registerConnectionMetrics(metrics.registry, slots, config.redisUrl ? events : undefined);
  const push = new WebPush(await loadVapidKeys(store.db, config.masterKeys, config.vapid), log, destinations, config.pushCaFile);
  // What every service that sends a code needs.
  // Lockouts and recovery steps taken by devices or the service are in the trail too.
  const audit = new AuditTrail(store.db, config.masterKeys, store.dialect);
  const sending = { audit, db: store.db, keys: config.masterKeys, contacts, outbox, wakeOutbox: () => worker.wake(), limits, webhooks, guard, log: log };
  const recoveryCodes = new RecoveryCodes(store.db, contacts);
  const people = new PersonDevices({ db: store.db, keys: config.masterKeys, events, webhooks, push, log: log });
  const devices = new Devices({
    ...sending,
    applications,
    people,
    recoveryCodes,
    registrationLimits: { perAddress: config.deviceRegistrationsPerAddress, perHour: config.deviceRegistrationsPerHour },
  });
  const onetouch = new OneTouch({ db: store.db, applications, devices, contacts, events, push, hooks, webhooks, log: log });
  const retention = new Retention(store.db, log, { deliveryDays: config.retentionDays, auditDays: config.auditRetentionDays, dropAuditBefore: (cut) => audit.dropBefore(cut) });
  const phoneChanges = new PhoneChanges({ ...sending, applications });
  const recoveries = new AccountRecoveries({ ...sending, applications, events, devices, push, waitMs: config.accountRecoveryWaitS * 1000, phoneChangeWaitMs: config.phoneChangeWaitS * 1000 });
  const verifyCredentials = new VerifyCredentials(store.db, config.masterKeys);
  const verifyWebhooks = (hookSigners.verify = new ServiceWebhooks({ db: store.db, hooks, destinations, authToken: (sid) => verifyCredentials.authToken(sid) }));
  const services: Services = {
    phoneChanges,
    recoveries,
    applications,
    contacts,
    destinations,
    retention,
    users: new Users(store.db, config.masterKeys, contacts, webhooks),
    usage,
    hooks,
    webhooks,
    devices,
    events,
    onetouch,
    push,
    guard,
    outbox,
    worker,
    routing,
    metrics,
    tokens: new Tokens({ ...sending, usage, recoveryCodes }),
    people,
    slots,
    phones: new Phones({ db: store.db, keys: config.masterKeys, contacts, outbox, wakeOutbox: () => worker.wake(), guard, webhooks }),
    verifyCredentials,
    audit,
    adminTokens: new AdminTokens(store.db),
    adminAccounts: new AdminAccounts(store.db, config.masterKeys, config.adminSessions, consoleApprovals(store.db, applications, onetouch)),
    verifyFactors: new VerifyFactors({ db: store.db, keys: config.masterKeys, webhooks: verifyWebhooks, accessTokens: new VerifyAccessTokens(store.db, config.masterKeys), events, push, log }),
    verifyWebhooks,
    verify: new Verify({ ...sending, applications, forgetApplication: (id) => routing.forget(id) }),
  };
  return services;
}

/** The routes: the Authy API, the device and admin APIs, webhooks, the web apps, health. */
async function registerRoutes(server: FastifyInstance, config: Config, store: Store, services: Services, state: { closing: boolean }): Promise<void> {
  // Before any route: the check applies to the routes registered after it.
  if (config.validateResponses) checkResponseContracts(server);
  registerBodyParsers(server);
  // Request parameters are checked by the services (Authy's own messages); schemas document them.
  server.setValidatorCompiler(() => () => true);
  server.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await documentApi(server);

  if (config.accessLog) {
    server.addHook('onResponse', async (req, reply) => {
      req.log.info({ method: req.method, path: loggablePath(req.url), status: reply.statusCode, ms: reply.elapsedTime }, 'request');
    });
  }

  server.get('/', { schema: { summary: 'Health check', tags: ['service'] } }, async (_req, reply) =>
    reply.type('application/json; charset=utf-8').send('{"status":"ok","service":"openfactor","success":true,"message":"OpenFactor is running."}'),
  );
  // For load balancers and supervisors: the process is up; it can serve (database, migrations).
  server.get('/healthz', { schema: { summary: 'The process is up', tags: ['service'] } }, async (_req, reply) => reply.type('application/json; charset=utf-8').send('{"status":"ok"}'));
  server.get('/readyz', { schema: { summary: 'Ready to serve: the database answers and is migrated', tags: ['service'] } }, async (_req, reply) => {
    const reason = state.closing ? 'shutting down' : await notReadyBecause(store);
    return reply
      .code(reason ? 503 : 200)
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(reason ? { status: 'unavailable', reason } : { status: 'ok', database: store.dialect }));
  });
  server.get('/openapi.json', { schema: { hide: true } }, async () => server.swagger());

  const authFailures = new AuthFailures(store, { failures: config.authFailures, windowS: config.authFailureWindowS, blockS: config.authBlockS }, services.metrics.registry, server.log);
  const wireDeps = {
    authFailures,
    authenticate: (key: string) => services.applications.authenticate(key),
    countApiCall: (appId: number) => services.usage.countApiCall(appId),
    readTurn: store.readTurn,
    validateResponses: config.validateResponses,
  };
  registerAuthyRoutes(
    server,
    'protected',
    [
      ...applicationRoutes(services.applications, services.usage),
      ...userRoutes(services.users),
      ...tokenRoutes(services.tokens, config.publicUrl),
      ...registrationRoutes(services.devices),
      ...phoneRoutes(services.phones),
    ],
    wireDeps,
  );
  const { devices, people, phoneChanges, recoveries, onetouch, events, slots, push, outbox, routing, worker } = services;
  registerAuthyRoutes(server, 'onetouch', onetouchRoutes(onetouch), wireDeps);
  registerDeviceRoutes(server, { devices, people, phoneChanges, recoveries, onetouch, events, slots, vapidPublicKey: push.vapid.publicKey, verify: deviceVerify(services.verifyFactors, config.publicUrl) });
  registerWebhookRoutes(server, services.webhooks, config.publicUrl, authFailures);
  registerVerifyRoutes(server, { verify: services.verify, credentials: services.verifyCredentials, authFailures, publicUrl: config.publicUrl, factors: services.verifyFactors, serviceWebhooks: services.verifyWebhooks });
  registerQrRoute(server, services.tokens);
  registerAdminRoutes(server, { admin: config.adminToken, metrics: config.metricsToken, secureCookies: config.publicUrl?.startsWith('https://') === true, sso: config.adminSso, publicUrl: config.publicUrl }, services, store.db, config.masterKeys, store.dialect, authFailures);
  // The admin console (talks to the admin API) and the authenticator web app (the device API).
  registerBuiltPage(server, { name: 'console', title: 'admin console' });
  registerBuiltPage(server, { name: 'authenticator', title: 'authenticator' });
  registerDeliveryRoutes(server, { outbox, routing, worker, publicUrl: config.publicUrl });

  answerErrorsTheAuthyWay(server);
}

/** Sweeps and workers; a node with OPENFACTOR_OUTBOX_WORKER off only accepts messages. */
function startBackgroundWork(config: Config, s: Services, store: Store, log: FastifyBaseLogger): { stop(): Promise<void> } {
  s.usage.start();
  // Older users' email index (migration 0029), filled once, in the background (store/contacts.ts).
  let stopped = false;
  const indexing = indexUserEmails(store.db, s.contacts, () => stopped).then(
    (n) => void (n > 0 && log.info({ event: 'user_emails_indexed', users: n }, 'email index filled for older users')),
    (err) => log.warn({ event: 'user_emails_index_failed', err: (err as Error).message }, 'email index of older users not filled; tried again at the next start'),
  );
  if (config.outboxWorker) {
    s.worker.start();
    s.hooks.start();
    s.retention.start(config.retentionSweepMs);
  }
  s.onetouch.start(config.approvalSweepMs);
  s.recoveries.startSweeps(config.approvalSweepMs);
  return {
    stop: async () => {
      stopped = true;
      await indexing;
    },
  };
}

/** Stops accepting, lets work in flight finish (deliveries until `deadline`), then closes the rest. */
async function stopEverything(server: FastifyInstance, s: Services, deadline: number): Promise<void> {
  s.onetouch.stop();
  s.recoveries.stopSweeps();
  await server.close();
  await s.devices.settled();
  await s.recoveries.settled();
  await s.worker.stop(Math.max(0, deadline - Date.now()));
  await s.hooks.stop();
  await s.retention.stop();
  await s.destinations.close();
  s.push.close();
  await s.events.close();
  await s.routing.close();
  await s.usage.stop();
}

/** OpenAPI at /openapi.json, from the routes' schemas. */
async function documentApi(server: FastifyInstance): Promise<void> {
  await server.register(swagger, {
    openapi: {
      info: {
        title: 'OpenFactor',
        description: 'The Authy REST API, self-hosted. Every route exists under /protected/json and /protected/xml.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Authy-API-Key' },
          apiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key' },
          deviceSignature: { type: 'apiKey', in: 'header', name: 'X-OpenFactor-Signature', description: 'See docs/device-api.md: signed by the device key' },
          dashboardSignature: { type: 'apiKey', in: 'header', name: 'X-Authy-Signature', description: 'HMAC with the API signing key (wire reference §2.21)' },
          twilioBasic: { type: 'http', scheme: 'basic', description: 'Twilio Verify v2 (/v2/…): AC… account SID and auth token, or SK… API key SID and secret' },
        },
      },
      security: [{ apiKeyHeader: [] }, { apiKeyQuery: [] }],
    },
  });
}

/** The one error registry: every failure, whatever raised it, answers with an Authy body. */
function answerErrorsTheAuthyWay(server: FastifyInstance): void {
  server.setNotFoundHandler((req, reply) => sendFailure(reply, formatOfUrl(req.url), fail('ROUTE_NOT_FOUND')));
  server.setErrorHandler((err: Error, req, reply) => {
    const format = formatOfUrl(req.url);
    if (err instanceof BadInput) return sendFailure(reply, format, err.failure);
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status === 413) return sendFailure(reply, format, fail('REQUEST_TOO_LARGE'));
    if (status >= 400 && status < 500) {
      const { body } = errorBody(fail('INVALID_REQUEST', { message: `Invalid request: ${err.message}` }));
      return sendBody(reply, format, status, body);
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ event: 'database_unavailable', err: err.message }, 'the database did not answer; request refused with a 503');
      return sendFailure(reply, format, fail('DATABASE_UNAVAILABLE'));
    }
    req.log.error({ err }, 'unexpected error');
    return sendFailure(reply, format, fail('INTERNAL'));
  });
}
