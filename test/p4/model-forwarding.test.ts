import { expect } from 'chai';
import { arpReply, arpRequest, decode, icmpEcho, ip, mac, tcp, udp } from '../../p4/frames.js';
import { trace, portOf, frameOf } from '../../p4/tracer.js';
import { ACTIONS, TABLES } from '../../p4/model/index.js';
import { checksumProblems, expectOk, GATEWAY_IP, GATEWAY_MAC, Node, pod } from './support.js';

const PROXY_MAC = GATEWAY_MAC;
const A = pod(2);
const B = pod(3);
const C = pod(4);

function node(): Node {
  return new Node().gateway().addPod(A).addPod(B).addPod(C);
}

describe('P4 model: ARP and pod-to-pod forwarding', () => {
  it('sends ARP for the gateway 169.254.1.1 to the ARP proxy on port 0, unchanged', () => {
    const n = node();
    const f = arpRequest({ src: A.mac, spa: A.ip, tpa: GATEWAY_IP });
    const r = trace(n.p, A.port, f);
    expect(portOf(r)).to.equal(0);
    expect(frameOf(r)).to.deep.equal(f);
    expect(r.hit).to.deep.equal(['arp_to_port']);
  });

  it("sends the proxy's ARP reply back to the pod by its target address", () => {
    const n = node();
    const f = arpReply({ src: PROXY_MAC, dst: B.mac, spa: GATEWAY_IP, tpa: B.ip });
    const r = trace(n.p, 0, f);
    expect(portOf(r)).to.equal(B.port);
    expect(decode(frameOf(r)).arp).to.include({ op: 2, tpa: B.ip, spa: GATEWAY_IP });
  });

  it('sends ARP for an unknown address to the uplink (const default to_uplink)', () => {
    const r = trace(node().p, A.port, arpRequest({ src: A.mac, spa: A.ip, tpa: ip('10.244.9.9') }));
    expect(portOf(r)).to.equal(1);
    expect(r.hit).to.deep.equal([]);
    expect(r.applied).to.deep.equal(['arp_to_port']);
  });

  it('drops ARP for an address whose entry says drop', () => {
    const n = node();
    expectOk(n.p.insert(n.b.entry(TABLES.arpToPort, { 'hdr.arp.tpa': ip('10.244.0.99') }, ACTIONS.drop)));
    const r = trace(n.p, A.port, arpRequest({ src: A.mac, spa: A.ip, tpa: ip('10.244.0.99') }));
    expect(r).to.include({ dropped: 'drop_action' });
  });

  it('routes pod to pod with the MAC rewrite: source := the gateway MAC the sender used, destination := the pod', () => {
    const n = node();
    const f = tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 40000, dport: 8080, flags: 'A', payload: new Uint8Array(10) });
    const r = trace(n.p, A.port, f);
    expect(portOf(r)).to.equal(B.port);
    const d = decode(frameOf(r));
    expect(d.src).to.equal(GATEWAY_MAC);
    expect(d.dst).to.equal(B.mac);
    expect(d.ipv4).to.include({ src: A.ip, dst: B.ip, ttl: 64 });
    expect(d.tcp).to.include({ sport: 40000, dport: 8080 });
    expect(frameOf(r).subarray(12)).to.deep.equal(f.subarray(12), 'everything after the MACs is unchanged');
    expect(checksumProblems(frameOf(r))).to.deep.equal([]);
    expect(r.hit).to.deep.equal(['ipv4_to_port']);
    expect(r.applied).to.deep.equal(['service_lb', 'ct_forward', 'ct_reverse', 'ipv4_to_port']);
  });

  it('routes UDP, ICMP and an 802.1Q-tagged frame between pods (the tag is kept)', () => {
    const n = node();
    const u = trace(n.p, A.port, udp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: C.ip, sport: 5353, dport: 53 }));
    expect(portOf(u)).to.equal(C.port);
    const i = trace(n.p, A.port, icmpEcho({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: C.ip }));
    expect(portOf(i)).to.equal(C.port);
    expect(i.applied).to.deep.equal(['ipv4_to_port']);
    const v = trace(n.p, A.port, tcp({ vlan: 100, src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1, dport: 2, flags: 'S' }));
    expect(portOf(v)).to.equal(B.port);
    expect(decode(frameOf(v))).to.include({ vlan: 100, dst: B.mac, src: GATEWAY_MAC });
  });

  it('honours IPv4 options (IHL > 5) when reading the ports', () => {
    const n = node();
    const f = tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1234, dport: 80, flags: 'S', options: Uint8Array.of(1, 1, 1, 0) });
    const r = trace(n.p, A.port, f);
    expect(portOf(r)).to.equal(B.port);
    expect(decode(frameOf(r)).tcp).to.include({ sport: 1234, dport: 80 });
  });

  it('sends every other destination (other nodes, the outside) to the uplink port 1, unchanged', () => {
    const n = node();
    for (const dst of [ip('10.244.1.7'), ip('8.8.8.8'), ip('192.168.1.1')]) {
      const f = tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: dst, sport: 40000, dport: 443, flags: 'S' });
      const r = trace(n.p, A.port, f);
      expect(portOf(r), `to ${dst}`).to.equal(1);
      expect(frameOf(r)).to.deep.equal(f);
    }
  });

  it('delivers traffic from the uplink to a local pod', () => {
    const n = node();
    const f = udp({ src: mac('02:aa:00:00:00:01'), dst: GATEWAY_MAC, srcIp: ip('10.244.1.5'), dstIp: A.ip, sport: 9999, dport: 53 });
    expect(portOf(trace(n.p, 1, f))).to.equal(A.port);
  });

  it('drops IPv4 to an address whose ipv4_to_port entry says drop', () => {
    const n = node();
    expectOk(n.p.insert(n.b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': ip('10.244.0.250') }, ACTIONS.drop)));
    const r = trace(n.p, A.port, udp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: ip('10.244.0.250'), sport: 1, dport: 2 }));
    expect(r).to.include({ dropped: 'drop_action' });
    expect(n.p.stats().drops.drop_action).to.equal(1);
  });

  it('rewrites in place when the output buffer is the input frame', () => {
    const n = node();
    const f = tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1, dport: 2, flags: 'A' });
    const out = { port: -1, length: 0, bytes: f };
    expect(n.p.process(A.port, f, f.length, out)).to.equal(B.port);
    expect(decode(f).dst).to.equal(B.mac);
    expect(out.length).to.equal(f.length);
  });

  it('counts hits and misses per table', () => {
    const n = node();
    trace(n.p, A.port, tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1, dport: 2, flags: 'A' }));
    trace(n.p, A.port, tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: ip('1.1.1.1'), sport: 1, dport: 2, flags: 'A' }));
    const t = Object.fromEntries(n.p.stats().tables.map((x) => [x.alias, [x.hits, x.misses]]));
    expect(t).to.deep.equal({ arp_to_port: [0, 0], service_lb: [0, 2], ct_forward: [0, 2], ct_reverse: [0, 2], ipv4_to_port: [1, 1] });
  });
});
