// The baseline: bare Fastify on the same Node, same loader (tsx) and same core as OpenFactor,
// so the ratio measures what OpenFactor itself adds per request.
import Fastify from 'fastify';

const server = Fastify({ logger: false });
server.get('/', async () => ({ hello: 'world' }));
await server.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
// Exit cleanly on SIGTERM so --cpu-prof (if used) gets written.
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
