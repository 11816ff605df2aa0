/**
 * The packet path of the k8s_dp pipeline (PIPELINE.md): parse, apply the five tables in order,
 * rewrite headers with incremental checksums, learn connections. No allocation per packet: the
 * packet's fields live in preallocated fields and the tables' scratch keys; the output is written
 * into the caller's buffer. Malformed frames are dropped and counted, never thrown.
 *
 * Pipeline (pipeline.ts) extends this with the control-plane API, ageing and statistics.
 *
 * @example
 * const out: OutFrame = { port: -1, length: 0, bytes: new Uint8Array(9216) };
 * const port = pipeline.process(2, frame, frame.length, out); // -1: dropped (see lastDrop)
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { DROP_BAD_IHL, DROP_BAD_L4, DROP_BAD_LENGTH, DROP_BAD_TOTAL_LENGTH, DROP_BAD_VERSION, DROP_EMPTY_GROUP, DROP_ETHERTYPE, DROP_LB_REJECT, DROP_REASONS, DROP_TABLE, DROP_TRUNCATED, FLOW_LEARNED, FLOW_REMOVED, type FlowEventHandler, type OutFrame, type PipelineOptions } from './outcomes.js';
import type { P4Info } from '../p4info.js';
import { read16, read32, updateChecksum16, updateChecksum32, write16, write32 } from './checksum.js';
import { ExactTable, F_CLOSING, F_LEARNED, REF_GROUP, REF_NONE } from './exact-table.js';
import { ACTIONS, DEFAULT_EXPIRY_MS, KEYS, LB_SELECTOR, PORT_UPLINK, PROFILE_TCP_CLOSING, PROFILE_TCP_ESTABLISHED, PROFILE_UDP, TABLE_APPLY_ORDER, T_ARP, T_CT_FWD, T_CT_REV, T_IPV4, T_LB } from './names.js';
import { ActionSelector, GROUP_EMPTY, GROUP_MIXED } from './selector.js';

const ETH_IPV4 = 0x0800;
const ETH_ARP = 0x0806;
const ETH_VLAN = 0x8100;
const L4_NONE = 0;
const L4_TCP = 6;
const L4_UDP = 17;
const TCP_FIN = 1;
const TCP_SYN = 2;
const TCP_RST = 4;
const TCP_ACK = 16;

/** a[i]++ without an undefined check at every counter. */
function bump(a: Float64Array, i: number): void {
  a[i] = a[i]! + 1;
}

/**
 * The packet path over the tables of one P4Info (see the file comment); Pipeline adds the control
 * plane. Everything a packet needs is allocated here, once.
 */
export class Datapath {
  readonly tables: readonly ExactTable[];
  readonly selector: ActionSelector;
  protected readonly tArp: ExactTable;
  protected readonly tLb: ExactTable;
  protected readonly tFwd: ExactTable;
  protected readonly tRev: ExactTable;
  protected readonly tIpv4: ExactTable;
  protected readonly clock: Clock;
  protected readonly expiry: Float64Array;
  protected readonly onFlowEvent: FlowEventHandler | undefined;
  /** The time packets are stamped with: that of the last age()/setTime(). */
  protected now = 0;
  readonly hits = new Float64Array(5);
  readonly misses = new Float64Array(5);
  readonly drops = new Float64Array(DROP_REASONS.length);
  packets = 0;
  learned = 0;
  learnFailed = 0;
  removedByRst = 0;
  /** Of the last packet: tables applied and hit (bit i = TABLE_APPLY_ORDER[i]), drop reason. */
  lastApplied = 0;
  lastMatched = 0;
  lastDrop = 0;
  // Action indices and parameter offsets, resolved by name from the P4Info.
  private readonly arpSetPort: number;
  private readonly arpDrop: number;
  private readonly arpPortOff: number;
  private readonly ipSetMac: number;
  private readonly ipDrop: number;
  private readonly ipPortOff: number;
  private readonly ipDmacOff: number;
  private readonly mSetEp: number;
  private readonly mReject: number;
  private readonly mEpIpOff: number;
  private readonly mEpPortOff: number;
  private readonly fwdDnat: number;
  private readonly fwdIpOff: number;
  private readonly fwdPortOff: number;
  private readonly revSnat: number;
  private readonly revIpOff: number;
  private readonly revPortOff: number;
  private readonly revLikeFwd: boolean;
  // The packet being processed (reused: no per-packet allocation).
  private pL3 = 0;
  private pL4 = 0;
  private pKind = 0;
  private pProto = 0;
  private pSrc = 0;
  private pDst = 0;
  private pSport = 0;
  private pDport = 0;
  private pFlags = 0;
  private lbHit = 0;
  private lbGroup = 0;
  /** The selected member, or -1 while the selection is deferred. */
  private lbMember = -1;
  /** Receives the early slot reads (so they are not optimised away). */
  private sink = 0;
  private epIp = 0;
  private epPort = 0;
  private learnedNow = 0;
  private dnat = 0;
  private newDst = 0;
  private newDport = 0;
  private snat = 0;
  private newSrc = 0;
  private newSport = 0;
  private macRewrite = 0;
  private dmacHi = 0;
  private dmacLo = 0;

  constructor(info: P4Info, options: PipelineOptions = {}) {
    const byName = (name: string): ExactTable => new ExactTable(info, info.tableByName(name));
    [this.tArp, this.tLb, this.tFwd, this.tRev, this.tIpv4] = TABLE_APPLY_ORDER.map(byName) as [ExactTable, ExactTable, ExactTable, ExactTable, ExactTable];
    this.tables = [this.tArp, this.tLb, this.tFwd, this.tRev, this.tIpv4];
    this.selector = new ActionSelector(info, info.actionProfileByName(LB_SELECTOR));
    if (info.tableByName(this.tLb.name).implementationId !== this.selector.id) throw new Error(`${this.tLb.name} is not implemented by ${LB_SELECTOR}`);
    this.tArp.bind(KEYS.arpToPort);
    this.tLb.bind(KEYS.serviceLb);
    this.tFwd.bind(KEYS.ctForward);
    this.tRev.bind(KEYS.ctReverse);
    this.tIpv4.bind(KEYS.ipv4ToPort);
    this.arpSetPort = this.tArp.actionIndex(ACTIONS.setPort);
    this.arpDrop = this.tArp.actionIndex(ACTIONS.drop);
    this.arpPortOff = this.tArp.paramOffset(ACTIONS.setPort, 'port');
    this.ipSetMac = this.tIpv4.actionIndex(ACTIONS.setDestMacPort);
    this.ipDrop = this.tIpv4.actionIndex(ACTIONS.drop);
    this.ipPortOff = this.tIpv4.paramOffset(ACTIONS.setDestMacPort, 'port');
    this.ipDmacOff = this.tIpv4.paramOffset(ACTIONS.setDestMacPort, 'dmac');
    const sel = this.selector.actions;
    this.mSetEp = sel.findIndex((a) => a.name === ACTIONS.lbSetEndpoint);
    this.mReject = sel.findIndex((a) => a.name === ACTIONS.lbReject);
    const ep = sel[this.mSetEp]?.params ?? [];
    this.mEpIpOff = ep.find((p) => p.name === 'ep_ip')?.offset ?? -1;
    this.mEpPortOff = ep.find((p) => p.name === 'ep_port')?.offset ?? -1;
    if (this.mSetEp < 0 || this.mReject < 0 || this.mEpIpOff < 0 || this.mEpPortOff < 0) throw new Error(`${LB_SELECTOR} lacks lb_set_endpoint(ep_ip, ep_port) or lb_reject`);
    this.fwdDnat = this.tFwd.actionIndex(ACTIONS.ctDnat);
    this.fwdIpOff = this.tFwd.paramOffset(ACTIONS.ctDnat, 'ep_ip');
    this.fwdPortOff = this.tFwd.paramOffset(ACTIONS.ctDnat, 'ep_port');
    this.revSnat = this.tRev.actionIndex(ACTIONS.ctSnat);
    this.revIpOff = this.tRev.paramOffset(ACTIONS.ctSnat, 'vip');
    this.revPortOff = this.tRev.paramOffset(ACTIONS.ctSnat, 'vport');
    this.revLikeFwd = this.tRev.sameKeyLayout(this.tFwd);
    this.clock = options.clock ?? systemClock;
    this.expiry = Float64Array.from(options.expiryMs ?? DEFAULT_EXPIRY_MS);
    if (this.expiry.length < 3) throw new Error('expiryMs needs a timeout for profiles 0, 1 and 2');
    this.onFlowEvent = options.onFlowEvent;
    this.now = this.clock.now();
  }

  /**
   * Runs one frame through the pipeline. Writes the output frame (port, length, bytes) into `out`
   * and returns its port, or -1 when the packet is dropped (reason in lastDrop).
   */
  process(_inPort: number, frame: Uint8Array, length: number, out: OutFrame): number {
    this.packets++;
    this.lastApplied = 0;
    this.lastMatched = 0;
    this.lastDrop = 0;
    const f = frame;
    if (!(length >= 0 && length <= f.length && length <= out.bytes.length)) return this.drop(DROP_BAD_LENGTH);
    if (length < 14) return this.drop(DROP_TRUNCATED);
    let l3 = 14;
    let et = (f[12]! << 8) | f[13]!;
    if (et === ETH_VLAN) {
      if (length < 18) return this.drop(DROP_TRUNCATED);
      et = (f[16]! << 8) | f[17]!;
      l3 = 18;
    }
    let port: number;
    if (et === ETH_IPV4) port = this.ipv4(f, length, l3);
    else if (et === ETH_ARP) port = this.arp(f, length, l3);
    else return this.drop(DROP_ETHERTYPE);
    if (port < 0) return this.drop(-port);
    const o = out.bytes;
    if (o !== f) {
      if (f.length === length) o.set(f);
      else for (let i = 0; i < length; i++) o[i] = f[i]!;
    }
    out.port = port;
    out.length = length;
    if (et === ETH_IPV4) this.rewrite(o);
    return port;
  }

  private drop(reason: number): number {
    bump(this.drops, reason);
    this.lastDrop = reason;
    return -1;
  }

  /** arp_to_port: set_port | drop | default to_uplink. Returns the port or -reason. */
  private arp(f: Uint8Array, length: number, l3: number): number {
    if (length < l3 + 28) return -DROP_TRUNCATED;
    const t = this.tArp;
    this.lastApplied |= 1 << T_ARP;
    t.setKey1(read32(f, l3 + 24));
    const e = t.find();
    if (e < 0) {
      bump(this.misses, T_ARP);
      return PORT_UPLINK;
    }
    bump(this.hits, T_ARP);
    this.lastMatched |= 1 << T_ARP;
    const a = t.action(e);
    if (a === this.arpSetPort) return t.rec[t.paramBase(e) + this.arpPortOff]!;
    if (a === this.arpDrop) return -DROP_TABLE;
    return PORT_UPLINK;
  }

  /** Parses IPv4 and L4, applies service_lb, ct_forward, ct_reverse and ipv4_to_port. */
  private ipv4(f: Uint8Array, length: number, l3: number): number {
    const bad = this.parseIpv4(f, length, l3);
    if (bad !== 0) return -bad;
    this.dnat = 0;
    this.snat = 0;
    this.macRewrite = 0;
    if (this.pKind === L4_NONE) {
      this.tIpv4.setKey1(this.pDst);
      return this.route(this.tIpv4.home());
    }
    // Every key that depends only on the packet is known now: hash them all and read their home
    // slots together, so that the tables' cache misses overlap instead of queueing one by one.
    const lb = this.tLb;
    const fwd = this.tFwd;
    const rev = this.tRev;
    const v4 = this.tIpv4;
    lb.setKey3(this.pDst, this.pProto, this.pDport);
    fwd.setKey5(this.pSrc, this.pDst, this.pProto, this.pSport, this.pDport);
    v4.setKey1(this.pDst);
    const hLb = lb.home();
    const hFwd = fwd.home();
    let hRev = hFwd;
    // ct_reverse's key is the packet's own tuple too: with the same layout, the same words and hash.
    if (this.revLikeFwd) rev.copyKey(fwd);
    else {
      rev.setKey5(this.pSrc, this.pDst, this.pProto, this.pSport, this.pDport);
      hRev = rev.home();
    }
    const hV4 = v4.home();
    this.sink = lb.touch(hLb) ^ fwd.touch(hFwd) ^ rev.touch(hRev) ^ v4.touch(hV4);
    const rejected = this.loadBalance(hLb);
    if (rejected !== 0) return -rejected;
    this.trackForward(hFwd);
    this.trackReverse(hRev);
    if (this.dnat === 0) return this.route(hV4);
    v4.setKey1(this.newDst);
    return this.route(v4.home());
  }

  private parseIpv4(f: Uint8Array, length: number, l3: number): number {
    if (length < l3 + 20) return DROP_TRUNCATED;
    const vihl = f[l3]!;
    if (vihl >>> 4 !== 4) return DROP_BAD_VERSION;
    const ihl = (vihl & 15) << 2;
    if (ihl < 20) return DROP_BAD_IHL;
    if (l3 + ihl > length) return DROP_TRUNCATED;
    const total = (f[l3 + 2]! << 8) | f[l3 + 3]!;
    if (total < ihl || l3 + total > length) return DROP_BAD_TOTAL_LENGTH;
    const proto = f[l3 + 9]!;
    const l4 = l3 + ihl;
    const end = l3 + total;
    this.pL3 = l3;
    this.pL4 = l4;
    this.pProto = proto;
    this.pSrc = read32(f, l3 + 12);
    this.pDst = read32(f, l3 + 16);
    this.pKind = L4_NONE;
    this.pSport = 0;
    this.pDport = 0;
    this.pFlags = 0;
    // A later fragment carries no L4 header: only ipv4_to_port applies to it.
    if ((((f[l3 + 6]! & 0x1f) << 8) | f[l3 + 7]!) !== 0) return 0;
    if (proto === L4_TCP) {
      if (l4 + 20 > end) return DROP_TRUNCATED;
      const doff = f[l4 + 12]! >>> 4;
      if (doff < 5 || l4 + doff * 4 > end) return DROP_BAD_L4;
      this.pFlags = f[l4 + 13]!;
    } else if (proto === L4_UDP) {
      if (l4 + 8 > end) return DROP_TRUNCATED;
      const ulen = read16(f, l4 + 4);
      if (ulen < 8 || l4 + ulen > end) return DROP_BAD_L4;
    } else {
      if (proto === 1 && l4 + 8 > end) return DROP_TRUNCATED;
      return 0;
    }
    this.pKind = proto;
    this.pSport = read16(f, l4);
    this.pDport = read16(f, l4 + 2);
    return 0;
  }

  /**
   * service_lb through lb_selector. Returns 0 or a drop reason (lb_reject, empty group). When all
   * members of the group share the action, the member (CRC32 of src, sport) is chosen only if a
   * later stage needs the endpoint (endpoint()): an established flow never reads the group.
   */
  private loadBalance(home: number): number {
    const t = this.tLb;
    this.lastApplied |= 1 << T_LB;
    this.lbHit = 0;
    const e = t.findFrom(home);
    if (e < 0) {
      bump(this.misses, T_LB);
      return 0;
    }
    bump(this.hits, T_LB);
    this.lastMatched |= 1 << T_LB;
    const sel = this.selector;
    let m = t.ref(e);
    let a: number;
    this.lbMember = -1;
    if (t.refKind(e) === REF_GROUP) {
      this.lbGroup = m;
      a = sel.groupAction[m]!;
      if (a === GROUP_EMPTY) return DROP_EMPTY_GROUP;
      if (a === GROUP_MIXED) {
        m = sel.select(m, this.pSrc, this.pSport);
        a = sel.memberAction[m]!;
        this.lbMember = m;
      }
    } else {
      a = sel.memberAction[m]!;
      this.lbMember = m;
    }
    if (a === this.mReject) return DROP_LB_REJECT;
    if (a === this.mSetEp) this.lbHit = 1;
    return 0;
  }

  /** The selector's endpoint for this packet (lb_hit set): into epIp, epPort. */
  private endpoint(): void {
    const sel = this.selector;
    const m = this.lbMember >= 0 ? this.lbMember : sel.select(this.lbGroup, this.pSrc, this.pSport);
    const o = m * sel.paramWords;
    this.epIp = sel.memberParams[o + this.mEpIpOff]!;
    this.epPort = sel.memberParams[o + this.mEpPortOff]!;
  }

  private isNewConn(): boolean {
    return this.pKind === L4_UDP || (this.pFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
  }

  /** ct_forward: ct_dnat on a hit; ct_forward_miss learns a new load-balanced connection. */
  private trackForward(home: number): void {
    const t = this.tFwd;
    this.lastApplied |= 1 << T_CT_FWD;
    this.learnedNow = 0;
    let e = t.findFrom(home);
    if (e >= 0 && (t.flags(e) & F_CLOSING) !== 0 && this.pKind === L4_TCP && this.isNewConn()) {
      // A SYN on a closing entry is a new connection: forget the old one, learn it anew.
      bump(this.hits, T_CT_FWD);
      this.lastMatched |= 1 << T_CT_FWD;
      this.removeLearned(t, e, FLOW_REMOVED);
      t.find();
      e = -2;
    }
    if (e >= 0) {
      bump(this.hits, T_CT_FWD);
      this.lastMatched |= 1 << T_CT_FWD;
      if (t.action(e) === this.fwdDnat) {
        const o = t.paramBase(e);
        this.dnatTo(t.rec[o + this.fwdIpOff]!, t.rec[o + this.fwdPortOff]!);
      }
      this.hitFlags(t, e);
      return;
    }
    if (e === -1) bump(this.misses, T_CT_FWD);
    if (this.lbHit === 0) return;
    this.endpoint();
    if (this.isNewConn()) {
      const n = t.insertAfterMiss();
      if (n >= 0) {
        this.learn(t, n, this.fwdDnat, this.fwdIpOff, this.fwdPortOff, this.epIp, this.epPort);
        this.learnedNow = 1;
      } else this.learnFailed++;
    }
    this.dnatTo(this.epIp, this.epPort);
  }

  /** ct_reverse: learns the reply tuple of a connection just learned, else ct_snat on a hit. */
  private trackReverse(home: number): void {
    const t = this.tRev;
    this.lastApplied |= 1 << T_CT_REV;
    if (this.learnedNow !== 0) {
      t.setKey5(this.epIp, this.pSrc, this.pProto, this.epPort, this.pSport);
      const e = t.find();
      if (e >= 0) {
        bump(this.hits, T_CT_REV);
        this.lastMatched |= 1 << T_CT_REV;
        // The reply tuple is already known (a connection reusing it): learned anew.
        if ((t.flags(e) & F_LEARNED) !== 0) this.learn(t, e, this.revSnat, this.revIpOff, this.revPortOff, this.pDst, this.pDport);
        return;
      }
      bump(this.misses, T_CT_REV);
      const n = t.insertAfterMiss();
      if (n >= 0) this.learn(t, n, this.revSnat, this.revIpOff, this.revPortOff, this.pDst, this.pDport);
      else this.learnFailed++;
      return;
    }
    const e = t.findFrom(home);
    if (e < 0) {
      bump(this.misses, T_CT_REV);
      return;
    }
    bump(this.hits, T_CT_REV);
    this.lastMatched |= 1 << T_CT_REV;
    if (t.action(e) === this.revSnat) {
      const o = t.paramBase(e);
      this.snat = 1;
      this.newSrc = t.rec[o + this.revIpOff]!;
      this.newSport = t.rec[o + this.revPortOff]!;
    }
    this.hitFlags(t, e);
  }

  private learn(t: ExactTable, e: number, action: number, ipOff: number, portOff: number, ip: number, port: number): void {
    const o = t.paramBase(e);
    t.setMeta(e, action, F_LEARNED, this.pKind === L4_TCP ? PROFILE_TCP_ESTABLISHED : PROFILE_UDP, REF_NONE);
    t.rec[o + ipOff] = ip;
    t.rec[o + portOff] = port;
    t.lastHit[e] = this.now;
    t.markLearned(e);
    this.learned++;
    if (this.onFlowEvent !== undefined) this.onFlowEvent(FLOW_LEARNED, t.id, e);
  }

  /** A hit on a learned entry: RST removes it, FIN moves it to the closing profile, else the timer restarts. */
  private hitFlags(t: ExactTable, e: number): void {
    t.lastHit[e] = this.now;
    const flags = t.flags(e);
    if (this.pKind !== L4_TCP || (flags & F_LEARNED) === 0) return;
    const fl = this.pFlags;
    if ((fl & TCP_RST) !== 0) {
      this.removedByRst++;
      this.removeLearned(t, e, FLOW_REMOVED);
    } else if ((fl & TCP_FIN) !== 0) {
      t.setMeta(e, t.action(e), flags | F_CLOSING, PROFILE_TCP_CLOSING, t.refKind(e));
    }
  }

  protected removeLearned(t: ExactTable, e: number, kind: number): void {
    if (this.onFlowEvent !== undefined) this.onFlowEvent(kind, t.id, e);
    t.remove(e);
  }

  private dnatTo(ip: number, port: number): void {
    this.dnat = 1;
    this.newDst = ip;
    this.newDport = port;
  }

  /** ipv4_to_port on the destination after DNAT: set_dest_mac_port | drop | default to_uplink. */
  private route(home: number): number {
    const t = this.tIpv4;
    this.lastApplied |= 1 << T_IPV4;
    const e = t.findFrom(home);
    if (e < 0) {
      bump(this.misses, T_IPV4);
      return PORT_UPLINK;
    }
    bump(this.hits, T_IPV4);
    this.lastMatched |= 1 << T_IPV4;
    const a = t.action(e);
    const o = t.paramBase(e);
    if (a === this.ipSetMac) {
      this.macRewrite = 1;
      this.dmacHi = t.rec[o + this.ipDmacOff]!;
      this.dmacLo = t.rec[o + this.ipDmacOff + 1]!;
      return t.rec[o + this.ipPortOff]!;
    }
    if (a === this.ipDrop) return -DROP_TABLE;
    return PORT_UPLINK;
  }

  /** Applies the MAC rewrite, DNAT and SNAT to the output bytes, checksums updated incrementally. */
  private rewrite(o: Uint8Array): void {
    if (this.macRewrite !== 0) {
      for (let i = 0; i < 6; i++) o[6 + i] = o[i]!;
      o[0] = this.dmacHi >>> 8;
      o[1] = this.dmacHi & 0xff;
      write32(o, 2, this.dmacLo);
    }
    if (this.dnat === 0 && this.snat === 0) return;
    const l3 = this.pL3;
    const l4 = this.pL4;
    const csOff = this.pKind === L4_TCP ? l4 + 16 : l4 + 6;
    let ipc = read16(o, l3 + 10);
    let l4c = read16(o, csOff);
    const l4cs = this.pKind === L4_TCP || l4c !== 0;
    if (this.dnat !== 0) {
      ipc = updateChecksum32(ipc, this.pDst, this.newDst);
      l4c = updateChecksum16(updateChecksum32(l4c, this.pDst, this.newDst), this.pDport, this.newDport);
      write32(o, l3 + 16, this.newDst);
      write16(o, l4 + 2, this.newDport);
    }
    if (this.snat !== 0) {
      ipc = updateChecksum32(ipc, this.pSrc, this.newSrc);
      l4c = updateChecksum16(updateChecksum32(l4c, this.pSrc, this.newSrc), this.pSport, this.newSport);
      write32(o, l3 + 12, this.newSrc);
      write16(o, l4, this.newSport);
    }
    write16(o, l3 + 10, ipc);
    if (l4cs) write16(o, csOff, this.pKind === L4_UDP && l4c === 0 ? 0xffff : l4c);
  }
}
