import { expect } from 'chai';
import type { AgentTree } from '../../actors/agent/tree.js';
import { formatIpv4 } from '../../messages/validate.js';
import { KubeClient } from '../../simulations/kube/client.js';
import { startStandin, type StandinProcess } from '../../simulations/kube/standin-process.js';
import type { KubeObject } from '../../simulations/kube/store.js';
import { natsFixture, type NatsFixture } from '../support/fixtures.js';
import { endpoints, eventually, FakeManager, nodeObject, service, sleep, slice, startAgent, type EndpointSpec } from './support.js';

const NODE = 'node-a';
/** The outage of the default run; `KUBE_OUTAGE_SECONDS=30` gives the long one (see outage-30s.test.ts). */
const OUTAGE_S = Number(process.env.KUBE_OUTAGE_SECONDS ?? '3');
const HTTP = [{ name: 'http', port: 8080 }];

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/**
 * The agent's watches against the API stand-in (a separate process) and a fake manager on a
 * real NATS: objects change over HTTP, requests arrive at the manager.
 */
describe('agent watches Kubernetes through the API stand-in', function () {
  this.timeout(30_000);
  let nats: NatsFixture;
  let api: StandinProcess;
  /** Changes objects and turns knobs on the admin port, which no knob affects. */
  let kube: KubeClient;
  let manager: FakeManager;
  let agent: AgentTree;
  let sentinelN = 0;

  async function apply(...objects: KubeObject[]): Promise<void> {
    for (const o of objects) must(await kube.apply(o));
  }

  async function counts(): Promise<Record<string, number>> {
    return must(await kube.stats()).requests as Record<string, number>;
  }

  /**
   * A barrier: changes a sentinel object of the same kind and waits until the manager has it.
   * The agent records events of one kind in order and every sync drains all that is recorded,
   * so whatever was applied before has been synced (or found to need no request) by then.
   */
  async function barrier(kind: 'slice' | 'service'): Promise<void> {
    const n = ++sentinelN;
    if (kind === 'slice') await apply(slice('sentinel-1', 'sentinel', endpoints(1 + (n % 5), 200), HTTP));
    else await apply(service('sentinel-svc', '10.96.200.2', [{ name: 'http', port: 1000 + n }]));
    const key = kind === 'slice' ? '10.96.200.1:1000/TCP' : `10.96.200.2:${1000 + n}/TCP`;
    await eventually(() => (kind === 'slice' ? manager.endpointsOf(key)?.length === 1 + (n % 5) : manager.state.has(key)), 5000, `sentinel ${n}`);
  }

  before(async () => {
    nats = await natsFixture();
    api = await startStandin({ args: ['--history', '500', '--bookmark-interval-ms', '500'] });
    kube = new KubeClient(api.adminUrl);
    manager = new FakeManager(await nats.bus('fake-manager'), NODE);
    manager.start();
    await apply(
      nodeObject(NODE, '192.0.2.10', '10.244.0.0/24'),
      service('pre', '10.96.0.5', [{ name: 'http', port: 80 }]),
      slice('pre-1', 'pre', endpoints(2, 5), HTTP),
      service('sentinel', '10.96.200.1', [{ name: 'http', port: 1000 }]),
      slice('sentinel-1', 'sentinel', endpoints(1, 200), HTTP),
    );
    agent = await startAgent({ node: NODE, natsUrl: nats.server.url, kubeUrl: api.url });
  });
  after(async () => {
    await agent?.supervisor.stop();
    await manager?.stop();
    await api?.stop();
    await nats?.close();
  });

  it('rebuilds from the API, then answers agent.sync with its services (a fresh agent sends no request: the manager pulls)', async () => {
    const tree = agent.supervisor.inspect();
    expect(tree.children.map((c) => c.id)).to.deep.equal(['bus', 'intent', 'kube', 'link', 'heartbeat', 'server', 'ctl']);
    await eventually(() => agent.refs.kube?.complete === true, 5000, 'complete');
    const state = must(await manager.pull());
    const keys = state.services.map((s) => `${formatIpv4(s.clusterIp)}:${s.port}/${s.protocol}`).sort();
    expect(keys).to.deep.equal(['10.96.0.5:80/TCP', '10.96.200.1:1000/TCP']);
    expect(state.services.find((s) => s.name === 'pre')?.endpoints).to.have.length(2);
    expect(manager.requests).to.deep.equal([]);
    expect(agent.refs.kube?.node?.podCidrs).to.deep.equal(['10.244.0.0/24']);
    // From here on the fake manager holds what the real one would after its pull.
    for (const s of state.services) manager.state.set(`${formatIpv4(s.clusterIp)}:${s.port}/${s.protocol}`, s);
  });

  it('adds a service with its slice as one upsert carrying its endpoints', async () => {
    await apply(service('add', '10.96.0.10', [{ name: 'http', port: 80 }]), slice('add-1', 'add', endpoints(2, 10), HTTP));
    await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 2, 5000, 'the new service');
    expect(manager.endpointsOf('10.96.0.10:80/TCP')).to.deep.equal(['10.244.10.1:8080', '10.244.10.2:8080']);
    expect(manager.about('10.96.0.10:80/TCP').map((r) => r.op)).to.deep.equal(['upsert']);
  });

  it('scales a service up and down', async () => {
    for (const n of [5, 1, 3]) {
      await apply(slice('add-1', 'add', endpoints(n, 10), HTTP));
      await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === n, 5000, `${n} endpoints`);
    }
  });

  it('merges a service with three slices, de-duplicated, and follows a slice going away', async () => {
    await apply(
      service('three', '10.96.0.30', [{ name: 'http', port: 80 }]),
      slice('three-a', 'three', endpoints(3, 30), HTTP),
      slice('three-b', 'three', [{ ip: '10.244.30.3' }, { ip: '10.244.31.1' }], HTTP),
      slice('three-c', 'three', [{ ip: '10.244.32.1' }], [{ name: 'http', port: 9090 }]),
    );
    await eventually(() => manager.endpointsOf('10.96.0.30:80/TCP')?.length === 5, 5000, 'five endpoints from three slices');
    expect(manager.endpointsOf('10.96.0.30:80/TCP')).to.deep.equal([
      '10.244.30.1:8080',
      '10.244.30.2:8080',
      '10.244.30.3:8080',
      '10.244.31.1:8080',
      '10.244.32.1:9090',
    ]);
    must(await kube.delete('endpointslices', 'default', 'three-a'));
    await eventually(() => manager.endpointsOf('10.96.0.30:80/TCP')?.length === 3, 5000, 'slice a gone');
  });

  it('follows ready → terminating (serving) → not serving as kube-proxy does', async () => {
    const key = '10.96.0.40:80/TCP';
    const flags = (): string[] =>
      (manager.state.get(key)?.endpoints ?? []).map((e) => `${formatIpv4(e.ipv4)} ${e.ready ? 'R' : '-'}${e.serving ? 'S' : '-'}${e.terminating ? 'T' : '-'}`);
    const step = async (e: EndpointSpec[], want: string[]): Promise<void> => {
      await apply(slice('roll-1', 'roll', e, HTTP));
      await eventually(() => JSON.stringify(flags()) === JSON.stringify(want), 5000, want.join(', '));
    };
    await apply(service('roll', '10.96.0.40', [{ name: 'http', port: 80 }]));
    await step([{ ip: '10.244.40.1', ready: true }, { ip: '10.244.40.2', ready: false, serving: false }], ['10.244.40.1 RS-']);
    await step(
      [{ ip: '10.244.40.1', ready: false, serving: true, terminating: true }, { ip: '10.244.40.2', ready: true }],
      ['10.244.40.1 -ST', '10.244.40.2 RS-'],
    );
    await step([{ ip: '10.244.40.1', ready: false, serving: false, terminating: true }, { ip: '10.244.40.2' }], ['10.244.40.2 RS-']);
    await step([{ ip: '10.244.40.2', ready: false, serving: false, terminating: true }], []);
  });

  it('deletes a two-port service with one service.delete per port', async () => {
    await apply(
      service('dns', '10.96.0.50', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]),
      slice('dns-1', 'dns', endpoints(1, 50), [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }]),
    );
    await eventually(() => manager.state.has('10.96.0.50:53/UDP') && manager.state.has('10.96.0.50:53/TCP'), 5000, 'both ports');
    must(await kube.delete('services', 'default', 'dns'));
    await eventually(() => !manager.state.has('10.96.0.50:53/UDP') && !manager.state.has('10.96.0.50:53/TCP'), 5000, 'both ports gone');
    expect(manager.requests.filter((r) => r.key.startsWith('10.96.0.50:')).map((r) => `${r.op} ${r.key}`).slice(-2).sort()).to.deep.equal([
      'delete 10.96.0.50:53/TCP',
      'delete 10.96.0.50:53/UDP',
    ]);
  });

  it('sends nothing for headless services and SCTP ports', async () => {
    const before = manager.requests.length;
    await apply(
      service('headless', 'None', [{ name: 'http', port: 80 }], { clusterIPs: ['None'] }),
      service('sctp', '10.96.0.60', [{ name: 'sig', port: 3868, protocol: 'SCTP' }]),
    );
    await barrier('service');
    expect(manager.requests.slice(before).filter((r) => !r.key.startsWith('10.96.200.'))).to.deep.equal([]);
  });

  it('collapses 10 quick changes into one request, and a change with its revert into none', async () => {
    const key = '10.96.0.10:80/TCP';
    const before = manager.about(key).length;
    // The changes are made while the agent's watches are held (a 1 s stall), so that they reach
    // it as one burst however slow this machine is at making them one by one.
    must(await kube.knob('stall', { seconds: 1 }));
    for (let n = 1; n <= 10; n++) await apply(slice('add-1', 'add', endpoints(n, 10), HTTP));
    await eventually(() => manager.endpointsOf(key)?.length === 10, 5000, 'ten endpoints');
    await barrier('slice');
    expect(manager.about(key).length - before, 'one request for the burst').to.equal(1);
    must(await kube.knob('stall', { seconds: 1 }));
    await apply(slice('add-1', 'add', endpoints(11, 10), HTTP), slice('add-1', 'add', endpoints(10, 10), HTTP));
    await barrier('slice');
    expect(manager.about(key).length - before, 'none for a change and its revert').to.equal(1);
  });

  it('after a dropped watch, re-watches from where it was: nothing missed, no relist', async () => {
    const before = await counts();
    must(await kube.knob('drop-watches', { mode: 'reset' }));
    await apply(slice('add-1', 'add', endpoints(4, 10), HTTP));
    await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 4, 5000, 'the change made while the watch was down');
    const after = await counts();
    expect(after['list endpointslices']).to.equal(before['list endpointslices']);
    expect(after['watch endpointslices']).to.be.greaterThan(before['watch endpointslices']!);
  });

  for (const how of ['an ERROR event', 'HTTP 410'] as const) {
    it(`relists when its resourceVersion has left the history (${how}) and converges`, async () => {
      must(await kube.knob('config', { expiredWatch: how === 'HTTP 410' ? 'http' : 'event' }));
      const before = await counts();
      must(await kube.knob('outage', { seconds: 1 }));
      const n = how === 'HTTP 410' ? 6 : 7;
      await apply(slice('add-1', 'add', endpoints(n, 10), HTTP));
      must(await kube.knob('compact'));
      await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === n, 8000, 'converged after the relist');
      const after = await counts();
      expect(after['list endpointslices']! - before['list endpointslices']!).to.be.at.least(1);
      must(await kube.knob('config', { expiredWatch: 'event' }));
    });
  }

  it('relists at once after an expire-watches ERROR on an open watch', async () => {
    const before = await counts();
    await apply(slice('add-1', 'add', endpoints(2, 10), HTTP));
    must(await kube.knob('expire-watches'));
    await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 2, 5000, 'converged');
    await eventually(async () => (await counts())['list services']! > before['list services']!, 5000, 'services relisted');
  });

  it(`keeps its last state through an API outage of ${OUTAGE_S} s, and converges on what changed meanwhile`, async function () {
    this.timeout(OUTAGE_S * 1000 + 20_000);
    const requestsBefore = manager.requests.length;
    must(await kube.knob('outage', { seconds: OUTAGE_S }));
    await apply(slice('add-1', 'add', endpoints(7, 10), HTTP), service('late', '10.96.0.70', [{ name: 'http', port: 80 }]), slice('late-1', 'late', endpoints(1, 70), HTTP));
    must(await kube.delete('services', 'default', 'three'));
    await sleep((OUTAGE_S * 1000) / 2);
    expect(manager.requests.length, 'nothing changes while the API is away').to.equal(requestsBefore);
    expect(manager.state.has('10.96.0.30:80/TCP')).to.equal(true);
    expect(must(await manager.pull()).services.some((s) => s.name === 'three'), 'agent.sync still answers with the last state').to.equal(true);
    await eventually(
      () => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 7 && manager.state.has('10.96.0.70:80/TCP') && !manager.state.has('10.96.0.30:80/TCP'),
      OUTAGE_S * 1000 + 8000,
      'converged after the outage',
    );
  });

  it('notices a stalled API by its silent watches and catches up when it answers again', async () => {
    must(await kube.knob('stall', { seconds: 4 }));
    await apply(slice('add-1', 'add', endpoints(9, 10), HTTP));
    await sleep(3500);
    const restarts = agent.refs.kube?.current?.sources.map((s) => s.restarts).reduce((a, b) => a + b, 0) ?? 0;
    expect(restarts, 'the dead-man timer ended silent watches').to.be.greaterThan(0);
    expect(manager.endpointsOf('10.96.0.10:80/TCP')).to.have.length(7);
    await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 9, 8000, 'caught up after the stall');
  });

  it('a restarted watch child (same agent, so no pull) pushes what changed while it was down, deletions included', async () => {
    expect(await agent.supervisor.terminateChild('kube')).to.deep.include({ ok: true });
    await apply(slice('add-1', 'add', endpoints(8, 10), HTTP));
    must(await kube.delete('services', 'default', 'late'));
    await sleep(300);
    expect(manager.state.has('10.96.0.70:80/TCP'), 'nothing moves while the watches are down').to.equal(true);
    expect(await agent.supervisor.restartChild('kube')).to.deep.include({ ok: true });
    await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 8 && !manager.state.has('10.96.0.70:80/TCP'), 5000, 'differences pushed');
    expect(agent.refs.kube?.complete).to.equal(true);
  });

  it('a restarted agent rebuilds from the API before its state is complete, then the manager pulls everything', async () => {
    await agent.supervisor.stop();
    must(await kube.knob('outage', { seconds: 2 }));
    await apply(slice('add-1', 'add', endpoints(3, 10), HTTP)); // changed while no agent ran
    const requestsBefore = manager.requests.length;
    agent = await startAgent({ node: NODE, natsUrl: nats.server.url, kubeUrl: api.url, instanceId: 'agent2' });
    const early = await manager.pull();
    expect(!early.ok && early.error.code, 'not complete while the API is away').to.equal('UNAVAILABLE');
    await eventually(async () => (await manager.pull()).ok, 10_000, 'complete after the outage');
    const state = must(await manager.pull());
    const web = state.services.find((s) => s.name === 'add');
    expect(web?.endpoints).to.have.length(3);
    expect([...new Set(state.services.map((s) => s.name))].sort()).to.deep.equal(['add', 'pre', 'roll', 'sentinel', 'sentinel-svc']);
    expect(manager.requests.length, 'the rebuild went to the pull, not to requests').to.equal(requestsBefore);
    await apply(slice('add-1', 'add', endpoints(2, 10), HTTP));
    await eventually(() => manager.endpointsOf('10.96.0.10:80/TCP')?.length === 2, 5000, 'changes are requests again');
  });
});
