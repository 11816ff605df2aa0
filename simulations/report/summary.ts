/**
 * The figures of a run the report states in words beside its plots: percentiles (nearest rank),
 * the verdict, violation counts, convergence per node.
 *
 * @example
 * percentile([1, 2, 3, 4], 0.5); // 2
 * summarise(input).pass;          // every invariant held
 */
import type { ReportInput } from './report-input.js';

/** Nearest-rank percentile of `values` (q in 0..1); undefined when there are none. */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export interface NodeConvergence {
  readonly node: string;
  /** Times the node was seen converged. */
  readonly times: number;
  readonly lastAtS: number | undefined;
  /** The longest time from a fault to convergence. */
  readonly worstAfterFaultS: number | undefined;
}

export interface RunSummary {
  readonly pass: boolean;
  readonly violations: number;
  readonly failedInvariants: number;
  readonly latencyP50Ms: number | undefined;
  readonly latencyP99Ms: number | undefined;
  readonly convergeP50S: number | undefined;
  readonly convergeP99S: number | undefined;
  readonly restarts: number;
  readonly escalations: number;
  /** Nodes in input order, then any node only the faults or convergence name. */
  readonly nodes: readonly NodeConvergence[];
}

export function summarise(input: ReportInput): RunSummary {
  const after = input.convergence.flatMap((c) => (c.afterFaultS === undefined ? [] : [c.afterFaultS]));
  const names = allNodes(input);
  const nodes = names.map((node): NodeConvergence => {
    const seen = input.convergence.filter((c) => c.node === node);
    const afters = seen.flatMap((c) => (c.afterFaultS === undefined ? [] : [c.afterFaultS]));
    return {
      node,
      times: seen.length,
      lastAtS: max(seen.map((c) => c.atS)),
      worstAfterFaultS: max(afters),
    };
  });
  return {
    pass: input.invariants.every((i) => i.ok),
    violations: input.invariants.reduce((n, i) => n + i.violations.length, 0),
    failedInvariants: input.invariants.filter((i) => !i.ok).length,
    latencyP50Ms: percentile(input.programmingLatencyMs, 0.5),
    latencyP99Ms: percentile(input.programmingLatencyMs, 0.99),
    convergeP50S: percentile(after, 0.5),
    convergeP99S: percentile(after, 0.99),
    restarts: input.restarts.reduce((n, r) => n + r.restarts, 0),
    escalations: input.restarts.reduce((n, r) => n + r.escalations, 0),
    nodes,
  };
}

function max(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((m, v) => (v > m ? v : m), -Infinity);
}

/** Every node the run names, in the input's order first. */
export function allNodes(input: ReportInput): string[] {
  const names = [...input.nodes];
  const known = new Set(names);
  for (const n of [...input.faults.map((f) => f.node), ...input.convergence.map((c) => c.node)]) {
    if (!known.has(n)) {
      known.add(n);
      names.push(n);
    }
  }
  return names;
}
