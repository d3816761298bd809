// A TCP proxy of the test's own in front of a listening server, for a browser that loses its
// network: cut, every connection through it ends and new ones are refused (as with no network,
// for the page and its service worker alike); restored, on the same port (the same origin).
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CuttableProxy {
  /** `http://127.0.0.1:<port>`: the origin the browser uses. */
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy in front of the server that can be cut (connections refused, as with no network) and put back on the same port. */
export async function cuttableProxy(targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const make = () =>
    createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s)).on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  const listen = (server: Server, port: number) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  let server = make();
  await listen(server, 0);
  const port = (server.address() as { port: number }).port;
  let up = true;
  const proxy: CuttableProxy = {
    url: `http://127.0.0.1:${port}`,
    async cut() {
      up = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    async restore() {
      server = make();
      await listen(server, port);
      up = true;
    },
    async close() {
      if (up) await proxy.cut();
    },
  };
  return proxy;
}

