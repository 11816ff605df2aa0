import { expect } from 'chai';
import { formatP4Value, tablesView } from '../../p4/entry-view.js';
import { loadP4Info } from '../../p4/p4info.js';
import { gatewayEntities, memberEntity, podEntities, rejectMemberEntity, serviceEntities } from '../../p4/render.js';
import type { WireEntity } from '../../p4/desired.js';
import type { PodInterface, ServicePort } from '../../protocol/intent.js';

const info = loadP4Info();
const pod = (i: number): PodInterface => ({
  node: 'node-1',
  namespace: 'default',
  name: `p${i}`,
  containerId: `c${i}`,
  interfaceName: `P4TAP_${i + 2}`,
  portId: i + 2,
  ipv4: 0x0af40000 + 10 + i,
  mac: 0x020000000000 + 10 + i,
});
const service: ServicePort = { namespace: 'default', name: 'dns', portName: 'dns', clusterIp: 0x0a60000a, port: 53, protocol: 'UDP', endpoints: [] };
const flow = (sport: number): WireEntity => ({
  table_entry: {
    table_id: info.tableByName('MainControlImpl.ct_forward').id,
    match: [
      { field_id: 1, exact: { value: Uint8Array.of(10, 244, 0, 10) } },
      { field_id: 2, exact: { value: Uint8Array.of(10, 96, 0, 10) } },
      { field_id: 3, exact: { value: Uint8Array.of(17) } },
      { field_id: 4, exact: { value: Uint8Array.of(sport >> 8, sport & 255) } },
      { field_id: 5, exact: { value: Uint8Array.of(0, 53) } },
    ],
    action: { action: { action_id: info.actionByName('MainControlImpl.ct_dnat').id, params: [{ param_id: 1, value: Uint8Array.of(10, 244, 0, 11) }, { param_id: 2, value: Uint8Array.of(0, 53) }] } },
  },
});

describe('the device as an operator reads it (p4/entry-view)', () => {
  it('formats values by width and name', () => {
    expect(formatP4Value(Uint8Array.of(10, 244, 0, 5), 32, 'hdr.ipv4.dst_addr')).to.equal('10.244.0.5');
    expect(formatP4Value(Uint8Array.of(0, 0, 0, 2), 32, 'port')).to.equal('2');
    expect(formatP4Value(Uint8Array.of(2, 0, 0, 0, 0, 0xa), 48, 'dmac')).to.equal('02:00:00:00:00:0a');
    expect(formatP4Value(Uint8Array.of(6), 8, 'hdr.ipv4.protocol')).to.equal('tcp');
    expect(formatP4Value(Uint8Array.of(0x1f, 0x90), 16, 'meta.l4_dst_port')).to.equal('8080');
    // P4Runtime may send a value without its leading zero bytes.
    expect(formatP4Value(Uint8Array.of(5), 32, 'ep_ip')).to.equal('0.0.0.5');
    expect(formatP4Value(new Uint8Array(9).fill(1), 72, 'wide')).to.equal('0x10101010101010101');
  });

  it('names tables, fields, actions and params; lists programmed entries in key order, learned ones apart', () => {
    const entities = [
      ...podEntities(info, pod(1)),
      ...podEntities(info, pod(0)),
      ...gatewayEntities(info),
      ...serviceEntities(info, service, 0, []),
      rejectMemberEntity(info),
      memberEntity(info, { ipv4: 0x0af4000a, port: 53 }, 2),
      flow(40000),
      flow(40001),
    ];
    const learnedId = info.tableByName('MainControlImpl.ct_forward').id;
    const view = tablesView(info, entities, { read: () => true, list: (id) => id !== learnedId, limit: 100 });
    const arp = view.tables.find((t) => t.name === 'arp_to_port')!;
    expect(arp.entries.map((e) => e.match[0])).to.deep.equal(['10.244.0.10', '10.244.0.11', '169.254.1.1']);
    expect(arp.entries[0]).to.deep.include({ action: 'set_port', params: [{ name: 'port', value: '2' }] });
    const lb = view.tables.find((t) => t.name === 'service_lb')!;
    expect(lb.entries[0]).to.deep.include({ match: ['10.96.0.10', 'udp', '53'], action: '', memberId: 1 });
    expect(view.profiles[0]!.members.map((m) => [m.id, m.action])).to.deep.equal([
      [1, 'lb_reject'],
      [2, 'lb_set_endpoint'],
    ]);
    expect(view.learned.map((t) => [t.name, t.count, t.entries.length])).to.deep.equal([
      ['ct_forward', 2, 0],
      ['ct_reverse', 0, 0],
    ]);
    const flows = tablesView(info, entities, { read: (id) => id === learnedId, list: (id) => id === learnedId, limit: 100 });
    expect(flows.tables.map((t) => t.name)).to.not.include('ct_forward');
    expect(flows.learned[0]!.entries[0]).to.deep.equal({
      match: ['10.244.0.10', '10.96.0.10', 'udp', '40000', '53'],
      action: 'ct_dnat',
      params: [
        { name: 'ep_ip', value: '10.244.0.11' },
        { name: 'ep_port', value: '53' },
      ],
      memberId: 0,
      groupId: 0,
      isDefault: false,
      priority: 0,
    });
  });

  it('stops at the limit or the byte budget and counts what it left out', () => {
    const entities = Array.from({ length: 50 }, (_, i) => podEntities(info, pod(i))).flat();
    const limited = tablesView(info, entities, { read: () => true, list: () => true, limit: 30 });
    expect([limited.shown, limited.omitted]).to.deep.equal([30, 70]);
    expect(limited.tables.map((t) => [t.name, t.count])).to.deep.include.members([
      ['arp_to_port', 50],
      ['ipv4_to_port', 50],
    ]);
    const budget = tablesView(info, entities, { read: () => true, list: () => true, limit: 1000, byteBudget: 500 });
    expect(budget.shown).to.be.within(1, 30);
    expect(budget.shown + budget.omitted).to.equal(100);
  });
});
