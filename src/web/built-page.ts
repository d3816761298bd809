// A page of ours built by Vite (`npm run build`, which `npm install` runs) into dist/<name>, served
// by OpenFactor at /<name>/ with a strict Content-Security-Policy.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { packageRoot } from '../core/package-files.ts';

export interface BuiltPage {
  /** The directory under dist/ and the path prefix, e.g. `console`. */
  name: string;
  /** Said when the page is asked for but not built. */
  title: string;
}

/** Registered as a plugin, loaded with the others (awaiting it here would load every plugin before the error handler is set). */
export function registerBuiltPage(server: FastifyInstance, page: BuiltPage): void {
  const root = join(packageRoot, 'dist', page.name);
  const prefix = `/${page.name}/`;
  server.register(async (scope) => {
    // What these pages show is customers' and users' input: no script but our own runs.
    scope.addHook('onSend', async (_req, reply) => {
      // worker-src and manifest-src would fall back to default-src; said outright, as the
      // authenticator installs as an app with a service worker (web/authenticator/pwa.ts).
      reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'");
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
    });
    if (!existsSync(root)) {
      const unbuilt = async (_req: unknown, reply: FastifyReply) =>
        reply.code(503).type('text/plain; charset=utf-8').send(`The ${page.title} is not built: run \`npm run build\` (npm install does it).\n`);
      scope.get(prefix, { schema: { hide: true } }, unbuilt);
      scope.get(`${prefix}*`, { schema: { hide: true } }, unbuilt);
      return;
    }
    await scope.register(fastifyStatic, { root, prefix, index: false, schemaHide: true, wildcard: true });
    // The router ignores trailing slashes, so `/console` and `/console/` are this one route. The
    // page is always shown at `/console/`: a service worker's scope (`/authenticator/`) and the
    // page's relative links hold under that path, not beside it.
    scope.get(`/${page.name}`, { schema: { hide: true } }, async (req, reply) => {
      const q = req.url.indexOf('?');
      const path = q < 0 ? req.url : req.url.slice(0, q);
      if (!path.endsWith('/')) return reply.redirect(prefix + (q < 0 ? '' : req.url.slice(q)), 301);
      return reply.sendFile('index.html');
    });
  });
}
