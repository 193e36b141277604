import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between the server under test and its PostgreSQL, to break the network the ways an
 * outage does (issue 7.9): pass traffic, refuse new connections (nothing listens: ECONNREFUSED),
 * black-hole (accept, then never answer, like a partition; connections caught in it stay dead even
 * after the network heals, as after a failover), and reset every open connection (RST).
 * Loopback only: it listens on 127.0.0.1 and connects to the given target.
 */
export interface TcpProxy {
  readonly port: number;
  /** The URL with its host and port replaced by the proxy's. */
  url(targetUrl: string): string;
  pass(): Promise<void>;
  refuse(): Promise<void>;
  blackhole(): Promise<void>;
  /** Resets every open connection; returns how many there were. */
  resetAll(): number;
  readonly openConnections: number;
  close(): Promise<void>;
}

type Mode = 'pass' | 'refuse' | 'blackhole';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Once silenced, nothing crosses in either direction again. */
  silenced: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let mode: Mode = 'pass';
  let listener: Server | undefined;
  let port = 0;

  const forward = (pair: Pair, from: Socket, to: () => Socket | undefined) => {
    from.on('data', (chunk) => {
      if (!pair.silenced) to()?.write(chunk);
    });
  };

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const accept = (client: Socket) => {
    const pair: Pair = { client, upstream: undefined, silenced: mode === 'blackhole' };
    pairs.add(pair);
    client.on('error', () => drop(pair));
    client.on('close', () => drop(pair));
    if (!pair.silenced) {
      const upstream = connectTcp(target.port, target.host);
      pair.upstream = upstream;
      upstream.on('error', () => drop(pair));
      upstream.on('close', () => drop(pair));
      forward(pair, upstream, () => pair.client);
    }
    forward(pair, client, () => pair.upstream);
  };

  const listen = async () => {
    if (listener) return;
    const server = createServer(accept);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') port = address.port;
    listener = server;
  };

  const stopListening = () => {
    // close() stops accepting at once; its callback would wait for open connections, so it is not awaited.
    listener?.close();
    listener = undefined;
  };

  const resetAll = () => {
    const count = pairs.size;
    for (const pair of [...pairs]) {
      pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    }
    return count;
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get openConnections() {
      return pairs.size;
    },
    url: (targetUrl) => {
      const url = new URL(targetUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    pass: async () => {
      mode = 'pass';
      await listen();
    },
    refuse: async () => {
      mode = 'refuse';
      stopListening();
      resetAll();
    },
    blackhole: async () => {
      mode = 'blackhole';
      for (const pair of pairs) pair.silenced = true;
      await listen();
    },
    resetAll,
    close: async () => {
      stopListening();
      resetAll();
    },
  };
}
