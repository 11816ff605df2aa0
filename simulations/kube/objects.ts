/**
 * Kubernetes objects as the API would hold them, built from a few fields: Services,
 * EndpointSlices and Nodes for tests, the demo and the simulator to apply to the stand-in.
 *
 * @example
 * await kube.apply(service('web', '10.96.0.10', [{ name: 'http', port: 80, targetPort: 8080 }]));
 * await kube.apply(slice('web-1', 'web', [{ ip: '10.244.0.5', node: 'node-1' }], [{ name: 'http', port: 8080 }]));
 */
import type { KubeObject } from './store.js';

export interface EndpointSpec {
  readonly ip: string;
  readonly node?: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface PortSpec {
  readonly name?: string;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly targetPort?: number | string;
}

export function service(name: string, clusterIP: string, ports: readonly PortSpec[], extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: ports.map((p) => ({ protocol: 'TCP', ...p })), ...extra },
  };
}

export function slice(name: string, serviceName: string, endpoints: readonly EndpointSpec[], ports: readonly PortSpec[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? 'node-1',
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.serving === undefined ? {} : { serving: e.serving }),
        ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
      },
    })),
  };
}

export function nodeObject(name: string, ip: string, podCIDR: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: { podCIDR, podCIDRs: [podCIDR] },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
  };
}

/** `n` endpoints 10.244.<third>.1… */
