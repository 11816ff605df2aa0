import type { KubernetesObject, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { expect } from 'chai';
import { KubeSource, backoffMs, type InformerHooks, type InformerLike } from '../../actors/agent/kube-source.js';
import type { IntentPort, ManagerPort } from '../../actors/agent/kube-sync.js';
import { KubeStatus, KubeWatchers, type InformerFactory } from '../../actors/agent/kube-watchers.js';
import { agentConfigSchema, kubeSchema, managerConfigSchema } from '../../actors/process-config.js';
import { parseConfig } from '../../core/config.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { ok, type Result } from '../../core/result.js';
import type { BusError } from '../../messages/errors.js';
import { parseIpv4 } from '../../messages/validate.js';
import { serviceKeyText, type ChangeReply, type ServiceKey, type ServicePort } from '../../protocol/intent.js';
import { endpoints, nodeObject, service, slice } from '../kube/support.js';

type Verb = 'add' | 'update' | 'delete' | 'error';

/** An informer driven by the test: it lists, sends events and fails when told to. */
class FakeInformer<T extends KubernetesObject> implements InformerLike<T> {
  hooks!: InformerHooks;
  starts = 0;
  stopped = false;
  private readonly cbs: Record<Verb, ((x: never) => void)[]> = { add: [], update: [], delete: [], error: [] };

  on(verb: Verb, cb: (x: never) => void): void {
    this.cbs[verb].push(cb);
  }
  start(): Promise<void> {
    this.starts++;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
  /** What ListWatch does with a list: add each item, then (about to watch) report it. */
  list(items: T[]): void {
    for (const i of items) this.emit('add', i);
    this.hooks.listed();
    this.hooks.watching();
  }
  emit(verb: Verb, x: unknown): void {
    for (const cb of this.cbs[verb]) cb(x as never);
  }
}

class Fakes implements InformerFactory {
  readonly nodes = new FakeInformer<V1Node>();
  readonly services_ = new FakeInformer<V1Service>();
  readonly slices = new FakeInformer<V1EndpointSlice>();
  node(): (h: InformerHooks) => InformerLike<V1Node> {
    return (h) => ((this.nodes.hooks = h), this.nodes);
  }
  services(): (h: InformerHooks) => InformerLike<V1Service> {
    return (h) => ((this.services_.hooks = h), this.services_);
  }
  endpointSlices(): (h: InformerHooks) => InformerLike<V1EndpointSlice> {
    return (h) => ((this.slices.hooks = h), this.slices);
  }
}

class Store implements IntentPort, ManagerPort {
  readonly calls: string[] = [];
  readonly held = new Map<string, ServicePort>();
  services(): Promise<Result<readonly ServicePort[], BusError>> {
    return Promise.resolve(ok([...this.held.values()]));
  }
  upsert(s: ServicePort): Promise<Result<ChangeReply, BusError>> {
    this.calls.push(`upsert ${serviceKeyText(s)} ${s.endpoints.length}`);
    this.held.set(serviceKeyText(s), s);
    return Promise.resolve(ok({ revision: this.calls.length, changed: true }));
  }
  delete(k: ServiceKey): Promise<Result<ChangeReply, BusError>> {
    this.calls.push(`delete ${serviceKeyText(k)}`);
    this.held.delete(serviceKeyText(k));
    return Promise.resolve(ok({ revision: this.calls.length, changed: true }));
  }
}

const web = (): V1Service => service('web', '10.96.0.10', [{ name: 'http', port: 80 }]) as unknown as V1Service;
const webSlice = (n: number): V1EndpointSlice => slice('web-1', 'web', endpoints(n), [{ name: 'http', port: 8080 }]) as unknown as V1EndpointSlice;

describe('agent: Kubernetes watches with fake informers (kube-watchers, kube-source)', () => {
  let clock: ManualClock;
  let fakes: Fakes;
  let intent: Store;
  let manager: Store;
  let status: KubeStatus;
  let stop: AbortController;
  let running: Promise<void> | undefined;

  beforeEach(() => {
    clock = new ManualClock(0);
    fakes = new Fakes();
    intent = new Store();
    manager = new Store();
    status = new KubeStatus();
    stop = new AbortController();
    running = undefined;
  });
  afterEach(async () => {
    stop.abort();
    await running;
  });

  function start(): KubeWatchers {
    const config = kubeSchema.parse({ server: 'http://127.0.0.1:1', backoff: { initialMs: 100, maxMs: 1000 }, syncDelayMs: 100 });
    const w = new KubeWatchers({ node: 'node-1', nodeIp: parseIpv4('192.0.2.10'), config, clock, logger: silentLogs().root, intent, manager, status, informers: fakes });
    running = w.run(stop.signal);
    return w;
  }

  it('a fresh agent rebuilds into its intent store only, is complete after that, then tells the manager each change', async () => {
    start();
    await clock.advance(0);
    fakes.nodes.list([nodeObject('node-1', '192.0.2.10', '10.244.0.0/24') as unknown as V1Node]);
    fakes.services_.list([web()]);
    await clock.advance(1000);
    expect(status.complete, 'the slices have not been listed yet').to.equal(false);
    expect(intent.calls).to.deep.equal([]);
    fakes.slices.list([webSlice(2)]);
    await clock.advance(100);
    expect(intent.calls).to.deep.equal(['upsert 10.96.0.10:80/TCP 2']);
    expect(manager.calls, 'the manager pulls a new agent instance').to.deep.equal([]);
    expect(status.complete).to.equal(true);
    expect(status.node?.podCidrs).to.deep.equal(['10.244.0.0/24']);
    fakes.slices.emit('update', webSlice(3));
    await clock.advance(100);
    expect(manager.calls).to.deep.equal(['upsert 10.96.0.10:80/TCP 3']);
  });

  it('is complete at once when the cluster has no services', async () => {
    start();
    await clock.advance(0);
    for (const f of [fakes.nodes, fakes.services_, fakes.slices] as FakeInformer<KubernetesObject>[]) f.list([]);
    await clock.advance(0);
    expect(status.complete).to.equal(true);
  });

  it('restarted inside a running agent: pushes the difference from the intent store to the manager, deletions included', async () => {
    status.everComplete = true;
    const old = seedPort('gone', 11);
    intent.held.set(serviceKeyText(old), old);
    start();
    await clock.advance(0);
    expect(status.complete).to.equal(false);
    fakes.nodes.list([]);
    fakes.services_.list([web()]);
    fakes.slices.list([webSlice(1)]);
    await clock.advance(100);
    expect(manager.calls.sort()).to.deep.equal(['delete 10.96.0.11:80/TCP', 'upsert 10.96.0.10:80/TCP 1']);
    expect([...intent.held.keys()]).to.deep.equal(['10.96.0.10:80/TCP']);
    expect(status.complete).to.equal(true);
  });

  it('restarts a failed informer after a doubling back-off and keeps the last state meanwhile', async () => {
    const w = start();
    await clock.advance(0);
    fakes.nodes.list([]);
    fakes.services_.list([web()]);
    fakes.slices.list([webSlice(2)]);
    await clock.advance(100);
    const services = w.sources[1];
    expect(fakes.services_.starts).to.equal(1);
    for (const [attempt, delay] of [[1, 100], [2, 200], [3, 400]] as const) {
      fakes.services_.emit('error', new Error('connection refused'));
      expect(services.state).to.equal('backoff');
      await clock.advance(delay - 1);
      expect(fakes.services_.starts, `attempt ${attempt} waits ${delay} ms`).to.equal(attempt);
      await clock.advance(1);
      expect(fakes.services_.starts).to.equal(attempt + 1);
    }
    fakes.services_.hooks.watching();
    expect(services.state).to.equal('watching');
    fakes.services_.emit('error', new Error('again'));
    await clock.advance(100);
    expect(fakes.services_.starts, 'a watch that opened resets the back-off').to.equal(5);
    expect(manager.calls).to.deep.equal([]);
    expect([...intent.held.keys()], 'nothing forgotten during the outage').to.deep.equal(['10.96.0.10:80/TCP']);
    expect(status.complete).to.equal(true);
  });

  it('stops every informer when stopped', async () => {
    start();
    await clock.advance(0);
    stop.abort();
    await running;
    expect([fakes.nodes.stopped, fakes.services_.stopped, fakes.slices.stopped]).to.deep.equal([true, true, true]);
    expect(clock.pending(), 'no timer left behind').to.equal(0);
  });

  it('the kube section of the agent configuration is optional, has defaults, and is checked field by field', () => {
    const base = { node: { name: 'node-1', ip: '192.0.2.10' }, nats: { servers: ['nats://127.0.0.1:4222'], insecure: true } };
    const without = parseConfig(base, agentConfigSchema);
    expect(without.ok && without.value.kube).to.equal(undefined);
    const withKube = parseConfig({ ...base, kube: { server: 'https://10.0.0.1:6443' } }, agentConfigSchema);
    expect(withKube.ok && withKube.value.kube).to.deep.include({ watchTimeoutSeconds: 300, syncDelayMs: 100, maxSyncDelayMs: 1000, resyncMs: 0 });
    const bad = parseConfig({ ...base, kube: { server: 'ftp://x', backoff: { initialMs: 0 } } }, agentConfigSchema);
    expect(!bad.ok && bad.error.problems.map((p) => p.field)).to.deep.equal(['kube.server', 'kube.backoff.initialMs']);
    const manager = parseConfig({ ...base, kube: { server: 'https://10.0.0.1:6443' } }, managerConfigSchema);
    expect(!manager.ok && manager.error.problems.map((p) => `${p.field}: ${p.message}`)).to.deep.equal(['kube: unknown field']);
  });

  it('backoffMs doubles from initialMs up to maxMs', () => {
    expect([1, 2, 3, 4, 5, 6, 40].map((k) => backoffMs({ initialMs: 200, maxMs: 3000 }, k))).to.deep.equal([200, 400, 800, 1600, 3000, 3000, 3000]);
  });

  it('a KubeSource reports its first list once', async () => {
    const fake = new FakeInformer<V1Service>();
    const seen: string[] = [];
    const src = new KubeSource<V1Service>({
      name: 'services',
      clock,
      logger: silentLogs().root,
      backoff: { initialMs: 10, maxMs: 10 },
      open: (h) => ((fake.hooks = h), fake),
      handlers: { add: (s) => seen.push(`add ${s.metadata?.name}`), update: () => undefined, delete: () => undefined },
      onHandlerError: () => undefined,
    });
    src.start();
    expect(src.isSynced).to.equal(false);
    fake.list([web()]);
    await src.synced;
    expect(src.isSynced).to.equal(true);
    expect(seen).to.deep.equal(['add web']);
    await src.stop();
  });
});

function seedPort(name: string, vip: number): ServicePort {
  return {
    namespace: 'default',
    name,
    portName: 'http',
    clusterIp: parseIpv4(`10.96.0.${vip}`)!,
    port: 80,
    protocol: 'TCP',
    endpoints: [],
  };
}
