import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import { decode, ip, tcp, udp, type L4Options } from '../../p4/frames.js';
import { frameOf, portOf, trace } from '../../p4/tracer.js';
import { ACTIONS, FLOW_LEARNED, FLOW_REMOVED, LB_SELECTOR, TABLES } from '../../p4/model/index.js';
import { checksumProblems, GATEWAY_MAC, Node, pod, type Endpoint, type Pod } from './support.js';

const CLIENT = pod(2);
const E1 = pod(10);
const E2 = pod(11);
const E3 = pod(12);
const VIP = ip('10.96.0.10');
const TCP = 6;
const UDP = 17;

const ep = (p: Pod, port = 8080): Endpoint => ({ ip: p.ip, port });

function node(endpoints: readonly Endpoint[] = [ep(E1), ep(E2), ep(E3)]): Node {
  const n = new Node().gateway().addPod(CLIENT).addPod(E1).addPod(E2).addPod(E3);
  return n.addService(VIP, TCP, 80, endpoints).addService(VIP, UDP, 53, endpoints.map((e) => ({ ip: e.ip, port: 5353 })));
}

/** A client packet to VIP:80 (or another destination). */
function toVip(sport: number, flags: string, extra: Partial<L4Options> = {}): Uint8Array {
  return tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport, dport: 80, flags, payload: new Uint8Array(7), ...extra });
}

/** The endpoint's reply to the client (as the endpoint sees the connection: ep → client). */
function reply(from: Endpoint, sport: number, flags: string): Uint8Array {
  const p = [E1, E2, E3].find((x) => x.ip === from.ip)!;
  return tcp({ src: p.mac, dst: GATEWAY_MAC, srcIp: from.ip, dstIp: CLIENT.ip, sport: from.port, dport: sport, flags, payload: new Uint8Array(3) });
}

/** Where a client frame went: the endpoint (ip, port) after DNAT, with every check on the way. */
function endpointOf(n: Node, f: Uint8Array): Endpoint {
  const r = trace(n.p, CLIENT.port, f);
  const out = frameOf(r);
  const d = decode(out);
  const pod = [E1, E2, E3].find((x) => x.ip === d.ipv4!.dst);
  expect(pod, `DNAT to a known endpoint (got ${d.ipv4!.dst})`).to.not.equal(undefined);
  expect(portOf(r)).to.equal(pod!.port);
  expect(d.dst).to.equal(pod!.mac);
  expect(d.src).to.equal(GATEWAY_MAC);
  expect(d.ipv4!.src).to.equal(CLIENT.ip);
  expect(checksumProblems(out)).to.deep.equal([]);
  return { ip: d.ipv4!.dst, port: (d.tcp ?? d.udp)!.dport };
}

describe('P4 model: ClusterIP load balancing and connection tracking', () => {
  it('load-balances a SYN to VIP:80, learns both directions, DNATs, and reverse-NATs the reply', () => {
    const n = node();
    const r = trace(n.p, CLIENT.port, toVip(40000, 'S'));
    expect(r.hit).to.deep.equal(['service_lb', 'ipv4_to_port']);
    const chosen = endpointOf(n, toVip(40000, 'S'));
    expect(chosen.port).to.equal(8080);
    expect(n.events.filter((e) => e.kind === FLOW_LEARNED).map((e) => e.table)).to.deep.equal(['ct_forward', 'ct_reverse']);
    const fwd = n.p.read(n.b.all(TABLES.ctForward));
    const rev = n.p.read(n.b.all(TABLES.ctReverse));
    expect(fwd.ok && fwd.value.length).to.equal(1);
    expect(rev.ok && rev.value.length).to.equal(1);
    const fe = fwd.ok && 'tableEntry' in fwd.value[0]! ? n.b.describe(fwd.value[0].tableEntry) : undefined;
    expect(fe).to.deep.include({ learned: true, action: 'MainControlImpl.ct_dnat', params: { ep_ip: chosen.ip, ep_port: 8080 } });
    expect(fe?.match).to.deep.equal({ 'hdr.ipv4.src_addr': CLIENT.ip, 'hdr.ipv4.dst_addr': VIP, 'hdr.ipv4.protocol': 6, 'meta.l4_src_port': 40000, 'meta.l4_dst_port': 80 });

    const back = trace(n.p, 99, reply(chosen, 40000, 'SA'));
    expect(portOf(back)).to.equal(CLIENT.port);
    const d = decode(frameOf(back));
    expect(d.ipv4).to.include({ src: VIP, dst: CLIENT.ip });
    expect(d.tcp).to.include({ sport: 80, dport: 40000 });
    expect(d.dst).to.equal(CLIENT.mac);
    expect(checksumProblems(frameOf(back))).to.deep.equal([]);
    expect(back.hit).to.deep.equal(['ct_reverse', 'ipv4_to_port']);
  });

  it('keeps later packets of a connection on its endpoint even after the group changes', () => {
    const n = node();
    const first = endpointOf(n, toVip(40001, 'S'));
    const others = [E1, E2, E3].filter((x) => x.ip !== first.ip).map((x) => ep(x));
    n.setEndpoints(VIP, TCP, 80, others);
    for (const flags of ['A', 'PA', 'A']) {
      const r = trace(n.p, CLIENT.port, toVip(40001, flags));
      expect(r.hit).to.include('ct_forward');
      expect(endpointOf(n, toVip(40001, flags))).to.deep.equal(first);
    }
    // A new connection goes to one of the remaining endpoints.
    for (let sport = 50000; sport < 50020; sport++) expect(endpointOf(n, toVip(sport, 'S')).ip).to.not.equal(first.ip);
  });

  it('sends a mid-flow packet of an untracked connection by the selector, without learning it', () => {
    const n = node();
    const viaSyn = endpointOf(new Node().gateway().addPod(CLIENT).addPod(E1).addPod(E2).addPod(E3).addService(VIP, TCP, 80, [ep(E1), ep(E2), ep(E3)]), toVip(41000, 'S'));
    expect(endpointOf(n, toVip(41000, 'A'))).to.deep.equal(viaSyn, 'same hash of (src, sport) → same member');
    expect(n.p.stats().learned).to.equal(0);
  });

  it('treats only a SYN without ACK (or any UDP datagram) as a new connection', () => {
    const n = node();
    for (const flags of ['SA', 'A', 'PA', 'F', 'R']) trace(n.p, CLIENT.port, toVip(41100, flags));
    expect(n.p.stats().learned).to.equal(0);
    trace(n.p, CLIENT.port, toVip(41100, 'S'));
    expect(n.p.stats().learned).to.equal(2);
  });

  it('picks the member at CRC32(src addr, src port) mod group size, in group order', () => {
    const eps = [E1, E2, E3, pod(13), pod(14)].map((x) => ep(x, 7000));
    const n = new Node().gateway().addPod(CLIENT).addService(VIP, TCP, 80, eps);
    for (let sport = 1; sport < 65536; sport += 211) {
      // An independent CRC-32 (zlib's) of the 6 bytes src addr ‖ src port, big-endian.
      const bytes = Buffer.from([CLIENT.ip >>> 24, (CLIENT.ip >>> 16) & 255, (CLIENT.ip >>> 8) & 255, CLIENT.ip & 255, sport >>> 8, sport & 255]);
      const want = eps[crc32(bytes) % eps.length]!;
      expect(decode(frameOf(trace(n.p, CLIENT.port, toVip(sport, 'S')))).ipv4!.dst, `sport ${sport}`).to.equal(want.ip);
    }
  });

  it('load-balances the first fragment but sends later fragments (no L4 header) by ipv4_to_port only', () => {
    const n = node();
    const first = trace(n.p, CLIENT.port, toVip(41200, 'S', { moreFragments: true }));
    expect(first.hit).to.include('service_lb');
    const later = tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport: 41200, dport: 80, flags: 'A', fragmentOffset: 3 });
    const r = trace(n.p, CLIENT.port, later);
    expect(r.applied).to.deep.equal(['ipv4_to_port']);
    expect(portOf(r)).to.equal(1);
  });

  it('carries UDP through a VIP: learns on the first datagram, reverse-NATs the answer, keeps checksum 0 as 0', () => {
    const n = node();
    const q = udp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport: 33000, dport: 53, payload: new Uint8Array(20) });
    const chosen = endpointOf(n, q);
    expect(chosen.port).to.equal(5353);
    expect(n.p.stats().learned).to.equal(2);
    const p = [E1, E2, E3].find((x) => x.ip === chosen.ip)!;
    for (const noChecksum of [false, true]) {
      const a = udp({ src: p.mac, dst: GATEWAY_MAC, srcIp: chosen.ip, dstIp: CLIENT.ip, sport: 5353, dport: 33000, payload: new Uint8Array(9), noChecksum });
      const out = frameOf(trace(n.p, p.port, a));
      expect(decode(out).ipv4).to.include({ src: VIP });
      expect(decode(out).udp).to.include({ sport: 53, dport: 33000 });
      if (noChecksum) expect(decode(out).udp!.checksum).to.equal(0);
      expect(checksumProblems(out)).to.deep.equal([]);
    }
    const again = udp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport: 33000, dport: 53, noChecksum: true });
    const out = frameOf(trace(n.p, CLIENT.port, again));
    expect(decode(out).udp!.checksum).to.equal(0);
    expect(decode(out).ipv4!.dst).to.equal(chosen.ip);
    expect(checksumProblems(out)).to.deep.equal([]);
  });

  it('reaches every one of 1,024 endpoints of one service, members without collisions', () => {
    const n = new Node().gateway().addPod(CLIENT);
    const eps: Endpoint[] = [];
    for (let i = 0; i < 1024; i++) eps.push({ ip: ip('10.245.0.0') + i, port: 9000 + (i % 7) });
    n.addService(VIP, TCP, 80, eps);
    const seen = new Map<string, number>();
    for (let sport = 1024; sport < 1024 + 16384; sport++) {
      const out = frameOf(trace(n.p, CLIENT.port, toVip(sport, 'S')));
      const d = decode(out);
      const k = `${d.ipv4!.dst}:${d.tcp!.dport}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    expect(seen.size).to.equal(1024);
    for (const e of eps) expect(seen.get(`${e.ip}:${e.port}`), `endpoint ${e.ip}:${e.port}`).to.be.greaterThan(0);
    const counts = [...seen.values()];
    expect(Math.max(...counts)).to.be.lessThan(4 * (16384 / 1024), 'spread evenly enough');
  });

  it('accepts a group of the P4Info maximum of 4,096 members and reaches each of them', () => {
    const n = new Node().gateway().addPod(CLIENT);
    const eps: Endpoint[] = [];
    for (let i = 0; i < 4096; i++) eps.push({ ip: ip('10.246.0.0') + i, port: 8080 });
    n.addService(VIP, TCP, 80, eps);
    const seen = new Set<number>();
    const out = { port: -1, length: 0, bytes: new Uint8Array(128) };
    const f = toVip(1, 'S');
    for (let sport = 0; sport < 65536; sport++) {
      f[34] = sport >>> 8; // the TCP source port; checksums do not matter to the selector
      f[35] = sport & 255;
      n.p.process(CLIENT.port, f, f.length, out);
      seen.add(decode(out.bytes).ipv4!.dst);
    }
    expect(seen.size).to.equal(4096);
  });

  it('lets one backend ip:port serve two services', () => {
    const n = new Node().gateway().addPod(CLIENT).addPod(E1);
    const VIP2 = ip('10.96.0.20');
    n.addService(VIP, TCP, 80, [ep(E1)]).addService(VIP2, TCP, 443, [ep(E1)]);
    expect(endpointOf(n, toVip(42000, 'S'))).to.deep.equal(ep(E1));
    expect(endpointOf(n, toVip(42001, 'S', { dstIp: VIP2, dport: 443 }))).to.deep.equal(ep(E1));
    const a = decode(frameOf(trace(n.p, E1.port, reply(ep(E1), 42000, 'SA'))));
    const b = decode(frameOf(trace(n.p, E1.port, reply(ep(E1), 42001, 'SA'))));
    expect([a.ipv4!.src, a.tcp!.sport]).to.deep.equal([VIP, 80]);
    expect([b.ipv4!.src, b.tcp!.sport]).to.deep.equal([VIP2, 443]);
  });

  it('removes an endpoint mid-flow: the control plane deletes its learned flows, new connections avoid it', () => {
    const n = node();
    const flows = new Map<number, Endpoint>();
    for (let sport = 43000; sport < 43030; sport++) flows.set(sport, endpointOf(n, toVip(sport, 'S')));
    const gone = flows.get(43000)!;
    const remaining = [E1, E2, E3].filter((x) => x.ip !== gone.ip).map((x) => ep(x));
    n.setEndpoints(VIP, TCP, 80, remaining);
    const ofGone = [...flows.values()].filter((e) => e.ip === gone.ip).length;
    expect(n.deleteFlowsOf(gone)).to.equal(2 * ofGone);
    for (const [sport, was] of flows) {
      const now = endpointOf(n, toVip(sport, 'A'));
      if (was.ip === gone.ip) expect(now.ip, `flow ${sport} moved off the removed endpoint`).to.not.equal(gone.ip);
      else expect(now, `flow ${sport} untouched`).to.deep.equal(was);
    }
    for (let sport = 44000; sport < 44100; sport++) expect(endpointOf(n, toVip(sport, 'S')).ip).to.not.equal(gone.ip);
    const rev = n.p.read(n.b.all(TABLES.ctReverse));
    const revToGone = rev.ok ? rev.value.filter((e) => 'tableEntry' in e && n.b.describe(e.tableEntry).match['meta.rk_src'] === gone.ip) : [];
    expect(revToGone).to.have.length(0);
  });

  it('after FIN, reusing the port with a SYN is a new connection (learned anew)', () => {
    const n = node();
    const first = endpointOf(n, toVip(45000, 'S'));
    endpointOf(n, toVip(45000, 'FA'));
    const fwd = n.p.read(n.b.key(TABLES.ctForward, { 'hdr.ipv4.src_addr': CLIENT.ip, 'hdr.ipv4.dst_addr': VIP, 'hdr.ipv4.protocol': 6, 'meta.l4_src_port': 45000, 'meta.l4_dst_port': 80 }));
    expect(fwd.ok && 'tableEntry' in fwd.value[0]! && fwd.value[0].tableEntry.expiryProfileId).to.equal(2, 'closing profile after FIN');
    // The backends change; the reused port must follow the selector again, not the old entry.
    const other = [E1, E2, E3].find((x) => x.ip !== first.ip)!;
    n.setEndpoints(VIP, TCP, 80, [ep(other)]);
    const learnedBefore = n.p.stats().learned;
    expect(endpointOf(n, toVip(45000, 'S'))).to.deep.equal(ep(other));
    expect(n.p.stats().learned).to.equal(learnedBefore + 2);
    const back = decode(frameOf(trace(n.p, other.port, reply(ep(other), 45000, 'SA'))));
    expect([back.ipv4!.src, back.tcp!.sport]).to.deep.equal([VIP, 80]);
  });

  it('after RST the entry is gone (after that packet), and the port can be reused', () => {
    const n = node();
    const first = endpointOf(n, toVip(46000, 'S'));
    expect(endpointOf(n, toVip(46000, 'R')), 'the RST itself still goes to the endpoint').to.deep.equal(first);
    expect(n.events.filter((e) => e.kind === FLOW_REMOVED).map((e) => e.table)).to.deep.equal(['ct_forward']);
    expect(n.p.stats().tables.find((t) => t.alias === 'ct_forward')!.entries).to.equal(0);
    const other = [E1, E2, E3].find((x) => x.ip !== first.ip)!;
    n.setEndpoints(VIP, TCP, 80, [ep(other)]);
    expect(endpointOf(n, toVip(46000, 'S'))).to.deep.equal(ep(other));
    const back = decode(frameOf(trace(n.p, other.port, reply(ep(other), 46000, 'RA'))));
    expect([back.ipv4!.src, back.tcp!.sport]).to.deep.equal([VIP, 80]);
    expect(n.p.stats().tables.find((t) => t.alias === 'ct_reverse')!.entries).to.equal(1, 'the endpoint RST removed its reply entry; the stale one of the first endpoint ages out');
  });

  it('drops new connections to a service without endpoints (lb_reject)', () => {
    const n = new Node().gateway().addPod(CLIENT).addService(VIP, TCP, 80, []);
    const r = trace(n.p, CLIENT.port, toVip(47000, 'S'));
    expect(r).to.deep.include({ dropped: 'lb_reject', hit: ['service_lb'] });
    expect(n.p.stats().learned).to.equal(0);
    expect(n.p.stats().drops.lb_reject).to.equal(1);
  });

  it('follows member MODIFY (lb_set_endpoint → lb_reject), empty groups and mixed groups', () => {
    const n = node([ep(E1)]);
    expect(endpointOf(n, toVip(47100, 'S'))).to.deep.equal(ep(E1));
    const member = n.memberFor(ep(E1));
    expect(n.p.modify(n.b.member(LB_SELECTOR, member, ACTIONS.lbReject)).code).to.equal(0);
    expect(trace(n.p, CLIENT.port, toVip(47101, 'S'))).to.have.property('dropped', 'lb_reject');
    expect(n.p.modify(n.b.member(LB_SELECTOR, member, ACTIONS.lbSetEndpoint, { ep_ip: E2.ip, ep_port: 9090 })).code).to.equal(0);
    expect(endpointOf(n, toVip(47102, 'S'))).to.deep.equal(ep(E2, 9090));
    n.setEndpoints(VIP, TCP, 80, []);
    expect(trace(n.p, CLIENT.port, toVip(47103, 'S'))).to.have.property('dropped', 'empty_group');
    // A group mixing a reject member with an endpoint: each source goes where its member says.
    const reject = 900;
    expect(n.p.insert(n.b.member(LB_SELECTOR, reject, ACTIONS.lbReject)).code).to.equal(0);
    expect(n.p.modify(n.b.group(LB_SELECTOR, 1, [member, reject])).code).to.equal(0);
    const outcomes = new Set<string>();
    for (let sport = 47200; sport < 47240; sport++) {
      const r = trace(n.p, CLIENT.port, toVip(sport, 'S'));
      outcomes.add('dropped' in r ? r.dropped : String(decode(r.frame).ipv4!.dst));
    }
    expect([...outcomes].sort()).to.deep.equal([String(E2.ip), 'lb_reject'].sort());
  });

  it('does not load-balance other ports or protocols of the VIP (they leave by the uplink)', () => {
    const n = node();
    const r = trace(n.p, CLIENT.port, toVip(48000, 'S', { dport: 81 }));
    expect(portOf(r)).to.equal(1);
    expect(decode(frameOf(r)).ipv4!.dst).to.equal(VIP);
  });
});
