import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of PostgreSQL that counts the client's round trips: each Sync ('S',
 * the end of an extended-protocol exchange) and each simple Query ('Q') is one trip to the database
 * and back. It parses the frontend message stream (type byte, int32 length), skipping the untyped
 * startup packet, so the figure is counted, not inferred from the code.
 */
export interface CountingProxy {
  port: number;
  roundTrips(): number;
  close(): Promise<void>;
}

function countMessages(state: { buffer: Buffer; started: boolean; trips: number }, chunk: Buffer): void {
  state.buffer = Buffer.concat([state.buffer, chunk]);
  for (;;) {
    if (!state.started) {
      if (state.buffer.length < 4) return;
      const length = state.buffer.readInt32BE(0);
      if (state.buffer.length < length) return;
      // An SSLRequest (80877103) is followed by another startup packet.
      const code = state.buffer.readInt32BE(4);
      state.buffer = state.buffer.subarray(length);
      if (code !== 80877103) state.started = true;
      continue;
    }
    if (state.buffer.length < 5) return;
    const length = state.buffer.readInt32BE(1);
    if (state.buffer.length < 1 + length) return;
    const type = String.fromCharCode(state.buffer[0] ?? 0);
    if (type === 'S' || type === 'Q') state.trips += 1;
    state.buffer = state.buffer.subarray(1 + length);
  }
}

export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  let trips = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const state = { buffer: Buffer.alloc(0), started: false, trips: 0 };
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (chunk) => {
      const before = state.trips;
      countMessages(state, chunk);
      trips += state.trips - before;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no port');
  return {
    port: address.port,
    roundTrips: () => trips,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
