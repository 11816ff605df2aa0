/**
 * What one seed decides, as plain data: the cluster's shape, the workload's timed operations and
 * the fault schedule. A plan is pure (no I/O, no clock): the process mode and the in-process mode
 * run the same plan, and its JSON is byte-identical for the same options.
 *
 * Times are integer milliseconds from the start of the run (after the cluster is up).
 */
import type { FaultKind } from './fault-kinds.js';

/** One node of the cluster. */
export interface NodeSpec {
  readonly name: string;
  /** InternalIP as the processes are told it (no address is configured anywhere). */
  readonly nodeIp: string;
  /** The node's pod range, e.g. 10.244.1.0/24; the simulator's IPAM hands out addresses from it. */
  readonly podCidr: string;
  /** Managers contending for the node's lease (1 or 2). */
  readonly managers: number;
  /** TAPs in the agent's pool (a power of two). */
  readonly pool: number;
  /** Seed of the node's synthetic kernel (MACs). */
  readonly kernelSeed: number;
}

export interface PlanPod {
  readonly node: string;
  readonly containerId: string;
  readonly name: string;
  /** The `app` label services select on. */
  readonly app: string;
  /** Dotted IPv4 from the node's pod range (the simulator's deterministic IPAM; never reused in a run). */
  readonly ipv4: string;
}

export interface PlanService {
  readonly name: string;
  readonly clusterIp: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  readonly targetPort: number;
  /** Pods with this `app` label are its endpoints. */
  readonly app: string;
}

export type WorkloadOp =
  | { readonly atMs: number; readonly op: 'pod.add'; readonly pod: PlanPod }
  /** The pod is going away: its endpoints turn terminating (serving, not ready) before the delete. */
  | { readonly atMs: number; readonly op: 'pod.terminate'; readonly containerId: string }
  | { readonly atMs: number; readonly op: 'pod.delete'; readonly containerId: string }
  /** A readiness probe starts failing (ready false) or passing again. */
  | { readonly atMs: number; readonly op: 'pod.ready'; readonly containerId: string; readonly ready: boolean }
  | { readonly atMs: number; readonly op: 'service.add'; readonly service: PlanService }
  | { readonly atMs: number; readonly op: 'service.delete'; readonly name: string }
  /** Opens long-lived connections (SYN through a VIP) from the node's pods. */
  | { readonly atMs: number; readonly op: 'flows.open'; readonly node: string; readonly count: number };

export type WorkloadOpKind = WorkloadOp['op'];

export interface FaultEvent {
  readonly atMs: number;
  /** A node name, or 'cluster' for the shared services. */
  readonly node: string;
  readonly kind: FaultKind;
  /** 0 for an instantaneous fault. */
  readonly durationMs: number;
  /** What exactly (which process, which mode, which rates): seeded like the rest. */
  readonly detail: Readonly<Record<string, string | number>>;
}

export interface SimPlan {
  readonly version: 1;
  readonly seed: number;
  readonly durationMs: number;
  readonly nodes: readonly NodeSpec[];
  readonly faultKinds: readonly FaultKind[];
  /** Kinds asked for but left out, with the reason (e.g. disk-full without root). */
  readonly skipped: readonly { readonly kind: FaultKind; readonly reason: string }[];
  readonly workload: readonly WorkloadOp[];
  readonly faults: readonly FaultEvent[];
  /** When the last fault ends: liveness is judged from here. */
  readonly faultsEndMs: number;
}
