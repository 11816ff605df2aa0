import { expect } from 'chai';
import type { AgentTree } from '../../actors/agent/tree.js';
import { KubeClient } from '../../simulations/kube/client.js';
import { startStandin, type StandinProcess } from '../../simulations/kube/standin-process.js';
import type { KubeObject } from '../../simulations/kube/store.js';
import { natsFixture, type NatsFixture } from '../support/fixtures.js';
import { endpoints, eventually, FakeManager, service, sleep, slice, startAgent } from './support.js';

const NODE = 'node-o';
const OUTAGE_S = 30;
const HTTP = [{ name: 'http', port: 8080 }];

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/**
 * The long outage the issue asks for, on its own so the rest stays fast: the API server is gone
 * (connection refused) for 30 s while services change; the agent keeps serving the last state
 * and, once the API is back, converges on every change made meanwhile. The informers back off
 * up to backoff.maxMs (1 s here), so convergence follows within about a second.
 */
describe(`agent through an API outage of ${OUTAGE_S} s`, function () {
  this.timeout(OUTAGE_S * 1000 + 20_000);
  let nats: NatsFixture;
  let api: StandinProcess;
  let kube: KubeClient;
  let manager: FakeManager;
  let agent: AgentTree;

  async function apply(...objects: KubeObject[]): Promise<void> {
    for (const o of objects) must(await kube.apply(o));
  }

  before(async () => {
    nats = await natsFixture();
    api = await startStandin({ args: ['--bookmark-interval-ms', '500'] });
    kube = new KubeClient(api.adminUrl);
    manager = new FakeManager(await nats.bus('fake-manager'), NODE);
    manager.start();
    agent = await startAgent({ node: NODE, natsUrl: nats.server.url, kubeUrl: api.url });
    await eventually(() => agent.refs.kube?.complete === true, 5000, 'complete');
    await apply(
      service('keep', '10.96.1.1', [{ name: 'http', port: 80 }]),
      slice('keep-1', 'keep', endpoints(2, 1), HTTP),
      service('drop', '10.96.1.2', [{ name: 'http', port: 80 }]),
      slice('drop-1', 'drop', endpoints(1, 2), HTTP),
    );
    await eventually(() => manager.endpointsOf('10.96.1.1:80/TCP')?.length === 2 && manager.state.has('10.96.1.2:80/TCP'), 5000, 'initial services');
  });
  after(async () => {
    await agent?.supervisor.stop();
    await manager?.stop();
    await api?.stop();
    await nats?.close();
  });

  it('keeps the last state for 30 s and converges on what changed meanwhile', async () => {
    const before = manager.requests.length;
    must(await kube.knob('outage', { seconds: OUTAGE_S }));
    const t0 = Date.now();
    await apply(slice('keep-1', 'keep', endpoints(5, 1), HTTP), service('new', '10.96.1.3', [{ name: 'http', port: 80 }]), slice('new-1', 'new', endpoints(1, 3), HTTP));
    must(await kube.delete('services', 'default', 'drop'));
    for (const at of [5, 15, 25]) {
      await sleep(t0 + at * 1000 - Date.now());
      expect(manager.requests.length, `nothing sent at ${at} s`).to.equal(before);
      const state = must(await manager.pull());
      expect(state.services.map((s) => s.name).sort(), `agent.sync serves the last state at ${at} s`).to.deep.equal(['drop', 'keep']);
    }
    await eventually(
      () => manager.endpointsOf('10.96.1.1:80/TCP')?.length === 5 && manager.state.has('10.96.1.3:80/TCP') && !manager.state.has('10.96.1.2:80/TCP'),
      OUTAGE_S * 1000 + 5000,
      'converged',
    );
    const tookS = (Date.now() - t0) / 1000;
    expect(tookS).to.be.within(OUTAGE_S, OUTAGE_S + 3);
    // One request per changed port: the outage collapsed into a single round.
    expect(manager.requests.slice(before).map((r) => `${r.op} ${r.key}`).sort()).to.deep.equal([
      'delete 10.96.1.2:80/TCP',
      'upsert 10.96.1.1:80/TCP',
      'upsert 10.96.1.3:80/TCP',
    ]);
  });
});
