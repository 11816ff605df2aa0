/**
 * Views of intent objects both processes hold, for the operator's `pods` (protocol/ctl.ts): pod
 * interfaces and the host interface as text (dotted IPv4, MACs), in namespace/name order, bounded.
 *
 * @example
 * podsView(intent.pods.values(), 1000); // { count: 3, pods: [{ namespace: 'default', name: 'web-0', ipv4: '10.244.0.10', … }], omitted: 0 }
 */
import { formatIpv4, formatMac } from '../messages/validate.js';
import type { HostView, PodView } from '../protocol/ctl.js';
import type { HostInterface, PodInterface } from '../protocol/intent.js';

/** Namespace, then name. */
export const byName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }): number =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** One pod interface of the intent (the manager knows no netns or in-pod name). */
export function podView(p: PodInterface): PodView {
  return {
    containerId: p.containerId,
    namespace: p.namespace,
    name: p.name,
    ifname: '',
    poolInterface: p.interfaceName,
    portId: p.portId,
    mac: formatMac(p.mac),
    ipv4: formatIpv4(p.ipv4),
    netns: '',
    phase: '',
  };
}

/** The host interface (its pod CIDR was checked and normalised when it arrived). */
export function hostView(h: HostInterface): HostView {
  return { interfaceName: h.interfaceName, portId: h.portId, ipv4: formatIpv4(h.ipv4), mac: formatMac(h.mac), nodeIp: formatIpv4(h.nodeIp), podCidr: h.podCidr.slice(0, 18) };
}

/** The intent's pods in namespace/name order, at most `limit`. */
export function podsView(pods: Iterable<PodInterface>, limit: number): { count: number; pods: PodView[]; omitted: number } {
  const all = [...pods].sort((a, b) => byName(a, b) || a.containerId.localeCompare(b.containerId));
  return { count: all.length, pods: all.slice(0, limit).map(podView), omitted: Math.max(0, all.length - limit) };
}
