// A command that fails at start says why in words an operator can act on: which setting, and
// what to do. Errors not listed here keep their own message (never a stack trace).
import { postgresTarget, toolOptions } from './postgres-url.ts';

interface Failure {
  code?: string;
  message: string;
  address?: string;
  port?: number;
  errors?: Failure[];
}

/** The message `openfactor` prints for `err`, naming the setting involved. */
export function explainFailure(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & Failure;
  const codes = new Set([e.code, ...(e.errors ?? []).map((x) => x.code)]);
  const pg = postgresTarget(env.DATABASE_URL);
  if (e.code === 'EADDRINUSE') {
    return `port ${e.port ?? env.PORT} on ${e.address ?? env.HOST ?? '127.0.0.1'} is already in use (another OpenFactor?): stop what listens there, or set PORT to a free port`;
  }
  if (e.code === 'EACCES' && e.port !== undefined) {
    return `port ${e.port} needs privileges this user lacks: set PORT to a port above 1023 (and put a reverse proxy in front for 80 or 443)`;
  }
  if (pg && e.code === '3D000') {
    const where = toolOptions(pg);
    return `PostgreSQL has no database "${pg.database}" (DATABASE_URL). Create it, then start again:\n  createdb ${where} ${pg.database}\nor\n  psql ${where} -d postgres -c 'CREATE DATABASE "${pg.database}"'`;
  }
  if (pg && (codes.has('ECONNREFUSED') || codes.has('ENOTFOUND') || codes.has('ETIMEDOUT') || /timeout expired/i.test(e.message))) {
    return `PostgreSQL at ${pg.host}:${pg.port} does not answer (DATABASE_URL): is it running, and is that its address?`;
  }
  if (pg && e.code === '28P01') return `PostgreSQL refused user "${pg.user}": the password in DATABASE_URL is wrong`;
  return e.message;
}
