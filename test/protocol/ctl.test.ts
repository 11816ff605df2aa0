import { expect } from 'chai';
import { protoRoot } from '../../protocol/root.js';
import {
  DEFAULT_VIEW_LIMIT,
  MAX_VIEW_LIMIT,
  podsReplyCodec,
  servicesReplyCodec,
  tablesReplyCodec,
  tablesRequestCodec,
  treeReplyCodec,
  type PodsReply,
  type TablesReply,
} from '../../protocol/ctl.js';
import { ctlMethods } from '../../protocol/methods.js';

const raw = (name: string, value: Record<string, unknown>): Uint8Array => {
  const type = protoRoot.lookupType(`infra.v1.${name}`);
  return type.encode(type.fromObject(value)).finish();
};

describe('ctl codecs (the operator views)', () => {
  it('requests: a limit of 0 is the default, above the maximum is refused with the field named', () => {
    const d = tablesRequestCodec.decode(raw('TablesRequest', { node: 'node-1' }));
    expect(d.ok && d.value).to.deep.equal({ node: 'node-1', table: '', limit: DEFAULT_VIEW_LIMIT, learnedOnly: false });
    const big = ctlMethods.services.request.decode(raw('ServicesRequest', { node: 'node-1', limit: MAX_VIEW_LIMIT + 1 }));
    expect(!big.ok && [big.error.code, big.error.field]).to.deep.equal(['INVALID_ARGUMENT', 'limit']);
    const max = ctlMethods.pods.request.decode(raw('PodsRequest', { node: 'node-1', limit: MAX_VIEW_LIMIT }));
    expect(max.ok && max.value.limit).to.equal(MAX_VIEW_LIMIT);
  });

  it('requests: a bad node name or table name is INVALID_ARGUMENT; garbage is MALFORMED', () => {
    for (const [codec, bytes, field] of [
      [tablesRequestCodec, raw('TablesRequest', { node: 'Node_1' }), 'node'],
      [tablesRequestCodec, raw('TablesRequest', { node: 'node-1', table: 'x; rm -rf /' }), 'table'],
      [ctlMethods.tree.request, raw('TreeRequest', {}), 'node'],
      [ctlMethods.leadership.request, raw('LeadershipRequest', { node: 'a'.repeat(254) }), 'node'],
    ] as const) {
      const r = codec.decode(bytes);
      expect(!r.ok && [r.error.code, r.error.field]).to.deep.equal(['INVALID_ARGUMENT', field]);
    }
    const junk = ctlMethods.tree.request.decode(Uint8Array.of(0x0a, 0xff, 0xff));
    expect(!junk.ok && junk.error.code).to.equal('MALFORMED');
  });

  it('replies round-trip, optional parts included', () => {
    const tables: TablesReply = {
      node: 'node-1',
      target: 'unix:///run/p4.sock',
      deviceId: 1,
      electionId: 7,
      tables: [
        {
          name: 'service_lb',
          id: 3,
          matchFields: ['hdr.ipv4.dst_addr', 'hdr.ipv4.protocol', 'meta.l4_dst_port'],
          count: 1,
          capacity: 65536,
          learned: false,
          entries: [{ match: ['10.96.0.10', 'udp', '53'], action: '', params: [], memberId: 0, groupId: 4, isDefault: false, priority: 0 }],
        },
      ],
      learned: [{ name: 'ct_forward', id: 9, matchFields: [], count: 12, capacity: 262144, learned: true, entries: [] }],
      profiles: [{ name: 'lb_selector', memberCount: 1, groupCount: 1, members: [{ id: 2, action: 'lb_set_endpoint', params: [{ name: 'ep_ip', value: '10.244.0.5' }] }], groups: [{ id: 4, members: [2] }] }],
      shown: 3,
      omitted: 0,
      readMs: 5,
    };
    const t = tablesReplyCodec.decode(tablesReplyCodec.encode(tables));
    expect(t.ok && t.value).to.deep.equal(tables);
    const pods: PodsReply = { node: 'node-1', role: 'manager', count: 0, pods: [], hasPool: false, portCount: 0, ports: [], omitted: 0, host: undefined };
    const p = podsReplyCodec.decode(podsReplyCodec.encode(pods));
    expect(p.ok && p.value).to.deep.equal(pods);
  });

  it('replies are checked too: an unknown endpoint state or tree node kind is refused', () => {
    const svc = servicesReplyCodec.decode(raw('ServicesReply', { node: 'node-1', services: [{ key: 'k', endpoints: [{ address: '1.2.3.4:5', state: 'bogus' }] }] }));
    expect(!svc.ok && svc.error.field).to.equal('services[0].endpoints[0].state');
    const tree = treeReplyCodec.decode(raw('TreeReply', { node: 'node-1', role: 2, instanceId: 'abc', root: { id: 'x', kind: 'gizmo' } }));
    expect(!tree.ok && tree.error.field).to.equal('root.kind');
  });
});
