/**
 * One simulator run in process mode: the plan from the seed, the cluster, the workload and the
 * fault schedule run side by side while the invariants watch, then the liveness judgement (every
 * node converges within 30 s of the faults stopping and the workload ending), the end-of-run
 * checks (entries, intent, interfaces), and the report's input. The cluster is stopped and its
 * run directory removed whatever happens; the event log is kept where asked (and always, next
 * to the report or under .run/simulate/, when the run fails).
 *
 * @example
 * const r = await simulate({ seed: 7, nodes: 2, durationS: 30, faults: ['kill-manager'], faultsText: 'kill-manager' });
 * if (r.ok) console.log(JSON.stringify(r.value.summary)); // {"simulate":"ok","seed":7,…}
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { err, ok, type Result } from '../../core/result.js';
import type { ReportInput } from '../report/report-input.js';
import { BROKEN_ENV, type BrokenMode } from './broken.js';
import { startCluster, type SimCluster } from './cluster.js';
import { ConvergenceMonitor } from './convergence.js';
import { staleEntries } from './entries-check.js';
import { SimError } from './errors.js';
import { EventLog } from './event-log.js';
import type { FaultKind } from './fault-kinds.js';
import { FaultRunner } from './fault-runner.js';
import { processFaultApplier } from './process-faults.js';
import { concludeRun } from './run-outcome.js';
import { intentDifferences } from './intent-check.js';
import { InterfaceCheck } from './interfaces-check.js';
import { InvariantBook } from './invariants.js';
import { LeadershipCheck, processLeadershipSources } from './leadership-check.js';
import { NodeCheckers } from './node-checkers.js';
import { buildPlan } from './plan.js';
import type { SimPlan } from './plan-types.js';
import { SimTruth } from './sim-truth.js';
import { TargetCounterCheck } from './target-counters.js';
import { processWorkloadCluster, WorkloadRunner } from './workload-runner.js';

/** The liveness bound: every node converges this long after the faults stop (process mode). */
export const CONVERGE_BOUND_MS = 30_000;
/** How long the cluster may take to come up. */
const READY_MS = 90_000;

export interface SimulateOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationS: number;
  readonly faults: readonly FaultKind[];
  /** `--faults` as given (all, or the list), for the replay command. */
  readonly faultsText: string;
  readonly broken?: BrokenMode;
  /** Keep the event log here (it is always kept when the run fails). */
  readonly eventsPath?: string;
  /** Told what the run is doing: a fraction of the expected time and a short label. */
  readonly onProgress?: (fraction: number, label: string) => void;
  /** Stops the run early (Ctrl-C): the cluster is stopped and removed all the same. */
  readonly signal?: AbortSignal;
}

export interface SimulateSummary {
  readonly simulate: 'ok' | 'fail';
  readonly seed: number;
  readonly mode: 'process' | 'inproc';
  readonly nodes: number;
  readonly faults: number;
  readonly violations: number;
  readonly converge_p99_s: number | null;
}

export interface SimulateResult {
  readonly summary: SimulateSummary;
  readonly report: ReportInput;
  readonly plan: SimPlan;
  /** Where the event log was kept, if it was. */
  readonly eventsFile: string | undefined;
  /** Violated invariants, by name. */
  readonly violated: readonly string[];
  readonly replayCommand: string;
  readonly counts: { readonly ops: number; readonly retries: number; readonly checks: number; readonly wallS: number };
}

export function replayCommand(o: Pick<SimulateOptions, 'seed' | 'nodes' | 'durationS' | 'faultsText' | 'broken'>): string {
  return `npm run simulate -- --seed ${o.seed} --nodes ${o.nodes} --duration ${o.durationS} --faults ${o.faultsText} --mode process${o.broken ? ` --broken ${o.broken}` : ''}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Asks `probe` until every list it returns is empty or `deadline` (Date.now() ms) passes; the last answer. */
async function eventually(deadline: number, probe: () => Promise<string[][]>): Promise<string[][]> {
  for (;;) {
    const found = await probe();
    if (found.every((f) => f.length === 0) || Date.now() >= deadline) return found;
    await sleep(500);
  }
}

export async function simulate(o: SimulateOptions): Promise<Result<SimulateResult, SimError>> {
  const root = process.getuid?.() === 0;
  const planned = buildPlan({ seed: o.seed, nodes: o.nodes, durationS: o.durationS, faults: o.faults, root });
  if (!planned.ok) return planned;
  const plan = planned.value;
  const replay = replayCommand(o);
  const runId = `${o.seed.toString(36)}${process.pid.toString(36)}`;
  const previousBroken = process.env[BROKEN_ENV];
  if (o.broken) process.env[BROKEN_ENV] = o.broken;
  else delete process.env[BROKEN_ENV];
  const wall0 = Date.now();
  o.onProgress?.(0, 'starting the cluster');
  let cluster: SimCluster;
  try {
    cluster = await startCluster({ plan, runId, tmpfsState: root && plan.faultKinds.includes('disk-full'), clockJumps: plan.faultKinds.includes('clock-jump') });
  } catch (e) {
    restoreEnv(previousBroken);
    return err(e instanceof SimError ? e : new SimError('START_FAILED', '', (e as Error).message, { cause: e }));
  }
  const log = EventLog.open(join(cluster.dir, 'events.jsonl'), Date.now());
  try {
    log.write('plan', { plan, replay });
    await cluster.ready(READY_MS);
    if (o.signal?.aborted) throw new SimError('RUN_FAILED', '', 'interrupted');
    return ok(await run(o, plan, cluster, log, replay, wall0));
  } catch (e) {
    log.write('run.failed', { error: (e as Error).message });
    const kept = await keepEvents(log, o.eventsPath ?? defaultEventsPath(o.seed)).catch(() => undefined);
    const why = e instanceof SimError ? e : new SimError('RUN_FAILED', '', (e as Error).message, { cause: e });
    return err(kept ? new SimError(why.code, why.field, `${why.message}\nevent log: ${kept}`, { cause: why.cause }) : why);
  } finally {
    log.close();
    await cluster.stop();
    restoreEnv(previousBroken);
  }
}

function restoreEnv(previous: string | undefined): void {
  if (previous === undefined) delete process.env[BROKEN_ENV];
  else process.env[BROKEN_ENV] = previous;
}

function defaultEventsPath(seed: number): string {
  return resolve('.run', 'simulate', `seed-${seed}-${Date.now()}.events.jsonl`);
}

async function keepEvents(log: EventLog, path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await copyFile(log.path, path);
  return path;
}

async function run(o: SimulateOptions, plan: SimPlan, cluster: SimCluster, log: EventLog, replay: string, wall0: number): Promise<SimulateResult> {
  const book = new InvariantBook();
  const truth = new SimTruth(plan.nodes);
  const checkers = new NodeCheckers(cluster.nodes, plan.seed);
  const leadership = new LeadershipCheck({ sources: processLeadershipSources(cluster), book, log });
  const counters = new TargetCounterCheck({ nodes: cluster.nodes, book, log });
  const ifaces = new InterfaceCheck(book, log);
  const conv = new ConvergenceMonitor({ nodes: cluster.nodes, truth, checkers, log, book, tails: (node) => cluster.logs.tail(`${node}/`, 30) });
  const latencies: number[] = [];
  const startedAt = Date.now();
  log.restart(startedAt);
  log.write('run.start', { nodes: plan.nodes.map((n) => n.name), ops: plan.workload.length, faults: plan.faults.length });
  const retryUntil = startedAt + plan.durationMs + CONVERGE_BOUND_MS / 2;
  const workload = new WorkloadRunner({
    cluster: processWorkloadCluster(cluster),
    truth,
    log,
    checkers,
    retryUntil: () => retryUntil,
    onLatency: (ms, what) => {
      latencies.push(ms);
      log.write('latency', { what, ms });
    },
    onPodUp: (node, containerId) => {
      const pod = truth.pod(containerId);
      if (pod) ifaces.podUp(node, pod, truth.podsOf(node));
    },
    onAbandoned: (what, node) => book.violate('convergence', log.seconds(), node, what),
  });
  const faults = new FaultRunner({
    apply: processFaultApplier({ cluster, checkers, beforeTargetKill: () => counters.sample(), onLeaseLost: (node) => leadership.leaseLost(node) }),
    nodes: cluster.nodes.map((n) => n.name),
    log,
    onTouched: (nodes) => conv.touched(nodes),
  });
  leadership.start();
  conv.start();
  let running = true;
  const expectedS = plan.durationMs / 1000 + 10;
  const sampler = (async () => {
    while (running) {
      await counters.sample();
      o.onProgress?.(Math.min(0.95, (Date.now() - startedAt) / 1000 / expectedS), `t=${Math.round((Date.now() - startedAt) / 1000)}s ops ${workload.counts().done}/${plan.workload.length} faults ${faults.applied.length}/${plan.faults.length}`);
      await sleep(1000);
      if (o.signal?.aborted) break;
    }
  })();
  const abort = new Promise<never>((_, reject) => o.signal?.addEventListener('abort', () => reject(new SimError('RUN_FAILED', '', 'interrupted')), { once: true }));
  abort.catch(() => undefined); // an interruption after the race is over is nobody's error
  let quietAt: number;
  try {
    const [, doneFaults] = await Promise.race([
      Promise.all([workload.run(plan.workload, startedAt), faults.run(plan.faults, startedAt).then(() => Date.now())]),
      abort,
    ]);
    quietAt = Math.max(Date.now(), doneFaults);
    await faults.heal();
    log.write('quiet', { workload: workload.counts() });
    o.onProgress?.(0.95, 'judging convergence');
    const late = await Promise.race([conv.judge(quietAt + CONVERGE_BOUND_MS), abort]);
    log.write('judged', { notConverged: late });
    // The end of the run: counters, entries, intent, interfaces. The last changes may still be on
    // their way (a slice accepted just before the end changes nothing a trace sees when it only
    // drops a terminating endpoint), so entries and intent get the same bound as convergence.
    await counters.sample();
    const deadline = Math.max(quietAt + CONVERGE_BOUND_MS, Date.now() + 3000);
    await Promise.all(
      cluster.nodes.map(async (n) => {
        const state = truth.fullState(n.name);
        const [stale = [], lost = []] = await eventually(deadline, async () => [
          await staleEntries(n, state).catch((e: unknown) => [`cannot read the target: ${(e as Error).message}`]),
          await intentDifferences(cluster.bus, n.name, state),
        ]);
        const at = log.seconds();
        for (const s of stale.slice(0, 10)) book.violate('entries-from-intent', at, n.name, s);
        for (const l of lost.slice(0, 10)) book.violate('no-lost-change', at, n.name, l);
        await ifaces.scan({ name: n.name, stateDir: n.stateDir, kernel: n.kernelDir }, truth.podsOf(n.name));
      }),
    );
  } finally {
    running = false;
    await sampler;
    await faults.heal();
    await conv.stop();
    await leadership.finish();
  }
  const outcome = concludeRun({
    mode: 'process',
    title: `Infra Offload simulator — seed ${plan.seed}${o.broken ? ` (broken: ${o.broken})` : ''}`,
    plan,
    log,
    book,
    conv,
    leadership,
    faults: faults.applied,
    latencies,
    restarts: cluster.logs.restarts.rows(),
    workload: workload.counts(),
    replay,
    durationS: Math.round((Date.now() - startedAt) / 100) / 10,
    wallS: Math.round((Date.now() - wall0) / 100) / 10,
  });
  const eventsFile = o.eventsPath ?? (outcome.summary.violations > 0 ? defaultEventsPath(plan.seed) : undefined);
  return { ...outcome, eventsFile: eventsFile ? await keepEvents(log, eventsFile) : undefined };
}
