/**
 * Intent messages: pod interfaces, the host interface and service ports with their endpoints.
 * Wire text (dotted IPv4, MAC) becomes numbers here, at the edge; everything is range-checked.
 *
 * @example
 * const r = podAddCodec.decode(bytes);
 * if (r.ok) console.log(formatIpv4(r.value.ipv4)); // "10.244.0.5"
 */
import { protoCodec, type WireMessage } from '../messages/codec.js';
import { ValidationError } from '../messages/errors.js';
import {
  containerId,
  dnsLabel,
  dnsSubdomain,
  enumValue,
  formatCidr,
  formatIpv4,
  interfaceName,
  ipv4Cidr,
  macToBytes,
  nodeName,
  port,
  portName,
  present,
  u64,
  uint,
  unicastIpv4,
  unicastMac,
} from '../messages/validate.js';
import { wireType } from './root.js';

export type Protocol = 'TCP' | 'UDP';
const PROTOCOL_TO_WIRE: Record<Protocol, number> = { TCP: 1, UDP: 2 };

/** Pool port ids: 0 is the gateway/ARP port and 1 the host interface; pods use 2 and above. */
export const FIRST_POD_PORT = 2;
export const MAX_PORT_ID = 65535;
/** Endpoints one service port may list in one message. */
export const MAX_ENDPOINTS = 16_384;

export interface PodInterface {
  readonly node: string;
  readonly namespace: string;
  readonly name: string;
  readonly containerId: string;
  readonly interfaceName: string;
  readonly portId: number;
  readonly ipv4: number;
  readonly mac: number;
}

export interface PodInterfaceDelete {
  readonly node: string;
  readonly containerId: string;
}

export interface HostInterface {
  readonly node: string;
  readonly interfaceName: string;
  readonly portId: number;
  readonly ipv4: number;
  readonly mac: number;
  readonly nodeIp: number;
  readonly podCidr: string;
}

export interface Endpoint {
  readonly ipv4: number;
  readonly port: number;
  readonly node: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

export interface ServiceKey {
  readonly clusterIp: number;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface ServicePort extends ServiceKey {
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly endpoints: readonly Endpoint[];
}

export interface ServiceUpsert {
  readonly node: string;
  readonly service: ServicePort;
}

export interface ServiceDelete extends ServiceKey {
  readonly node: string;
}

export interface ChangeReply {
  readonly revision: number;
  readonly changed: boolean;
}

/** A stable string key of a service port, e.g. "10.96.0.10:53/UDP". */
export function serviceKeyText(k: ServiceKey): string {
  return `${formatIpv4(k.clusterIp)}:${k.port}/${k.protocol}`;
}

export function protocolFromWire(value: unknown, field: string): Protocol {
  return enumValue(value, field, [1, 2] as const) === 1 ? 'TCP' : 'UDP';
}

export function podInterfaceToWire(p: PodInterface): WireMessage {
  return { ...p, mac: macToBytes(p.mac) };
}

export function podInterfaceFromWire(w: WireMessage, at: string): PodInterface {
  return {
    node: nodeName(w.node, `${at}node`),
    namespace: dnsLabel(w.namespace, `${at}namespace`),
    name: dnsSubdomain(w.name, `${at}name`),
    containerId: containerId(w.containerId, `${at}container_id`),
    interfaceName: interfaceName(w.interfaceName, `${at}interface_name`),
    portId: uint(w.portId, `${at}port_id`, FIRST_POD_PORT, MAX_PORT_ID),
    ipv4: unicastIpv4(w.ipv4, `${at}ipv4`),
    mac: unicastMac(w.mac, `${at}mac`),
  };
}

export function hostToWire(h: HostInterface): WireMessage {
  return { ...h, mac: macToBytes(h.mac) };
}

export function hostFromWire(w: WireMessage, at: string): HostInterface {
  return {
    node: nodeName(w.node, `${at}node`),
    interfaceName: interfaceName(w.interfaceName, `${at}interface_name`),
    portId: uint(w.portId, `${at}port_id`, 1, 1),
    ipv4: unicastIpv4(w.ipv4, `${at}ipv4`),
    mac: unicastMac(w.mac, `${at}mac`),
    nodeIp: unicastIpv4(w.nodeIp, `${at}node_ip`),
    podCidr: formatCidr(ipv4Cidr(w.podCidr, `${at}pod_cidr`)),
  };
}

export function servicePortToWire(s: ServicePort): WireMessage {
  return {
    namespace: s.namespace,
    name: s.name,
    portName: s.portName,
    clusterIp: s.clusterIp,
    port: s.port,
    protocol: PROTOCOL_TO_WIRE[s.protocol],
    endpoints: s.endpoints,
  };
}

export function servicePortFromWire(w: WireMessage, at: string): ServicePort {
  const wireEndpoints = Array.isArray(w.endpoints) ? (w.endpoints as WireMessage[]) : [];
  if (wireEndpoints.length > MAX_ENDPOINTS) {
    throw new ValidationError(`${at}endpoints`, `${wireEndpoints.length} endpoints exceed the limit of ${MAX_ENDPOINTS}`);
  }
  const seen = new Set<number>();
  const endpoints = wireEndpoints.map((e, i): Endpoint => {
    const f = `${at}endpoints[${i}].`;
    const ep: Endpoint = {
      ipv4: unicastIpv4(e.ipv4, `${f}ipv4`),
      port: port(e.port, `${f}port`),
      node: nodeName(e.node, `${f}node`),
      ready: e.ready === true,
      serving: e.serving === true,
      terminating: e.terminating === true,
    };
    const key = ep.ipv4 * 65536 + ep.port;
    if (seen.has(key)) throw new ValidationError(`${f}ipv4`, `${formatIpv4(ep.ipv4)}:${ep.port} is listed twice`);
    seen.add(key);
    return ep;
  });
  return {
    namespace: dnsLabel(w.namespace, `${at}namespace`),
    name: dnsSubdomain(w.name, `${at}name`),
    portName: portName(w.portName, `${at}port_name`),
    clusterIp: unicastIpv4(w.clusterIp, `${at}cluster_ip`),
    port: port(w.port, `${at}port`),
    protocol: protocolFromWire(w.protocol, `${at}protocol`),
    endpoints,
  };
}

const SMALL = { maxBytes: 4096, maxDepth: 2, maxFields: 64 };
const LARGE = { maxBytes: 1 << 20, maxDepth: 3, maxFields: 8 * MAX_ENDPOINTS + 64 };

export const podAddCodec = protoCodec<PodInterface>(
  wireType('PodInterfaceAdd'),
  {
    toWire: (p) => ({ interface: podInterfaceToWire(p) }),
    fromWire: (w) => podInterfaceFromWire(present(w.interface as WireMessage | undefined, 'interface'), 'interface.'),
  },
  SMALL,
);

export const podDeleteCodec = protoCodec<PodInterfaceDelete>(
  wireType('PodInterfaceDelete'),
  {
    toWire: (d) => ({ ...d }),
    fromWire: (w) => ({ node: nodeName(w.node, 'node'), containerId: containerId(w.containerId, 'container_id') }),
  },
  SMALL,
);

export const hostSetupCodec = protoCodec<HostInterface>(
  wireType('HostInterfaceSetup'),
  { toWire: hostToWire, fromWire: (w) => hostFromWire(w, '') },
  SMALL,
);

export const serviceUpsertCodec = protoCodec<ServiceUpsert>(
  wireType('ServiceUpsert'),
  {
    toWire: (u) => ({ node: u.node, service: servicePortToWire(u.service) }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      service: servicePortFromWire(present(w.service as WireMessage | undefined, 'service'), 'service.'),
    }),
  },
  LARGE,
);

export const serviceDeleteCodec = protoCodec<ServiceDelete>(
  wireType('ServiceDelete'),
  {
    toWire: (d) => ({ node: d.node, clusterIp: d.clusterIp, port: d.port, protocol: PROTOCOL_TO_WIRE[d.protocol] }),
    fromWire: (w) => ({
      node: nodeName(w.node, 'node'),
      clusterIp: unicastIpv4(w.clusterIp, 'cluster_ip'),
      port: port(w.port, 'port'),
      protocol: protocolFromWire(w.protocol, 'protocol'),
    }),
  },
  SMALL,
);

export const changeReplyCodec = protoCodec<ChangeReply>(
  wireType('ChangeReply'),
  {
    toWire: (r) => ({ ...r }),
    fromWire: (w) => ({ revision: u64(w.revision, 'revision'), changed: w.changed === true }),
  },
  SMALL,
);
