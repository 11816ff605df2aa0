/**
 * An in-process P4Runtime link: the manager's session talks to a `P4RuntimeServer` in the same
 * process, deterministically, for the in-process simulator. Every message crosses as bytes, made
 * by the client's own serialisers (runtime-client.ts clientCodec: the lean Write encoder, the
 * protobuf types for the rest) and read by the server's own deserialisers (the grpc service
 * definition the target serves, wire.ts), and back the same way (Read: the target's pre-encoded
 * ReadResponse chunks, decoded by decodeReadResponse). A status becomes the P4RuntimeError the
 * grpc client makes (per-update details from grpc-status-details-bin included).
 *
 * Delivery is asynchronous, one microtask per message, in send order; time is the injected
 * clock's only: a unary call's deadline (DEADLINE_EXCEEDED; the target's call is marked cancelled
 * so a write held by faults is abandoned, as over grpc), a Read's idle limit, a stream's next(ms).
 * Nothing here uses setTimeout, setImmediate or Date.now.
 *
 * Faults: `cut()` black-holes the link's path (messages wait, calls run into their deadlines, the
 * stream goes silent); `restore()` delivers what waited, in order, except to calls given up
 * meanwhile. A path cut for longer than `keepaliveMs` makes the target drop the connection (its
 * calls cancelled, the arbitration sees the stream go), as its keepalive does; the client hears
 * of it once the path is back. `kill()` is the manager's death: its side fails at once, the
 * target sees the connection close. `P4RuntimeServer.close()` drops every link to it.
 *
 * @example
 * const clock = new ManualClock(0);
 * const server = new P4RuntimeServer({ devices: [{ id: 1, ...modelDevice({ clock }) }], logger, clock });
 * const path = new LoopbackPath();
 * const session = createActor(sessionLogic, { clock, input: { ...input, connect: async () => loopbackLink(server, { clock, path }) } });
 * path.cut(); // later: path.restore()
 */
import { EventEmitter } from 'node:events';
import { Metadata, type MethodDefinition } from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { clientCodec, decodeReadResponse, P4RuntimeError, p4RuntimeErrorOf } from '../runtime-client.js';
import type { P4RuntimeLink, P4RuntimeLinkStream } from '../runtime-link.js';
import type { P4RuntimeEndpoint, P4RuntimeHandlers } from './server.js';
import type { StreamCall } from './stream.js';

type Msg = Record<string, unknown>;

/** A status as the target's handlers give it (grpc-js's ServerErrorResponse / StatusObject shape). */
interface Status {
  readonly code: number;
  readonly details: string;
  readonly metadata?: Metadata | null;
}

/** The gRPC status codes the link itself gives (the same numbers grpc-js uses). */
const GrpcStatus = { OK: 0, CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, INTERNAL: 13, UNAVAILABLE: 14 } as const;

const OK: Status = { code: GrpcStatus.OK, details: 'OK' };

/** One message the link carried, as bytes. */
export interface LoopbackFrame {
  /** The P4Runtime method, e.g. 'Write', 'StreamChannel'. */
  readonly method: string;
  readonly direction: 'request' | 'response';
  readonly bytes: Uint8Array;
}

export interface LoopbackOptions {
  readonly clock: Clock;
  /** Deadline of a unary call (Write, pipeline), as P4RuntimeClient's callMs. Default 30 s. */
  readonly deadlineMs?: number;
  /** A Read fails when no response message arrives for this long, as P4RuntimeClient's readIdleMs. Default 15 s. */
  readonly readIdleMs?: number;
  /** The path the link takes: links given the same one are cut and restored together (default: its own). */
  readonly path?: LoopbackPath;
  /** How long the target keeps a connection whose path is cut (bin/target: keepalive ping 10 s + 5 s). Default 15 s. */
  readonly keepaliveMs?: number;
  /** Sees every message carried, as the bytes that crossed (tests, traces). Must not throw. */
  readonly tap?: (frame: LoopbackFrame) => void;
}

/**
 * The network between a manager and its target: up, or cut (black-holed). Messages sent while
 * it is cut wait, in order, and are delivered when it is restored.
 *
 * @example
 * const path = new LoopbackPath();
 * const link = loopbackLink(server, { clock, path });
 * path.cut(); // writes time out, the stream goes silent
 * path.restore();
 */
export class LoopbackPath {
  private down = false;
  private readonly held: (() => void)[] = [];
  private readonly watchers = new Set<(cut: boolean) => void>();

  get isCut(): boolean {
    return this.down;
  }

  /** Runs `deliver` in a later microtask, or once restored if the path is cut. */
  send(deliver: () => void): void {
    if (this.down) this.held.push(deliver);
    else queueMicrotask(deliver);
  }

  cut(): void {
    if (this.down) return;
    this.down = true;
    for (const w of [...this.watchers]) w(true);
  }

  restore(): void {
    if (!this.down) return;
    this.down = false;
    for (const deliver of this.held.splice(0)) queueMicrotask(deliver);
    for (const w of [...this.watchers]) w(false);
  }

  /** Told of every cut and restore; returns a function that stops it. */
  watch(watcher: (cut: boolean) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }
}

/**
 * A link from this process to `server`. Each call opens what grpc-js would: a unary call, a
 * server-streamed Read, a bidirectional StreamChannel.
 *
 * @example
 * const link = loopbackLink(server, { clock, deadlineMs: 5000 });
 * await link.write({ device_id: 1, election_id: { high: 0, low: 1 }, updates });
 */
export function loopbackLink(server: { handlers(): P4RuntimeEndpoint }, options: LoopbackOptions): LoopbackLink {
  return new LoopbackLink(server.handlers(), options);
}

/** The connection state both sides share: dropped once, for good (calls after it open a new one). */
interface Connection {
  dropped: boolean;
  /** The target side of every call on it, to cancel when it drops. */
  readonly calls: Set<ServerSide>;
  /** The client side of every call on it, to fail when it drops. */
  readonly clients: Set<(status: Status) => void>;
}

interface ServerSide {
  /** The connection went: the call is cancelled on the target. */
  drop(): void;
  /** Set when the call is registered on its connection: forgets it there once it is over. */
  release: () => void;
}

/**
 * One connection's worth of P4Runtime to an in-process target (what a P4RuntimeClient is to a
 * remote one), with the faults a simulator injects: cut/restore (its path), kill.
 *
 * @example
 * const link = loopbackLink(server, { clock });
 * link.kill(); // the manager died: its stream ends at the target, further calls fail UNAVAILABLE
 */
export class LoopbackLink implements P4RuntimeLink {
  private readonly clock: Clock;
  private readonly deadlineMs: number;
  private readonly readIdleMs: number;
  private readonly keepaliveMs: number;
  readonly path: LoopbackPath;
  private connection: Connection = newConnection();
  private state: 'open' | 'closed' | 'killed' = 'open';
  private keepalive: TimerHandle | undefined;
  /** Closed and idle: the connection's end is on its way to the target. */
  private ending = false;
  private readonly unwatch: () => void;
  private readonly unlisten: () => void;

  constructor(
    private readonly endpoint: P4RuntimeEndpoint,
    private readonly options: LoopbackOptions,
  ) {
    this.clock = options.clock;
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.readIdleMs = options.readIdleMs ?? 15_000;
    this.keepaliveMs = options.keepaliveMs ?? 15_000;
    this.path = options.path ?? new LoopbackPath();
    this.unwatch = this.path.watch((cut) => this.onPath(cut));
    if (this.path.isCut) this.onPath(true);
    // A stopped target drops its connections; the client hears it when the path lets it.
    this.unlisten = endpoint.onClose(() => this.drop('Connection dropped: the target stopped'));
  }

  /** Cuts this link's path (and every link's that shares it). */
  cut(): void {
    this.path.cut();
  }

  restore(): void {
    this.path.restore();
  }

  /**
   * The manager died: every call on this side fails at once and nothing more can be sent; the
   * target sees the connection close (once the path lets the news through, or at its keepalive).
   */
  kill(): void {
    if (this.state === 'killed') return;
    this.state = 'killed';
    const conn = this.connection;
    const clients = [...conn.clients];
    conn.clients.clear();
    for (const fail of clients) fail({ code: GrpcStatus.UNAVAILABLE, details: 'the manager side was killed' });
    this.path.send(() => {
      dropServerSide(conn);
      this.forget();
    });
  }

  /** No new calls; once the calls under way are over, the connection closes (the target sees it go). */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.idleCheck();
  }

  getPipeline(req: Msg): Promise<Msg> {
    return this.unary('GetForwardingPipelineConfig', req);
  }

  setPipeline(req: Msg): Promise<Msg> {
    return this.unary('SetForwardingPipelineConfig', req);
  }

  write(req: Msg): Promise<Msg> {
    return this.unary('Write', req);
  }

  read(req: Msg): Promise<Msg[]> {
    const out: Msg[] = [];
    return this.serverStream(req, decodeReadResponse, (entities) => {
      for (const e of entities) out.push(e);
    }).then(() => out);
  }

  readEach(req: Msg, onMessage: (message: Uint8Array) => void): Promise<void> {
    return this.serverStream(req, (b) => b, onMessage);
  }

  /**
   * A Read as grpc-js carries it: each response message through `deserialize` (a throw there is
   * grpc's INTERNAL "Response message parsing error"), then to `each` (a throw there cancels the
   * call and fails it with that error).
   */
  private serverStream<T>(req: Msg, deserialize: (b: Uint8Array) => T, each: (m: T) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const refused = this.refusal();
      if (refused) return queueMicrotask(() => reject(p4RuntimeErrorOf(refused)));
      const conn = this.connection;
      const bytes = this.encode('Read', req);
      let done = false;
      let idle: TimerHandle | undefined;
      const call = new ServerStreamingCall(this.endpoint.definition.Read, (m) => this.tapped('Read', 'response', m));
      let thrown: { error: unknown } | undefined;
      const settle = (status: Status): void => {
        if (done) return;
        done = true;
        if (idle) this.clock.clearTimeout(idle);
        this.settled(conn, settle);
        if (thrown) reject(thrown.error instanceof Error ? thrown.error : new Error(String(thrown.error)));
        else if (status.code === GrpcStatus.OK) resolve();
        else reject(p4RuntimeErrorOf(status));
      };
      const arm = (): void => {
        if (idle) this.clock.clearTimeout(idle);
        idle = this.clock.setTimeout(() => {
          settle({ code: GrpcStatus.DEADLINE_EXCEEDED, details: `Read: no response for ${this.readIdleMs} ms` });
          call.cancel();
        }, this.readIdleMs);
      };
      conn.clients.add(settle);
      arm();
      call.toClient = (chunk) =>
        this.path.send(() => {
          if (done) return;
          arm();
          let m: T;
          try {
            m = deserialize(chunk);
          } catch (e) {
            settle({ code: GrpcStatus.INTERNAL, details: `Response message parsing error: ${(e as Error).message}` });
            call.cancel();
            return;
          }
          try {
            each(m);
          } catch (e) {
            thrown = { error: e };
            settle({ code: GrpcStatus.CANCELLED, details: 'the reader failed' });
            call.cancel();
          }
        });
      call.statusToClient = (status) => this.path.send(() => settle(status));
      this.path.send(() => {
        if (done || call.cancelled) return;
        if (!this.serve(conn, call, settle)) return;
        call.request = this.decodeRequest('Read', bytes, settle) as Msg;
        if (call.request === undefined) return;
        this.run(() => this.endpoint.implementation.Read(call), (status) => call.emit('error', status));
      });
    });
  }

  openStream(): P4RuntimeLinkStream {
    const stream = new LoopbackStream(this.clock);
    const refused = this.refusal();
    if (refused) {
      queueMicrotask(() => stream.finish(refused));
      return stream;
    }
    const conn = this.connection;
    const call = new ServerStreamingCall(this.endpoint.definition.StreamChannel, (m) => this.tapped('StreamChannel', 'response', m));
    const finish = (status: Status): void => {
      this.settled(conn, finish);
      stream.finish(status);
    };
    conn.clients.add(finish);
    call.toClient = (bytes) =>
      this.path.send(() => {
        try {
          stream.deliver(clientCodec('StreamChannel').deserialize(bytes));
        } catch (e) {
          finish({ code: GrpcStatus.INTERNAL, details: `Response message parsing error: ${(e as Error).message}` });
          call.cancel();
        }
      });
    call.statusToClient = (status) => this.path.send(() => finish(status));
    let started = false;
    const start = (): boolean => {
      if (started) return !call.finished;
      started = true;
      if (!this.serve(conn, call, finish)) return false;
      this.run(() => this.endpoint.implementation.StreamChannel(call), (status) => call.emit('error', status));
      return !call.finished;
    };
    // The call opens on the target even before the first message (as grpc-js sends its headers).
    this.path.send(() => void start());
    stream.onSend = (m) => {
      if (stream.ended !== undefined || this.state === 'killed') return;
      const bytes = this.encode('StreamChannel', m);
      this.path.send(() => {
        if (!start() || conn.dropped) return;
        const msg = this.decodeRequest('StreamChannel', bytes, (status) => call.emit('error', status));
        if (msg !== undefined) call.emit('data', msg);
      });
    };
    stream.onClose = () => {
      // call.end() then call.cancel(), as P4RuntimeStream.close(): the target hears both, in order.
      finish({ code: GrpcStatus.CANCELLED, details: 'Cancelled on client' });
      if (this.state === 'killed') return;
      this.path.send(() => {
        if (!started || call.finished || conn.dropped) return;
        call.emit('end');
        call.cancel();
      });
    };
    return stream;
  }

  private unary(name: 'Write' | 'SetForwardingPipelineConfig' | 'GetForwardingPipelineConfig', req: Msg): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const refused = this.refusal();
      if (refused) return queueMicrotask(() => reject(p4RuntimeErrorOf(refused)));
      const conn = this.connection;
      const bytes = this.encode(name, req);
      const definition = this.endpoint.definition[name];
      const call = new ServerUnaryCall();
      let done = false;
      const settle = (status: Status, value?: Msg): void => {
        if (done) return;
        done = true;
        this.clock.clearTimeout(deadline);
        this.settled(conn, settle);
        if (status.code === GrpcStatus.OK) resolve(value ?? {});
        else reject(p4RuntimeErrorOf(status));
      };
      // The target knows the deadline too (grpc-timeout): its side is cancelled then, whatever the path.
      const deadline = this.clock.setTimeout(() => {
        settle({ code: GrpcStatus.DEADLINE_EXCEEDED, details: `Deadline exceeded after ${this.deadlineMs} ms` });
        call.cancel();
      }, this.deadlineMs);
      conn.clients.add(settle);
      this.path.send(() => {
        if (done || call.cancelled) return;
        if (!this.serve(conn, call, settle)) return;
        const request = this.decodeRequest(name, bytes, settle);
        if (request === undefined) return;
        call.request = request as Msg;
        let replied = false;
        const reply = (error: unknown, value?: unknown): void => {
          if (replied || call.cancelled || conn.dropped) return;
          replied = true;
          call.release();
          if (error) {
            const status = copyStatus(toStatus(error));
            return this.path.send(() => settle(status));
          }
          let out: Uint8Array;
          try {
            out = copy(definition.responseSerialize(value));
          } catch (e) {
            return this.path.send(() => settle({ code: GrpcStatus.INTERNAL, details: `Failed to serialize response: ${(e as Error).message}` }));
          }
          this.tapped(name, 'response', out);
          this.path.send(() => {
            try {
              settle(OK, clientCodec(name).deserialize(out));
            } catch (e) {
              settle({ code: GrpcStatus.INTERNAL, details: `Response message parsing error: ${(e as Error).message}` });
            }
          });
        };
        const handler: (call: ServerUnaryCall, cb: typeof reply) => void = this.endpoint.implementation[name];
        this.run(() => handler(call, reply), (status) => reply(status));
      });
    });
  }

  /** Why a new call fails at once, or undefined. */
  private refusal(): Status | undefined {
    if (this.state === 'closed') return { code: GrpcStatus.UNAVAILABLE, details: 'Channel has been shut down' };
    if (this.state === 'killed') return { code: GrpcStatus.UNAVAILABLE, details: 'the manager side was killed' };
    return undefined;
  }

  /**
   * At the target, a call arrives: registered on its connection, unless the connection dropped
   * meanwhile (the call is gone) or the target is stopped (refused, which the client hears).
   */
  private serve(conn: Connection, call: ServerSide, refuse: (s: Status) => void): boolean {
    if (conn.dropped) return false;
    if (this.endpoint.closed()) {
      this.path.send(() => refuse({ code: GrpcStatus.UNAVAILABLE, details: 'connection refused: the target is stopped' }));
      return false;
    }
    conn.calls.add(call);
    call.release = () => conn.calls.delete(call);
    return true;
  }

  /** A call's client side is over: forgotten on its connection, which closes if the link is closed and idle. */
  private settled(conn: Connection, client: (s: Status) => void): void {
    conn.clients.delete(client);
    if (conn === this.connection) this.idleCheck();
  }

  private idleCheck(): void {
    const conn = this.connection;
    if (this.state !== 'closed' || this.ending || conn.clients.size > 0 || conn.dropped) return;
    this.ending = true;
    // Whatever the target still holds of this connection goes with it (after what was sent before;
    // through a cut path that is on restore, or at the target's keepalive).
    this.path.send(() => {
      dropServerSide(conn);
      this.forget();
    });
  }

  /** The client's bytes for a request, tapped and copied (the sender's buffer stays its own). */
  private encode(method: string, req: Msg): Uint8Array {
    const bytes = copy(clientCodec(method).serialize(req));
    this.tapped(method, 'request', bytes);
    return bytes;
  }

  /** The target's own deserialiser on the request bytes; a throw is INTERNAL, as in grpc-js. */
  private decodeRequest(method: keyof P4RuntimeHandlers, bytes: Uint8Array, fail: (s: Status) => void): unknown {
    try {
      return this.endpoint.definition[method].requestDeserialize(Buffer.from(bytes));
    } catch (e) {
      this.path.send(() => fail({ code: GrpcStatus.INTERNAL, details: `Request message parsing error: ${(e as Error).message}` }));
      return undefined;
    }
  }

  /** Runs a handler; one that throws ends its call with UNKNOWN instead of escaping into the microtask queue. */
  private run(handler: () => void, fail: (s: Status) => void): void {
    try {
      handler();
    } catch (e) {
      fail({ code: GrpcStatus.UNKNOWN, details: `handler threw: ${(e as Error).message}` });
    }
  }

  private tapped(method: string, direction: LoopbackFrame['direction'], bytes: Uint8Array): void {
    if (!this.options.tap) return;
    try {
      this.options.tap({ method, direction, bytes });
    } catch {
      // A tap must not break the link.
    }
  }

  private onPath(cut: boolean): void {
    if (this.keepalive) this.clock.clearTimeout(this.keepalive);
    this.keepalive = undefined;
    if (cut && !this.connection.dropped) {
      this.keepalive = this.clock.setTimeout(() => {
        this.keepalive = undefined;
        this.drop('Connection dropped: no keepalive answer');
      }, this.keepaliveMs);
    }
  }

  /** The target drops the connection: its calls are cancelled now; the client hears once the path lets it. */
  private drop(details: string): void {
    const conn = this.connection;
    if (conn.dropped) return;
    this.connection = newConnection();
    dropServerSide(conn);
    const clients = [...conn.clients];
    conn.clients.clear();
    if (clients.length > 0) this.path.send(() => clients.forEach((fail) => fail({ code: GrpcStatus.UNAVAILABLE, details })));
    if (this.endpoint.closed() || this.state !== 'open') this.forget();
  }

  private forget(): void {
    if (this.keepalive) this.clock.clearTimeout(this.keepalive);
    this.keepalive = undefined;
    this.unwatch();
    this.unlisten();
  }
}

function newConnection(): Connection {
  return { dropped: false, calls: new Set(), clients: new Set() };
}

function dropServerSide(conn: Connection): void {
  conn.dropped = true;
  for (const call of [...conn.calls]) call.drop();
  conn.calls.clear();
}

/** The target's side of a unary call: what the handlers read (request, cancelled). */
class ServerUnaryCall extends EventEmitter implements ServerSide {
  request: Msg = {};
  cancelled = false;
  readonly metadata = new Metadata();
  release: () => void = () => undefined;

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.release();
    this.emit('cancelled');
  }

  drop(): void {
    this.cancel();
  }
}

type Serializer = Pick<MethodDefinition<unknown, unknown>, 'responseSerialize'>;

/**
 * The target's side of a call that streams responses (Read; StreamChannel, whose requests arrive
 * as 'data'): each message written is serialised by the target's own serialiser and sent, then a
 * status. What the handlers use of grpc-js's server streams (ReadCall, StreamCall).
 */
class ServerStreamingCall extends EventEmitter implements StreamCall, ServerSide {
  request: Msg = {};
  cancelled = false;
  finished = false;
  readonly metadata = new Metadata();
  toClient: (bytes: Uint8Array) => void = () => undefined;
  statusToClient: (status: Status) => void = () => undefined;
  release: () => void = () => undefined;
  private pending: Status = OK;

  constructor(
    private readonly definition: Serializer,
    private readonly tap: (bytes: Uint8Array) => void,
  ) {
    super();
    // As grpc-js's server streams: an emitted error is the call's status.
    this.on('error', (e: unknown) => {
      this.pending = toStatus(e);
      this.end();
    });
  }

  write(msg: unknown): boolean {
    if (this.finished || this.cancelled) return false;
    const bytes = copy(this.definition.responseSerialize(msg));
    this.tap(bytes);
    this.toClient(bytes);
    return true;
  }

  end(): this {
    if (this.finished) return this;
    this.finished = true;
    this.release();
    if (!this.cancelled) this.statusToClient(copyStatus(this.pending));
    return this;
  }

  /** The client cancelled, or the connection went: the handler hears 'cancelled' (a stream's arbitration ends). */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.finished = true;
    this.release();
    this.emit('cancelled');
  }

  drop(): void {
    this.cancel();
  }
}

/** The client's side of a StreamChannel, as P4RuntimeStream: a queue, waiters on the injected clock, how it ended. */
class LoopbackStream implements P4RuntimeLinkStream {
  ended: P4RuntimeError | null | undefined = undefined;
  onSend: (m: Msg) => void = () => undefined;
  onClose: () => void = () => undefined;
  private readonly queue: Msg[] = [];
  private waiters: ((m: Msg | undefined) => void)[] = [];
  private closed = false;

  constructor(private readonly clock: Clock) {}

  send(m: Msg): void {
    if (this.closed) return;
    this.onSend(m);
  }

  next(ms = 5000): Promise<Msg | undefined> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, ms);
      const done = (x: Msg | undefined): void => {
        this.clock.clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  deliver(m: Msg): void {
    if (this.ended !== undefined) return;
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  finish(status: Status): void {
    if (this.ended !== undefined) return;
    this.ended = status.code === GrpcStatus.OK ? null : p4RuntimeErrorOf(status);
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/** A handler's error as grpc-js reads it (serverErrorToStatus): a numeric code with details, else UNKNOWN with the message. */
function toStatus(e: unknown): Status {
  const x = (typeof e === 'object' && e !== null ? e : {}) as { code?: unknown; details?: unknown; message?: unknown; metadata?: unknown };
  const metadata = x.metadata instanceof Metadata ? x.metadata : null;
  if (typeof x.code === 'number' && Number.isInteger(x.code)) {
    return { code: x.code, details: typeof x.details === 'string' ? x.details : typeof x.message === 'string' ? x.message : 'Unknown Error', metadata };
  }
  return { code: GrpcStatus.UNKNOWN, details: typeof x.message === 'string' ? x.message : 'Unknown Error', metadata };
}

/** A status whose trailer bytes are the receiver's own, as after crossing a wire. */
function copyStatus(s: Status): Status {
  if (!s.metadata) return s;
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(s.metadata.toJSON())) {
    for (const v of value) metadata.add(key, Buffer.isBuffer(v) ? Buffer.from(v) : v);
  }
  return { code: s.code, details: s.details, metadata };
}

function copy(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}
