/**
 * The end of a simulator run, the same in both modes: the leadership summary and every violation
 * into the event log, the last line's summary, the report's input and the result's counts.
 *
 * @example
 * const outcome = concludeRun({ mode: 'process', plan, log, book, conv, leadership, faults: faults.applied, … });
 * outcome.summary; // { simulate: 'ok', seed: 7, mode: 'process', … }
 */
import type { ReportInput } from '../report/report-input.js';
import { percentile } from '../report/summary.js';
import type { ConvergenceMonitor } from './convergence.js';
import type { EventLog } from './event-log.js';
import type { AppliedFault } from './fault-runner.js';
import type { InvariantBook } from './invariants.js';
import type { LeadershipCheck } from './leadership-check.js';
import type { SimPlan } from './plan-types.js';
import type { RestartRow } from './restarts.js';
import type { SimulateResult, SimulateSummary } from './simulate.js';
import type { WorkloadCounts } from './workload-runner.js';

export interface RunParts {
  readonly mode: SimulateSummary['mode'];
  readonly title: string;
  readonly plan: SimPlan;
  readonly log: EventLog;
  readonly book: InvariantBook;
  readonly conv: ConvergenceMonitor;
  readonly leadership: LeadershipCheck;
  readonly faults: readonly AppliedFault[];
  readonly latencies: readonly number[];
  readonly restarts: readonly RestartRow[];
  readonly workload: WorkloadCounts;
  readonly replay: string;
  /** Seconds the run covered (wall time in process mode, simulated time in-process). */
  readonly durationS: number;
  readonly wallS: number;
}

export function concludeRun(p: RunParts): Omit<SimulateResult, 'eventsFile'> {
  const { plan, log, book, conv } = p;
  log.write('leadership', { nodes: p.leadership.summary() });
  const invariants = book.results();
  for (const i of invariants) for (const v of i.violations) log.write('violation', { invariant: i.name, ...v });
  const violations = book.total;
  const p99 = percentile(conv.durations, 0.99);
  const summary: SimulateSummary = {
    simulate: violations === 0 ? 'ok' : 'fail',
    seed: plan.seed,
    mode: p.mode,
    nodes: plan.nodes.length,
    faults: p.faults.length,
    violations,
    converge_p99_s: p99 === undefined ? null : Math.round(p99 * 100) / 100,
  };
  const report: ReportInput = {
    title: p.title,
    seed: plan.seed,
    mode: p.mode,
    nodes: plan.nodes.map((n) => n.name),
    durationS: p.durationS,
    faults: p.faults.map((f) => ({ node: f.node, kind: f.kind, startS: f.startS, ...(f.endS !== undefined ? { endS: f.endS } : {}), ...(f.detail ? { detail: f.detail } : {}) })),
    convergence: conv.records,
    programmingLatencyMs: p.latencies,
    restarts: p.restarts,
    invariants,
    replayCommand: p.replay,
  };
  log.write('summary', { ...summary });
  return {
    summary,
    report,
    plan,
    violated: invariants.filter((i) => !i.ok).map((i) => i.name),
    replayCommand: p.replay,
    counts: { ops: p.workload.done, retries: p.workload.retries, checks: conv.checks, wallS: p.wallS },
  };
}
