/**
 * memory-kube (simulations/inproc/memory-kube.ts) under the agent's real watches: the library's
 * ListWatch with the agent's guards (kube-informer.ts) and KubeWatchers / KubeSource, every timer
 * on a ManualClock, the intent store and the manager played by the test. Lists and watches as an
 * API server has them (resourceVersions, replay from history, watch timeouts), a dropped watch
 * (reset: back-off; close: at once), 410 Gone (the informer lists again and sees what it missed),
 * an outage (refused until restored, the back-off doubling on the clock), bad objects refused
 * with nothing changed, and the same script giving the same log twice.
 */
import { expect } from 'chai';
import { KubeStatus, KubeWatchers } from '../../actors/agent/kube-watchers.js';
import type { IntentPort, ManagerPort } from '../../actors/agent/kube-sync.js';
import { kubeSchema } from '../../actors/process-config.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { ok, type Result } from '../../core/result.js';
import type { BusError } from '../../messages/errors.js';
import { parseIpv4 } from '../../messages/validate.js';
import { serviceKeyText, type ChangeReply, type ServiceKey, type ServicePort } from '../../protocol/intent.js';
import { MemoryKube } from '../../simulations/inproc/memory-kube.js';
import { nodeObject, service, slice } from '../../simulations/kube/objects.js';
import { TEST_KUBE } from './fixture.js';

/** The intent store or the manager: records each call with its clock time. */
class Port implements IntentPort, ManagerPort {
  readonly calls: string[] = [];
  readonly held = new Map<string, ServicePort>();
  constructor(private readonly clock: ManualClock) {}
  services(): Promise<Result<readonly ServicePort[], BusError>> {
    return Promise.resolve(ok([...this.held.values()]));
  }
  upsert(s: ServicePort): Promise<Result<ChangeReply, BusError>> {
    this.calls.push(`${this.clock.now()} upsert ${serviceKeyText(s)} ${s.endpoints.length}`);
    this.held.set(serviceKeyText(s), s);
    return Promise.resolve(ok({ revision: this.calls.length, changed: true }));
  }
  delete(k: ServiceKey): Promise<Result<ChangeReply, BusError>> {
    this.calls.push(`${this.clock.now()} delete ${serviceKeyText(k)}`);
    this.held.delete(serviceKeyText(k));
    return Promise.resolve(ok({ revision: this.calls.length, changed: true }));
  }
}

const eps = (n: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.244.1.${i + 2}`, node: 'node-1' }));
const web = () => service('web', '10.96.0.10', [{ name: 'http', port: 80 }]);
const webSlice = (n: number) => slice('web-1', 'web', eps(n), [{ name: 'http', port: 8080 }]);

interface Rig {
  readonly clock: ManualClock;
  readonly kube: MemoryKube;
  readonly intent: Port;
  readonly manager: Port;
  readonly status: KubeStatus;
  readonly watchers: KubeWatchers;
  stop(): Promise<void>;
}

/** Starts the watchers over memory-kube and lets them list and sync: the clock reads 200 after. */
async function rig(options: { expiredWatch?: 'event' | 'http'; seed?: (kube: MemoryKube) => void } = {}): Promise<Rig> {
  const clock = new ManualClock(0);
  const kube = new MemoryKube({ clock, ...(options.expiredWatch ? { expiredWatch: options.expiredWatch } : {}) });
  kube.apply(nodeObject('node-1', '192.0.2.10', '10.244.1.0/24'));
  kube.apply(nodeObject('node-2', '192.0.2.11', '10.244.2.0/24'));
  kube.apply(web());
  kube.apply(webSlice(2));
  options.seed?.(kube);
  const config = kubeSchema.parse({ server: 'http://memory-kube', ...TEST_KUBE });
  const intent = new Port(clock);
  const manager = new Port(clock);
  const status = new KubeStatus();
  const watchers = new KubeWatchers({
    node: 'node-1',
    nodeIp: parseIpv4('192.0.2.10'),
    config,
    clock,
    logger: silentLogs().root,
    intent,
    manager,
    status,
    informers: kube.informers({ clock, watchTimeoutSeconds: config.watchTimeoutSeconds, idleGraceMs: config.idleGraceMs }),
  });
  const abort = new AbortController();
  const running = watchers.run(abort.signal);
  await clock.advance(200);
  return {
    clock,
    kube,
    intent,
    manager,
    status,
    watchers,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

const count = (kube: MemoryKube, request: string): number => kube.requests[request] ?? 0;

describe('memory-kube under the agent’s informers (ManualClock)', function () {
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.stop();
    r = undefined;
  });

  it('lists each resource once, then watches: the initial state reaches the intent store, later changes the manager; only our Node is watched', async function () {
    r = await rig();
    expect(r.status.complete).to.equal(true);
    expect(r.intent.calls).to.deep.equal(['100 upsert 10.96.0.10:80/TCP 2']);
    expect(r.manager.calls, 'a fresh agent: the manager pulls').to.deep.equal([]);
    expect(r.status.node?.podCidrs).to.deep.equal(['10.244.1.0/24']);
    expect(r.kube.requests).to.deep.equal({ 'list nodes': 1, 'list services': 1, 'list endpointslices': 1, 'watch nodes': 1, 'watch services': 1, 'watch endpointslices': 1 });
    expect(r.watchers.sources.map((s) => s.state)).to.deep.equal(['watching', 'watching', 'watching']);
    r.kube.apply(webSlice(3));
    await r.clock.advance(100);
    expect(r.manager.calls).to.deep.equal(['300 upsert 10.96.0.10:80/TCP 3']);
    // Another node's Node changes nothing here; ours does.
    r.kube.apply(nodeObject('node-2', '192.0.2.11', '10.244.9.0/24'));
    r.kube.apply(nodeObject('node-1', '192.0.2.10', '10.244.3.0/24'));
    await r.clock.advance(10);
    expect(r.status.node?.podCidrs).to.deep.equal(['10.244.3.0/24']);
  });

  it('a watch the server ends after timeoutSeconds is opened again from where it was, without a list or a restart', async function () {
    r = await rig();
    await r.clock.advance(2000 * 3);
    expect(count(r.kube, 'watch services')).to.equal(4);
    expect(count(r.kube, 'list services')).to.equal(1);
    expect(r.watchers.sources.map((s) => s.restarts)).to.deep.equal([0, 0, 0]);
    expect(r.kube.openWatches).to.equal(3);
  });

  it('a dropped watch: reset → restarted after the back-off on the clock, the change made meanwhile replayed; close → watched again at once', async function () {
    r = await rig();
    r.kube.dropWatches('reset');
    await r.clock.advance(0);
    expect(r.watchers.sources.map((s) => s.state)).to.deep.equal(['backoff', 'backoff', 'backoff']);
    r.kube.apply(webSlice(4)); // while nobody watches
    await r.clock.advance(99);
    expect(count(r.kube, 'watch endpointslices'), 'not before the 100 ms back-off').to.equal(1);
    await r.clock.advance(1);
    expect(count(r.kube, 'watch endpointslices')).to.equal(2);
    expect(count(r.kube, 'list endpointslices'), 'replayed from history, not relisted').to.equal(1);
    await r.clock.advance(100);
    expect(r.manager.calls).to.deep.equal(['400 upsert 10.96.0.10:80/TCP 4']);
    expect(r.watchers.sources.map((s) => s.restarts)).to.deep.equal([1, 1, 1]);

    r.kube.dropWatches('close');
    await r.clock.advance(0);
    expect(count(r.kube, 'watch endpointslices'), 'a clean end: watched again at once').to.equal(3);
    expect(r.watchers.sources.map((s) => s.restarts)).to.deep.equal([1, 1, 1]);
  });

  for (const mode of ['event', 'http'] as const) {
    it(`410 Gone (${mode === 'event' ? 'an ERROR event' : 'HTTP 410'}): the informer lists again and sees a deletion it missed`, async function () {
      r = await rig({ expiredWatch: mode, seed: (k) => k.apply(service('db', '10.96.0.20', [{ port: 5432 }])) });
      expect([...r.intent.held.keys()].sort()).to.deep.equal(['10.96.0.10:80/TCP', '10.96.0.20:5432/TCP']);
      r.kube.dropWatches('reset');
      await r.clock.advance(0);
      // While the informers back off, db is deleted and the server forgets the history.
      expect(r.kube.delete('Service', 'default', 'db').ok).to.equal(true);
      r.kube.compact();
      await r.clock.advance(100);
      expect(count(r.kube, 'list services'), 'listed again after 410').to.equal(2);
      await r.clock.advance(100);
      expect(r.manager.calls).to.deep.equal(['400 delete 10.96.0.20:5432/TCP']);
      expect(r.watchers.sources[1].state).to.equal('watching');
    });
  }

  it('expireWatches: every open watch gets 410 and its informer lists again at once, without a restart', async function () {
    r = await rig();
    r.kube.expireWatches();
    await r.clock.advance(0);
    expect([count(r.kube, 'list nodes'), count(r.kube, 'list services'), count(r.kube, 'list endpointslices')]).to.deep.equal([2, 2, 2]);
    expect(r.watchers.sources.map((s) => s.restarts)).to.deep.equal([0, 0, 0]);
    expect(r.kube.openWatches).to.equal(3);
    r.kube.apply(webSlice(5));
    await r.clock.advance(100);
    expect(r.manager.calls).to.deep.equal(['300 upsert 10.96.0.10:80/TCP 5']);
  });

  it('an outage: refused with the back-off doubling on the clock, nothing forgotten; after it, what changed meanwhile arrives', async function () {
    r = await rig();
    r.kube.setOutage(true);
    await r.clock.advance(3000);
    // From t=200: restarts after 100, 200, 400, 800, 1000 ms (t=2700); the next comes at t=3700.
    expect(r.watchers.sources.map((s) => s.restarts)).to.deep.equal([5, 5, 5]);
    expect(count(r.kube, 'watch services'), 'the first watch and five refused ones').to.equal(6);
    expect([...r.intent.held.keys()], 'nothing forgotten').to.deep.equal(['10.96.0.10:80/TCP']);
    r.kube.apply(webSlice(6));
    r.kube.setOutage(false);
    await r.clock.advance(499);
    expect(r.watchers.sources[2].state).to.equal('backoff');
    await r.clock.advance(1);
    expect(r.watchers.sources.map((s) => s.state)).to.deep.equal(['watching', 'watching', 'watching']);
    await r.clock.advance(100);
    expect(r.manager.calls).to.deep.equal(['3800 upsert 10.96.0.10:80/TCP 6']);
    expect(count(r.kube, 'list services'), 'the history covered the outage: no relist').to.equal(1);
  });

  it('refuses bad objects and missing ones with a Kubernetes Status, changing nothing; an identical apply is no change', async function () {
    r = await rig();
    const rv = r.kube.resourceVersion;
    const bad = [
      r.kube.apply({ ...web(), metadata: { name: 'Not_A_Name', namespace: 'default' } }),
      r.kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
      r.kube.apply({ ...web(), apiVersion: 'v2' }),
      r.kube.apply(null as never),
      r.kube.delete('Service', 'default', 'nope'),
      r.kube.delete('Secret', 'default', 'web'),
    ];
    expect(bad.map((b) => (b.ok ? 'ok' : `${b.error.code} ${b.error.reason}`))).to.deep.equal([
      '422 Invalid',
      '400 BadRequest',
      '400 BadRequest',
      '400 BadRequest',
      '404 NotFound',
      '404 NotFound',
    ]);
    expect(r.kube.apply(web()).ok, 'the same content again').to.equal(true);
    expect(r.kube.resourceVersion, 'no new version').to.equal(rv);
    await r.clock.advance(200);
    expect(r.manager.calls).to.deep.equal([]);
  });

  it('is deterministic: the same script gives the same calls at the same clock times, and the same uids', async function () {
    const script = async (): Promise<string[]> => {
      const s = await rig();
      s.kube.apply(webSlice(3));
      await s.clock.advance(150);
      s.kube.dropWatches('reset');
      s.kube.apply(service('db', '10.96.0.20', [{ port: 5432 }]));
      await s.clock.advance(300);
      s.kube.setOutage(true);
      s.kube.delete('Service', 'default', 'db');
      await s.clock.advance(1000);
      s.kube.setOutage(false);
      s.kube.expireWatches();
      await s.clock.advance(2000);
      const uids = ['web', 'db'].map((n) => s.kube.get('Service', 'default', n)?.metadata?.uid ?? '-');
      await s.stop();
      return [...s.intent.calls, ...s.manager.calls, JSON.stringify(s.kube.requests), ...uids];
    };
    const first = await script();
    expect(first.length).to.be.greaterThan(5);
    expect(await script()).to.deep.equal(first);
  });
});
