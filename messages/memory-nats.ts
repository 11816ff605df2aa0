/**
 * A deterministic in-memory NATS "server" for the in-process simulator: one `MemoryNats` per
 * simulated cluster, one `connect(name)` per simulated process, wrapped by the same `Bus` as a
 * real connection (`Bus.over`). Nothing in it touches a socket, a real timer or the wall clock:
 * deliveries run from a FIFO drained in microtasks, request deadlines and fault delays run on
 * the injected `Clock`, fault draws come from the injected `Random`. The same script with the
 * same seed gives the same deliveries in the same order.
 *
 * What it keeps of NATS:
 * - subjects: `.`-separated tokens, `*` (one token) and `>` (one or more, last) in
 *   subscriptions; an empty subject, an empty token, white space, a wildcard in a published
 *   subject or a `>` before the end throw the client's `InvalidSubjectError`;
 * - queue groups: among the subscriptions a message matches, one member per queue name gets it
 *   (round robin per queue name, so the choice is reproducible);
 * - request/reply: an inbox per request (`_INBOX.<connection>.<n>`), the deadline on the
 *   injected clock rejecting with the client's `TimeoutError`; no subscriber at all → a 503
 *   status reply, which the requester turns into `RequestError` caused by `NoRespondersError`,
 *   as the client does with NATS 2.2+;
 * - closing: subscriptions end (`closed` resolves), pending requests reject with a
 *   `RequestError` caused by `ClosedConnectionError` (the client rejects them with
 *   `RequestError("connection closed")`; the cause lets `Bus` say ConnectionClosedError),
 *   publishing afterwards throws `ClosedConnectionError`; `drain()` delivers what is queued first;
 * - every receiver gets its own copy of the bytes, taken at publish (as a wire would).
 *
 * Order: messages are matched and queued in publish order and delivered in that order, each
 * subscriber's FIFO included. Only faults change that.
 *
 * Faults (per connection name, so they outlive a reconnect of the same process):
 * - `setFaults(name, { drop, duplicate, reorder, delayMs })` applies to what the connection
 *   SENDS (decided once per message, at the server's ingress: a dropped message reaches nobody,
 *   a duplicated one reaches every subscriber twice) and to what it RECEIVES (decided per
 *   delivery to one of its subscriptions). Draws per message, in this order: drop, then
 *   duplicate, reorder, delay (each only if configured). A delayed message waits
 *   `random.int(min, max)` ms on the clock; a reordered one is held until the end of the current
 *   delivery turn, so what is sent or delivered in that turn overtakes it. Delay wins over reorder.
 * - `cut(name)` / `restore(name)`: a partition. What the connection sends and what would be
 *   delivered to it is lost; its subscriptions still count as interest (the server does not
 *   know), so requests to it time out rather than fail fast. Its status emits
 *   `disconnect`, then `reconnect` on restore. A connection made under a cut name starts cut
 *   (and says `reconnect` on restore).
 * - `kill(name)`: kill -9 of the process: its connections close at once, without draining;
 *   `closed()` resolves with a `ConnectionError`. What it had already sent stays on the wire.
 *
 * A subscriber that publishes to its own subject on every message loops in microtasks forever
 * (a real server would loop too, but without starving the event loop): do not.
 *
 * @example
 * const clock = new ManualClock(0);
 * const nats = new MemoryNats({ clock, random: seededRandom(7) });
 * const manager = Bus.over(nats.connect('manager'), { servers: 'memory', name: 'manager', logger });
 * const agent = Bus.over(nats.connect('agent'), { servers: 'memory', name: 'agent', logger });
 * manager.serve(prefix('node-1', 'manager'), routes);
 * nats.setFaults('agent', { drop: 0.1, delayMs: [1, 20] });
 * const r = agent.request(subjects.manager('node-1', 'hello'), managerMethods.hello, hello);
 * await clock.advance(50);
 * nats.counters('agent'); // { sent: 1, delivered: 1, dropped: 0, … }
 */
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  InvalidOperationError,
  InvalidSubjectError,
  MsgHdrsImpl,
  NoRespondersError,
  RequestError,
  TimeoutError,
  headers as natsHeaders,
  type Msg,
  type MsgCallback,
  type MsgHdrs,
  type NatsConnection,
  type Payload,
  type PublishOptions,
  type RequestManyOptions,
  type RequestOptions,
  type Server,
  type Stats,
  type Status,
  type Subscription,
  type SubscriptionOptions,
} from '@nats-io/transport-node';
import type { Clock, TimerHandle } from '../core/clock.js';
import { seededRandom, type Random } from '../core/random.js';
import { err, ok, type Result } from '../core/result.js';

export interface MemoryNatsOptions {
  /** Request deadlines and fault delays run on it. */
  readonly clock: Clock;
  /** Fault draws; `seededRandom(1)` if not given. */
  readonly random?: Random;
  /** What `getServer()` answers; default "memory". */
  readonly server?: string;
  /** Told synchronously of every delivery and every fault decision, e.g. for an event log. Keep it cheap. */
  readonly trace?: (event: NatsTraceEvent) => void;
}

/** Faults of one connection (see the module's comment for where they apply). Probabilities in [0, 1]. */
export interface NatsFaults {
  readonly drop?: number;
  readonly duplicate?: number;
  readonly reorder?: number;
  /** Inclusive range of whole milliseconds; 0 ≤ min ≤ max. */
  readonly delayMs?: readonly [number, number];
}

/** Per connection name, since the start of the MemoryNats (they add up across reconnects). */
export interface NatsCounters {
  /** Messages published (requests and replies included). */
  sent: number;
  /** Messages handed to one of its subscriptions (replies to its requests included). */
  delivered: number;
  /** Lost to a drop fault, on the side whose fault it was. */
  dropped: number;
  /** Extra copies made by a duplicate fault, on the side whose fault it was. */
  duplicated: number;
  /** Held back by a reorder fault. */
  reordered: number;
  /** Delayed by a delay fault. */
  delayed: number;
  /** Lost because the connection was cut (sent while cut, or due to it while cut). */
  blackholed: number;
  /** Its requests answered "no responders". */
  noResponders: number;
}

export type NatsTraceKind = 'deliver' | 'drop' | 'duplicate' | 'reorder' | 'delay' | 'blackhole' | 'no-responders';

export interface NatsTraceEvent {
  readonly kind: NatsTraceKind;
  /** Clock time of the decision. */
  readonly at: number;
  /** The connection name the event counts on. */
  readonly connection: string;
  readonly subject: string;
  /** For faults: whether the sender's or the receiver's faults decided. */
  readonly side?: 'send' | 'receive';
  /** For delays: how long. */
  readonly delayMs?: number;
}

/** Bad arguments to the simulator's controls (a name, a fault spec). */
export class MemoryNatsError extends Error {
  override name = 'MemoryNatsError';
  readonly code = 'INVALID_ARGUMENT';
}

export interface MemoryConnectOptions {
  /** Prefix of reply subjects, as `BusOptions.inboxPrefix`; default "_INBOX". */
  readonly inboxPrefix?: string;
}

/**
 * One simulated NATS server. See the module's comment.
 *
 * @example
 * const nats = new MemoryNats({ clock: new ManualClock(0), random: seededRandom(1) });
 * const nc = nats.connect('agent node-1');
 * nats.cut('agent node-1'); // later: nats.restore('agent node-1')
 */
export class MemoryNats {
  private readonly router: Router;
  private readonly peers = new Map<string, Peer>();
  private nextConnection = 1;

  constructor(options: MemoryNatsOptions) {
    this.router = new Router(options.clock, options.random ?? seededRandom(1), options.trace, options.server ?? 'memory');
  }

  /** A new client connection named `name` (several may share a name; faults and counters are per name). */
  connect(name: string, options: MemoryConnectOptions = {}): NatsConnection {
    const inboxPrefix = options.inboxPrefix ?? '_INBOX';
    if (!publishable(inboxPrefix)) throw new MemoryNatsError(`invalid inbox prefix "${inboxPrefix}"`);
    const peer = this.namedPeer(name);
    const id = this.nextConnection++;
    const conn = new MemoryConnection(this.router, peer, `${inboxPrefix}.${name.replace(/[^A-Za-z0-9_-]/g, '_')}_${id}.`);
    peer.connections.add(conn);
    return conn;
  }

  /**
   * Sets (replaces) the faults of connection `name`; `{}` clears them. A bad spec is refused
   * with a typed error and leaves the current faults as they were.
   */
  setFaults(name: string, faults: NatsFaults): Result<void, MemoryNatsError> {
    if (typeof name !== 'string' || name.length === 0) return err(new MemoryNatsError('faults need a connection name'));
    const checked = checkFaults(faults);
    if (!checked.ok) return checked;
    this.peer(name).faults = checked.value;
    return ok(undefined);
  }

  /** The faults in force for `name` (`{}` if none). */
  faults(name: string): NatsFaults {
    return { ...(this.peers.get(name)?.faults ?? {}) };
  }

  /** Partitions `name` from the server (see the module's comment). Idempotent; may come before the name connects. */
  cut(name: string): void {
    const peer = this.namedPeer(name);
    peer.cut = true;
    for (const conn of peer.connections) conn.setDisconnected(true);
  }

  /** Ends the partition of `name`. Idempotent. */
  restore(name: string): void {
    const peer = this.namedPeer(name);
    peer.cut = false;
    for (const conn of peer.connections) conn.setDisconnected(false);
  }

  isCut(name: string): boolean {
    return this.peers.get(name)?.cut ?? false;
  }

  /** kill -9 of the process behind `name`: its open connections close without draining. Returns how many. */
  kill(name: string): number {
    const peer = this.peers.get(name);
    if (!peer) return 0;
    const conns = [...peer.connections];
    for (const conn of conns) conn.kill();
    return conns.length;
  }

  /** A copy of the counters of `name` (zeros for a name never seen). */
  counters(name: string): NatsCounters {
    return { ...(this.peers.get(name)?.counters ?? zeroCounters()) };
  }

  /** Every name's counters, sorted by name (stable for a log). */
  allCounters(): Array<{ readonly name: string; readonly counters: NatsCounters }> {
    return [...this.peers.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((p) => ({ name: p.name, counters: { ...p.counters } }));
  }

  /** Open connections under `name`. */
  connectionCount(name: string): number {
    return this.peers.get(name)?.connections.size ?? 0;
  }

  /** Resolves once every delivery queued before the call has been made. */
  flush(): Promise<void> {
    return new Promise((resolve) => this.router.enqueueMarker(resolve));
  }

  /** The peer of a name given to connect/cut/restore; an empty name is a programming error (throws MemoryNatsError). */
  private namedPeer(name: string): Peer {
    if (typeof name !== 'string' || name.length === 0) throw new MemoryNatsError('a connection needs a non-empty name');
    return this.peer(name);
  }

  private peer(name: string): Peer {
    let peer = this.peers.get(name);
    if (!peer) {
      peer = { name, faults: undefined, cut: false, counters: zeroCounters(), connections: new Set() };
      this.peers.set(name, peer);
    }
    return peer;
  }
}

// ---------------------------------------------------------------------------------------------
// Internals

interface Peer {
  readonly name: string;
  faults: NatsFaults | undefined;
  cut: boolean;
  readonly counters: NatsCounters;
  readonly connections: Set<MemoryConnection>;
}

/** A message between its publish and its matching: what the wire would carry. */
interface Wire {
  readonly subject: string;
  readonly reply: string | undefined;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  /** Undefined for the server's own messages (no-responders). */
  readonly from: Peer | undefined;
}

type Item = MemoryMsg | (() => void);

const EMPTY_SUBS: readonly MemorySubscription[] = [];
const WHOLE_SUBJECT = /^[^\s.]+(?:\.[^\s.]+)*$/;

/** The server's part: the subscription index, matching, faults and the delivery queue. */
class Router {
  private readonly literal = new Map<string, MemorySubscription[]>();
  private readonly wild = new TrieNode();
  private wildCount = 0;
  /** Wildcard matches by subject, valid until the wildcard set changes. */
  private readonly wildCache = new Map<string, readonly MemorySubscription[]>();
  private readonly roundRobin = new Map<string, number>();
  private queue: Array<Item | undefined> = [];
  private head = 0;
  private late: Array<() => void> = [];
  private scheduled = false;

  constructor(
    readonly clock: Clock,
    private readonly random: Random,
    private readonly trace: ((event: NatsTraceEvent) => void) | undefined,
    readonly serverName: string,
  ) {}

  add(sub: MemorySubscription): void {
    if (sub.tokens) {
      this.wild.insert(sub.tokens, 0, sub);
      this.wildCount++;
      this.wildCache.clear();
      return;
    }
    const list = this.literal.get(sub.subject);
    if (list) list.push(sub);
    else this.literal.set(sub.subject, [sub]);
  }

  remove(sub: MemorySubscription): void {
    if (sub.tokens) {
      if (this.wild.remove(sub.tokens, 0, sub)) {
        this.wildCount--;
        this.wildCache.clear();
      }
      return;
    }
    const list = this.literal.get(sub.subject);
    if (!list) return;
    const i = list.indexOf(sub);
    if (i < 0) return;
    if (list.length === 1) this.literal.delete(sub.subject);
    else list.splice(i, 1);
  }

  /** A message leaves `from`'s connection. */
  send(from: Peer, wire: Wire): void {
    from.counters.sent++;
    if (from.cut) {
      this.lost(from, wire.subject, 'send');
      return;
    }
    if (!from.faults) {
      this.route(wire);
      return;
    }
    this.faulted(from, 'send', wire.subject, from.faults, (copy) => this.route(copy ? cloneWire(wire) : wire));
  }

  /** The server matches a message and queues its deliveries. */
  private route(wire: Wire): void {
    const literal = this.literal.get(wire.subject) ?? EMPTY_SUBS;
    const wild = this.wildCount > 0 ? this.matchWild(wire.subject) : EMPTY_SUBS;
    const nLiteral = literal.length;
    const total = nLiteral + wild.length;
    if (total === 0) {
      if (wire.reply !== undefined) this.noResponders(wire);
      return;
    }
    let groups: Map<string, MemorySubscription[]> | undefined;
    let first = true;
    for (let i = 0; i < total; i++) {
      const sub = i < nLiteral ? literal[i]! : wild[i - nLiteral]!;
      if (sub.queue) {
        groups ??= new Map();
        const members = groups.get(sub.queue);
        if (members) members.push(sub);
        else groups.set(sub.queue, [sub]);
        continue;
      }
      this.toSubscriber(sub, wire, first);
      first = false;
    }
    if (!groups) return;
    for (const [queue, members] of groups) {
      const turn = this.roundRobin.get(queue) ?? 0;
      this.roundRobin.set(queue, turn + 1);
      this.toSubscriber(members[turn % members.length]!, wire, first);
      first = false;
    }
  }

  private noResponders(wire: Wire): void {
    if (wire.from) {
      wire.from.counters.noResponders++;
      this.emit('no-responders', wire.from.name, wire.subject);
    }
    this.route({ subject: wire.reply!, reply: undefined, data: new Uint8Array(0), headers: natsHeaders(503, 'No Responders'), from: undefined });
  }

  /** One delivery: the receiver's faults, then the queue. The first receiver keeps the publish-time copy. */
  private toSubscriber(sub: MemorySubscription, wire: Wire, first: boolean): void {
    const msg = new MemoryMsg(sub, wire.subject, wire.reply, first ? wire.data : wire.data.slice(), first ? wire.headers : copyHeaders(wire.headers));
    const peer = sub.connection.peer;
    if (!peer.faults) {
      this.enqueue(msg);
      return;
    }
    this.faulted(peer, 'receive', wire.subject, peer.faults, (copy) => this.enqueue(copy ? msg.copy() : msg));
  }

  private faulted(peer: Peer, side: 'send' | 'receive', subject: string, f: NatsFaults, go: (copy: boolean) => void): void {
    const c = peer.counters;
    if (f.drop !== undefined && this.random.next() < f.drop) {
      c.dropped++;
      this.emit('drop', peer.name, subject, side);
      return;
    }
    const duplicate = f.duplicate !== undefined && this.random.next() < f.duplicate;
    const reorder = f.reorder !== undefined && this.random.next() < f.reorder;
    const delay = f.delayMs ? this.random.int(f.delayMs[0], f.delayMs[1]) : 0;
    if (duplicate) {
      c.duplicated++;
      this.emit('duplicate', peer.name, subject, side);
    }
    const run = duplicate
      ? (): void => {
          go(false);
          go(true);
        }
      : (): void => go(false);
    if (delay > 0) {
      c.delayed++;
      this.emit('delay', peer.name, subject, side, delay);
      this.clock.setTimeout(run, delay);
    } else if (reorder) {
      c.reordered++;
      this.emit('reorder', peer.name, subject, side);
      this.late.push(run);
      this.schedule();
    } else {
      run();
    }
  }

  enqueue(item: Item): void {
    this.queue.push(item);
    this.schedule();
  }

  /** `done` runs once everything queued before it has been delivered. */
  enqueueMarker(done: () => void): void {
    this.enqueue(done);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.pump);
  }

  /** One delivery turn: what was queued when it started, then what the reorder fault held back. */
  private readonly pump = (): void => {
    this.scheduled = false;
    const end = this.queue.length;
    while (this.head < end) {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (typeof item === 'function') item();
      else this.deliver(item);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 4096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.late.length > 0) {
      const late = this.late;
      this.late = [];
      for (const run of late) run();
    }
    if (this.head < this.queue.length) this.schedule();
  };

  private deliver(msg: MemoryMsg): void {
    const sub = msg.target;
    if (sub.isClosed()) return;
    const peer = sub.connection.peer;
    if (peer.cut) {
      this.lost(peer, msg.subject, 'receive');
      return;
    }
    peer.counters.delivered++;
    if (this.trace) this.emit('deliver', peer.name, msg.subject);
    sub.receive(msg);
  }

  private lost(peer: Peer, subject: string, side: 'send' | 'receive'): void {
    peer.counters.blackholed++;
    this.emit('blackhole', peer.name, subject, side);
  }

  private emit(kind: NatsTraceKind, connection: string, subject: string, side?: 'send' | 'receive', delayMs?: number): void {
    if (!this.trace) return;
    const event: NatsTraceEvent = {
      kind,
      at: this.clock.now(),
      connection,
      subject,
      ...(side ? { side } : {}),
      ...(delayMs !== undefined ? { delayMs } : {}),
    };
    this.trace(event);
  }

  private matchWild(subject: string): readonly MemorySubscription[] {
    const cached = this.wildCache.get(subject);
    if (cached) return cached;
    const out: MemorySubscription[] = [];
    this.wild.match(subject.split('.'), 0, out);
    // Only hits are kept: reply inboxes, each seen once, rarely match a wildcard.
    if (out.length === 0) return EMPTY_SUBS;
    if (this.wildCache.size >= 8192) this.wildCache.clear();
    this.wildCache.set(subject, out);
    return out;
  }
}

/** The index of wildcard subscriptions, one level per token. */
class TrieNode {
  private readonly children = new Map<string, TrieNode>();
  private star: TrieNode | undefined;
  /** Subscriptions ending in `>` at this level. */
  private readonly rest: MemorySubscription[] = [];
  /** Subscriptions whose last token is this level. */
  private readonly here: MemorySubscription[] = [];

  insert(tokens: readonly string[], i: number, sub: MemorySubscription): void {
    if (i === tokens.length) {
      this.here.push(sub);
      return;
    }
    const t = tokens[i]!;
    if (t === '>') {
      this.rest.push(sub);
      return;
    }
    let next = t === '*' ? this.star : this.children.get(t);
    if (!next) {
      next = new TrieNode();
      if (t === '*') this.star = next;
      else this.children.set(t, next);
    }
    next.insert(tokens, i + 1, sub);
  }

  /** Removes `sub`, and the levels left empty behind it. False if it was not there. */
  remove(tokens: readonly string[], i: number, sub: MemorySubscription): boolean {
    if (i === tokens.length) return removeFrom(this.here, sub);
    const t = tokens[i]!;
    if (t === '>') return removeFrom(this.rest, sub);
    const next = t === '*' ? this.star : this.children.get(t);
    if (!next || !next.remove(tokens, i + 1, sub)) return false;
    if (next.empty()) {
      if (t === '*') this.star = undefined;
      else this.children.delete(t);
    }
    return true;
  }

  private empty(): boolean {
    return this.here.length === 0 && this.rest.length === 0 && this.children.size === 0 && !this.star;
  }

  match(tokens: readonly string[], i: number, out: MemorySubscription[]): void {
    if (i === tokens.length) {
      for (const s of this.here) out.push(s);
      return;
    }
    for (const s of this.rest) out.push(s);
    const literal = this.children.get(tokens[i]!);
    if (literal) literal.match(tokens, i + 1, out);
    if (this.star) this.star.match(tokens, i + 1, out);
  }
}

function removeFrom(list: MemorySubscription[], sub: MemorySubscription): boolean {
  const i = list.indexOf(sub);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

interface PendingRequest {
  readonly subject: string;
  readonly sub: MemorySubscription;
  readonly reject: (e: Error) => void;
  timer: TimerHandle | undefined;
}

/** One client connection. Implements the whole `NatsConnection` interface; what NATS offers and this does not (requestMany, server pools) is refused with the client's error classes. */
class MemoryConnection implements NatsConnection {
  readonly info = undefined;
  private readonly subs = new Map<number, MemorySubscription>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly listeners = new Set<AsyncQueue<Status>>();
  private readonly closedPromise: Promise<void | Error>;
  private resolveClosed!: (e: void | Error) => void;
  private done = false;
  private draining = false;
  private noMorePublishing = false;
  private disconnected = false;
  private nextSid = 1;
  private nextInbox = 1;
  private readonly counts: Stats = { inBytes: 0, outBytes: 0, inMsgs: 0, outMsgs: 0 };

  constructor(
    private readonly router: Router,
    readonly peer: Peer,
    private readonly inboxBase: string,
  ) {
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.disconnected = peer.cut;
  }

  publish(subject: string, payload?: Payload, options?: PublishOptions): void {
    this.check(false, true);
    if (!publishable(subject)) throw new InvalidSubjectError(subject);
    const reply = options?.reply;
    if (reply !== undefined && !publishable(reply)) throw new InvalidSubjectError(reply);
    this.send(subject, reply, payload, options?.headers);
  }

  publishMessage(msg: Msg): void {
    this.publish(msg.subject, msg.data, { ...(msg.reply ? { reply: msg.reply } : {}), ...(msg.headers ? { headers: msg.headers } : {}) });
  }

  respondMessage(msg: Msg): boolean {
    if (!msg.reply) return false;
    this.publish(msg.reply, msg.data, msg.headers ? { headers: msg.headers } : undefined);
    return true;
  }

  subscribe(subject: string, opts: SubscriptionOptions = {}): Subscription {
    this.check(true, false);
    const parsed = parseSubscription(subject);
    if (parsed === 'invalid') throw new InvalidSubjectError(subject);
    const tokens = parsed === 'literal' ? null : parsed;
    const queue = opts.queue || undefined;
    if (queue !== undefined && !/^[^\s]+$/.test(queue)) throw InvalidArgumentError.format('queue', 'must not contain white space');
    const sub = new MemorySubscription(this, this.nextSid++, subject, tokens, queue, opts.callback, opts.max);
    this.subs.set(sub.sid, sub);
    this.router.add(sub);
    return sub;
  }

  request(subject: string, payload?: Payload, opts: RequestOptions = { timeout: 1000 }): Promise<Msg> {
    try {
      this.check(true, true);
      if (!publishable(subject)) throw new InvalidSubjectError(subject);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const timeout = opts.timeout || 1000;
    if (timeout < 1) return Promise.reject(InvalidArgumentError.format('timeout', 'must be greater than 0'));
    if (opts.noMux || opts.reply) return Promise.reject(new InvalidOperationError('MemoryNats answers requests on its own inboxes only (no noMux, no reply)'));
    const inbox = `${this.inboxBase}${this.nextInbox++}`;
    return new Promise<Msg>((resolve, reject) => {
      const finish = (): void => {
        this.pending.delete(inbox);
        if (request.timer !== undefined) this.router.clock.clearTimeout(request.timer);
        request.sub.end();
      };
      const sub = new MemorySubscription(this, 0, inbox, null, undefined, (_e, msg) => {
        finish();
        if (msg.data.length === 0 && msg.headers?.code === 503) {
          const cause = new NoRespondersError(subject);
          reject(new RequestError(cause.message, { cause }));
        } else {
          resolve(msg);
        }
      });
      const request: PendingRequest = {
        subject,
        sub,
        reject: (e) => {
          finish();
          reject(e);
        },
        timer: undefined,
      };
      this.pending.set(inbox, request);
      this.router.add(sub);
      request.timer = this.router.clock.setTimeout(() => {
        request.timer = undefined;
        request.reject(new TimeoutError());
      }, timeout);
      this.send(subject, inbox, payload, opts.headers);
    });
  }

  requestMany(_subject: string, _payload?: Payload, _opts?: Partial<RequestManyOptions>): Promise<AsyncIterable<Msg>> {
    return Promise.reject(new InvalidOperationError('MemoryNats does not implement requestMany'));
  }

  /** Resolves once every delivery queued so far (this connection's publishes included) has been made. */
  flush(): Promise<void> {
    if (this.done) return Promise.reject(new ClosedConnectionError());
    return new Promise((resolve) => this.router.enqueueMarker(resolve));
  }

  async drain(): Promise<void> {
    if (this.done) throw new ClosedConnectionError();
    if (this.draining) throw new DrainingConnectionError();
    this.draining = true;
    await Promise.allSettled([...this.subs.values()].map((s) => s.drain()));
    this.noMorePublishing = true;
    await new Promise<void>((resolve) => this.router.enqueueMarker(resolve));
    this.shutdown(undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.done) return;
    if (this.draining) {
      await this.closedPromise;
      return;
    }
    await this.drain();
  }

  close(): Promise<void> {
    this.shutdown(undefined);
    return Promise.resolve();
  }

  closed(): Promise<void | Error> {
    return this.closedPromise;
  }

  isClosed(): boolean {
    return this.done;
  }

  isDraining(): boolean {
    return this.draining;
  }

  getServer(): string {
    return this.router.serverName;
  }

  status(): AsyncIterable<Status> {
    const q = new AsyncQueue<Status>(() => this.listeners.delete(q));
    if (this.done) q.end();
    else this.listeners.add(q);
    return q;
  }

  stats(): Stats {
    return { ...this.counts };
  }

  async rtt(): Promise<number> {
    if (this.done) throw new ClosedConnectionError();
    if (this.disconnected) throw new RequestError('connection disconnected');
    await this.flush();
    return 0;
  }

  reconnect(): Promise<void> {
    if (this.done) return Promise.reject(new ClosedConnectionError());
    if (this.draining) return Promise.reject(new DrainingConnectionError());
    return Promise.resolve();
  }

  setServers(_servers: string[]): void {
    throw new InvalidOperationError('MemoryNats has one server');
  }

  getServers(): ReadonlyArray<Server> {
    return [];
  }

  // -- for MemoryNats and the subscriptions

  /** A partition begins or ends: tell the status listeners as the client would. */
  setDisconnected(on: boolean): void {
    if (this.done || this.disconnected === on) return;
    this.disconnected = on;
    const status: Status = on ? { type: 'disconnect', server: this.router.serverName } : { type: 'reconnect', server: this.router.serverName };
    for (const q of this.listeners) q.push(status);
  }

  kill(): void {
    this.shutdown(new ConnectionError('connection killed (the simulated process died)'));
  }

  forget(sub: MemorySubscription): void {
    this.subs.delete(sub.sid);
    this.router.remove(sub);
  }

  received(bytes: number): void {
    this.counts.inMsgs++;
    this.counts.inBytes += bytes;
  }

  /** For a subscription's drain. */
  marker(done: () => void): void {
    this.router.enqueueMarker(done);
  }

  private send(subject: string, reply: string | undefined, payload: Payload | undefined, headers: MsgHdrs | undefined): void {
    const data = toBytes(payload);
    this.counts.outMsgs++;
    this.counts.outBytes += data.length;
    this.router.send(this.peer, { subject, reply, data, headers: copyHeaders(headers), from: this.peer });
  }

  private check(forSubscription: boolean, forPublish: boolean): void {
    if (this.done) throw new ClosedConnectionError();
    if (forSubscription && this.draining) throw new DrainingConnectionError();
    if (forPublish && this.noMorePublishing) throw new DrainingConnectionError();
  }

  private shutdown(reason: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    for (const sub of [...this.subs.values()]) sub.end();
    for (const request of [...this.pending.values()]) {
      request.reject(new RequestError('connection closed', { cause: new ClosedConnectionError() }));
    }
    for (const q of this.listeners) {
      q.push({ type: 'close' });
      q.end();
    }
    this.listeners.clear();
    this.peer.connections.delete(this);
    this.resolveClosed(reason);
  }
}

/** A subscription, in callback or iterator mode. sid 0 marks a request's inbox (not listed on its connection). */
class MemorySubscription implements Subscription {
  readonly callback: MsgCallback<Msg>;
  readonly closed: Promise<void | Error>;
  private resolveClosed!: (e: void | Error) => void;
  private readonly iterator: AsyncQueue<Msg> | undefined;
  private done = false;
  private draining = false;
  private drained: Promise<void> | undefined;
  private count = 0;
  private processed = 0;

  constructor(
    readonly connection: MemoryConnection,
    readonly sid: number,
    readonly subject: string,
    /** Tokens if the subject has wildcards, else null (literal index). */
    readonly tokens: readonly string[] | null,
    readonly queue: string | undefined,
    callback: MsgCallback<Msg> | undefined,
    private max?: number,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.iterator = callback ? undefined : new AsyncQueue<Msg>(() => this.unsubscribe());
    this.callback = callback ?? ((): void => undefined);
  }

  receive(msg: MemoryMsg): void {
    this.count++;
    this.connection.received(msg.data.length);
    if (this.iterator) this.iterator.push(msg);
    else {
      try {
        void this.callback(null, msg);
      } catch {
        // As the client: a callback's exception is not the connection's problem.
      }
      this.processed++;
    }
    if (this.max !== undefined && this.max > 0 && this.count >= this.max) this.end();
  }

  unsubscribe(max?: number): void {
    if (this.done) return;
    if (max !== undefined && max > this.count) {
      this.max = max;
      return;
    }
    this.end();
  }

  drain(): Promise<void> {
    if (this.connection.isClosed()) return Promise.reject(new ClosedConnectionError());
    if (this.done) return Promise.reject(new InvalidOperationError('subscription is already closed'));
    if (!this.drained) {
      this.draining = true;
      this.connection.forget(this);
      this.drained = new Promise((resolve) =>
        this.connection.marker(() => {
          this.end();
          resolve();
        }),
      );
    }
    return this.drained;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.connection.isClosed() || this.done) return;
    await this.drain();
  }

  /** Ends the subscription now: no more deliveries, `closed` resolves. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.connection.forget(this);
    this.iterator?.end();
    this.resolveClosed(undefined);
  }

  isDraining(): boolean {
    return this.draining;
  }

  isClosed(): boolean {
    return this.done;
  }

  getSubject(): string {
    return this.subject;
  }

  getReceived(): number {
    return this.count;
  }

  getProcessed(): number {
    return this.iterator ? this.count - this.iterator.size() : this.processed;
  }

  getPending(): number {
    return this.iterator?.size() ?? 0;
  }

  getID(): number {
    return this.sid;
  }

  getMax(): number | undefined {
    return this.max;
  }

  [Symbol.asyncIterator](): AsyncIterator<Msg> {
    if (!this.iterator) throw new InvalidOperationError('iterator cannot be used when a callback is registered');
    return this.iterator[Symbol.asyncIterator]();
  }
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** A delivered message. Each receiver has its own, with its own bytes. */
class MemoryMsg implements Msg {
  readonly sid: number;

  constructor(
    readonly target: MemorySubscription,
    readonly subject: string,
    readonly reply: string | undefined,
    readonly data: Uint8Array,
    readonly headers: MsgHdrs | undefined,
  ) {
    this.sid = target.sid;
  }

  respond(payload?: Payload, opts?: PublishOptions): boolean {
    if (!this.reply) return false;
    this.target.connection.publish(this.reply, payload, opts?.headers ? { headers: opts.headers } : undefined);
    return true;
  }

  json<T>(reviver?: (key: string, value: unknown) => unknown): T {
    return JSON.parse(this.string(), reviver) as T;
  }

  string(): string {
    return textDecoder.decode(this.data);
  }

  /** Another delivery of the same message (a duplicate), with its own bytes. */
  copy(): MemoryMsg {
    return new MemoryMsg(this.target, this.subject, this.reply, this.data.slice(), copyHeaders(this.headers));
  }
}

/** A single-consumer async queue: status events and iterator-mode subscriptions. */
class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private ended = false;

  constructor(private readonly onReturn: () => void) {}

  push(value: T): void {
    if (this.ended) return;
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w({ value, done: false });
    } else {
      this.items.push(value);
    }
  }

  /** No more values; those queued are still yielded. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiting;
    this.waiting = undefined;
    w?.({ value: undefined, done: true });
  }

  size(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: (): Promise<IteratorResult<T>> => {
        this.items = [];
        this.end();
        this.onReturn();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A subject one may publish to: tokens, no wildcard, no white space. */
function publishable(subject: string): boolean {
  if (typeof subject !== 'string' || !WHOLE_SUBJECT.test(subject)) return false;
  if (!subject.includes('*') && !subject.includes('>')) return true;
  return subject.split('.').every((t) => t !== '*' && t !== '>');
}

/** What a subscription subject is: invalid, literal (indexed by the whole subject) or wildcard (its tokens). */
function parseSubscription(subject: string): 'invalid' | 'literal' | readonly string[] {
  if (typeof subject !== 'string' || !WHOLE_SUBJECT.test(subject)) return 'invalid';
  if (!subject.includes('*') && !subject.includes('>')) return 'literal';
  const tokens = subject.split('.');
  let wild = false;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === '>') {
      if (i !== tokens.length - 1) return 'invalid';
      wild = true;
    } else if (tokens[i] === '*') {
      wild = true;
    }
  }
  return wild ? tokens : 'literal';
}

function toBytes(payload: Payload | undefined): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  if (typeof payload === 'string') return textEncoder.encode(payload);
  return payload.slice();
}

/** Headers as the receiver would decode them: a copy, so a later change by the sender does not show. */
function copyHeaders(h: MsgHdrs | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  if (h instanceof MsgHdrsImpl) return MsgHdrsImpl.decode(h.encode());
  const c = new MsgHdrsImpl(h.code, h.description);
  for (const [k, values] of h) for (const v of values) c.append(k, v);
  return c;
}

function cloneWire(wire: Wire): Wire {
  return { ...wire, data: wire.data.slice(), headers: copyHeaders(wire.headers) };
}

function zeroCounters(): NatsCounters {
  return { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, blackholed: 0, noResponders: 0 };
}

function checkFaults(f: NatsFaults): Result<NatsFaults | undefined, MemoryNatsError> {
  if (typeof f !== 'object' || f === null) return err(new MemoryNatsError('faults must be an object'));
  const out: { -readonly [K in keyof NatsFaults]: NatsFaults[K] } = {};
  for (const key of ['drop', 'duplicate', 'reorder'] as const) {
    const p = f[key];
    if (p === undefined) continue;
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) {
      return err(new MemoryNatsError(`faults.${key} must be a probability in [0, 1], not ${String(p)}`));
    }
    if (p > 0) out[key] = p;
  }
  if (f.delayMs !== undefined) {
    const d = f.delayMs as unknown;
    if (!Array.isArray(d) || d.length !== 2 || !d.every((n) => Number.isInteger(n) && (n as number) >= 0) || (d[0] as number) > (d[1] as number)) {
      return err(new MemoryNatsError('faults.delayMs must be [min, max], whole milliseconds, 0 ≤ min ≤ max'));
    }
    if ((d[1] as number) > 0) out.delayMs = [d[0] as number, d[1] as number];
  }
  return ok(Object.keys(out).length > 0 ? out : undefined);
}
