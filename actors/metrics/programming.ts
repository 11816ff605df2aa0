/**
 * Network programming latency, the Kubernetes SLI (kube-proxy's
 * network_programming_duration_seconds): from a change reaching the manager to its entries being
 * written to the target.
 *
 * Where the clock starts: when the manager's bus handler receives the change request
 * (service.upsert / service.delete, pod.add / pod.delete, host.setup). That is the honest start
 * inside our processes: the agent's observation time (an EndpointSlice's change as the informer
 * saw it) lives on another host's clock in split mode, and a skew between host and ACC would be
 * added to every sample unnoticed. What happens before — the API server, the watch, the agent's
 * debounce of a burst into one request — is not in this histogram; the agent's
 * `bus_request_duration_seconds{op="manager.service.upsert"}` shows the bus leg.
 *
 * Where it stops: when the session has written every entry of a plan that includes the change.
 * The store answers each change with the intent revision it is part of; the session tells, after
 * each sync or reconcile, the revision its plan was taken at, and everything answered at or
 * below it is in the data plane. A change that renders to no entry (a no-op) counts as soon as
 * the revision it was answered with is programmed. Both ends are read on the manager's monotonic
 * clock. Refused changes are not counted (nothing to program).
 *
 * @example
 * const tracker = new ProgrammingTracker(histogram, performance.now.bind(performance));
 * const t0 = tracker.now(); … tracker.answered('service', reply.revision, t0);
 * tracker.programmed(plannedRevision); // observes every change answered at or below it
 */
import { Histogram, type Registry } from 'prom-client';
import { BUCKETS, monotonicMs, PREFIX, type Stopwatch } from './registry.js';

export const PROGRAMMED_OBJECTS = ['service', 'pod', 'host'] as const;
export type ProgrammedObject = (typeof PROGRAMMED_OBJECTS)[number];

/** Changes kept waiting at most; beyond, the oldest are dropped (a session that never programs). */
const MAX_PENDING = 100_000;

export function programmingHistogram(registry: Registry): Histogram<'object'> {
  const h = new Histogram({
    name: `${PREFIX}network_programming_duration_seconds`,
    help: 'Network programming latency (the Kubernetes SLI): from the manager receiving a change (object: service = a Service or its endpoints; pod; host) to the target acknowledging the writes of a plan that includes it. The clock starts on the manager, not at the agent\'s observation (no cross-host clock skew); API server, watch and agent debounce are not included.',
    labelNames: ['object'],
    buckets: [...BUCKETS.fast],
    registers: [registry],
  });
  for (const object of PROGRAMMED_OBJECTS) h.zero({ object });
  return h;
}

export class ProgrammingTracker {
  /** Pending changes, in answer order: revision, start (ms), object index. */
  private revisions: number[] = [];
  private starts: number[] = [];
  private objects: number[] = [];
  private programmedRevision = -1;
  private dropped = 0;
  private readonly observe: ((seconds: number) => void)[];

  constructor(
    histogram: Histogram<'object'>,
    readonly now: Stopwatch = monotonicMs,
  ) {
    this.observe = PROGRAMMED_OBJECTS.map((object) => {
      const child = histogram.labels({ object });
      return (s: number) => child.observe(s);
    });
  }

  /** A change received at `startedMs` (this.now()) was answered with `revision`. */
  answered(object: ProgrammedObject, revision: number, startedMs: number): void {
    const index = PROGRAMMED_OBJECTS.indexOf(object);
    if (revision <= this.programmedRevision) {
      this.observe[index]!((this.now() - startedMs) / 1000);
      return;
    }
    if (this.revisions.length >= MAX_PENDING) {
      this.revisions.shift();
      this.starts.shift();
      this.objects.shift();
      this.dropped++;
    }
    this.revisions.push(revision);
    this.starts.push(startedMs);
    this.objects.push(index);
  }

  /** Every change answered with a revision ≤ `revision` is now written to the target. */
  programmed(revision: number): void {
    if (revision > this.programmedRevision) this.programmedRevision = revision;
    if (this.revisions.length === 0) return;
    const now = this.now();
    let kept = 0;
    for (let i = 0; i < this.revisions.length; i++) {
      if (this.revisions[i]! <= revision) {
        this.observe[this.objects[i]!]!((now - this.starts[i]!) / 1000);
        continue;
      }
      this.revisions[kept] = this.revisions[i]!;
      this.starts[kept] = this.starts[i]!;
      this.objects[kept] = this.objects[i]!;
      kept++;
    }
    this.revisions.length = kept;
    this.starts.length = kept;
    this.objects.length = kept;
  }

  /** Changes answered but not yet programmed, and those dropped past the bound. */
  get pending(): { readonly waiting: number; readonly dropped: number } {
    return { waiting: this.revisions.length, dropped: this.dropped };
  }
}
