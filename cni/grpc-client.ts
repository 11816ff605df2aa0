/**
 * A minimal unary gRPC client over node:http2 on a Unix socket: one request, one reply, a
 * deadline. Enough for the exec'd plugin, which must not pay for loading @grpc/grpc-js.
 *
 * @example
 * const reply = await unaryCall('/run/infra-offload/cni.sock', '/infra.v1.CniBackend/Add', bytes, 5000);
 */
import { CNI_CODES, CniError } from './errors.js';

/** gRPC status codes the plugin tells apart. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const RETRYABLE_GRPC = new Set([GRPC_UNAVAILABLE, GRPC_DEADLINE_EXCEEDED, 8 /* RESOURCE_EXHAUSTED */]);

/** A transport or server fault (non-zero grpc-status, no socket, deadline). */
export class GrpcCallError extends CniError {
  override name = 'GrpcCallError';
  constructor(
    readonly grpcStatus: number,
    message: string,
  ) {
    super(RETRYABLE_GRPC.has(grpcStatus) ? CNI_CODES.TRY_AGAIN_LATER : CNI_CODES.IO, `agent call failed: ${message}`, `grpc-status ${grpcStatus}`);
  }
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function unframe(data: Buffer): Buffer {
  if (data.length < 5) throw new GrpcCallError(13, 'reply shorter than a gRPC frame');
  if (data[0] !== 0) throw new GrpcCallError(13, 'compressed replies are not supported');
  const len = data.readUInt32BE(1);
  if (data.length < 5 + len) throw new GrpcCallError(13, 'truncated gRPC reply');
  return data.subarray(5, 5 + len);
}

type Headers = Record<string, string | string[] | number | undefined>;

function statusOf(headers: Headers): { status: number; message: string } | undefined {
  const raw = headers['grpc-status'];
  if (raw === undefined) return undefined;
  const m = headers['grpc-message'];
  const message = typeof m === 'string' ? decodeURIComponent(m) : '';
  return { status: Number(raw), message };
}

/** A connection to the agent, opened early (while IPAM runs); calls share it until close(). */
export interface AgentConnection {
  /** One unary call on the connection. */
  call(path: string, request: Uint8Array, deadlineMs: number): Promise<Buffer>;
  close(): void;
}

type Http2Session = import('node:http2').ClientHttp2Session;

/**
 * Starts loading node:http2 and connecting to the agent's socket right away, so that cost
 * overlaps with whatever the caller does next (the IPAM exec). A connection error is kept and
 * reported by `call`.
 *
 * @example
 * const agent = connectAgent('/run/infra-offload/cni.sock');
 * const ipam = await execIpam('ADD', call);
 * const reply = await agent.call('/infra.v1.CniBackend/Add', bytes, 5000);
 */
export function connectAgent(socketPath: string): AgentConnection {
  let failure: Error | undefined;
  let onFailure: ((e: Error) => void) | undefined;
  let closed = false;
  const session: Promise<Http2Session> = Promise.all([import('node:http2'), import('node:net')]).then(([http2, net]) => {
    const s = http2.connect('http://localhost', { createConnection: () => net.connect(socketPath) });
    s.on('error', (e: NodeJS.ErrnoException) => {
      failure = new GrpcCallError(GRPC_UNAVAILABLE, `${socketPath}: ${e.code ?? e.message}`);
      onFailure?.(failure);
    });
    if (closed) s.destroy();
    return s;
  });
  const close = (): void => {
    closed = true;
    void session.then((s) => s.destroy());
  };
  return {
    close,
    async call(path, request, deadlineMs) {
      const s = await session;
      return new Promise<Buffer>((resolve, reject) => {
        if (failure) return reject(failure);
        const previous = onFailure;
        onFailure = (e) => {
          previous?.(e);
          reject(e);
        };
        callOn(s, path, request, deadlineMs).then(resolve, reject);
      });
    },
  };
}

/** Sends one unary request to `path` on the gRPC server at `socketPath`; resolves with the reply bytes. */
export async function unaryCall(socketPath: string, path: string, request: Uint8Array, deadlineMs: number): Promise<Buffer> {
  const agent = connectAgent(socketPath);
  try {
    return await agent.call(path, request, deadlineMs);
  } finally {
    agent.close();
  }
}

function callOn(session: Http2Session, path: string, request: Uint8Array, deadlineMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status: { status: number; message: string } | undefined;
    let done = false;
    const finish = (err: Error | undefined, value?: Buffer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new GrpcCallError(GRPC_DEADLINE_EXCEEDED, `no reply within ${deadlineMs} ms`)), deadlineMs);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.max(1, Math.ceil(deadlineMs))}m`,
    });
    stream.on('response', (headers: Headers) => (status = statusOf(headers) ?? status));
    stream.on('trailers', (trailers: Headers) => (status = statusOf(trailers) ?? status));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (e: Error) => finish(new GrpcCallError(GRPC_UNAVAILABLE, e.message)));
    stream.on('end', () => {
      if (!status) return finish(new GrpcCallError(13, 'reply without grpc-status'));
      if (status.status !== 0) return finish(new GrpcCallError(status.status, status.message || `grpc-status ${status.status}`));
      try {
        finish(undefined, unframe(Buffer.concat(chunks)));
      } catch (e) {
        finish(e as Error);
      }
    });
    stream.end(frame(request));
  });
}
