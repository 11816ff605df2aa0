/**
 * The machinery every fault proxy shares: a listener (TCP or Unix socket) in front of one
 * upstream, a pair of sockets per connection, and partitions.
 *
 * - `none`: bytes flow. What flows is up to the proxy's relays (one per direction of each
 *   connection): the TCP proxy passes bytes through, the NATS proxy cuts them into protocol units
 *   and may drop, duplicate, reorder or delay whole messages.
 * - `blackhole`: a silent partition. Nothing is read and nothing is written, both ways, and
 *   nothing is closed: the peers see no FIN and no RST, only silence, and must find it with their
 *   own keepalives and deadlines. Connections accepted meanwhile are held (the upstream is not
 *   dialled). Events seen meanwhile — a peer closing, a socket error — wait too. On `none`
 *   everything resumes where it stopped, as TCP does once a partition heals before the peers gave up.
 * - `reset`: every open connection is reset (RST on TCP, closed on a Unix socket) and new ones
 *   are accepted then reset at once, until `none`.
 *
 * Flow control is end to end: a destination that cannot take more pauses its source.
 *
 * @example
 * const core = await ProxyCore.start({ listen: { host: '127.0.0.1', port: 0 }, upstream, relay: passThrough });
 * core.partition('blackhole');
 * core.partition('none');
 * await core.close();
 */
import { lstat, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { err, ok, type Result } from '../../core/result.js';
import { checkEndpoint, endpointText, type Endpoint } from './endpoint.js';
import { FaultError } from './fault-error.js';

export const PARTITION_MODES = ['none', 'blackhole', 'reset'] as const;
export type PartitionMode = (typeof PARTITION_MODES)[number];

/** client → upstream, or upstream → client. */
export type Direction = 'toUpstream' | 'toClient';

/** Where a relay sends what it lets through; held while the proxy is blackholed. */
export interface Outlet {
  write(bytes: Buffer): void;
  /** The source ended and everything before was written: end the destination. */
  end(): void;
}

/** One direction of one connection: bytes read from the source in, bytes for the destination out. */
export interface Relay {
  push(chunk: Buffer): void;
  /** The source ended: write what is pending, then `outlet.end()`. */
  end(): void;
  /** The connection is gone: drop what is pending, cancel timers. */
  dispose(): void;
}

export type RelayFactory = (direction: Direction, outlet: Outlet) => Relay;

/** A relay that passes every byte through as it comes. */
export const passThrough: RelayFactory = (_direction, outlet) => ({
  push: (chunk) => outlet.write(chunk),
  end: () => outlet.end(),
  dispose: () => undefined,
});

export interface ProxyStats {
  readonly partition: PartitionMode;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Connections open now (held ones included). */
  readonly active: number;
  /** Connections accepted then reset because the proxy was in `reset`. */
  readonly refused: number;
  /** Open connections reset by `partition('reset')`. */
  readonly reset: number;
  /** Connections closed because the upstream could not be reached. */
  readonly upstreamFailures: number;
  /** Bytes written towards the upstream / towards clients. */
  readonly bytesToUpstream: number;
  readonly bytesToClient: number;
}

export interface ProxyCoreOptions {
  readonly listen: Endpoint;
  readonly upstream: Endpoint;
  readonly relay: RelayFactory;
  readonly logger?: Logger;
  /** How long dialling the upstream may take before the client is reset (default 5 s). */
  readonly connectTimeoutMs?: number;
}

type Side = 'client' | 'upstream';

export class ProxyCore {
  private mode: PartitionMode = 'none';
  private closed = false;
  private readonly links = new Set<Link>();
  readonly counters = { accepted: 0, refused: 0, reset: 0, upstreamFailures: 0, bytesToUpstream: 0, bytesToClient: 0 };

  private constructor(
    private readonly server: Server,
    readonly address: string,
    readonly options: ProxyCoreOptions,
  ) {}

  /** Binds the listener; rejects with a FaultError (INVALID_ARGUMENT, LISTEN_FAILED). */
  static async start(options: ProxyCoreOptions): Promise<ProxyCore> {
    const listen = checkEndpoint(options.listen, 'listen', true);
    if (!listen.ok) throw listen.error;
    const upstream = checkEndpoint(options.upstream, 'upstream', false);
    if (!upstream.ok) throw upstream.error;
    if ('path' in listen.value) await removeStaleSocket(listen.value.path);
    const server = createServer({ allowHalfOpen: false });
    const holder: { core?: ProxyCore } = {};
    server.on('connection', (socket) => (holder.core ? holder.core.accept(socket) : socket.destroy()));
    const bound = await new Promise<Result<string, FaultError>>((resolve) => {
      server.once('error', (e) => resolve(err(new FaultError('LISTEN_FAILED', `cannot listen on ${endpointText(listen.value)}: ${e.message}`, 'listen', { cause: e }))));
      const onListening = (): void => {
        const a = server.address();
        resolve(ok(typeof a === 'object' && a !== null ? endpointText({ host: a.address, port: a.port }) : String(a)));
      };
      if ('path' in listen.value) server.listen(listen.value.path, onListening);
      else server.listen(listen.value.port, listen.value.host, onListening);
    });
    if (!bound.ok) throw bound.error;
    server.on('error', (e) => options.logger?.error({ err: e }, 'fault proxy listener failed'));
    const core = new ProxyCore(server, bound.value, { ...options, listen: listen.value, upstream: upstream.value });
    holder.core = core;
    options.logger?.info({ listen: bound.value, upstream: endpointText(upstream.value) }, 'fault proxy listening');
    return core;
  }

  get partitionMode(): PartitionMode {
    return this.mode;
  }

  /** Switches the partition mode; an unknown mode or a closed proxy is refused and changes nothing. */
  partition(mode: PartitionMode): Result<void, FaultError> {
    if (this.closed) return err(new FaultError('CLOSED', 'the proxy is closed'));
    if (!PARTITION_MODES.includes(mode)) return err(new FaultError('INVALID_ARGUMENT', `partition mode must be one of ${PARTITION_MODES.join(', ')}`, 'mode'));
    if (mode === this.mode) return ok(undefined);
    const before = this.mode;
    this.mode = mode;
    this.options.logger?.info({ from: before, to: mode, connections: this.links.size }, 'fault proxy partition');
    for (const link of [...this.links]) {
      if (mode === 'reset') {
        this.counters.reset++;
        link.destroy(true);
      } else if (mode === 'blackhole') link.hold();
      else link.release();
    }
    return ok(undefined);
  }

  stats(): ProxyStats {
    return { partition: this.mode, active: this.links.size, ...this.counters };
  }

  /** Stops listening and destroys every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of [...this.links]) link.destroy(false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    const listen = this.options.listen;
    if ('path' in listen) await rm(listen.path, { force: true });
  }

  isBlackholed(): boolean {
    return this.mode === 'blackhole';
  }

  forget(link: Link): void {
    this.links.delete(link);
  }

  accept(socket: Socket): void {
    this.counters.accepted++;
    if (this.closed || this.mode === 'reset') {
      this.counters.refused++;
      resetSocket(socket);
      return;
    }
    const link = new Link(this, socket);
    this.links.add(link);
    if (this.mode === 'none') link.dial();
  }
}

/** One client connection and its upstream connection. */
class Link {
  private upstream: Socket | undefined;
  private up: Relay | undefined;
  private down: Relay | undefined;
  private dead = false;
  private dialling = false;
  private readonly deferred: (() => void)[] = [];
  /** Writes waiting for the partition to heal, per destination; `null` is an end. */
  private readonly held: Record<Side, (Buffer | null)[]> = { client: [], upstream: [] };
  /** Sources paused because their destination's buffer is full. */
  private readonly pressured: Record<Side, boolean> = { client: false, upstream: false };
  private readonly wired: Record<Side, boolean> = { client: false, upstream: false };

  constructor(
    private readonly core: ProxyCore,
    private readonly client: Socket,
  ) {
    client.setNoDelay(true);
    client.on('error', () => this.gate(() => this.destroy(false)));
    client.on('close', (hadError) => this.gate(() => this.closed('client', hadError)));
  }

  /** Dials the upstream; the client's bytes wait (unread) until it answers. */
  dial(): void {
    if (this.dead || this.dialling || this.upstream) return;
    this.dialling = true;
    const target = this.core.options.upstream;
    const socket = 'path' in target ? connect({ path: target.path }) : connect({ host: target.host, port: target.port });
    this.upstream = socket;
    socket.setTimeout(this.core.options.connectTimeoutMs ?? 5000);
    const failed = (reason: string): void => {
      if (this.dead) return;
      this.core.counters.upstreamFailures++;
      this.core.options.logger?.debug({ reason }, 'fault proxy: upstream unreachable');
      this.destroy(true);
    };
    // A failure met during a partition reaches the client only once it heals, like any event.
    socket.once('timeout', () => this.gate(() => failed('connect timeout')));
    socket.once('error', (e) => this.gate(() => failed(e.message)));
    socket.once('connect', () => {
      this.dialling = false;
      socket.removeAllListeners('timeout');
      socket.removeAllListeners('error');
      socket.setTimeout(0);
      socket.setNoDelay(true);
      if (this.dead) return void socket.destroy();
      this.wire();
    });
  }

  private wire(): void {
    const upstream = this.upstream!;
    this.up = this.core.options.relay('toUpstream', this.outlet('upstream'));
    this.down = this.core.options.relay('toClient', this.outlet('client'));
    upstream.on('error', () => this.gate(() => this.destroy(false)));
    upstream.on('close', (hadError) => this.gate(() => this.closed('upstream', hadError)));
    upstream.on('data', (chunk: Buffer) => this.gate(() => this.down?.push(chunk)));
    upstream.on('end', () => this.gate(() => this.down?.end()));
    this.client.on('data', (chunk: Buffer) => this.gate(() => this.up?.push(chunk)));
    this.client.on('end', () => this.gate(() => this.up?.end()));
    this.wired.client = this.wired.upstream = true;
    this.refresh();
  }

  /** Blackhole: stop reading both sockets; writes and events wait. */
  hold(): void {
    this.refresh();
  }

  /** Heal: replay what waited, in order, then read again; a held connection dials now. */
  release(): void {
    // What was written before the partition's events goes first.
    for (const side of ['upstream', 'client'] as const) {
      const queue = this.held[side].splice(0);
      for (const item of queue) {
        if (item === null) this.endSide(side);
        else this.send(side, item);
      }
    }
    while (this.deferred.length > 0 && !this.dead && !this.core.isBlackholed()) this.deferred.shift()!();
    if (this.dead) return;
    if (!this.upstream) this.dial();
    else this.refresh();
  }

  /** Tears the connection down; `reset` sends an RST where the socket is TCP. */
  destroy(reset: boolean): void {
    if (this.dead) return;
    this.dead = true;
    this.deferred.length = 0;
    this.held.client.length = 0;
    this.held.upstream.length = 0;
    this.up?.dispose();
    this.down?.dispose();
    for (const s of [this.client, this.upstream]) {
      if (!s) continue;
      if (reset) resetSocket(s);
      else s.destroy();
    }
    this.core.forget(this);
  }

  /** Events wait while the proxy is blackholed (the peers must not learn anything). */
  private gate(fn: () => void): void {
    if (this.dead) return;
    if (this.core.isBlackholed()) this.deferred.push(fn);
    else fn();
  }

  private closed(side: Side, hadError: boolean): void {
    const other = side === 'client' ? this.upstream : this.client;
    // A clean close leaves the other side to finish: its relay ends it once flushed.
    if (hadError || !this.wired.upstream || !other || other.destroyed) this.destroy(false);
  }

  private outlet(dest: Side): Outlet {
    return {
      write: (bytes) => {
        if (this.dead) return;
        if (this.core.isBlackholed()) this.held[dest].push(bytes);
        else this.send(dest, bytes);
      },
      end: () => {
        if (this.dead) return;
        if (this.core.isBlackholed()) this.held[dest].push(null);
        else this.endSide(dest);
      },
    };
  }

  private socketOf(side: Side): Socket | undefined {
    return side === 'client' ? this.client : this.upstream;
  }

  private send(dest: Side, bytes: Buffer): void {
    const socket = this.socketOf(dest);
    if (this.dead || !socket || socket.destroyed || socket.writableEnded) return;
    if (dest === 'upstream') this.core.counters.bytesToUpstream += bytes.length;
    else this.core.counters.bytesToClient += bytes.length;
    if (socket.write(bytes)) return;
    const source: Side = dest === 'client' ? 'upstream' : 'client';
    if (this.pressured[source]) return;
    this.pressured[source] = true;
    this.refresh();
    socket.once('drain', () => {
      this.pressured[source] = false;
      this.refresh();
    });
  }

  /** Ends a destination (FIN after what was written); the link goes once its peer closes too. */
  private endSide(dest: Side): void {
    const socket = this.socketOf(dest);
    if (socket && !socket.destroyed && !socket.writableEnded) socket.end();
  }

  /** A wired socket reads unless the proxy is blackholed or its destination is full. */
  private refresh(): void {
    for (const side of ['client', 'upstream'] as const) {
      const socket = this.socketOf(side);
      if (!socket || !this.wired[side] || socket.destroyed) continue;
      if (this.core.isBlackholed() || this.pressured[side]) socket.pause();
      else socket.resume();
    }
  }
}

/** RST on a TCP socket; a Unix socket has none, it is closed. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.remoteFamily === 'IPv4' || socket.remoteFamily === 'IPv6') socket.resetAndDestroy();
  else socket.destroy();
}

/** Removes a Unix socket file nothing listens on (a killed proxy's); keeps a live one (the bind then fails). */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isSocket()) return;
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (!live) await rm(path, { force: true });
}
