/**
 * One simulator run in-process: the same plan as process mode (simulations/cluster/plan.ts), run
 * on a cluster whose every part lives in this process and reads one injected ManualClock — the
 * real manager and agent trees and the real P4 target, joined by deterministic stand-ins (an
 * in-memory NATS the real Bus wraps, an in-memory JetStream KV, a P4Runtime loopback that carries
 * the gRPC messages' bytes, an in-memory Kubernetes API, in-memory files and kernel). Nothing waits
 * for the machine: the driver advances the clock in steps and everything due runs in order, so
 * the same seed gives the same event log, byte for byte, and 100 nodes × 100 pods fit a 2-core
 * machine.
 *
 * The invariants are those of process mode, read from the in-process parts: lease records as the
 * managers write them, the targets' arbitration through an observer stream, the targets' own
 * counters, read-back over P4Runtime, the leaders' intent over the bus, the pipelines traced with
 * packets. Liveness: every node converges within CONVERGE_BOUND_MS of simulated time after the
 * faults stop and the workload ends.
 *
 * @example
 * const r = await simulateInproc({ seed: 7, nodes: 3, durationS: 20, faults: ['kill-manager'], faultsText: 'kill-manager' });
 * if (r.ok) console.log(r.value.eventLog.length, JSON.stringify(r.value.summary));
 */
import { err, ok, type Result } from '../../core/result.js';
import { ConvergenceMonitor } from '../cluster/convergence.js';
import { staleEntriesOf } from '../cluster/entries-check.js';
import { SimError } from '../cluster/errors.js';
import { EventLog } from '../cluster/event-log.js';
import type { BrokenMode } from '../cluster/broken.js';
import type { FaultKind } from '../cluster/fault-kinds.js';
import { FaultRunner } from '../cluster/fault-runner.js';
import { intentDifferences } from '../cluster/intent-check.js';
import { InvariantBook } from '../cluster/invariants.js';
import { LeadershipCheck } from '../cluster/leadership-check.js';
import { NodeCheckers } from '../cluster/node-checkers.js';
import { buildPlan } from '../cluster/plan.js';
import type { SimPlan } from '../cluster/plan-types.js';
import { concludeRun } from '../cluster/run-outcome.js';
import type { SimulateResult } from '../cluster/simulate.js';
import { SimTruth } from '../cluster/sim-truth.js';
import { WorkloadRunner } from '../cluster/workload-runner.js';
import { startInprocCluster, type InprocCluster, type InprocClusterOptions } from './inproc-cluster.js';
import { inprocFaultApplier } from './inproc-faults.js';

/** The in-process liveness bound, in simulated time (the same as process mode's). */
export const INPROC_CONVERGE_BOUND_MS = 30_000;
/** Simulated time the cluster may take to come up. */
const READY_MS = 60_000;
/** The driver's step: every timer due within it runs, in order, before the next step. */
const STEP_MS = 50;

export interface InprocOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationS: number;
  readonly faults: readonly FaultKind[];
  readonly faultsText: string;
  /** Pods each node starts with (default 4; 100 for the scale run). */
  readonly podsPerNode?: number;
  /** TAPs per agent pool (default: the smallest power of two that holds the pods). */
  readonly pool?: number;
  /** Between two convergence checks of one node while the run goes, simulated ms (default 2000; 0: only at the end). */
  readonly checkIntervalMs?: number;
  readonly onProgress?: (fraction: number, label: string) => void;
  readonly signal?: AbortSignal;
  /**
   * The planted bug this run has (for the title and the replay command only: it must be in the
   * environment, INFRA_BROKEN, when the code loads — the CLI sets it before importing).
   */
  readonly broken?: BrokenMode;
  /** Debug tracing of some processes' logs and of bus traffic (see InprocClusterOptions.trace). */
  readonly trace?: InprocClusterOptions['trace'];
}

export interface InprocResult extends SimulateResult {
  /** The whole event log (the same seed and options give the same bytes). */
  readonly eventLog: string;
  /** Simulated seconds the run covered. */
  readonly simulatedS: number;
}

export function inprocReplayCommand(o: Pick<InprocOptions, 'seed' | 'nodes' | 'durationS' | 'faultsText' | 'podsPerNode' | 'broken'>): string {
  return `npm run simulate -- --seed ${o.seed} --nodes ${o.nodes} --duration ${o.durationS} --faults ${o.faultsText} --mode inproc${o.podsPerNode ? ` --pods ${o.podsPerNode}` : ''}${o.broken ? ` --broken ${o.broken}` : ''}`;
}

/** The smallest power of two ≥ 32 that holds the pods, the gateway, the host and the margin. */
export function poolFor(podsPerNode: number): number {
  let pool = 32;
  while (pool - 8 < podsPerNode) pool *= 2;
  return pool;
}

export async function simulateInproc(o: InprocOptions): Promise<Result<InprocResult, SimError>> {
  const pods = o.podsPerNode ?? 4;
  const planned = buildPlan({ seed: o.seed, nodes: o.nodes, durationS: o.durationS, faults: o.faults, root: true, mode: 'inproc', podsPerNode: pods, pool: o.pool ?? poolFor(pods) });
  if (!planned.ok) return planned;
  const plan = planned.value;
  const wall0 = performance.now();
  o.onProgress?.(0, 'starting the cluster');
  const cluster = startInprocCluster({ plan, ...(o.trace ? { trace: o.trace } : {}) });
  const log = EventLog.memory(cluster.clock.now(), () => cluster.clock.now());
  try {
    log.write('plan', { plan, replay: inprocReplayCommand(o) });
    const up = await cluster.drive(cluster.ready(), READY_MS, STEP_MS);
    if (!up.done) throw new SimError('START_FAILED', '', `the in-process cluster was not ready after ${READY_MS / 1000} s of simulated time: ${cluster.notReady().join('; ')}`);
    return ok(await run(o, plan, cluster, log, wall0));
  } catch (e) {
    const why = e instanceof SimError ? e : new SimError('RUN_FAILED', '', (e as Error).message, { cause: e });
    return err(why);
  } finally {
    log.close();
    await cluster.stop();
  }
}

async function run(o: InprocOptions, plan: SimPlan, cluster: InprocCluster, log: EventLog, wall0: number): Promise<InprocResult> {
  const clock = cluster.clock;
  const book = new InvariantBook();
  const truth = new SimTruth(plan.nodes);
  const checkers = new NodeCheckers(cluster.workload.nodes, plan.seed);
  const leadership = new LeadershipCheck({ sources: cluster.leadership, book, log });
  const conv = new ConvergenceMonitor({
    nodes: cluster.workload.nodes,
    truth,
    checkers,
    log,
    book,
    clock,
    intervalMs: o.checkIntervalMs ?? 2000,
    tails: (node) => cluster.logs.tail(`${node}/`, 30),
  });
  const latencies: number[] = [];
  const startedAt = clock.now();
  log.restart(startedAt);
  log.write('run.start', { nodes: plan.nodes.map((n) => n.name), ops: plan.workload.length, faults: plan.faults.length });
  const retryUntil = startedAt + plan.durationMs + INPROC_CONVERGE_BOUND_MS / 2;
  const workload = new WorkloadRunner({
    cluster: cluster.workload,
    truth,
    log,
    checkers,
    clock,
    retryUntil: () => retryUntil,
    onLatency: (ms, what) => {
      latencies.push(ms);
      log.write('latency', { what, ms });
    },
    onPodUp: (node, containerId) => {
      const pod = truth.pod(containerId);
      if (pod) cluster.interfaces.podUp(node, pod, truth.podsOf(node), book, log);
    },
    onAbandoned: (what, node) => book.violate('convergence', log.seconds(), node, what),
  });
  const faults = new FaultRunner({
    apply: inprocFaultApplier({
      cluster,
      onTargetWiped: (node) => checkers.reset(node),
      onLeaseLost: (node) => leadership.leaseLost(node),
      beforeTargetKill: () => cluster.sampleCounters(book, log),
    }),
    nodes: plan.nodes.map((n) => n.name),
    log,
    clock,
    onTouched: (nodes) => conv.touched(nodes),
  });
  leadership.start();
  if ((o.checkIntervalMs ?? 2000) > 0) conv.start();
  const limit = plan.durationMs + INPROC_CONVERGE_BOUND_MS * 3;
  const progress = (label: string) => o.onProgress?.(Math.min(0.95, (clock.now() - startedAt) / (plan.durationMs + 10_000)), label);
  try {
    const both = Promise.all([workload.run(plan.workload, startedAt), faults.run(plan.faults, startedAt)]);
    const driven = await cluster.drive(both, limit, STEP_MS, () => {
      // Ctrl-C: the run stops between two steps of the clock (the cluster is stopped all the same).
      if (o.signal?.aborted) throw new SimError('RUN_FAILED', '', 'interrupted');
      progress(`t=${Math.round((clock.now() - startedAt) / 1000)}s ops ${workload.counts().done}/${plan.workload.length} faults ${faults.applied.length}/${plan.faults.length}`);
    });
    if (!driven.done) log.write('run.overtime', { workload: workload.counts(), faults: faults.applied.length });
    const quietAt = clock.now();
    await cluster.drive(faults.heal(), 10_000, STEP_MS);
    log.write('quiet', { workload: workload.counts() });
    o.onProgress?.(0.95, 'judging convergence');
    const judged = await cluster.drive(conv.judge(quietAt + INPROC_CONVERGE_BOUND_MS), INPROC_CONVERGE_BOUND_MS + 10_000, STEP_MS);
    log.write('judged', { notConverged: judged.done ? judged.value : 'the judgement did not end' });
    cluster.sampleCounters(book, log);
    for (const n of cluster.workload.nodes) {
      const state = truth.fullState(n.name);
      const read = await cluster.drive(
        Promise.all([staleEntriesOf(cluster.p4Read(n.name), state).catch((e: unknown) => [`cannot read the target: ${(e as Error).message}`]), intentDifferences(cluster.bus, n.name, state)]),
        20_000,
        STEP_MS,
      );
      const [stale, lost] = read.done ? read.value : [['the read-back did not end'], []];
      const at = log.seconds();
      for (const s of stale.slice(0, 10)) book.violate('entries-from-intent', at, n.name, s);
      for (const l of lost.slice(0, 10)) book.violate('no-lost-change', at, n.name, l);
      await cluster.drive(cluster.interfaces.scan(n.name, truth.podsOf(n.name), book, log), 5000, STEP_MS);
    }
  } finally {
    await cluster.drive(conv.stop(), 10_000, STEP_MS);
    await cluster.drive(leadership.finish(), 10_000, STEP_MS);
  }
  const simulatedS = Math.round((clock.now() - startedAt) / 100) / 10;
  const outcome = concludeRun({
    mode: 'inproc',
    title: `Infra Offload simulator — seed ${plan.seed} (in-process${o.broken ? `, broken: ${o.broken}` : ''})`,
    plan,
    log,
    book,
    conv,
    leadership,
    faults: faults.applied,
    latencies,
    restarts: cluster.logs.restarts.rows(),
    workload: workload.counts(),
    replay: inprocReplayCommand(o),
    durationS: simulatedS,
    wallS: Math.round((performance.now() - wall0) / 100) / 10,
  });
  return { ...outcome, eventsFile: undefined, eventLog: log.text(), simulatedS };
}
