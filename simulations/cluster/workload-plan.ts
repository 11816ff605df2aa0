/**
 * The workload of a run, from a seed: pods created and deleted on every node, services added and
 * deleted (each selects pods by an `app` label, so its endpoints scale as pods of that app come and
 * go), readiness probes failing (for good: an address that left never returns), a pod's endpoints turning terminating before it
 * is deleted, and long-lived connections opened through VIPs. Pure: seed in, timed operations out.
 *
 * Shape: services first (one without any pod, so a VIP that must drop is always there), a few
 * pods per node, the first long-lived flows at 5 s, then churn every 0.5–1.3 s until 1.5 s
 * before the end, with a rolling update (one pod of an app goes, two come) at half and at four
 * fifths of the run. Pod addresses come from each node's pod range and are never reused in a run;
 * a node never holds more pods than its pool allows (minus a margin for restarts).
 *
 * @example
 * const ops = buildWorkloadPlan(seededRandom(7), nodes, 40_000);
 * ops[0]; // { atMs: 0, op: 'service.add', service: { name: 'svc-0', clusterIp: '10.96.0.10', … } }
 */
import type { Random } from '../../core/random.js';
import type { NodeSpec, PlanPod, PlanService, WorkloadOp } from './plan-types.js';

const FIRST_HOST = 10;
const LAST_HOST = 250;
const CHURN_START_MS = 5000;
const MAX_SERVICES = 12;
const MIN_SERVICES = 3;
/** The app no pod ever has: its service's VIP must drop. */
const IDLE_APP = 'app-idle';
/** The app of the pods beyond the first four of a node (no service selects it: pods that only talk to pods). */
const BULK_APP = 'app-bulk';
/** Pods per node that services select (the first of each node); the rest are bulk. */
const SELECTED_PODS = 4;

interface PodState {
  readonly pod: PlanPod;
  ready: boolean;
  /** Terminating or deleted: no further operation picks it. */
  leaving: boolean;
  /** When it is added: operations pick it only from then on. */
  readonly since: number;
}

interface Gen {
  readonly r: Random;
  readonly nodes: readonly NodeSpec[];
  readonly ops: WorkloadOp[];
  readonly pods: Map<string, PodState>;
  readonly services: Map<string, PlanService>;
  readonly nextHost: Map<string, number>;
  readonly podCount: Map<string, number>;
  nextService: number;
}

/** Third octet of a /24 pod range: 10.244.3.0/24 → '10.244.3.'. */
function rangePrefix(cidr: string): string {
  const base = cidr.split('/')[0]!;
  return base.slice(0, base.lastIndexOf('.') + 1);
}

function livePods(g: Gen, node?: string): PodState[] {
  return [...g.pods.values()].filter((p) => !p.leaving && (node === undefined || p.pod.node === node));
}

/** Pods a node may hold: its pool minus the gateway, the host and a margin. */
function podLimit(spec: NodeSpec): number {
  return Math.max(2, spec.pool - 2 - 6);
}

function pick<T>(r: Random, xs: readonly T[]): T {
  return xs[r.int(0, xs.length - 1)]!;
}

function addService(g: Gen, atMs: number, app: string): void {
  const i = g.nextService++;
  const udp = i > 0 && g.r.next() < 0.2;
  const service: PlanService = {
    name: `svc-${i}`,
    clusterIp: `10.96.${Math.floor((FIRST_HOST + i) / 250)}.${(FIRST_HOST + i) % 250}`,
    port: udp ? 53 : 80,
    protocol: udp ? 'UDP' : 'TCP',
    targetPort: udp ? 5353 : 8080,
    app,
  };
  g.services.set(service.name, service);
  g.ops.push({ atMs, op: 'service.add', service });
}

function addPod(g: Gen, atMs: number, node: NodeSpec, app: string): boolean {
  const host = g.nextHost.get(node.name) ?? FIRST_HOST;
  if (host > LAST_HOST || livePods(g, node.name).length >= podLimit(node)) return false;
  g.nextHost.set(node.name, host + 1);
  const n = g.podCount.get(node.name) ?? 0;
  g.podCount.set(node.name, n + 1);
  const pod: PlanPod = { node: node.name, containerId: `ctr-${node.name}-${n}`, name: `${node.name}-pod-${n}`, app, ipv4: `${rangePrefix(node.podCidr)}${host}` };
  g.pods.set(pod.containerId, { pod, ready: true, leaving: false, since: atMs });
  g.ops.push({ atMs, op: 'pod.add', pod });
  return true;
}

/** An app some live service selects (most of the time), or any app ever used. */
function someApp(g: Gen): string {
  const apps = [...g.services.values()].map((s) => s.app).filter((a) => a !== IDLE_APP);
  return apps.length > 0 ? pick(g.r, apps) : 'app-0';
}

function churn(g: Gen, atMs: number, durationMs: number): void {
  const r = g.r;
  const roll = r.int(1, 100);
  if (roll <= 30) {
    addPod(g, atMs, pick(r, g.nodes), someApp(g));
  } else if (roll <= 55) {
    const candidates = livePods(g).filter((p) => p.since < atMs && livePods(g, p.pod.node).length > 2);
    if (candidates.length === 0) return;
    const victim = pick(r, candidates);
    victim.leaving = true;
    g.ops.push({ atMs, op: 'pod.terminate', containerId: victim.pod.containerId });
    g.ops.push({ atMs: Math.min(durationMs - 500, atMs + r.int(1000, 3000)), op: 'pod.delete', containerId: victim.pod.containerId });
  } else if (roll <= 70) {
    // A readiness probe starts failing for good (until the pod is deleted): an endpoint that
    // leaves never comes back under the same address, so a tracked connection to it is retired
    // for sure, never left ambiguous by a quick return.
    const candidates = livePods(g).filter((p) => p.ready && p.since < atMs);
    if (candidates.length === 0) return;
    const p = pick(r, candidates);
    p.ready = false;
    g.ops.push({ atMs, op: 'pod.ready', containerId: p.pod.containerId, ready: false });
  } else if (roll <= 78) {
    if (g.services.size >= MAX_SERVICES) return;
    // A new service selects an app that has pods, or a fresh one (no endpoints until pods come).
    addService(g, atMs, r.next() < 0.7 ? someApp(g) : `app-${g.nextService}`);
  } else if (roll <= 85) {
    if (g.services.size <= MIN_SERVICES) return;
    const victim = pick(r, [...g.services.values()]);
    g.services.delete(victim.name);
    g.ops.push({ atMs, op: 'service.delete', name: victim.name });
  } else {
    g.ops.push({ atMs, op: 'flows.open', node: pick(r, g.nodes).name, count: r.int(2, 5) });
  }
}

/**
 * A rolling update of one app: one of its pods terminates and goes, then two new ones come (a
 * surge of two) — endpoints freed and then taken again, the pattern that reuses ids.
 */
function rollout(g: Gen, atMs: number, durationMs: number): void {
  const r = g.r;
  const apps = [...new Set(livePods(g).filter((p) => p.since < atMs && p.pod.app !== IDLE_APP).map((p) => p.pod.app))].sort();
  if (apps.length === 0) return;
  const app = pick(r, apps);
  const victim = pick(
    r,
    livePods(g).filter((p) => p.pod.app === app && p.since < atMs),
  );
  victim.leaving = true;
  g.ops.push({ atMs, op: 'pod.terminate', containerId: victim.pod.containerId });
  const deleteAt = Math.min(durationMs - 500, atMs + 1000);
  g.ops.push({ atMs: deleteAt, op: 'pod.delete', containerId: victim.pod.containerId });
  for (let i = 0; i < 2; i++) addPod(g, Math.min(durationMs - 400, deleteAt + 1500 + i * 100), pick(r, g.nodes), app);
}

/**
 * The timed operations of the whole run, sorted by time (ties in the order they were made).
 * `podsPerNode` (default 4) is how many pods each node starts with: the first four are endpoints
 * of the first services; the rest (the in-process scale runs) are pods of an app no service
 * selects, started 40–70 ms apart on every node at once. Churn grows with the cluster: one
 * operation per eight nodes on every tick.
 */
export function buildWorkloadPlan(r: Random, nodes: readonly NodeSpec[], durationMs: number, podsPerNode = SELECTED_PODS): WorkloadOp[] {
  const g: Gen = { r, nodes, ops: [], pods: new Map(), services: new Map(), nextHost: new Map(), podCount: new Map(), nextService: 0 };
  const initialServices = Math.min(8, Math.max(4, 2 + nodes.length));
  for (let i = 0; i < initialServices; i++) addService(g, i * 100, `app-${i}`);
  // One service nothing selects: its VIP must drop (a reject entry, never a stale endpoint).
  addService(g, initialServices * 100, IDLE_APP);
  const apps = Array.from({ length: initialServices }, (_, i) => `app-${i}`);
  nodes.forEach((node, i) => {
    for (let j = 0; j < Math.min(SELECTED_PODS, podsPerNode); j++) addPod(g, 1000 + (i * 4 + j) * r.int(80, 160), node, apps[(i + j) % apps.length]!);
  });
  if (podsPerNode > SELECTED_PODS) {
    nodes.forEach((node, i) => {
      for (let j = SELECTED_PODS; j < podsPerNode; j++) addPod(g, 1200 + (i % 10) * 7 + j * r.int(40, 70), node, BULK_APP);
    });
  }
  for (const node of nodes) g.ops.push({ atMs: CHURN_START_MS - 500 + r.int(0, 400), op: 'flows.open', node: node.name, count: 6 });
  const end = durationMs - 1500;
  const rollouts = [0.5, 0.8].map((f) => Math.round(durationMs * f));
  for (let t = CHURN_START_MS + r.int(0, 500); t < end; t += r.int(500, 1300)) {
    while (rollouts.length > 0 && rollouts[0]! <= t) rollout(g, rollouts.shift()!, durationMs);
    for (let k = Math.ceil(nodes.length / 8); k > 0; k--) churn(g, t, durationMs);
  }
  return g.ops.map((op, i) => ({ op, i })).sort((a, b) => a.op.atMs - b.op.atMs || a.i - b.i).map((x) => x.op);
}
