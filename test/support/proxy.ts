// A TCP proxy of the test's own between a server and its database, that can be switched to a
// black hole: connections stay open (and new ones are accepted) but no byte goes through, as on
// a link that silently drops packets. Bytes held meanwhile go through once the link is back,
// as TCP's retransmissions would deliver them.
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  /** `host:port` to connect to instead of the target. */
  port: number;
  /** Rewrites a connection URL's host and port to the proxy's. */
  urlFor(url: string): string;
  blackHole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let holding = false;
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (d) => {
        if (!to.write(d)) from.pause();
      });
      to.on('drain', () => !holding && from.resume());
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    if (holding) for (const s of pair) s.pause();
    const done = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    urlFor: (url) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    // Paused sockets read nothing: bytes wait in the kernel's buffers, as on a dead link.
    blackHole: () => {
      holding = true;
      for (const pair of pairs) for (const s of pair) s.pause();
    },
    restore: () => {
      holding = false;
      for (const pair of pairs) for (const s of pair) s.resume();
    },
    close: async () => {
      for (const pair of pairs) for (const s of pair) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
