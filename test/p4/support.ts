/**
 * Test support for the P4 model: a node harness that programs the pipeline the way a control plane
 * would (P4Runtime-shaped writes, ids by name), and an independent checksum oracle (written
 * separately from both the model and p4/frames.ts) that recomputes every checksum in full.
 */
import { expect } from 'chai';
import { ManualClock } from '../../core/clock.js';
import { loadP4Info, type P4Info } from '../../p4/p4info.js';
import { ip, mac } from '../../p4/frames.js';
import { ACTIONS, codeName, EntityBuilder, LB_SELECTOR, Pipeline, TABLES, type PipelineOptions, type Status } from '../../p4/model/index.js';

export const GATEWAY_IP = ip('169.254.1.1');
/** The MAC pods use for their gateway (the ARP proxy answers with it). */
export const GATEWAY_MAC = mac('ee:ee:ee:ee:ee:ee');

export interface Pod {
  readonly ip: number;
  readonly port: number;
  readonly mac: number;
}

export interface Endpoint {
  readonly ip: number;
  readonly port: number;
}

/** A pod at 10.244.0.<n> on port n (n ≥ 2), MAC 02:00:0a:f4:00:<n>. */
export function pod(n: number): Pod {
  return { ip: ip('10.244.0.0') + n, port: n, mac: 0x02000af40000 + n };
}

export function expectOk(s: Status, what = 'write'): void {
  expect(codeName(s.code), `${what}: ${s.message}`).to.equal('OK');
}

/** One node's pipeline, programmed like the control plane would. */
export class Node {
  readonly clock: ManualClock;
  readonly p: Pipeline;
  readonly b: EntityBuilder;
  readonly events: { kind: number; table: string; entry: number }[] = [];
  private nextMember = 1;
  private readonly members = new Map<string, number>();
  private readonly groups = new Map<string, number>();

  constructor(
    readonly info: P4Info = loadP4Info(),
    options: PipelineOptions = {},
  ) {
    this.clock = new ManualClock(1_000_000);
    this.p = new Pipeline(info, {
      clock: this.clock,
      onFlowEvent: (kind, tableId, entry) => this.events.push({ kind, table: info.table(tableId)!.alias, entry }),
      ...options,
    });
    this.b = new EntityBuilder(info);
  }

  /** ARP for the gateway goes to the ARP proxy on port 0. */
  gateway(): this {
    expectOk(this.p.insert(this.b.entry(TABLES.arpToPort, { 'hdr.arp.tpa': GATEWAY_IP }, ACTIONS.setPort, { port: 0 })));
    return this;
  }

  addPod(x: Pod): this {
    expectOk(this.p.insert(this.b.entry(TABLES.arpToPort, { 'hdr.arp.tpa': x.ip }, ACTIONS.setPort, { port: x.port })), 'arp_to_port');
    expectOk(this.p.insert(this.b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': x.ip }, ACTIONS.setDestMacPort, { port: x.port, dmac: x.mac })), 'ipv4_to_port');
    return this;
  }

  /** One member per backend ip:port, shared by every service that uses it. */
  memberFor(ep: Endpoint): number {
    const k = `${ep.ip}:${ep.port}`;
    let id = this.members.get(k);
    if (id === undefined) {
      id = this.nextMember++;
      expectOk(this.p.insert(this.b.member(LB_SELECTOR, id, ACTIONS.lbSetEndpoint, { ep_ip: ep.ip, ep_port: ep.port })), 'member');
      this.members.set(k, id);
    }
    return id;
  }

  /** A ClusterIP service: a group of its endpoints' members and a service_lb entry (lb_reject when none). */
  addService(vip: number, proto: number, port: number, endpoints: readonly Endpoint[]): this {
    const key = `${vip}/${proto}/${port}`;
    const match = { 'hdr.ipv4.dst_addr': vip, 'hdr.ipv4.protocol': proto, 'meta.l4_dst_port': port };
    if (endpoints.length === 0) {
      const reject = this.nextMember++;
      expectOk(this.p.insert(this.b.member(LB_SELECTOR, reject, ACTIONS.lbReject)), 'reject member');
      expectOk(this.p.insert(this.b.indirect(TABLES.serviceLb, match, { memberId: reject })), 'service_lb');
      return this;
    }
    const groupId = this.groups.size + 1;
    this.groups.set(key, groupId);
    expectOk(this.p.insert(this.b.group(LB_SELECTOR, groupId, endpoints.map((e) => this.memberFor(e)))), 'group');
    expectOk(this.p.insert(this.b.indirect(TABLES.serviceLb, match, { groupId })), 'service_lb');
    return this;
  }

  /** Replaces a service's endpoints (group MODIFY). */
  setEndpoints(vip: number, proto: number, port: number, endpoints: readonly Endpoint[]): void {
    const groupId = this.groups.get(`${vip}/${proto}/${port}`)!;
    expectOk(this.p.modify(this.b.group(LB_SELECTOR, groupId, endpoints.map((e) => this.memberFor(e)))), 'group modify');
  }

  /** What the control plane does when an endpoint goes: deletes its learned flows, both directions. */
  deleteFlowsOf(ep: Endpoint): number {
    let n = 0;
    for (const [table, ipField, portField] of [
      [TABLES.ctForward, 'ep_ip', 'ep_port'],
      [TABLES.ctReverse, 'meta.rk_src', 'meta.rk_sport'],
    ] as const) {
      const r = this.p.read(this.b.all(table));
      if (!r.ok) throw new Error(r.error.message);
      for (const ent of r.value) {
        if (!('tableEntry' in ent)) continue;
        const d = this.b.describe(ent.tableEntry);
        const values = { ...d.match, ...d.params };
        if (d.learned && values[ipField] === ep.ip && values[portField] === ep.port) {
          expectOk(this.p.delete({ tableEntry: { tableId: ent.tableEntry.tableId, match: ent.tableEntry.match } }), 'delete flow');
          n++;
        }
      }
    }
    return n;
  }
}

/**
 * The checksum oracle: every checksum of an IPv4 frame recomputed from scratch with a DataView
 * (independent of the model's incremental updates and of p4/frames.ts). Returns the problems.
 */
export function checksumProblems(frame: Uint8Array): string[] {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let off = 14;
  let type = v.getUint16(12);
  if (type === 0x8100) {
    type = v.getUint16(16);
    off = 18;
  }
  if (type !== 0x0800) return [];
  const ihl = (v.getUint8(off) & 0x0f) * 4;
  const total = v.getUint16(off + 2);
  const problems: string[] = [];
  const fold = (words: number[]): number => {
    let s = words.reduce((a, b) => a + b, 0);
    while (s >>> 16) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  const words = (from: number, to: number, skip: number): number[] => {
    const out: number[] = [];
    for (let i = from; i < to; i += 2) out.push(i === skip ? 0 : i + 1 < to ? v.getUint16(i) : v.getUint8(i) << 8);
    return out;
  };
  const ipExpected = ~fold(words(off, off + ihl, off + 10)) & 0xffff;
  if (ipExpected !== v.getUint16(off + 10)) problems.push(`IPv4 header checksum ${hex(v.getUint16(off + 10))}, expected ${hex(ipExpected)}`);
  const proto = v.getUint8(off + 9);
  const l4 = off + ihl;
  const end = off + total;
  if (proto !== 6 && proto !== 17) return problems;
  const csAt = proto === 6 ? l4 + 16 : l4 + 6;
  const actual = v.getUint16(csAt);
  if (proto === 17 && actual === 0) return problems;
  const pseudo = [v.getUint16(off + 12), v.getUint16(off + 14), v.getUint16(off + 16), v.getUint16(off + 18), proto, end - l4];
  let expected = ~fold([...pseudo, ...words(l4, end, csAt)]) & 0xffff;
  if (proto === 17 && expected === 0) expected = 0xffff;
  if (expected !== actual) problems.push(`${proto === 6 ? 'TCP' : 'UDP'} checksum ${hex(actual)}, expected ${hex(expected)}`);
  return problems;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

