import { expect } from 'chai';
import { createActor, setup } from 'xstate';
import { agentPodsView } from '../../actors/agent/ctl-views.js';
import { podsView } from '../../actors/ctl-intent-views.js';
import { stateText, supervisionView } from '../../actors/ctl-tree.js';
import { ManagerIntent, newPullTracker } from '../../actors/intent/manager-intent.js';
import { leadershipView, servicesView, sessionFlags } from '../../actors/manager/ctl-views.js';
import type { Allocation, PortEntry } from '../../actors/agent/pool/allocator.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogs } from '../../core/logger.js';
import { seededRandom } from '../../core/random.js';
import { loadP4Info } from '../../p4/p4info.js';
import { MAX_TREE_CHILDREN, treeReplyCodec } from '../../protocol/ctl.js';
import type { Endpoint, PodInterface, ServicePort } from '../../protocol/intent.js';
import { Supervisor } from '../../supervisors/index.js';

const info = loadP4Info();
const NODE = 'node-1';
const pod = (i: number): PodInterface => ({
  node: NODE,
  namespace: 'default',
  name: `p${i}`,
  containerId: `c${i}`,
  interfaceName: `P4TAP_${i + 2}`,
  portId: i + 2,
  ipv4: 0x0af40000 + 10 + i,
  mac: 0x020000000000 + 10 + i,
});
const ep = (ipv4: number, o: Partial<Endpoint> = {}): Endpoint => ({ ipv4, port: 8080, node: NODE, ready: true, serving: true, terminating: false, ...o });
const svc = (name: string, clusterIp: number, endpoints: Endpoint[]): ServicePort => ({ namespace: 'default', name, portName: 'http', clusterIp, port: 80, protocol: 'TCP', endpoints });

function intentWith(pods: PodInterface[], services: ServicePort[]): ManagerIntent {
  const intent = new ManagerIntent(NODE, info, newPullTracker());
  for (const p of pods) expect(intent.addPod(p).ok).to.equal(true);
  for (const s of services) expect(intent.upsertService(NODE, s).ok).to.equal(true);
  const writes = intent.pendingWrites();
  intent.committed(
    writes,
    writes.map((_, i) => i + 1),
  );
  return intent;
}

describe('operator views (ctl)', () => {
  describe('services', () => {
    it('lists endpoints with their member ids, the group, and which ones the group uses', () => {
      const intent = intentWith(
        [pod(0)],
        [
          svc('web', 0x0a600010, [ep(0x0af4000a), ep(0x0af4000b), ep(0x0af40105, { node: 'node-2', ready: false, terminating: true })]),
          svc('empty', 0x0a600011, []),
        ],
      );
      const view = servicesView(intent, { limit: 100 });
      expect(view.count).to.equal(2);
      const [empty, web] = view.services;
      expect(empty).to.include({ name: 'empty', rejecting: true, endpointCount: 0 });
      expect(web).to.include({ key: '10.96.0.16:80/TCP', rejecting: false, endpointCount: 3 });
      expect(web!.groupId).to.be.greaterThan(0);
      // 10.244.0.11 is of this node but its pod is unknown: pending; the terminating remote one is not chosen.
      expect(web!.endpoints.map((e) => [e.address, e.state])).to.deep.equal([
        ['10.244.0.10:8080', 'active'],
        ['10.244.0.11:8080', 'pending'],
        ['10.244.1.5:8080', 'unused'],
      ]);
      const ids = web!.endpoints.map((e) => e.memberId);
      expect(new Set(ids).size).to.equal(3);
      expect(ids.every((id) => id > view.rejectMemberId)).to.equal(true);
    });

    it('counts services and endpoints against the limit and says what it left out', () => {
      const intent = intentWith([], [svc('a', 0x0a600001, [ep(0x0af4000a), ep(0x0af4000b)]), svc('b', 0x0a600002, [ep(0x0af4000c)])]);
      const view = servicesView(intent, { limit: 2 });
      expect(view.services.map((s) => [s.name, s.endpoints.length])).to.deep.equal([['a', 1]]);
      expect(view).to.include({ omittedServices: 1, omittedEndpoints: 2 });
    });
  });

  it('pods: the intent in namespace/name order, bounded', () => {
    const view = podsView([pod(2), pod(0), pod(1)], 2);
    expect(view.pods.map((p) => [p.name, p.ipv4, p.mac, p.portId])).to.deep.equal([
      ['p0', '10.244.0.10', '02:00:00:00:00:0a', 2],
      ['p1', '10.244.0.11', '02:00:00:00:00:0b', 3],
    ]);
    expect(view).to.include({ count: 3, omitted: 1 });
  });

  it("the agent's pods: pool allocations with namespace, in-pod name and phase; the port map", () => {
    const plumbed: Allocation = {
      containerId: 'c1',
      ifname: 'eth0',
      index: 2,
      netns: '/var/run/netns/cni-1',
      name: 'eth0',
      pod: { podNamespace: 'default', podName: 'web-0', network: 'k8s', mac: '02:00:00:00:00:0a', mtu: 1500, ips: [{ address: '10.244.0.10', prefixLength: 32 }], routes: [] },
    };
    const adding: Allocation = { containerId: 'c2', ifname: 'eth0', index: 3, netns: null, name: 'P4TAP_3' };
    const ports: PortEntry[] = [
      { port: 0, name: 'P4TAP_0', netns: 'gw', role: 'gateway', allocated: true },
      { port: 1, name: 'P4TAP_1', netns: null, role: 'host', allocated: true },
      { port: 2, name: 'eth0', netns: '/var/run/netns/cni-1', role: 'pod', allocated: true },
      { port: 3, name: 'P4TAP_3', netns: null, role: 'pod', allocated: true },
    ];
    const view = agentPodsView({ allocations: () => [plumbed, adding], portMap: () => ports }, ['P4TAP_0', 'P4TAP_1', 'P4TAP_2', 'P4TAP_3'], (k) => (k.containerId === 'c1' ? 'ready' : undefined), 3);
    expect(view.pods[0]).to.deep.equal({
      containerId: 'c1',
      namespace: 'default',
      name: 'web-0',
      ifname: 'eth0',
      poolInterface: 'P4TAP_2',
      portId: 2,
      mac: '02:00:00:00:00:0a',
      ipv4: '10.244.0.10/32',
      netns: '/var/run/netns/cni-1',
      phase: 'ready',
    });
    expect(view.pods[1]).to.include({ containerId: 'c2', phase: 'allocated', netns: '', poolInterface: 'P4TAP_3' });
    expect(view.ports.map((p) => [p.port, p.name, p.netns, p.role])).to.deep.equal([
      [0, 'P4TAP_0', 'gw', 'gateway'],
      [1, 'P4TAP_1', '', 'host'],
      [2, 'eth0', '/var/run/netns/cni-1', 'pod'],
    ]);
    expect(view).to.include({ count: 2, portCount: 4, omitted: 1 });
  });

  describe('tree', () => {
    it('flattens state values to text', () => {
      expect(stateText('idle')).to.equal('idle');
      expect(stateText({ connected: 'ready' })).to.equal('connected.ready');
      expect(stateText({ connected: { liveness: 'alive', sync: 'synced' } })).to.equal('connected.(liveness.alive, sync.synced)');
      expect(stateText(undefined)).to.equal('');
    });

    it('shows a live tree: statuses, the strategy of a nested supervisor, actor states', async () => {
      const clock = new ManualClock();
      const idle = setup({}).createMachine({ initial: 'working', states: { working: {} } });
      const sup = new Supervisor({
        id: 'root',
        strategy: 'rest_for_one',
        clock,
        random: seededRandom(1),
        logger: silentLogs().root,
        children: [
          { id: 'a', start: () => createActor(idle) },
          {
            id: 'many',
            type: 'supervisor',
            start: (ctx) =>
              new Supervisor({ ...ctx, strategy: 'simple_one_for_one', intensity: 1000, children: [{ id: 'w', restart: 'temporary', start: () => createActor(idle) }] }),
          },
        ],
      });
      await sup.start();
      const many = sup.inspect().children[1]!;
      expect(many.strategy).to.equal('simple_one_for_one');
      const view0 = supervisionView(sup.inspect());
      expect(view0.children.map((c) => [c.id, c.kind, c.status, c.strategy, c.state])).to.deep.equal([
        ['a', 'worker', 'running', '', 'working'],
        ['many', 'supervisor', 'running', 'simple_one_for_one', ''],
      ]);
      await sup.stop();
    });

    it('keeps at most MAX_TREE_CHILDREN children per supervisor and counts the rest; the reply codec round-trips', () => {
      const child = (i: number) => ({ id: `pod-${i}`, type: 'worker' as const, restart: 'temporary' as const, status: 'running' as const, restarts: 0, dynamic: true });
      const tree = {
        id: 'agent',
        kind: 'supervisor' as const,
        strategy: 'rest_for_one' as const,
        status: 'running' as const,
        restarts: 2,
        children: [
          { id: 'pods', type: 'supervisor' as const, restart: 'permanent' as const, status: 'running' as const, restarts: 1, dynamic: false, strategy: 'simple_one_for_one' as const, children: Array.from({ length: 300 }, (_, i) => child(i)) },
          { id: 'link', type: 'worker' as const, restart: 'permanent' as const, status: 'restarting' as const, restarts: 3, dynamic: false, lastError: { name: 'Error', message: 'boom', at: 1234.5 } },
        ],
      };
      const view = supervisionView(tree);
      expect(view.children[0]!.children).to.have.length(MAX_TREE_CHILDREN);
      expect(view.children[0]!.omittedChildren).to.equal(300 - MAX_TREE_CHILDREN);
      expect(view.children[1]).to.include({ status: 'restarting', restarts: 3, lastError: 'Error: boom', lastErrorAtMs: 1235 });
      const reply = { node: NODE, role: 'agent' as const, instanceId: 'abc123', startedAtMs: 1, uptimeMs: 2, root: view };
      const back = treeReplyCodec.decode(treeReplyCodec.encode(reply));
      expect(back.ok && back.value).to.deep.equal(reply);
    });
  });

  describe('leadership', () => {
    it("splits the session's state into connected, primary and ready", () => {
      expect(sessionFlags('connecting')).to.deep.equal({ connected: false, primary: false, ready: false });
      expect(sessionFlags({ connected: 'arbitrating' })).to.deep.equal({ connected: true, primary: false, ready: false });
      expect(sessionFlags({ connected: 'reconciling' })).to.deep.equal({ connected: true, primary: true, ready: false });
      expect(sessionFlags({ connected: 'syncing' })).to.deep.equal({ connected: true, primary: true, ready: true });
    });

    it('names the holder, the epoch and the last write', () => {
      const view = leadershipView({
        node: NODE,
        instanceId: 'me',
        now: 10_000,
        epoch: 4,
        lease: { leading: true, epoch: 4, holder: 'me', revision: 17, renewedAtMs: 9_900 },
        session: { value: { connected: 'ready' }, target: 'unix:///run/p4.sock', deviceId: 1, reconciles: 2, lastError: undefined },
        lastSync: { kind: 'sync', counts: { insert: 2, modify: 0, delete: 1, unchanged: 0, retired: 0, writes: 2 }, atMs: 9_000 },
        intentRevision: 12,
      });
      expect(view).to.include({ leader: true, holder: 'me', epoch: 4, leaseRevision: 17, renewedAgoMs: 100, sessionState: 'connected.ready', ready: true, reconciles: 2 });
      expect(view.lastSync).to.include({ kind: 'sync', inserted: 2, deleted: 1, writes: 2, agoMs: 1000 });
      const standby = leadershipView({ node: NODE, instanceId: 'me', now: 0, epoch: undefined, lease: undefined, session: undefined, lastSync: undefined, intentRevision: 0 });
      expect(standby).to.include({ leader: false, hasSession: false, holder: '', renewedAgoMs: 0 });
    });
  });
});
