/**
 * The Kubernetes objects the simulator writes, as kubectl and the endpoint-slice controller would:
 * a ClusterIP Service selecting `app=<app>`, and one IPv4 EndpointSlice per Service (label
 * kubernetes.io/service-name) listing the selected pods with their node and conditions. Pure.
 *
 * @example
 * serviceObject({ name: 'svc-0', clusterIp: '10.96.0.10', port: 80, protocol: 'TCP', targetPort: 8080, app: 'app-0' });
 */
import type { KubeObject } from '../kube/store.js';
import type { PlanService } from './plan-types.js';
import type { SliceEndpoint } from './sim-truth.js';

export const SIM_NAMESPACE = 'sim';

export function serviceObject(s: PlanService): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: SIM_NAMESPACE },
    spec: {
      type: 'ClusterIP',
      clusterIP: s.clusterIp,
      clusterIPs: [s.clusterIp],
      selector: { app: s.app },
      ports: [{ port: s.port, protocol: s.protocol, targetPort: s.targetPort }],
    },
  };
}

export function sliceName(service: string): string {
  return `${service}-sim`;
}

export function sliceObject(s: PlanService, endpoints: readonly SliceEndpoint[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: sliceName(s.name), namespace: SIM_NAMESPACE, labels: { 'kubernetes.io/service-name': s.name } },
    addressType: 'IPv4',
    ports: [{ name: '', port: s.targetPort, protocol: s.protocol }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ipv4],
      nodeName: e.node,
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
    })),
  };
}
