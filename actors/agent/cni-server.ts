/**
 * The agent's CNI backend: infra.v1.CniBackend served with @grpc/grpc-js on a Unix socket that
 * only root can reach (its directory 0700, the socket 0600), for the exec'd plugin
 * (bin/cni-plugin.ts). Requests are raw bytes decoded by our own codecs (protocol/cni.ts), so a
 * malformed or out-of-range request gets a typed error in the reply, never an exception; the
 * work itself is the backend port's (the pod hub).
 *
 * As a supervised child it is a promise actor: it fails when the server cannot bind, and its
 * stop (an aborted signal) shuts the server down and removes the socket.
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

/**
 * Binds the server; rejects when the socket cannot be prepared or bound.
 */
export async function startCniServer(options: CniServerOptions): Promise<CniServer> {
  const { socketPath, backend, logger, observer } = options;
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

  function handler<T>(
    name: CniMethod,
    codec: Codec<T>,
    work: (request: T, deadlineMs: number) => Promise<Answer>,
    refuse: (error: BusError) => Uint8Array,
  ): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      const started = performance.now();
      const decoded = codec.decode(call.request);
      const done = ({ bytes, result }: Answer) => {
        callback(null, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        const ms = performance.now() - started;
        try {
          observer?.served(name, ms / 1000, result);
        } catch {
          // An observer's bug must not cost a reply.
        }
        logger.debug({ method: name, ms: +ms.toFixed(2), result }, 'cni request served');
      };
      if (!decoded.ok) {
        logger.warn({ method: name, err: decoded.error.message, field: decoded.error.field }, 'malformed CNI request refused');
        done({ bytes: refuse(decoded.error), result: decoded.error.code });
        return;
      }
      work(decoded.value, deadlineOf(call)).then(done, (e: unknown) => {
        // The backend never rejects by contract; this is a bug, answered as INTERNAL.
        logger.error({ method: name, err: e }, 'CNI backend failed');
        done({ bytes: refuse(new BusError('INTERNAL', e instanceof Error ? e.message : String(e))), result: 'INTERNAL' });
      });
    };
  }
  const status = (method: 'Prepare' | 'Del' | 'Check', r: Result<void, BusError>): Answer => ({
    bytes: encodeStatusReply(method, r.ok ? undefined : r.error),
    result: r.ok ? 'ok' : r.error.code,
  });

  server.addService(
    { Prepare: rawMethod('Prepare'), Add: rawMethod('Add'), Del: rawMethod('Del'), Check: rawMethod('Check') },
    {
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
    },
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

export interface CniServingInput extends Omit<CniServerOptions, 'backend'> {
  /** Looked up when a request arrives, so the server outlives a restarted pod hub. */
  readonly backend: () => CniBackendPort | undefined;
}

const unavailable = (): BusError => new BusError('UNAVAILABLE', 'the agent is restarting its pod interfaces; try again');

/** The supervised child: serves until stopped; fails if it cannot bind. */
export const cniServingLogic = fromPromise<void, CniServingInput>(async ({ input, signal }) => {
  const backend: CniBackendPort = {
    prepare: (r, d) => input.backend()?.prepare(r, d) ?? Promise.resolve({ ok: false, error: unavailable() }),
    add: (r, d) => input.backend()?.add(r, d) ?? Promise.resolve({ ok: false, error: unavailable() }),
    del: (r, d) => input.backend()?.del(r, d) ?? Promise.resolve({ ok: false, error: unavailable() }),
    check: (r, d) => input.backend()?.check(r, d) ?? Promise.resolve({ ok: false, error: unavailable() }),
  };
  const server = await startCniServer({ ...input, backend });
  if (signal.aborted) return server.close();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  await server.close();
});
