/**
 * A process's observability: its one metrics Registry (served on GET /metrics), the metrics every
 * process has (bus, supervision), and the readiness check its tree installs (served on /readyz).
 * run-process.ts makes one per process and hands it to the tree with the other dependencies; a
 * tree built without one (tests) reports nothing.
 *
 * @example
 * const obs = new Observability({ processMetrics: true });
 * const tree = managerTree({ …deps, observability: obs });   // wires bus, supervision, session
 * await startHealth({ …, metrics: obs.registry, readiness: () => obs.readiness() });
 */
import type { Registry } from 'prom-client';
import type { Bus } from '../../messages/bus.js';
import type { ChildSpec, SupervisorEventListener } from '../../supervisors/index.js';
import { BusMetrics } from './bus-metrics.js';
import { monotonicMs, newRegistry, type RegistryOptions, type Stopwatch } from './registry.js';
import { SupervisionMetrics, type KindOf } from './supervision-metrics.js';

/** A role's answer to "should traffic or probes count on me now", with the reason when not. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not (one sentence an operator can act on). */
  readonly reason?: string;
  /** What was checked, for the /readyz body (no secrets). */
  readonly checks?: Readonly<Record<string, string | number | boolean>>;
}

export interface ObservabilityOptions extends RegistryOptions {
  /** Monotonic milliseconds for durations (tests inject one). */
  readonly stopwatch?: Stopwatch;
}

export class Observability {
  readonly registry: Registry;
  readonly stopwatch: Stopwatch;
  readonly bus: BusMetrics;
  readonly supervision: SupervisionMetrics;
  private check: (() => Readiness) | undefined;

  constructor(options: ObservabilityOptions = {}) {
    this.registry = newRegistry(options);
    this.stopwatch = options.stopwatch ?? monotonicMs;
    this.bus = new BusMetrics(this.registry);
    this.supervision = new SupervisionMetrics(this.registry);
  }

  /**
   * The root supervisor's `observer`: restarts, crashes and escalations by the kinds `kindOf`
   * names; `kinds` (children) and `supervisors` are declared at 0 up front.
   */
  supervisorObserver(kindOf: KindOf, kinds: readonly string[], supervisors: readonly string[]): SupervisorEventListener {
    this.supervision.declare(kinds, supervisors);
    return this.supervision.observer(kindOf);
  }

  /** Reports this bus's reconnects and request latencies (each new connection of the bus child). */
  observeBus(bus: Bus): void {
    bus.observe(this.bus);
  }

  /** The role's readiness check (the tree installs it once). */
  setReadiness(check: () => Readiness): void {
    this.check = check;
  }

  /** The role's readiness now; ready when no check is installed. */
  readiness(): Readiness {
    if (!this.check) return { ready: true };
    try {
      return this.check();
    } catch (e) {
      return { ready: false, reason: `readiness check failed: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}

/**
 * The bus child with its connection observed: every (re)start of the child makes a new Bus,
 * which reports to `observability` from then on. Without observability the spec is unchanged.
 *
 * @example
 * observedBusChild(busChild(refs, config, name, logs), () => refs.bus, deps.observability);
 */
export function observedBusChild(spec: ChildSpec, current: () => Bus | undefined, observability: Observability | undefined): ChildSpec {
  if (!observability) return spec;
  return {
    ...spec,
    start: async (ctx, args) => {
      const started = await spec.start(ctx, args);
      const bus = current();
      if (bus) observability.observeBus(bus);
      return started;
    },
  };
}
