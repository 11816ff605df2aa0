/**
 * What the simulator hands the report (html.ts renderReport): one run — its seed, mode, nodes and
 * duration, the faults as scheduled and applied, each time a node was seen converged, the network
 * programming latencies, supervisor restarts per actor kind, the invariants' verdicts, and the
 * command that replays the run. Times are seconds from the start of the run.
 *
 * @example
 * const input: ReportInput = {
 *   title: 'simulate seed 7', seed: 7, mode: 'process', nodes: ['node-1'], durationS: 60,
 *   faults: [{ node: 'node-1', kind: 'kill-manager', startS: 12 }],
 *   convergence: [{ node: 'node-1', atS: 14.2, afterFaultS: 2.2 }],
 *   programmingLatencyMs: [2.1, 3.4], restarts: [{ actorKind: 'session', restarts: 1, escalations: 0 }],
 *   invariants: [{ name: 'one leader', kind: 'safety', ok: true, violations: [] }],
 *   replayCommand: 'npm run simulate -- --seed 7 --nodes 1 --duration 60 --faults all',
 * };
 */
export interface ReportInput {
  readonly title: string;
  readonly seed: number;
  readonly mode: 'process' | 'inproc';
  readonly nodes: readonly string[];
  readonly durationS: number;
  /** Faults as scheduled and applied; endS undefined = instantaneous (e.g. kill -9). */
  readonly faults: readonly { readonly node: string; readonly kind: string; readonly startS: number; readonly endS?: number; readonly detail?: string }[];
  /** Each time a node was seen converged (pipeline traced correct), and how long after the last fault touching it. */
  readonly convergence: readonly { readonly node: string; readonly atS: number; readonly afterFaultS?: number }[];
  /** Network programming latencies observed (change → entries written), ms. */
  readonly programmingLatencyMs: readonly number[];
  readonly restarts: readonly { readonly actorKind: string; readonly restarts: number; readonly escalations: number }[];
  readonly invariants: readonly {
    readonly name: string;
    readonly kind: 'safety' | 'liveness';
    readonly ok: boolean;
    readonly violations: readonly { readonly atS: number; readonly node?: string; readonly detail: string }[];
  }[];
  readonly replayCommand: string;
}
