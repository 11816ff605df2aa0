import { expect } from 'chai';
import { IntentState } from '../../actors/intent/intent-state.js';
import { ManagerIntent, newPullTracker } from '../../actors/intent/manager-intent.js';
import { decodeRecord, encodeService, podKvKey, serviceKvKey } from '../../actors/intent/intent-records.js';
import { loadIntent } from '../../actors/intent/intent-load.js';
import type { StoredEntry } from '../../actors/intent/intent-kv.js';
import { flowRetirer, intentLiveness } from '../../actors/manager/flows.js';
import { seededRandom, type Random } from '../../core/random.js';
import { desiredSet, type Keyed } from '../../p4/desired.js';
import { loadP4Info } from '../../p4/p4info.js';
import { render } from '../../p4/render.js';
import type { Endpoint, HostInterface, PodInterface, ServicePort } from '../../protocol/intent.js';

const info = loadP4Info();
const NODE = 'node-1';
const host: HostInterface = { node: NODE, interfaceName: 'P4TAP_1', portId: 1, ipv4: 0xc8010102, mac: 0x02000000aaaa, nodeIp: 0xc000020a, podCidr: '10.244.0.0/24' };
const pod = (i: number, ipOffset = 0): PodInterface => ({
  node: NODE,
  namespace: 'default',
  name: `p${i}`,
  containerId: `c${i}`,
  interfaceName: `P4TAP_${i + 2}`,
  portId: i + 2,
  ipv4: 0x0af40000 + 10 + i + ipOffset,
  mac: 0x020000000000 + 10 + i,
});
const ep = (ipv4: number, o: Partial<Endpoint> = {}): Endpoint => ({ ipv4, port: 8080, node: NODE, ready: true, serving: true, terminating: false, ...o });
const svc = (n: number, endpoints: Endpoint[], protocol: 'TCP' | 'UDP' = 'TCP'): ServicePort => ({
  namespace: 'default',
  name: `s${n}`,
  portName: '',
  clusterIp: 0x0a600000 + n,
  port: 80,
  protocol,
  endpoints,
});

/** Commits the batch as if the KV had stored every write (revisions counting up). */
let fakeRev = 0;
function commit(intent: ManagerIntent): number {
  const writes = intent.pendingWrites();
  intent.committed(
    writes,
    writes.map(() => ++fakeRev),
  );
  return writes.length;
}

/** The full render of the same intent with the same ids: what the index must equal. */
function fullRender(intent: ManagerIntent): Map<string, Keyed> {
  const s = intent.fullState();
  return desiredSet(render(info, { node: NODE, host: s.host, pods: s.pods, services: s.services }, intent.pools));
}

function sameMaps(a: ReadonlyMap<string, Keyed>, b: ReadonlyMap<string, Keyed>): void {
  expect([...a.keys()].sort()).to.deep.equal([...b.keys()].sort());
  for (const [k, v] of a) expect(b.get(k)?.value, k).to.equal(v.value);
}

function randomOp(intent: ManagerIntent, r: Random): void {
  const i = Math.floor(r.next() * 40);
  const roll = r.next();
  if (roll < 0.3) intent.addPod(pod(i, r.next() < 0.2 ? 100 : 0));
  else if (roll < 0.45) intent.deletePod(NODE, `c${i}`);
  else if (roll < 0.85) {
    const n = Math.floor(r.next() * 12);
    const eps: Endpoint[] = [];
    for (let e = 0; e < n; e++) {
      const target = Math.floor(r.next() * 60);
      const kind = r.next();
      eps.push(ep(0x0af40000 + 10 + target, { port: 8080 + (target % 2), node: kind < 0.2 ? 'node-2' : NODE, ready: kind > 0.3, terminating: kind <= 0.3, serving: kind > 0.1 }));
    }
    const unique = [...new Map(eps.map((e) => [e.ipv4 * 65536 + e.port, e])).values()];
    intent.upsertService(NODE, svc(i % 15, unique, i % 4 === 0 ? 'UDP' : 'TCP'));
  } else intent.deleteService(NODE, svc(i % 15, []));
}

describe('manager intent: domain objects, ids and the incremental render', () => {
  it('the index equals the full render of the same intent after every batch (random workload)', () => {
    const r = seededRandom(7);
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    intent.setHost(host);
    for (let batch = 0; batch < 150; batch++) {
      const ops = 1 + Math.floor(r.next() * 5);
      for (let k = 0; k < ops; k++) randomOp(intent, r);
      commit(intent);
      sameMaps(intent.index.desired, fullRender(intent));
    }
    expect(intent.index.conflicts).to.equal(0);
  });

  it('scaling 1 → 1,000 → 1 endpoints touches only the members that come and go and the group', () => {
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    const many = Array.from({ length: 1000 }, (_, i) => ep(0x0af50000 + i, { node: 'node-2' }));
    intent.upsertService(NODE, svc(1, many.slice(0, 1)));
    commit(intent);
    intent.index.takeChanges();
    intent.index.takeChanges();
    intent.upsertService(NODE, svc(1, many));
    expect(commit(intent), 'one KV write').to.equal(1);
    expect(intent.index.takeChanges()!.size).to.equal(999 + 1);
    const firstId = intent.pools.members.idOf(0x0af50000 * 65536 + 8080);
    intent.upsertService(NODE, svc(1, many.slice(0, 1)));
    commit(intent);
    expect(intent.index.takeChanges()!.size).to.equal(999 + 1);
    expect(intent.pools.members.idOf(0x0af50000 * 65536 + 8080), 'the remaining endpoint kept its member').to.equal(firstId);
  });

  it('refuses conflicts and full tables with typed errors, and changes nothing then', () => {
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    expect(intent.setHost(host).ok).to.equal(true);
    expect(intent.addPod(pod(1)).ok).to.equal(true);
    const clash = intent.addPod({ ...pod(2), ipv4: pod(1).ipv4 });
    expect(!clash.ok && clash.error.code).to.equal('CONFLICT');
    const port = intent.addPod({ ...pod(3), portId: pod(1).portId });
    expect(!port.ok && port.error.code).to.equal('CONFLICT');
    const onHost = intent.addPod({ ...pod(4), ipv4: host.nodeIp });
    expect(!onHost.ok && onHost.error.code).to.equal('CONFLICT');
    const huge = intent.upsertService(NODE, svc(1, Array.from({ length: 4097 }, (_, i) => ep(0x0b000000 + i))));
    expect(!huge.ok && huge.error.code).to.equal('RESOURCE_EXHAUSTED');
    const other = intent.addPod({ ...pod(5), node: 'node-9' });
    expect(!other.ok && other.error.code).to.equal('INVALID_ARGUMENT');
    expect(intent.counts()).to.deep.equal({ pods: 1, services: 0, endpoints: 0, hasHost: true });
  });

  it('a pending endpoint is programmed when its pod arrives, without rewriting the service record', () => {
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    intent.upsertService(NODE, svc(1, [ep(pod(1).ipv4)]));
    commit(intent);
    const before = fullRender(intent);
    expect([...before.values()].filter((k) => k.kind === 0)).to.have.length(1); // only the reject member
    intent.addPod(pod(1));
    expect(intent.pendingWrites().map((w) => w.key)).to.deep.equal([podKvKey('c1')]);
    commit(intent);
    expect([...intent.index.desired.values()].filter((k) => k.kind === 0)).to.have.length(2);
    sameMaps(intent.index.desired, fullRender(intent));
  });

  it("replaceAll makes the intent the agent's, keeps ids, and keeps what requests changed during the pull", () => {
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    intent.upsertService(NODE, svc(1, [ep(0x0b000001), ep(0x0b000002)]));
    intent.addPod(pod(1));
    intent.addPod(pod(2));
    commit(intent);
    const id2 = intent.pools.members.idOf(0x0b000002 * 65536 + 8080);
    const mark = intent.beginPull();
    intent.addPod(pod(3)); // arrives after the agent answered: not in its state
    const r = intent.replaceAll({ node: NODE, revision: 0, host: undefined, pods: [pod(1)], services: [svc(1, [ep(0x0b000002)])] }, mark);
    expect(r.ok && r.value).to.deep.include({ changed: true, kept: 1 });
    commit(intent);
    expect([...intent.pods.keys()].sort()).to.deep.equal(['c1', 'c3']);
    expect(intent.pools.members.idOf(0x0b000002 * 65536 + 8080)).to.equal(id2);
    sameMaps(intent.index.desired, fullRender(intent));
  });

  it('loads what it stored: same intent, same ids, same entities; damaged records are dropped and deleted', () => {
    const r = seededRandom(3);
    const a = new ManagerIntent(NODE, info, newPullTracker());
    a.setHost(host);
    const stored = new Map<string, StoredEntry>();
    for (let batch = 0; batch < 60; batch++) {
      for (let k = 0; k < 3; k++) randomOp(a, r);
      const writes = a.pendingWrites();
      const revs = writes.map(() => ++fakeRev);
      writes.forEach((w, i) => stored.set(w.key, { revision: revs[i]!, value: w.value }));
      a.committed(writes, revs);
    }
    for (const [key, e] of stored) if (e.value) expect(decodeRecord(key, e.value).ok, key).to.equal(true);
    stored.set('pod.garbage', { revision: ++fakeRev, value: new Uint8Array([1, 2, 3]) });
    const loaded = loadIntent(NODE, info, { entries: stored, revision: fakeRev, purged: 0 }, newPullTracker());
    expect(loaded.problems).to.have.length(1);
    const b = loaded.intent;
    expect(b.digest()).to.equal(a.digest());
    sameMaps(b.index.desired, a.index.desired);
    expect(b.pendingWrites()).to.deep.equal([{ key: 'pod.garbage', value: null, revision: fakeRev }]);
  });

  it('two records claiming one member id: the first keeps it, the other is rewritten with a new one', () => {
    const s1 = svc(1, [ep(0x0b000001)]);
    const s2 = svc(2, [ep(0x0b000002)]);
    const entries = new Map<string, StoredEntry>([
      [serviceKvKey(s1), { revision: 1, value: encodeService(NODE, s1, 1, [2]) }],
      [serviceKvKey(s2), { revision: 2, value: encodeService(NODE, s2, 2, [2]) }],
    ]);
    const { intent, problems } = loadIntent(NODE, info, { entries, revision: 2, purged: 0 }, newPullTracker());
    expect(problems.join()).to.match(/member id 2 unusable/);
    expect(intent.pools.members.idOf(0x0b000001 * 65536 + 8080)).to.equal(2);
    expect(intent.pools.members.idOf(0x0b000002 * 65536 + 8080)).to.equal(3);
    const writes = intent.pendingWrites();
    expect(writes.map((w) => [w.key, w.revision])).to.deep.equal([[serviceKvKey(s2), 2]]);
    const again = decodeRecord(serviceKvKey(s2), writes[0]!.value!);
    expect(again.ok && again.value.kind === 'service' && again.value.memberIds).to.deep.equal([3]);
  });

  it("reports the same digest as the agent's store for the same intent", () => {
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    const agent = new IntentState(NODE);
    const services = [svc(2, [ep(0x0b000002), ep(0x0b000001)]), svc(1, [ep(pod(1).ipv4)], 'UDP')];
    for (const x of [intent, agent]) {
      x.setHost(host);
      x.addPod(pod(2));
      x.addPod(pod(1));
      for (const s of services) x.upsertService(NODE, s);
    }
    expect(intent.digest()).to.equal(agent.digest());
  });

  it('retires learned flows whose endpoint the intent no longer backs, keeps the others', () => {
    const intent = new ManagerIntent(NODE, info, newPullTracker());
    intent.addPod(pod(1));
    intent.upsertService(NODE, svc(1, [ep(pod(1).ipv4), ep(0x0b000009, { node: 'node-2', ready: false, terminating: true })]));
    commit(intent);
    const retire = flowRetirer(info, (vip, vport, proto, ip, port) => intent.isLiveFlow(vip, vport, proto, ip, port));
    const fwd = info.tableByName('MainControlImpl.ct_forward').id;
    const rev = info.tableByName('MainControlImpl.ct_reverse').id;
    const b = (v: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => Math.floor(v / 256 ** (n - 1 - i)) % 256);
    const flow = (table: number, k: [number, number, number, number, number], p: [number, number]) => ({
      table_entry: {
        table_id: table,
        match: k.map((v, i) => ({ field_id: i + 1, exact: { value: b(v, [4, 4, 1, 2, 2][i]!) } })),
        action: { action: { action_id: 1, params: p.map((v, i) => ({ param_id: i + 1, value: b(v, i === 0 ? 4 : 2) })) } },
      },
    });
    const vip = svc(1, []).clusterIp;
    const client = pod(7).ipv4;
    expect(retire(flow(fwd, [client, vip, 6, 40000, 80], [pod(1).ipv4, 8080]))).to.equal(false);
    expect(retire(flow(fwd, [client, vip, 6, 40001, 80], [0x0b000009, 8080])), 'terminating: kept').to.equal(false);
    expect(retire(flow(rev, [pod(1).ipv4, client, 6, 8080, 40000], [vip, 80]))).to.equal(false);
    intent.deletePod(NODE, 'c1');
    commit(intent);
    expect(intent.takeRetire()).to.equal(true);
    expect(retire(flow(fwd, [client, vip, 6, 40000, 80], [pod(1).ipv4, 8080])), 'its pod is gone').to.equal(true);
    expect(retire(flow(rev, [pod(1).ipv4, client, 6, 8080, 40000], [vip, 80]))).to.equal(true);
    expect(retire(flow(fwd, [client, vip, 17, 40000, 80], [0x0b000009, 8080])), 'no such UDP service').to.equal(true);

    // Judged by the store as it is when asked: an intent that turned incomplete mid-sweep (a
    // reload found KV keys lost) or a store that is loading or gone keeps every connection.
    let view: { loaded: boolean; ready: boolean; intent: ManagerIntent } | undefined = { loaded: true, ready: true, intent };
    const sweep = flowRetirer(info, intentLiveness(() => view));
    const dead = flow(fwd, [client, vip, 6, 40000, 80], [pod(1).ipv4, 8080]);
    expect(sweep(dead), 'complete: retired').to.equal(true);
    view = { loaded: true, ready: false, intent };
    expect(sweep(dead), 'incomplete: kept').to.equal(false);
    view = { loaded: false, ready: true, intent };
    expect(sweep(dead), 'loading: kept').to.equal(false);
    view = undefined;
    expect(sweep(dead), 'no store: kept').to.equal(false);
  });
});

