// A PostgreSQL DATABASE_URL as the CLI shows it: host, port, user and database, never the
// password; and the `-h -p -U` options that point psql, createdb, pg_dump at the same server.
import { isPostgresUrl } from '../config.ts';

export interface PostgresTarget {
  host: string;
  port: string;
  user: string;
  database: string;
}

/** Undefined for anything but a well-formed postgres(ql):// URL. Defaults as libpq's. */
export function postgresTarget(url: string | undefined): PostgresTarget | undefined {
  if (!url || !isPostgresUrl(url)) return undefined;
  try {
    const u = new URL(url);
    const user = decodeURIComponent(u.username) || process.env.USER || 'postgres';
    return { host: u.hostname || 'localhost', port: u.port || '5432', user, database: decodeURIComponent(u.pathname.slice(1)) || user };
  } catch {
    return undefined;
  }
}

/** `-h HOST -p PORT -U USER`, for PostgreSQL's own tools. */
export const toolOptions = (t: PostgresTarget) => `-h ${t.host} -p ${t.port} -U ${t.user}`;
