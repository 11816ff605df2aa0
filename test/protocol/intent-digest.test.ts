/**
 * The intent digest (protocol/intent-digest.ts) is canonical: equal intent held with other
 * property orders (the agent builds its objects by hand, the manager gets them from a codec) or
 * in other orders gives the same digest; any change of any field gives another.
 */
import { expect } from 'chai';
import type { HostInterface, PodInterface, ServicePort } from '../../protocol/intent.js';
import { intentDigest } from '../../protocol/intent-digest.js';
import { agentMethods } from '../../protocol/methods.js';

const host: HostInterface = { node: 'n1', interfaceName: 'P4TAP_1', portId: 1, ipv4: 0xc000020a, mac: 0x02fe00000002, nodeIp: 0xc000020a, podCidr: '10.244.0.0/24' };
const pods: PodInterface[] = [1, 2, 3].map((i) => ({ node: 'n1', namespace: 'default', name: `p${i}`, containerId: `c${i}`, interfaceName: `P4TAP_${i + 1}`, portId: i + 1, ipv4: 0x0af40000 + i, mac: 0x020000000000 + i }));
const ep = (i: number, node = 'n1') => ({ ipv4: 0x0af40000 + i, port: 8080, node, ready: true, serving: true, terminating: false });
const services: ServicePort[] = [
  { clusterIp: 0x0a60000a, port: 80, protocol: 'TCP', namespace: 'default', name: 'web', portName: 'http', endpoints: [ep(1), ep(2), ep(3, 'n2')] },
  { clusterIp: 0x0a600035, port: 53, protocol: 'UDP', namespace: 'kube-system', name: 'dns', portName: 'dns', endpoints: [ep(2)] },
];

/** The same object with its properties in reverse order. */
function reversed<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).reverse()) as T;
}

describe('intent digest', function () {
  const digest = intentDigest(host, pods, services);

  it('is the same for the same intent held in another order and with other property orders', function () {
    const shuffledServices = [...services].reverse().map((s) => reversed({ ...s, endpoints: [...s.endpoints].reverse().map(reversed) }));
    expect(intentDigest(reversed(host), [...pods].reverse().map(reversed), shuffledServices)).to.equal(digest);
  });

  it('is the same after the state crossed the wire (the manager holds what the codec decoded)', function () {
    const codec = agentMethods.sync.response;
    const page = codec.decode(codec.encode({ state: { node: 'n1', revision: 3, host, pods, services }, snapshot: 1, offset: 0, total: pods.length + services.length, more: false }));
    expect(page.ok).to.equal(true);
    if (page.ok) expect(intentDigest(page.value.state.host, page.value.state.pods, page.value.state.services)).to.equal(digest);
  });

  it('changes with every field of every object', function () {
    const changed: [string, string][] = [];
    for (const k of Object.keys(host) as (keyof HostInterface)[]) changed.push([`host.${k}`, intentDigest({ ...host, [k]: typeof host[k] === 'number' ? (host[k]) + 1 : `${host[k]}x` }, pods, services)]);
    for (const k of Object.keys(pods[0]!) as (keyof PodInterface)[]) {
      const p0 = pods[0]!;
      changed.push([`pod.${k}`, intentDigest(host, [{ ...p0, [k]: typeof p0[k] === 'number' ? (p0[k]) + 100 : `${p0[k]}x` }, ...pods.slice(1)], services)]);
    }
    const s0 = services[0]!;
    for (const k of ['clusterIp', 'port', 'namespace', 'name', 'portName'] as const) changed.push([`service.${k}`, intentDigest(host, pods, [{ ...s0, [k]: typeof s0[k] === 'number' ? (s0[k]) + 1 : `${s0[k]}x` }, services[1]!])]);
    changed.push(['service.protocol', intentDigest(host, pods, [{ ...s0, protocol: 'UDP' }, services[1]!])]);
    for (const k of ['ipv4', 'port', 'node', 'ready', 'serving', 'terminating'] as const) {
      const e0 = s0.endpoints[0]!;
      const v = typeof e0[k] === 'number' ? (e0[k]) + 1 : typeof e0[k] === 'boolean' ? !e0[k] : `${e0[k]}x`;
      changed.push([`endpoint.${k}`, intentDigest(host, pods, [{ ...s0, endpoints: [{ ...e0, [k]: v }, ...s0.endpoints.slice(1)] }, services[1]!])]);
    }
    changed.push(['no host', intentDigest(undefined, pods, services)]);
    changed.push(['a pod fewer', intentDigest(host, pods.slice(1), services)]);
    changed.push(['an endpoint fewer', intentDigest(host, pods, [{ ...s0, endpoints: s0.endpoints.slice(1) }, services[1]!])]);
    for (const [what, d] of changed) expect(d, what).to.not.equal(digest);
    expect(new Set(changed.map(([, d]) => d)).size, 'all different from each other too').to.equal(changed.length);
  });
});
