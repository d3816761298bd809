// Response contracts for the routes outside the Authy families (the admin API, the device API):
// a route declares its bodies in `schema.response` (TypeBox: documented in OpenAPI too), and with
// OPENFACTOR_VALIDATE_RESPONSES (on in tests) every JSON answer is checked against the contract of
// its status, errors against the one error contract. A body that breaks its contract is a bug: 500.
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { ErrorBody } from './contracts.ts';

/** The one Ajv for contracts: every error listed, and `date-time` and the other formats checked. */
export function contractAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  (ajvFormats as unknown as { default: (a: Ajv) => Ajv }).default(ajv);
  return ajv;
}

/** Where every route declares its response contracts. */
export const CONTRACT_PREFIXES = ['/admin/', '/device/v1/', '/v2/'];

/** Checks answers of routes under `prefixes` against their `schema.response`. */
export function checkResponseContracts(server: FastifyInstance, prefixes = CONTRACT_PREFIXES): void {
  const ajv = contractAjv();
  const checkError = ajv.compile(ErrorBody);
  const compiled = new WeakMap<object, ValidateFunction>();
  server.addHook('onSend', async (req, reply, payload) => {
    const url = req.routeOptions.url;
    if (!url || !prefixes.some((p) => url.startsWith(p)) || typeof payload !== 'string') return payload;
    if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload;
    // Every route here declares one (test/wire/response-contracts.test.ts checks that).
    const responses = req.routeOptions.schema?.response as Record<string, object> | undefined;
    if (!responses) return payload;
    const status = reply.statusCode;
    const schema = responses[status] ?? responses[`${String(status)[0]}xx`];
    let check: ValidateFunction | undefined;
    if (schema) {
      check = compiled.get(schema);
      if (!check) compiled.set(schema, (check = ajv.compile(schema)));
    } else if (status >= 400) check = checkError;
    if (!check) throw new Error(`response contract missing for ${status} (${req.method} ${url})`);
    if (!check(JSON.parse(payload))) throw new Error(`response contract broken (${req.method} ${url} ${status}): ${JSON.stringify(check.errors)}`);
    return payload;
  });
}
