import { expect } from 'chai';
import { arpRequest, ethernet, ip, tcp, udp } from '../../p4/frames.js';
import { trace } from '../../p4/tracer.js';
import { GATEWAY_IP, GATEWAY_MAC, Node, pod } from './support.js';

const A = pod(2);
const B = pod(3);
const VIP = ip('10.96.0.10');

function node(): Node {
  return new Node().gateway().addPod(A).addPod(B).addService(VIP, 6, 80, [{ ip: B.ip, port: 8080 }]);
}

function valid(): Uint8Array {
  return tcp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: VIP, sport: 40000, dport: 80, flags: 'S', payload: Uint8Array.of(1, 2, 3, 4) });
}

/** A copy of `f` with byte `at` set to `value`. */
function patched(f: Uint8Array, at: number, value: number): Uint8Array {
  const c = f.slice();
  c[at] = value;
  return c;
}

describe('P4 model: malformed frames are dropped and counted, never thrown', () => {
  it('drops a valid TCP frame truncated at every byte boundary, as a parser error, and learns nothing', () => {
    const n = node();
    const f = valid();
    for (let len = 0; len < f.length; len++) {
      const r = trace(n.p, A.port, f.slice(0, len));
      expect('dropped' in r, `truncated to ${len} bytes`).to.equal(true);
      if ('dropped' in r) expect(r.dropped, `truncated to ${len}`).to.be.oneOf(['truncated', 'bad_ipv4_total_length']);
    }
    const s = n.p.stats();
    expect(s.parserErrors).to.equal(f.length);
    expect(s.dropped).to.equal(f.length);
    expect(s.learned).to.equal(0);
    expect('port' in trace(n.p, A.port, f), 'the whole frame passes').to.equal(true);
  });

  it('drops ARP truncated at every byte boundary', () => {
    const n = node();
    const f = arpRequest({ src: A.mac, spa: A.ip, tpa: GATEWAY_IP }).slice(0, 42);
    for (let len = 0; len < f.length; len++) expect(trace(n.p, A.port, f.slice(0, len)), `ARP cut to ${len}`).to.have.property('dropped', 'truncated');
    expect(n.p.stats().parserErrors).to.equal(42);
  });

  const cases: [string, () => Uint8Array, string][] = [
    ['IHL 4', () => patched(valid(), 14, 0x44), 'bad_ipv4_ihl'],
    ['IHL 0', () => patched(valid(), 14, 0x40), 'bad_ipv4_ihl'],
    ['IHL 15 (options past the frame)', () => patched(valid(), 14, 0x4f), 'truncated'],
    ['version 6', () => patched(valid(), 14, 0x65), 'bad_ipv4_version'],
    ['version 0', () => patched(valid(), 14, 0x05), 'bad_ipv4_version'],
    ['total length one past the end', () => patched(valid(), 17, valid()[17]! + 1), 'bad_ipv4_total_length'],
    ['total length 0xffff', () => patched(patched(valid(), 16, 0xff), 17, 0xff), 'bad_ipv4_total_length'],
    ['total length shorter than the header', () => patched(patched(valid(), 16, 0), 17, 19), 'bad_ipv4_total_length'],
    ['total length cutting the TCP header', () => patched(patched(valid(), 16, 0), 17, 30), 'truncated'],
    ['TCP data offset 4', () => patched(valid(), 46, 0x40), 'bad_l4_header'],
    ['TCP data offset past the packet', () => patched(valid(), 46, 0xf0), 'bad_l4_header'],
    ['UDP length past the packet', () => patched(udp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1, dport: 2 }), 39, 200), 'bad_l4_header'],
    ['UDP length below 8', () => patched(udp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1, dport: 2 }), 39, 7), 'bad_l4_header'],
    ['unknown ethertype (IPv6)', () => ethernet({ src: A.mac, dst: GATEWAY_MAC, ethertype: 0x86dd, payload: new Uint8Array(40) }), 'unknown_ethertype'],
    ['two VLAN tags', () => ethernet({ src: A.mac, dst: GATEWAY_MAC, vlan: 5, ethertype: 0x8100, payload: new Uint8Array(40) }), 'unknown_ethertype'],
    ['a VLAN tag and nothing after', () => ethernet({ src: A.mac, dst: GATEWAY_MAC, ethertype: 0x8100, payload: Uint8Array.of(0, 5) }), 'truncated'],
  ];
  for (const [name, frame, reason] of cases) {
    it(`drops ${name} (${reason})`, () => {
      const n = node();
      expect(trace(n.p, A.port, frame())).to.have.property('dropped', reason);
      const s = n.p.stats();
      expect(s.dropped).to.equal(1);
      expect(reason === 'unknown_ethertype' ? s.unknownEthertype : s.parserErrors).to.equal(1);
      expect(s.learned).to.equal(0);
    });
  }

  it('drops when the given length exceeds the frame or the output buffer', () => {
    const n = node();
    const f = valid();
    const small = { port: -1, length: 0, bytes: new Uint8Array(20) };
    expect(n.p.process(A.port, f, f.length, small)).to.equal(-1);
    expect(n.p.process(A.port, f, f.length + 1, { port: -1, length: 0, bytes: new Uint8Array(200) })).to.equal(-1);
    expect(n.p.process(A.port, f, -1, { port: -1, length: 0, bytes: new Uint8Array(200) })).to.equal(-1);
    expect(n.p.stats().drops.bad_length).to.equal(3);
  });

  it('survives 20,000 random and randomly mutated frames without throwing', () => {
    const n = node();
    let seed = 12345;
    const rnd = (k: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % k;
    };
    const out = { port: -1, length: 0, bytes: new Uint8Array(2048) };
    const base = [valid(), udp({ src: A.mac, dst: GATEWAY_MAC, srcIp: A.ip, dstIp: B.ip, sport: 1, dport: 2 }), arpRequest({ src: A.mac, spa: A.ip, tpa: GATEWAY_IP })];
    for (let i = 0; i < 20000; i++) {
      let f: Uint8Array;
      if (i % 2 === 0) {
        f = new Uint8Array(rnd(120));
        for (let j = 0; j < f.length; j++) f[j] = rnd(256);
        if (f.length > 14 && rnd(2) === 0) f.set([8, 0, 0x45], 12); // an IPv4 header that may parse
      } else {
        f = base[i % 3]!.slice(0, 1 + rnd(base[i % 3]!.length));
        for (let k = rnd(4); k >= 0; k--) if (f.length > 0) f[rnd(f.length)] = rnd(256);
      }
      const port = n.p.process(A.port, f, f.length, out);
      expect(port).to.be.a('number');
    }
    const s = n.p.stats();
    expect(s.packets).to.equal(20000);
    expect(s.dropped).to.be.greaterThan(0);
  });
});
