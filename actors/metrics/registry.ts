/**
 * What every metric of ours shares: one prom-client Registry per process (never the library's
 * global one, so tests can run several processes' worth in one), the `infra_offload_` prefix,
 * bucket layouts, and the monotonic stopwatch durations are measured on.
 *
 * Durations use `performance.now()` (monotonic, sub-millisecond), not the injected wall clock:
 * a latency must not jump when NTP steps the clock, and the injected clock's `now()` has
 * millisecond resolution, too coarse for a 2 ms programming latency. Tests inject a stopwatch.
 *
 * @example
 * const registry = newRegistry({ processMetrics: true });
 * const c = new Counter({ name: `${PREFIX}things_total`, help: '…', registers: [registry] });
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export const PREFIX = 'infra_offload_';

/** Milliseconds on a monotonic clock. */
export type Stopwatch = () => number;

export const monotonicMs: Stopwatch = () => performance.now();

/** Histogram buckets, in seconds. */
export const BUCKETS = {
  /** Bus round trips and per-change programming: 0.5 ms … 10 s. */
  fast: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  /** A CNI request (a namespace move costs the kernel 15–25 ms): 5 ms … 30 s. */
  cni: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  /** A full reconcile (read back everything, write the difference): 10 ms … 5 min. */
  slow: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
} as const;

export interface RegistryOptions {
  /**
   * Also export Node's process metrics (`process_start_time_seconds`, CPU, memory, event-loop
   * lag, GC; the standard unprefixed names). On in the processes; off in tests that build many
   * registries (each would add its own event-loop monitor).
   */
  readonly processMetrics?: boolean;
}

export function newRegistry(options: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/** google.rpc.Code names (P4Runtime and gRPC share them), for low-cardinality `code` labels. */
export const RPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** The name of an rpc code; anything out of range is UNKNOWN (a label never takes a raw number). */
export function rpcCodeName(code: number): string {
  return RPC_CODE_NAMES[code] ?? 'UNKNOWN';
}

/**
 * A label value from a small set, or `other`: what keeps a label low-cardinality when its value
 * comes from outside (a subject, an error code). Remembers at most `limit` distinct values.
 */
export class LabelSet {
  private readonly seen = new Set<string>();
  constructor(private readonly limit: number) {}

  of(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return 'other';
    this.seen.add(value);
    return value;
  }
}
