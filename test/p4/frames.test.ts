import { expect } from 'chai';
import { arpReply, arpRequest, BROADCAST, checksumsOk, decode, icmpEcho, internetChecksum, ip, ipText, ipv4, mac, macText, tcp, tcpFlags, TCP_FLAGS, udp } from '../../p4/frames.js';
import { checksumProblems } from './support.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

describe('p4/frames: test frame builders and decoder', () => {
  it('converts addresses both ways', () => {
    expect(ip('10.244.0.2')).to.equal(0x0af40002);
    expect(ipText(0xc0a800c7)).to.equal('192.168.0.199');
    expect(mac('02:00:0a:f4:00:02')).to.equal(0x02000af40002);
    expect(macText(0xffffffffffff)).to.equal('ff:ff:ff:ff:ff:ff');
    expect(() => ip('1.2.3')).to.throw();
    expect(() => mac('zz:00:00:00:00:00')).to.throw();
  });

  it('builds the IPv4 header of the textbook example byte for byte (checksum 0xb861)', () => {
    const f = ipv4({ src: 1, dst: 2, srcIp: ip('192.168.0.1'), dstIp: ip('192.168.0.199'), id: 0, ttl: 64, protocol: 17, payload: new Uint8Array(0x73 - 20) });
    expect(f.subarray(14, 34)).to.deep.equal(hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7'));
    expect(internetChecksum(hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7'))).to.equal(0xb861);
  });

  it('builds ARP requests and replies in the Ethernet/IPv4 layout', () => {
    const req = arpRequest({ src: mac('02:00:00:00:00:02'), spa: ip('10.244.0.2'), tpa: ip('169.254.1.1') });
    expect(req.length).to.equal(60);
    expect(req.subarray(0, 42)).to.deep.equal(hex('ffffffffffff 020000000002 0806 0001 0800 06 04 0001 020000000002 0af40002 000000000000 a9fe0101'));
    const d = decode(arpReply({ src: 0xeeeeeeeeeeee, dst: 0x020000000002, spa: ip('169.254.1.1'), tpa: ip('10.244.0.2'), vlan: 7 }));
    expect(d).to.deep.include({ vlan: 7, dst: 0x020000000002, ethertype: 0x0806 });
    expect(d.arp).to.deep.equal({ op: 2, sha: 0xeeeeeeeeeeee, spa: ip('169.254.1.1'), tha: 0x020000000002, tpa: ip('10.244.0.2') });
    expect(decode(req).dst).to.equal(BROADCAST);
  });

  it('builds TCP, UDP and ICMP with checksums that an independent recomputation accepts', () => {
    for (let i = 0; i < 200; i++) {
      const base = { src: 2, dst: 3, srcIp: 0x0a000000 + i * 7919, dstIp: 0xc0000000 + i * 104729, sport: (i * 997) % 65536, dport: (i * 31) % 65536, payload: new Uint8Array(i % 37).fill(i), vlan: i % 3 === 0 ? i : undefined };
      for (const f of [tcp({ ...base, flags: i % 64 }), udp(base), icmpEcho({ ...base, payload: base.payload })]) {
        expect(checksumProblems(f), `frame ${i}`).to.deep.equal([]);
        expect(checksumsOk(f)).to.deep.equal({ ipv4: true, l4: true });
      }
    }
  });

  it('decodes what it builds, and notices a corrupted checksum', () => {
    const f = tcp({ src: 2, dst: 3, srcIp: ip('10.0.0.1'), dstIp: ip('10.0.0.2'), sport: 1234, dport: 80, flags: 'SA', seq: 7, ack: 9, options: Uint8Array.of(1, 1, 1, 1) });
    const d = decode(f);
    expect(d.ipv4).to.deep.include({ ihl: 24, src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 6 });
    expect(d.tcp).to.deep.include({ sport: 1234, dport: 80, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK, seq: 7, ack: 9 });
    const bad = f.slice();
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    expect(checksumsOk(bad)).to.deep.equal({ ipv4: true, l4: false });
    const u = udp({ src: 2, dst: 3, srcIp: 1, dstIp: 2, sport: 5, dport: 6, noChecksum: true });
    expect(decode(u).udp).to.deep.include({ checksum: 0, length: 8 });
    expect(checksumsOk(u).l4).to.equal(true);
    expect(tcpFlags('FRPAUS')).to.equal(63);
    expect(() => tcpFlags('X')).to.throw();
    expect(() => decode(f.subarray(0, 20))).to.throw();
  });

  it('builds IPv4 fragments (offset and more-fragments flag)', () => {
    const f = udp({ src: 2, dst: 3, srcIp: 1, dstIp: 2, sport: 5, dport: 6, moreFragments: true });
    expect(f[20]).to.equal(0x20);
    const g = ipv4({ src: 2, dst: 3, srcIp: 1, dstIp: 2, protocol: 6, payload: new Uint8Array(8), fragmentOffset: 185 });
    expect((g[20]! << 8) | g[21]!).to.equal(185);
  });
});
