/**
 * One seed → the whole run: the cluster's nodes, the workload and the fault schedule, each drawn
 * from its own stream derived from the seed (so adding a fault kind does not change the
 * workload). Pure and checked: bad options are a typed error and nothing is planned.
 *
 * @example
 * const plan = buildPlan({ seed: 7, nodes: 3, durationS: 40, faults: ['kill-manager'], root: true });
 * if (plan.ok) console.log(planJson(plan.value)); // the same bytes for the same options
 */
import { seededRandom } from '../../core/random.js';
import { err, ok, type Result } from '../../core/result.js';
import { SimError } from './errors.js';
import { FAULT_SPECS, type FaultKind } from './fault-kinds.js';
import { buildFaultPlan } from './fault-plan.js';
import type { NodeSpec, SimPlan } from './plan-types.js';
import { buildWorkloadPlan } from './workload-plan.js';

export const MAX_NODES = 16;
/** In-process runs are for scale: 100 nodes × 100 pods is the target size. */
export const MAX_INPROC_NODES = 200;
export const MAX_PODS_PER_NODE = 200;
export const MIN_DURATION_S = 10;
export const MAX_DURATION_S = 3600;

export interface PlanOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationS: number;
  readonly faults: readonly FaultKind[];
  /** Whether root-only faults (a tmpfs) can run; they are skipped with a reason otherwise. */
  readonly root: boolean;
  /** TAPs per agent pool (default 32). */
  readonly pool?: number;
  /** Pods each node starts with (default 4; see workload-plan.ts). */
  readonly podsPerNode?: number;
  /** The in-process mode allows more nodes (MAX_INPROC_NODES). */
  readonly mode?: 'process' | 'inproc';
}

/** A stream of its own per purpose, derived from the seed. */
function stream(seed: number, purpose: number): ReturnType<typeof seededRandom> {
  return seededRandom((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + purpose * 0x9e3779b1) | 0);
}

export function checkPlanOptions(o: PlanOptions): Result<PlanOptions, SimError> {
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) return err(new SimError('BAD_OPTION', 'seed', '--seed: an integer 0–4294967295'));
  const maxNodes = o.mode === 'inproc' ? MAX_INPROC_NODES : MAX_NODES;
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > maxNodes) return err(new SimError('BAD_OPTION', 'nodes', `--nodes: an integer 1–${maxNodes}${o.mode === 'inproc' ? '' : ' (more with --mode inproc)'}`));
  if (!Number.isFinite(o.durationS) || o.durationS < MIN_DURATION_S || o.durationS > MAX_DURATION_S) {
    return err(new SimError('BAD_OPTION', 'duration', `--duration: seconds, ${MIN_DURATION_S}–${MAX_DURATION_S}`));
  }
  const pool = o.pool ?? 32;
  if (!Number.isInteger(pool) || pool < 16 || pool > 256 || (pool & (pool - 1)) !== 0) return err(new SimError('BAD_OPTION', 'pool', '--pool: a power of two, 16–256'));
  const pods = o.podsPerNode ?? 4;
  if (!Number.isInteger(pods) || pods < 1 || pods > MAX_PODS_PER_NODE) return err(new SimError('BAD_OPTION', 'pods', `--pods: an integer 1–${MAX_PODS_PER_NODE}`));
  if (pods > pool - 8) return err(new SimError('BAD_OPTION', 'pods', `--pods: at most the pool less 8 (${pool - 8}); raise --pool`));
  return ok(o);
}

export function buildPlan(options: PlanOptions): Result<SimPlan, SimError> {
  const checked = checkPlanOptions(options);
  if (!checked.ok) return checked;
  const { seed, root } = options;
  const durationMs = Math.round(options.durationS * 1000);
  const shape = stream(seed, 1);
  const nodes: NodeSpec[] = Array.from({ length: options.nodes }, (_, i) => ({
    name: `node-${i + 1}`,
    nodeIp: `192.0.2.${11 + i}`,
    podCidr: `10.244.${i + 1}.0/24`,
    // The first node always has two contenders, the others by the seed.
    managers: i === 0 || shape.next() < 0.5 ? 2 : 1,
    pool: options.pool ?? 32,
    kernelSeed: shape.int(1, 1_000_000),
  }));
  const skipped = options.faults.filter((k) => FAULT_SPECS[k].root && !root).map((kind) => ({ kind, reason: 'needs root (a tmpfs of the run’s own)' }));
  const kinds = options.faults.filter((k) => !skipped.some((s) => s.kind === k));
  const workload = buildWorkloadPlan(stream(seed, 2), nodes, durationMs, options.podsPerNode);
  const faults = buildFaultPlan(stream(seed, 3), nodes, durationMs, kinds);
  const faultsEndMs = faults.reduce((m, f) => Math.max(m, f.atMs + f.durationMs), 0);
  return ok({ version: 1, seed, durationMs, nodes, faultKinds: kinds, skipped, workload, faults, faultsEndMs });
}

/** The plan as canonical JSON (keys in the order they were built; the same options → the same bytes). */
export function planJson(plan: SimPlan): string {
  return JSON.stringify(plan);
}
