/**
 * Fuzzes live processes over the bus. For every target subject it sends random byte strings and
 * structurally malformed protobuf messages, interleaved with valid probes that must keep
 * succeeding. The oracle is exact: the same codec the server uses predicts, for each input,
 * whether it is a valid request and, if not, which typed error code must come back.
 *
 * Inputs the codec accepts (legal protobuf such as unknown fields) are not sent: they are valid
 * requests, not malformed ones, and could change state on purpose.
 *
 * @example
 * const report = await runBusFuzz({ bus, targets, seed: 1, randomCases: 1000, malformedCases: 1000 });
 * expect(report.failures).to.deep.equal([]);
 */
import type { Bus } from '../../messages/bus.js';
import { seededRandom } from '../../core/random.js';
import { malformedCases, type MalformedKind } from './malformed.js';
import { randomByteStrings } from './random-bytes.js';
import { otherTypeSamples, type FuzzTarget } from './bus-targets.js';

export interface BusFuzzOptions {
  readonly bus: Bus;
  readonly targets: readonly FuzzTarget[];
  readonly seed: number;
  /** Random byte strings per target. */
  readonly randomCases: number;
  /** Malformed protobuf messages per target. */
  readonly malformedCases: number;
  /** Send a valid probe after every this many cases. Default 10. */
  readonly probeEvery?: number;
  /** Requests in flight at once. Default 32. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** Longest random byte string. Default 2048. */
  readonly maxRandomBytes?: number;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

export interface TargetReport {
  sent: number;
  /** Malformed inputs answered with exactly the predicted typed error. */
  typedErrors: number;
  /** Inputs the codec accepts: valid requests, not sent. */
  skippedValid: number;
  /** Inputs the NATS client refused to send (over the server's max_payload). */
  refusedByClient: number;
  probesOk: number;
  byCode: Record<string, number>;
  byKind: Partial<Record<MalformedKind | 'random', number>>;
}

export interface FuzzFailure {
  readonly target: string;
  readonly input: string;
  readonly expected: string;
  readonly got: string;
  /** The input's bytes (not for a failed probe), so the finding can be replayed and minimised. */
  readonly bytes?: Uint8Array;
  readonly kind?: MalformedKind | 'random';
}

export interface BusFuzzReport {
  seed: number;
  targets: Record<string, TargetReport>;
  /** The first failures, for the report (at most 50). */
  failures: FuzzFailure[];
  failureCount: number;
  sent: number;
  probes: number;
  durationMs: number;
}

interface Input {
  readonly bytes: Uint8Array;
  readonly what: string;
  readonly kind: MalformedKind | 'random';
}

const MAX_FAILURES_KEPT = 50;

export async function runBusFuzz(options: BusFuzzOptions): Promise<BusFuzzReport> {
  const started = Date.now();
  const report: BusFuzzReport = { seed: options.seed, targets: {}, failures: [], failureCount: 0, sent: 0, probes: 0, durationMs: 0 };
  const others = otherTypeSamples(options.targets);
  for (const [i, target] of options.targets.entries()) {
    const stats: TargetReport = { sent: 0, typedErrors: 0, skippedValid: 0, refusedByClient: 0, probesOk: 0, byCode: {}, byKind: {} };
    report.targets[target.label] = stats;
    const inputs = targetInputs(target, options, others, options.seed * 1000 + i);
    await runTarget(target, inputs, stats, report, options);
  }
  return { ...report, durationMs: Date.now() - started };
}

function* targetInputs(target: FuzzTarget, options: BusFuzzOptions, others: Uint8Array[], seed: number): Generator<Input> {
  const random = seededRandom(seed);
  const strings = randomByteStrings(random, options.randomCases, options.maxRandomBytes ?? 2048);
  const malformed = malformedCases({
    type: target.type,
    valid: target.valid,
    random,
    count: options.malformedCases,
    maxBytes: target.method?.request.limits.maxBytes ?? 65536,
    others: others.filter((o) => !target.valid.includes(o)),
  });
  // Interleave the two kinds of input so neither runs against a warmed-up or tired server alone.
  let n = 0;
  for (const c of malformed) {
    yield { bytes: c.bytes, what: `malformed #${c.index} ${c.kind}: ${c.note}`, kind: c.kind };
    const s = strings[n];
    if (s) yield { bytes: s, what: `random #${n} (${s.length} bytes)`, kind: 'random' };
    n++;
  }
  for (; n < strings.length; n++) yield { bytes: strings[n]!, what: `random #${n} (${strings[n]!.length} bytes)`, kind: 'random' };
}

async function runTarget(
  target: FuzzTarget,
  inputs: Iterable<Input>,
  stats: TargetReport,
  report: BusFuzzReport,
  options: BusFuzzOptions,
): Promise<void> {
  const probeEvery = options.probeEvery ?? 10;
  const total = options.randomCases + options.malformedCases;
  const inFlight = new Set<Promise<void>>();
  let count = 0;
  const fail = (input: string, expected: string, got: string, sent?: Input): void => {
    report.failureCount++;
    if (report.failures.length < MAX_FAILURES_KEPT) report.failures.push({ target: target.label, input, expected, got, ...(sent ? { bytes: sent.bytes, kind: sent.kind } : {}) });
  };
  const launch = (p: Promise<void>): void => {
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  for (const input of inputs) {
    launch(sendOne(target, input, stats, options, fail));
    report.sent++;
    if (++count % probeEvery === 0) {
      report.probes++;
      launch(probe(target, stats, options, fail));
    }
    if (inFlight.size >= (options.concurrency ?? 32)) await Promise.race(inFlight);
    if (count % 500 === 0) options.onProgress?.(target.label, count, total);
  }
  await Promise.all(inFlight);
  options.onProgress?.(target.label, count, total);
}

async function sendOne(
  target: FuzzTarget,
  input: Input,
  stats: TargetReport,
  options: BusFuzzOptions,
  fail: (input: string, expected: string, got: string, sent?: Input) => void,
): Promise<void> {
  const predicted = target.method ? target.method.request.decode(input.bytes) : undefined;
  if (predicted?.ok) {
    stats.skippedValid++;
    return;
  }
  const expected = predicted ? predicted.error.code : 'UNIMPLEMENTED';
  stats.sent++;
  stats.byKind[input.kind] = (stats.byKind[input.kind] ?? 0) + 1;
  const reply = await options.bus.requestBytes(target.subject, input.bytes, { timeoutMs: options.timeoutMs ?? 5000 });
  if (reply.ok) return fail(input.what, expected, 'a success reply', input);
  const e = reply.error;
  if (e.name !== 'RemoteError') {
    if (input.bytes.length > 1024 * 1024 && e.code === 'UNAVAILABLE') {
      stats.refusedByClient++;
      return;
    }
    return fail(input.what, expected, `${e.name} ${e.code}: ${e.message}`, input);
  }
  stats.byCode[e.code] = (stats.byCode[e.code] ?? 0) + 1;
  if (e.code !== expected) return fail(input.what, expected, `${e.code}: ${e.message}`, input);
  stats.typedErrors++;
}

async function probe(
  target: FuzzTarget,
  stats: TargetReport,
  options: BusFuzzOptions,
  fail: (input: string, expected: string, got: string) => void,
): Promise<void> {
  const reply = await options.bus.requestBytes(target.subject, target.probe, { timeoutMs: options.timeoutMs ?? 5000 });
  if (!reply.ok) return fail('valid probe', 'success', `${reply.error.code}: ${reply.error.message}`);
  stats.probesOk++;
}
