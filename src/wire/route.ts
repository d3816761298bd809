// One way to declare an Authy route: the route parses and renders, the service decides.
// Every route gets the same parameter merging, API-key check, usage count and error bodies.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import { contractAjv } from './response-contracts.ts';
import { fail, type Failure } from '../core/errors.ts';
import { mergeParams, type Params } from '../core/params.ts';
import { bodyParams, carriesBody, queryParams } from './body.ts';
import { errorBody, sendBody, sendFailure, type Body, type Format } from './envelope.ts';
import { ErrorBody } from './contracts.ts';
import type { AuthFailures } from './auth-failures.ts';

export type Outcome = { ok: true; body: Body } | Failure;

export interface AuthenticatedApp {
  id: number;
  name: string;
}

export interface RouteContext<A extends AuthenticatedApp> {
  app: A;
  params: Params;
  /** Path parameters as they appeared in the URL (strings). */
  path: Record<string, string>;
  request: FastifyRequest;
}

export interface AuthyRoute<A extends AuthenticatedApp> {
  method: 'GET' | 'POST';
  /** Paths below `/{family}/{format}`; several when clients use aliases. */
  paths: string[];
  summary: string;
  tags: string[];
  /** The parameters the route reads, documented in the OpenAPI description. */
  input?: TObject;
  /** The success body's contract. Errors share one contract. */
  output: TSchema;
  handle(ctx: RouteContext<A>): Promise<Outcome> | Outcome;
}

export interface WireDeps<A extends AuthenticatedApp> {
  /** The application bound to an API key, or undefined. */
  authenticate(apiKey: string): Promise<A | undefined>;
  /** Called once per authenticated request (app stats' api_calls_count). */
  countApiCall(appId: number): void;
  /** Store.readTurn: where reads cost a lock each, a request waits to read with its turn's others. */
  readTurn?(): Promise<void>;
  validateResponses: boolean;
  /** Failed API keys per client address (wire/auth-failures.ts). */
  authFailures?: AuthFailures;
}

const FORMATS = new Set(['json', 'xml']);

export function registerAuthyRoutes<A extends AuthenticatedApp>(
  server: FastifyInstance,
  family: 'protected' | 'onetouch',
  routes: AuthyRoute<A>[],
  deps: WireDeps<A>,
): void {
  const ajv = contractAjv();
  const checkError = ajv.compile(ErrorBody);

  for (const route of routes) {
    const checkOk = deps.validateResponses ? ajv.compile(route.output) : undefined;
    for (const path of route.paths) {
      const pathParams = [...path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      server.route({
        method: route.method,
        url: `/${family}/:format${path}`,
        schema: {
          summary: route.summary,
          tags: route.tags,
          params: Type.Object({
            format: Type.Union([Type.Literal('json'), Type.Literal('xml')]),
            ...Object.fromEntries(pathParams.map((p) => [p, Type.String()])),
          }),
          ...(route.input ? { [route.method === 'GET' ? 'querystring' : 'body']: route.input } : {}),
          response: { 200: route.output, '4xx': ErrorBody },
        },
        handler: async (request, reply) => {
          const path = request.params as Record<string, string>;
          const format = path.format as Format;
          if (!FORMATS.has(format)) return sendFailure(reply, 'json', fail('ROUTE_NOT_FOUND'));
          // Most Authy calls are GETs without a body: no promise to wait for, no merged copy.
          const params = carriesBody(request) ? mergeParams(queryParams(request), await bodyParams(request)) : queryParams(request);
          const guard = deps.authFailures;
          if (guard?.refuseBlocked('api_key', request, reply, format)) return reply;
          if (deps.readTurn) await deps.readTurn();
          const header = request.headers['x-authy-api-key'];
          const key = typeof header === 'string' && header ? header : params.api_key;
          const app = typeof key === 'string' && key ? await deps.authenticate(key) : undefined;
          if (!app) {
            // A request without any key guesses nothing: only wrong keys count.
            if (guard && typeof key === 'string' && key && (await guard.failed('api_key', request.ip, reply, format))) return reply;
            return sendFailure(reply, format, fail('INVALID_API_KEY'));
          }
          deps.countApiCall(app.id);

          const outcome = await route.handle({ app, params, path, request });
          const { status, body } = outcome.ok ? { status: 200, body: outcome.body } : errorBody(outcome);
          if (deps.validateResponses) {
            assertContract(outcome.ok ? checkOk! : checkError, body, `${route.method} ${request.url}`);
          }
          return sendBody(reply, format, status, body);
        },
      });
    }
  }
}

/** Logto-style response contracts: in tests a body that breaks its contract is a bug (500). */
function assertContract(check: ValidateFunction, body: unknown, what: string): void {
  if (!check(body)) throw new Error(`response contract broken (${what}): ${JSON.stringify(check.errors)}`);
}
