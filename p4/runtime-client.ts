/**
 * A P4Runtime client built from our protos with grpc-js: unary calls as promises, Read as an
 * array of entities, StreamChannel as a small object with `send` and an async message queue.
 * Messages are plain snake_case objects (as the specification names fields). Writes are encoded
 * and reads decoded by lean codecs where they apply (p4/target/lean-client-*.ts: the same bytes
 * and objects as protobufjs; reads decode about 3x faster, writes encode slightly faster), by
 * protobufjs otherwise. Used by tests, benchmarks and the manager's hardware session.
 *
 * @example
 * const c = new P4RuntimeClient('unix:///tmp/p4rt.sock');
 * const s = c.openStream();
 * s.send({ arbitration: { device_id: 1, election_id: { high: 0, low: 1 } } });
 * await s.next(); // { arbitration: { status: { code: 0 } … } }
 */
import { ChannelCredentials, Client, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { p4RuntimeService, p4Types } from './runtime-proto.js';
import { decodeLeanRead } from './target/lean-client-read.js';
import { encodeLeanWrite } from './target/lean-client-write.js';
import type { P4RuntimeLink, P4RuntimeLinkStream } from './runtime-link.js';

type Msg = Record<string, unknown>;

export interface ClientTls {
  readonly ca: Buffer;
  /** Client certificate and key, for mutual TLS. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Override the name checked against the server certificate (e.g. when dialling 127.0.0.1). */
  readonly serverName?: string;
}

/** A failed call: the gRPC status, plus the p4.v1.Error details of a failed Write, in order. */
export class P4RuntimeError extends Error {
  override readonly name = 'P4RuntimeError';
  constructor(
    readonly code: number,
    message: string,
    readonly details: readonly { canonical_code: number; message: string }[] = [],
  ) {
    super(message);
  }
}

const OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false };

function method(name: string): { req: protobuf.Type; res: protobuf.Type; path: string } {
  const m = p4RuntimeService.methods[name]!;
  m.resolve();
  return { req: m.resolvedRequestType!, res: m.resolvedResponseType!, path: `/p4.v1.P4Runtime/${name}` };
}

/** How this client turns a request of one method into bytes, and a response message's bytes into an object. */
export interface ClientCodec {
  readonly path: string;
  readonly serialize: (m: Msg) => Buffer;
  /** One response message (for Read, one ReadResponse; the client flattens them with decodeReadResponse). */
  readonly deserialize: (buf: Uint8Array) => Msg;
}

const codecs = new Map<string, ClientCodec>();

/**
 * The client's own codec of a P4Runtime method (Write: the lean encoder, encodeWriteRequest), so
 * that another transport (the in-process loopback, p4/target/loopback.ts) carries the very bytes
 * grpc-js would.
 *
 * @example
 * const bytes = clientCodec('GetForwardingPipelineConfig').serialize({ device_id: 1 });
 */
export function clientCodec(name: string): ClientCodec {
  let c = codecs.get(name);
  if (!c) {
    const { req, res, path } = method(name);
    c = {
      path,
      serialize: name === 'Write' ? encodeWriteRequest : (m: Msg) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      deserialize: (buf: Uint8Array) => res.toObject(res.decode(buf), OBJECT),
    };
    codecs.set(name, c);
  }
  return c;
}

/** How long a call may take: a target that stops answering must not hold its caller forever. */
export interface CallTimeouts {
  /** Deadline of a unary call (Write, pipeline, Capabilities). Default 30 s. */
  readonly callMs?: number;
  /** A Read is cancelled when no response message arrives for this long. Default 15 s. */
  readonly readIdleMs?: number;
}

const DEADLINE_EXCEEDED = 4;

export class P4RuntimeClient implements P4RuntimeLink {
  private readonly client: Client;
  private readonly callMs: number;
  private readonly readIdleMs: number;

  constructor(address: string, tls?: ClientTls, timeouts: CallTimeouts = {}) {
    this.callMs = timeouts.callMs ?? 30_000;
    this.readIdleMs = timeouts.readIdleMs ?? 15_000;
    const creds = tls ? ChannelCredentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null) : ChannelCredentials.createInsecure();
    this.client = new Client(address, creds, {
      'grpc.max_receive_message_length': 64 << 20,
      // A target that restarts (or starts after us) is found again quickly; the session backs off itself.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      ...(tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
    });
  }

  close(): void {
    this.client.close();
  }

  /** Resolves when the channel is connected (or rejects after `ms`). */
  waitReady(ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => this.client.waitForReady(Date.now() + ms, (e) => (e ? reject(e) : resolve())));
  }

  capabilities(): Promise<Msg> {
    return this.unary('Capabilities', {});
  }

  write(req: Msg): Promise<Msg> {
    return this.unary('Write', req);
  }

  setPipeline(req: Msg): Promise<Msg> {
    return this.unary('SetForwardingPipelineConfig', req);
  }

  getPipeline(req: Msg): Promise<Msg> {
    return this.unary('GetForwardingPipelineConfig', req);
  }

  /** Sends raw request bytes to a unary method (for malformed-input tests). */
  unaryRaw(name: string, bytes: Uint8Array): Promise<Msg> {
    const { res, path } = method(name);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(path, (b: Uint8Array) => Buffer.from(b), (buf: Buffer) => res.toObject(res.decode(buf), OBJECT), bytes, { deadline: Date.now() + this.callMs }, (e, r) =>
        e ? reject(p4RuntimeErrorOf(e)) : resolve(r as Msg),
      );
    });
  }

  /**
   * Reads every entity the request matches (all response messages, flattened). A Read may be
   * long (every table of a big node) but not silent: no message for `readIdleMs` cancels it.
   */
  read(req: Msg): Promise<Msg[]> {
    const out: Msg[] = [];
    return this.serverStream(req, decodeReadResponse, (entities: Msg[]) => {
      for (const e of entities) out.push(e);
    }).then(() => out);
  }

  /** The Read's response messages, undecoded, each told as it arrives (P4RuntimeLink.readEach). */
  readEach(req: Msg, onMessage: (message: Uint8Array) => void): Promise<void> {
    return this.serverStream(req, (b: Uint8Array) => b, onMessage);
  }

  private serverStream<T>(req: Msg, deserialize: (b: Uint8Array) => T, each: (m: T) => void): Promise<void> {
    const { serialize, path } = clientCodec('Read');
    const call = this.client.makeServerStreamRequest(path, serialize, deserialize, req);
    return new Promise((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          reject(new P4RuntimeError(DEADLINE_EXCEEDED, `Read: no response for ${this.readIdleMs} ms`, []));
          call.cancel();
        }, this.readIdleMs);
      };
      arm();
      let failed = false;
      call.on('data', (m: T) => {
        if (failed) return; // the reader gave up and cancelled: what was in flight is not its any more
        arm();
        try {
          each(m);
        } catch (e) {
          failed = true;
          clearTimeout(idle);
          reject(e instanceof Error ? e : new Error(String(e)));
          call.cancel();
        }
      });
      call.on('error', (e: ServiceError) => {
        clearTimeout(idle);
        reject(p4RuntimeErrorOf(e));
      });
      call.on('end', () => {
        clearTimeout(idle);
        resolve();
      });
    });
  }

  openStream(): P4RuntimeStream {
    const { serialize, deserialize, path } = clientCodec('StreamChannel');
    const call = this.client.makeBidiStreamRequest(path, serialize, deserialize, new Metadata());
    return new P4RuntimeStream(call);
  }

  private unary(name: string, request: Msg): Promise<Msg> {
    const { serialize, deserialize, path } = clientCodec(name);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        request,
        { deadline: Date.now() + this.callMs },
        (e, r) => (e ? reject(p4RuntimeErrorOf(e)) : resolve(r as Msg)),
      );
    });
  }
}

/** One StreamChannel: send messages, await the next one, learn how it ended. */
export class P4RuntimeStream implements P4RuntimeLinkStream {
  private readonly queue: Msg[] = [];
  private waiters: ((m: Msg | undefined) => void)[] = [];
  /** Set when the stream ended: undefined for OK, else the status error. */
  ended: P4RuntimeError | null | undefined = undefined;

  constructor(private readonly call: ClientDuplexStream<Msg, Msg>) {
    call.on('data', (m: Msg) => {
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    const finish = (e?: ServiceError): void => {
      if (this.ended !== undefined) return;
      this.ended = e ? p4RuntimeErrorOf(e) : null;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    call.on('error', (e: ServiceError) => finish(e));
    call.on('end', () => finish());
  }

  send(m: Msg): void {
    this.call.write(m);
  }

  /** The next message, or undefined if the stream ended first or `ms` passed. */
  next(ms = 5000): Promise<Msg | undefined> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, ms);
      const done = (x: Msg | undefined): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

const writeType = p4Types.WriteRequest;
const readResponseType = p4Types.ReadResponse;

/**
 * A WriteRequest's bytes: the lean encoder (p4/target/lean-client-write.ts) when it handles the
 * request, protobufjs otherwise; the same bytes either way.
 */
export function encodeWriteRequest(m: Msg): Buffer {
  return encodeLeanWrite(m) ?? Buffer.from(writeType.encode(writeType.fromObject(m)).finish());
}

/** The entities of one ReadResponse as plain objects: the lean decoder when it can, protobufjs otherwise. */
export function decodeReadResponse(buf: Uint8Array): Msg[] {
  const lean = decodeLeanRead(buf);
  if (lean) return lean;
  const o = readResponseType.toObject(readResponseType.decode(buf), OBJECT) as { entities?: Msg[] };
  return o.entities ?? [];
}

/**
 * The P4RuntimeError of a call that ended with a status: its code, its message and the
 * p4.v1.Error details a failed Write carries in grpc-status-details-bin (the trailer the target
 * sets, see p4/target/wire.ts writeFailure). For grpc-js's ServiceError and the loopback alike.
 *
 * @example
 * const e = p4RuntimeErrorOf({ code: 4, details: 'Deadline exceeded' }); // e.code === 4, e.details: []
 */
export function p4RuntimeErrorOf(e: { readonly code: number; readonly details: string; readonly metadata?: Metadata | null }): P4RuntimeError {
  const bin = e.metadata?.get('grpc-status-details-bin')[0];
  let details: { canonical_code: number; message: string }[] = [];
  if (bin instanceof Buffer) {
    // The target's bytes: undecodable details are dropped (the status code stands), never thrown
    // out of grpc-js's callback, where they killed the process (found by simulations/fuzz/evil-target.ts).
    try {
      const status = p4Types.Status.decode(bin) as unknown as { details: { type_url: string; value: Uint8Array }[] };
      details = status.details.map((any) => {
        const err = p4Types.Error.toObject(p4Types.Error.decode(any.value), { defaults: true }) as { canonical_code: number; message: string };
        return { canonical_code: err.canonical_code, message: err.message };
      });
    } catch {
      details = [];
    }
  }
  const first = details.find((d) => d.canonical_code !== 0);
  return new P4RuntimeError(e.code, first ? `${e.details}: ${first.message}` : e.details, details);
}
