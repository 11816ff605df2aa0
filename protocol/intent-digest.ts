/**
 * The digest of a node's intent, the same on every side that holds it (the agent's IntentState,
 * the manager's ManagerIntent): SHA-256 over a canonical form — every field named here in a
 * fixed order, pods by container id, service ports by (cluster IP, port, protocol), endpoints by
 * (address, port). Objects built by different code (the agent's pod hub, a codec's fromWire) may
 * order their properties differently; a digest of `JSON.stringify(object)` would then differ for
 * equal intent, and offloadctl would report a difference that is not there.
 *
 * @example
 * const same = intentDigest(a.host, a.pods.values(), a.services.values()) === intentDigest(b.host, b.pods.values(), b.services.values());
 */
import { createHash } from 'node:crypto';
import type { Endpoint, HostInterface, PodInterface, ServicePort } from './intent.js';

const podForm = (p: PodInterface) => [p.node, p.namespace, p.name, p.containerId, p.interfaceName, p.portId, p.ipv4, p.mac];
const hostForm = (h: HostInterface) => [h.node, h.interfaceName, h.portId, h.ipv4, h.mac, h.nodeIp, h.podCidr];
const endpointForm = (e: Endpoint) => [e.ipv4, e.port, e.node, e.ready, e.serving, e.terminating];

function serviceForm(s: ServicePort): unknown[] {
  const eps = [...s.endpoints].sort((a, b) => a.ipv4 - b.ipv4 || a.port - b.port || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return [s.clusterIp, s.port, s.protocol, s.namespace, s.name, s.portName, eps.map(endpointForm)];
}

/** Order-independent: equal intent gives equal digests, whatever order or property order it is held in. */
export function intentDigest(host: HostInterface | undefined, pods: Iterable<PodInterface>, services: Iterable<ServicePort>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(host ? hostForm(host) : null));
  const sortedPods = [...pods].sort((a, b) => (a.containerId < b.containerId ? -1 : a.containerId > b.containerId ? 1 : 0));
  for (const p of sortedPods) hash.update(JSON.stringify(podForm(p)));
  const sortedServices = [...services].sort((a, b) => a.clusterIp - b.clusterIp || a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  for (const s of sortedServices) hash.update(JSON.stringify(serviceForm(s)));
  return hash.digest('hex');
}
