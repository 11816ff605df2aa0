/**
 * The bus: typed request/reply and publish/subscribe over a real NATS connection.
 *
 * - Requests carry protobuf bytes; replies are the response message, or an infra.v1.Error
 *   flagged by the "Infra-Error" header. Every outcome a caller sees is a Result, never a throw.
 * - `serve(prefix, routes)` answers `<prefix>.<op>` for every op with one subscription: unknown
 *   ops get UNIMPLEMENTED, undecodable bytes MALFORMED/TOO_LARGE, bad fields INVALID_ARGUMENT,
 *   a throwing handler INTERNAL. Untrusted bytes never throw out of the bus.
 * - The connection reconnects forever (supervised processes must not give up on their bus).
 *
 * @example
 * const bus = await Bus.connect({ servers: url, name: 'manager', logger });
 * bus.serve(prefix('node-1', 'manager'), [route(helloMethod, async (hello) => ok(reply))]);
 * const r = await bus.request(subjects.manager('node-1', 'hello'), helloMethod, hello, { timeoutMs: 500 });
 */
import {
  ClosedConnectionError as NatsClosedError,
  connect,
  DrainingConnectionError as NatsDrainingError,
  headers as natsHeaders,
  NoRespondersError as NatsNoRespondersError,
  TimeoutError as NatsTimeoutError,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  type Subscription,
} from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { err, ok, toError, type Result } from '../core/result.js';
import type { Codec } from './codec.js';
import { ERROR_HEADER, errorCodec } from './error-codec.js';
import {
  BusError,
  ConnectionClosedError,
  MalformedError,
  NoRespondersError,
  TimeoutError,
} from './errors.js';
import type { Method } from './method.js';

export interface BusTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface BusOptions {
  readonly servers: string | readonly string[];
  /** Connection name, shown by the server's monitoring. */
  readonly name: string;
  readonly logger: Logger;
  readonly tls?: BusTls;
  /** Prefix of this identity's reply subjects (NATS permissions give each user its own). */
  readonly inboxPrefix?: string;
  /** Default request deadline. */
  readonly timeoutMs?: number;
  /** Ms between reconnect attempts. */
  readonly reconnectWaitMs?: number;
  /**
   * false: one attempt at connecting, within `connectTimeoutMs`, and no reconnecting — for
   * tools such as offloadctl, which must fail rather than wait for a server that is not there.
   * Processes keep the default: reconnect forever.
   */
  readonly reconnect?: boolean;
  readonly connectTimeoutMs?: number;
}

/**
 * What a process may want to know of its bus (metrics): told synchronously, so keep it cheap.
 * Knows nothing of what the subjects mean.
 *
 * @example
 * bus.observe({ reconnected: () => reconnects.inc(), requested: (subject, seconds, code) => … });
 */
export interface BusObserver {
  /** The connection is back after a disconnect (the client reconnects on its own). */
  reconnected?(): void;
  /** The connection was lost (a reconnect follows unless the bus is closing). */
  disconnected?(): void;
  /** A typed request finished: its subject, seconds on the monotonic clock, '' or the error's code. */
  requested?(subject: string, seconds: number, code: string): void;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
}

/** What a route handler returns: the response, or a typed error to send back. */
export type HandlerResult<Res> = Result<Res, BusError>;

export interface Route<Req, Res> {
  readonly method: Method<Req, Res>;
  readonly handle: (request: Req, meta: RequestMeta) => HandlerResult<Res> | Promise<HandlerResult<Res>>;
}

export interface RequestMeta {
  readonly subject: string;
  readonly op: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRoute = Route<any, any>;

/** Pairs a method with its handler, keeping the two types in step. */
export function route<Req, Res>(method: Method<Req, Res>, handle: Route<Req, Res>['handle']): Route<Req, Res> {
  return { method, handle };
}

export interface ServeOptions {
  /** Requests handled at once; beyond it, RESOURCE_EXHAUSTED (back-pressure, not a queue). */
  readonly maxInFlight?: number;
}

export interface ServeStats {
  /** Requests answered with a response. */
  served: number;
  /** Requests answered with an error (malformed, invalid, unknown op, handler error…). */
  rejected: number;
}

/** A running `serve`: its counters, and a promise that settles when the subscription ends. */
export interface Served {
  readonly subject: string;
  readonly stats: Readonly<ServeStats>;
  /** Resolves when the subscription ends; with an Error if it ended abnormally. */
  readonly closed: Promise<Error | undefined>;
  stop(): Promise<void>;
}

export interface Subscribed {
  readonly closed: Promise<Error | undefined>;
  stop(): void;
}

export class Bus {
  private constructor(
    readonly connection: NatsConnection,
    private readonly options: BusOptions,
  ) {
    this.defaultTimeoutMs = options.timeoutMs ?? 2000;
  }

  private readonly defaultTimeoutMs: number;
  private observer: BusObserver | undefined;

  /** Reports reconnects and request latencies to `observer` from now on (one observer; undefined removes it). */
  observe(observer: BusObserver | undefined): void {
    this.observer = observer;
  }

  /**
   * Wraps a connection made elsewhere — the in-process simulator's `MemoryNats`
   * (messages/memory-nats.ts) — exactly as `connect` wraps the one it makes: same Bus, same
   * status watch. `options.servers`, `tls`, `reconnect…` are not used; `name`, `logger` and
   * `timeoutMs` are.
   *
   * @example
   * const nats = new MemoryNats({ clock, random: seededRandom(1) });
   * const bus = Bus.over(nats.connect('manager'), { servers: 'memory', name: 'manager', logger });
   */
  static over(connection: NatsConnection, options: BusOptions): Bus {
    const bus = new Bus(connection, options);
    bus.watchStatus();
    return bus;
  }

  static async connect(options: BusOptions): Promise<Bus> {
    const connOptions: NodeConnectionOptions = {
      servers: typeof options.servers === 'string' ? options.servers : [...options.servers],
      name: options.name,
      maxReconnectAttempts: options.reconnect === false ? 0 : -1,
      reconnectTimeWait: options.reconnectWaitMs ?? 250,
      waitOnFirstConnect: options.reconnect !== false,
      ...(options.reconnect === false ? { reconnect: false, timeout: options.connectTimeoutMs ?? 5000 } : {}),
      noAsyncTraces: true,
      ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
      ...(options.tls
        ? { tls: { caFile: options.tls.caFile, certFile: options.tls.certFile, keyFile: options.tls.keyFile } }
        : {}),
    };
    if (connOptions.tls) await refuseBadCredentials(connOptions);
    const nc = await connect(connOptions);
    const bus = new Bus(nc, options);
    bus.watchStatus();
    return bus;
  }

  /** Sends a typed request; resolves with the typed response or a typed error. Never rejects. */
  request<Req, Res>(
    subject: string,
    method: Method<Req, Res>,
    request: Req,
    options: RequestOptions = {},
  ): Promise<Result<Res, BusError>> {
    let bytes: Uint8Array;
    try {
      bytes = method.request.encode(request);
    } catch (e) {
      return Promise.resolve(err(new BusError('INVALID_ARGUMENT', `cannot encode ${method.request.name}: ${toError(e).message}`)));
    }
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const observer = this.observer;
    const started = observer?.requested ? performance.now() : 0;
    // A plain promise chain, not an async function: one promise fewer per request on the hot path.
    const sent = this.connection.request(subject, bytes, { timeout: timeoutMs }).then(
      (msg) => (isErrorReply(msg) ? err(decodeErrorReply(msg, subject)) : method.response.decode(msg.data)),
      (e: unknown) => err(mapRequestError(e, subject, timeoutMs)),
    );
    if (!observer?.requested) return sent;
    return sent.then((r) => {
      try {
        observer.requested!(subject, (performance.now() - started) / 1000, r.ok ? '' : r.error.code);
      } catch {
        // An observer's bug must not turn into a failed request.
      }
      return r;
    });
  }

  /**
   * Sends raw bytes as a request: the reply body on success, or the typed error (remote or
   * local). For tools and fuzzing, which must send what no codec would encode.
   */
  async requestBytes(subject: string, bytes: Uint8Array, options: RequestOptions = {}): Promise<Result<Uint8Array, BusError>> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    let msg: Msg;
    try {
      msg = await this.connection.request(subject, bytes, { timeout: timeoutMs });
    } catch (e) {
      return err(mapRequestError(e, subject, timeoutMs));
    }
    return isErrorReply(msg) ? err(decodeErrorReply(msg, subject)) : ok(msg.data);
  }

  /** Publishes a typed message. Returns an error instead of throwing (closed connection, bad subject). */
  publish<T>(subject: string, codec: Codec<T>, value: T): Result<void, BusError> {
    try {
      this.connection.publish(subject, codec.encode(value));
      return ok(undefined);
    } catch (e) {
      return err(new ConnectionClosedError(`publish on ${subject}: ${toError(e).message}`, { cause: e }));
    }
  }

  /** Subscribes with a codec; every message arrives decoded or as a typed decode error. */
  subscribe<T>(subject: string, codec: Codec<T>, onMessage: (value: Result<T, BusError>, subject: string) => void): Subscribed {
    const log = this.options.logger;
    const sub = this.connection.subscribe(subject, {
      callback: (error, msg) => {
        if (error) return;
        try {
          onMessage(codec.decode(msg.data), msg.subject);
        } catch (e) {
          log.error({ err: toError(e), subject: msg.subject }, 'subscriber threw; message dropped');
        }
      },
    });
    return { closed: subscriptionClosed(sub), stop: () => sub.unsubscribe() };
  }

  /**
   * Serves every `<prefix>.<op>` with one subscription and a table of routes.
   * Handlers normally forward to a supervised actor (see serve-actor.ts).
   */
  serve(prefix: string, routes: readonly AnyRoute[], options: ServeOptions = {}): Served {
    const table = new Map<string, AnyRoute>();
    for (const r of routes) table.set(r.method.op, r);
    const stats: ServeStats = { served: 0, rejected: 0 };
    const subject = `${prefix}.>`;
    const dispatcher = new Dispatcher(prefix.length + 1, table, stats, options.maxInFlight ?? 1024, this.options.logger);
    const sub = this.connection.subscribe(subject, {
      callback: (error, msg) => {
        if (!error) dispatcher.dispatch(msg);
      },
    });
    return {
      subject,
      stats,
      closed: subscriptionClosed(sub),
      stop: async () => {
        if (!sub.isClosed()) await sub.drain().catch(() => sub.unsubscribe());
      },
    };
  }

  /** Resolves when the connection is closed for good (with the error that closed it, if any). */
  closed(): Promise<Error | undefined> {
    return this.connection.closed().then((e) => e ?? undefined);
  }

  /** Flushes what was published and closes the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    try {
      await this.connection.drain();
    } catch {
      await this.connection.close().catch(() => undefined);
    }
  }

  private watchStatus(): void {
    const log = this.options.logger;
    void (async () => {
      for await (const s of this.connection.status()) {
        if (s.type === 'reconnect') this.tell('reconnected');
        else if (s.type === 'disconnect') this.tell('disconnected');
        if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ status: s.type, server: s.server }, `bus ${s.type}`);
        else if (s.type === 'error') log.error({ err: s.error }, 'bus error');
        else log.debug({ status: s.type }, 'bus status');
      }
    })().catch(() => undefined);
  }

  private tell(what: 'reconnected' | 'disconnected'): void {
    try {
      this.observer?.[what]?.();
    } catch {
      // An observer's bug must not end the status loop.
    }
  }
}

/**
 * With TLS, a certificate the server refuses (none, wrong CA, expired, unknown subject) would make
 * a reconnect-forever connect wait forever. One plain attempt first turns those into an error at
 * start-up; a server that is merely not up yet is left to the patient connect that follows.
 */
async function refuseBadCredentials(options: NodeConnectionOptions): Promise<void> {
  let probe: NatsConnection | undefined;
  try {
    probe = await connect({ ...options, reconnect: false, waitOnFirstConnect: false, maxReconnectAttempts: 0, timeout: 5000 });
  } catch (e) {
    const text = describeChain(e);
    if (/ECONNREFUSED|ENOENT|EHOSTUNREACH|ENETUNREACH|timeout/i.test(text)) return;
    throw new BusError('PERMISSION_DENIED', `the NATS server refused this identity: ${text}`, '', { cause: e });
  } finally {
    await probe?.close().catch(() => undefined);
  }
}

function describeChain(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur instanceof Error && parts.length < 4; cur = cur.cause) parts.push(`${cur.name}: ${cur.message}`);
  return parts.join(' ← ') || String(e);
}

/** Per-serve request dispatch: route lookup, decode, bounded concurrency, typed error replies. */
class Dispatcher {
  private inFlight = 0;

  constructor(
    private readonly opOffset: number,
    private readonly routes: Map<string, AnyRoute>,
    private readonly stats: ServeStats,
    private readonly maxInFlight: number,
    private readonly log: Logger,
  ) {}

  dispatch(msg: Msg): void {
    if (!msg.reply) return; // a publish, not a request: nobody to answer
    const op = msg.subject.slice(this.opOffset);
    const r = this.routes.get(op);
    if (!r) return this.fail(msg, new BusError('UNIMPLEMENTED', `no operation "${op.slice(0, 64)}"`));
    if (this.inFlight >= this.maxInFlight) {
      return this.fail(msg, new BusError('RESOURCE_EXHAUSTED', `more than ${this.maxInFlight} requests in flight`));
    }
    const decoded = r.method.request.decode(msg.data);
    if (!decoded.ok) return this.fail(msg, decoded.error);
    let outcome: HandlerResult<unknown> | Promise<HandlerResult<unknown>>;
    try {
      outcome = r.handle(decoded.value, { subject: msg.subject, op });
    } catch (e) {
      return this.crashed(msg, op, e);
    }
    // Synchronous handlers answer in the same turn: no promise, no microtask hop.
    if (!(outcome instanceof Promise)) return this.finish(r, msg, op, outcome);
    this.inFlight++;
    outcome.then(
      (result) => {
        this.inFlight--;
        this.finish(r, msg, op, result);
      },
      (e: unknown) => {
        this.inFlight--;
        this.crashed(msg, op, e);
      },
    );
  }

  private finish(r: AnyRoute, msg: Msg, op: string, result: HandlerResult<unknown>): void {
    if (!result.ok) return this.fail(msg, result.error);
    let body: Uint8Array;
    try {
      body = r.method.response.encode(result.value);
    } catch (e) {
      this.log.error({ err: toError(e), op }, 'cannot encode response');
      return this.fail(msg, new BusError('INTERNAL', `cannot encode the response of ${op}`));
    }
    this.stats.served++;
    respond(msg, body);
  }

  private crashed(msg: Msg, op: string, e: unknown): void {
    this.log.error({ err: toError(e), op }, 'handler threw');
    this.fail(msg, new BusError('INTERNAL', `handler for ${op} failed`));
  }

  private fail(msg: Msg, error: BusError): void {
    this.stats.rejected++;
    const h = natsHeaders();
    h.set(ERROR_HEADER, error.code);
    respond(msg, errorCodec.encode(error), h);
  }
}

function respond(msg: Msg, body: Uint8Array, h?: ReturnType<typeof natsHeaders>): void {
  try {
    msg.respond(body, h ? { headers: h } : undefined);
  } catch {
    // The connection closed under us; the requester times out. Nothing to crash for.
  }
}

/** Error replies carry the Infra-Error header; replies without headers skip the lookup. */
function isErrorReply(msg: Msg): boolean {
  return msg.headers !== undefined && msg.headers.has(ERROR_HEADER);
}

function decodeErrorReply(msg: Msg, subject: string): BusError {
  const decoded = errorCodec.decode(msg.data);
  return decoded.ok ? decoded.value : new MalformedError(`unreadable error reply on ${subject}`);
}

function subscriptionClosed(sub: Subscription): Promise<Error | undefined> {
  return sub.closed.then(
    (e) => (e instanceof Error ? e : undefined),
    (e: unknown) => toError(e),
  );
}

function mapRequestError(e: unknown, subject: string, timeoutMs: number): BusError {
  // The client wraps the cause in a RequestError; look down the cause chain.
  const chain: Error[] = [];
  for (let cur: unknown = e; cur instanceof Error && chain.length < 5; cur = cur.cause) chain.push(cur);
  if (chain.some((c) => c instanceof NatsNoRespondersError)) return new NoRespondersError(subject, { cause: e });
  if (chain.some((c) => c instanceof NatsTimeoutError)) return new TimeoutError(subject, timeoutMs, { cause: e });
  if (chain.some((c) => c instanceof NatsClosedError || c instanceof NatsDrainingError)) {
    return new ConnectionClosedError(`request on ${subject}: connection closed`, { cause: e });
  }
  return new BusError('UNAVAILABLE', `request on ${subject} failed: ${chain[0]?.message ?? String(e)}`, '', { cause: e });
}
