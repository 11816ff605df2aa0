/**
 * Fuzzes the CNI path with an exact oracle, three ways:
 * - `runPluginFuzz`: the plugin's entry (`runPlugin`) in-process at volume, against a protocol
 *   peer or a socket nobody serves; every answer is checked against `predictPlugin` (exit code,
 *   CNI code, the shape of the JSON), and so are the side effects in total: requests that reach
 *   the agent, executions of the IPAM plugin (a stub that logs them) by command.
 * - `runExecFuzz`: a sample of the same cases through the bundled plugin, exec'd as a runtime
 *   does: the same predictions, and never a byte on stderr.
 * - `runGrpcFuzz`: the agent's CniBackend in a separate process: malformed CniPrepare, CniAdd,
 *   CniDel and CniCheck requests from the protobuf generator (malformed.ts), each answered with
 *   the typed error the codec predicts (or, over the gRPC size limit, RESOURCE_EXHAUSTED); the
 *   PREPARE+ADD, CHECK and DEL of a real pod interleaved and succeeding; the pool's state files
 *   unchanged by everything rejected; the process alive, its RSS growth reported.
 *
 * @example
 * const report = await runPluginFuzz({ dir: '/tmp/fz', seed: 1, count: 3000 });
 * expect(report.failures).to.deep.equal([]);
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from '../../core/random.js';
import { runPlugin } from '../../cni/plugin.js';
import { GrpcCallError, unaryCall } from '../../cni/grpc-client.js';
import * as wire from '../../cni/wire.js';
import { bundleCniPlugin } from '../../deploy/cni/bundle.js';
import { loadProtoRoot, type Codec } from '../../messages/codec.js';
import { errorCodeToWire } from '../../messages/errors.js';
import { cniAddCodec, cniCheckCodec, cniDelCodec, cniPrepareCodec } from '../../protocol/cni.js';
import { startCniPeer, type CniPeer } from '../cni-peer.js';
import { allConfTruncations, cniJsonCases, predictPlugin, type CniCase, type CniCommand, type CniJsonKind, type CniWorld, type PluginPrediction } from './cni-json.js';
import { malformedCases, type MalformedKind } from './malformed.js';

export interface CniFuzzFailure {
  readonly input: string;
  readonly expected: string;
  readonly got: string;
  /** A gRPC input's method and bytes, so the finding can be replayed and minimised. */
  readonly method?: CniMethod;
  readonly bytes?: Uint8Array;
}

const MAX_FAILURES_KEPT = 50;
const IPAM_TYPE = 'fuzz-ipam';
const STACK_TRACE = /\n\s+at\s|\bat .*:\d+:\d+/;

/** Failures, the first MAX_FAILURES_KEPT of them kept. */
class Failures {
  readonly kept: CniFuzzFailure[] = [];
  count = 0;
  add(input: string, expected: string, got: string, sent?: { method: CniMethod; bytes: Uint8Array }): void {
    this.count++;
    if (this.kept.length < MAX_FAILURES_KEPT) this.kept.push({ input, expected, got: got.slice(0, 800), ...(sent ? { method: sent.method, bytes: sent.bytes } : {}) });
  }
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (const item of items) {
    const p: Promise<void> = work(item).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= limit) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A running SHA-256 over cases: kind, environment and stdin bytes of each, in order. */
function caseHasher() {
  const h = createHash('sha256');
  return {
    add(c: CniCase): void {
      h.update(`${c.index} ${c.kind} ${c.command} ${JSON.stringify(Object.entries(c.env).sort())} ${c.stdin.length}\n`);
      h.update(c.stdin);
    },
    hex: (): string => h.digest('hex'),
  };
}

/**
 * SHA-256 over every case's kind, environment and stdin bytes: equal digests, equal cases.
 *
 * @example
 * expect(digestCases(cniJsonCases({ world, random: seededRandom(5), count: 100 }))).to.equal(report.digest);
 */
export function digestCases(cases: Iterable<CniCase>): string {
  const h = caseHasher();
  for (const c of cases) h.add(c);
  return h.hex();
}

// ---------------------------------------------------------------------------------------------
// The plugin's world: an IPAM stub that logs its calls, a peer socket and a dead one.

export interface PluginWorld extends CniWorld {
  /** IPAM executions so far, by command (from the stub's log). */
  ipamCalls(): Promise<Record<CniCommand, number>>;
}

/**
 * The world of `dir` (bin/fuzz-ipam, peer.sock, absent.sock), named only: what the cases of a run
 * in `dir` are generated for.
 *
 * @example
 * const same = digestCases(cniJsonCases({ world: worldIn(dir), random: seededRandom(seed), count }));
 */
export function worldIn(dir: string): CniWorld {
  return { binDir: join(dir, 'bin'), ipamType: IPAM_TYPE, liveSocket: join(dir, 'peer.sock'), deadSocket: join(dir, 'absent.sock') };
}

/**
 * Makes `dir`'s world: `bin/fuzz-ipam` (a shell script that logs its command and gives ADD one
 * address), `peer.sock` for a peer, `absent.sock` for nobody.
 *
 * @example
 * const world = await pluginWorld('/tmp/fz');
 */
export async function pluginWorld(dir: string): Promise<PluginWorld> {
  const { binDir } = worldIn(dir);
  const log = join(dir, 'ipam.log');
  await mkdir(binDir, { recursive: true });
  await writeFile(log, '');
  const result = JSON.stringify({ cniVersion: '1.0.0', ips: [{ address: '10.244.77.2/24', gateway: '10.244.77.1' }], routes: [{ dst: '0.0.0.0/0' }] });
  const script = [
    '#!/bin/sh',
    `echo "$CNI_COMMAND" >> '${log}'`,
    `if [ "$CNI_COMMAND" = ADD ]; then printf '%s' '${result}'; fi`,
    'exit 0',
    '',
  ].join('\n');
  await writeFile(join(binDir, IPAM_TYPE), script);
  await chmod(join(binDir, IPAM_TYPE), 0o755);
  return {
    ...worldIn(dir),
    async ipamCalls() {
      const counts: Record<CniCommand, number> = { ADD: 0, DEL: 0, CHECK: 0 };
      for (const line of (await readFile(log, 'utf8')).split('\n')) if (line in counts) counts[line as CniCommand]++;
      return counts;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Checking one answer of the plugin.

export const label = (c: CniCase): string => `#${c.index} ${c.kind} ${c.command}: ${c.note}`;
const expectedText = (p: PluginPrediction): string => (p.exitCode === 0 ? `exit 0, ${p.output} (${p.reason})` : `exit 1, code ${p.code} (${p.reason})`);

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with the plugin's answer to `c`, or undefined when it is what `p` says: the exit
 * code, then the CNI error object (only its four fields, an integer code as predicted, a message,
 * no stack trace), an ADD result naming our interface last, or nothing at all.
 *
 * @example
 * const wrong = checkAnswer(c, predictPlugin(c, world), out.exitCode, out.stdout);
 * if (wrong) console.log(`#${c.index}: ${wrong}`);
 */
export function checkAnswer(c: CniCase, p: PluginPrediction, exitCode: number, stdout: string): string | undefined {
  if (exitCode !== p.exitCode) return `exit ${exitCode}: ${stdout.slice(0, 300)}`;
  if (p.output === 'empty') return stdout === '' ? undefined : `stdout ${JSON.stringify(stdout.slice(0, 200))}`;
  const out = parseObject(stdout);
  if (!out) return `stdout is not a JSON object: ${JSON.stringify(stdout.slice(0, 200))}`;
  if (out.cniVersion !== '1.0.0') return `cniVersion ${JSON.stringify(out.cniVersion)}`;
  if (p.output === 'version') return JSON.stringify(out.supportedVersions) === '["1.0.0"]' ? undefined : `versions ${stdout}`;
  if (p.output === 'error') {
    const extra = Object.keys(out).filter((k) => !['cniVersion', 'code', 'msg', 'details'].includes(k));
    if (extra.length > 0) return `error object has ${extra.join(', ')}`;
    if (!Number.isInteger(out.code) || typeof out.msg !== 'string' || out.msg === '') return `not a CNI error: ${stdout.slice(0, 300)}`;
    if (out.details !== undefined && typeof out.details !== 'string') return `details ${JSON.stringify(out.details)}`;
    if (STACK_TRACE.test(`${out.msg}\n${String(out.details ?? '')}`)) return `a stack trace: ${stdout.slice(0, 300)}`;
    return out.code === p.code ? undefined : `code ${String(out.code)}: ${String(out.msg).slice(0, 200)} ${String(out.details ?? '').slice(0, 200)}`;
  }
  const interfaces = out.interfaces as { name?: unknown }[] | undefined;
  const ips = out.ips as { interface?: unknown }[] | undefined;
  if (!Array.isArray(interfaces) || interfaces.length !== p.interfaces) return `interfaces ${JSON.stringify(interfaces)?.slice(0, 200)}, want ${p.interfaces}`;
  if (interfaces[interfaces.length - 1]?.name !== c.env.CNI_IFNAME) return `our interface is ${JSON.stringify(interfaces[interfaces.length - 1])}`;
  if (!Array.isArray(ips) || ips[ips.length - 1]?.interface !== interfaces.length - 1) return `ips ${JSON.stringify(ips)?.slice(0, 200)}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// (1) The plugin's entry, in-process.

export interface PluginFuzzOptions {
  /** A fresh directory for the IPAM stub and the sockets. */
  readonly dir: string;
  readonly seed: number;
  /** Generated cases, after every cut of one valid conf. */
  readonly count: number;
  /** Cases in flight at once. Default 8. */
  readonly concurrency?: number;
  /** Longest a case may take. Default 15 s. */
  readonly timeoutMs?: number;
  readonly kinds?: readonly CniJsonKind[];
  /** The plugin's entry (default runPlugin; tests plant bugs with a wrapper). */
  readonly runner?: PluginRunner;
  /** Cases done so far. */
  readonly onProgress?: (done: number) => void;
}

/** The plugin's entry as the in-process fuzzer calls it. */
export type PluginRunner = (env: NodeJS.ProcessEnv, stdin: string) => Promise<{ readonly stdout: string; readonly exitCode: number }>;

/** What the in-process and the exec runs both report. */
interface CniRunReport {
  readonly seed: number;
  readonly cases: number;
  readonly durationMs: number;
  readonly byKind: Partial<Record<CniJsonKind, number>>;
  /** Answers by outcome: "ok" or "code N". */
  readonly byOutcome: Record<string, number>;
  /** Answers unlike the prediction (the first ones in `failures`). */
  readonly mismatches: number;
  readonly failures: readonly CniFuzzFailure[];
  readonly crashes: number;
  readonly agentCalls: { readonly predicted: number; readonly observed: number };
  readonly ipamCalls: { readonly predicted: Record<CniCommand, number>; readonly observed: Record<CniCommand, number> };
}

/** `cases`: the truncations of one valid conf, then `count`; `crashes`: runPlugin threw, or a rejection nobody heard. */
export interface PluginFuzzReport extends CniRunReport {
  /** Growth of this process's RSS over the run (noisy: the garbage collector decides). */
  readonly rssGrowthBytes: number;
  /** digestCases of the cases run. */
  readonly digest: string;
}

interface Tally {
  readonly byKind: Partial<Record<CniJsonKind, number>>;
  readonly byOutcome: Record<string, number>;
  readonly ipam: Record<CniCommand, number>;
  agentCalls: number;
}

function tally(t: Tally, c: CniCase, p: PluginPrediction, exitCode: number, stdout: string): void {
  t.byKind[c.kind] = (t.byKind[c.kind] ?? 0) + 1;
  const code = exitCode === 0 ? 'ok' : `code ${String(parseObject(stdout)?.code)}`;
  t.byOutcome[code] = (t.byOutcome[code] ?? 0) + 1;
  t.agentCalls += p.agentCalls;
  for (const k of ['ADD', 'DEL', 'CHECK'] as const) t.ipam[k] += p.ipam[k];
}

const newTally = (): Tally => ({ byKind: {}, byOutcome: {}, ipam: { ADD: 0, DEL: 0, CHECK: 0 }, agentCalls: 0 });
/** The peer's Add, Del and Check requests (what predictPlugin counts; a Prepare ahead of an Add is not). */
export const peerCalls = (peer: CniPeer): number => peer.requests.filter((r) => ['Add', 'Del', 'Check'].includes(r.method)).length;

/**
 * The cases of a plugin run with `seed`: every cut of one valid conf (allConfTruncations), then
 * `count` generated cases.
 *
 * @example
 * expect(digestCases(pluginCases(worldIn(dir), seed, 3000))).to.equal(report.digest);
 */
export function* pluginCases(world: CniWorld, seed: number, count: number, kinds?: readonly CniJsonKind[]): Generator<CniCase> {
  yield* allConfTruncations(world, seededRandom(seed));
  yield* cniJsonCases({ world, random: seededRandom(seed), count, ...(kinds ? { kinds } : {}) });
}

/**
 * Every cut of a valid conf, then `count` cases, through `runPlugin` in this process, the agent a protocol peer (or, as a conf
 * says, a socket nobody serves), the IPAM plugin a logging stub.
 *
 * @example
 * const r = await runPluginFuzz({ dir, seed: 42, count: 3000 });
 * console.log(r.mismatches, r.byOutcome);
 */
export async function runPluginFuzz(options: PluginFuzzOptions): Promise<PluginFuzzReport> {
  const started = Date.now();
  const world = await pluginWorld(options.dir);
  const peer = await startCniPeer({ socketPath: world.liveSocket });
  const failures = new Failures();
  const t = newTally();
  let crashes = 0;
  const onRejection = (): void => void crashes++;
  process.on('unhandledRejection', onRejection);
  const rss0 = process.memoryUsage().rss;
  const digest = caseHasher();
  let observedAgent = 0;
  let cases = 0;
  try {
    await pool(pluginCases(world, options.seed, options.count, options.kinds), options.concurrency ?? 8, async (c) => {
      digest.add(c);
      cases++;
      const p = predictPlugin(c, world);
      let out: { stdout: string; exitCode: number };
      try {
        out = await withTimeout((options.runner ?? runPlugin)({ ...c.env }, Buffer.from(c.stdin).toString('utf8')), options.timeoutMs ?? 15_000, 'runPlugin');
      } catch (e) {
        crashes++;
        return failures.add(label(c), expectedText(p), `threw ${(e as Error).message}`);
      }
      tally(t, c, p, out.exitCode, out.stdout);
      const wrong = checkAnswer(c, p, out.exitCode, out.stdout);
      if (wrong) failures.add(label(c), expectedText(p), wrong);
      // The peer's record of requests is only counted; drop it as we go.
      observedAgent += peerCalls(peer);
      peer.requests.length = 0;
      if (cases % 100 === 0) options.onProgress?.(cases);
    });
  } finally {
    process.off('unhandledRejection', onRejection);
    await peer.close();
  }
  observedAgent += peerCalls(peer);
  return {
    seed: options.seed,
    cases,
    durationMs: Date.now() - started,
    byKind: t.byKind,
    byOutcome: t.byOutcome,
    mismatches: failures.count,
    failures: failures.kept,
    crashes,
    agentCalls: { predicted: t.agentCalls, observed: observedAgent },
    ipamCalls: { predicted: t.ipam, observed: await world.ipamCalls() },
    rssGrowthBytes: process.memoryUsage().rss - rss0,
    digest: digest.hex(),
  };
}

// ---------------------------------------------------------------------------------------------
// (2) A sample through the bundled plugin, exec'd.

export interface ExecFuzzOptions {
  readonly dir: string;
  readonly seed: number;
  readonly count: number;
  /** The bundled plugin; bundled into `dir` when absent. */
  readonly plugin?: string;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

/** `crashes`: runs that wrote to stderr, were killed by a signal or did not finish in time. */
export interface ExecFuzzReport extends CniRunReport {
  readonly medianMs: number;
}

export interface Exec {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Execs `file` as a runtime does: only the CNI environment (and a PATH to find node), stdin piped. */
export function execPlugin(file: string, env: Readonly<Record<string, string>>, stdin: Uint8Array, timeoutMs: number): Promise<Exec> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: { PATH: `${process.execPath.replace(/\/[^/]+$/, '')}:/usr/bin:/bin`, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/**
 * `count` cases (every kind, in turn) through the bundled plugin, exec'd with the case's
 * environment and stdin bytes, against a peer or nobody as each conf says.
 *
 * @example
 * const r = await runExecFuzz({ dir, seed: 42, count: 30 });
 */
export async function runExecFuzz(options: ExecFuzzOptions): Promise<ExecFuzzReport> {
  const started = Date.now();
  const world = await pluginWorld(options.dir);
  const plugin = options.plugin ?? (await bundleCniPlugin(join(options.dir, 'infra-cni.cjs')));
  const peer = await startCniPeer({ socketPath: world.liveSocket });
  const failures = new Failures();
  const t = newTally();
  const times: number[] = [];
  let crashes = 0;
  try {
    const cases = cniJsonCases({ world, random: seededRandom(options.seed), count: options.count });
    await pool(cases, options.concurrency ?? 4, async (c) => {
      const p = predictPlugin(c, world);
      let r: Exec;
      try {
        r = await execPlugin(plugin, c.env, c.stdin, options.timeoutMs ?? 15_000);
      } catch (e) {
        crashes++;
        return failures.add(label(c), expectedText(p), `exec failed: ${(e as Error).message}`);
      }
      times.push(r.ms);
      if (r.stderr !== '' || r.code === null) {
        crashes++;
        return failures.add(label(c), expectedText(p), `signal ${r.signal}, stderr ${JSON.stringify(r.stderr.slice(0, 400))}`);
      }
      tally(t, c, p, r.code, r.stdout);
      const wrong = checkAnswer(c, p, r.code, r.stdout);
      if (wrong) failures.add(label(c), expectedText(p), wrong);
    });
  } finally {
    await peer.close();
  }
  times.sort((a, b) => a - b);
  return {
    seed: options.seed,
    cases: options.count,
    durationMs: Date.now() - started,
    byKind: t.byKind,
    byOutcome: t.byOutcome,
    mismatches: failures.count,
    failures: failures.kept,
    crashes,
    agentCalls: { predicted: t.agentCalls, observed: peerCalls(peer) },
    ipamCalls: { predicted: t.ipam, observed: await world.ipamCalls() },
    medianMs: times[Math.floor(times.length / 2)] ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// (3) The agent's CniBackend, in its own process.

/** The agent process under test: where it serves, what it keeps, who it is. */
export interface GrpcFuzzTarget {
  readonly socket: string;
  /** Files only valid requests may change (the pool's pool.json and portmap.json). */
  readonly stateFiles: readonly string[];
  /** The serving process (for its RSS and to see that it stays up). */
  readonly pid: number;
  /** A pod the valid requests add and delete: a container id and its namespace's path. */
  readonly pod: { readonly containerId: string; readonly netns: string; readonly ipv4?: number };
}

export interface GrpcFuzzOptions {
  readonly target: GrpcFuzzTarget;
  readonly seed: number;
  /** Malformed requests in all, spread over Prepare, Add, Del and Check. */
  readonly cases: number;
  /** Requests between two state checks (and two valid ADD/DEL). Default 100. */
  readonly batch?: number;
  readonly concurrency?: number;
  /** Each request's deadline. Default 5 s. */
  readonly timeoutMs?: number;
  /** Malformed requests done so far. */
  readonly onProgress?: (done: number) => void;
}

export type CniMethod = 'Prepare' | 'Add' | 'Del' | 'Check';
const METHODS: readonly CniMethod[] = ['Prepare', 'Add', 'Del', 'Check'];

export interface GrpcFuzzReport {
  readonly seed: number;
  readonly durationMs: number;
  /** Malformed requests sent. */
  readonly sent: number;
  /** Answered with exactly the predicted typed error in the reply. */
  readonly typedErrors: number;
  /** Over the gRPC size limit: answered with status RESOURCE_EXHAUSTED, as predicted. */
  readonly statusErrors: number;
  /** Generated inputs the codec accepts: valid requests, not sent. */
  readonly skippedValid: number;
  readonly byMethod: Record<CniMethod, number>;
  readonly byKind: Partial<Record<MalformedKind, number>>;
  readonly byCode: Record<string, number>;
  readonly mismatches: number;
  readonly failures: readonly CniFuzzFailure[];
  /** Valid requests that succeeded, by method, and those that did not. */
  readonly valid: Readonly<Record<CniMethod | 'failed', number>>;
  /** State comparisons made, and how many found the pool's files changed. */
  readonly stateChecks: number;
  readonly stateChanges: number;
  readonly maxLatencyMs: number;
  readonly rss: { readonly startBytes: number; readonly peakBytes: number; readonly endBytes: number; readonly growthBytes: number };
  /** The process answered /proc at the end (same PID throughout). */
  readonly alive: boolean;
  /** digestGrpcInputs of the run's inputs. */
  readonly digest: string;
}

const SERVICE = '/infra.v1.CniBackend';
/** The agent's grpc.max_receive_message_length: bigger requests never reach the codec. */
export const AGENT_MAX_REQUEST_BYTES = 64 * 1024;
const GRPC_RESOURCE_EXHAUSTED = 8;
const VALID_DEADLINE_MS = 15_000;
/** How long the pool's files may take to show a change already answered (the port map is written just after). */
const SETTLE_MS = 3000;

const CODECS: Record<CniMethod, Codec<unknown>> = { Prepare: cniPrepareCodec, Add: cniAddCodec, Del: cniDelCodec, Check: cniCheckCodec };
const cniRoot = loadProtoRoot(['infra/v1/errors.proto', 'infra/v1/cni.proto']);
const requestType = (method: CniMethod) => cniRoot.lookupType(`infra.v1.Cni${method}Request`);
/** The error in a reply, decoded as the plugin decodes it. */
const replyError = (method: CniMethod, reply: Uint8Array): wire.WireError | undefined =>
  (method === 'Add' ? wire.decodeAddReply(reply) : wire.decodeStatusReply(reply)).error;

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Where two snapshots first differ, with some context on each side. */
function difference(expected: string, actual: string): string {
  let i = 0;
  while (i < expected.length && expected[i] === actual[i]) i++;
  const at = Math.max(0, i - 40);
  return `at offset ${i}: expected …${JSON.stringify(expected.slice(at, i + 80))}, found …${JSON.stringify(actual.slice(at, i + 80))}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pool's files, read whole. The agent writes the port map just after it answers, so reads wait a little for what is due. */
class PoolFiles {
  constructor(private readonly files: readonly string[]) {}

  async read(): Promise<string> {
    const parts = await Promise.all(this.files.map((f) => readFile(f, 'utf8').catch(() => '(missing)')));
    return parts.join('\n--\n');
  }

  /** The files once they equal `expected`, or as they are after SETTLE_MS. */
  async settleTo(expected: string): Promise<string> {
    const until = Date.now() + SETTLE_MS;
    for (;;) {
      const now = await this.read();
      if (now === expected || Date.now() > until) return now;
      await sleep(20);
    }
  }

  /** The files once they differ from `before` and have stayed the same for 200 ms (or after SETTLE_MS). */
  async settleAwayFrom(before: string): Promise<string> {
    const until = Date.now() + SETTLE_MS;
    let last = await this.read();
    let since = Date.now();
    while (Date.now() < until && (last === before || Date.now() - since < 200)) {
      await sleep(20);
      const now = await this.read();
      if (now !== last) [last, since] = [now, Date.now()];
    }
    return last;
  }
}

/** The pod's valid requests as the plugin encodes them (cni/wire.ts), and variants to mutate. */
export function podRequests(pod: GrpcFuzzTarget['pod']) {
  const ref: wire.PodRef = { containerId: pod.containerId, netns: pod.netns, ifname: 'eth0', podNamespace: 'default', podName: 'cni-fuzz', network: 'cni-fuzz' };
  const address = pod.ipv4 ?? 0x0af40032;
  const add: wire.AddRequest = {
    ...ref,
    ips: [{ address, prefixLength: 24, gateway: ((address & 0xffffff00) | 1) >>> 0 }],
    routes: [{ dst: 0, dstPrefixLength: 0, gateway: 0 }],
    mtu: 1400,
  };
  const wider: wire.AddRequest = {
    ...add,
    containerId: `${pod.containerId}x`,
    ips: [...add.ips, { address: address + 1, prefixLength: 32, gateway: 0 }],
    routes: [...add.routes, { dst: 0x0a600000, dstPrefixLength: 12, gateway: 0xa9fe0101 }],
  };
  const prepare = { containerId: ref.containerId, netns: ref.netns, ifname: ref.ifname, mtu: add.mtu };
  return {
    encode: (method: CniMethod, mac: string): Uint8Array =>
      method === 'Prepare'
        ? wire.encodePrepareRequest(prepare)
        : method === 'Add'
          ? wire.encodeAddRequest(add)
          : method === 'Del'
            ? wire.encodeDelRequest(ref)
            : wire.encodeCheckRequest({ ...add, mac }),
    valid: {
      Prepare: [wire.encodePrepareRequest(prepare), wire.encodePrepareRequest({ ...prepare, containerId: wider.containerId, mtu: 0 })],
      Add: [wire.encodeAddRequest(add), wire.encodeAddRequest(wider)],
      Del: [wire.encodeDelRequest(ref), wire.encodeDelRequest({ ...ref, netns: '' })],
      Check: [wire.encodeCheckRequest({ ...add, mac: '02:42:0a:f4:00:32' }), wire.encodeCheckRequest({ ...wider, mac: '' })],
    } satisfies Record<CniMethod, Uint8Array[]>,
  };
}

export interface GrpcInput {
  readonly method: CniMethod;
  readonly bytes: Uint8Array;
  readonly kind: MalformedKind;
  readonly what: string;
}

/** Malformed requests for the four methods, taken in turn. */
export function* grpcInputs(seed: number, total: number, valid: Record<CniMethod, Uint8Array[]>): Generator<GrpcInput> {
  const streams = METHODS.map((method, i) => {
    const count = Math.floor(total / METHODS.length) + (i < total % METHODS.length ? 1 : 0);
    const others = METHODS.filter((m) => m !== method).map((m) => valid[m][0]!);
    return malformedCases({ type: requestType(method), valid: valid[method], random: seededRandom(seed * 4 + i), count, maxBytes: AGENT_MAX_REQUEST_BYTES, others });
  });
  for (;;) {
    let any = false;
    for (const [i, s] of streams.entries()) {
      const next = s.next();
      if (next.done) continue;
      any = true;
      const c = next.value;
      yield { method: METHODS[i]!, bytes: c.bytes, kind: c.kind, what: `${METHODS[i]} #${c.index} ${c.kind}: ${c.note}` };
    }
    if (!any) return;
  }
}

function hashInput(h: ReturnType<typeof createHash>, input: GrpcInput): void {
  h.update(`${input.method} ${input.kind} ${input.bytes.length}\n`);
  h.update(input.bytes);
}

/**
 * SHA-256 over the malformed requests a run of `runGrpcFuzz` with this seed, count and pod
 * generates (method, kind and bytes of each, in order): the report's `digest`.
 *
 * @example
 * expect(digestGrpcInputs(9, 2000, pod)).to.equal(report.digest);
 */
export function digestGrpcInputs(seed: number, cases: number, pod: GrpcFuzzTarget['pod']): string {
  const h = createHash('sha256');
  for (const input of grpcInputs(seed, cases, podRequests(pod).valid)) hashInput(h, input);
  return h.digest('hex');
}

interface Stats {
  sent: number;
  typedErrors: number;
  statusErrors: number;
  skippedValid: number;
  byMethod: Record<CniMethod, number>;
  byKind: Partial<Record<MalformedKind, number>>;
  byCode: Record<string, number>;
  valid: Record<CniMethod | 'failed', number>;
  stateChecks: number;
  stateChanges: number;
  maxLatencyMs: number;
}

/** One run's client: sends, predicts, checks, counts. */
class GrpcSession {
  readonly failures = new Failures();
  readonly digest = createHash('sha256');
  readonly stats: Stats = {
    sent: 0,
    typedErrors: 0,
    statusErrors: 0,
    skippedValid: 0,
    byMethod: { Prepare: 0, Add: 0, Del: 0, Check: 0 },
    byKind: {},
    byCode: {},
    valid: { Prepare: 0, Add: 0, Del: 0, Check: 0, failed: 0 },
    stateChecks: 0,
    stateChanges: 0,
    maxLatencyMs: 0,
  };
  private mac = '';
  private readonly requests: ReturnType<typeof podRequests>;

  constructor(
    private readonly target: GrpcFuzzTarget,
    private readonly deadlineMs: number,
  ) {
    this.requests = podRequests(target.pod);
  }

  inputs(seed: number, total: number): Generator<GrpcInput> {
    return grpcInputs(seed, total, this.requests.valid);
  }

  private async call(method: CniMethod, bytes: Uint8Array, deadlineMs = this.deadlineMs): Promise<Buffer> {
    const t0 = performance.now();
    try {
      return await unaryCall(this.target.socket, `${SERVICE}/${method}`, bytes, deadlineMs);
    } finally {
      this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, performance.now() - t0);
    }
  }

  /**
   * The pod's valid request; it must succeed. Its deadline is the agent's longest ADD (10 s) and
   * more: the first ADD may wait for a manager still electing itself.
   */
  async valid(method: CniMethod): Promise<boolean> {
    try {
      const reply = await this.call(method, this.requests.encode(method, this.mac), VALID_DEADLINE_MS);
      const error = replyError(method, reply);
      if (error) throw new Error(`error ${error.code}: ${error.message}`);
      if (method === 'Add') this.mac = wire.decodeAddReply(reply).mac;
      this.stats.valid[method]++;
      return true;
    } catch (e) {
      this.stats.valid.failed++;
      this.failures.add(`valid ${method} of ${this.target.pod.containerId}`, 'success', (e as Error).message);
      return false;
    }
  }

  /** What the plugin does: Prepare while IPAM runs, then Add. */
  async add(): Promise<boolean> {
    return (await this.valid('Prepare')) && this.valid('Add');
  }

  /** One malformed request: not sent if the codec accepts it; else the predicted answer, exactly. */
  async malformed(input: GrpcInput): Promise<void> {
    hashInput(this.digest, input);
    const { stats, failures } = this;
    const predicted = CODECS[input.method].decode(input.bytes);
    const oversize = input.bytes.length > AGENT_MAX_REQUEST_BYTES;
    if (predicted.ok && !oversize) {
      stats.skippedValid++;
      return;
    }
    stats.sent++;
    stats.byMethod[input.method]++;
    stats.byKind[input.kind] = (stats.byKind[input.kind] ?? 0) + 1;
    let reply: Buffer;
    try {
      reply = await this.call(input.method, input.bytes);
    } catch (e) {
      const status = e instanceof GrpcCallError ? e.grpcStatus : -1;
      if (oversize && status === GRPC_RESOURCE_EXHAUSTED) {
        stats.statusErrors++;
        stats.byCode.RESOURCE_EXHAUSTED_STATUS = (stats.byCode.RESOURCE_EXHAUSTED_STATUS ?? 0) + 1;
        return;
      }
      return failures.add(input.what, oversize ? 'grpc-status 8' : 'a reply', `${(e as Error).message} (status ${status})`, input);
    }
    if (oversize || predicted.ok) return failures.add(input.what, 'grpc-status 8', 'a reply', input);
    const want = { code: errorCodeToWire(predicted.error.code), message: predicted.error.message.slice(0, 4096), field: predicted.error.field.slice(0, 256) };
    let got: wire.WireError | undefined;
    try {
      got = replyError(input.method, reply);
    } catch (e) {
      return failures.add(input.what, JSON.stringify(want), `an undecodable reply: ${(e as Error).message}`, input);
    }
    if (!got || got.code !== want.code || got.message !== want.message || got.field !== want.field) {
      return failures.add(input.what, JSON.stringify(want), JSON.stringify(got ?? 'no error'), input);
    }
    stats.typedErrors++;
    stats.byCode[predicted.error.code] = (stats.byCode[predicted.error.code] ?? 0) + 1;
  }

  /** Compares the settled files with what the last valid request left. */
  async checkState(files: PoolFiles, expected: string, when: string): Promise<void> {
    this.stats.stateChecks++;
    const now = await files.settleTo(expected);
    if (now !== expected) {
      this.stats.stateChanges++;
      this.failures.add(`state ${when}`, 'the pool files as after the last valid request', difference(expected, now));
    }
  }
}

/**
 * Fuzzes a running agent's CNI socket. Batches of malformed requests; after each, the pool's
 * files are compared with what the last valid request left. The pod is added (Prepare, Add) with
 * one batch in flight and deleted with the next-but-one, and checked while the batch between runs.
 *
 * @example
 * const r = await runGrpcFuzz({ target: { socket, stateFiles, pid, pod }, seed: 9, cases: 2000 });
 * expect(r.failures).to.deep.equal([]);
 */
export async function runGrpcFuzz(options: GrpcFuzzOptions): Promise<GrpcFuzzReport> {
  const started = Date.now();
  const { target } = options;
  const session = new GrpcSession(target, options.timeoutMs ?? 5000);
  const files = new PoolFiles(target.stateFiles);

  // A first ADD and DEL with nothing else going on: they must work, and give the two states.
  const down = await files.read();
  await session.add();
  const up = await files.settleAwayFrom(down);
  await session.valid('Del');
  await session.checkState(files, down, 'after the first ADD and DEL');
  const rssStart = await rssOf(target.pid);
  let rssPeak = rssStart;

  const inputs = session.inputs(options.seed, options.cases);
  let podUp = false;
  for (let round = 0; ; round++) {
    const batch: GrpcInput[] = [];
    for (let next = inputs.next(); !next.done; next = inputs.next()) if (batch.push(next.value) >= (options.batch ?? 100)) break;
    if (batch.length === 0) break;
    // Round 0 mod 4: ADD with the batch; 1: CHECKs; 2: DEL with the batch; 3: nothing valid.
    const phase = round % 4;
    const valid: Promise<unknown>[] = [];
    if (phase === 0) valid.push(session.add().then((ok) => (podUp = ok)));
    if (phase === 1 && podUp) valid.push(session.valid('Check'), session.valid('Check'));
    if (phase === 2 && podUp) valid.push(session.valid('Del').then((ok) => (podUp = !ok)));
    await pool(batch, options.concurrency ?? 16, (input) => session.malformed(input));
    await Promise.all(valid);
    await session.checkState(files, podUp ? up : down, `after batch ${round} (pod ${podUp ? 'up' : 'down'})`);
    rssPeak = Math.max(rssPeak, await rssOf(target.pid));
    options.onProgress?.(session.stats.sent + session.stats.skippedValid);
  }
  if (podUp) await session.valid('Del');
  await session.checkState(files, down, 'at the end');
  const rssEnd = await rssOf(target.pid);
  return {
    seed: options.seed,
    durationMs: Date.now() - started,
    ...session.stats,
    mismatches: session.failures.count,
    failures: session.failures.kept,
    rss: { startBytes: rssStart, peakBytes: Math.max(rssPeak, rssEnd), endBytes: rssEnd, growthBytes: rssEnd - rssStart },
    alive: rssEnd > 0,
    digest: session.digest.digest('hex'),
  };
}
