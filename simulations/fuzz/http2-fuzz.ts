/**
 * Runs the HTTP/2 anomalies of http2-anomalies.ts against one gRPC listener in a separate
 * process, and checks the oracle after every attack:
 * - the process is still running, with the same PID, and printed no unhandled rejection;
 * - valid requests through the normal client — one while the attack runs, every `probeEveryMs`,
 *   and a fresh one after it — succeed (or get the expected typed error) within their deadline;
 * - an attack that ends with a valid request on a connection the server keeps open gets an
 *   answer (a status, a reset or a GOAWAY refusing it) within the deadline: no hang;
 * - the process's RSS (VmRSS of /proc/<pid>/status) grows by less than a bound per attack kind;
 * - with `reclaimMs`: every server-side socket of an attack connection is closed within that
 *   time (a server that stops reading after a GOAWAY never sees the peer go, and keeps it).
 * The server may close an attack connection (GOAWAY or reset): that is expected, and reported.
 * Sockets are told apart by inode (/proc/<pid>/fd): those an attack left open after we closed
 * ours are counted as `lingering`.
 *
 * @example
 * const target = await startTarget();
 * const report = await runHttp2Fuzz({ target: p4rtFuzzTarget(target), seed: 1, rounds: 4 });
 * expect(report.failures).to.deep.equal([]);
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { encodeCheckRequest, decodeStatusReply } from '../../cni/wire.js';
import { unaryCall } from '../../cni/grpc-client.js';
import { seededRandom } from '../../core/random.js';
import { err, ok, type Result } from '../../core/result.js';
import { BusError, errorCodeFromWire, type ErrorCode } from '../../messages/errors.js';
import { P4RuntimeClient } from '../../p4/runtime-client.js';
import { TargetAdminClient } from '../../p4/target/admin.js';
import type { TargetProcess } from '../target-process.js';
import type { CniServerProcess } from './cni-server-process.js';
import { ATTACK_KINDS, ATTACK_VARIANTS, FLAG, FRAME, FRAME_NAMES, FrameReader, H2_ERRORS, http2Attack, type AttackKind, type Http2Attack, type RequestShape } from './http2-anomalies.js';

/** One gRPC listener in a separate process. */
export interface Http2FuzzTarget {
  readonly label: string;
  /** unix:///path, unix:/path or host:port. */
  readonly address: string;
  readonly pid: number;
  /** The method the attacks' requests name (a real one, so the server starts calls). */
  readonly path: string;
  /** One valid request through the normal client; resolves (never rejects) within about deadlineMs. */
  probe(deadlineMs: number): Promise<Result<void, BusError>>;
  /** What the process printed so far, searched for an unhandled rejection or a fatal error. */
  readonly output?: () => readonly string[];
}

export interface Http2FuzzOptions {
  readonly target: Http2FuzzTarget;
  readonly seed: number;
  /** Attacks per kind; round i runs variant i mod (number of variants). */
  readonly rounds: number;
  /** Run at least one round of every variant (more rounds for kinds with more variants). */
  readonly allVariants?: boolean;
  readonly kinds?: readonly AttackKind[];
  /** Multiplies the flood sizes (default 1: thousands of frames). */
  readonly scale?: number;
  /** Deadline of each valid request. Default 2000. */
  readonly probeDeadlineMs?: number;
  /** Pause between the valid requests sent while an attack runs. Default 100. */
  readonly probeEveryMs?: number;
  /** How long an attack connection is kept open after its last byte, if the server keeps it. Default 200. */
  readonly holdMs?: number;
  /** Give up writing when the server has not read for this long (it may stop reading). Default 2000. */
  readonly stallMs?: number;
  /** Largest RSS growth allowed over one attack kind, in KiB. Default 200 MiB. */
  readonly rssBoundKb?: number;
  /**
   * Fail unless every socket an attack left open in the server is closed within this many ms
   * of the end of the run (default: only count them).
   */
  readonly reclaimMs?: number;
  /** Attack over TLS (ALPN h2) with these options. */
  readonly tls?: ConnectionOptions;
  /** Called once per attack, when its lingering sockets are known (at the next attack). */
  readonly onAttack?: (record: AttackRecord) => void;
}

/** How the server ended (or kept) an attack connection. */
export interface AttackOutcome {
  /** Bytes our socket accepted before the server closed it or stopped reading. */
  readonly sentBytes: number;
  /** Every byte of the attack was written. */
  readonly complete: boolean;
  /** The server stopped reading for `stallMs`: we stopped writing. */
  readonly stalled: boolean;
  /** Frames the server sent, by type. */
  readonly received: Readonly<Record<string, number>>;
  readonly goaway?: { readonly code: string; readonly lastStreamId: number };
  readonly closedBy: 'server' | 'client';
  /** The attack's final valid request: answered (a status), reset, refused by GOAWAY, cut by a close, or nothing. */
  readonly final?: 'answered' | 'reset' | 'refused' | 'closed' | 'unanswered';
  readonly socketError?: string;
  readonly ms: number;
}

export interface AttackRecord {
  readonly kind: AttackKind;
  readonly variant: string;
  readonly round: number;
  /** seededRandom(attackSeed) rebuilds the same bytes (see replayAttack). */
  readonly attackSeed: number;
  readonly note: string;
  readonly frames: number;
  readonly bytes: number;
  /** e.g. "goaway PROTOCOL_ERROR", "goaway ENHANCE_YOUR_CALM", "closed", "kept open". */
  readonly outcome: string;
  /** Server sockets of this attack still open after we closed ours (seen at the next attack). */
  lingering: number;
  readonly final?: AttackOutcome['final'];
  readonly ms: number;
}

export interface KindReport {
  attacks: number;
  variants: Record<string, number>;
  frames: number;
  bytes: number;
  outcomes: Record<string, number>;
  probesOk: number;
  probesFailed: number;
  /** Slowest successful valid request, ms. */
  probeMaxMs: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  rssPeakKb: number;
  rssGrowthKb: number;
  /** Server sockets the attacks left open after we closed ours. */
  lingeringSockets: number;
  durationMs: number;
}

export type FailureWhat = 'process-exited' | 'probe-failed' | 'no-answer' | 'rss-growth' | 'fatal-output' | 'connection-leak';

export interface Http2FuzzFailure {
  readonly kind: AttackKind;
  readonly variant: string;
  readonly round: number;
  readonly attackSeed: number;
  readonly what: FailureWhat;
  readonly detail: string;
}

export interface Http2FuzzReport {
  readonly target: string;
  readonly pid: number;
  readonly seed: number;
  readonly kinds: Partial<Record<AttackKind, KindReport>>;
  readonly attacks: AttackRecord[];
  /** The first 50 failures. */
  readonly failures: Http2FuzzFailure[];
  failureCount: number;
  alive: boolean;
  rssStartKb: number;
  rssEndKb: number;
  /** Sockets the attacks left open, and how many of them were still open at the end (after `reclaimMs`). */
  lingeringSockets: number;
  stillOpenAtEnd: number;
  durationMs: number;
}

const MAX_FAILURES_KEPT = 50;
/** What a process prints when it dies of something we did (Node's own wording). */
const FATAL_OUTPUT = /unhandled ?rejection|uncaught ?exception|FATAL ERROR|out of memory|Segmentation fault/i;

/**
 * The seed of one attack, from the run's seed, the kind and the round.
 *
 * @example
 * const random = seededRandom(attackSeed(1, 'rapid-reset', 0));
 */
export function attackSeed(seed: number, kind: AttackKind, round: number): number {
  return (Math.imul(seed, 1_000_003) + ATTACK_KINDS.indexOf(kind) * 10_007 + round) | 0;
}

/**
 * The bytes of one attack of a run, again (for a failure's reproduction).
 *
 * @example
 * const attack = replayAttack(failure.kind, failure.round, failure.attackSeed, { path: '/infra.v1.CniBackend/Check' });
 */
export function replayAttack(kind: AttackKind, round: number, seedOfAttack: number, shape: RequestShape): Http2Attack {
  return http2Attack(kind, round, seededRandom(seedOfAttack), shape);
}

/** Resident memory of a process in KiB (VmRSS), or undefined when it is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The sockets a process holds open, by inode ("socket:[12345]"): unique while open, so a set
 * taken before an attack and one after tell which sockets the attack left behind.
 *
 * @example
 * const before = openSockets(pid);
 * const left = [...openSockets(pid)].filter((s) => !before.has(s));
 */
export function openSockets(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:')) out.add(link);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * Waits until none of `sockets` is open in the process any more, or `ms` passed; resolves with
 * those still open.
 *
 * @example
 * const left = await socketsClosed(pid, lingering, 20_000); // [] once the server let go of them
 */
export async function socketsClosed(pid: number, sockets: ReadonlySet<string>, ms: number): Promise<string[]> {
  const until = performance.now() + ms;
  for (;;) {
    const open = openSockets(pid);
    const left = [...sockets].filter((s) => open.has(s));
    if (left.length === 0 || performance.now() >= until || !processAlive(pid)) return left;
    await sleep(Math.min(200, Math.max(1, until - performance.now())));
  }
}

/** Whether the process runs (exists and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Runs every attack kind `rounds` times against the target and checks the oracle.
 *
 * @example
 * const report = await runHttp2Fuzz({ target: cniFuzzTarget(server), seed: 7, rounds: 3 });
 * console.log(report.kinds['rapid-reset']?.rssGrowthKb);
 */
export async function runHttp2Fuzz(options: Http2FuzzOptions): Promise<Http2FuzzReport> {
  const started = performance.now();
  const { target } = options;
  const report: Http2FuzzReport = {
    target: target.label,
    pid: target.pid,
    seed: options.seed,
    kinds: {},
    attacks: [],
    failures: [],
    failureCount: 0,
    alive: processAlive(target.pid),
    rssStartKb: rssKb(target.pid) ?? 0,
    rssEndKb: 0,
    lingeringSockets: 0,
    stillOpenAtEnd: 0,
    durationMs: 0,
  };
  // The sockets open before an attack; those of the next snapshot that are new belong to it
  // (valid requests are done and their connections closed by then).
  let before = openSockets(target.pid);
  let last: { record: AttackRecord; stats: KindReport } | undefined;
  const lingering = new Set<string>();
  const settle = async (): Promise<void> => {
    let now = openSockets(target.pid);
    if (last) {
      // A connection just closed by its client may take the server a moment to notice.
      let left = [...now].filter((s) => !before.has(s));
      for (let waited = 0; left.length > 0 && waited < 200; waited += 20) {
        await sleep(20);
        now = openSockets(target.pid);
        left = left.filter((s) => now.has(s));
      }
      for (const s of left) lingering.add(s);
      last.record.lingering = left.length;
      last.stats.lingeringSockets += left.length;
      options.onAttack?.(last.record);
      last = undefined;
    }
    before = now;
  };
  const shape: RequestShape = { path: target.path, scale: options.scale ?? 1 };
  for (const kind of options.kinds ?? ATTACK_KINDS) {
    const kindStarted = performance.now();
    const rssBefore = rssKb(target.pid) ?? 0;
    const stats: KindReport = {
      attacks: 0,
      variants: {},
      frames: 0,
      bytes: 0,
      outcomes: {},
      probesOk: 0,
      probesFailed: 0,
      probeMaxMs: 0,
      rssBeforeKb: rssBefore,
      rssAfterKb: 0,
      rssPeakKb: rssBefore,
      rssGrowthKb: 0,
      lingeringSockets: 0,
      durationMs: 0,
    };
    report.kinds[kind] = stats;
    const rounds = options.allVariants ? Math.max(options.rounds, ATTACK_VARIANTS[kind].length) : options.rounds;
    for (let round = 0; round < rounds && report.alive; round++) {
      const seed = attackSeed(options.seed, kind, round);
      const attack = replayAttack(kind, round, seed, shape);
      const fail = (what: FailureWhat, detail: string): void => addFailure(report, { kind, variant: attack.variant, round, attackSeed: seed, what, detail });
      await settle();
      await runOne(attack, { ...options, target }, stats, fail, (record) => {
        const full: AttackRecord = { ...record, round, attackSeed: seed, lingering: 0 };
        report.attacks.push(full);
        last = { record: full, stats };
      });
      report.alive = processAlive(target.pid);
      if (!report.alive) fail('process-exited', `${target.label} (pid ${target.pid}) is gone after ${attack.variant}: ${attack.note}`);
      stats.rssPeakKb = Math.max(stats.rssPeakKb, rssKb(target.pid) ?? 0);
    }
    stats.rssAfterKb = rssKb(target.pid) ?? 0;
    stats.rssGrowthKb = stats.rssAfterKb - rssBefore;
    stats.durationMs = Math.round(performance.now() - kindStarted);
    const bound = options.rssBoundKb ?? 200 * 1024;
    if (report.alive && stats.rssGrowthKb > bound) {
      addFailure(report, { kind, variant: '*', round: -1, attackSeed: attackSeed(options.seed, kind, 0), what: 'rss-growth', detail: `RSS grew by ${stats.rssGrowthKb} KiB (bound ${bound} KiB)` });
    }
  }
  await settle();
  report.lingeringSockets = lingering.size;
  const left = await socketsClosed(target.pid, lingering, options.reclaimMs ?? 0);
  report.stillOpenAtEnd = left.length;
  if (options.reclaimMs !== undefined && left.length > 0 && report.alive) {
    const by = [...new Set(report.attacks.filter((a) => a.lingering > 0).map((a) => `${a.kind}/${a.variant}`))].join(', ');
    addFailure(report, {
      kind: report.attacks.find((a) => a.lingering > 0)?.kind ?? 'malformed',
      variant: by,
      round: -1,
      attackSeed: 0,
      what: 'connection-leak',
      detail: `${left.length} of ${lingering.size} attack connections still open in the server ${options.reclaimMs} ms after the run (left by ${by})`,
    });
  }
  report.rssEndKb = rssKb(target.pid) ?? 0;
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

function addFailure(report: Http2FuzzReport, failure: Http2FuzzFailure): void {
  report.failureCount++;
  if (report.failures.length < MAX_FAILURES_KEPT) report.failures.push(failure);
}

type RecordSink = (record: Omit<AttackRecord, 'round' | 'attackSeed' | 'lingering'>) => void;

/** One attack with valid requests beside it, then a fresh valid request and the process checks. */
async function runOne(
  attack: Http2Attack,
  options: Http2FuzzOptions,
  stats: KindReport,
  fail: (what: FailureWhat, detail: string) => void,
  record: RecordSink,
): Promise<void> {
  const { target } = options;
  const deadline = options.probeDeadlineMs ?? 2000;
  const outputBefore = target.output?.().length ?? 0;
  const probe = async (when: string): Promise<void> => {
    const t0 = performance.now();
    const r = await target.probe(deadline);
    const ms = performance.now() - t0;
    if (r.ok && ms <= deadline * 1.25) {
      stats.probesOk++;
      stats.probeMaxMs = Math.max(stats.probeMaxMs, Math.round(ms));
      return;
    }
    stats.probesFailed++;
    fail('probe-failed', `valid request ${when}: ${r.ok ? `answered after ${Math.round(ms)} ms` : `${r.error.code}: ${r.error.message}`} (${attack.note})`);
  };

  let attacking = true;
  const beside = (async () => {
    do {
      await probe('during the attack');
      await sleep(options.probeEveryMs ?? 100);
    } while (attacking);
  })();
  const outcome = await sendAttack(target.address, attack, options);
  attacking = false;
  await beside;

  const label = outcome.goaway ? `goaway ${outcome.goaway.code}` : outcome.closedBy === 'server' ? 'closed' : outcome.stalled ? 'stalled' : 'kept open';
  stats.attacks++;
  stats.variants[attack.variant] = (stats.variants[attack.variant] ?? 0) + 1;
  stats.frames += attack.frames;
  stats.bytes += attack.bytes;
  stats.outcomes[label] = (stats.outcomes[label] ?? 0) + 1;
  record({
    kind: attack.kind,
    variant: attack.variant,
    note: attack.note,
    frames: attack.frames,
    bytes: attack.bytes,
    outcome: label,
    ...(outcome.final ? { final: outcome.final } : {}),
    ms: Math.round(outcome.ms),
  });
  if (outcome.final === 'unanswered') {
    fail('no-answer', `the final request of the attack got nothing within ${deadline} ms on a connection the server kept open (${attack.note})`);
  }
  if (!processAlive(target.pid)) return;
  await probe('after the attack');
  const fatal = target
    .output?.()
    .slice(outputBefore)
    .find((l) => FATAL_OUTPUT.test(l));
  if (fatal) fail('fatal-output', fatal.slice(0, 500));
}

/**
 * Writes one attack on a fresh connection and watches what the server does with it.
 *
 * @example
 * const outcome = await sendAttack('unix:///tmp/x/p4rt.sock', attack);
 * outcome.goaway?.code; // "PROTOCOL_ERROR"
 */
export async function sendAttack(
  address: string,
  attack: Http2Attack,
  options: { holdMs?: number; stallMs?: number; probeDeadlineMs?: number; tls?: ConnectionOptions } = {},
): Promise<AttackOutcome> {
  const started = performance.now();
  const socket = connectTo(address, options.tls);
  const received: Record<string, number> = {};
  let goaway: AttackOutcome['goaway'];
  let answer: 'answered' | 'reset' | undefined;
  let closed = false;
  let socketError: string | undefined;
  let wake = (): void => {};
  const reader = new FrameReader((f) => {
    const name = FRAME_NAMES[f.type] ?? `type-${f.type}`;
    received[name] = (received[name] ?? 0) + 1;
    // The first GOAWAY says why; Node may follow it with another as it tears the session down.
    if (f.type === FRAME.GOAWAY && f.payload.length >= 8 && !goaway) {
      goaway = { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: H2_ERRORS[f.payload.readUInt32BE(4)] ?? `0x${f.payload.readUInt32BE(4).toString(16)}` };
    }
    if (f.streamId !== 0 && f.streamId === attack.finalStream && !answer) {
      if (f.type === FRAME.RST_STREAM) answer = 'reset';
      else if ((f.type === FRAME.HEADERS || f.type === FRAME.DATA) && (f.flags & FLAG.END_STREAM) !== 0) answer = 'answered';
    }
    wake();
  });
  socket.on('data', (b: Buffer) => reader.push(b));
  if (attack.unread) socket.pause();
  socket.on('error', (e: NodeJS.ErrnoException) => (socketError ??= e.code ?? e.message));
  socket.on('close', () => {
    closed = true;
    wake();
  });
  const until = (done: () => boolean, ms: number): Promise<void> =>
    new Promise((res) => {
      if (done()) return res();
      const timer = setTimeout(() => {
        wake = () => {};
        res();
      }, ms);
      wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        wake = () => {};
        res();
      };
    });

  let sentBytes = 0;
  let stalled = false;
  let complete = true;
  for (const chunk of attack.chunks) {
    if (closed || socket.destroyed) {
      complete = false;
      break;
    }
    const flowing = socket.write(chunk);
    sentBytes += chunk.length;
    if (flowing) continue;
    let drained = false;
    const onDrain = (): void => {
      drained = true;
      wake();
    };
    socket.once('drain', onDrain);
    await until(() => drained || closed, options.stallMs ?? 2000);
    socket.off('drain', onDrain);
    if (!drained && !closed) {
      stalled = true;
      complete = false;
      break;
    }
  }
  if (attack.unread) socket.resume();
  const refused = (): boolean => goaway !== undefined && attack.finalStream !== undefined && goaway.lastStreamId < attack.finalStream;
  if (attack.finalStream !== undefined && complete) {
    await until(() => closed || answer !== undefined || refused(), options.probeDeadlineMs ?? 2000);
  } else {
    await until(() => closed, options.holdMs ?? 200);
  }
  const closedBy = closed ? 'server' : 'client';
  const final: AttackOutcome['final'] =
    attack.finalStream === undefined || !complete ? undefined : answer ? answer : refused() ? 'refused' : closed ? 'closed' : 'unanswered';
  socket.destroy();
  return {
    sentBytes,
    complete,
    stalled,
    received,
    ...(goaway ? { goaway } : {}),
    closedBy,
    ...(final ? { final } : {}),
    ...(socketError ? { socketError } : {}),
    ms: performance.now() - started,
  };
}

/** A plain (or TLS, ALPN h2) socket to unix:///path, unix:/path or host:port. */
function connectTo(address: string, tls?: ConnectionOptions): Socket {
  const unixPath = /^unix:(?:\/\/)?(\/.+)$/.exec(address)?.[1];
  const tcp = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  const where = unixPath ? { path: unixPath } : { host: tcp?.[1] ?? address, port: Number(tcp?.[2] ?? 0) };
  if (tls) return tlsConnect({ ...tls, ...where, ALPNProtocols: ['h2'] });
  return netConnect(where);
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

/** Settles `work` within `ms`: its Result, or DEADLINE_EXCEEDED. */
async function withDeadline<T>(work: Promise<Result<T, BusError>>, ms: number): Promise<Result<T, BusError>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Result<T, BusError>>((res) => {
    timer = setTimeout(() => res(err(new BusError('DEADLINE_EXCEEDED', `no answer within ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

const failed = (e: unknown): Result<never, BusError> => {
  const code = (e as { code?: unknown }).code;
  return err(new BusError('UNAVAILABLE', `${typeof code === 'number' ? `grpc-status ${code}: ` : ''}${e instanceof Error ? e.message : String(e)}`));
};

/**
 * A valid request to the software P4 target through our clients, alternating P4Runtime
 * Capabilities and TargetAdmin Stats; a fresh client each time.
 *
 * @example
 * const probe = p4rtProbe('unix:///tmp/x/p4rt.sock');
 * (await probe(2000)).ok; // true
 */
export function p4rtProbe(address: string): (deadlineMs: number) => Promise<Result<void, BusError>> {
  let n = 0;
  return async (deadlineMs) => {
    if (n++ % 2 === 0) {
      const client = new P4RuntimeClient(address);
      const call = client.capabilities().then(
        (r): Result<void, BusError> => (typeof r.p4runtime_api_version === 'string' && r.p4runtime_api_version !== '' ? ok(undefined) : err(new BusError('INTERNAL', 'Capabilities without an API version'))),
        failed,
      );
      const r = await withDeadline(call, deadlineMs);
      client.close();
      return r;
    }
    const admin = new TargetAdminClient(address);
    const call = admin.stats().then(
      (s): Result<void, BusError> => (typeof s.writeRpcs === 'number' ? ok(undefined) : err(new BusError('INTERNAL', 'Stats without counters'))),
      failed,
    );
    const r = await withDeadline(call, deadlineMs);
    admin.close();
    return r;
  };
}

/** A Check the agent's codec accepts: the backend answers it. */
const VALID_CHECK = encodeCheckRequest({
  containerId: 'fuzz0123456789',
  netns: '/var/run/netns/fuzz',
  ifname: 'eth0',
  podNamespace: 'default',
  podName: 'fuzz',
  network: 'k8s-pod-network',
  ips: [{ address: 0x0a000005, prefixLength: 24, gateway: 0 }],
  routes: [],
  mtu: 0,
  mac: '',
});

/**
 * A valid Check to a CNI backend through the plugin's own client (cni/grpc-client.ts): success
 * is the reply carrying the typed error `expect` (NOT_FOUND from the fuzz server).
 *
 * @example
 * (await cniProbe('/tmp/x/cni.sock')(2000)).ok; // true
 */
export function cniProbe(socketPath: string, expect: ErrorCode = 'NOT_FOUND'): (deadlineMs: number) => Promise<Result<void, BusError>> {
  return (deadlineMs) =>
    withDeadline(
      unaryCall(socketPath, '/infra.v1.CniBackend/Check', VALID_CHECK, deadlineMs).then((reply): Result<void, BusError> => {
        const code = errorCodeFromWire(decodeStatusReply(reply).error?.code ?? -1);
        return code === expect ? ok(undefined) : err(new BusError('INTERNAL', `Check answered ${code}, expected ${expect}`));
      }, failed),
      deadlineMs,
    );
}

/**
 * The software P4 target (bin/target, started by startTarget) as a fuzz target.
 *
 * @example
 * const report = await runHttp2Fuzz({ target: p4rtFuzzTarget(await startTarget()), seed: 1, rounds: 3 });
 */
export function p4rtFuzzTarget(target: TargetProcess): Http2FuzzTarget {
  return { label: 'p4rt target', address: target.address, pid: target.pid, path: '/p4.v1.P4Runtime/Capabilities', probe: p4rtProbe(target.address), output: () => target.output };
}

/**
 * The CNI backend listener (cni-server-process.ts) as a fuzz target.
 *
 * @example
 * const report = await runHttp2Fuzz({ target: cniFuzzTarget(await startCniServerProcess({ socketPath })), seed: 1, rounds: 3 });
 */
export function cniFuzzTarget(server: CniServerProcess): Http2FuzzTarget {
  return {
    label: 'cni backend',
    address: `unix://${server.socketPath}`,
    pid: server.pid,
    path: '/infra.v1.CniBackend/Check',
    probe: cniProbe(server.socketPath),
    output: () => server.output,
  };
}
