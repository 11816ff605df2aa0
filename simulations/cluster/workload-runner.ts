/**
 * Runs the plan's workload against the cluster, playing the container runtime (CNI Prepare, Add,
 * Del to each node's agent), kubectl (Services) and the endpoint-slice controller (one slice per
 * Service listing the selected pods with their node and conditions), and records what was
 * acknowledged in the truth.
 *
 * - Operations on one object run in order (a pod's add, readiness flips, terminate and delete;
 *   a service's add, slice updates and delete); different objects run concurrently.
 * - A failed ADD is cleaned up with a DEL and retried with back-off, as a kubelet retries a
 *   sandbox; a failed DEL is retried until it succeeds. Retries stop at `retryUntil`.
 * - A pod's endpoints leave the slices before its DEL; a terminating pod's endpoints are
 *   serving but not ready; a pod whose readiness probe fails is listed not ready, not serving.
 * - Programming latency: from a pod's ADD (or a Service's create) to the first packet the node's
 *   target forwards to it (or translates, or drops at a VIP without endpoints).
 *
 * @example
 * const runner = new WorkloadRunner({ cluster, truth, log, checkers, retryUntil, onLatency });
 * await runner.run(plan.workload, startedAtMs);
 */
import { systemClock, type Clock } from '../../core/clock.js';
import type { Result } from '../../core/result.js';
import { decode, tcp, udp } from '../../p4/frames.js';
import { parseIpv4 } from '../../messages/validate.js';
import type { KubeObject } from '../kube/store.js';
import type { PacketTracer } from '../pipeline-check.js';
import type { SimCluster } from './cluster.js';
import { cniAdd, cniDel, cniPrepare, type AddedInterface, type CniFailure } from './cni-driver.js';
import type { EventLog } from './event-log.js';
import { serviceObject, SIM_NAMESPACE, sliceName, sliceObject } from './kube-objects.js';
import type { NodeCheckers } from './node-checkers.js';
import type { PlanPod, PlanService, WorkloadOp } from './plan-types.js';
import { makePodNetns, podNetnsPath, removePodNetns } from './pod-netns.js';
import type { SimTruth, SliceEndpoint } from './sim-truth.js';

/**
 * A node's container runtime as the workload drives it: pod namespaces and CNI Prepare, Add and
 * Del (over the agent's gRPC socket in process mode, straight to its CNI backend in-process).
 */
export interface PodRuntime {
  makeNetns(containerId: string): Promise<string>;
  netnsPath(containerId: string): string;
  removeNetns(containerId: string): Promise<void>;
  prepare(pod: PlanPod, netns: string): Promise<Result<void, CniFailure>>;
  add(pod: PlanPod, netns: string): Promise<Result<AddedInterface, CniFailure>>;
  del(pod: PlanPod, netns: string): Promise<Result<void, CniFailure>>;
}

export interface WorkloadNode {
  readonly name: string;
  readonly spec: { readonly nodeIp: string };
  readonly admin: PacketTracer;
  readonly runtime: PodRuntime;
}

/** What the workload writes Services and EndpointSlices to (the API stand-in's admin client, or the in-memory API). */
export interface KubeWriter {
  apply(object: KubeObject): Promise<Result<{ readonly action: string }, { readonly message: string; readonly code?: number }>>;
  delete(resource: string, namespace: string | undefined, name: string): Promise<Result<unknown, { readonly message: string; readonly code?: number }>>;
}

export interface WorkloadCluster {
  readonly nodes: readonly WorkloadNode[];
  node(name: string): WorkloadNode | undefined;
  readonly kubeAdmin: KubeWriter;
}

/** The process-mode cluster as the workload sees it: CNI over each agent's socket, namespaces as marker files. */
export function processWorkloadCluster(cluster: SimCluster): WorkloadCluster {
  const nodes = cluster.nodes.map(
    (n): WorkloadNode => ({
      name: n.name,
      spec: n.spec,
      admin: n.admin,
      runtime: {
        makeNetns: (id) => makePodNetns(n.kernelDir, id),
        netnsPath: (id) => podNetnsPath(n.kernelDir, id),
        removeNetns: (id) => removePodNetns(n.kernelDir, id),
        prepare: (pod, netns) => cniPrepare(n.cniSocket, pod, netns),
        add: (pod, netns) => cniAdd(n.cniSocket, pod, netns),
        del: (pod, netns) => cniDel(n.cniSocket, pod, netns),
      },
    }),
  );
  return { nodes, node: (name) => nodes.find((n) => n.name === name), kubeAdmin: cluster.kubeAdmin };
}
const UPLINK = 1;
const PROBE_TIMEOUT_MS = 10_000;

interface PodState {
  readonly plan: PlanPod;
  up: boolean;
  ready: boolean;
  terminating: boolean;
  /** Its delete was asked: it leaves the slices and no ADD is retried. */
  removed: boolean;
}

export interface WorkloadDeps {
  readonly cluster: WorkloadCluster;
  readonly truth: SimTruth;
  readonly log: EventLog;
  readonly checkers: NodeCheckers;
  /** Time on the clock after which failed operations are no longer retried. */
  readonly retryUntil: () => number;
  /** The run's clock (the injected one in-process); the system clock by default. */
  readonly clock?: Clock;
  readonly onLatency: (ms: number, what: string) => void;
  /** A pod's ADD was acknowledged (after the truth has it). */
  readonly onPodUp?: (node: string, containerId: string) => void;
  /** An operation was given up at the end of the run (retries exhausted). */
  readonly onAbandoned?: (what: string, node: string | undefined) => void;
}

export interface WorkloadCounts {
  readonly done: number;
  readonly total: number;
  readonly retries: number;
  /** Operations given up (retries exhausted at the end of the run). */
  readonly abandoned: number;
}

export class WorkloadRunner {
  private readonly pods = new Map<string, PodState>();
  private readonly removedServices = new Set<string>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private done = 0;
  private total = 0;
  private retries = 0;
  private abandoned = 0;
  private probePort = 60_000;

  private readonly clock: Clock;

  constructor(private readonly d: WorkloadDeps) {
    this.clock = d.clock ?? systemClock;
  }

  counts(): WorkloadCounts {
    return { done: this.done, total: this.total, retries: this.retries, abandoned: this.abandoned };
  }

  /** Runs every operation at its time from `startedAtMs`; resolves when all (and their retries) are over. */
  async run(ops: readonly WorkloadOp[], startedAtMs: number, onStarted?: (op: WorkloadOp) => void): Promise<void> {
    this.total = ops.length;
    const running: Promise<unknown>[] = [];
    for (const op of ops) {
      const wait = startedAtMs + op.atMs - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait);
      onStarted?.(op);
      running.push(
        this.start(op)
          .catch((e: unknown) => this.d.log.write('op.error', { op: op.op, error: (e as Error).message }))
          .finally(() => this.done++),
      );
    }
    await Promise.all(running);
    await Promise.all([...this.chains.values()]);
  }

  /** Queues `fn` after everything queued on `key`. */
  private chain<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(fn);
    this.chains.set(key, next.catch(() => undefined));
    return next;
  }

  private node(name: string): WorkloadNode {
    const n = this.d.cluster.node(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private start(op: WorkloadOp): Promise<unknown> {
    switch (op.op) {
      case 'pod.add':
        return this.podAdd(op.pod);
      case 'pod.terminate':
        return this.podChange(op.containerId, (p) => (p.terminating = true));
      case 'pod.ready':
        return this.podChange(op.containerId, (p) => (p.ready = op.ready));
      case 'pod.delete':
        return this.podDelete(op.containerId);
      case 'service.add':
        return this.serviceAdd(op.service);
      case 'service.delete':
        return this.serviceDelete(op.name);
      case 'flows.open':
        return this.flowsOpen(op.node, op.count);
    }
  }

  private backoff(attempt: number): number {
    return Math.min(4000, 500 * 2 ** Math.min(attempt, 4));
  }

  private podAdd(plan: PlanPod): Promise<void> {
    const state: PodState = { plan, up: false, ready: true, terminating: false, removed: false };
    this.pods.set(plan.containerId, state);
    return this.chain(`pod:${plan.containerId}`, async () => {
      const node = this.node(plan.node);
      const netns = await node.runtime.makeNetns(plan.containerId);
      for (let attempt = 0; !state.removed; attempt++) {
        const t0 = this.clock.now();
        await node.runtime.prepare(plan, netns);
        const r = await node.runtime.add(plan, netns);
        if (r.ok) {
          const pod = this.d.truth.podUp(plan, r.value);
          state.up = true;
          this.d.onPodUp?.(plan.node, plan.containerId);
          this.d.log.write('pod.up', { node: plan.node, containerId: plan.containerId, ipv4: plan.ipv4, portId: pod.portId, attempts: attempt + 1, ms: this.clock.now() - t0 });
          void this.probe(node, t0, 'pod.add', () => this.podProbe(node, pod.ipv4, pod.portId));
          await this.syncApp(plan.app);
          return;
        }
        this.d.log.write('pod.add.failed', { node: plan.node, containerId: plan.containerId, attempt: attempt + 1, code: r.error.code, message: r.error.message.slice(0, 600) });
        // A kubelet cleans a failed sandbox up before trying again.
        await node.runtime.del(plan, netns);
        if (this.clock.now() > this.d.retryUntil()) {
          this.abandoned++;
          this.d.log.write('pod.add.abandoned', { node: plan.node, containerId: plan.containerId });
          this.d.onAbandoned?.(`the ADD of pod ${plan.containerId} was never acknowledged (last: ${r.error.code} ${r.error.message.slice(0, 120)})`, plan.node);
          return;
        }
        this.retries++;
        await this.clock.sleep(this.backoff(attempt));
      }
    });
  }

  private async podChange(containerId: string, change: (p: PodState) => void): Promise<void> {
    const p = this.pods.get(containerId);
    if (!p) return;
    change(p);
    this.d.log.write('pod.change', { containerId, ready: p.ready, terminating: p.terminating });
    await this.syncApp(p.plan.app);
  }

  private async podDelete(containerId: string): Promise<void> {
    const p = this.pods.get(containerId);
    if (!p) return;
    p.removed = true;
    await this.syncApp(p.plan.app);
    await this.chain(`pod:${containerId}`, async () => {
      const node = this.node(p.plan.node);
      const netns = node.runtime.netnsPath(containerId);
      for (let attempt = 0; ; attempt++) {
        const r = await node.runtime.del(p.plan, netns);
        if (r.ok) break;
        this.d.log.write('pod.del.failed', { node: p.plan.node, containerId, attempt: attempt + 1, code: r.error.code, message: r.error.message.slice(0, 600) });
        if (this.clock.now() > this.d.retryUntil()) {
          this.abandoned++;
          this.d.log.write('pod.del.abandoned', { node: p.plan.node, containerId });
          this.d.onAbandoned?.(`the DEL of pod ${containerId} never succeeded (last: ${r.error.code} ${r.error.message.slice(0, 120)})`, p.plan.node);
          return;
        }
        this.retries++;
        await this.clock.sleep(this.backoff(attempt));
      }
      this.d.truth.podGone(containerId);
      p.up = false;
      this.pods.delete(containerId);
      await node.runtime.removeNetns(containerId);
      this.d.log.write('pod.gone', { node: p.plan.node, containerId });
    });
  }

  /** The endpoints a service's slice should list now. */
  private endpointsOf(app: string): SliceEndpoint[] {
    return [...this.pods.values()]
      .filter((p) => p.up && !p.removed && p.plan.app === app)
      .map((p) => ({ ipv4: p.plan.ipv4, node: p.plan.node, ready: p.ready && !p.terminating, serving: p.ready, terminating: p.terminating }))
      .sort((a, b) => (parseIpv4(a.ipv4) ?? 0) - (parseIpv4(b.ipv4) ?? 0));
  }

  /** Re-writes the slice of every live service selecting `app`. */
  private async syncApp(app: string): Promise<void> {
    await Promise.all(this.d.truth.allServices().filter((s) => s.app === app).map((s) => this.chain(`svc:${s.name}`, () => this.writeSlice(s))));
  }

  private async writeSlice(s: PlanService): Promise<void> {
    if (this.removedServices.has(s.name) || !this.d.truth.service(s.name)) return;
    for (let attempt = 0; ; attempt++) {
      const endpoints = this.endpointsOf(s.app);
      const r = await this.d.cluster.kubeAdmin.apply(sliceObject(s, endpoints));
      if (r.ok) {
        this.d.truth.sliceAccepted(s.name, endpoints);
        this.d.log.write('slice', { service: s.name, endpoints: endpoints.length, action: r.value.action });
        return;
      }
      this.d.log.write('slice.failed', { service: s.name, message: r.error.message.slice(0, 600) });
      if (this.clock.now() > this.d.retryUntil()) return void this.abandoned++;
      this.retries++;
      await this.clock.sleep(this.backoff(attempt));
    }
  }

  private serviceAdd(s: PlanService): Promise<void> {
    return this.chain(`svc:${s.name}`, async () => {
      const t0 = this.clock.now();
      for (let attempt = 0; ; attempt++) {
        const r = await this.d.cluster.kubeAdmin.apply(serviceObject(s));
        if (r.ok) break;
        this.d.log.write('service.failed', { service: s.name, message: r.error.message.slice(0, 600) });
        if (this.clock.now() > this.d.retryUntil()) return void this.abandoned++;
        this.retries++;
        await this.clock.sleep(this.backoff(attempt));
      }
      this.d.truth.serviceUp(s);
      this.d.log.write('service.up', { service: s.name, clusterIp: s.clusterIp, app: s.app });
      await this.writeSlice(s);
      const node = this.d.cluster.nodes[0];
      if (node) void this.probe(node, t0, 'service.add', () => this.vipProbe(node, s));
    });
  }

  private serviceDelete(name: string): Promise<void> {
    this.removedServices.add(name);
    return this.chain(`svc:${name}`, async () => {
      for (const [resource, object] of [
        ['endpointslices', sliceName(name)],
        ['services', name],
      ] as const) {
        for (let attempt = 0; ; attempt++) {
          const r = await this.d.cluster.kubeAdmin.delete(resource, SIM_NAMESPACE, object);
          if (r.ok || r.error.code === 404) break;
          if (this.clock.now() > this.d.retryUntil()) return void this.abandoned++;
          this.retries++;
          await this.clock.sleep(this.backoff(attempt));
        }
      }
      this.d.truth.serviceGone(name);
      this.d.log.write('service.gone', { service: name });
    });
  }

  private async flowsOpen(node: string, count: number): Promise<void> {
    const truth = this.d.truth.fullState(node);
    const failures = await this.d.checkers.use(node, (c) => c.openSticky(truth, count));
    this.d.log.write('flows.open', { node, asked: count, tracked: this.d.checkers.flows(node), failures: failures.slice(0, 3) });
  }

  /** Polls `seen` until it holds, and reports the latency from `t0`. */
  private async probe(node: WorkloadNode, t0: number, what: string, seen: () => Promise<boolean>): Promise<void> {
    const deadline = t0 + PROBE_TIMEOUT_MS;
    while (this.clock.now() < deadline) {
      const ok = await seen().catch(() => false);
      if (ok) {
        this.d.onLatency(this.clock.now() - t0, what);
        return;
      }
      await this.clock.sleep(20);
    }
    this.d.log.write('latency.timeout', { node: node.name, what });
  }

  private nextProbePort(): number {
    this.probePort = this.probePort >= 65_000 ? 60_000 : this.probePort + 1;
    return this.probePort;
  }

  /** A packet from the uplink to the pod's address leaves on the pod's port. */
  private async podProbe(node: WorkloadNode, podIp: number, portId: number): Promise<boolean> {
    const frame = tcp({ src: 0x020000000001, dst: 0x02fe00000001, srcIp: parseIpv4(node.spec.nodeIp) ?? 0, dstIp: podIp, sport: this.nextProbePort(), dport: 9000, flags: 'A' });
    const r = await node.admin.process(UPLINK, frame);
    return !r.dropped && r.port === portId;
  }

  /** The VIP is programmed: translated to an endpoint, or dropped by a service without endpoints. */
  private async vipProbe(node: WorkloadNode, s: PlanService): Promise<boolean> {
    const vip = parseIpv4(s.clusterIp) ?? 0;
    const common = { src: 0x020000000001, dst: 0x02fe00000001, srcIp: parseIpv4(node.spec.nodeIp) ?? 0, dstIp: vip, sport: this.nextProbePort(), dport: s.port };
    const r = await node.admin.process(UPLINK, s.protocol === 'UDP' ? udp(common) : tcp({ ...common, flags: 'A' }));
    if (r.dropped) return true;
    const dst = decode(r.frame).ipv4?.dst;
    return dst !== undefined && dst !== vip;
  }
}
