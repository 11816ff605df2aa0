/** Shared test fixtures: a real nats-server per suite and a connected bus. */
import { startNatsServer, type NatsServer } from '../../simulations/nats-server.js';
import { Bus } from '../../messages/bus.js';
import { silentLogs } from '../../core/logger.js';

export interface NatsFixture {
  server: NatsServer;
  bus(name?: string): Promise<Bus>;
  close(): Promise<void>;
}

/** Starts nats-server; `bus()` connects clients that `close()` closes before stopping the server. */
export async function natsFixture(options: { jetstream?: boolean } = {}): Promise<NatsFixture> {
  const server = await startNatsServer({ jetstream: options.jetstream ?? false });
  const buses: Bus[] = [];
  return {
    server,
    async bus(name = 'test') {
      const b = await Bus.connect({ servers: server.url, name, logger: silentLogs().root, timeoutMs: 2000 });
      buses.push(b);
      return b;
    },
    async close() {
      await Promise.all(buses.map((b) => b.close()));
      await server.stop();
    },
  };
}
