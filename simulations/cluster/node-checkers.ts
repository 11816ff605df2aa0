/**
 * One PipelineChecker per node, used one call at a time (a checker keeps per-call state), and
 * replaced when the node's target restarts: a restarted target has lost its learned connections,
 * so the flows tracked until then are forgotten rather than reported as moved — "established
 * flows survive unless their endpoint died" holds for faults that leave the device's state alone;
 * a target restart wipes it by definition (it is recorded in the event log).
 *
 * @example
 * const checkers = new NodeCheckers(cluster.nodes, seed);
 * const report = await checkers.use('node-1', (c) => c.check(truth.fullState('node-1')));
 */
import { seededRandom } from '../../core/random.js';
import { PipelineChecker, type PacketTracer } from '../pipeline-check.js';

/** A node as the checkers see it: its name and a way to trace packets through its target. */
export interface TracedNode {
  readonly name: string;
  readonly admin: PacketTracer;
}

export class NodeCheckers {
  private readonly checkers = new Map<string, PipelineChecker>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private generation = 0;

  constructor(
    private readonly nodes: readonly TracedNode[],
    private readonly seed: number,
  ) {
    for (const n of nodes) this.checkers.set(n.name, this.fresh(n));
  }

  private fresh(node: TracedNode): PipelineChecker {
    return new PipelineChecker(node.admin, node.name, seededRandom(this.seed * 7919 + this.generation++), 16);
  }

  /** Runs `fn` with the node's checker once no other call holds it. */
  use<T>(node: string, fn: (checker: PipelineChecker) => Promise<T>): Promise<T> {
    const previous = this.locks.get(node) ?? Promise.resolve();
    const run = previous.then(() => fn(this.checkers.get(node)!));
    this.locks.set(node, run.catch(() => undefined));
    return run;
  }

  /** Forgets the node's tracked flows (its target restarted with empty tables). */
  reset(node: string): Promise<void> {
    const n = this.nodes.find((x) => x.name === node);
    if (!n) return Promise.resolve();
    return this.use(node, () => {
      this.checkers.set(node, this.fresh(n));
      return Promise.resolve();
    });
  }

  /** Tracked long-lived flows per node (for the report). */
  flows(node: string): number {
    return this.checkers.get(node)?.stickyFlows ?? 0;
  }

  retired(node: string): number {
    return this.checkers.get(node)?.retiredChecked ?? 0;
  }
}
