// Request bodies in every encoding Authy clients use, on every method (node-authy and
// authy-client send bodies on GET, which Fastify does not parse for us).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { BadInput, fail } from '../core/errors.ts';
import { fromDocument, parseUrlEncoded, type Params } from '../core/params.ts';
import { parseXmlBody } from './xml.ts';

/** Authy requests are small; the largest (OneTouch with logos and details) is a few KiB. */
export const BODY_LIMIT = 64 * 1024;

const empty = (): Params => Object.create(null);

function parseJson(text: string): Params {
  if (!text.trim()) return empty(); // java and python send empty JSON bodies
  let doc: unknown;
  try {
    doc = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
  } catch {
    throw new BadInput(fail('INVALID_REQUEST', { message: 'Invalid request: the JSON body is not valid JSON' }));
  }
  if (doc === null) return empty();
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new BadInput(fail('INVALID_REQUEST', { message: 'Invalid request: the JSON body must be an object' }));
  }
  return fromDocument(doc) as Params;
}

/** The parameter map of a body, by its media type. */
export function parseBody(contentType: string | undefined, text: string): Params {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return parseUrlEncoded(text);
  if (type === 'application/json' || type.endsWith('+json')) return parseJson(text);
  if (type === 'application/xml' || type === 'text/xml') return parseXmlBody(text);
  if (!text.length) return empty();
  throw new BadInput(
    fail('INVALID_REQUEST', {
      message: 'Invalid request: send parameters as application/x-www-form-urlencoded, application/json or application/xml',
    }),
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * A form body as sent: Twilio repeats a key for a list (`EventTypes=a&EventTypes=b`), which
     * Rack semantics fold into the last. A request decoration, not a WeakMap keyed by requests:
     * each such entry is more work for every young-generation collection.
     */
    formText: string | null;
  }
}

/** Every value of `name` in the request's form body, in order; undefined when the body was not a form. */
export function repeatedFormValues(req: FastifyRequest, name: string): string[] | undefined {
  const text = req.formText;
  if (text === null) return undefined;
  // Most bodies hold none of the list names, spelled plainly or encoded: no second parse for them.
  if (!text.includes(name) && !text.includes('%')) return [];
  return new URLSearchParams(text).getAll(name);
}

export function registerBodyParsers(app: FastifyInstance): void {
  app.decorateRequest('formText', null);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (req, text, done) => {
    try {
      if (/^\s*application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) req.formText = text as string;
      done(null, parseBody(req.headers['content-type'], text as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}

const hasBody = (req: FastifyRequest) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/** Whether the request carries a body, parsed by Fastify or still to be read. */
export const carriesBody = (req: FastifyRequest) => (req.body !== undefined && req.body !== null) || hasBody(req);

/** The body of a GET (or anything Fastify did not parse), read and parsed like any other. */
export async function bodyParams(req: FastifyRequest): Promise<Params> {
  if (req.body !== undefined && req.body !== null) return req.body as Params;
  if (!hasBody(req)) return empty();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new BadInput(fail('REQUEST_TOO_LARGE'));
    chunks.push(chunk as Buffer);
  }
  return parseBody(req.headers['content-type'], Buffer.concat(chunks).toString('utf8'));
}

const QUERY_ERROR = Symbol('query error');

/** For Fastify's `querystringParser`: Rack semantics; a malformed query is reported later. */
export function parseQuery(text: string): Params {
  try {
    return parseUrlEncoded(text);
  } catch (e) {
    return { [QUERY_ERROR]: e } as unknown as Params;
  }
}

export function queryParams(req: FastifyRequest): Params {
  const q = (req.query ?? empty()) as Params & { [QUERY_ERROR]?: Error };
  if (q[QUERY_ERROR]) throw q[QUERY_ERROR];
  return q;
}
