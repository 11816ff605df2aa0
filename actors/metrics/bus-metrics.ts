/**
 * The bus as a process sees it: reconnects, disconnects, and the latency of every typed request
 * it sends, by operation and result. The operation is the subject without `infra.v1.<node>.`
 * (`manager.service.upsert`, `agent.sync`, `ctl.manager.state`): the node is the same for every
 * request of a process, so it adds nothing but cardinality. At most 64 operations are named;
 * anything beyond (or not under `infra.v1.`) is `other`.
 *
 * @example
 * const metrics = new BusMetrics(registry);
 * bus.observe(metrics);
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { BusObserver } from '../../messages/bus.js';
import { BUCKETS, LabelSet, PREFIX } from './registry.js';

/** `infra.v1.<node>.manager.service.upsert` → `manager.service.upsert`; `other` for foreign subjects. */
export function subjectOp(subject: string): string {
  if (!subject.startsWith('infra.v1.')) return 'other';
  const node = subject.indexOf('.', 9);
  return node < 0 || node === subject.length - 1 ? 'other' : subject.slice(node + 1);
}

type Observe = (seconds: number) => void;

export class BusMetrics implements BusObserver {
  private readonly reconnects: Counter;
  private readonly disconnects: Counter;
  private readonly requests: Histogram<'op' | 'result'>;
  private readonly ops = new LabelSet(64);
  private readonly results = new LabelSet(32);
  /** subject → result → the labelled child's observe: one map lookup per request, no label hashing of ours. */
  private readonly children = new Map<string, Map<string, Observe>>();

  constructor(registry: Registry) {
    this.reconnects = new Counter({
      name: `${PREFIX}bus_reconnects_total`,
      help: 'Times the NATS connection came back after a disconnect (the client reconnects on its own; subscriptions resume).',
      registers: [registry],
    });
    this.disconnects = new Counter({
      name: `${PREFIX}bus_disconnects_total`,
      help: 'Times the NATS connection was lost.',
      registers: [registry],
    });
    this.requests = new Histogram({
      name: `${PREFIX}bus_request_duration_seconds`,
      help: 'Typed bus requests this process sent, from send to reply, by operation (the subject after infra.v1.<node>.) and result (ok or the typed error code, e.g. TIMEOUT, NO_RESPONDERS, UNAVAILABLE).',
      labelNames: ['op', 'result'],
      buckets: [...BUCKETS.fast],
      registers: [registry],
    });
  }

  reconnected(): void {
    this.reconnects.inc();
  }

  disconnected(): void {
    this.disconnects.inc();
  }

  requested(subject: string, seconds: number, code: string): void {
    const result = code === '' ? 'ok' : code;
    let bySubject = this.children.get(subject);
    if (!bySubject) {
      // Subjects are per node and per op: a process sends few distinct ones. A flood of foreign
      // subjects (a tool) is bounded by the op label set, and this cache with it.
      bySubject = new Map();
      if (this.children.size < 256) this.children.set(subject, bySubject);
    }
    let observe = bySubject.get(result);
    if (!observe) {
      const child = this.requests.labels({ op: this.ops.of(subjectOp(subject)), result: this.results.of(result) });
      observe = (s) => child.observe(s);
      bySubject.set(result, observe);
    }
    observe(seconds);
  }
}
