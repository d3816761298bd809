// Requests too large to parse still get Authy's error body, with the status that names what was
// too large: 414 for the request line (authy-php sends every parameter in the query string, even
// on POST), 431 for the headers, 400 for broken framing.
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fail, type Failure } from '../core/errors.ts';
import { errorBody, formatOfUrl } from './envelope.ts';
import { toXml } from './xml.ts';

/** The request line's URL, and the header names and values together, in bytes. */
export const MAX_URL_BYTES = 16 * 1024;
export const MAX_HEADER_BYTES = 16 * 1024;
/** Node's parser counts both; past this it stops reading and `answerClientError` answers. */
export const PARSER_LIMIT = MAX_URL_BYTES + MAX_HEADER_BYTES;

function errorText(f: Failure, xml: boolean): { status: number; type: string; text: string } {
  const { status, body } = errorBody(f);
  if (!xml) return { status, type: 'application/json; charset=utf-8', text: JSON.stringify(body) };
  const { errors: _inner, ...flat } = body;
  return { status, type: 'application/xml; charset=utf-8', text: toXml(flat, 'errors') };
}

function oversized(req: IncomingMessage): Failure | undefined {
  if (req.url!.length > MAX_URL_BYTES) return fail('URI_TOO_LONG');
  const raw = req.rawHeaders;
  let bytes = 0;
  for (let i = 0; i < raw.length; i++) bytes += raw[i].length;
  return bytes > MAX_HEADER_BYTES ? fail('HEADERS_TOO_LARGE') : undefined;
}

/**
 * Every request passes here before Fastify: a URL or headers over their limits (within the
 * parser's larger one) are refused exactly, at the cost of a length check per request.
 */
export function refuseOversized(server: Server): void {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const f = oversized(req);
    if (f === undefined) {
      for (const handle of handlers) handle(req, res);
      return;
    }
    const { status, type, text } = errorText(f, formatOfUrl(req.url!.slice(0, 64)) === 'xml');
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), connection: 'close' }).end(text);
  });
}

/**
 * Malformed HTTP or a request past the parser's limit. Which part overflowed is not reported:
 * when the bytes read in the overflowing chunk hold no line break, one line outgrew the limit,
 * and the line that grows with a client's parameters is the request line (414); otherwise 431.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const err = error as typeof error & { rawPacket?: Buffer; bytesParsed?: number }; // what Node's parser adds
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let f: Failure = fail('INVALID_REQUEST');
  let xml = false;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const read = err.rawPacket?.subarray(0, err.bytesParsed ?? err.rawPacket.length);
    const oneLine = read !== undefined && !read.includes(10);
    f = fail(oneLine ? 'URI_TOO_LONG' : 'HEADERS_TOO_LARGE');
    xml = read !== undefined && formatOfUrl(read.subarray(read.indexOf(32) + 1, 80).toString('latin1')) === 'xml';
  }
  const { status, type, text } = errorText(f, xml);
  const reason = { 400: 'Bad Request', 414: 'URI Too Long', 431: 'Request Header Fields Too Large' }[status as 400 | 414 | 431];
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
