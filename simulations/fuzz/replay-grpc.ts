/**
 * Replays one CniBackend request (method + bytes) against a CNI gRPC server in a process of its
 * own: the reply must carry exactly the typed error the codec predicts (or gRPC status 8 over the
 * 64 KiB limit), within the deadline, and the process must stay up. Two servers:
 * - `StandaloneGrpcReplayer`: the agent's server code (actors/agent/cni-server.ts) in a process
 *   of its own with a backend that answers NOT_FOUND (cni-server-process.ts), restarted after a
 *   crash from a spare started ahead; what the corpus test replays against;
 * - `AgentGrpcReplayer`: a real agent with its TAP pool (the fuzz run's), whose pool files must
 *   also stay as they were; a factory brings a new agent after a crash.
 *
 * @example
 * const r = await StandaloneGrpcReplayer.start(dir);
 * await r.verdict('Add', bytes); // { class: 'ok', … } when the typed error is the predicted one
 * await r.close();
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GrpcCallError, unaryCall } from '../../cni/grpc-client.js';
import * as wire from '../../cni/wire.js';
import type { Codec } from '../../messages/codec.js';
import { errorCodeToWire } from '../../messages/errors.js';
import { cniAddCodec, cniCheckCodec, cniDelCodec, cniPrepareCodec } from '../../protocol/cni.js';
import { AGENT_MAX_REQUEST_BYTES, type CniMethod } from './cni-fuzz.js';
import { startCniServerProcess, type CniServerProcess } from './cni-server-process.js';
import { entryMeta, type EntryMeta, type GrpcCorpusCase } from './corpus.js';
import { OK, type Verdict } from './findings.js';
import { processAlive } from './http2-fuzz.js';

const CODECS: Record<CniMethod, Codec<unknown>> = { Prepare: cniPrepareCodec, Add: cniAddCodec, Del: cniDelCodec, Check: cniCheckCodec };
const DEADLINE_MS = 5000;

export type GrpcExpectation = { readonly valid: true } | { readonly grpcStatus: number } | { readonly code: string; readonly message: string; readonly field: string };

/**
 * What the server must answer: nothing for a request the codec accepts (never sent), gRPC status
 * 8 over the size limit, else the codec's typed error as the reply carries it.
 *
 * @example
 * expectedGrpc('Add', Uint8Array.of(0xff)); // { code: 'INVALID_ARGUMENT', message: '…', field: '…' }
 */
export function expectedGrpc(method: CniMethod, bytes: Uint8Array): GrpcExpectation {
  if (bytes.length > AGENT_MAX_REQUEST_BYTES) return { grpcStatus: 8 };
  const predicted = CODECS[method].decode(bytes);
  if (predicted.ok) return { valid: true };
  return { code: predicted.error.code, message: predicted.error.message.slice(0, 4096), field: predicted.error.field.slice(0, 256) };
}

/** The request and the oracle alone: `crash` here means the connection failed (the caller checks the process). */
export async function grpcVerdict(socket: string, method: CniMethod, bytes: Uint8Array, deadlineMs = DEADLINE_MS): Promise<Verdict> {
  const want = expectedGrpc(method, bytes);
  if ('valid' in want) return { ...OK, detail: 'a valid request (not sent)' };
  let reply: Buffer;
  try {
    reply = await unaryCall(socket, `/infra.v1.CniBackend/${method}`, bytes, deadlineMs);
  } catch (e) {
    const status = e instanceof GrpcCallError ? e.grpcStatus : -1;
    const text = `${(e as Error).message} (status ${status})`;
    if ('grpcStatus' in want && status === want.grpcStatus) return OK;
    if (status === 4 || /deadline|timed? ?out/i.test(text)) return { class: 'hang', detail: `no answer within ${deadlineMs} ms: ${text}` };
    if (/ECONNREFUSED|ENOENT|ECONNRESET|EPIPE|closed|GOAWAY/i.test(text)) return { class: 'crash', detail: `the connection failed: ${text}` };
    return { class: 'mismatch', detail: `expected ${JSON.stringify(want)}, got ${text}` };
  }
  if ('grpcStatus' in want) return { class: 'mismatch', detail: `expected grpc-status ${want.grpcStatus}, got a reply` };
  let got: wire.WireError | undefined;
  try {
    got = (method === 'Add' ? wire.decodeAddReply(reply) : wire.decodeStatusReply(reply)).error;
  } catch (e) {
    return { class: 'mismatch', detail: `an undecodable reply: ${(e as Error).message}` };
  }
  const code = errorCodeToWire(want.code as Parameters<typeof errorCodeToWire>[0]);
  if (!got || got.code !== code || got.message !== want.message || got.field !== want.field) return { class: 'mismatch', detail: `expected ${JSON.stringify(want)}, got ${JSON.stringify(got ?? 'no error')}` };
  return OK;
}

/** The standalone server, replaced after a crash by a spare started ahead. */
export class StandaloneGrpcReplayer {
  private spare: Promise<CniServerProcess> | undefined;
  private n = 0;

  private constructor(
    private server: CniServerProcess,
    private readonly dir: string,
    private readonly plantCrash: Uint8Array | undefined,
  ) {}

  /**
   * Starts a server with its socket in `dir`; `plantCrash` (tests only) makes it exit when a
   * request holds those bytes.
   */
  static async start(dir: string, plantCrash?: Uint8Array): Promise<StandaloneGrpcReplayer> {
    const r = new StandaloneGrpcReplayer(await StandaloneGrpcReplayer.launch(dir, 0, plantCrash), dir, plantCrash);
    r.n = 1;
    return r;
  }

  private static launch(dir: string, n: number, plantCrash: Uint8Array | undefined): Promise<CniServerProcess> {
    return startCniServerProcess({ socketPath: join(dir, `cni-${n}.sock`), ...(plantCrash ? { plantCrash } : {}) });
  }

  get socket(): string {
    return this.server.socketPath;
  }

  get pid(): number {
    return this.server.pid;
  }

  /** Restarts (the spare) if the server died; the spare for the next crash starts meanwhile. */
  async ensure(): Promise<boolean> {
    if (this.server.child.exitCode === null && this.server.child.signalCode === null) return false;
    await this.server.stop();
    this.server = await (this.spare ?? StandaloneGrpcReplayer.launch(this.dir, this.n++, this.plantCrash));
    this.spare = StandaloneGrpcReplayer.launch(this.dir, this.n++, this.plantCrash);
    this.spare.catch(() => undefined);
    return true;
  }

  async verdict(method: CniMethod, bytes: Uint8Array): Promise<Verdict> {
    await this.ensure();
    const v = await grpcVerdict(this.server.socketPath, method, bytes);
    // A child's exit is seen a moment after its socket closes.
    const exited = await waitExit(this.server, v.class === 'ok' ? 0 : 300);
    if (exited) return { class: 'crash', detail: `the server exited (${this.server.child.exitCode ?? this.server.child.signalCode}) on ${method} of ${bytes.length} bytes` };
    return v;
  }

  async close(): Promise<void> {
    await this.server.stop();
    if (this.spare) await (await this.spare.catch(() => undefined))?.stop();
  }
}

async function waitExit(server: CniServerProcess, ms: number): Promise<boolean> {
  const dead = (): boolean => server.child.exitCode !== null || server.child.signalCode !== null;
  for (const until = Date.now() + ms; !dead() && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
  return dead();
}

/** A running agent as the replayer sees it. */
export interface AgentUnderTest {
  readonly socket: string;
  readonly pid: number;
  readonly stateFiles: readonly string[];
}

/** Replays against a real agent: the typed error, the process, and its pool files unchanged. */
export class AgentGrpcReplayer {
  constructor(
    private agent: AgentUnderTest,
    /** A fresh agent after one died (the old one is the factory's to stop). */
    private readonly restart: () => Promise<AgentUnderTest>,
  ) {}

  private async files(): Promise<string> {
    return (await Promise.all(this.agent.stateFiles.map((f) => readFile(f, 'utf8').catch(() => '(missing)')))).join('\n--\n');
  }

  async verdict(method: CniMethod, bytes: Uint8Array): Promise<Verdict> {
    if (!processAlive(this.agent.pid)) this.agent = await this.restart();
    const before = await this.files();
    const v = await grpcVerdict(this.agent.socket, method, bytes);
    await new Promise((r) => setTimeout(r, v.class === 'ok' ? 0 : 300));
    if (!processAlive(this.agent.pid)) return { class: 'crash', detail: `the agent (pid ${this.agent.pid}) exited on ${method} of ${bytes.length} bytes` };
    if (v.class !== 'ok') return v;
    // The agent writes the port map just after it answers: give a change a moment to land.
    await new Promise((r) => setTimeout(r, 50));
    const after = await this.files();
    return after === before ? v : { class: 'state', detail: `the pool's files changed on ${method} of ${bytes.length} bytes` };
  }
}

/** The corpus entry of a (minimised) CniBackend request. */
export function grpcCorpusEntry(method: CniMethod, bytes: Uint8Array, meta: EntryMeta): GrpcCorpusCase {
  const want = expectedGrpc(method, bytes);
  return {
    target: 'cni-grpc',
    ...entryMeta(meta, bytes),
    method,
    bytesBase64: Buffer.from(bytes).toString('base64'),
    expected: 'valid' in want ? { code: 'OK', message: '', field: '' } : want,
  };
}

/** What is wrong with a stored CniBackend case now, or undefined. */
export async function checkGrpcCase(replayer: { verdict(method: CniMethod, bytes: Uint8Array): Promise<Verdict> }, entry: GrpcCorpusCase): Promise<string | undefined> {
  const bytes = Buffer.from(entry.bytesBase64, 'base64');
  const want = expectedGrpc(entry.method, bytes);
  if (JSON.stringify('valid' in want ? { code: 'OK', message: '', field: '' } : want) !== JSON.stringify(entry.expected)) return `the oracle now says ${JSON.stringify(want)}`;
  const v = await replayer.verdict(entry.method, bytes);
  return v.class === 'ok' ? undefined : `${v.class}: ${v.detail}`;
}
