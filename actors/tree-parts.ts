/**
 * Child specs both process trees use: the bus connection (first, so everything after it is
 * restarted with a fresh connection under rest_for_one) and a serving subscription.
 */
import { createActor } from 'xstate';
import type { Logs } from '../core/logger.js';
import { Bus, type BusTls, type Route, type Served } from '../messages/bus.js';
import { connectionLogic, servingLogic } from '../messages/bus-actors.js';
import type { ChildSpec } from '../supervisors/index.js';

export interface BusRef {
  bus?: Bus;
}

export interface BusChildOptions {
  readonly servers: readonly string[];
  readonly name: string;
  readonly tls?: BusTls;
  readonly timeoutMs: number;
  readonly logs: Logs;
}

export function busChild(refs: BusRef, options: BusChildOptions): ChildSpec {
  return {
    id: 'bus',
    shutdown: 2000,
    start: async () => {
      const bus = await Bus.connect({
        servers: options.servers,
        name: options.name,
        logger: options.logs.for('bus'),
        timeoutMs: options.timeoutMs,
        ...(options.tls ? { tls: options.tls } : {}),
      });
      refs.bus = bus;
      return createActor(connectionLogic, { input: { bus } });
    },
  };
}

export function servingChild(
  id: string,
  refs: BusRef & { served: Served[] },
  prefix: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  routes: () => Route<any, any>[],
): ChildSpec {
  return {
    id,
    shutdown: 2000,
    start: () => {
      const bus = requireBus(refs);
      return createActor(servingLogic, {
        input: {
          bus,
          prefix,
          routes: routes(),
          onServing: (served) => {
            const i = refs.served.findIndex((s) => s.subject === served.subject);
            if (i >= 0) refs.served[i] = served;
            else refs.served.push(served);
          },
        },
      });
    },
  };
}

export function requireBus(refs: BusRef): Bus {
  if (!refs.bus) throw new Error('the bus child has not started');
  return refs.bus;
}
