/**
 * A NATS-aware fault proxy: everything the TCP proxy does (blackhole and reset partitions), plus
 * faults on whole messages — PUB/HPUB from clients, MSG/HMSG to them — which may be dropped,
 * duplicated, swapped with the next message of their direction, or delayed (per-direction order
 * kept unless reordering is asked). Control lines (INFO, CONNECT, SUB, UNSUB, PING, PONG, +OK,
 * -ERR) are never faulted, and framing is never broken: the proxy reads the plaintext protocol
 * (nats-framer.ts), payloads of any size split across TCP reads included.
 *
 * The simulator therefore runs NATS without TLS: an encrypted stream cannot be cut into messages
 * (a connection that upgrades to TLS is still proxied, untouched, and counted in `opaqueBytes`).
 *
 * Fates are drawn from the seeded Random in the order messages arrive, four draws per message
 * while faults are on: the same messages in the same order meet the same fate.
 *
 * @example
 * const proxy = await startNatsProxy({ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: nats.port }, random: seededRandom(7) });
 * // clients connect to `nats://${proxy.address}`
 * proxy.setMessageFaults({ dropP: 0.05, duplicateP: 0.05, reorderP: 0.1, delayMs: 5, delayJitterMs: 20 });
 * console.log(proxy.stats().messages); // { dropped: …, duplicated: …, reordered: …, delayed: … }
 * proxy.setMessageFaults(TRANSPARENT);
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import { ok, type Result } from '../../core/result.js';
import type { Endpoint } from './endpoint.js';
import type { FaultError } from './fault-error.js';
import { checkMessageFaults, FaultStage, messageCounters, TRANSPARENT, type MessageCounters, type MessageFaults } from './message-faults.js';
import { NatsFramer } from './nats-framer.js';
import { ProxyCore, type ProxyStats, type RelayFactory } from './proxy-core.js';
import type { TcpProxy } from './tcp-proxy.js';

export { TRANSPARENT, type MessageFaults } from './message-faults.js';

export interface NatsProxyOptions {
  readonly listen: Endpoint;
  /** The nats-server (plaintext). */
  readonly upstream: Endpoint;
  /** Decides each message's fate (core/random.ts seededRandom for replay). */
  readonly random: Random;
  /** Delays and reorder holds run on it (default the system clock). */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How long a message picked for reordering waits for a next one to swap with (default 100 ms). */
  readonly reorderHoldMs?: number;
}

export interface NatsProxyStats extends ProxyStats {
  readonly faults: MessageFaults;
  readonly messages: Readonly<MessageCounters>;
}

export interface NatsProxy extends TcpProxy {
  /** Replaces the message faults (all zero: transparent); a bad setting is refused and changes nothing. */
  setMessageFaults(faults: MessageFaults): Result<MessageFaults, FaultError>;
  stats(): NatsProxyStats;
}

/** Starts the proxy; rejects with a FaultError (INVALID_ARGUMENT, LISTEN_FAILED). */
export async function startNatsProxy(options: NatsProxyOptions): Promise<NatsProxy> {
  const clock = options.clock ?? systemClock;
  const counters = messageCounters();
  let faults: MessageFaults = TRANSPARENT;
  const relay: RelayFactory = (direction, outlet) => {
    const framer = new NatsFramer(direction === 'toUpstream' ? 'client' : 'server');
    const stage = new FaultStage({
      direction: direction === 'toUpstream' ? 'toServer' : 'toClient',
      out: (bytes) => outlet.write(bytes),
      end: () => outlet.end(),
      faults: () => faults,
      random: options.random,
      clock,
      counters,
      ...(options.reorderHoldMs !== undefined ? { holdMs: options.reorderHoldMs } : {}),
    });
    return {
      push: (chunk) => {
        for (const unit of framer.push(chunk)) stage.unit(unit);
      },
      end: () => stage.end(),
      dispose: () => stage.dispose(),
    };
  };
  const core = await ProxyCore.start({ listen: options.listen, upstream: options.upstream, relay, ...(options.logger ? { logger: options.logger } : {}) });
  return {
    address: core.address,
    partition: (mode) => core.partition(mode),
    setMessageFaults(next) {
      const checked = checkMessageFaults(next);
      if (!checked.ok) return checked;
      faults = checked.value;
      options.logger?.info({ ...faults }, 'NATS proxy message faults');
      return ok(faults);
    },
    stats: () => ({ ...core.stats(), faults, messages: { ...counters } }),
    close: () => core.close(),
  };
}
