import { expect } from 'chai';
import { ip, tcp, udp } from '../../p4/frames.js';
import { frameOf, trace } from '../../p4/tracer.js';
import { FLOW_AGED, TABLES } from '../../p4/model/index.js';
import { GATEWAY_MAC, Node, pod } from './support.js';

const CLIENT = pod(2);
const EP = pod(10);
const VIP = ip('10.96.0.10');
const S = 1000;
/** Short timeouts so the profiles are told apart: established 300 s, UDP 60 s, closing 5 s. */
const EXPIRY = [300 * S, 60 * S, 5 * S];

function node(): Node {
  const n = new Node(undefined, { expiryMs: EXPIRY }).gateway().addPod(CLIENT).addPod(EP);
  return n.addService(VIP, 6, 80, [{ ip: EP.ip, port: 8080 }]).addService(VIP, 17, 53, [{ ip: EP.ip, port: 53 }]);
}

const syn = (sport: number, flags = 'S'): Uint8Array => tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport, dport: 80, flags });
const dns = (sport: number): Uint8Array => udp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport, dport: 53 });

function flows(n: Node): number {
  const r = n.p.read(n.b.all(TABLES.ctForward));
  return r.ok ? r.value.length : -1;
}

/** Moves the node's clock and ages with it. */
async function advance(n: Node, ms: number): Promise<number> {
  await n.clock.advance(ms);
  return n.p.age();
}

describe('P4 model: idle ageing of learned connections', () => {
  it('expires each profile after its own idle timeout (UDP 60 s, TCP established 300 s, closing 5 s)', async () => {
    const n = node();
    n.p.age();
    trace(n.p, CLIENT.port, syn(1000));
    trace(n.p, CLIENT.port, syn(1001));
    trace(n.p, CLIENT.port, syn(1001, 'FA'));
    trace(n.p, CLIENT.port, dns(2000));
    expect(flows(n)).to.equal(3);
    expect(await advance(n, 4 * S)).to.equal(0);
    expect(await advance(n, 1 * S)).to.equal(1, 'the closing TCP flow at 5 s');
    expect(flows(n)).to.equal(2);
    expect(await advance(n, 54 * S)).to.equal(0);
    expect(await advance(n, 1 * S)).to.equal(2, 'UDP at 60 s, both directions');
    expect(flows(n)).to.equal(1);
    expect(await advance(n, 239 * S)).to.equal(0);
    // Both directions of the established flow, and the reply direction of the closed one (the FIN
    // came from the client: only ct_forward moved to the closing profile).
    expect(await advance(n, 1 * S)).to.equal(3, 'established TCP at 300 s');
    expect(flows(n)).to.equal(0);
    expect(n.events.filter((e) => e.kind === FLOW_AGED)).to.have.length(6);
    expect(n.p.stats().aged).to.equal(6);
  });

  it('restarts the idle timer on every hit of each direction', async () => {
    const n = node();
    n.p.age();
    const first = frameOf(trace(n.p, CLIENT.port, dns(3000)));
    for (let i = 0; i < 5; i++) {
      expect(await advance(n, 50 * S)).to.equal(0);
      trace(n.p, CLIENT.port, dns(3000));
      const back = udp({ src: EP.mac, dst: GATEWAY_MAC, srcIp: EP.ip, dstIp: CLIENT.ip, sport: 53, dport: 3000 });
      trace(n.p, EP.port, back);
    }
    expect(first.length).to.be.greaterThan(0);
    expect(flows(n)).to.equal(1);
    expect(await advance(n, 60 * S)).to.equal(2);
  });

  it('ages a learned entry whose reply direction is silent on its own', async () => {
    const n = node();
    n.p.age();
    trace(n.p, CLIENT.port, dns(3100));
    await advance(n, 40 * S);
    trace(n.p, CLIENT.port, dns(3100));
    expect(await advance(n, 20 * S)).to.equal(1, 'ct_reverse (not hit since learning) expires at 60 s');
    expect(n.events.filter((e) => e.kind === FLOW_AGED).map((e) => e.table)).to.deep.equal(['ct_reverse']);
  });

  it('is incremental: a budget bounds the work of one call, repeated calls expire everything', async () => {
    const n = node();
    n.p.age();
    for (let sport = 10000; sport < 10500; sport++) trace(n.p, CLIENT.port, dns(sport));
    await n.clock.advance(61 * S);
    let total = 0;
    let calls = 0;
    for (;;) {
      const k = n.p.age(n.clock.now(), 64);
      expect(k).to.be.at.most(64);
      if (k === 0) break;
      total += k;
      calls++;
    }
    expect(total).to.equal(1000);
    expect(calls).to.be.at.least(1000 / 64);
    expect(flows(n)).to.equal(0);
  });

  it('reports each aged entry while it is still readable (for idle-timeout notifications)', async () => {
    const seen: string[] = [];
    const n = node();
    const p = n.p;
    n.p.age();
    trace(p, CLIENT.port, dns(4000));
    const original = n.events.length;
    await n.clock.advance(61 * S);
    // Read the entries from inside the event handler through entryAt.
    const handler = n.events.push.bind(n.events);
    n.events.push = (...e): number => {
      for (const x of e) if (x.kind === FLOW_AGED) seen.push(n.b.describe(p.entryAt(n.b.tableId(`MainControlImpl.${x.table}`), x.entry)!).table);
      return handler(...e);
    };
    p.age();
    expect(n.events.length).to.equal(original + 2);
    expect(seen.sort()).to.deep.equal(['MainControlImpl.ct_forward', 'MainControlImpl.ct_reverse']);
  });

  it('never ages entries the control plane inserted', async () => {
    const n = node();
    n.p.age();
    const key = { 'hdr.ipv4.src_addr': CLIENT.ip, 'hdr.ipv4.dst_addr': VIP, 'hdr.ipv4.protocol': 6, 'meta.l4_src_port': 5, 'meta.l4_dst_port': 80 };
    expect(n.p.insert(n.b.entry(TABLES.ctForward, key, 'MainControlImpl.ct_dnat', { ep_ip: EP.ip, ep_port: 8080 })).code).to.equal(0);
    expect(await advance(n, 400 * S)).to.equal(0);
    expect(flows(n)).to.equal(1);
  });
});
