import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { expect } from 'chai';
import {
  endpointConditions,
  forNewConnections,
  isProgrammable,
  nodeInfo,
  servicePorts,
  type Conditions,
} from '../../actors/agent/kube-mapping.js';
import { formatIpv4, parseIpv4 } from '../../messages/validate.js';
import { endpoints, nodeObject, service, slice, type EndpointSpec, type PortSpec } from '../kube/support.js';

const svc = (ports: PortSpec[], extra: Record<string, unknown> = {}): V1Service => service('web', '10.96.0.10', ports, extra) as unknown as V1Service;
const eps = (name: string, e: EndpointSpec[], ports: PortSpec[], owner = 'web'): V1EndpointSlice => slice(name, owner, e, ports) as unknown as V1EndpointSlice;
const text = (eps: readonly { ipv4: number; port: number }[]): string[] => eps.map((e) => `${formatIpv4(e.ipv4)}:${e.port}`);

describe('agent: Kubernetes objects → service intent (kube-mapping)', () => {
  describe('endpoint conditions, as kube-proxy reads them', () => {
    const cases: { name: string; in: Record<string, boolean> | undefined; out: Conditions; programmable: boolean }[] = [
      { name: 'no conditions at all', in: undefined, out: { ready: true, serving: true, terminating: false }, programmable: true },
      { name: 'ready absent counts as ready', in: { serving: true }, out: { ready: true, serving: true, terminating: false }, programmable: true },
      { name: 'not ready, serving absent = not serving', in: { ready: false }, out: { ready: false, serving: false, terminating: false }, programmable: false },
      { name: 'ready', in: { ready: true, serving: true, terminating: false }, out: { ready: true, serving: true, terminating: false }, programmable: true },
      { name: 'terminating and still serving: drains', in: { ready: false, serving: true, terminating: true }, out: { ready: false, serving: true, terminating: true }, programmable: true },
      { name: 'terminating, no longer serving', in: { ready: false, serving: false, terminating: true }, out: { ready: false, serving: false, terminating: true }, programmable: false },
      { name: 'starting: not ready, not terminating', in: { ready: false, serving: false }, out: { ready: false, serving: false, terminating: false }, programmable: false },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const got = endpointConditions(c.in);
        expect(got, c.name).to.deep.equal(c.out);
        expect(isProgrammable(got), c.name).to.equal(c.programmable);
      });
    }
  });

  describe('which endpoints new connections use', () => {
    const R = { ready: true, serving: true, terminating: false };
    const T = { ready: false, serving: true, terminating: true };
    const X = { ready: false, serving: false, terminating: true };
    const cases: { name: string; set: (Conditions & { id: string })[]; use: string[] }[] = [
      { name: 'the ready ones, terminating ones left to drain', set: [{ id: 'a', ...R }, { id: 'b', ...T }], use: ['a'] },
      { name: 'none ready: fall back to serving+terminating', set: [{ id: 'b', ...T }, { id: 'c', ...X }], use: ['b'] },
      { name: 'none ready, none serving: reject', set: [{ id: 'c', ...X }], use: [] },
      { name: 'empty: reject', set: [], use: [] },
      { name: 'several ready', set: [{ id: 'a', ...R }, { id: 'd', ...R }, { id: 'b', ...T }], use: ['a', 'd'] },
    ];
    for (const c of cases) it(c.name, () => expect(forNewConnections(c.set).map((e) => e.id), c.name).to.deep.equal(c.use));
  });

  describe('services and their slices', () => {
    it('maps each TCP/UDP port to ClusterIP:port/protocol with the target port from the slice port of the same name', () => {
      const s = svc([
        { name: 'http', port: 80, targetPort: 'web' },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
      ]);
      const m = servicePorts(s, [eps('web-1', endpoints(2), [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }])], 'node-1');
      expect(m.skipped).to.deep.equal([]);
      expect(m.ports.map((p) => [formatIpv4(p.clusterIp), p.port, p.protocol, p.portName, text(p.endpoints)])).to.deep.equal([
        ['10.96.0.10', 53, 'UDP', 'dns', ['10.244.1.1:5353', '10.244.1.2:5353']],
        ['10.96.0.10', 80, 'TCP', 'http', ['10.244.1.1:8080', '10.244.1.2:8080']],
      ]);
      expect(m.ports[0]).to.include({ namespace: 'default', name: 'web' });
    });

    it('merges three slices, de-duplicating by address and port, each slice with its own target port number', () => {
      const m = servicePorts(
        svc([{ name: 'http', port: 80 }]),
        [
          eps('web-c', [{ ip: '10.244.3.1' }], [{ name: 'http', port: 9090 }]),
          eps('web-a', endpoints(2, 1), [{ name: 'http', port: 8080 }]),
          eps('web-b', [{ ip: '10.244.1.2', ready: false, serving: true, terminating: true }, { ip: '10.244.2.1' }], [{ name: 'http', port: 8080 }]),
          eps('other-1', [{ ip: '10.244.7.7' }], [{ name: 'http', port: 8080 }], 'other'),
        ],
        'node-1',
      );
      const [p] = m.ports;
      expect(text(p!.endpoints)).to.deep.equal(['10.244.1.1:8080', '10.244.1.2:8080', '10.244.2.1:8080', '10.244.3.1:9090']);
      // The same address:port in two slices: the later slice (by name) wins, as in kube-proxy.
      expect(p!.endpoints[1]).to.include({ ready: false, terminating: true });
    });

    const skips: { name: string; service: V1Service; slices?: V1EndpointSlice[]; ports: number; reason: RegExp }[] = [
      { name: 'headless', service: svc([{ port: 80 }], { clusterIP: 'None', clusterIPs: ['None'] }), ports: 0, reason: /headless/ },
      { name: 'ExternalName', service: svc([{ port: 80 }], { type: 'ExternalName', clusterIP: undefined, clusterIPs: undefined }), ports: 0, reason: /ExternalName/ },
      { name: 'IPv6 only', service: svc([{ port: 80 }], { clusterIP: 'fd00::10', clusterIPs: ['fd00::10'] }), ports: 0, reason: /no IPv4/ },
      { name: 'no cluster IP yet', service: svc([{ port: 80 }], { clusterIP: '', clusterIPs: [] }), ports: 0, reason: /no cluster IP/ },
      { name: 'SCTP port', service: svc([{ name: 's', port: 9, protocol: 'SCTP' }, { name: 'h', port: 80 }]), ports: 1, reason: /SCTP is not offloaded/ },
      {
        name: 'IPv6 slice',
        service: svc([{ port: 80 }]),
        slices: [{ ...eps('v6', [{ ip: 'fd00::1' }], [{ port: 80 }]), addressType: 'IPv6' }],
        ports: 1,
        reason: /IPv6 addresses/,
      },
      { name: 'loopback endpoint', service: svc([{ port: 80 }]), slices: [eps('lo', [{ ip: '127.0.0.1' }], [{ port: 80 }])], ports: 1, reason: /loopback/ },
    ];
    for (const c of skips) {
      it(`skips with a reason: ${c.name}`, () => {
        const m = servicePorts(c.service, c.slices ?? [], 'node-1');
        expect(m.ports, c.name).to.have.length(c.ports);
        expect(m.skipped.join('\n'), c.name).to.match(c.reason);
      });
    }

    it('dual-stack: uses the IPv4 cluster IP whichever family is primary', () => {
      const m = servicePorts(svc([{ port: 80 }], { clusterIP: 'fd00::10', clusterIPs: ['fd00::10', '10.96.0.11'] }), [], 'node-1');
      expect(m.ports.map((p) => formatIpv4(p.clusterIp))).to.deep.equal(['10.96.0.11']);
    });

    it('a slice port without a matching name gives that service port no endpoints', () => {
      const m = servicePorts(svc([{ name: 'http', port: 80 }]), [eps('x', endpoints(1), [{ name: 'metrics', port: 9100 }])], 'node-1');
      expect(m.ports[0]!.endpoints).to.deep.equal([]);
    });

    it('internalTrafficPolicy Local keeps only this node\'s endpoints', () => {
      const e = [{ ip: '10.244.1.1', node: 'node-1' }, { ip: '10.244.2.1', node: 'node-2' }];
      const local = servicePorts(svc([{ port: 80 }], { internalTrafficPolicy: 'Local' }), [eps('s', e, [{ port: 8080 }])], 'node-1');
      const cluster = servicePorts(svc([{ port: 80 }]), [eps('s', e, [{ port: 8080 }])], 'node-1');
      expect(text(local.ports[0]!.endpoints)).to.deep.equal(['10.244.1.1:8080']);
      expect(text(cluster.ports[0]!.endpoints)).to.have.length(2);
    });

    it('follows a rolling update through ready → terminating → gone, with the fallback when none is ready', () => {
      const steps: { name: string; e: EndpointSpec[]; programmed: string[]; newConnections: string[] }[] = [
        { name: 'old ready', e: [{ ip: '10.244.1.1' }], programmed: ['10.244.1.1'], newConnections: ['10.244.1.1'] },
        {
          name: 'new starting, old ready',
          e: [{ ip: '10.244.1.1' }, { ip: '10.244.1.2', ready: false, serving: false }],
          programmed: ['10.244.1.1'],
          newConnections: ['10.244.1.1'],
        },
        {
          name: 'new ready, old terminating',
          e: [{ ip: '10.244.1.1', ready: false, serving: true, terminating: true }, { ip: '10.244.1.2' }],
          programmed: ['10.244.1.1', '10.244.1.2'],
          newConnections: ['10.244.1.2'],
        },
        {
          name: 'only terminating left: fallback',
          e: [{ ip: '10.244.1.1', ready: false, serving: true, terminating: true }],
          programmed: ['10.244.1.1'],
          newConnections: ['10.244.1.1'],
        },
        { name: 'terminating, not serving: rejected', e: [{ ip: '10.244.1.1', ready: false, serving: false, terminating: true }], programmed: [], newConnections: [] },
      ];
      for (const s of steps) {
        const p = servicePorts(svc([{ port: 80 }]), [eps('s', s.e, [{ port: 8080 }])], 'node-1').ports[0]!;
        expect(p.endpoints.map((e) => formatIpv4(e.ipv4)), s.name).to.deep.equal(s.programmed);
        expect(forNewConnections(p.endpoints).map((e) => formatIpv4(e.ipv4)), s.name).to.deep.equal(s.newConnections);
      }
    });
  });

  it('reads a Node: IPv4 pod CIDRs and the first InternalIP', () => {
    const n = nodeObject('node-1', '192.0.2.10', '10.244.0.0/24') as unknown as V1Node;
    n.spec!.podCIDRs = ['10.244.0.0/24', 'fd00:10:244::/64'];
    expect(nodeInfo(n)).to.deep.equal({ name: 'node-1', podCidrs: ['10.244.0.0/24'], internalIp: parseIpv4('192.0.2.10') });
    expect(nodeInfo({ metadata: { name: 'bare' } })).to.deep.equal({ name: 'bare', podCidrs: [], internalIp: undefined });
  });
});
