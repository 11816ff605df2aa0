/**
 * From Kubernetes objects to the agent's intent: a Service and all of its EndpointSlices become
 * ServicePorts (ClusterIP:port/protocol with endpoints), a Node becomes NodeInfo. Pure functions,
 * no I/O: this is the edge where wire types (@kubernetes/client-node models, or the raw JSON of
 * watch events — same field names) turn into ours, and the actors never see the former.
 *
 * What is offloaded, and what is skipped (each skip is reported with its reason):
 * - ClusterIP services with an IPv4 cluster IP; headless (`None`), ExternalName and IPv6-only
 *   services are not load-balanced here.
 * - TCP and UDP ports; SCTP is not offloaded.
 * - Endpoints come from every slice of the service (label kubernetes.io/service-name), IPv4
 *   slices only, merged and de-duplicated by address and port (a later slice in name order
 *   wins, as in kube-proxy). The target port of a service port is the port of the slice port
 *   with the same name (and protocol), so a named targetPort resolves per slice.
 * - Conditions as kube-proxy reads them: `ready` absent = ready; `serving` absent = ready;
 *   `terminating` absent = false. An endpoint is kept when new connections may use it (ready) or
 *   when it still serves while terminating (its connections drain, and it is the fallback when
 *   nothing is ready); the manager picks among them with `forNewConnections`.
 * - internalTrafficPolicy Local keeps only the endpoints on this node.
 *
 * @example
 * const { ports, skipped } = servicePorts(service, slices, 'node-1');
 * // ports: [{ clusterIp: 10.96.0.10, port: 80, protocol: 'TCP', endpoints: [...] }]
 */
import type { V1EndpointConditions, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { ValidationError } from '../../messages/errors.js';
import { dnsLabel, dnsSubdomain, formatCidr, ipv4Cidr, nodeName, parseIpv4, port, portName, unicastIpv4 } from '../../messages/validate.js';
import { MAX_ENDPOINTS, type Endpoint, type Protocol, type ServicePort } from '../../protocol/intent.js';

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface Conditions {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

export interface ServiceMapping {
  /** Sorted by port then protocol; each port's endpoints sorted by address then port. */
  readonly ports: ServicePort[];
  /** Why parts of the service were left out, for the log. */
  readonly skipped: string[];
}

export interface NodeInfo {
  readonly name: string;
  /** IPv4 pod ranges, from spec.podCIDRs (or spec.podCIDR). */
  readonly podCidrs: readonly string[];
  /** The first IPv4 InternalIP in status.addresses. */
  readonly internalIp: number | undefined;
}

/** "namespace/name": how a Service (and the slices that name it) is keyed. */
export function serviceId(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? 'default'}/${name ?? ''}`;
}

/** The Service a slice belongs to, or undefined for a slice without the label. */
export function sliceServiceId(slice: Pick<V1EndpointSlice, 'metadata'>): string | undefined {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return name ? serviceId(slice.metadata?.namespace, name) : undefined;
}

/** kube-proxy's reading of endpoint conditions (absent ready/serving = ready; absent terminating = false). */
export function endpointConditions(c: V1EndpointConditions | undefined): Conditions {
  const ready = c?.ready ?? true;
  return { ready, serving: c?.serving ?? ready, terminating: c?.terminating ?? false };
}

/** Whether an endpoint is worth programming: usable now, or draining while terminating. */
export function isProgrammable(c: Conditions): boolean {
  return c.ready || (c.serving && c.terminating);
}

/**
 * kube-proxy's choice for new connections: the ready endpoints; if none is ready, those that
 * are serving and terminating; otherwise none (new connections are rejected).
 *
 * @example
 * forNewConnections([{ ..., ready: false, serving: true, terminating: true }]); // that one
 */
export function forNewConnections<E extends Conditions>(endpoints: readonly E[]): E[] {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return endpoints.filter((e) => e.serving && e.terminating);
}

/** The ServicePorts of a Service given all of its slices (any order; others' slices are ignored). */
export function servicePorts(service: V1Service, slices: readonly V1EndpointSlice[], node: string): ServiceMapping {
  const skipped: string[] = [];
  const id = serviceId(service.metadata?.namespace, service.metadata?.name);
  const identity = checked(() => ({ namespace: dnsLabel(service.metadata?.namespace ?? 'default', 'namespace'), name: dnsSubdomain(service.metadata?.name, 'name') }));
  if (!identity.ok) return { ports: [], skipped: [`${id}: ${identity.reason}`] };
  const clusterIp = clusterIpv4(service);
  if (typeof clusterIp === 'string') return { ports: [], skipped: [`${id}: ${clusterIp}`] };
  const own = slices
    .filter((s) => sliceServiceId(s) === id)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const s of own) if (s.addressType !== 'IPv4') skipped.push(`${id}: slice ${s.metadata?.name ?? '?'} has ${s.addressType} addresses`);
  const ipv4Slices = own.filter((s) => s.addressType === 'IPv4');
  const local = service.spec?.internalTrafficPolicy === 'Local' ? node : undefined;
  const ports: ServicePort[] = [];
  for (const sp of service.spec?.ports ?? []) {
    const protocol = sp.protocol ?? 'TCP';
    const name = sp.name ?? '';
    if (protocol !== 'TCP' && protocol !== 'UDP') {
      skipped.push(`${id}: port ${name || sp.port}: ${protocol} is not offloaded`);
      continue;
    }
    const head = checked(() => ({ port: port(sp.port, 'port'), portName: portName(name, 'name') }));
    if (!head.ok) {
      skipped.push(`${id}: port ${name || String(sp.port)}: ${head.reason}`);
      continue;
    }
    const endpoints = mergeEndpoints(ipv4Slices, name, protocol, local, (why) => skipped.push(`${id}: ${why}`));
    ports.push({ ...identity.value, portName: head.value.portName, clusterIp, port: head.value.port, protocol, endpoints });
  }
  ports.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
  return { ports, skipped };
}

/** The endpoints of one service port across slices: merged, de-duplicated, sorted. */
function mergeEndpoints(
  slices: readonly V1EndpointSlice[],
  name: string,
  protocol: Protocol,
  onlyNode: string | undefined,
  skip: (why: string) => void,
): Endpoint[] {
  const byAddress = new Map<number, Endpoint>();
  for (const slice of slices) {
    const target = slice.ports?.find((p) => (p.name ?? '') === name && (p.protocol ?? 'TCP') === protocol);
    if (target?.port === undefined || target.port === null) continue;
    const targetPort = checked(() => port(target.port, 'port'));
    if (!targetPort.ok) {
      skip(`slice ${slice.metadata?.name ?? '?'} port ${name}: ${targetPort.reason}`);
      continue;
    }
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      const where = `slice ${slice.metadata?.name ?? '?'} endpoint ${address ?? '?'}`;
      const parsed = checked(() => ({ ipv4: unicastIpv4(address, 'address'), node: nodeName(ep.nodeName, 'nodeName') }));
      if (!parsed.ok) {
        skip(`${where}: ${parsed.reason}`);
        continue;
      }
      if (onlyNode !== undefined && parsed.value.node !== onlyNode) continue;
      const c = endpointConditions(ep.conditions);
      if (!isProgrammable(c)) continue;
      byAddress.set(parsed.value.ipv4 * 65536 + targetPort.value, { ...parsed.value, port: targetPort.value, ...c });
    }
  }
  const endpoints = [...byAddress.values()].sort((a, b) => a.ipv4 - b.ipv4 || a.port - b.port);
  if (endpoints.length > MAX_ENDPOINTS) {
    skip(`port ${name}: ${endpoints.length - MAX_ENDPOINTS} endpoints beyond the limit of ${MAX_ENDPOINTS}`);
    endpoints.length = MAX_ENDPOINTS;
  }
  return endpoints;
}

/** The service's IPv4 cluster IP, or why it has none we can balance. */
function clusterIpv4(service: V1Service): number | string {
  const spec = service.spec;
  if (spec?.type === 'ExternalName') return 'ExternalName services have no cluster IP';
  const candidates = [spec?.clusterIP, ...(spec?.clusterIPs ?? [])].filter((ip): ip is string => typeof ip === 'string' && ip !== '');
  if (candidates.length === 0) return 'no cluster IP yet';
  if (candidates.includes('None')) return 'headless (clusterIP None): not load-balanced';
  for (const ip of candidates) {
    if (parseIpv4(ip) === undefined) continue;
    const r = checked(() => unicastIpv4(ip, 'clusterIP'));
    return r.ok ? r.value : r.reason;
  }
  return `no IPv4 cluster IP (${candidates.join(', ')})`;
}

/** The node's pod ranges and InternalIP (IPv4 only; anything else is ignored). */
export function nodeInfo(node: V1Node): NodeInfo {
  const cidrs = [...(node.spec?.podCIDRs ?? []), ...(node.spec?.podCIDR ? [node.spec.podCIDR] : [])];
  const podCidrs = [...new Set(cidrs.flatMap((c) => {
    const r = checked(() => formatCidr(ipv4Cidr(c, 'podCIDR')));
    return r.ok ? [r.value] : [];
  }))];
  let internalIp: number | undefined;
  for (const a of node.status?.addresses ?? []) {
    if (a.type !== 'InternalIP' || internalIp !== undefined) continue;
    const r = checked(() => unicastIpv4(a.address, 'address'));
    if (r.ok) internalIp = r.value;
  }
  return { name: node.metadata?.name ?? '', podCidrs, internalIp };
}

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Runs one of our validators; a ValidationError becomes a reason to skip, anything else propagates. */
function checked<T>(f: () => T): Checked<T> {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof ValidationError) return { ok: false, reason: e.message };
    throw e;
  }
}
