/**
 * The synthetic kernel's semantics: what Linux (6.x, checked on 6.18 with iproute2 6.1) does to
 * namespaces, links, IPv4 addresses and main-table routes for the requests the agent makes, on
 * the plain state of state.ts. Each operation changes the state in place and throws an
 * `IpFailure` with iproute2's message where the kernel refuses; like the kernel's, a multi-part
 * request (move + MTU + rename) keeps the parts done before the one that failed.
 *
 * Modelled rules (each checked against the real kernel by test/simulations/synthetic-kernel.test.ts):
 * - a TAP moved to another namespace goes down and loses its addresses and routes, keeps its MAC
 *   and MTU, keeps its ifindex if free there; it moves under its own name when that is free in
 *   the target, else under the new name asked for; the MTU is set, then the rename (File exists
 *   after the move already happened, as Linux does);
 * - renaming an UP link is allowed (Linux ≥ 6.x; `liveRename: false` refuses it with EBUSY as
 *   older kernels did);
 * - a link set down loses its main-table routes; routes need their device UP; a gateway without
 *   `onlink` must be covered by a link-scope route of the device; an `onlink` gateway needs the
 *   namespace's local table (made by its first address) and must not be a local address;
 * - an address in the subnet of an earlier one with the same prefix length is secondary and is
 *   deleted with its primary (promote_secondaries off); a non-/32 address on an UP link adds its
 *   `proto kernel scope link` prefix route; `lo` up gets 127.0.0.1/8;
 * - routes are kept in the kernel's dump order: network address, then longest prefix first.
 *
 * @example
 * const model = new KernelModel(newKernelState(1));
 * model.tuntapAdd(INIT_NS, 'tap0', 'tap');
 */
import { seededRandom, type Random } from '../../core/random.js';
import { IpFailure } from './errors.js';
import { contains, formatIpv4, maskOf, networkOf, parseIpv4, type Prefix } from './ipv4.js';
import { INIT_NS, newNamespace, type AddrState, type KernelState, type LinkState, type LinkType, type NamespaceState, type RouteState, type Scope } from './state.js';

/** What one `ip link set` asks, applied in the kernel's order: netns, MTU, name, up/down. */
export interface LinkChange {
  /** The target namespace's key. */
  readonly netns?: string;
  readonly mtu?: number;
  readonly name?: string;
  readonly up?: boolean;
}

/** A route as `ip route replace` gives it (the device resolved by the caller when named). */
export interface RouteSpec {
  readonly dst: Prefix;
  readonly gateway?: number;
  readonly dev?: string;
  readonly scope?: Scope;
  readonly onlink: boolean;
}

/** What `ip route del` matches on (only the given parts). */
export interface RouteMatch {
  readonly dst: Prefix;
  readonly gateway?: number;
  readonly dev?: string;
  readonly scope?: Scope;
}

const EEXIST = 'RTNETLINK answers: File exists';
const ESRCH = 'RTNETLINK answers: No such process';
const SCOPE_VALUE: Record<Scope, number> = { global: 0, link: 253, host: 254 };

export const cannotFind = (dev: string): IpFailure => new IpFailure(`Cannot find device "${dev}"`, 1);

/** MTU bounds per link type, as the devices report them (0 = none). */
export function mtuBounds(type: LinkType): { min: number; max: number } {
  if (type === 'loopback') return { min: 0, max: 0 };
  return { min: 68, max: type === 'tun' ? 65535 : 65521 };
}

export interface ModelOptions {
  /** Allow renaming an UP link (Linux ≥ 6.x; default true). */
  readonly liveRename?: boolean;
}

export class KernelModel {
  private readonly random: Random;
  /** Set by every change; the runner persists and clears it. */
  dirty = false;

  constructor(
    readonly state: KernelState,
    private readonly options: ModelOptions = {},
  ) {
    const rnd = seededRandom(state.seed);
    for (let i = 0; i < state.draws; i++) rnd.next();
    this.random = rnd;
  }

  // ---- namespaces ----

  ns(key: string): NamespaceState | undefined {
    return this.state.namespaces[key];
  }

  /** The namespace, which the caller knows exists. */
  private must(key: string): NamespaceState {
    const ns = this.state.namespaces[key];
    if (!ns) throw new IpFailure(`Cannot open network namespace "${key}": No such file or directory`, 255);
    return ns;
  }

  /** A new namespace (`lo` down) under `name`, identified by its marker's `id`. */
  addNamespace(name: string, id: string): void {
    this.state.namespaces[name] = newNamespace(id, this.state.nextSerial++);
    this.dirty = true;
  }

  /** Removes a namespace; its devices (all virtual) are destroyed with it, as Linux does. */
  removeNamespace(name: string): LinkState[] {
    const ns = this.state.namespaces[name];
    if (!ns || name === INIT_NS) return [];
    delete this.state.namespaces[name];
    this.dirty = true;
    return ns.links;
  }

  // ---- links ----

  link(key: string, name: string): LinkState | undefined {
    return this.must(key).links.find((l) => l.name === name);
  }

  /** The link, or iproute2's "Cannot find device". */
  dev(key: string, name: string): LinkState {
    const link = this.link(key, name);
    if (!link) throw cannotFind(name);
    return link;
  }

  /** `ip tuntap add dev NAME mode tap|tun`: a persistent device, down, MTU 1500, a fresh MAC for a TAP. */
  tuntapAdd(key: string, name: string, mode: 'tap' | 'tun'): LinkState {
    const ns = this.must(key);
    // iproute2 asks with IFF_TUN_EXCL: any device of that name makes TUNSETIFF fail.
    if (ns.links.some((l) => l.name === name)) throw new IpFailure('ioctl(TUNSETIFF): Device or resource busy', 1);
    const link: LinkState = {
      serial: this.state.nextSerial++,
      ifindex: this.allocIfindex(ns),
      name,
      type: mode,
      mac: mode === 'tap' ? this.drawMac() : null,
      mtu: 1500,
      up: false,
      qdiscActive: false,
      addrs: [],
    };
    ns.links.push(link);
    this.dirty = true;
    return link;
  }

  /** `ip link set dev NAME …` in namespace `key`; returns where the link ended up. */
  setLink(key: string, name: string, change: LinkChange): { key: string; link: LinkState } {
    let where = key;
    const link = this.dev(key, name);
    if (change.netns !== undefined && change.netns !== key) {
      if (link.type === 'loopback') throw new IpFailure('Error: The interface netns is immutable.', 2);
      const target = this.must(change.netns);
      let arriving = link.name;
      if (target.links.some((l) => l.name === link.name)) {
        // The kernel uses the new name as the pattern only when the current one is taken there.
        if (change.name === undefined) throw new IpFailure('Error: An interface with the same name exists in the target netns.', 2);
        if (target.links.some((l) => l.name === change.name)) throw new IpFailure(`Error: Unable to use '${change.name}' for the new interface name in the target netns.`, 2);
        arriving = change.name;
      }
      this.move(key, change.netns, link, arriving);
      where = change.netns;
    }
    if (change.mtu !== undefined && change.mtu !== link.mtu) {
      const { min, max } = mtuBounds(link.type);
      if (change.mtu < min) throw new IpFailure('Error: mtu less than device minimum.', 2);
      if (max > 0 && change.mtu > max) throw new IpFailure('Error: mtu greater than device maximum.', 2);
      link.mtu = change.mtu;
      this.dirty = true;
    }
    if (change.name !== undefined && change.name !== link.name) {
      if (this.must(where).links.some((l) => l.name === change.name)) throw new IpFailure(EEXIST, 2);
      if (link.up && this.options.liveRename === false) throw new IpFailure('RTNETLINK answers: Device or resource busy', 2);
      link.name = change.name;
      this.dirty = true;
    }
    if (change.up === true) this.up(where, link);
    if (change.up === false) this.down(where, link);
    return { key: where, link };
  }

  private move(from: string, to: string, link: LinkState, name: string): void {
    const source = this.must(from);
    const target = this.must(to);
    this.down(from, link);
    source.links.splice(source.links.indexOf(link), 1);
    link.addrs = [];
    link.qdiscActive = false;
    link.name = name;
    if (target.links.some((l) => l.ifindex === link.ifindex)) link.ifindex = this.allocIfindex(target);
    target.links.push(link);
    this.dirty = true;
  }

  private up(key: string, link: LinkState): void {
    if (link.up) return;
    const ns = this.must(key);
    link.up = true;
    link.qdiscActive = true;
    if (link.type === 'loopback') this.insertAddr(ns, link, { addr: 0x7f000001, len: 8 });
    for (const a of link.addrs) if (!a.secondary) this.addPrefixRoute(ns, link, a);
    this.dirty = true;
  }

  private down(key: string, link: LinkState): void {
    if (!link.up) return;
    const ns = this.must(key);
    link.up = false;
    ns.routes = ns.routes.filter((r) => r.ifindex !== link.ifindex);
    this.dirty = true;
  }

  private allocIfindex(ns: NamespaceState): number {
    let i = ns.nextIfindex;
    while (ns.links.some((l) => l.ifindex === i)) i++;
    ns.nextIfindex = i + 1;
    return i;
  }

  /** A locally administered unicast MAC from the seeded stream, unique in the kernel. */
  private drawMac(): string {
    const taken = new Set(Object.values(this.state.namespaces).flatMap((n) => n.links.map((l) => l.mac)));
    for (;;) {
      const bytes = Array.from({ length: 6 }, () => {
        this.state.draws++;
        return Math.floor(this.random.next() * 256);
      });
      bytes[0] = (bytes[0]! & 0xfe) | 0x02;
      const mac = bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
      if (!taken.has(mac)) return mac;
    }
  }

  // ---- addresses ----

  /** `ip addr replace A/L dev NAME`. */
  replaceAddr(key: string, name: string, prefix: Prefix): void {
    const ns = this.must(key);
    const link = this.dev(key, name);
    const local = formatIpv4(prefix.addr);
    if (link.addrs.some((a) => a.local === local && a.prefixlen === prefix.len)) return;
    this.insertAddr(ns, link, prefix);
  }

  private insertAddr(ns: NamespaceState, link: LinkState, prefix: Prefix): void {
    const local = formatIpv4(prefix.addr);
    if (link.addrs.some((a) => a.local === local && a.prefixlen === prefix.len)) return;
    const scope = prefix.addr >>> 24 === 127 ? 'host' : 'global';
    const secondary = link.addrs.some((a) => !a.secondary && a.prefixlen === prefix.len && networkOf(parseIpv4(a.local)!, prefix.len) === networkOf(prefix.addr, prefix.len));
    const addr: AddrState = { local, prefixlen: prefix.len, scope, secondary };
    if (secondary) {
      link.addrs.push(addr);
    } else {
      // A primary goes after the last primary of the same or a wider scope (host before global).
      let at = 0;
      link.addrs.forEach((a, i) => {
        if (!a.secondary && SCOPE_VALUE[scope] <= SCOPE_VALUE[a.scope]) at = i + 1;
      });
      link.addrs.splice(at, 0, addr);
      if (link.up) this.addPrefixRoute(ns, link, addr);
    }
    ns.localTable = true;
    this.dirty = true;
  }

  /** `ip addr del A/L dev NAME`: a primary takes its secondaries with it. */
  delAddr(key: string, name: string, prefix: Prefix): void {
    const ns = this.must(key);
    const link = this.dev(key, name);
    const local = formatIpv4(prefix.addr);
    const found = link.addrs.find((a) => a.local === local && a.prefixlen === prefix.len);
    if (!found) throw new IpFailure('Error: ipv4: Address not found.', 2);
    this.removeAddr(ns, link, found);
  }

  /** `ip addr flush dev NAME`. */
  flushAddrs(key: string, name: string): void {
    const ns = this.must(key);
    const link = this.dev(key, name);
    while (link.addrs.length > 0) this.removeAddr(ns, link, link.addrs[0]!);
  }

  private removeAddr(ns: NamespaceState, link: LinkState, addr: AddrState): void {
    const net = networkOf(parseIpv4(addr.local)!, addr.prefixlen);
    const sameSubnet = (a: AddrState): boolean => a.prefixlen === addr.prefixlen && networkOf(parseIpv4(a.local)!, a.prefixlen) === net;
    link.addrs = link.addrs.filter((a) => a !== addr && !(addr.secondary === false && a.secondary && sameSubnet(a)));
    if (!addr.secondary && !link.addrs.some((a) => !a.secondary && sameSubnet(a))) {
      const dst = formatIpv4(net);
      ns.routes = ns.routes.filter((r) => !(r.proto === 'kernel' && r.ifindex === link.ifindex && r.dst === dst && r.len === addr.prefixlen));
    }
    this.dirty = true;
  }

  /** The `proto kernel scope link` route of a primary address on an UP link (none for /32 or `lo`). */
  private addPrefixRoute(ns: NamespaceState, link: LinkState, addr: AddrState): void {
    const net = networkOf(parseIpv4(addr.local)!, addr.prefixlen);
    if (link.type === 'loopback' || addr.prefixlen === 32 || net === 0) return;
    const dst = formatIpv4(net);
    if (ns.routes.some((r) => r.proto === 'kernel' && r.ifindex === link.ifindex && r.dst === dst && r.len === addr.prefixlen)) return;
    this.insertRoute(ns, { dst, len: addr.prefixlen, gateway: null, ifindex: link.ifindex, scope: 'link', onlink: false, proto: 'kernel', prefsrc: addr.local });
  }

  // ---- routes ----

  /** `ip route replace …`: the first route with the same destination is replaced in place. */
  replaceRoute(key: string, spec: RouteSpec): void {
    const ns = this.must(key);
    if (networkOf(spec.dst.addr, spec.dst.len) !== spec.dst.addr) throw new IpFailure('Error: Invalid prefix for given prefix length.', 2);
    const link = spec.dev !== undefined ? this.dev(key, spec.dev) : undefined;
    let ifindex: number;
    if (spec.gateway !== undefined) {
      if (spec.onlink) {
        if (!link) throw new IpFailure('Error: Nexthop device required for onlink.', 2);
        if (!link.up) throw new IpFailure('Error: Nexthop device is not up.', 2);
        if (!this.unicastGateway(ns, spec.gateway)) throw new IpFailure('Error: Nexthop has invalid gateway.', 2);
        ifindex = link.ifindex;
      } else {
        const via = this.linkRouteTo(ns, spec.gateway, link?.ifindex);
        if (!via) throw new IpFailure('Error: Nexthop has invalid gateway.', 2);
        const dev = ns.links.find((l) => l.ifindex === via.ifindex)!;
        if (!dev.up) throw new IpFailure('Error: Nexthop device is not up.', 2);
        ifindex = dev.ifindex;
      }
    } else {
      if (!link) throw new IpFailure('synthetic kernel: a route without a gateway needs "dev" (not modelled otherwise)', 255);
      if (!link.up) throw new IpFailure('Error: Device for nexthop is not up.', 2);
      ifindex = link.ifindex;
    }
    const route: RouteState = {
      dst: formatIpv4(spec.dst.addr),
      len: spec.dst.len,
      gateway: spec.gateway !== undefined ? formatIpv4(spec.gateway) : null,
      ifindex,
      scope: spec.scope ?? (spec.gateway !== undefined ? 'global' : 'link'),
      onlink: spec.onlink,
      proto: 'boot',
      prefsrc: null,
    };
    const same = ns.routes.findIndex((r) => r.dst === route.dst && r.len === route.len);
    if (same >= 0) ns.routes[same] = route;
    else this.insertRoute(ns, route);
    this.dirty = true;
  }

  /** `ip route del …`: the first route matching every given part, else "No such process". */
  delRoute(key: string, match: RouteMatch): void {
    const ns = this.must(key);
    const dst = formatIpv4(match.dst.addr);
    const ifindex = match.dev !== undefined ? this.dev(key, match.dev).ifindex : undefined;
    const gateway = match.gateway !== undefined ? formatIpv4(match.gateway) : undefined;
    const at = ns.routes.findIndex(
      (r) =>
        r.dst === dst &&
        r.len === match.dst.len &&
        (gateway === undefined || r.gateway === gateway) &&
        (ifindex === undefined || r.ifindex === ifindex) &&
        (match.scope === undefined || r.scope === match.scope),
    );
    if (at < 0) throw new IpFailure(ESRCH, 2);
    ns.routes.splice(at, 1);
    this.dirty = true;
  }

  /** Dump order: network address ascending, then the longest prefix first, then insertion. */
  private insertRoute(ns: NamespaceState, route: RouteState): void {
    const key = parseIpv4(route.dst)!;
    let at = ns.routes.length;
    for (let i = 0; i < ns.routes.length; i++) {
      const r = ns.routes[i]!;
      const k = parseIpv4(r.dst)!;
      if (k > key || (k === key && r.len < route.len)) {
        at = i;
        break;
      }
    }
    ns.routes.splice(at, 0, route);
    this.dirty = true;
  }

  /** The gateway check of an `onlink` next hop: the local table must exist and say "unicast". */
  private unicastGateway(ns: NamespaceState, gateway: number): boolean {
    if (!ns.localTable) return false;
    if (gateway === 0 || gateway === 0xffffffff || gateway >>> 28 === 0xe) return false;
    for (const l of ns.links) {
      for (const a of l.addrs) {
        const local = parseIpv4(a.local)!;
        if (local === gateway) return false;
        if (l.type === 'loopback' && l.up && contains({ addr: local, len: a.prefixlen }, gateway)) return false;
      }
    }
    return true;
  }

  /** The longest link-scope (gateway-less) route covering `gateway`, on `ifindex` when given. */
  private linkRouteTo(ns: NamespaceState, gateway: number, ifindex: number | undefined): RouteState | undefined {
    let best: RouteState | undefined;
    for (const r of ns.routes) {
      if (r.gateway !== null || SCOPE_VALUE[r.scope] < SCOPE_VALUE.link) continue;
      if (ifindex !== undefined && r.ifindex !== ifindex) continue;
      if (((parseIpv4(r.dst)! ^ gateway) & maskOf(r.len)) !== 0) continue;
      if (!best || r.len > best.len) best = r;
    }
    return best;
  }
}
