/**
 * The agent's side of infra.v1.CniBackend (proto/infra/v1/cni.proto): requests from the exec'd
 * CNI plugin decoded and checked at the edge (the plugin is trusted no more than the bus), and
 * replies encoded. The plugin hand-encodes the same messages (cni/wire.ts).
 *
 * @example
 * const r = cniAddCodec.decode(bytes);
 * if (!r.ok) reply({ error: r.error }); else console.log(r.value.ifname); // "eth0"
 */
import { loadProtoRoot, protoCodec, type Codec, type WireMessage } from '../messages/codec.js';
import { errorCodeToWire, ValidationError, type BusError } from '../messages/errors.js';
import { containerId, dnsLabel, dnsSubdomain, interfaceName, uint, unicastIpv4 } from '../messages/validate.js';

const root = loadProtoRoot(['infra/v1/errors.proto', 'infra/v1/cni.proto']);
const type = (name: string) => root.lookupType(`infra.v1.${name}`);

/** Addresses and routes one ADD may carry: more is a malformed request, not a bigger pod. */
export const MAX_CNI_IPS = 8;
export const MAX_CNI_ROUTES = 64;
/** The MTU a request may ask for (0 = the agent's default). */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;

export interface CniIp {
  readonly address: number;
  readonly prefixLength: number;
  /** 0: none. */
  readonly gateway: number;
}

export interface CniRoute {
  readonly dst: number;
  readonly prefixLength: number;
  readonly gateway: number;
}

/** Who the request is about: the key (container id + ifname) and where the pod lives. */
export interface CniPodRef {
  readonly containerId: string;
  /** Absolute path of the pod's network namespace, or a name under /var/run/netns; '' only in DEL. */
  readonly netns: string;
  readonly ifname: string;
  readonly podNamespace: string;
  readonly podName: string;
  readonly network: string;
}

/** What a Prepare carries: where the interface goes, before IPAM has answered. */
export interface CniPrepare {
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly mtu: number;
}

export interface CniAdd extends CniPodRef {
  readonly ips: readonly CniIp[];
  readonly routes: readonly CniRoute[];
  /** 0: the agent's default. */
  readonly mtu: number;
}

export interface CniCheck extends CniAdd {
  readonly mac: string;
}

export interface CniAddResult {
  readonly ifname: string;
  readonly mac: string;
  readonly sandbox: string;
  readonly portId: number;
}

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** CNI_NETNS: an absolute path without '..' or NUL, or a plain namespace name. */
export function netnsRef(value: unknown, field: string, optional = false): string {
  if (optional && (value === '' || value === undefined)) return '';
  if (typeof value !== 'string' || value === '') throw new ValidationError(field, 'required');
  if (value.length > 4096) throw new ValidationError(field, 'longer than 4096 characters');
  if (value.startsWith('/')) {
    if (value.includes('\0') || value.split('/').includes('..')) throw new ValidationError(field, 'not a clean absolute path');
    return value;
  }
  if (value.length > 255 || !NETNS_NAME.test(value)) throw new ValidationError(field, `"${value.slice(0, 64)}" is neither an absolute path nor a namespace name`);
  return value;
}

function optionalText(value: unknown, field: string, check: (v: unknown, f: string) => string): string {
  return value === '' || value === undefined ? '' : check(value, field);
}

function podRefFromWire(w: WireMessage, netnsOptional: boolean): CniPodRef {
  const network = typeof w.network === 'string' ? w.network : '';
  if (network.length > 256) throw new ValidationError('network', 'longer than 256 characters');
  return {
    containerId: containerId(w.containerId, 'container_id'),
    netns: netnsRef(w.netns, 'netns', netnsOptional),
    ifname: interfaceName(w.ifname, 'ifname'),
    podNamespace: optionalText(w.podNamespace, 'pod_namespace', dnsLabel),
    podName: optionalText(w.podName, 'pod_name', dnsSubdomain),
    network,
  };
}

/** A fixed32 address that may be 0 (absent) or any IPv4 (route destinations include 0.0.0.0). */
function anyIpv4(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff ? value : 0;
}

/** An MTU field: 0 (the agent's default) or MIN_MTU–MAX_MTU. */
function mtuOf(value: unknown): number {
  const mtu = typeof value === 'number' ? value : 0;
  if (mtu !== 0 && (mtu < MIN_MTU || mtu > MAX_MTU)) throw new ValidationError('mtu', `${mtu} is outside ${MIN_MTU}–${MAX_MTU}`);
  return mtu;
}

function addFromWire(w: WireMessage): CniAdd {
  const ref = podRefFromWire(w, false);
  const rawIps = Array.isArray(w.ips) ? (w.ips as WireMessage[]) : [];
  const rawRoutes = Array.isArray(w.routes) ? (w.routes as WireMessage[]) : [];
  if (rawIps.length === 0) throw new ValidationError('ips', 'required: IPAM gave no address');
  if (rawIps.length > MAX_CNI_IPS) throw new ValidationError('ips', `more than ${MAX_CNI_IPS} addresses`);
  if (rawRoutes.length > MAX_CNI_ROUTES) throw new ValidationError('routes', `more than ${MAX_CNI_ROUTES} routes`);
  const ips = rawIps.map((ip, i) => ({
    address: unicastIpv4(ip.address, `ips[${i}].address`),
    prefixLength: uint(ip.prefixLength ?? 0, `ips[${i}].prefix_length`, 0, 32),
    gateway: anyIpv4(ip.gateway),
  }));
  const routes = rawRoutes.map((r, i) => ({
    dst: anyIpv4(r.dst),
    prefixLength: uint(r.dstPrefixLength ?? 0, `routes[${i}].dst_prefix_length`, 0, 32),
    gateway: anyIpv4(r.gateway),
  }));
  return { ...ref, ips, routes, mtu: mtuOf(w.mtu) };
}

const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SMALL = { maxBytes: 64 * 1024, maxDepth: 3, maxFields: 1024 };

function ipsToWire(ips: readonly CniIp[]) {
  return ips.map((i) => ({ address: i.address, prefixLength: i.prefixLength, gateway: i.gateway }));
}
function routesToWire(routes: readonly CniRoute[]) {
  return routes.map((r) => ({ dst: r.dst, dstPrefixLength: r.prefixLength, gateway: r.gateway }));
}

export const cniAddCodec: Codec<CniAdd> = protoCodec<CniAdd>(
  type('CniAddRequest'),
  { toWire: (a) => ({ ...a, ips: ipsToWire(a.ips), routes: routesToWire(a.routes) }), fromWire: addFromWire },
  SMALL,
);

export const cniPrepareCodec: Codec<CniPrepare> = protoCodec<CniPrepare>(
  type('CniPrepareRequest'),
  {
    toWire: (p) => ({ ...p }),
    fromWire: (w) => {
      return { containerId: containerId(w.containerId, 'container_id'), netns: netnsRef(w.netns, 'netns'), ifname: interfaceName(w.ifname, 'ifname'), mtu: mtuOf(w.mtu) };
    },
  },
  SMALL,
);

export const cniDelCodec: Codec<CniPodRef> = protoCodec<CniPodRef>(
  type('CniDelRequest'),
  { toWire: (d) => ({ ...d }), fromWire: (w) => podRefFromWire(w, true) },
  SMALL,
);

export const cniCheckCodec: Codec<CniCheck> = protoCodec<CniCheck>(
  type('CniCheckRequest'),
  {
    toWire: (c) => ({ ...c, ips: ipsToWire(c.ips), routes: routesToWire(c.routes) }),
    fromWire: (w) => {
      const add = addFromWire(w);
      const mac = typeof w.mac === 'string' ? w.mac.toLowerCase() : '';
      if (mac !== '' && !MAC_TEXT.test(mac)) throw new ValidationError('mac', `"${mac.slice(0, 32)}" is not a MAC address`);
      return { ...add, mac };
    },
  },
  SMALL,
);

const addReplyType = type('CniAddReply');
const delReplyType = type('CniDelReply');
const prepareReplyType = type('CniPrepareReply');
const checkReplyType = type('CniCheckReply');

function errorToWire(e: BusError) {
  return { code: errorCodeToWire(e.code), message: e.message.slice(0, 4096), field: e.field.slice(0, 256) };
}

/** CniAddReply bytes: the result, or the typed error. */
export function encodeAddReply(reply: { ok: true; value: CniAddResult } | { ok: false; error: BusError }): Uint8Array {
  return addReplyType.encode(reply.ok ? { ...reply.value } : { error: errorToWire(reply.error) }).finish();
}

/** CniDelReply / CniCheckReply / CniPrepareReply bytes: empty for success, else the typed error. */
export function encodeStatusReply(method: 'Del' | 'Check' | 'Prepare', error?: BusError): Uint8Array {
  const t = method === 'Del' ? delReplyType : method === 'Check' ? checkReplyType : prepareReplyType;
  return t.encode(error ? { error: errorToWire(error) } : {}).finish();
}
