/**
 * What the simulator asked for and what was acknowledged — the truth every check compares with:
 *
 * - a pod is in its node's truth from the moment its CNI ADD was acknowledged (with the port and
 *   MAC the agent answered) until its CNI DEL was;
 * - a service is in every node's truth once the API server accepted it, with the endpoints of
 *   its EndpointSlice as last accepted, read the way kube-proxy (and our agent) read them: an
 *   endpoint is programmed when it is ready, or serving while terminating.
 *
 * `fullState(node)` is a node's truth as the agent would hold it (protocol/sync.ts FullState), for
 * PipelineChecker.
 *
 * @example
 * const truth = new SimTruth(plan.nodes);
 * truth.podUp(plan.pod, { portId: 5, mac: 0x02aabbccddee });
 * truth.sliceAccepted('svc-0', [{ ipv4: '10.244.1.10', node: 'node-1', ready: true, serving: true, terminating: false }]);
 * checker.check(truth.fullState('node-1'));
 */
import { parseIpv4 } from '../../messages/validate.js';
import type { Endpoint, HostInterface, PodInterface, ServicePort } from '../../protocol/intent.js';
import type { FullState } from '../../protocol/sync.js';
import type { NodeSpec, PlanPod, PlanService } from './plan-types.js';
import { POOL_PREFIX } from './sim-node.js';

/** One endpoint of a slice, as the simulator wrote it. */
export interface SliceEndpoint {
  readonly ipv4: string;
  readonly node: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

const ip = (text: string): number => parseIpv4(text) ?? 0;

export class SimTruth {
  private readonly pods = new Map<string, PodInterface>();
  private readonly services = new Map<string, PlanService>();
  private readonly slices = new Map<string, readonly SliceEndpoint[]>();
  private readonly hosts = new Map<string, HostInterface>();
  private revision = 0;

  constructor(nodes: readonly NodeSpec[]) {
    for (const n of nodes) {
      this.hosts.set(n.name, { node: n.name, interfaceName: `${POOL_PREFIX}1`, portId: 1, ipv4: ip(n.nodeIp), mac: 0, nodeIp: ip(n.nodeIp), podCidr: n.podCidr });
    }
  }

  /** The CNI ADD was acknowledged: the pod now has this port and MAC. */
  podUp(pod: PlanPod, iface: { readonly portId: number; readonly mac: number }): PodInterface {
    const p: PodInterface = {
      node: pod.node,
      namespace: 'sim',
      name: pod.name,
      containerId: pod.containerId,
      interfaceName: `${POOL_PREFIX}${iface.portId}`,
      portId: iface.portId,
      ipv4: ip(pod.ipv4),
      mac: iface.mac,
    };
    this.pods.set(pod.containerId, p);
    this.revision++;
    return p;
  }

  /** The CNI DEL was acknowledged. */
  podGone(containerId: string): void {
    if (this.pods.delete(containerId)) this.revision++;
  }

  pod(containerId: string): PodInterface | undefined {
    return this.pods.get(containerId);
  }

  podsOf(node: string): PodInterface[] {
    return [...this.pods.values()].filter((p) => p.node === node);
  }

  allPods(): PodInterface[] {
    return [...this.pods.values()];
  }

  /** The Service was accepted by the API server (its slice follows). */
  serviceUp(service: PlanService): void {
    this.services.set(service.name, service);
    this.revision++;
  }

  serviceGone(name: string): void {
    this.services.delete(name);
    this.slices.delete(name);
    this.revision++;
  }

  service(name: string): PlanService | undefined {
    return this.services.get(name);
  }

  allServices(): PlanService[] {
    return [...this.services.values()];
  }

  /** The EndpointSlice of a service was accepted with these endpoints. */
  sliceAccepted(name: string, endpoints: readonly SliceEndpoint[]): void {
    if (!this.services.has(name)) return;
    this.slices.set(name, endpoints);
    this.revision++;
  }

  slice(name: string): readonly SliceEndpoint[] {
    return this.slices.get(name) ?? [];
  }

  /** A service as the agent maps it: ClusterIP:port/protocol and its programmable endpoints. */
  servicePort(s: PlanService): ServicePort {
    const endpoints: Endpoint[] = this.slice(s.name)
      .filter((e) => e.ready || (e.serving && e.terminating))
      .map((e) => ({ ipv4: ip(e.ipv4), port: s.targetPort, node: e.node, ready: e.ready, serving: e.serving, terminating: e.terminating }))
      .sort((a, b) => a.ipv4 - b.ipv4);
    return { namespace: 'sim', name: s.name, portName: '', clusterIp: ip(s.clusterIp), port: s.port, protocol: s.protocol, endpoints };
  }

  fullState(node: string): FullState {
    return {
      node,
      revision: this.revision,
      host: this.hosts.get(node),
      pods: this.podsOf(node).sort((a, b) => (a.containerId < b.containerId ? -1 : 1)),
      services: this.allServices().map((s) => this.servicePort(s)),
    };
  }

  get changes(): number {
    return this.revision;
  }
}
