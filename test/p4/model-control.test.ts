import { expect } from 'chai';
import { loadP4Info, parseP4Info } from '../../p4/p4info.js';
import { ip } from '../../p4/frames.js';
import { ACTIONS, bytesOf, Code, codeName, EntityBuilder, LB_SELECTOR, Pipeline, TABLES, type Entity, type Status, type TableEntry, type Update } from '../../p4/model/index.js';
import { expectOk, GATEWAY_MAC, Node, pod } from './support.js';
import { tcp } from '../../p4/frames.js';
import { portOf, trace } from '../../p4/tracer.js';

const info = loadP4Info();
const b = new EntityBuilder(info);
const IPV4 = b.tableId(TABLES.ipv4ToPort);
const LB = b.tableId(TABLES.serviceLb);
const PROFILE = b.profileId(LB_SELECTOR);
const SET_MAC = info.actionByName(ACTIONS.setDestMacPort).id;
const DROP = info.actionByName(ACTIONS.drop).id;
const TO_UPLINK = info.actionByName(ACTIONS.toUplink).id;
const SET_EP = info.actionByName(ACTIONS.lbSetEndpoint).id;
const u8 = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

/** An ipv4_to_port entry for 10.244.0.2 → port 2, with overrides. */
function podEntry(over: Partial<TableEntry> = {}): Entity {
  const base = b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': ip('10.244.0.2') }, ACTIONS.setDestMacPort, { port: 2, dmac: 0x020000000002 });
  return { tableEntry: { ...(base as { tableEntry: TableEntry }).tableEntry, ...over } };
}

const memberOk = b.member(LB_SELECTOR, 1, ACTIONS.lbSetEndpoint, { ep_ip: ip('10.244.0.10'), ep_port: 8080 });

/** A fresh pipeline with: the pod entry, member 1, group 1 {1}, a service_lb entry to group 1. */
function seeded(): Pipeline {
  const p = new Pipeline(info);
  expectOk(p.insert(podEntry()));
  expectOk(p.insert(memberOk));
  expectOk(p.insert(b.group(LB_SELECTOR, 1, [1])));
  expectOk(p.insert(b.indirect(TABLES.serviceLb, { 'hdr.ipv4.dst_addr': ip('10.96.0.10'), 'hdr.ipv4.protocol': 6, 'meta.l4_dst_port': 80 }, { groupId: 1 })));
  return p;
}

const cases: [string, Update, keyof typeof Code][] = [
  ['INSERT of an existing key', { type: 'INSERT', entity: podEntry() }, 'ALREADY_EXISTS'],
  ['INSERT of an existing key with another action', { type: 'INSERT', entity: podEntry({ action: { actionId: DROP, params: [] } }) }, 'ALREADY_EXISTS'],
  ['MODIFY of a missing key', { type: 'MODIFY', entity: podEntry({ match: [{ fieldId: 1, exact: u8(10, 244, 0, 99) }] }) }, 'NOT_FOUND'],
  ['DELETE of a missing key', { type: 'DELETE', entity: b.key(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': 1 }) }, 'NOT_FOUND'],
  ['an unknown table id', { type: 'INSERT', entity: podEntry({ tableId: 12345 }) }, 'INVALID_ARGUMENT'],
  ['an unknown match field id', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 9, exact: u8(1) }] }) }, 'INVALID_ARGUMENT'],
  ['a missing exact field', { type: 'INSERT', entity: { tableEntry: { tableId: LB, match: [{ fieldId: 1, exact: u8(1) }], groupId: 1 } } }, 'INVALID_ARGUMENT'],
  ['a match field given twice', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(1) }, { fieldId: 1, exact: u8(2) }] }) }, 'INVALID_ARGUMENT'],
  ['a non-zero priority on an exact table', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], priority: 10 }) }, 'INVALID_ARGUMENT'],
  ['an unknown action id', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: 999, params: [] } }) }, 'INVALID_ARGUMENT'],
  ['an action of another table', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: SET_EP, params: [] } }) }, 'INVALID_ARGUMENT'],
  ['a DEFAULT_ONLY action in a match entry (scope)', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: TO_UPLINK, params: [] } }) }, 'INVALID_ARGUMENT'],
  ['an unknown param id', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: SET_MAC, params: [{ paramId: 1, value: u8(2) }, { paramId: 7, value: u8(1) }] } }) }, 'INVALID_ARGUMENT'],
  ['a missing param', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: SET_MAC, params: [{ paramId: 1, value: u8(2) }] } }) }, 'INVALID_ARGUMENT'],
  ['no action on a direct table', { type: 'INSERT', entity: { tableEntry: { tableId: IPV4, match: [{ fieldId: 1, exact: u8(7) }] } } }, 'INVALID_ARGUMENT'],
  ['a member on a direct table', { type: 'INSERT', entity: { tableEntry: { tableId: IPV4, match: [{ fieldId: 1, exact: u8(7) }], memberId: 1 } } }, 'INVALID_ARGUMENT'],
  ['an action on the indirect table', { type: 'INSERT', entity: { tableEntry: { tableId: LB, match: b.match(TABLES.serviceLb, { 'hdr.ipv4.dst_addr': 5, 'hdr.ipv4.protocol': 6, 'meta.l4_dst_port': 1 }), action: { actionId: SET_EP, params: [] } } } }, 'INVALID_ARGUMENT'],
  ['a table entry naming an unknown group', { type: 'INSERT', entity: b.indirect(TABLES.serviceLb, { 'hdr.ipv4.dst_addr': 5, 'hdr.ipv4.protocol': 6, 'meta.l4_dst_port': 1 }, { groupId: 77 }) }, 'INVALID_ARGUMENT'],
  ['INSERT of the default entry', { type: 'INSERT', entity: { tableEntry: { tableId: IPV4, match: [], isDefaultAction: true, action: { actionId: DROP, params: [] } } } }, 'INVALID_ARGUMENT'],
  ['MODIFY of the const default entry', { type: 'MODIFY', entity: { tableEntry: { tableId: IPV4, match: [], isDefaultAction: true, action: { actionId: DROP, params: [] } } } }, 'PERMISSION_DENIED'],
  ['a key value wider than its 32 bits', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(1, 0, 0, 0, 0) }] }) }, 'OUT_OF_RANGE'],
  ['a zero-length key bytestring', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8() }] }) }, 'OUT_OF_RANGE'],
  ['a 48-bit param of 49 bits', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: SET_MAC, params: [{ paramId: 1, value: u8(2) }, { paramId: 2, value: u8(1, 0, 0, 0, 0, 0, 0) }] } }) }, 'OUT_OF_RANGE'],
  ['a zero-length param', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: SET_MAC, params: [{ paramId: 1, value: u8() }, { paramId: 2, value: u8(1) }] } }) }, 'OUT_OF_RANGE'],
  ['a member INSERT twice', { type: 'INSERT', entity: memberOk }, 'ALREADY_EXISTS'],
  ['a member MODIFY of a missing member', { type: 'MODIFY', entity: b.member(LB_SELECTOR, 42, ACTIONS.lbReject) }, 'NOT_FOUND'],
  ['a member DELETE of a missing member', { type: 'DELETE', entity: { member: { profileId: PROFILE, memberId: 42 } } }, 'NOT_FOUND'],
  ['a member in use (in a group) deleted', { type: 'DELETE', entity: { member: { profileId: PROFILE, memberId: 1 } } }, 'FAILED_PRECONDITION'],
  ['a member with an unknown profile', { type: 'INSERT', entity: { member: { profileId: 5, memberId: 9, action: { actionId: SET_EP, params: [] } } } }, 'INVALID_ARGUMENT'],
  ['a member with member_id 0', { type: 'INSERT', entity: b.member(LB_SELECTOR, 0, ACTIONS.lbReject) }, 'INVALID_ARGUMENT'],
  ['a member with an action the table does not have', { type: 'INSERT', entity: { member: { profileId: PROFILE, memberId: 9, action: { actionId: SET_MAC, params: [] } } } }, 'INVALID_ARGUMENT'],
  ['a member without an action', { type: 'INSERT', entity: { member: { profileId: PROFILE, memberId: 9 } } }, 'INVALID_ARGUMENT'],
  ['a group naming an unknown member', { type: 'INSERT', entity: b.group(LB_SELECTOR, 2, [1, 99]) }, 'INVALID_ARGUMENT'],
  ['a group listing a member twice', { type: 'INSERT', entity: b.group(LB_SELECTOR, 2, [1, 1]) }, 'INVALID_ARGUMENT'],
  ['a group member of weight 0', { type: 'INSERT', entity: b.group(LB_SELECTOR, 2, [{ memberId: 1, weight: 0 }]) }, 'INVALID_ARGUMENT'],
  ['a group max_size above the P4Info max group size', { type: 'INSERT', entity: b.group(LB_SELECTOR, 2, [1], 4097) }, 'INVALID_ARGUMENT'],
  ['a group whose weights exceed its max_size', { type: 'INSERT', entity: b.group(LB_SELECTOR, 2, [{ memberId: 1, weight: 5 }], 4) }, 'RESOURCE_EXHAUSTED'],
  ['a group MODIFY changing max_size', { type: 'MODIFY', entity: b.group(LB_SELECTOR, 1, [1], 16) }, 'INVALID_ARGUMENT'],
  ['a group INSERT twice', { type: 'INSERT', entity: b.group(LB_SELECTOR, 1, [1]) }, 'ALREADY_EXISTS'],
  ['a group in use deleted', { type: 'DELETE', entity: { group: { profileId: PROFILE, groupId: 1 } } }, 'FAILED_PRECONDITION'],
  ['a group DELETE of a missing group', { type: 'DELETE', entity: { group: { profileId: PROFILE, groupId: 3 } } }, 'NOT_FOUND'],
  ['an unknown update type', { type: 'UPSERT' as 'INSERT', entity: podEntry() }, 'INVALID_ARGUMENT'],
  ['an empty entity', { type: 'INSERT', entity: {} as Entity }, 'INVALID_ARGUMENT'],
  ['a null entity', { type: 'INSERT', entity: null as unknown as Entity }, 'INVALID_ARGUMENT'],
  ['a match value that is not bytes', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: 'x' as unknown as Uint8Array }] }) }, 'INVALID_ARGUMENT'],
  ['no match list at all', { type: 'INSERT', entity: { tableEntry: { tableId: IPV4 } as TableEntry } }, 'INVALID_ARGUMENT'],
  ['action params missing as a list', { type: 'INSERT', entity: podEntry({ match: [{ fieldId: 1, exact: u8(7) }], action: { actionId: SET_MAC } as TableEntry['action'] }) }, 'INVALID_ARGUMENT'],
];

describe('P4 model: P4Runtime-style control-plane API', () => {
  for (const [name, update, code] of cases) {
    it(`${name} → ${code}, and nothing changes`, () => {
      const p = seeded();
      const before = JSON.stringify([p.read(b.all()), p.read({ member: { profileId: 0, memberId: 0 } }), p.read({ group: { profileId: 0, groupId: 0 } })]);
      const s: Status = p.write(update);
      expect(codeName(s.code), s.message).to.equal(code);
      expect(s.message).to.be.a('string').and.not.equal('');
      const after = JSON.stringify([p.read(b.all()), p.read({ member: { profileId: 0, memberId: 0 } }), p.read({ group: { profileId: 0, groupId: 0 } })]);
      expect(after).to.equal(before);
    });
  }

  it('accepts zero-padded bytestrings and reads entries back in canonical form', () => {
    const p = new Pipeline(info);
    const padded: Entity = {
      tableEntry: {
        tableId: IPV4,
        match: [{ fieldId: 1, exact: u8(0, 0, 0, 0, 10, 244, 0, 5) }],
        action: { actionId: SET_MAC, params: [{ paramId: 1, value: u8(0, 0, 0, 0, 0, 0) }, { paramId: 2, value: u8(0, 0, 0, 0, 2, 0, 0, 0, 0, 5) }] },
      },
    };
    expectOk(p.insert(padded));
    const r = p.read(b.all(TABLES.ipv4ToPort));
    expect(r.ok && r.value).to.deep.equal([
      { tableEntry: { tableId: IPV4, match: [{ fieldId: 1, exact: u8(10, 244, 0, 5) }], action: { actionId: SET_MAC, params: [{ paramId: 1, value: u8(0) }, { paramId: 2, value: u8(2, 0, 0, 0, 0, 5) }] } } },
    ]);
    expect(codeName(p.insert(padded).code)).to.equal('ALREADY_EXISTS');
    const one = p.read(b.key(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': ip('10.244.0.5') }));
    expect(one.ok && one.value).to.have.length(1);
    const none = p.read(b.key(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': ip('10.244.0.6') }));
    expect(none.ok && none.value).to.deep.equal([]);
  });

  it('MODIFY changes the forwarding, DELETE removes it (traced)', () => {
    const n = new Node().addPod(pod(2)).addPod(pod(3));
    const f = tcp({ src: pod(2).mac, dst: GATEWAY_MAC, srcIp: pod(2).ip, dstIp: pod(3).ip, sport: 1, dport: 2, flags: 'A' });
    expect(portOf(trace(n.p, 2, f))).to.equal(3);
    expectOk(n.p.modify(n.b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': pod(3).ip }, ACTIONS.setDestMacPort, { port: 7, dmac: 1 })));
    expect(portOf(trace(n.p, 2, f))).to.equal(7);
    expectOk(n.p.delete(n.b.key(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': pod(3).ip })));
    expect(portOf(trace(n.p, 2, f))).to.equal(1);
  });

  it('reads members and groups back, and lets the same member sit in several groups', () => {
    const p = seeded();
    expectOk(p.insert(b.group(LB_SELECTOR, 2, [{ memberId: 1, weight: 3 }], 8)));
    const m = p.read({ member: { profileId: PROFILE, memberId: 1 } });
    expect(m.ok && m.value).to.deep.equal([{ member: { profileId: PROFILE, memberId: 1, action: { actionId: SET_EP, params: [{ paramId: 1, value: u8(10, 244, 0, 10) }, { paramId: 2, value: bytesOf(8080) }] } } }]);
    const g = p.read({ group: { profileId: PROFILE, groupId: 0 } });
    expect(g.ok && g.value.map((x) => ('group' in x ? [x.group.groupId, x.group.members, x.group.maxSize] : []))).to.deep.equal([
      [1, [{ memberId: 1, weight: 1 }], 4096],
      [2, [{ memberId: 1, weight: 3 }], 8],
    ]);
    expect(codeName(p.delete({ group: { profileId: PROFILE, groupId: 2 } }).code)).to.equal('OK');
    expect(codeName(p.delete({ member: { profileId: PROFILE, memberId: 1 } }).code)).to.equal('FAILED_PRECONDITION');
  });

  it('marks learned entries on read and lets the control plane delete them', () => {
    const n = new Node().addPod(pod(2)).addPod(pod(10)).addService(ip('10.96.0.10'), 6, 80, [{ ip: pod(10).ip, port: 8080 }]);
    trace(n.p, 2, tcp({ src: pod(2).mac, dst: GATEWAY_MAC, srcIp: pod(2).ip, dstIp: ip('10.96.0.10'), sport: 1000, dport: 80, flags: 'S' }));
    const r = n.p.read(n.b.all(TABLES.ctForward));
    const entry = r.ok && 'tableEntry' in r.value[0]! ? r.value[0].tableEntry : undefined;
    expect(entry).to.deep.include({ learned: true, expiryProfileId: 0 });
    expectOk(n.p.delete({ tableEntry: { tableId: entry!.tableId, match: entry!.match } }));
    expect(n.p.stats().tables.find((t) => t.alias === 'ct_forward')!.entries).to.equal(0);
  });

  it('enforces table sizes from the P4Info (RESOURCE_EXHAUSTED), for writes and for learning', () => {
    const raw = structuredClone(info.raw) as { tables: { preamble: { name: string }; size: string }[]; actionProfiles: { size: string }[] };
    for (const t of raw.tables) t.size = t.preamble.name.endsWith('ct_forward') ? '4' : '8';
    raw.actionProfiles[0]!.size = '3';
    const small = parseP4Info(raw);
    const n = new Node(small).addPod(pod(2));
    for (let i = 0; i < 7; i++) expectOk(n.p.insert(n.b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': 100 + i }, ACTIONS.drop)));
    expect(codeName(n.p.insert(n.b.entry(TABLES.ipv4ToPort, { 'hdr.ipv4.dst_addr': 200 }, ACTIONS.drop)).code)).to.equal('RESOURCE_EXHAUSTED');
    for (let m = 1; m <= 3; m++) expectOk(n.p.insert(n.b.member(LB_SELECTOR, m, ACTIONS.lbSetEndpoint, { ep_ip: pod(2).ip, ep_port: 80 })));
    expect(codeName(n.p.insert(n.b.member(LB_SELECTOR, 4, ACTIONS.lbReject)).code)).to.equal('RESOURCE_EXHAUSTED');
    expectOk(n.p.insert(n.b.group(LB_SELECTOR, 1, [1, 2, 3])));
    expectOk(n.p.insert(n.b.indirect(TABLES.serviceLb, { 'hdr.ipv4.dst_addr': ip('10.96.0.1'), 'hdr.ipv4.protocol': 6, 'meta.l4_dst_port': 80 }, { groupId: 1 })));
    for (let sport = 1; sport <= 6; sport++) trace(n.p, 2, tcp({ src: pod(2).mac, dst: GATEWAY_MAC, srcIp: pod(2).ip, dstIp: ip('10.96.0.1'), sport, dport: 80, flags: 'S' }));
    const s = n.p.stats();
    expect(s.tables.find((t) => t.alias === 'ct_forward')!.entries).to.equal(4);
    expect(s.learnFailed).to.equal(2);
    expect(s.tables.find((t) => t.alias === 'ct_reverse')!.entries).to.equal(4);
  });

  it('rejects reads of unknown tables and profiles', () => {
    const p = new Pipeline(info);
    const t = p.read({ tableEntry: { tableId: 4242, match: [] } });
    expect(!t.ok && codeName(t.error.code)).to.equal('INVALID_ARGUMENT');
    const m = p.read({ member: { profileId: 4242, memberId: 0 } });
    expect(!m.ok && codeName(m.error.code)).to.equal('INVALID_ARGUMENT');
  });

  it('uses the P4Runtime numeric codes', () => {
    expect([Code.OK, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.ALREADY_EXISTS, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED, Code.FAILED_PRECONDITION, Code.OUT_OF_RANGE]).to.deep.equal([0, 3, 5, 6, 7, 8, 9, 11]);
  });
});
