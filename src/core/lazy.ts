// A CommonJS package loaded on first use instead of at start: the server and every CLI command
// start faster when they do not load what this deployment never uses (PostgreSQL's client on
// SQLite, Redis without REDIS_URL, the SMPP and SMTP clients, QR codes, carrier data).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `() => require(name)`, loaded once. Use `import type` for its types. */
export function lazy<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
