/**
 * Applies the plan's fault schedule to the cluster, each at its time (through an applier: the
 * process mode's in process-faults.ts, the in-process mode's in simulations/inproc), and heals each lasting one
 * when its window ends (fault-kinds.ts lists what each kind does). Every fault applied and healed
 * is in the event log and in `applied` for the report; a fault that could not be applied (its
 * process was down, a knob refused) is logged with the reason and still reported, marked.
 *
 * `heal()` ends every fault still on (SIGCONT, partitions lifted, message and write faults off,
 * the disk emptied): called at the end of the schedule and before the cluster stops.
 *
 * @example
 * const faults = new FaultRunner({ apply: processFaultApplier({ cluster, checkers }), nodes, log, onTouched });
 * await faults.run(plan.faults, startedAtMs);
 */
import { systemClock, type Clock } from '../../core/clock.js';
import type { EventLog } from './event-log.js';
import { CLUSTER } from './fault-kinds.js';
import type { FaultEvent } from './plan-types.js';

export interface AppliedFault {
  readonly node: string;
  readonly kind: string;
  readonly startS: number;
  endS?: number;
  detail: string;
}

/** Ends a lasting fault; a string says what could not be undone. */
export type Heal = () => Promise<string | void>;

/** What applying one fault did: how to end it (lasting faults) and a note for the log. */
export interface FaultOutcome {
  readonly heal?: Heal;
  readonly note?: string;
}

/** Applies one fault to a cluster (process-faults.ts for real processes; the in-process mode has its own). */
export type FaultApplier = (fault: FaultEvent) => Promise<FaultOutcome>;

export interface FaultDeps {
  readonly apply: FaultApplier;
  readonly nodes: readonly string[];
  readonly log: EventLog;
  /** A fault started or ended on these nodes (all of them for a cluster fault). */
  readonly onTouched: (nodes: readonly string[]) => void;
  /** The run's clock; the system clock by default. */
  readonly clock?: Clock;
}

export class FaultRunner {
  readonly applied: AppliedFault[] = [];
  private readonly active = new Map<AppliedFault, Heal>();
  private readonly running = new Set<Promise<void>>();
  private readonly clock: Clock;

  constructor(private readonly d: FaultDeps) {
    this.clock = d.clock ?? systemClock;
  }

  /** Applies every fault at its time; resolves when the last one has healed. */
  async run(faults: readonly FaultEvent[], startedAtMs: number): Promise<void> {
    for (const f of faults) {
      const wait = startedAtMs + f.atMs - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait);
      const p = this.one(f, startedAtMs).finally(() => this.running.delete(p));
      this.running.add(p);
    }
    await Promise.all([...this.running]);
  }

  /** Ends every fault still on. */
  async heal(): Promise<void> {
    await Promise.all([...this.active.entries()].map(([a, h]) => this.end(a, h)));
  }

  private touched(node: string): string[] {
    return node === CLUSTER ? [...this.d.nodes] : [node];
  }

  private async one(f: FaultEvent, startedAtMs: number): Promise<void> {
    const applied: AppliedFault = { node: f.node, kind: f.kind, startS: this.d.log.seconds(), detail: describe(f.detail) };
    this.applied.push(applied);
    this.d.onTouched(this.touched(f.node));
    let heal: Heal | undefined;
    try {
      const r = await this.d.apply(f);
      heal = r.heal;
      if (r.note) applied.detail = [applied.detail, r.note].filter(Boolean).join(', ');
      this.d.log.write('fault.start', { node: f.node, kind: f.kind, durationMs: f.durationMs, detail: f.detail, note: r.note });
    } catch (e) {
      applied.detail = [applied.detail, `not applied: ${(e as Error).message}`].filter(Boolean).join(', ');
      this.d.log.write('fault.failed', { node: f.node, kind: f.kind, error: (e as Error).message });
    }
    if (f.durationMs === 0 || !heal) return;
    this.active.set(applied, heal);
    const wait = startedAtMs + f.atMs + f.durationMs - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    await this.end(applied, heal);
  }

  private async end(applied: AppliedFault, heal: Heal): Promise<void> {
    if (!this.active.delete(applied)) return;
    try {
      await heal();
    } catch (e) {
      this.d.log.write('fault.heal.failed', { node: applied.node, kind: applied.kind, error: (e as Error).message });
    }
    applied.endS = this.d.log.seconds();
    this.d.onTouched(this.touched(applied.node));
    this.d.log.write('fault.end', { node: applied.node, kind: applied.kind });
  }
}

function describe(detail: Readonly<Record<string, string | number>>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
