import { expect } from 'chai';
import { loadP4Info, parseP4Info, type P4Info } from '../../p4/p4info.js';
import { arpRequest, ip, tcp, udp } from '../../p4/frames.js';
import { trace } from '../../p4/tracer.js';
import { checkP4Info, TABLE_APPLY_ORDER } from '../../p4/model/index.js';
import { GATEWAY_IP, GATEWAY_MAC, Node, pod } from './support.js';

type Json = Record<string, unknown>;

/** Every id in the P4Info renumbered: tables, actions, profiles, and the match-field and param ids (reversed). */
function renumbered(raw: unknown): { raw: Json; changed: number } {
  const j = structuredClone(raw) as Json;
  const ids = new Map<number, number>();
  let changed = 0;
  const remap = (id: unknown, base: number): number => {
    const old = Number(id);
    if (!ids.has(old)) ids.set(old, base + 7919 * (ids.size + 3));
    changed++;
    return ids.get(old)!;
  };
  const tables = j.tables as Json[];
  const actions = j.actions as Json[];
  const profiles = j.actionProfiles as Json[];
  for (const t of tables) (t.preamble as Json).id = remap((t.preamble as Json).id, 0x02100000);
  for (const a of actions) (a.preamble as Json).id = remap((a.preamble as Json).id, 0x01100000);
  for (const p of profiles) (p.preamble as Json).id = remap((p.preamble as Json).id, 0x11100000);
  for (const t of tables) {
    const fields = t.matchFields as Json[];
    fields.forEach((f, i) => (f.id = fields.length - i + 10));
    for (const r of t.actionRefs as Json[]) r.id = ids.get(Number(r.id));
    t.constDefaultActionId = ids.get(Number(t.constDefaultActionId));
    if (t.implementationId !== undefined) t.implementationId = ids.get(Number(t.implementationId));
  }
  for (const a of actions) {
    const params = (a.params as Json[] | undefined) ?? [];
    params.forEach((p, i) => (p.id = params.length - i + 20));
  }
  for (const p of profiles) p.tableIds = (p.tableIds as number[]).map((id) => ids.get(Number(id)));
  return { raw: j, changed };
}

const CLIENT = pod(2);
const EPS = [pod(10), pod(11), pod(12)];
const VIP = ip('10.96.0.10');

/** Programs a node and traces a fixed set of packets; returns what happened, by name only. */
function scenario(info: P4Info): unknown[] {
  const n = new Node(info).gateway().addPod(CLIENT);
  for (const e of EPS) n.addPod(e);
  n.addService(VIP, 6, 80, EPS.map((e) => ({ ip: e.ip, port: 8080 })));
  n.addService(VIP, 17, 53, EPS.map((e) => ({ ip: e.ip, port: 53 })));
  n.addService(ip('10.96.0.99'), 6, 80, []);
  const log: unknown[] = [];
  const frames = [
    arpRequest({ src: CLIENT.mac, spa: CLIENT.ip, tpa: GATEWAY_IP }),
    tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: EPS[0]!.ip, sport: 1, dport: 2, flags: 'A' }),
    tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: ip('8.8.8.8'), sport: 1, dport: 2, flags: 'S' }),
    tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: ip('10.96.0.99'), sport: 1, dport: 80, flags: 'S' }),
  ];
  for (let sport = 30000; sport < 30040; sport++) {
    frames.push(tcp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport, dport: 80, flags: 'S' }));
    frames.push(udp({ src: CLIENT.mac, dst: GATEWAY_MAC, srcIp: CLIENT.ip, dstIp: VIP, sport, dport: 53 }));
  }
  for (const f of frames) {
    const r = trace(n.p, CLIENT.port, f);
    log.push('port' in r ? { port: r.port, frame: Array.from(r.frame), hit: r.hit } : r);
  }
  for (const e of EPS) {
    const back = tcp({ src: e.mac, dst: GATEWAY_MAC, srcIp: e.ip, dstIp: CLIENT.ip, sport: 8080, dport: 30001, flags: 'SA' });
    const r = trace(n.p, e.port, back);
    log.push('port' in r ? { port: r.port, frame: Array.from(r.frame) } : r);
  }
  const all = n.p.read(n.b.all());
  log.push(all.ok ? all.value.map((x) => ('tableEntry' in x ? n.b.describe(x.tableEntry) : x)) : all);
  const { tables, ...rest } = n.p.stats();
  log.push(rest, tables.map(({ name, hits, misses, entries }) => ({ name, hits, misses, entries })));
  return log;
}

describe('P4 model: driven by the P4Info, not by its ids', () => {
  it('behaves identically with every id of the P4Info renumbered', () => {
    const info = loadP4Info();
    const { raw, changed } = renumbered(info.raw);
    const other = parseP4Info(raw);
    expect(changed).to.be.greaterThan(15);
    expect(other.tableByName('MainControlImpl.ct_forward').id).to.not.equal(info.tableByName('MainControlImpl.ct_forward').id);
    expect(other.tableByName('MainControlImpl.ct_forward').matchFields[0]!.id).to.not.equal(info.tableByName('MainControlImpl.ct_forward').matchFields[0]!.id);
    const a = scenario(info);
    const b = scenario(other);
    expect(b).to.deep.equal(a);
    expect(JSON.stringify(a)).to.include('"port":10').and.include('lb_reject');
  });

  it('exports the apply order of MainControlImpl and checks a P4Info against the names it needs', () => {
    expect(TABLE_APPLY_ORDER).to.deep.equal(['MainControlImpl.arp_to_port', 'MainControlImpl.service_lb', 'MainControlImpl.ct_forward', 'MainControlImpl.ct_reverse', 'MainControlImpl.ipv4_to_port']);
    const info = loadP4Info();
    expect(checkP4Info(info)).to.equal(undefined);
    const raw = structuredClone(info.raw) as { tables: { preamble: { name: string } }[] };
    raw.tables[2]!.preamble.name = 'MainControlImpl.conntrack';
    expect(checkP4Info(parseP4Info(raw))).to.match(/ct_forward/);
    const raw2 = structuredClone(info.raw) as { actions: { preamble: { name: string }; params?: { name: string }[] }[] };
    raw2.actions.find((a) => a.preamble.name.endsWith('ct_snat'))!.params![0]!.name = 'addr';
    expect(checkP4Info(parseP4Info(raw2))).to.match(/ct_snat/);
  });
});
