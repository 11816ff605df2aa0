/**
 * Convergence, watched and judged: while the run goes, each node's pipeline is traced against its
 * truth every couple of seconds (PipelineChecker: every pod reaches every pod, every VIP exactly
 * its endpoints, removed things get nothing, tracked flows keep their endpoint) and every pass is
 * recorded with how long after the last fault that touched the node it came. Failing checks
 * while changes and faults are under way are expected and not recorded.
 *
 * Then the liveness judgement: once the faults have stopped and the workload is over, every node
 * must pass within the bound (30 s). A node that does not is a `convergence` violation (with the
 * first failures), and its failures about tracked connections are `flows-survive` violations.
 *
 * @example
 * const conv = new ConvergenceMonitor({ nodes, truth, checkers, log, book });
 * conv.start();
 * conv.touched(['node-1']);          // a fault started or ended there
 * await conv.judge(Date.now() + 30_000);
 */
import { systemClock, type Clock } from '../../core/clock.js';
import type { EventLog } from './event-log.js';
import type { InvariantBook } from './invariants.js';
import type { NodeCheckers } from './node-checkers.js';
import type { SimTruth } from './sim-truth.js';

export interface ConvergenceRecord {
  readonly node: string;
  readonly atS: number;
  readonly afterFaultS?: number;
}

export interface ConvergenceDeps {
  readonly nodes: readonly { readonly name: string }[];
  readonly truth: SimTruth;
  readonly checkers: NodeCheckers;
  readonly log: EventLog;
  readonly book: InvariantBook;
  /** Between two checks of one node while the run goes. */
  readonly intervalMs?: number;
  /** The node's processes' last warnings, for the event log of a node that did not converge. */
  readonly tails?: (node: string) => readonly string[];
  /** Time (the in-process simulator's injected clock); the system clock by default. */
  readonly clock?: Clock;
}

const FLOW_FAILURE = /connection .* moved|not translated back|still reaches removed|reverse entry of removed|tracked connection got through/;

export class ConvergenceMonitor {
  readonly records: ConvergenceRecord[] = [];
  /** Seconds from a fault touching a node to the node's next pass. */
  readonly durations: number[] = [];
  private readonly lastTouch = new Map<string, number>();
  /** Nodes touched since their last pass (the next pass closes a convergence duration). */
  private readonly open = new Set<string>();
  private stopped = true;
  private loops: Promise<void>[] = [];
  private lastFailures = new Map<string, readonly string[]>();
  checks = 0;

  private readonly clock: Clock;

  constructor(private readonly d: ConvergenceDeps) {
    this.clock = d.clock ?? systemClock;
  }

  /** A fault started or ended on these nodes. */
  touched(nodes: readonly string[]): void {
    const now = this.clock.now();
    for (const n of nodes) {
      this.lastTouch.set(n, now);
      this.open.add(n);
    }
  }

  start(): void {
    this.stopped = false;
    const interval = this.d.intervalMs ?? 2000;
    this.loops = this.d.nodes.map(async (n, i) => {
      await this.clock.sleep((interval * i) / Math.max(1, this.d.nodes.length));
      while (!this.stopped) {
        await this.checkOnce(n.name);
        await this.clock.sleep(interval);
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  /** One trace of the node against its truth now; true when it passed. */
  private async checkOnce(node: string): Promise<boolean> {
    const truth = this.d.truth.fullState(node);
    let failures: readonly string[];
    try {
      failures = (await this.d.checkers.use(node, (c) => c.check(truth))).failures;
    } catch (e) {
      failures = [`the trace failed: ${(e as Error).message}`];
    }
    this.checks++;
    this.lastFailures.set(node, failures);
    if (failures.length > 0) return false;
    const now = this.clock.now();
    const touch = this.lastTouch.get(node);
    const afterFaultS = touch === undefined ? undefined : Math.round(now - touch) / 1000;
    this.records.push({ node, atS: this.d.log.seconds(now), ...(afterFaultS !== undefined ? { afterFaultS } : {}) });
    if (this.open.delete(node) && afterFaultS !== undefined) {
      this.durations.push(afterFaultS);
      this.d.log.write('converged', { node, afterFaultS, pods: truth.pods.length, services: truth.services.length });
    }
    return true;
  }

  /**
   * Liveness: every node must pass by `deadline` (ms on the clock), checked over and over; the
   * workload and the faults are over. Returns the nodes that did not.
   */
  async judge(deadline: number): Promise<string[]> {
    await this.stop();
    const pending = new Set(this.d.nodes.map((n) => n.name));
    while (pending.size > 0 && this.clock.now() < deadline) {
      await Promise.all(
        [...pending].map(async (node) => {
          if (await this.checkOnce(node)) pending.delete(node);
        }),
      );
      if (pending.size > 0) await this.clock.sleep(500);
    }
    for (const node of pending) {
      const failures = this.lastFailures.get(node) ?? ['no check completed'];
      const flows = failures.filter((f) => FLOW_FAILURE.test(f));
      const other = failures.filter((f) => !FLOW_FAILURE.test(f));
      const at = this.d.log.seconds();
      if (other.length > 0 || flows.length === 0) this.d.book.violate('convergence', at, node, `not converged in time: ${other.slice(0, 5).join('; ')}${other.length > 5 ? ` (+${other.length - 5} more)` : ''}`);
      for (const f of flows.slice(0, 5)) this.d.book.violate('flows-survive', at, node, f);
      this.d.log.write('not.converged', { node, failures: failures.slice(0, 20), warnings: this.d.tails?.(node) ?? [] });
    }
    return [...pending];
  }
}
