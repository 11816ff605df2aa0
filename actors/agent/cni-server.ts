/**
 * The agent's CNI backend: infra.v1.CniBackend served with @grpc/grpc-js on a Unix socket that
 * only root can reach (its directory 0700, the socket 0600), for the exec'd plugin
 * (bin/cni-plugin.ts). Requests are raw bytes decoded by our own codecs (protocol/cni.ts), so a
 * malformed or out-of-range request gets a typed error in the reply, never an exception; the
 * work itself is the backend port's (the pod hub).
 *
 * The bytes-in, bytes-out part (`cniDispatch`: codecs, backend, observer) does not depend on
 * gRPC: the in-process simulator gets the same dispatch handed over instead of a socket
 * (`serve: 'inproc'`, `InprocCni`), so its requests are decoded, answered and encoded by the
 * same code, with deadlines as given (on the injected clock) instead of grpc-js's wall clock.
 *
 * As a supervised child it is a promise actor: it fails when the server cannot bind, and its
 * stop (an aborted signal) shuts the server down and removes the socket (in process: tells the
 * caller the backend is gone).
 *
 * @example
 * const server = await startCniServer({ socketPath: '/run/infra-offload/cni.sock', backend, logger });
 * await server.close();
 */
import { chmod, lstat, mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { fromPromise } from 'xstate';
import type { Clock } from '../../core/clock.js';
import type { Result } from '../../core/result.js';
import { BusError } from '../../messages/errors.js';
import type { Codec } from '../../messages/codec.js';
import {
  cniAddCodec,
  cniCheckCodec,
  cniDelCodec,
  cniPrepareCodec,
  encodeAddReply,
  encodeStatusReply,
  type CniAdd,
  type CniAddResult,
  type CniCheck,
  type CniPodRef,
  type CniPrepare,
} from '../../protocol/cni.js';

/** What serves the requests; every call resolves (a failure is a typed error, never a throw). */
export interface CniBackendPort {
  /** Starts the interface while IPAM runs (optional; the Add does everything without it). */
  prepare(request: CniPrepare, deadlineMs: number): Promise<Result<void, BusError>>;
  add(request: CniAdd, deadlineMs: number): Promise<Result<CniAddResult, BusError>>;
  del(request: CniPodRef, deadlineMs: number): Promise<Result<void, BusError>>;
  check(request: CniCheck, deadlineMs: number): Promise<Result<void, BusError>>;
}

/** The methods of infra.v1.CniBackend. */
export type CniMethod = 'Prepare' | 'Add' | 'Del' | 'Check';

/** Told of every request answered (metrics): the method, seconds from arrival to reply, `ok` or the error code. */
export interface CniObserver {
  served(method: CniMethod, seconds: number, result: string): void;
}

export interface CniServerOptions {
  readonly socketPath: string;
  readonly backend: CniBackendPort;
  readonly logger: Logger;
  readonly observer?: CniObserver;
  /** Used when the caller sent no grpc-timeout; also the upper bound of any deadline. */
  readonly maxDeadlineMs?: number;
  /** Wall-clock reader for deadlines (grpc-js deadlines are wall-clock). */
  readonly now?: () => number;
}

export interface CniServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

const SERVICE = '/infra.v1.CniBackend';

/** A reply's bytes and its result label (`ok` or the typed error's code). */
interface Answer {
  readonly bytes: Uint8Array;
  readonly result: string;
}
const identity = (b: Buffer): Buffer => b;

/** A server-side method that passes bytes through; decoding is ours. */
function rawMethod(name: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `${SERVICE}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/** Prepares the socket's directory (0700, created if missing) and removes a stale socket. */
async function prepareSocket(socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} is writable by group or others: the CNI socket must be reachable by root only`);
  await chmod(dir, st.mode & 0o700);
  const old = await lstat(socketPath).catch(() => undefined);
  if (old) {
    if (!old.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
    await rm(socketPath);
  }
}

export interface CniDispatchOptions {
  readonly backend: CniBackendPort;
  readonly logger: Logger;
  readonly observer?: CniObserver;
  /**
   * Milliseconds now, to time each request for the observer and the debug line (default
   * performance.now; the injected clock in process, so a simulation measures simulated time).
   */
  readonly elapsed?: () => number;
}

/** One request's bytes in (as the plugin sends them), the reply's bytes out; never rejects. */
export type CniDispatch = (method: CniMethod, request: Uint8Array, deadlineMs: number) => Promise<Uint8Array>;

const CNI_METHODS: readonly CniMethod[] = ['Prepare', 'Add', 'Del', 'Check'];

/** True for the name of a method of infra.v1.CniBackend. */
export const isCniMethod = (m: string): m is CniMethod => (CNI_METHODS as readonly string[]).includes(m);

/**
 * Decodes a request with our codecs, asks the backend, encodes its answer (a malformed request
 * is refused with the codec's typed error; a backend that breaks its contract and rejects is
 * answered INTERNAL), and tells the observer. Whatever carries the bytes — gRPC or a call in
 * the same process — runs this.
 *
 * @example
 * const dispatch = cniDispatch({ backend: hub, logger });
 * const reply = await dispatch('Add', encodeAddRequest(req), 10_000); // CniAddReply bytes
 */
export function cniDispatch(options: CniDispatchOptions): CniDispatch {
  const { backend, logger, observer } = options;
  const elapsed = options.elapsed ?? (() => performance.now());

  function handler<T>(
    name: CniMethod,
    codec: Codec<T>,
    work: (request: T, deadlineMs: number) => Promise<Answer>,
    refuse: (error: BusError) => Uint8Array,
  ): (request: Uint8Array, deadlineMs: number) => Promise<Uint8Array> {
    return async (request, deadlineMs) => {
      const started = elapsed();
      const done = ({ bytes, result }: Answer): Uint8Array => {
        const ms = elapsed() - started;
        try {
          observer?.served(name, ms / 1000, result);
        } catch {
          // An observer's bug must not cost a reply.
        }
        logger.debug({ method: name, ms: +ms.toFixed(2), result }, 'cni request served');
        return bytes;
      };
      const decoded = codec.decode(request);
      if (!decoded.ok) {
        logger.warn({ method: name, err: decoded.error.message, field: decoded.error.field }, 'malformed CNI request refused');
        return done({ bytes: refuse(decoded.error), result: decoded.error.code });
      }
      try {
        return done(await work(decoded.value, deadlineMs));
      } catch (e) {
        // The backend never rejects by contract; this is a bug, answered as INTERNAL.
        logger.error({ method: name, err: e }, 'CNI backend failed');
        return done({ bytes: refuse(new BusError('INTERNAL', e instanceof Error ? e.message : String(e))), result: 'INTERNAL' });
      }
    };
  }
  const status = (method: 'Prepare' | 'Del' | 'Check', r: Result<void, BusError>): Answer => ({
    bytes: encodeStatusReply(method, r.ok ? undefined : r.error),
    result: r.ok ? 'ok' : r.error.code,
  });
  const handlers: Record<CniMethod, (request: Uint8Array, deadlineMs: number) => Promise<Uint8Array>> = {
    Prepare: handler(
      'Prepare',
      cniPrepareCodec,
      async (req, deadline) => status('Prepare', await backend.prepare(req, deadline)),
      (error) => encodeStatusReply('Prepare', error),
    ),
    Add: handler(
      'Add',
      cniAddCodec,
      async (req, deadline) => {
        const r = await backend.add(req, deadline);
        return { bytes: encodeAddReply(r), result: r.ok ? 'ok' : r.error.code };
      },
      (error) => encodeAddReply({ ok: false, error }),
    ),
    Del: handler(
      'Del',
      cniDelCodec,
      async (req, deadline) => status('Del', await backend.del(req, deadline)),
      (error) => encodeStatusReply('Del', error),
    ),
    Check: handler(
      'Check',
      cniCheckCodec,
      async (req, deadline) => status('Check', await backend.check(req, deadline)),
      (error) => encodeStatusReply('Check', error),
    ),
  };
  return (method, request, deadlineMs) => handlers[method](request, deadlineMs);
}

/**
 * Binds the server; rejects when the socket cannot be prepared or bound.
 */
export async function startCniServer(options: CniServerOptions): Promise<CniServer> {
  const { socketPath, logger } = options;
  const maxDeadlineMs = options.maxDeadlineMs ?? 30_000;
  const now = options.now ?? Date.now;
  await prepareSocket(socketPath);
  // Keepalive: a connection the HTTP/2 layer gave up on is destroyed when its ping goes
  // unanswered instead of leaking a descriptor (see p4/target/server.ts).
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024, 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 });

  const deadlineOf = (call: grpc.ServerUnaryCall<Buffer, Buffer>): number => {
    const d = call.getDeadline();
    const at = d instanceof Date ? d.getTime() : d;
    if (!Number.isFinite(at)) return maxDeadlineMs;
    return Math.max(0, Math.min(maxDeadlineMs, at - now()));
  };
  const dispatch = cniDispatch(options);
  const handler =
    (name: CniMethod): grpc.handleUnaryCall<Buffer, Buffer> =>
    (call, callback) => {
      void dispatch(name, call.request, deadlineOf(call)).then((bytes) => callback(null, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    };

  server.addService(
    { Prepare: rawMethod('Prepare'), Add: rawMethod('Add'), Del: rawMethod('Del'), Check: rawMethod('Check') },
    { Prepare: handler('Prepare'), Add: handler('Add'), Del: handler('Del'), Check: handler('Check') },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  await chmod(socketPath, 0o600);
  logger.info({ socket: socketPath }, 'CNI backend listening');

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }).then(() => rm(socketPath, { force: true }))),
  };
}

/**
 * The CNI backend handed to a caller in the same process (the in-process simulator) instead of
 * served on a socket: the same requests, by the same code.
 */
export interface InprocCni {
  /**
   * A request's bytes (what the plugin sends: cni/wire.ts encodes them) → the reply's bytes,
   * through the same codecs, backend and observer as over gRPC. `deadlineMs` is what the
   * plugin's grpc-timeout would say (capped by `pods.addTimeoutMs`, which is also the default).
   * An unknown method is answered as gRPC would, with UNIMPLEMENTED (a rejected promise here:
   * there is no reply message to carry it).
   */
  call(method: CniMethod, request: Uint8Array, deadlineMs?: number): Promise<Uint8Array>;
  /** The typed path, without the codecs: the backend itself (UNAVAILABLE while the pod actors restart). */
  readonly backend: CniBackendPort;
}

/** How the agent serves its CNI backend: on the gRPC socket of `pods.socket` (the default), or to its caller in process. */
export type CniServe = { readonly serve: 'socket' } | { readonly serve: 'inproc'; readonly onBackend: (cni: InprocCni | undefined) => void };

export interface CniServingInput extends Omit<CniServerOptions, 'backend'> {
  /** Looked up when a request arrives, so the server outlives a restarted pod hub. */
  readonly backend: () => CniBackendPort | undefined;
  /** Socket (default) or in process; in process, deadlines and timings are on `clock`. */
  readonly serve?: CniServe;
  readonly clock?: Clock;
}

const unavailable = (): BusError => new BusError('UNAVAILABLE', 'the agent is restarting its pod interfaces; try again');
const stopped = (): BusError => new BusError('UNAVAILABLE', 'the CNI service is not running; try again');

/** The supervised child: serves until stopped; fails if it cannot bind. */
export const cniServingLogic = fromPromise<void, CniServingInput>(async ({ input, signal }) => {
  const maxDeadlineMs = input.maxDeadlineMs ?? 30_000;
  // In process, a reference kept past this child's stop answers as a removed socket would: unavailable.
  let running = true;
  const lookup = (): CniBackendPort | undefined => (running ? input.backend() : undefined);
  const missing = () => Promise.resolve({ ok: false as const, error: running ? unavailable() : stopped() });
  const backend: CniBackendPort = {
    prepare: (r, d) => lookup()?.prepare(r, d) ?? missing(),
    add: (r, d) => lookup()?.add(r, d) ?? missing(),
    del: (r, d) => lookup()?.del(r, d) ?? missing(),
    check: (r, d) => lookup()?.check(r, d) ?? missing(),
  };
  const aborted = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  const serve = input.serve;
  if (serve?.serve === 'inproc') {
    const clock = input.clock;
    const dispatch = cniDispatch({ ...input, backend, ...(clock ? { elapsed: () => clock.now() } : {}) });
    const clamp = (d: number | undefined): number => (d === undefined || !Number.isFinite(d) ? maxDeadlineMs : Math.max(0, Math.min(maxDeadlineMs, d)));
    const cni: InprocCni = {
      call: (method, request, deadlineMs) =>
        isCniMethod(method) ? dispatch(method, request, clamp(deadlineMs)) : Promise.reject(new BusError('UNIMPLEMENTED', `unknown method infra.v1.CniBackend/${String(method)}`)),
      backend: {
        prepare: (r, d) => backend.prepare(r, clamp(d)),
        add: (r, d) => backend.add(r, clamp(d)),
        del: (r, d) => backend.del(r, clamp(d)),
        check: (r, d) => backend.check(r, clamp(d)),
      },
    };
    if (signal.aborted) return;
    serve.onBackend(cni);
    input.logger.info('CNI backend handed over in process');
    await aborted;
    running = false;
    serve.onBackend(undefined);
    return;
  }
  const server = await startCniServer({ ...input, backend });
  await aborted;
  running = false;
  await server.close();
});
