/**
 * What `ip` prints for the synthetic kernel's links, addresses and routes: the JSON of `-j`
 * (field for field as iproute2 6.1 prints it, `-d` details included) and the plain text of
 * `link show`, `addr show` and `route show`. A TAP never has a carrier here (no process holds
 * it), so an UP one reads NO-CARRIER, operstate DOWN, and its routes `linkdown`, as on Linux.
 *
 * @example
 * linkJson(link, true); // { ifindex: 2, ifname: 'P4TAP_0', flags: ['BROADCAST', 'MULTICAST'], … }
 */
import { formatDst } from './ipv4.js';
import { mtuBounds } from './model.js';
import type { AddrState, LinkState, NamespaceState, RouteState } from './state.js';

const FOREVER = 4294967295;

export function flagsOf(link: LinkState): string[] {
  switch (link.type) {
    case 'loopback':
      return link.up ? ['LOOPBACK', 'UP', 'LOWER_UP'] : ['LOOPBACK'];
    case 'tap':
      return link.up ? ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'] : ['BROADCAST', 'MULTICAST'];
    case 'tun':
      return link.up ? ['NO-CARRIER', 'POINTOPOINT', 'MULTICAST', 'NOARP', 'UP'] : ['POINTOPOINT', 'MULTICAST', 'NOARP'];
  }
}

const qdiscOf = (l: LinkState): string => (!l.qdiscActive ? 'noop' : l.type === 'loopback' ? 'noqueue' : 'pfifo_fast');
const operstateOf = (l: LinkState): string => (l.type === 'loopback' && l.up ? 'UNKNOWN' : 'DOWN');
const txqlenOf = (l: LinkState): number => (l.type === 'tun' ? 500 : 1000);
const linkTypeOf = (l: LinkState): string => (l.type === 'loopback' ? 'loopback' : l.type === 'tap' ? 'ether' : 'none');
const broadcastOf = (l: LinkState): string => (l.type === 'loopback' ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff');

/** Links in dump order (by ifindex). */
export function byIndex(ns: NamespaceState): LinkState[] {
  return [...ns.links].sort((a, b) => a.ifindex - b.ifindex);
}

/** `ip [-d] -j link show` of one link. */
export function linkJson(l: LinkState, details: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ifindex: l.ifindex,
    ifname: l.name,
    flags: flagsOf(l),
    mtu: l.mtu,
    qdisc: qdiscOf(l),
    operstate: operstateOf(l),
    linkmode: 'DEFAULT',
    group: 'default',
    txqlen: txqlenOf(l),
    link_type: linkTypeOf(l),
  };
  if (l.mac !== null) {
    out.address = l.mac;
    out.broadcast = broadcastOf(l);
  }
  if (!details) return out;
  const { min, max } = mtuBounds(l.type);
  Object.assign(out, { promiscuity: 0, allmulti: 0, min_mtu: min, max_mtu: max });
  if (l.type !== 'loopback') {
    out.linkinfo = { info_kind: 'tun', info_data: { type: l.type, pi: false, vnet_hdr: false, multi_queue: false, persist: true } };
  }
  Object.assign(out, {
    inet6_addr_gen_mode: 'eui64',
    num_tx_queues: 1,
    num_rx_queues: 1,
    gso_max_size: 65536,
    gso_max_segs: 65535,
    tso_max_size: l.type === 'loopback' ? 524280 : 65536,
    tso_max_segs: 65535,
    gro_max_size: 65536,
  });
  return out;
}

function linkLine(l: LinkState, mode: boolean): string {
  return `${l.ifindex}: ${l.name}: <${flagsOf(l).join(',')}> mtu ${l.mtu} qdisc ${qdiscOf(l)} state ${operstateOf(l)}${mode ? ' mode DEFAULT' : ''} group default qlen ${txqlenOf(l)}\n`;
}

function linkLayerLine(l: LinkState): string {
  return l.mac === null ? '    link/none \n' : `    link/${linkTypeOf(l)} ${l.mac} brd ${broadcastOf(l)}\n`;
}

/** `ip link show` of one link (text, without -d). */
export function linkText(l: LinkState): string {
  return linkLine(l, true) + linkLayerLine(l);
}

/** IPv4 addresses and, for `lo` while it is up, ::1 (TAPs never get IPv6: no carrier). */
function addrInfos(l: LinkState, only4: boolean): Record<string, unknown>[] {
  const v4 = l.addrs.map((a: AddrState) => ({
    family: 'inet',
    local: a.local,
    prefixlen: a.prefixlen,
    scope: a.scope,
    ...(a.secondary ? { secondary: true } : {}),
    label: l.name,
    valid_life_time: FOREVER,
    preferred_life_time: FOREVER,
  }));
  if (only4 || l.type !== 'loopback' || !l.up) return v4;
  return [...v4, { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host', valid_life_time: FOREVER, preferred_life_time: FOREVER }];
}

/** `ip -j [-4] addr show` of one link; undefined when `-4` and it has no IPv4 address (iproute2 skips it). */
export function addrJson(l: LinkState, only4: boolean): Record<string, unknown> | undefined {
  const info = addrInfos(l, only4);
  if (only4 && info.length === 0) return undefined;
  const out: Record<string, unknown> = {
    ifindex: l.ifindex,
    ifname: l.name,
    flags: flagsOf(l),
    mtu: l.mtu,
    qdisc: qdiscOf(l),
    operstate: operstateOf(l),
    group: 'default',
    txqlen: txqlenOf(l),
  };
  if (!only4) {
    out.link_type = linkTypeOf(l);
    if (l.mac !== null) {
      out.address = l.mac;
      out.broadcast = broadcastOf(l);
    }
  }
  out.addr_info = info;
  return out;
}

/** `ip [-4] addr show` of one link (text); '' when `-4` and it has no IPv4 address. */
export function addrText(l: LinkState, only4: boolean): string {
  if (only4 && l.addrs.length === 0) return '';
  let out = linkLine(l, false) + (only4 ? '' : linkLayerLine(l));
  for (const a of l.addrs) {
    out += `    inet ${a.local}/${a.prefixlen} scope ${a.scope}${a.secondary ? ' secondary' : ''} ${l.name}\n       valid_lft forever preferred_lft forever\n`;
  }
  if (!only4 && l.type === 'loopback' && l.up) out += '    inet6 ::1/128 scope host \n       valid_lft forever preferred_lft forever\n';
  return out;
}

function routeFlags(r: RouteState, ns: NamespaceState): string[] {
  const dev = ns.links.find((l) => l.ifindex === r.ifindex);
  return [...(r.onlink ? ['onlink'] : []), ...(dev && dev.type !== 'loopback' ? ['linkdown'] : [])];
}

const devName = (r: RouteState, ns: NamespaceState): string => ns.links.find((l) => l.ifindex === r.ifindex)?.name ?? `if${r.ifindex}`;

/** `ip -j route show` of one route; `dev` left out when the listing is filtered by device. */
export function routeJson(r: RouteState, ns: NamespaceState, filtered: boolean): Record<string, unknown> {
  return {
    dst: formatDst(r.dst, r.len),
    ...(r.gateway !== null ? { gateway: r.gateway } : {}),
    ...(filtered ? {} : { dev: devName(r, ns) }),
    ...(r.proto === 'kernel' ? { protocol: 'kernel' } : {}),
    ...(r.scope !== 'global' ? { scope: r.scope } : {}),
    ...(r.prefsrc !== null ? { prefsrc: r.prefsrc } : {}),
    flags: routeFlags(r, ns),
  };
}

/** `ip route show` of one route (text). */
export function routeText(r: RouteState, ns: NamespaceState, filtered: boolean): string {
  const parts = [formatDst(r.dst, r.len)];
  if (r.gateway !== null) parts.push('via', r.gateway);
  if (!filtered) parts.push('dev', devName(r, ns));
  if (r.proto === 'kernel') parts.push('proto', 'kernel');
  if (r.scope !== 'global') parts.push('scope', r.scope);
  if (r.prefsrc !== null) parts.push('src', r.prefsrc);
  parts.push(...routeFlags(r, ns));
  return `${parts.join(' ')} \n`;
}
