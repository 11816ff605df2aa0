/**
 * Actor restarts, crashes and escalations by kind, from the supervision tree's observer hook
 * (SupervisorOptions.observer on the root: it sees every supervisor below it). The tree maps
 * its child ids to kinds (a pod actor's id names the pod; its kind is `pod`), so the labels stay
 * few whatever runs.
 *
 * - a crash is a child that ended with an error (the root cause);
 * - a restart is a child started again by its supervisor — with rest_for_one a crash of `bus`
 *   restarts everything after it, so one crash is several restarts;
 * - an escalation is a supervisor giving up (restart intensity exceeded): its parent sees it as a
 *   crash of that supervisor; at the root the process exits 1 for systemd or Kubernetes.
 *
 * @example
 * const supervision = new SupervisionMetrics(registry);
 * new Supervisor({ id: 'manager', …, observer: supervision.observer(managerChildKind) });
 */
import { Counter, type Registry } from 'prom-client';
import type { SupervisorEvent, SupervisorEventListener } from '../../supervisors/index.js';
import { PREFIX } from './registry.js';

/** The kind of a child (or, for an escalation, of the supervisor that gave up). */
export type KindOf = (supervisor: string, childId: string) => string;

export class SupervisionMetrics {
  private readonly restarts: Counter<'kind'>;
  private readonly crashes: Counter<'kind'>;
  private readonly escalations: Counter<'kind'>;

  constructor(registry: Registry) {
    this.restarts = new Counter({
      name: `${PREFIX}actor_restarts_total`,
      help: 'Supervised actors started again by their supervisor, by kind (rest_for_one restarts the failed child and every child after it).',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.crashes = new Counter({
      name: `${PREFIX}actor_crashes_total`,
      help: 'Supervised actors (or child supervisors) that ended with an error, by kind: the causes of the restarts.',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.escalations = new Counter({
      name: `${PREFIX}actor_escalations_total`,
      help: 'Supervisors that gave up (more restarts than their intensity allows within their period), by the kind of the supervisor; at the root the process exits 1.',
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  /** The listener to give the root supervisor (`observer`), mapping ids to kinds with `kindOf`. */
  observer(kindOf: KindOf): SupervisorEventListener {
    return (event: SupervisorEvent) => {
      switch (event.type) {
        case 'child_restarted':
          this.restarts.inc({ kind: kindOf(event.supervisor, event.childId) });
          return;
        case 'child_exited':
          if (event.exit === 'error') this.crashes.inc({ kind: kindOf(event.supervisor, event.childId) });
          return;
        case 'escalated':
          this.escalations.inc({ kind: kindOf('', event.supervisor) });
          return;
        default:
          return;
      }
    };
  }

  /** Declares the series at 0 (children's restarts and crashes, supervisors' escalations), so a dashboard sees them before anything happens. */
  declare(kinds: readonly string[], supervisors: readonly string[]): void {
    for (const kind of kinds) {
      this.restarts.inc({ kind }, 0);
      this.crashes.inc({ kind }, 0);
    }
    for (const kind of supervisors) this.escalations.inc({ kind }, 0);
  }
}

/**
 * A KindOf over a fixed list of ids: known ids are their own kind, children of `dynamicUnder`
 * supervisors take its kind, anything else is `other`.
 *
 * @example
 * const kindOf = kindsOf(['bus', 'intent', 'pods'], { pods: 'pod' });
 * kindOf('pods', 'pod-abc123-eth0'); // 'pod'
 */
export function kindsOf(known: readonly string[], dynamicUnder: Readonly<Record<string, string>> = {}): KindOf {
  const ids = new Set(known);
  return (supervisor, childId) => {
    const dynamic = dynamicUnder[supervisor];
    if (dynamic !== undefined) return dynamic;
    return ids.has(childId) ? childId : 'other';
  };
}
