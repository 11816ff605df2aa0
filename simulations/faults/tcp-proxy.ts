/**
 * A TCP (or Unix socket) proxy that can partition what goes through it: put it in front of any
 * connection of the simulator — an agent's or a manager's NATS connection, the manager's gRPC
 * channel to its P4 target — and cut that connection on cue.
 *
 * - `partition('blackhole')`: bytes stop flowing both ways and nothing is closed (a silent
 *   network partition): gRPC and NATS must find it with their keepalives and deadlines. Healing
 *   (`'none'`) resumes the same connections where they stopped.
 * - `partition('reset')`: every connection is reset and new ones are accepted then reset, until `'none'`.
 *
 * Bytes are passed through untouched, so it works for any protocol (HTTP/2, TLS, NATS).
 *
 * @example
 * const proxy = await startTcpProxy({ listen: { path: '/tmp/ioff-1/p4rt-proxy.sock' }, upstream: { path: '/tmp/ioff-1/p4rt.sock' } });
 * // the manager dials unix:///tmp/ioff-1/p4rt-proxy.sock
 * proxy.partition('blackhole'); // … later
 * proxy.partition('none');
 * console.log(proxy.stats());   // { partition: 'none', accepted: 1, active: 1, … }
 * await proxy.close();
 */
import type { Logger } from 'pino';
import type { Result } from '../../core/result.js';
import type { Endpoint } from './endpoint.js';
import type { FaultError } from './fault-error.js';
import { passThrough, ProxyCore, type PartitionMode, type ProxyStats } from './proxy-core.js';

export type { Endpoint } from './endpoint.js';
export type { PartitionMode, ProxyStats } from './proxy-core.js';

export interface TcpProxyOptions {
  /** `{ host: '127.0.0.1', port: 0 }` (any free port) or `{ path }` (a Unix socket). */
  readonly listen: Endpoint;
  readonly upstream: Endpoint;
  readonly logger?: Logger;
}

export interface TcpProxy {
  /** `host:port`, or the Unix socket path. */
  readonly address: string;
  /** Switches the partition; an unknown mode is refused (a typed error) and changes nothing. */
  partition(mode: PartitionMode): Result<void, FaultError>;
  stats(): ProxyStats;
  /** Stops listening, destroys every connection, removes the Unix socket. */
  close(): Promise<void>;
}

/** Starts the proxy; rejects with a FaultError (INVALID_ARGUMENT, LISTEN_FAILED). */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const core = await ProxyCore.start({ listen: options.listen, upstream: options.upstream, relay: passThrough, ...(options.logger ? { logger: options.logger } : {}) });
  return {
    address: core.address,
    partition: (mode) => core.partition(mode),
    stats: () => core.stats(),
    close: () => core.close(),
  };
}
