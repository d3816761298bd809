// Every route of the admin API and the device API declares its response contracts (checked in
// tests by src/wire/response-contracts.ts, as the Authy routes' are by src/wire/route.ts), and a
// body that breaks its contract is a 500 in tests, not a silent drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import Fastify from 'fastify';
import { startApp } from '../support/harness.ts';
import { CONTRACT_PREFIXES, checkResponseContracts } from '../../src/wire/response-contracts.ts';

test('every admin, device and Verify v2 route declares a response contract for success', async () => {
  const t = await startApp();
  try {
    await t.of.server.ready();
    const spec = t.of.server.swagger() as { paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>> };
    const missing: string[] = [];
    let checked = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      if (!CONTRACT_PREFIXES.some((p) => path.startsWith(p))) continue;
      for (const [method, op] of Object.entries(methods)) {
        if (path === '/device/v1/events') continue; // Server-Sent Events, not a JSON body
        if (path.startsWith('/admin/sso')) continue; // a browser's redirects to and from the identity provider, not a JSON body
        checked++;
        // A declared body (swagger's "Default Response" placeholder has none), or a declared 204 (no body: Verify v2 deletes).
        const codes = Object.entries(op.responses ?? {}).filter(([c, r]) => c === '204' || (/^2/.test(c) && r.content?.['application/json']?.schema));
        if (codes.length === 0) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    assert.ok(checked > 40, `${checked} routes looked at`);
    assert.deepEqual(missing, [], 'routes without a success contract');
  } finally {
    await t.close();
  }
});

test('a body that breaks its contract is refused with a 500; one that keeps it goes out', async () => {
  const server = Fastify();
  checkResponseContracts(server, ['/admin/']);
  server.setErrorHandler((err: Error, _req, reply) => reply.code(500).type('application/json').send(JSON.stringify({ message: err.message, success: false, errors: { message: 'x' }, error_code: '60000' })));
  const schema = { response: { 200: Type.Object({ n: Type.Integer(), when: Type.String({ format: 'date-time' }) }) } };
  let body = '{"n":1,"when":"2026-12-02T10:00:00.000Z"}';
  server.get('/admin/x', { schema }, async (_req, reply) => reply.type('application/json; charset=utf-8').send(body));
  try {
    assert.equal((await server.inject('/admin/x')).statusCode, 200);
    body = '{"n":1,"when":"yesterday"}'; // not a date-time: ajv-formats checks it
    const broken = await server.inject('/admin/x');
    assert.equal(broken.statusCode, 500);
    assert.match(broken.json().message, /response contract broken \(GET \/admin\/x 200\)/);
  } finally {
    await server.close();
  }
});
