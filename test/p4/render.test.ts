import { expect } from 'chai';
import { Pipeline } from '../../p4/model/index.js';
import { desiredSet, diffEntities, type WireEntity } from '../../p4/desired.js';
import { decode, ip, mac, tcp, udp } from '../../p4/frames.js';
import { loadP4Info } from '../../p4/p4info.js';
import { assignIds, newIdPools, render, type RenderIntent } from '../../p4/render.js';
import { trace, type TraceResult } from '../../p4/tracer.js';
import { ModelProgram } from '../../p4/target/model-program.js';
import type { Endpoint, PodInterface, ServicePort } from '../../protocol/intent.js';

const info = loadP4Info();
const NODE = 'node-1';
const GW_MAC = mac('02:fe:00:00:00:01');

const pod = (i: number): PodInterface => ({
  node: NODE,
  namespace: 'default',
  name: `p${i}`,
  containerId: `c${i}`,
  interfaceName: `P4TAP_${i + 2}`,
  portId: i + 2,
  ipv4: ip('10.244.0.0') + 10 + i,
  mac: 0x020000000000 + 10 + i,
});
const ep = (i: number, o: Partial<Endpoint> = {}): Endpoint => ({ ipv4: ip('10.244.0.0') + 10 + i, port: 8080, node: NODE, ready: true, serving: true, terminating: false, ...o });
const svc = (vip: string, endpoints: Endpoint[], protocol: 'TCP' | 'UDP' = 'TCP', port = 80): ServicePort => ({ namespace: 'default', name: vip, portName: '', clusterIp: ip(vip), port, protocol, endpoints });

/** Writes the render into a fresh model, in dependency order, as the session would. */
function program(intent: RenderIntent): { model: Pipeline; entities: WireEntity[] } {
  const pools = newIdPools(info);
  assignIds(intent, pools);
  const entities = render(info, intent, pools);
  const model = new Pipeline(info);
  const target = new ModelProgram(model);
  for (const phase of diffEntities(desiredSet(entities), [], { volatileTables: new Set() }).phases) {
    for (const u of phase) {
      const r = target.apply(u.type, u.entity);
      expect(r.status.code, r.status.message).to.equal(0);
    }
  }
  return { model, entities };
}

function synTo(from: PodInterface, dstIp: number, dport: number, sport = 40000): Uint8Array {
  return tcp({ src: from.mac, dst: GW_MAC, srcIp: from.ipv4, dstIp, sport, dport, flags: 'S' });
}

function dst(r: TraceResult): string {
  if ('dropped' in r) return `dropped:${r.dropped}`;
  const d = decode(r.frame);
  return `port ${r.port} → ${d.ipv4 ? (d.ipv4.dst >>> 0).toString(16) : '?'}`;
}

describe('render: intent in, entries out (traced through the model)', () => {
  const pods = Array.from({ length: 6 }, (_, i) => pod(i));
  const host = { node: NODE, interfaceName: 'P4TAP_1', portId: 1, ipv4: ip('200.1.1.2'), mac: 0x02000000aaaa, nodeIp: ip('192.0.2.10'), podCidr: '10.244.0.0/24' };

  it('pod to pod, ARP for the gateway, the node IP and other destinations', () => {
    const { model } = program({ node: NODE, host, pods, services: [] });
    const r = trace(model, 2, tcp({ src: pods[0]!.mac, dst: GW_MAC, srcIp: pods[0]!.ipv4, dstIp: pods[3]!.ipv4, sport: 1, dport: 2, flags: 'S' }));
    expect('port' in r && r.port).to.equal(5);
    expect(decode((r as { frame: Uint8Array }).frame).dst).to.equal(pods[3]!.mac);
    const toNode = trace(model, 2, tcp({ src: pods[0]!.mac, dst: GW_MAC, srcIp: pods[0]!.ipv4, dstIp: ip('192.0.2.10'), sport: 1, dport: 22, flags: 'S' }));
    expect('port' in toNode && toNode.port).to.equal(1);
    const outside = trace(model, 2, tcp({ src: pods[0]!.mac, dst: GW_MAC, srcIp: pods[0]!.ipv4, dstIp: ip('8.8.8.8'), sport: 1, dport: 53, flags: 'S' }));
    expect('port' in outside && outside.port).to.equal(1);
  });

  it('a VIP reaches exactly its ready endpoints; none ready → serving+terminating; none → dropped', () => {
    const services = [
      svc('10.96.0.1', [ep(1), ep(2), ep(3, { ready: false, serving: true, terminating: true })]),
      svc('10.96.0.2', [ep(4, { ready: false, serving: true, terminating: true }), ep(5, { ready: false, serving: false, terminating: true })]),
      svc('10.96.0.3', []),
      svc('10.96.0.4', [ep(2)], 'UDP', 53),
    ];
    const { model } = program({ node: NODE, host, pods, services });
    const reached = (vip: string): Set<string> => {
      const out = new Set<string>();
      for (let sport = 1000; sport < 1300; sport++) out.add(dst(trace(model, 2, synTo(pods[0]!, ip(vip), 80, sport))));
      return out;
    };
    expect(reached('10.96.0.1')).to.deep.equal(new Set(['port 3 → af4000b', 'port 4 → af4000c']));
    expect(reached('10.96.0.2')).to.deep.equal(new Set(['port 6 → af4000e']));
    expect([...reached('10.96.0.3')][0]).to.match(/^dropped/);
    const dns = trace(model, 2, udp({ src: pods[0]!.mac, dst: GW_MAC, srcIp: pods[0]!.ipv4, dstIp: ip('10.96.0.4'), sport: 5353, dport: 53 }));
    expect(dst(dns)).to.equal('port 4 → af4000c');
  });

  it('an endpoint whose pod is not known here is pending; another node’s endpoint leaves by the uplink', () => {
    const services = [svc('10.96.0.9', [ep(40), ep(50, { node: 'node-2' })])];
    const { model } = program({ node: NODE, host, pods, services });
    const seen = new Set<string>();
    for (let sport = 1000; sport < 1100; sport++) seen.add(dst(trace(model, 2, synTo(pods[0]!, ip('10.96.0.9'), 80, sport))));
    expect(seen).to.deep.equal(new Set(['port 1 → af4003c']));
  });

  it('one backend in two services shares one member; scaling 1 → 1,000 → 1 touches only what changes', () => {
    const shared = program({ node: NODE, host, pods, services: [svc('10.96.1.1', [ep(1)]), svc('10.96.1.2', [ep(1)], 'TCP', 443)] });
    expect(shared.entities.filter((e) => e.action_profile_member)).to.have.length(2); // reject + the shared endpoint
    const many = Array.from({ length: 1000 }, (_, i) => ep(1, { ipv4: ip('10.245.0.0') + i, node: 'node-2' }));
    const pools = newIdPools(info);
    const at = (endpoints: Endpoint[]) => {
      const intent = { node: NODE, host, pods, services: [svc('10.96.2.1', endpoints)] };
      assignIds(intent, pools);
      return desiredSet(render(info, intent, pools));
    };
    const one = at(many.slice(0, 1));
    const thousand = at(many);
    const up = diffEntities(thousand, [...one.values()].map((k) => k.entity), { volatileTables: new Set() });
    expect(up.counts).to.deep.include({ insert: 999, modify: 1, delete: 0 }); // 999 members, the group
    const back = at(many.slice(0, 1));
    const down = diffEntities(back, [...thousand.values()].map((k) => k.entity), { volatileTables: new Set() });
    expect(down.counts).to.deep.include({ insert: 0, modify: 1, delete: 999 });
    expect([...back.keys()]).to.deep.equal([...one.keys()], 'the remaining endpoint kept its member id');
  });

  it('is deterministic: the same intent and pools render the same entities', () => {
    const intent = { node: NODE, host, pods, services: [svc('10.96.0.1', [ep(1), ep(2)])] };
    const a = newIdPools(info);
    assignIds(intent, a);
    const b = newIdPools(info);
    assignIds(intent, b);
    expect(render(info, intent, a)).to.deep.equal(render(info, intent, b));
  });
});
