/**
 * Ethernet frames for tests and benchmarks: builders (Ethernet ± one 802.1Q tag, ARP, IPv4 with
 * TCP, UDP or ICMP, checksums computed in full) and a decoder for assertions. Independent of the
 * P4 model on purpose: it is the yardstick the model's output is measured against.
 *
 * @example
 * const f = tcp({ src: mac('02:00:00:00:00:02'), dst: GATEWAY_MAC, srcIp: ip('10.244.0.2'),
 *                 dstIp: ip('10.96.0.10'), sport: 40000, dport: 80, flags: 'S' });
 * decode(f).tcp?.flags;  // TCP_FLAGS.SYN
 * checksumsOk(f);        // { ipv4: true, l4: true }
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const BROADCAST = 0xffffffffffff;
export const TCP_FLAGS = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32 } as const;

/** '10.0.0.1' → 0x0a000001. */
export function ip(text: string): number {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address ${text}`);
  return parts.reduce((a, p) => a * 256 + p, 0);
}

export function ipText(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** '02:00:00:00:00:01' → 0x020000000001. */
export function mac(text: string): number {
  const parts = text.split(':').map((h) => parseInt(h, 16));
  if (parts.length !== 6 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad MAC ${text}`);
  return parts.reduce((a, p) => a * 256 + p, 0);
}

export function macText(v: number): string {
  const out: string[] = [];
  for (let i = 5; i >= 0; i--) out.push((Math.floor(v / 2 ** (8 * i)) % 256).toString(16).padStart(2, '0'));
  return out.join(':');
}

export interface EthOptions {
  readonly src: number;
  readonly dst: number;
  /** An 802.1Q tag with this VLAN id (priority 0). */
  readonly vlan?: number;
  /** Pad the frame with zeros to at least this many bytes (e.g. 60). */
  readonly padTo?: number;
}

/** An Ethernet frame around `payload`. */
export function ethernet(o: EthOptions & { readonly ethertype: number; readonly payload: Uint8Array }): Uint8Array {
  const head = o.vlan === undefined ? 14 : 18;
  const f = new Uint8Array(Math.max(head + o.payload.length, o.padTo ?? 0));
  putMac(f, 0, o.dst);
  putMac(f, 6, o.src);
  if (o.vlan !== undefined) {
    put16(f, 12, ETHERTYPE_VLAN);
    put16(f, 14, o.vlan & 0x0fff);
  }
  put16(f, head - 2, o.ethertype);
  f.set(o.payload, head);
  return f;
}

export interface ArpOptions {
  readonly op: 1 | 2;
  readonly sha: number;
  readonly spa: number;
  readonly tha: number;
  readonly tpa: number;
}

/** An ARP packet (Ethernet/IPv4) in a frame from `src` to `dst`. */
export function arp(o: EthOptions & ArpOptions): Uint8Array {
  const p = new Uint8Array(28);
  put16(p, 0, 1);
  put16(p, 2, ETHERTYPE_IPV4);
  p[4] = 6;
  p[5] = 4;
  put16(p, 6, o.op);
  putMac(p, 8, o.sha);
  put32(p, 14, o.spa);
  putMac(p, 18, o.tha);
  put32(p, 24, o.tpa);
  return ethernet({ ...o, ethertype: ETHERTYPE_ARP, payload: p });
}

/** Who has `tpa`? Tell `spa` (broadcast). */
export function arpRequest(o: { readonly src: number; readonly spa: number; readonly tpa: number; readonly vlan?: number }): Uint8Array {
  return arp({ src: o.src, dst: BROADCAST, vlan: o.vlan, op: 1, sha: o.src, spa: o.spa, tha: 0, tpa: o.tpa, padTo: 60 });
}

/** `spa` is at `src` (unicast to `dst`/`tpa`). */
export function arpReply(o: { readonly src: number; readonly dst: number; readonly spa: number; readonly tpa: number; readonly vlan?: number }): Uint8Array {
  return arp({ src: o.src, dst: o.dst, vlan: o.vlan, op: 2, sha: o.src, spa: o.spa, tha: o.dst, tpa: o.tpa, padTo: 60 });
}

export interface Ipv4Options extends EthOptions {
  readonly srcIp: number;
  readonly dstIp: number;
  readonly ttl?: number;
  readonly id?: number;
  /** IPv4 options (a multiple of 4 bytes): IHL grows accordingly. */
  readonly options?: Uint8Array;
  /** Fragment offset in 8-byte units, and the more-fragments flag. */
  readonly fragmentOffset?: number;
  readonly moreFragments?: boolean;
}

/** An IPv4 packet (header checksum computed) carrying `payload` of protocol `protocol`. */
export function ipv4(o: Ipv4Options & { readonly protocol: number; readonly payload: Uint8Array }): Uint8Array {
  const opts = o.options ?? new Uint8Array(0);
  if (opts.length % 4 !== 0 || opts.length > 40) throw new Error('IPv4 options must be a multiple of 4 bytes, at most 40');
  const ihl = 20 + opts.length;
  const p = new Uint8Array(ihl + o.payload.length);
  p[0] = 0x40 | (ihl >> 2);
  put16(p, 2, p.length);
  put16(p, 4, o.id ?? 0x1234);
  const frag = (o.moreFragments ? 0x2000 : 0) | (o.fragmentOffset ?? 0);
  put16(p, 6, frag !== 0 ? frag : 0x4000); // DF when not a fragment
  p[8] = o.ttl ?? 64;
  p[9] = o.protocol;
  put32(p, 12, o.srcIp);
  put32(p, 16, o.dstIp);
  p.set(opts, 20);
  put16(p, 10, internetChecksum(p.subarray(0, ihl)));
  p.set(o.payload, ihl);
  return ethernet({ ...o, ethertype: ETHERTYPE_IPV4, payload: p });
}

export type TcpFlags = number | string;

/** 'SA' → SYN|ACK (letters F S R P A U), or a number as is. */
export function tcpFlags(flags: TcpFlags): number {
  if (typeof flags === 'number') return flags;
  const bits: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32 };
  let v = 0;
  for (const ch of flags.toUpperCase()) {
    const b = bits[ch];
    if (b === undefined) throw new Error(`unknown TCP flag ${ch}`);
    v |= b;
  }
  return v;
}

export interface L4Options extends Ipv4Options {
  readonly sport: number;
  readonly dport: number;
  readonly payload?: Uint8Array;
}

/** An IPv4/TCP frame (both checksums computed). */
export function tcp(o: L4Options & { readonly flags: TcpFlags; readonly seq?: number; readonly ack?: number; readonly window?: number }): Uint8Array {
  const data = o.payload ?? new Uint8Array(0);
  const s = new Uint8Array(20 + data.length);
  put16(s, 0, o.sport);
  put16(s, 2, o.dport);
  put32(s, 4, o.seq ?? 1000);
  put32(s, 8, o.ack ?? 0);
  s[12] = 5 << 4;
  s[13] = tcpFlags(o.flags);
  put16(s, 14, o.window ?? 65535);
  s.set(data, 20);
  put16(s, 16, l4Checksum(o.srcIp, o.dstIp, 6, s));
  return ipv4({ ...o, protocol: 6, payload: s });
}

/** An IPv4/UDP frame; `noChecksum` sends checksum 0 (none). */
export function udp(o: L4Options & { readonly noChecksum?: boolean }): Uint8Array {
  const data = o.payload ?? new Uint8Array(0);
  const s = new Uint8Array(8 + data.length);
  put16(s, 0, o.sport);
  put16(s, 2, o.dport);
  put16(s, 4, s.length);
  s.set(data, 8);
  if (!o.noChecksum) put16(s, 6, l4Checksum(o.srcIp, o.dstIp, 17, s) || 0xffff);
  return ipv4({ ...o, protocol: 17, payload: s });
}

/** An ICMP echo request (type 8) or reply (type 0). */
export function icmpEcho(o: Ipv4Options & { readonly type?: 0 | 8; readonly ident?: number; readonly seq?: number; readonly payload?: Uint8Array }): Uint8Array {
  const data = o.payload ?? new Uint8Array(0);
  const s = new Uint8Array(8 + data.length);
  s[0] = o.type ?? 8;
  put16(s, 4, o.ident ?? 1);
  put16(s, 6, o.seq ?? 1);
  s.set(data, 8);
  put16(s, 2, internetChecksum(s));
  return ipv4({ ...o, protocol: 1, payload: s });
}

export interface Decoded {
  readonly dst: number;
  readonly src: number;
  readonly vlan?: number;
  readonly ethertype: number;
  readonly arp?: { readonly op: number; readonly sha: number; readonly spa: number; readonly tha: number; readonly tpa: number };
  readonly ipv4?: { readonly offset: number; readonly ihl: number; readonly totalLength: number; readonly ttl: number; readonly protocol: number; readonly checksum: number; readonly src: number; readonly dst: number };
  readonly tcp?: { readonly sport: number; readonly dport: number; readonly flags: number; readonly seq: number; readonly ack: number; readonly checksum: number };
  readonly udp?: { readonly sport: number; readonly dport: number; readonly length: number; readonly checksum: number };
  readonly icmp?: { readonly type: number; readonly code: number; readonly checksum: number };
}

/** Decodes a well-formed frame for assertions (throws on a frame too short for its headers). */
export function decode(f: Uint8Array): Decoded {
  need(f, 14);
  let type = get16(f, 12);
  let off = 14;
  let vlan: number | undefined;
  if (type === ETHERTYPE_VLAN) {
    need(f, 18);
    vlan = get16(f, 14) & 0x0fff;
    type = get16(f, 16);
    off = 18;
  }
  const eth = { dst: getMac(f, 0), src: getMac(f, 6), ethertype: type, ...(vlan === undefined ? {} : { vlan }) };
  if (type === ETHERTYPE_ARP) {
    need(f, off + 28);
    return { ...eth, arp: { op: get16(f, off + 6), sha: getMac(f, off + 8), spa: get32(f, off + 14), tha: getMac(f, off + 18), tpa: get32(f, off + 24) } };
  }
  if (type !== ETHERTYPE_IPV4) return eth;
  need(f, off + 20);
  const ihl = (f[off]! & 15) * 4;
  const h = { offset: off, ihl, totalLength: get16(f, off + 2), ttl: f[off + 8]!, protocol: f[off + 9]!, checksum: get16(f, off + 10), src: get32(f, off + 12), dst: get32(f, off + 16) };
  const l4 = off + ihl;
  if (h.protocol === 6) {
    need(f, l4 + 20);
    return { ...eth, ipv4: h, tcp: { sport: get16(f, l4), dport: get16(f, l4 + 2), seq: get32(f, l4 + 4), ack: get32(f, l4 + 8), flags: f[l4 + 13]!, checksum: get16(f, l4 + 16) } };
  }
  if (h.protocol === 17) {
    need(f, l4 + 8);
    return { ...eth, ipv4: h, udp: { sport: get16(f, l4), dport: get16(f, l4 + 2), length: get16(f, l4 + 4), checksum: get16(f, l4 + 6) } };
  }
  if (h.protocol === 1) {
    need(f, l4 + 4);
    return { ...eth, ipv4: h, icmp: { type: f[l4]!, code: f[l4 + 1]!, checksum: get16(f, l4 + 2) } };
  }
  return { ...eth, ipv4: h };
}

/** Recomputes every checksum of an IPv4 frame in full: header, and TCP/UDP/ICMP (UDP 0 = none = ok). */
export function checksumsOk(f: Uint8Array): { readonly ipv4: boolean; readonly l4: boolean } {
  const d = decode(f);
  if (!d.ipv4) return { ipv4: true, l4: true };
  const { offset, ihl, totalLength, protocol, src, dst } = d.ipv4;
  const ipOk = internetChecksum(f.subarray(offset, offset + ihl)) === 0;
  const seg = f.subarray(offset + ihl, offset + totalLength);
  if (protocol === 17 && d.udp?.checksum === 0) return { ipv4: ipOk, l4: true };
  if (protocol === 6 || protocol === 17) return { ipv4: ipOk, l4: l4Checksum(src, dst, protocol, seg) === 0 };
  if (protocol === 1) return { ipv4: ipOk, l4: internetChecksum(seg) === 0 };
  return { ipv4: ipOk, l4: true };
}

/** RFC 1071 checksum of `data` (0 when data already includes a correct checksum). */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** TCP/UDP checksum over the IPv4 pseudo-header and `segment`. */
export function l4Checksum(srcIp: number, dstIp: number, protocol: number, segment: Uint8Array): number {
  const pseudo = (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + protocol + segment.length;
  return internetChecksum(segment, pseudo);
}

function need(f: Uint8Array, n: number): void {
  if (f.length < n) throw new Error(`frame of ${f.length} bytes, needs ${n}`);
}

function put16(f: Uint8Array, o: number, v: number): void {
  f[o] = (v >>> 8) & 0xff;
  f[o + 1] = v & 0xff;
}

function put32(f: Uint8Array, o: number, v: number): void {
  put16(f, o, Math.floor(v / 65536) & 0xffff);
  put16(f, o + 2, v & 0xffff);
}

function putMac(f: Uint8Array, o: number, v: number): void {
  put16(f, o, Math.floor(v / 2 ** 32));
  put32(f, o + 2, v % 2 ** 32);
}

function get16(f: Uint8Array, o: number): number {
  return (f[o]! << 8) | f[o + 1]!;
}

function get32(f: Uint8Array, o: number): number {
  return get16(f, o) * 65536 + get16(f, o + 2);
}

function getMac(f: Uint8Array, o: number): number {
  return get16(f, o) * 2 ** 32 + get32(f, o + 2);
}
