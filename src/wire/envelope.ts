// The Authy envelope: compact JSON (key order as built) or Rails XML, and the one error body.
import type { FastifyReply } from 'fastify';
import { ERRORS, type Failure } from '../core/errors.ts';
import { toXml } from './xml.ts';

export type Format = 'json' | 'xml';
export type Body = Record<string, unknown>;

/** `/protected/xml/…` and `/onetouch/xml/…` answer in XML, everything else in JSON. */
export const formatOfUrl = (url: string): Format => (/^\/+(protected|onetouch)\/+xml(\/|\?|$)/.test(url) ? 'xml' : 'json');

/**
 * `{"message","success":false,"errors":{"message",…fields},…fields,"error_code"}` — field messages
 * appear twice because Authy sends them twice (wire reference §2.3), `error_code` is a string.
 */
export function errorBody(f: Failure): { status: number; body: Body } {
  const def = ERRORS[f.error];
  const message = f.message ?? def.message;
  const fields = f.fields ?? {};
  return {
    status: def.status,
    body: { message, ...f.head, success: false, errors: f.emptyErrors ? {} : { message, ...fields }, ...fields, error_code: def.code },
  };
}

export function sendBody(reply: FastifyReply, format: Format, status: number, body: Body): FastifyReply {
  reply.code(status);
  if (format === 'xml') {
    // The XML error document is itself `<errors>`, so the inner `errors` hash is not repeated.
    const { errors: _inner, ...flat } = body;
    const xml = status >= 400 ? toXml(flat, 'errors') : toXml(body, 'hash');
    return reply.type('application/xml; charset=utf-8').send(xml);
  }
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(body));
}

export function sendFailure(reply: FastifyReply, format: Format, f: Failure): FastifyReply {
  const { status, body } = errorBody(f);
  return sendBody(reply, format, status, body);
}
