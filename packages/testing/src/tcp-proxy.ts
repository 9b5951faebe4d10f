/**
 * A TCP proxy in front of a real server, so a test can make a dependency
 * unreachable (cut) or make it swallow its answers (hold) without touching
 * the server that other tests share.
 *
 * - cut(): destroys every open connection and refuses new ones until restore().
 * - hold(): keeps connections open and forwards client → server, but stops
 *   forwarding server → client (the bytes wait in the proxy). A client then
 *   has sent its requests and waits for answers that do not come — the state
 *   of a process in the middle of a batch. release() forwards what waited.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
}

export interface TcpProxy {
  readonly port: number;
  /** The target URL with host and port replaced by the proxy's, e.g. for a postgres:// URL. */
  urlFor(targetUrl: string): string;
  cut(): void;
  restore(): void;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly target: Socket;
}

const CONNECTIONS_MAX = 1_000;

// eslint-disable-next-line max-lines-per-function -- the proxy and its control methods share one closure
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let refusing = false;
  let holding = false;

  const server: Server = createServer((client) => {
    if (refusing || pairs.size >= CONNECTIONS_MAX) {
      client.destroy();
      return;
    }
    const target = tcpConnect({ host: options.targetHost, port: options.targetPort });
    const pair: Pair = { client, target };
    pairs.add(pair);
    const close = (): void => {
      pairs.delete(pair);
      client.destroy();
      target.destroy();
    };
    client.on('error', close);
    target.on('error', close);
    client.on('close', close);
    target.on('close', close);
    client.pipe(target);
    if (holding) target.pause();
    else target.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const port = address.port;

  const destroyAll = (): void => {
    for (const pair of pairs) {
      pair.client.destroy();
      pair.target.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    urlFor(targetUrl: string): string {
      const url = new URL(targetUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut(): void {
      refusing = true;
      destroyAll();
    },
    restore(): void {
      refusing = false;
    },
    hold(): void {
      if (holding) return;
      holding = true;
      // Unpiping stops pipe() from resuming the source when the client drains.
      for (const pair of pairs) {
        pair.target.unpipe(pair.client);
        pair.target.pause();
      }
    },
    release(): void {
      if (!holding) return;
      holding = false;
      for (const pair of pairs) {
        pair.target.pipe(pair.client);
        pair.target.resume();
      }
    },
    async close(): Promise<void> {
      refusing = true;
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
